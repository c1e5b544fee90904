"""``python -m optjax``: the ``optjax`` command."""

import sys

from optjax.cli import main

sys.exit(main())
