"""Microbatching: evaluate a function over a large batch a few rows at a time.

Same public names and behaviour as ``optax.microbatching``.

Examples:
  >>> import jax.numpy as jnp
  >>> from optjax import microbatching
  >>> total = microbatching.microbatch(jnp.sum, argnums=0, microbatch_size=2)
  >>> float(total(jnp.arange(8.0)))
  28.0
"""

from optjax.microbatching._accumulators import AccumulationType as AccumulationType
from optjax.microbatching._accumulators import Accumulator as Accumulator
from optjax.microbatching._micro_grad import micro_grad as micro_grad
from optjax.microbatching._microbatch import micro_vmap as micro_vmap
from optjax.microbatching._microbatch import microbatch as microbatch
from optjax.microbatching._reshape import reshape_batch_axis as reshape_batch_axis

__all__ = [
    "AccumulationType",
    "Accumulator",
    "micro_grad",
    "micro_vmap",
    "microbatch",
    "reshape_batch_axis",
]
