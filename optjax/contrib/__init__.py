"""Optimizers outside the classic core (``optjax.contrib.NAME``, as ``optax.contrib``).

Optax's contributed optimizers live here, beside optjax's own additions (SOAP,
Shampoo, MARS, Cautious). Every name is also exported at the top level.
"""

from optjax.contrib._acprop import acprop, scale_by_acprop
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
from optjax.contrib._cocob import COCOBState, cocob, scale_by_cocob
from optjax.contrib._complex import (
    SplitRealAndImaginaryState,
    split_real_and_imaginary,
)
from optjax.contrib._dadapt import (
    DAdaptAdamWState,
    dadapt_adamw,
)
from optjax.contrib._dog import DoGState, DoWGState, dog, dowg, scale_by_dog, scale_by_dowg
from optjax.contrib._galore import (
    GaLoreDimensionNumbers,
    GaLoreState,
    galore,
    scale_by_galore,
)
from optjax.contrib._madgrad import MadgradState, madgrad, scale_by_madgrad
from optjax.contrib._mars import (
    ScaleByMarsState,
    mars_adamw,
    mars_lion,
    scale_by_mars,
)
from optjax.contrib._mechanic import MechanicState, mechanize
from optjax.contrib._momo import MomoAdamState, MomoState, momo, momo_adam
from optjax.contrib._muon import (
    MuonDimensionNumbers,
    MuonState,
    muon,
    scale_by_muon,
)
from optjax.contrib._normalize import (
    NormalizeState,
    normalize,
)
from optjax.contrib._privacy import (
    DifferentiallyPrivateAggregateState,
    differentially_private_aggregate,
    dpsgd,
)
from optjax.contrib._prodigy import (
    ProdigyState,
    prodigy,
)
from optjax.contrib._reduce_on_plateau import (
    ReduceLROnPlateauState,
    reduce_on_plateau,
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
    "COCOBState",
    "DoGState",
    "DoWGState",
    "MadgradState",
    "MechanicState",
    "MomoAdamState",
    "MomoState",
    "acprop",
    "cocob",
    "dog",
    "dowg",
    "madgrad",
    "mechanize",
    "momo",
    "momo_adam",
    "scale_by_acprop",
    "scale_by_cocob",
    "scale_by_dog",
    "scale_by_dowg",
    "scale_by_madgrad",
    "CautiousState",
    "DAdaptAdamWState",
    "DifferentiallyPrivateAggregateState",
    "GaLoreDimensionNumbers",
    "GaLoreState",
    "HutchinsonState",
    "MuonDimensionNumbers",
    "MuonState",
    "NormalizeState",
    "ProdigyState",
    "ReduceLROnPlateauState",
    "SAMState",
    "ScaleByAdemamixState",
    "ScaleByAdoptState",
    "ScaleByMarsState",
    "ScaleByShampooState",
    "ScaleBySimplifiedAdEMAMixState",
    "ScaleBySoapState",
    "ScheduleFreeState",
    "SophiaState",
    "SplitRealAndImaginaryState",
    "ademamix",
    "adopt",
    "cautious",
    "dadapt_adamw",
    "differentially_private_aggregate",
    "dpsgd",
    "galore",
    "hutchinson_estimator_diag_hessian",
    "mars_adamw",
    "mars_lion",
    "muon",
    "normalize",
    "prodigy",
    "reduce_on_plateau",
    "sam",
    "scale_by_ademamix",
    "scale_by_adopt",
    "scale_by_galore",
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
    "split_real_and_imaginary",
]
