"""optjax: composable gradient transformations for JAX, number for number with Optax.

The public API is ``__all__`` below. Implementation lives in small private
modules grouped by concept:

* ``_base``: the contract (``GradientTransformation``, states, types);
* ``_tree``: tree math, the one place for per-leaf arithmetic (public as
  ``optjax.tree``);
* ``_transforms``: the primitives (``scale_by_*``, clipping, noise, decay...);
* ``_combine``, ``_masking``, ``_partition``, ``_grouped``, ``_maximize``:
  composing chains (``chain``, ``masked``, ``partition``, ``grouped``...);
* wrappers: ``_accumulate`` (``MultiSteps``), ``_finite`` (NaN guards),
  ``_loss_scale``, ``_inject`` (traced hyperparameters), ``_lookahead``,
  ``_averaging`` (EMA/SWA of parameters);
* ``_flax_adapter``: the one module that knows about ``flax.nnx``;
* ``_optimizers``: the aliases, each a short chain of primitives;
* ``_modern``: the recent optimizers (Muon, SOAP, Shampoo, MARS, Cautious,
  Schedule-Free, Prodigy, D-Adaptation, ADOPT, AdEMAMix, Sophia, SAM, L-BFGS);
* ``_schedules``: learning-rate schedules (public as ``optjax.schedules``).
"""

