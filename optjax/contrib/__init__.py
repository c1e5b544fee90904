"""Optimizers outside the classic core (``optjax.contrib.NAME``, as ``optax.contrib``).

Optax's contributed optimizers live here, beside optjax's own additions (SOAP,
Shampoo, MARS, Cautious). Every name is also exported at the top level.
"""

from optjax.contrib._ademamix import (
    ScaleByAdemamixState,
    ScaleBySimplifiedAdEMAMixState,
    ademamix,
    scale_by_ademamix,
    scale_by_simplified_ademamix,
    simplified_ademamix,
)
from optjax.contrib._adopt import (
    ScaleByAdoptState,
    adopt,
    scale_by_adopt,
)
from optjax.contrib._cautious import (
    CautiousState,
    cautious,
)
from optjax.contrib._dadapt import (
    DAdaptAdamWState,
    dadapt_adamw,
)
from optjax.contrib._mars import (
    ScaleByMarsState,
    mars_adamw,
    mars_lion,
    scale_by_mars,
)
from optjax.contrib._muon import (
    MuonDimensionNumbers,
    MuonState,
    muon,
    scale_by_muon,
)
from optjax.contrib._prodigy import (
    ProdigyState,
    prodigy,
)
from optjax.contrib._sam import (
    SAMState,
    sam,
)
from optjax.contrib._schedule_free import (
    ScheduleFreeState,
    schedule_free,
    schedule_free_adamw,
    schedule_free_eval_params,
    schedule_free_sgd,
)
from optjax.contrib._shampoo import (
    ScaleByShampooState,
    scale_by_shampoo,
    shampoo,
)
from optjax.contrib._soap import (
    ScaleBySoapState,
    scale_by_soap,
    soap,
)
from optjax.contrib._sophia import (
    HutchinsonState,
    SophiaState,
    hutchinson_estimator_diag_hessian,
    scale_by_sophia,
    sophia,
)

__all__ = [
    "CautiousState",
    "DAdaptAdamWState",
    "HutchinsonState",
    "MuonDimensionNumbers",
    "MuonState",
    "ProdigyState",
    "SAMState",
    "ScaleByAdemamixState",
    "ScaleByAdoptState",
    "ScaleByMarsState",
    "ScaleByShampooState",
    "ScaleBySimplifiedAdEMAMixState",
    "ScaleBySoapState",
    "ScheduleFreeState",
    "SophiaState",
    "ademamix",
    "adopt",
    "cautious",
    "dadapt_adamw",
    "hutchinson_estimator_diag_hessian",
    "mars_adamw",
    "mars_lion",
    "muon",
    "prodigy",
    "sam",
    "scale_by_ademamix",
    "scale_by_adopt",
    "scale_by_mars",
    "scale_by_muon",
    "scale_by_shampoo",
    "scale_by_simplified_ademamix",
    "scale_by_soap",
    "scale_by_sophia",
    "schedule_free",
    "schedule_free_adamw",
    "schedule_free_eval_params",
    "schedule_free_sgd",
    "shampoo",
    "simplified_ademamix",
    "soap",
    "sophia",
]
