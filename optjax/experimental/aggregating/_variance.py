"""Tracking the per-element mean and variance of gradients alongside an optimizer."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import (
    EmptyState,
    GradientTransformation,
    GradientTransformationExtraArgs,
    OptState,
    Updates,
    transformation,
)
from optjax.experimental.aggregating._averaging import as_axis
from optjax.experimental.aggregating._process import Aggregator, find_unique, process
from optjax.transforms._basic import identity
from optjax.transforms._combinators._chain import chain
from optjax.tree import _math as _tree


def get_batch_size_from_per_elt_updates(
    per_elt_updates: Updates, per_elt_axis: int | Sequence[int]
) -> int:
    """The number of elements along the per-element axis (or axes), checked across leaves.

    .. math::

        B = \\prod_{a \\in \\mathrm{per\\_elt\\_axis}} \\mathrm{shape}[a]

    Args:
      per_elt_updates: per-element updates.
      per_elt_axis: the per-element axis, or a sequence of axes.

    Returns:
      The batch size shared by every leaf.

    Raises:
      ValueError: if two leaves disagree.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax.experimental import aggregating
      >>> aggregating.get_batch_size_from_per_elt_updates(jnp.zeros((4, 3, 2)), [0, 1])
      12
    """

    def size_of(leaf):
        shape = jnp.shape(leaf)
        if isinstance(per_elt_axis, int):
            return shape[per_elt_axis]
        return math.prod(shape[a] for a in per_elt_axis)

    sizes = [size_of(leaf) for leaf in jax.tree.leaves(per_elt_updates)]
    if any(size != sizes[0] for size in sizes):
        raise ValueError(
            f"Per-element updates must have the same batch size along per_elt_axis="
            f"{per_elt_axis}; got {sizes}."
        )
    return sizes[0]


def _batch_mean_and_sum_sq_diff(per_elt_updates: Updates, axis: Any) -> tuple[Updates, Updates]:
    keep = jax.tree.map(lambda x: jnp.mean(x, axis=axis, keepdims=True), per_elt_updates)
    sum_sq_diff = jax.tree.map(
        lambda x, m: jnp.sum(jnp.square(x - m), axis=axis), per_elt_updates, keep
    )
    return jax.tree.map(lambda m: m.squeeze(axis=axis), keep), sum_sq_diff


class PerElementMeanAndSumSqDiffGradsState(NamedTuple):
    """State of :func:`get_per_element_mean_and_sum_sq_diff_grads` when accumulating.

    Attributes:
      micro_step: microbatches merged so far in the current cycle.
      ready: whether the last call completed a cycle.
      mean_grads: the running mean of the current cycle.
      sum_sq_diff_grads: the running sum of squared deviations from the mean.
    """

    micro_step: jax.Array
    ready: jax.Array
    mean_grads: Updates
    sum_sq_diff_grads: Updates


def get_per_element_mean_and_sum_sq_diff_grads(
    per_elt_axis: int | Sequence[int] = 0,
    accumulation_steps: int = 1,
) -> Aggregator:
    """Aggregates per-element gradients into their mean and sum of squared deviations.

    For one batch of :math:`B` elements,

    .. math::

        \\bar g = \\frac{1}{B} \\sum_b g_b, \\qquad
        S = \\sum_b (g_b - \\bar g)^2 .

    With ``accumulation_steps = K > 1`` the :math:`K` batches of a cycle are
    merged with Chan et al.'s pairwise update (batch :math:`k` has mean
    :math:`\\bar g_k`, deviation sum :math:`S_k`, and
    :math:`\\delta = \\bar g_k - m_{k-1}`):

    .. math::

        m_k = m_{k-1} + \\frac{\\delta}{k}, \\qquad
        M_k = M_{k-1} + S_k + \\delta^2 \\frac{(k-1) B}{k},

    and the totals are emitted on the cycle's last call (zeros otherwise).
    The update returned is ``(mean, {"sum_sq_diff_grads": S, "sample_size":
    n})``: use it with ``process(..., aggregator_has_aux=True)``, which passes
    the dict on to the postprocessor (see :func:`add_mean_variance_to_opt`).

    Args:
      per_elt_axis: the per-element axis (or axes).
      accumulation_steps: the number of batches per cycle.

    Returns:
      An :class:`Aggregator`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax.experimental import aggregating
      >>> agg = aggregating.get_per_element_mean_and_sum_sq_diff_grads()
      >>> (mean, aux), _ = agg.update(jnp.array([[1.0], [3.0], [5.0]]), agg.init(None))
      >>> print(mean, aux["sum_sq_diff_grads"], aux["sample_size"])
      [3.] [8.] 3

    References:
      Chan, Golub and LeVeque, `Updating formulae and a pairwise algorithm for
      computing sample variances
      <https://doi.org/10.1007/978-3-642-51461-6_3>`_, 1982.
    """
    _checks.check_positive_int(
        "accumulation_steps",
        accumulation_steps,
        where="get_per_element_mean_and_sum_sq_diff_grads",
    )
    axis = as_axis(per_elt_axis)

    def single_batch_update(per_elt_updates, state, params=None, **extra_args):
        del params, extra_args
        batch_size = get_batch_size_from_per_elt_updates(per_elt_updates, per_elt_axis)
        mean, sum_sq_diff = _batch_mean_and_sum_sq_diff(per_elt_updates, axis)
        return (mean, {"sum_sq_diff_grads": sum_sq_diff, "sample_size": batch_size}), state

    if accumulation_steps == 1:
        return Aggregator(lambda params: EmptyState(), single_batch_update)

    def init_fn(params):
        return PerElementMeanAndSumSqDiffGradsState(
            micro_step=jnp.asarray(0, dtype=jnp.int32),
            ready=jnp.asarray(False),
            mean_grads=_tree.zeros_like(params),
            sum_sq_diff_grads=_tree.zeros_like(params),
        )

    def update_fn(per_elt_updates, state, params=None, **extra_args):
        del params, extra_args
        batch_size = get_batch_size_from_per_elt_updates(per_elt_updates, per_elt_axis)
        micro_step = state.micro_step + 1
        batch_mean, batch_sum_sq_diff = _batch_mean_and_sum_sq_diff(per_elt_updates, axis)
        delta = jax.tree.map(lambda b, m: b - m, batch_mean, state.mean_grads)
        mean = jax.tree.map(lambda m, d: m + d / micro_step, state.mean_grads, delta)
        size_factor = state.micro_step * batch_size / micro_step
        sum_sq_diff = jax.tree.map(
            lambda total, s, d: total + s + d**2 * size_factor,
            state.sum_sq_diff_grads,
            batch_sum_sq_diff,
            delta,
        )
        outputs = (
            mean,
            {"sum_sq_diff_grads": sum_sq_diff, "sample_size": batch_size * micro_step},
        )
        emit_state = PerElementMeanAndSumSqDiffGradsState(
            micro_step=jnp.asarray(0, dtype=jnp.int32),
            ready=jnp.asarray(True),
            mean_grads=_tree.zeros_like(mean),
            sum_sq_diff_grads=_tree.zeros_like(sum_sq_diff),
        )
        wait_state = PerElementMeanAndSumSqDiffGradsState(
            micro_step=micro_step,
            ready=jnp.asarray(False),
            mean_grads=mean,
            sum_sq_diff_grads=sum_sq_diff,
        )
        return _tree.where(
            micro_step == accumulation_steps,
            (outputs, emit_state),
            (_tree.zeros_like(outputs), wait_state),
        )

    return Aggregator(init_fn, update_fn)


class PerElementMeanAndVarianceEMAState(NamedTuple):
    """State of :func:`track_per_element_mean_and_variance_with_ema`.

    Attributes:
      count: the number of updates seen.
      ema_decay: the EMA decay, kept for the bias correction.
      mean_grads_ema: the (biased) EMA of the mean gradient.
      variance_grads_ema: the (biased) EMA of the per-element gradient variance.
    """

    count: jax.Array
    ema_decay: jax.Array
    mean_grads_ema: Updates
    variance_grads_ema: Updates


_MISSING_AUX = (
    "track_per_element_mean_and_variance_with_ema needs the extra arguments "
    "sum_sq_diff_grads and sample_size; use it after "
    "get_per_element_mean_and_sum_sq_diff_grads in process(..., aggregator_has_aux=True)."
)


def track_per_element_mean_and_variance_with_ema(
    ema_decay: jax.typing.ArrayLike = 0.9,
) -> GradientTransformationExtraArgs:
    """Tracks EMAs of the mean and variance of per-element gradients; updates pass through.

    With the mean :math:`\\bar g_t` (the incoming update) and the extra
    arguments ``sum_sq_diff_grads`` :math:`S_t` and ``sample_size`` :math:`n_t`:

    .. math::

        \\mu_t = (1 - \\beta)\\, \\bar g_t + \\beta\\, \\mu_{t-1}, \\qquad
        v_t = (1 - \\beta)\\, \\frac{S_t}{n_t - 1} + \\beta\\, v_{t-1} .

    Read the bias-corrected values with :func:`get_unbiased_mean_and_variance_ema`.

    Args:
      ema_decay: the EMA decay :math:`\\beta`.

    Returns:
      A gradient transformation that leaves the updates unchanged.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax.experimental import aggregating
      >>> tx = aggregating.track_per_element_mean_and_variance_with_ema(0.5)
      >>> state = tx.init(jnp.zeros(1))
      >>> _, state = tx.update(
      ...     jnp.array([3.0]), state, sum_sq_diff_grads=jnp.array([8.0]), sample_size=3)
      >>> print(state.mean_grads_ema, state.variance_grads_ema)
      [1.5] [2.]
    """
    _checks.check_decay(
        "ema_decay", ema_decay, where="track_per_element_mean_and_variance_with_ema"
    )

    def init_fn(params):
        return PerElementMeanAndVarianceEMAState(
            count=jnp.zeros([], jnp.int32),
            ema_decay=jnp.asarray(ema_decay),
            mean_grads_ema=_tree.zeros_like(params),
            variance_grads_ema=_tree.zeros_like(params),
        )

    def ema(new, old):
        return jax.tree.map(lambda x, y: (1.0 - ema_decay) * x + ema_decay * y, new, old)

    def update_fn(updates, state, params=None, **extra_args):
        del params
        if "sum_sq_diff_grads" not in extra_args or "sample_size" not in extra_args:
            raise TypeError(_MISSING_AUX)
        sample_variance = _tree.scale(
            1 / (extra_args["sample_size"] - 1), extra_args["sum_sq_diff_grads"]
        )
        new_state = state._replace(
            count=_tree.safe_increment(state.count),
            mean_grads_ema=ema(updates, state.mean_grads_ema),
            variance_grads_ema=ema(sample_variance, state.variance_grads_ema),
        )
        return updates, new_state

    return transformation(init_fn, update_fn, name="track_per_element_mean_and_variance_with_ema")


def get_unbiased_mean_and_variance_ema(state: OptState) -> tuple[Updates, Updates]:
    """Bias-corrected mean and variance EMAs, read from anywhere in an optimizer state.

    .. math::

        \\hat\\mu_t = \\frac{\\mu_t}{1 - \\beta^t}, \\qquad
        \\hat v_t = \\frac{v_t}{1 - \\beta^t}

    Args:
      state: an optimizer state containing one
        :class:`PerElementMeanAndVarianceEMAState`.

    Returns:
      ``(unbiased_mean_ema, unbiased_variance_ema)``.

    Raises:
      ValueError: if the state holds no ``PerElementMeanAndVarianceEMAState``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax.experimental import aggregating
      >>> state = aggregating.PerElementMeanAndVarianceEMAState(
      ...     count=jnp.array(1), ema_decay=jnp.array(0.5),
      ...     mean_grads_ema=jnp.array([1.5]), variance_grads_ema=jnp.array([2.0]))
      >>> mean, var = aggregating.get_unbiased_mean_and_variance_ema(state)
      >>> print(mean, var)
      [3.] [4.]
    """
    ema_state = find_unique(state, "PerElementMeanAndVarianceEMAState", None)
    if ema_state is None:
        raise ValueError(
            "get_unbiased_mean_and_variance_ema: the state holds no "
            "PerElementMeanAndVarianceEMAState; build the optimizer with "
            "add_mean_variance_to_opt or track_per_element_mean_and_variance_with_ema."
        )
    correction = 1 - ema_state.ema_decay**ema_state.count
    unbias = lambda tree: jax.tree.map(lambda x: x / correction, tree)  # noqa: E731
    return unbias(ema_state.mean_grads_ema), unbias(ema_state.variance_grads_ema)


def add_mean_variance_to_opt(
    opt: GradientTransformation,
    ema_decay: jax.typing.ArrayLike = 0.9,
    per_elt_axis: int | list[int] = 0,
    accumulation_steps: int = 1,
) -> Aggregator:
    """Wraps ``opt`` to take per-element gradients and track their mean and variance.

    The returned aggregator averages the per-element gradients (over
    ``accumulation_steps`` calls if more than one), steps ``opt`` on that mean,
    and keeps EMAs of the gradient mean and of the per-element gradient
    variance:

    .. math::

        \\bar g = \\frac{1}{n} \\sum_b g_b, \\qquad
        \\sigma^2 = \\frac{1}{n - 1} \\sum_b (g_b - \\bar g)^2 .

    Read them with :func:`get_unbiased_mean_and_variance_ema`. Equivalent to
    ``process(identity(), get_per_element_mean_and_sum_sq_diff_grads(...),
    chain(track_per_element_mean_and_variance_with_ema(...), opt),
    aggregator_has_aux=True)``.

    Args:
      opt: the optimizer stepped on the mean gradient.
      ema_decay: the EMA decay of the tracked statistics.
      per_elt_axis: the per-element axis (or axes) of the gradients.
      accumulation_steps: the number of calls (microbatches) per step of
        ``opt``.

    Returns:
      An :class:`Aggregator`.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> from optjax.experimental import aggregating
      >>> opt = aggregating.add_mean_variance_to_opt(optjax.sgd(0.1), ema_decay=0.5)
      >>> params = jnp.zeros(2)
      >>> per_example = jnp.array([[1.0, 0.0], [3.0, 2.0]])
      >>> updates, state = opt.update(per_example, opt.init(params))
      >>> mean, var = aggregating.get_unbiased_mean_and_variance_ema(state)
      >>> print(updates, mean, var)
      [-0.2 -0.1] [2. 1.] [2. 2.]
    """
    return process(
        preprocessor=identity(),
        aggregator=get_per_element_mean_and_sum_sq_diff_grads(per_elt_axis, accumulation_steps),
        postprocessor=chain(track_per_element_mean_and_variance_with_ema(ema_decay), opt),
        aggregator_has_aux=True,
    )