from optjax import data as data
from optjax import losses as losses
from optjax import metrics as metrics
from optjax import schedules as schedules
from optjax import tree as tree
from optjax._accumulate import MultiSteps as MultiSteps
from optjax._accumulate import MultiStepsState as MultiStepsState
from optjax._accumulate import ShouldSkipUpdateFunction as ShouldSkipUpdateFunction
from optjax._apply import apply_updates as apply_updates
from optjax._apply import incremental_update as incremental_update
from optjax._apply import periodic_update as periodic_update
from optjax._averaging import EmaParamsState as EmaParamsState
from optjax._averaging import SwaParamsState as SwaParamsState
from optjax._averaging import averaged_params as averaged_params
from optjax._averaging import ema_params as ema_params
from optjax._averaging import swa_params as swa_params
from optjax._base import ArrayTree as ArrayTree
from optjax._base import EmptyState as EmptyState
from optjax._base import GradientTransformation as GradientTransformation
from optjax._base import GradientTransformationExtraArgs as GradientTransformationExtraArgs
from optjax._base import MaskOrFn as MaskOrFn
from optjax._base import OptState as OptState
from optjax._base import Params as Params
from optjax._base import ScalarOrSchedule as ScalarOrSchedule
from optjax._base import Schedule as Schedule
from optjax._base import TransformInitFn as TransformInitFn
from optjax._base import TransformUpdateFn as TransformUpdateFn
from optjax._base import Updates as Updates
from optjax._base import stateless as stateless
from optjax._base import stateless_with_tree_map as stateless_with_tree_map
from optjax._base import with_extra_args_support as with_extra_args_support
from optjax._combine import chain as chain
from optjax._combine import named_chain as named_chain
from optjax._finite import ApplyIfFiniteState as ApplyIfFiniteState
from optjax._finite import apply_if_finite as apply_if_finite
from optjax._finite import skip_large_updates as skip_large_updates
from optjax._finite import skip_not_finite as skip_not_finite
from optjax._grouped import flatten as flatten
from optjax._grouped import grouped as grouped
from optjax._inject import InjectHyperparamsState as InjectHyperparamsState
from optjax._inject import InjectStatefulHyperparamsState as InjectStatefulHyperparamsState
from optjax._inject import WrappedSchedule as WrappedSchedule
from optjax._inject import get_hyperparams as get_hyperparams
from optjax._inject import inject_hyperparams as inject_hyperparams
from optjax._inject import inject_stateful_hyperparams as inject_stateful_hyperparams
from optjax._inject import set_hyperparams as set_hyperparams
from optjax._lookahead import LookaheadParams as LookaheadParams
from optjax._lookahead import LookaheadState as LookaheadState
from optjax._lookahead import lookahead as lookahead
from optjax._loss_scale import DynamicLossScaleState as DynamicLossScaleState
from optjax._loss_scale import dynamic_loss_scale as dynamic_loss_scale
from optjax._loss_scale import loss_scale as loss_scale
from optjax._loss_scale import scale_loss as scale_loss
from optjax._masking import MaskedNode as MaskedNode
from optjax._masking import MaskedState as MaskedState
from optjax._masking import masked as masked
from optjax._maximize import maximize as maximize
from optjax._modern._ademamix import ScaleByAdemamixState as ScaleByAdemamixState
from optjax._modern._ademamix import (
    ScaleBySimplifiedAdEMAMixState as ScaleBySimplifiedAdEMAMixState,
)
from optjax._modern._ademamix import ademamix as ademamix
from optjax._modern._ademamix import scale_by_ademamix as scale_by_ademamix
from optjax._modern._ademamix import scale_by_simplified_ademamix as scale_by_simplified_ademamix
from optjax._modern._ademamix import simplified_ademamix as simplified_ademamix
from optjax._modern._adopt import ScaleByAdoptState as ScaleByAdoptState
from optjax._modern._adopt import adopt as adopt
from optjax._modern._adopt import scale_by_adopt as scale_by_adopt
from optjax._modern._cautious import CautiousState as CautiousState
from optjax._modern._cautious import cautious as cautious
from optjax._modern._dadapt import DAdaptAdamWState as DAdaptAdamWState
from optjax._modern._dadapt import dadapt_adamw as dadapt_adamw
from optjax._modern._lbfgs import ScaleByLBFGSState as ScaleByLBFGSState
from optjax._modern._lbfgs import lbfgs as lbfgs
from optjax._modern._lbfgs import scale_by_lbfgs as scale_by_lbfgs
from optjax._modern._linesearch import (
    ScaleByBacktrackingLinesearchState as ScaleByBacktrackingLinesearchState,
)
from optjax._modern._linesearch import ScaleByZoomLinesearchState as ScaleByZoomLinesearchState
from optjax._modern._linesearch import ZoomLinesearchInfo as ZoomLinesearchInfo
from optjax._modern._linesearch import (
    scale_by_backtracking_linesearch as scale_by_backtracking_linesearch,
)
from optjax._modern._linesearch import scale_by_zoom_linesearch as scale_by_zoom_linesearch
from optjax._modern._linesearch import value_and_grad_from_state as value_and_grad_from_state
from optjax._modern._mars import ScaleByMarsState as ScaleByMarsState
from optjax._modern._mars import mars_adamw as mars_adamw
from optjax._modern._mars import mars_lion as mars_lion
from optjax._modern._mars import scale_by_mars as scale_by_mars
from optjax._modern._muon import MuonDimensionNumbers as MuonDimensionNumbers
from optjax._modern._muon import MuonState as MuonState
from optjax._modern._muon import muon as muon
from optjax._modern._muon import scale_by_muon as scale_by_muon
from optjax._modern._prodigy import ProdigyState as ProdigyState
from optjax._modern._prodigy import prodigy as prodigy
from optjax._modern._sam import SAMState as SAMState
from optjax._modern._sam import sam as sam
from optjax._modern._schedule_free import ScheduleFreeState as ScheduleFreeState
from optjax._modern._schedule_free import schedule_free as schedule_free
from optjax._modern._schedule_free import schedule_free_adamw as schedule_free_adamw
from optjax._modern._schedule_free import schedule_free_eval_params as schedule_free_eval_params
from optjax._modern._schedule_free import schedule_free_sgd as schedule_free_sgd
from optjax._modern._shampoo import ScaleByShampooState as ScaleByShampooState
from optjax._modern._shampoo import scale_by_shampoo as scale_by_shampoo
from optjax._modern._shampoo import shampoo as shampoo
from optjax._modern._soap import ScaleBySoapState as ScaleBySoapState
from optjax._modern._soap import scale_by_soap as scale_by_soap
from optjax._modern._soap import soap as soap
from optjax._modern._sophia import HutchinsonState as HutchinsonState
from optjax._modern._sophia import SophiaState as SophiaState
from optjax._modern._sophia import (
    hutchinson_estimator_diag_hessian as hutchinson_estimator_diag_hessian,
)
from optjax._modern._sophia import scale_by_sophia as scale_by_sophia
from optjax._modern._sophia import sophia as sophia
from optjax._optimizers._adam import adam as adam
from optjax._optimizers._adam import adamax as adamax
from optjax._optimizers._adam import adamaxw as adamaxw
from optjax._optimizers._adam import adamw as adamw
from optjax._optimizers._adam import amsgrad as amsgrad
from optjax._optimizers._adam import nadam as nadam
from optjax._optimizers._adam import nadamw as nadamw
from optjax._optimizers._adam import radam as radam
from optjax._optimizers._adam_variants import adabelief as adabelief
from optjax._optimizers._adam_variants import adan as adan
from optjax._optimizers._adam_variants import optimistic_adam_v2 as optimistic_adam_v2
from optjax._optimizers._adam_variants import (
    optimistic_gradient_descent as optimistic_gradient_descent,
)
from optjax._optimizers._adam_variants import yogi as yogi
from optjax._optimizers._adaptive import adadelta as adadelta
from optjax._optimizers._adaptive import adafactor as adafactor
from optjax._optimizers._adaptive import adagrad as adagrad
from optjax._optimizers._adaptive import lion as lion
from optjax._optimizers._adaptive import rmsprop as rmsprop
from optjax._optimizers._adaptive import rprop as rprop
from optjax._optimizers._adaptive import sm3 as sm3
from optjax._optimizers._layerwise import fromage as fromage
from optjax._optimizers._layerwise import lamb as lamb
from optjax._optimizers._layerwise import lars as lars
from optjax._optimizers._layerwise import novograd as novograd
from optjax._optimizers._noisy import noisy_sgd as noisy_sgd
from optjax._optimizers._sgd import polyak_sgd as polyak_sgd
from optjax._optimizers._sgd import sgd as sgd
from optjax._optimizers._sgd import sign_sgd as sign_sgd
from optjax._optimizers._sgd import signum as signum
from optjax._partition import MultiTransformState as MultiTransformState
from optjax._partition import PartitionState as PartitionState
from optjax._partition import freeze as freeze
from optjax._partition import multi_transform as multi_transform
from optjax._partition import partition as partition
from optjax._partition import selective_transform as selective_transform
from optjax._schedules._cycles import cosine_onecycle_schedule as cosine_onecycle_schedule
from optjax._schedules._cycles import linear_onecycle_schedule as linear_onecycle_schedule
from optjax._schedules._cycles import sgdr_schedule as sgdr_schedule
from optjax._schedules._decay import constant_schedule as constant_schedule
from optjax._schedules._decay import cosine_decay_schedule as cosine_decay_schedule
from optjax._schedules._decay import exponential_decay as exponential_decay
from optjax._schedules._decay import linear_schedule as linear_schedule
from optjax._schedules._decay import polynomial_schedule as polynomial_schedule
from optjax._schedules._piecewise import join_schedules as join_schedules
from optjax._schedules._piecewise import piecewise_constant_schedule as piecewise_constant_schedule
from optjax._schedules._piecewise import (
    piecewise_interpolate_schedule as piecewise_interpolate_schedule,
)
from optjax._schedules._pytorch import cyclic_schedule as cyclic_schedule
from optjax._schedules._pytorch import inverse_sqrt_schedule as inverse_sqrt_schedule
from optjax._schedules._pytorch import multistep_decay_schedule as multistep_decay_schedule
from optjax._schedules._pytorch import step_decay_schedule as step_decay_schedule
from optjax._schedules._warmup import warmup_constant_schedule as warmup_constant_schedule
from optjax._schedules._warmup import warmup_cosine_decay_schedule as warmup_cosine_decay_schedule
from optjax._schedules._warmup import (
    warmup_exponential_decay_schedule as warmup_exponential_decay_schedule,
)
from optjax._transforms._accumulation import ApplyEvery as ApplyEvery
from optjax._transforms._accumulation import apply_every as apply_every
from optjax._transforms._adam_family import ScaleByAdamState as ScaleByAdamState
from optjax._transforms._adam_family import ScaleByAmsgradState as ScaleByAmsgradState
from optjax._transforms._adam_family import ScaleByBeliefState as ScaleByBeliefState
from optjax._transforms._adam_family import scale_by_adam as scale_by_adam
from optjax._transforms._adam_family import scale_by_adamax as scale_by_adamax
from optjax._transforms._adam_family import scale_by_amsgrad as scale_by_amsgrad
from optjax._transforms._adam_family import scale_by_belief as scale_by_belief
from optjax._transforms._adam_family import scale_by_radam as scale_by_radam
from optjax._transforms._adam_family import scale_by_yogi as scale_by_yogi
from optjax._transforms._adam_variants import ScaleByAdanState as ScaleByAdanState
from optjax._transforms._adam_variants import ScaleByNovogradState as ScaleByNovogradState
from optjax._transforms._adam_variants import (
    ScaleByOptimisticGradientState as ScaleByOptimisticGradientState,
)
from optjax._transforms._adam_variants import scale_by_adan as scale_by_adan
from optjax._transforms._adam_variants import scale_by_novograd as scale_by_novograd
from optjax._transforms._adam_variants import (
    scale_by_optimistic_gradient as scale_by_optimistic_gradient,
)
from optjax._transforms._basic import EmaState as EmaState
from optjax._transforms._basic import ScaleByScheduleState as ScaleByScheduleState
from optjax._transforms._basic import ScaleState as ScaleState
from optjax._transforms._basic import TraceState as TraceState
from optjax._transforms._basic import ema as ema
from optjax._transforms._basic import identity as identity
from optjax._transforms._basic import scale as scale
from optjax._transforms._basic import scale_by_learning_rate as scale_by_learning_rate
from optjax._transforms._basic import scale_by_schedule as scale_by_schedule
from optjax._transforms._basic import set_to_zero as set_to_zero
from optjax._transforms._basic import trace as trace
from optjax._transforms._clipping import AdaptiveGradClipState as AdaptiveGradClipState
from optjax._transforms._clipping import ClipByGlobalNormState as ClipByGlobalNormState
from optjax._transforms._clipping import ClipState as ClipState
from optjax._transforms._clipping import ZeroNansState as ZeroNansState
from optjax._transforms._clipping import adaptive_grad_clip as adaptive_grad_clip
from optjax._transforms._clipping import clip as clip
from optjax._transforms._clipping import clip_by_block_rms as clip_by_block_rms
from optjax._transforms._clipping import clip_by_global_norm as clip_by_global_norm
from optjax._transforms._clipping import (
    per_example_global_norm_clip as per_example_global_norm_clip,
)
from optjax._transforms._clipping import per_example_layer_norm_clip as per_example_layer_norm_clip
from optjax._transforms._clipping import zero_nans as zero_nans
from optjax._transforms._constraints import NonNegativeParamsState as NonNegativeParamsState
from optjax._transforms._constraints import keep_params_nonnegative as keep_params_nonnegative
from optjax._transforms._factored import FactoredState as FactoredState
from optjax._transforms._factored import scale_by_factored_rms as scale_by_factored_rms
from optjax._transforms._layerwise import ScaleByTrustRatioState as ScaleByTrustRatioState
from optjax._transforms._layerwise import scale_by_param_block_norm as scale_by_param_block_norm
from optjax._transforms._layerwise import scale_by_param_block_rms as scale_by_param_block_rms
from optjax._transforms._layerwise import scale_by_trust_ratio as scale_by_trust_ratio
from optjax._transforms._noise import AddNoiseState as AddNoiseState
from optjax._transforms._noise import add_noise as add_noise
from optjax._transforms._normalization import centralize as centralize
from optjax._transforms._normalization import normalize_by_update_norm as normalize_by_update_norm
from optjax._transforms._regularization import AddDecayedWeightsState as AddDecayedWeightsState
from optjax._transforms._regularization import WeightDecayScheduleState as WeightDecayScheduleState
from optjax._transforms._regularization import add_decayed_weights as add_decayed_weights
from optjax._transforms._regularization import add_l1_penalty as add_l1_penalty
from optjax._transforms._regularization import add_l2_penalty as add_l2_penalty
from optjax._transforms._rms_family import ScaleByAdaDeltaState as ScaleByAdaDeltaState
from optjax._transforms._rms_family import ScaleByRmsState as ScaleByRmsState
from optjax._transforms._rms_family import ScaleByRmsWithCountState as ScaleByRmsWithCountState
from optjax._transforms._rms_family import ScaleByRssState as ScaleByRssState
from optjax._transforms._rms_family import ScaleByRStdDevState as ScaleByRStdDevState
from optjax._transforms._rms_family import (
    ScaleByRStdDevWithCountState as ScaleByRStdDevWithCountState,
)
from optjax._transforms._rms_family import ScaleBySM3State as ScaleBySM3State
from optjax._transforms._rms_family import scale_by_adadelta as scale_by_adadelta
from optjax._transforms._rms_family import scale_by_rms as scale_by_rms
from optjax._transforms._rms_family import scale_by_rss as scale_by_rss
from optjax._transforms._rms_family import scale_by_sm3 as scale_by_sm3
from optjax._transforms._rms_family import scale_by_stddev as scale_by_stddev
from optjax._transforms._sign import ScaleByLionState as ScaleByLionState
from optjax._transforms._sign import ScaleByRpropState as ScaleByRpropState
from optjax._transforms._sign import scale_by_lion as scale_by_lion
from optjax._transforms._sign import scale_by_rprop as scale_by_rprop
from optjax._transforms._sign import scale_by_sign as scale_by_sign
from optjax._transforms._step_size import (
    ScaleByDistanceOverGradientsState as ScaleByDistanceOverGradientsState,
)
from optjax._transforms._step_size import (
    scale_by_distance_over_gradients as scale_by_distance_over_gradients,
)
from optjax._transforms._step_size import scale_by_polyak as scale_by_polyak

