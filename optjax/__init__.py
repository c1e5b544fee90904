"""optjax: composable gradient transformations for JAX, number for number with Optax.

``import optjax as optax`` keeps Optax code working: every public Optax name is
at the same path. The folders show the layers, bottom to top:

* ``_base``, ``_checks``, ``_apply``, ``_numerics``: the contract
  (``GradientTransformation``, states, input checks, ``apply_updates``) and
  numerically safe scalar helpers;
* ``tree`` (and its Optax-era alias ``tree_utils``): tree math, the one place
  for per-leaf arithmetic;
* ``transforms``: the primitives (``scale_by_*``, clipping, noise, decay...),
  the combinators (``chain``, ``masked``, ``partition``...), the wrappers
  (``MultiSteps``, ``apply_if_finite``, loss scaling, lookahead...) and the
  line searches;
* ``_optimizers``: the aliases (``adam``, ``sgd``, ``lbfgs``...), each a short
  chain of primitives;
* ``contrib``: Optax's contributed optimizers and optjax's own (SOAP, Shampoo,
  MARS, Cautious...);
* ``schedules``: learning-rate schedules and ``inject_hyperparams``;
* ``losses``, ``metrics``, ``projections``, ``second_order``,
  ``perturbations``, ``assignment``, ``microbatching``: the rest of Optax's
  public subpackages, and metrics;
* ``data`` (datasets and batching), and, imported only on demand, ``training``
  (the Flax layer: ``fit``, checkpoints, sweeps), ``bench`` and ``cli`` (the
  ``optjax`` command).

Each layer's ``__init__`` lists its public names once in ``__all__``; this
module re-exports them.
"""

from optjax import _apply, _base, _numerics, _optimizers
from optjax import assignment as assignment
from optjax import contrib as contrib
from optjax import data as data
from optjax import experimental as experimental
from optjax import losses as losses
from optjax import metrics as metrics
from optjax import microbatching as microbatching
from optjax import perturbations as perturbations
from optjax import projections as projections
from optjax import schedules as schedules
from optjax import second_order as second_order
from optjax import transforms as transforms
from optjax import tree as tree
from optjax import tree_utils as tree_utils
from optjax._apply import *  # noqa: F403
from optjax._base import *  # noqa: F403
from optjax._numerics import *  # noqa: F403
from optjax._optimizers import *  # noqa: F403
from optjax.contrib import *  # noqa: F403
from optjax.losses import *  # noqa: F403

# Optax also exports microbatching's entry point at the top level.
from optjax.microbatching import microbatch
from optjax.schedules import *  # noqa: F403
from optjax.transforms import *  # noqa: F403

__version__ = "0.1.0"

_SUBPACKAGES = [
    "assignment",
    "contrib",
    "data",
    "experimental",
    "losses",
    "metrics",
    "microbatching",
    "perturbations",
    "projections",
    "schedules",
    "second_order",
    "transforms",
    "tree",
    "tree_utils",
]

__all__ = sorted(
    {
        *_SUBPACKAGES,
        *_apply.__all__,
        *_base.__all__,
        *_numerics.__all__,
        *losses.__all__,
        *_optimizers.__all__,
        *contrib.__all__,
        *schedules.__all__,
        *transforms.__all__,
        microbatch.__name__,
    }
)
