"""Gradient transformations (``optjax.transforms.NAME``, also at the top level).

The primitives (``scale_by_*``, clipping, noise, weight decay...) are modules in
this folder; ``_combinators/`` composes transforms (``chain``, ``masked``,
``partition``...), ``_wrappers/`` changes when or how an inner transform applies
(``MultiSteps``, ``apply_if_finite``, loss scaling, lookahead, parameter
averaging), and ``_linesearch/`` holds the line searches.
"""

from optjax.transforms._adam_family import (
    ScaleByAdamState,
    ScaleByAmsgradState,
    ScaleByBeliefState,
    scale_by_adam,
    scale_by_adamax,
    scale_by_amsgrad,
    scale_by_belief,
    scale_by_radam,
    scale_by_yogi,
)
from optjax.transforms._adam_variants import (
    ScaleByAdanState,
    ScaleByNovogradState,
    ScaleByOptimisticGradientState,
    scale_by_adan,
    scale_by_novograd,
    scale_by_optimistic_gradient,
)
from optjax.transforms._apply_every import (
    ApplyEvery,
    apply_every,
)
from optjax.transforms._basic import (
    EmaState,
    ScaleByScheduleState,
    ScaleState,
    TraceState,
    ema,
    identity,
    scale,
    scale_by_learning_rate,
    scale_by_schedule,
    set_to_zero,
    trace,
)
from optjax.transforms._clipping import (
    AdaptiveGradClipState,
    ClipByGlobalNormState,
    ClipState,
    ZeroNansState,
    adaptive_grad_clip,
    clip,
    clip_by_block_rms,
    clip_by_global_norm,
    per_example_global_norm_clip,
    per_example_layer_norm_clip,
    zero_nans,
)
from optjax.transforms._combinators._chain import (
    chain,
    named_chain,
)
from optjax.transforms._combinators._grouped import (
    flatten,
    grouped,
)
from optjax.transforms._combinators._masking import (
    MaskedNode,
    MaskedState,
    _mask_callable,  # noqa: F401 - Optax's private helper, which Optax's own tests call.
    masked,
)
from optjax.transforms._combinators._maximize import (
    maximize,
)
from optjax.transforms._combinators._partition import (
    MultiTransformState,
    PartitionState,
    freeze,
    multi_transform,
    partition,
    selective_transform,
)
from optjax.transforms._constraints import (
    NonNegativeParamsState,
    keep_params_nonnegative,
)
from optjax.transforms._factored import (
    FactoredState,
    scale_by_factored_rms,
)
from optjax.transforms._layerwise import (
    ScaleByTrustRatioState,
    scale_by_param_block_norm,
    scale_by_param_block_rms,
    scale_by_trust_ratio,
)
from optjax.transforms._linesearch import (
    ScaleByBacktrackingLinesearchState,
    ScaleByZoomLinesearchState,
    ZoomLinesearchInfo,
    scale_by_backtracking_linesearch,
    scale_by_zoom_linesearch,
    value_and_grad_from_state,
)
from optjax.transforms._noise import (
    AddNoiseState,
    add_noise,
)
from optjax.transforms._normalization import (
    centralize,
    normalize_by_update_norm,
)
from optjax.transforms._regularization import (
    AddDecayedWeightsState,
    WeightDecayScheduleState,
    add_decayed_weights,
    add_l1_penalty,
    add_l2_penalty,
)
from optjax.transforms._rms_family import (
    ScaleByAdaDeltaState,
    ScaleByRmsState,
    ScaleByRmsWithCountState,
    ScaleByRssState,
    ScaleByRStdDevState,
    ScaleByRStdDevWithCountState,
    ScaleBySM3State,
    scale_by_adadelta,
    scale_by_rms,
    scale_by_rss,
    scale_by_sm3,
    scale_by_stddev,
)
from optjax.transforms._sign import (
    ScaleByLionState,
    ScaleByRpropState,
    scale_by_lion,
    scale_by_rprop,
    scale_by_sign,
)
from optjax.transforms._step_size import (
    ScaleByDistanceOverGradientsState,
    scale_by_distance_over_gradients,
    scale_by_polyak,
)
from optjax.transforms._unitwise import (
    unitwise_clip,
    unitwise_norm,
)
from optjax.transforms._wrappers._conditionally import (
    ConditionallyMaskState,
    ConditionallyTransformState,
    ConditionFn,
    conditionally_mask,
    conditionally_transform,
)
from optjax.transforms._wrappers._finite import (
    ApplyIfFiniteState,
    apply_if_finite,
    skip_large_updates,
    skip_not_finite,
)
from optjax.transforms._wrappers._lookahead import (
    LookaheadParams,
    LookaheadState,
    lookahead,
)
from optjax.transforms._wrappers._loss_scale import (
    DynamicLossScaleState,
    dynamic_loss_scale,
    loss_scale,
    scale_loss,
)
from optjax.transforms._wrappers._monitor import (
    MonitorState,
    SnapshotState,
    measure_with_ema,
    monitor,
    snapshot,
)
from optjax.transforms._wrappers._multi_steps import (
    MultiSteps,
    MultiStepsState,
    ShouldSkipUpdateFunction,
)
from optjax.transforms._wrappers._param_averaging import (
    EmaParamsState,
    SwaParamsState,
    averaged_params,
    ema_params,
    swa_params,
)

