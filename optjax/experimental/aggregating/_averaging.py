"""Averaging per-element updates over a batch, and over successive microbatches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import (
    EmptyState,
    GradientTransformationExtraArgs,
    Updates,
    transformation,
)
from optjax.experimental.aggregating._process import Aggregator, MaybeAxis
from optjax.transforms._basic import identity
from optjax.transforms._combinators._chain import chain
from optjax.tree import _math as _tree


def as_axis(axis: Any) -> Any:
    """``axis`` as ``jnp`` reductions take it: lists become tuples."""
    return tuple(axis) if isinstance(axis, Sequence) else axis


def average_per_element_updates(per_elt_axis: int | Sequence[int] = 0) -> Aggregator:
    """Averages per-element updates over their per-element axis.

    .. math::

        u = \\frac{1}{B} \\sum_{b=1}^{B} g_b

    Args:
      per_elt_axis: the per-element axis (or axes) to average over.

    Returns:
      A stateless :class:`Aggregator`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax.experimental import aggregating
      >>> agg = aggregating.average_per_element_updates()
      >>> agg.update({"w": jnp.array([[1.0], [3.0]])}, agg.init(None))[0]
      {'w': Array([2.], dtype=float32)}
    """
    axis = as_axis(per_elt_axis)

    def update_fn(per_elt_updates, state, params=None, **extra_args):
        del params, extra_args
        return jax.tree.map(lambda x: jnp.mean(x, axis=axis), per_elt_updates), state

    return Aggregator(lambda params: EmptyState(), update_fn)


class AccumulateAvgUpdatesState(NamedTuple):
    """State of :func:`accumulate_avg_updates`.

    Attributes:
      micro_step: updates averaged so far in the current cycle.
      ready: whether the last call completed a cycle (and emitted its average).
      avg_grad: the running average of the current cycle.
    """

    micro_step: jax.Array
    ready: jax.Array
    avg_grad: Updates


def accumulate_avg_updates(accumulation_steps: int) -> GradientTransformationExtraArgs:
    """Averages updates over ``accumulation_steps`` calls, emitting zeros in between.

    Call :math:`k = 1, \\dots, K` of a cycle updates the running average and
    the last call of the cycle emits it:

    .. math::

        a_k = a_{k-1} + \\frac{g_k - a_{k-1}}{k}, \\qquad
        u_k = \\begin{cases} a_K & k = K \\\\ 0 & k < K \\end{cases}

    The state's ``ready`` flag is true after the emitting call, which
    :func:`process` uses to step its postprocessor only then. With
    ``accumulation_steps=1`` this is :func:`optjax.identity`.

    Args:
      accumulation_steps: the number of calls (microbatches) per average.

    Returns:
      A gradient transformation.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax.experimental import aggregating
      >>> tx = aggregating.accumulate_avg_updates(2)
      >>> state = tx.init(jnp.zeros(1))
      >>> u, state = tx.update(jnp.array([1.0]), state)
      >>> print(u, bool(state.ready))
      [0.] False
      >>> u, state = tx.update(jnp.array([3.0]), state)
      >>> print(u, bool(state.ready))
      [2.] True
    """
    _checks.check_positive_int(
        "accumulation_steps", accumulation_steps, where="accumulate_avg_updates"
    )
    if accumulation_steps == 1:
        return identity()

    def init_fn(params):
        return AccumulateAvgUpdatesState(
            micro_step=jnp.asarray(0),
            ready=jnp.asarray(False),
            avg_grad=_tree.zeros_like(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        micro_step = state.micro_step + 1
        avg = jax.tree.map(lambda u, a: a + (u - a) / micro_step, updates, state.avg_grad)
        emit_state = AccumulateAvgUpdatesState(
            micro_step=jnp.asarray(0),
            ready=jnp.asarray(True),
            avg_grad=_tree.zeros_like(avg),
        )
        wait_state = AccumulateAvgUpdatesState(
            micro_step=micro_step, ready=jnp.asarray(False), avg_grad=avg
        )
        return _tree.where(
            micro_step == accumulation_steps,
            (avg, emit_state),
            (_tree.zeros_like(avg), wait_state),
        )

    return transformation(init_fn, update_fn, name="accumulate_avg_updates")


def average_incrementally_updates(
    per_elt_axis: MaybeAxis, accumulation_steps: int
) -> Aggregator | GradientTransformationExtraArgs:
    """Averages over the per-element axis, then over ``accumulation_steps`` calls.

    .. math::

        u = \\frac{1}{K} \\sum_{k=1}^{K} \\frac{1}{B} \\sum_{b=1}^{B} g_{k,b}

    emitted on every ``K``-th call (zeros otherwise), see
    :func:`accumulate_avg_updates`.

    Args:
      per_elt_axis: the per-element axis (or axes), or ``None`` when the
        updates are already averaged over the batch.
      accumulation_steps: the number of calls per average.

    Returns:
      :func:`accumulate_avg_updates` if ``per_elt_axis`` is ``None``, else an
      :class:`Aggregator` chaining :func:`average_per_element_updates` into it.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax.experimental import aggregating
      >>> agg = aggregating.average_incrementally_updates(0, accumulation_steps=2)
      >>> state = agg.init(jnp.zeros(1))
      >>> _, state = agg.update(jnp.array([[1.0], [3.0]]), state)
      >>> u, state = agg.update(jnp.array([[5.0], [7.0]]), state)
      >>> print(u)
      [4.]
    """
    if per_elt_axis is None:
        return accumulate_avg_updates(accumulation_steps)
    chained = chain(
        average_per_element_updates(per_elt_axis),
        accumulate_avg_updates(accumulation_steps),
    )
    return Aggregator(chained.init, chained.update)
