"""Experimental modules, at the same paths as ``optax.experimental``.

* :mod:`optjax.experimental.aggregating`: optimizers fed with per-element
  gradients (per-example preprocessing, averaging and accumulation, and
  tracking of gradient mean and variance).

Examples:
  >>> from optjax import experimental
  >>> experimental.aggregating.accumulate_avg_updates(2).init(1.0).micro_step
  Array(0, dtype=int32, weak_type=True)
"""

from optjax.experimental import aggregating as aggregating

__all__ = ["aggregating"]