__all__ = [
    "AdaptiveGradClipState",
    "AddDecayedWeightsState",
    "AddNoiseState",
    "ApplyEvery",
    "ApplyIfFiniteState",
    "ClipByGlobalNormState",
    "ClipState",
    "ConditionFn",
    "ConditionallyMaskState",
    "ConditionallyTransformState",
    "DynamicLossScaleState",
    "EmaParamsState",
    "EmaState",
    "FactoredState",
    "LookaheadParams",
    "LookaheadState",
    "MaskedNode",
    "MaskedState",
    "MonitorState",
    "MultiSteps",
    "MultiStepsState",
    "MultiTransformState",
    "NonNegativeParamsState",
    "PartitionState",
    "ScaleByAdaDeltaState",
    "ScaleByAdamState",
    "ScaleByAdanState",
    "ScaleByAmsgradState",
    "ScaleByBacktrackingLinesearchState",
    "ScaleByBeliefState",
    "ScaleByDistanceOverGradientsState",
    "ScaleByLionState",
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
    "ScaleByTrustRatioState",
    "ScaleByZoomLinesearchState",
    "ScaleState",
    "ShouldSkipUpdateFunction",
    "SnapshotState",
    "SwaParamsState",
    "TraceState",
    "WeightDecayScheduleState",
    "ZeroNansState",
    "ZoomLinesearchInfo",
    "adaptive_grad_clip",
    "add_decayed_weights",
    "add_l1_penalty",
    "add_l2_penalty",
    "add_noise",
    "apply_every",
    "apply_if_finite",
    "averaged_params",
    "centralize",
    "chain",
    "clip",
    "clip_by_block_rms",
    "clip_by_global_norm",
    "conditionally_mask",
    "conditionally_transform",
    "dynamic_loss_scale",
    "ema",
    "ema_params",
    "flatten",
    "freeze",
    "grouped",
    "identity",
    "keep_params_nonnegative",
    "lookahead",
    "loss_scale",
    "masked",
    "maximize",
    "measure_with_ema",
    "monitor",
    "multi_transform",
    "named_chain",
    "normalize_by_update_norm",
    "partition",
    "per_example_global_norm_clip",
    "per_example_layer_norm_clip",
    "scale",
    "scale_by_adadelta",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_adan",
    "scale_by_amsgrad",
    "scale_by_backtracking_linesearch",
    "scale_by_belief",
    "scale_by_distance_over_gradients",
    "scale_by_factored_rms",
    "scale_by_learning_rate",
    "scale_by_lion",
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
    "scale_by_sign",
    "scale_by_sm3",
    "scale_by_stddev",
    "scale_by_trust_ratio",
    "scale_by_yogi",
    "scale_by_zoom_linesearch",
    "scale_loss",
    "selective_transform",
    "set_to_zero",
    "skip_large_updates",
    "skip_not_finite",
    "snapshot",
    "swa_params",
    "trace",
    "unitwise_clip",
    "unitwise_norm",
    "value_and_grad_from_state",
    "zero_nans",
]
