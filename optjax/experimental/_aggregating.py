"""Optax's private module path for aggregating, kept so imports of it keep working.

``from optax.experimental import _aggregating`` (as Optax's own tests do)
becomes ``from optjax.experimental import _aggregating``; it holds the names of
:mod:`optjax.experimental.aggregating`.
"""

from optjax.experimental.aggregating import *  # noqa: F403
from optjax.experimental.aggregating import __all__ as __all__
