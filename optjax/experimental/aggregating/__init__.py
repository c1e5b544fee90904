"""Aggregators: optimizers that take per-element gradients.

Same public names and behaviour as ``optax.experimental.aggregating``:
:func:`process` chains a per-element preprocessor, an :class:`Aggregator`
that reduces over the per-element axis (and possibly over microbatches), and
an ordinary optimizer; :func:`add_mean_variance_to_opt` uses it to track the
mean and variance of per-example gradients during training.

Examples:
  >>> import jax.numpy as jnp
  >>> import optjax
  >>> from optjax.experimental import aggregating
  >>> opt = aggregating.process(
  ...     optjax.identity(), aggregating.average_per_element_updates(), optjax.sgd(1.0))
  >>> print(opt.update(jnp.array([[1.0], [3.0]]), opt.init(jnp.zeros(1)))[0])
  [-2.]
"""

from optjax.experimental.aggregating._averaging import (
    AccumulateAvgUpdatesState as AccumulateAvgUpdatesState,
)
from optjax.experimental.aggregating._averaging import (
    accumulate_avg_updates as accumulate_avg_updates,
)
from optjax.experimental.aggregating._averaging import (
    average_incrementally_updates as average_incrementally_updates,
)
from optjax.experimental.aggregating._averaging import (
    average_per_element_updates as average_per_element_updates,
)
from optjax.experimental.aggregating._process import AggregatedUpdates as AggregatedUpdates
from optjax.experimental.aggregating._process import Aggregator as Aggregator
from optjax.experimental.aggregating._process import AggregatorUpdateFn as AggregatorUpdateFn
from optjax.experimental.aggregating._process import MaybeAxis as MaybeAxis
from optjax.experimental.aggregating._process import PerElementUpdates as PerElementUpdates
from optjax.experimental.aggregating._process import process as process
from optjax.experimental.aggregating._variance import (
    PerElementMeanAndSumSqDiffGradsState as PerElementMeanAndSumSqDiffGradsState,
)
from optjax.experimental.aggregating._variance import (
    PerElementMeanAndVarianceEMAState as PerElementMeanAndVarianceEMAState,
)
from optjax.experimental.aggregating._variance import (
    add_mean_variance_to_opt as add_mean_variance_to_opt,
)
from optjax.experimental.aggregating._variance import (
    get_batch_size_from_per_elt_updates as get_batch_size_from_per_elt_updates,
)
from optjax.experimental.aggregating._variance import (
    get_per_element_mean_and_sum_sq_diff_grads as get_per_element_mean_and_sum_sq_diff_grads,
)
from optjax.experimental.aggregating._variance import (
    get_unbiased_mean_and_variance_ema as get_unbiased_mean_and_variance_ema,
)
from optjax.experimental.aggregating._variance import (
    track_per_element_mean_and_variance_with_ema as track_per_element_mean_and_variance_with_ema,
)

__all__ = [
    "AccumulateAvgUpdatesState",
    "AggregatedUpdates",
    "Aggregator",
    "AggregatorUpdateFn",
    "MaybeAxis",
    "PerElementMeanAndSumSqDiffGradsState",
    "PerElementMeanAndVarianceEMAState",
    "PerElementUpdates",
    "accumulate_avg_updates",
    "add_mean_variance_to_opt",
    "average_incrementally_updates",
    "average_per_element_updates",
    "get_batch_size_from_per_elt_updates",
    "get_per_element_mean_and_sum_sq_diff_grads",
    "get_unbiased_mean_and_variance_ema",
    "process",
    "track_per_element_mean_and_variance_with_ema",
]
