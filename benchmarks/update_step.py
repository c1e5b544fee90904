"""Update-step micro-benchmark: kept as a shortcut for ``optjax bench update``.

    python benchmarks/update_step.py [--quick] [--chains ...] [--trees ...] [--json FILE]

The benchmark itself lives in ``optjax/bench/_update.py``; see ``benchmarks/README.md``.
"""

from __future__ import annotations

import sys

from optjax.bench.cli import main

if __name__ == "__main__":
    sys.exit(main(["update", *sys.argv[1:]]))
