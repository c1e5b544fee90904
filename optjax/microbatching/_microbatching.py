"""Optax's private module path for microbatching, kept so imports of it keep working.

``import optax.microbatching._microbatching as microbatching`` (as Optax's own
tests do) becomes ``import optjax.microbatching._microbatching``; the names are
the public ones from :mod:`optjax.microbatching`.
"""

from optjax.microbatching._accumulators import AccumulationType as AccumulationType
from optjax.microbatching._accumulators import Accumulator as Accumulator
from optjax.microbatching._micro_grad import IndividualOutputs as IndividualOutputs
from optjax.microbatching._micro_grad import micro_grad as micro_grad
from optjax.microbatching._microbatch import micro_vmap as micro_vmap
from optjax.microbatching._microbatch import microbatch as microbatch
from optjax.microbatching._reshape import reshape_batch_axis as reshape_batch_axis
