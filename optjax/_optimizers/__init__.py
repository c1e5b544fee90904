"""The optimizer aliases: each a short ``chain`` of primitives from ``optjax.transforms``."""

from optjax._optimizers._adam import (
    adam,
    adamax,
    adamaxw,
    adamw,
    amsgrad,
    nadam,
    nadamw,
    radam,
)
from optjax._optimizers._adam_variants import (
    adabelief,
    adan,
    optimistic_adam_v2,
    optimistic_gradient_descent,
    yogi,
)
from optjax._optimizers._adaptive import (
    adadelta,
    adafactor,
    adagrad,
    lion,
    rmsprop,
    rprop,
    sm3,
)
from optjax._optimizers._layerwise import (
    fromage,
    lamb,
    lars,
    novograd,
)
from optjax._optimizers._lbfgs import (
    ScaleByLBFGSState,
    lbfgs,
    scale_by_lbfgs,
)
from optjax._optimizers._noisy import (
    noisy_sgd,
)
from optjax._optimizers._optimistic import (
    optimistic_adam,
)
from optjax._optimizers._sgd import (
    polyak_sgd,
    sgd,
    sign_sgd,
    signum,
)

__all__ = [
    "ScaleByLBFGSState",
    "adabelief",
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamaxw",
    "adamw",
    "adan",
    "amsgrad",
    "fromage",
    "lamb",
    "lars",
    "lbfgs",
    "lion",
    "nadam",
    "nadamw",
    "noisy_sgd",
    "novograd",
    "optimistic_adam",
    "optimistic_adam_v2",
    "optimistic_gradient_descent",
    "polyak_sgd",
    "radam",
    "rmsprop",
    "rprop",
    "scale_by_lbfgs",
    "sgd",
    "sign_sgd",
    "signum",
    "sm3",
    "yogi",
]