__version__ = "0.1.0"

__all__ = [
    "AdaptiveGradClipState",
    "AddDecayedWeightsState",
    "AddNoiseState",
    "ApplyEvery",
    "ApplyIfFiniteState",
    "ArrayTree",
    "CautiousState",
    "ClipByGlobalNormState",
    "ClipState",
    "DAdaptAdamWState",
    "DynamicLossScaleState",
    "EmaParamsState",
    "EmaState",
    "EmptyState",
    "FactoredState",
    "GradientTransformation",
    "GradientTransformationExtraArgs",
    "HutchinsonState",
    "InjectHyperparamsState",
    "InjectStatefulHyperparamsState",
    "LookaheadParams",
    "LookaheadState",
    "MaskOrFn",
    "MaskedNode",
    "MaskedState",
    "MultiSteps",
    "MultiStepsState",
    "MultiTransformState",
    "MuonDimensionNumbers",
    "MuonState",
    "NonNegativeParamsState",
    "OptState",
    "Params",
    "PartitionState",
    "ProdigyState",
    "SAMState",
    "ScalarOrSchedule",
    "ScaleByAdaDeltaState",
    "ScaleByAdamState",
    "ScaleByAdanState",
    "ScaleByAdemamixState",
    "ScaleByAdoptState",
    "ScaleByAmsgradState",
    "ScaleByBacktrackingLinesearchState",
    "ScaleByBeliefState",
    "ScaleByDistanceOverGradientsState",
    "ScaleByLBFGSState",
    "ScaleByLionState",
    "ScaleByMarsState",
    "ScaleByNovogradState",
    "ScaleByOptimisticGradientState",
    "ScaleByRStdDevState",
    "ScaleByRStdDevWithCountState",
    "ScaleByRmsState",
    "ScaleByRmsWithCountState",
    "ScaleByRpropState",
    "ScaleByRssState",
    "ScaleBySM3State",
    "ScaleByScheduleState",
    "ScaleByShampooState",
    "ScaleBySimplifiedAdEMAMixState",
    "ScaleBySoapState",
    "ScaleByTrustRatioState",
    "ScaleByZoomLinesearchState",
    "ScaleState",
    "Schedule",
    "ScheduleFreeState",
    "ShouldSkipUpdateFunction",
    "SophiaState",
    "SwaParamsState",
    "TraceState",
    "TransformInitFn",
    "TransformUpdateFn",
    "Updates",
    "WeightDecayScheduleState",
    "WrappedSchedule",
    "ZeroNansState",
    "ZoomLinesearchInfo",
    "adabelief",
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamaxw",
    "adamw",
    "adan",
    "adaptive_grad_clip",
    "add_decayed_weights",
    "add_l1_penalty",
    "add_l2_penalty",
    "add_noise",
    "ademamix",
    "adopt",
    "amsgrad",
    "apply_every",
    "apply_if_finite",
    "apply_updates",
    "averaged_params",
    "cautious",
    "centralize",
    "chain",
    "clip",
    "clip_by_block_rms",
    "clip_by_global_norm",
    "constant_schedule",
    "cosine_decay_schedule",
    "cosine_onecycle_schedule",
    "cyclic_schedule",
    "dadapt_adamw",
    "data",
    "dynamic_loss_scale",
    "ema",
    "ema_params",
    "exponential_decay",
    "flatten",
    "freeze",
    "fromage",
    "get_hyperparams",
    "grouped",
    "hutchinson_estimator_diag_hessian",
    "identity",
    "incremental_update",
    "inject_hyperparams",
    "inject_stateful_hyperparams",
    "inverse_sqrt_schedule",
    "join_schedules",
    "keep_params_nonnegative",
    "lamb",
    "lars",
    "lbfgs",
    "linear_onecycle_schedule",
    "linear_schedule",
    "lion",
    "lookahead",
    "loss_scale",
    "losses",
    "mars_adamw",
    "mars_lion",
    "masked",
    "maximize",
    "metrics",
    "multi_transform",
    "multistep_decay_schedule",
    "muon",
    "nadam",
    "nadamw",
    "named_chain",
    "noisy_sgd",
    "normalize_by_update_norm",
    "novograd",
    "optimistic_adam_v2",
    "optimistic_gradient_descent",
    "partition",
    "per_example_global_norm_clip",
    "per_example_layer_norm_clip",
    "periodic_update",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "polyak_sgd",
    "polynomial_schedule",
    "prodigy",
    "radam",
    "rmsprop",
    "rprop",
    "sam",
    "scale",
    "scale_by_adadelta",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_adan",
    "scale_by_ademamix",
    "scale_by_adopt",
    "scale_by_amsgrad",
    "scale_by_backtracking_linesearch",
    "scale_by_belief",
    "scale_by_distance_over_gradients",
    "scale_by_factored_rms",
    "scale_by_lbfgs",
    "scale_by_learning_rate",
    "scale_by_lion",
    "scale_by_mars",
    "scale_by_muon",
    "scale_by_novograd",
    "scale_by_optimistic_gradient",
    "scale_by_param_block_norm",
    "scale_by_param_block_rms",
    "scale_by_polyak",
    "scale_by_radam",
    "scale_by_rms",
    "scale_by_rprop",
    "scale_by_rss",
    "scale_by_schedule",
    "scale_by_shampoo",
    "scale_by_sign",
    "scale_by_simplified_ademamix",
    "scale_by_sm3",
    "scale_by_soap",
    "scale_by_sophia",
    "scale_by_stddev",
    "scale_by_trust_ratio",
    "scale_by_yogi",
    "scale_by_zoom_linesearch",
    "scale_loss",
    "schedule_free",
    "schedule_free_adamw",
    "schedule_free_eval_params",
    "schedule_free_sgd",
    "schedules",
    "selective_transform",
    "set_hyperparams",
    "set_to_zero",
    "sgd",
    "sgdr_schedule",
    "shampoo",
    "sign_sgd",
    "signum",
    "simplified_ademamix",
    "skip_large_updates",
    "skip_not_finite",
    "sm3",
    "soap",
    "sophia",
    "stateless",
    "stateless_with_tree_map",
    "step_decay_schedule",
    "swa_params",
    "trace",
    "tree",
    "value_and_grad_from_state",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
    "with_extra_args_support",
    "yogi",
    "zero_nans",
]
