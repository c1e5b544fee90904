"""Reduce the learning rate when a monitored value stops improving (a scale on the updates)."""

from __future__ import annotations

import functools
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, transformation
from optjax.contrib._schedule_free import lowest_float_dtype
from optjax.tree import _math as _tree

_NAME = "reduce_on_plateau"


class ReduceLROnPlateauState(NamedTuple):
    """State of :func:`reduce_on_plateau` (field names and order as in Optax).

    Attributes:
      scale: the factor currently applied to the updates (starts at 1).
      best_value: the best averaged value seen so far.
      plateau_count: int32, evaluations since the last improvement.
      cooldown_count: int32, evaluations left in the current cooldown.
      count: int32, values accumulated into ``avg_value`` so far.
      avg_value: running mean of the values of the current accumulation.
    """

    scale: jax.typing.ArrayLike
    best_value: jax.typing.ArrayLike
    plateau_count: jax.typing.ArrayLike
    cooldown_count: jax.typing.ArrayLike
    count: jax.typing.ArrayLike
    avg_value: jax.typing.ArrayLike


def _highest_float_dtype(tree: Any) -> Any:
    """The dtype every leaf promotes to (JAX's default float for an empty tree)."""
    dtypes = [jnp.asarray(x).dtype for x in jax.tree.leaves(tree)]
    if not dtypes:
        return jnp.asarray([]).dtype

    def higher(a, b):
        promoted = jnp.promote_types(a, b)
        if promoted not in (a, b):
            raise ValueError(
                f"{_NAME}: the parameter dtypes {a} and {b} do not promote to one another."
            )
        return promoted

    return functools.reduce(higher, dtypes)


def _check_hyperparams(factor, patience, rtol, atol, cooldown, accumulation_size, min_scale):
    _checks.check_in_interval(
        "factor", factor, 0.0, 1.0, closed_low=False, closed_high=False, where=_NAME
    )
    _checks.check_in_interval("rtol", rtol, 0.0, 1.0, closed_high=True, where=_NAME)
    _checks.check_non_negative("atol", atol, where=_NAME)
    if isinstance(rtol, numbers.Real) and isinstance(atol, numbers.Real) and rtol == atol == 0:
        raise ValueError(f"{_NAME}: at least one of rtol and atol must be > 0, got both 0.")
    _checks.check_non_negative("patience", patience, where=_NAME)
    _checks.check_non_negative("cooldown", cooldown, where=_NAME)
    _checks.check_non_negative("min_scale", min_scale, where=_NAME)
    if isinstance(accumulation_size, numbers.Real):
        _checks.check_positive_int("accumulation_size", accumulation_size, where=_NAME)


def reduce_on_plateau(
    factor: float = 0.1,
    patience: jax.typing.ArrayLike = 10,
    rtol: float = 1e-4,
    atol: float = 0.0,
    cooldown: jax.typing.ArrayLike = 0,
    accumulation_size: jax.typing.ArrayLike = 1,
    min_scale: jax.typing.ArrayLike = 0.0,
) -> GradientTransformationExtraArgs:
    """Scales the updates down by ``factor`` when the monitored value plateaus.

    Every call passes the monitored quantity as ``update(..., value=v)``. The
    values are averaged over ``accumulation_size`` calls; each full average
    :math:`\\bar v` is one *evaluation*:

    .. math::

        \\text{improved} \\iff \\bar v < (1 - r_{tol})\\, v_{best} - a_{tol},
        \\qquad v_{best} \\leftarrow \\bar v \\text{ if improved},

    and the plateau count :math:`p` is reset to 0 on an improvement, else
    incremented. Outside a cooldown, when :math:`p` reaches ``patience``:

    .. math::

        s \\leftarrow \\max(\\text{factor} \\cdot s,\\ s_{min}), \\qquad p \\leftarrow 0,
        \\qquad \\text{cooldown} \\leftarrow \\text{cooldown steps};

    during a cooldown :math:`p` stays 0 and the cooldown counts down by one per
    evaluation. Every call returns :math:`u = s\\, g`, with the scale
    :math:`s` (starting at 1) after this call's evaluation, if any.

    Chain it after an optimizer to scale its learning rate:
    ``chain(adam(1e-3), reduce_on_plateau())``.

    Args:
      factor: the multiplier of the scale at each reduction, in (0, 1).
      patience: evaluations without improvement before a reduction (>= 0).
      rtol: relative tolerance :math:`r_{tol}` of an improvement, in [0, 1].
      atol: absolute tolerance :math:`a_{tol}` of an improvement (>= 0); rtol
        and atol cannot both be 0.
      cooldown: evaluations after a reduction during which the plateau count
        is not advanced (>= 0).
      accumulation_size: number of calls whose values are averaged into one
        evaluation (>= 1); 1 when ``value`` is already a validation metric,
        larger when it is a noisy minibatch loss.
      min_scale: the scale never goes below this (>= 0).

    Returns:
      A gradient transformation with a :class:`ReduceLROnPlateauState`;
      ``update`` requires the keyword argument ``value`` (a scalar).

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.contrib.reduce_on_plateau(patience=2, factor=0.5)
      >>> g = {"w": jnp.array([1.0])}
      >>> state = tx.init(g)
      >>> for loss in [3.0, 2.0, 2.0, 2.0, 2.0, 2.0]:
      ...     u, state = tx.update(g, state, value=loss)
      ...     print(float(state.scale), float(u["w"][0]))
      1.0 1.0
      1.0 1.0
      1.0 1.0
      0.5 0.5
      0.5 0.5
      0.25 0.25

    References:
      PyTorch's ``torch.optim.lr_scheduler.ReduceLROnPlateau``,
      https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.ReduceLROnPlateau.html
    """
    _check_hyperparams(factor, patience, rtol, atol, cooldown, accumulation_size, min_scale)

    def init_fn(params):
        low = lowest_float_dtype(params)
        high = _highest_float_dtype(params)
        return ReduceLROnPlateauState(
            scale=jnp.asarray(1.0, low),
            best_value=jnp.asarray(jnp.inf, high),
            plateau_count=jnp.asarray(0, jnp.int32),
            cooldown_count=jnp.asarray(0, jnp.int32),
            count=jnp.asarray(0, jnp.int32),
            avg_value=jnp.asarray(0.0, high),
        )

    def evaluate(state):
        """One evaluation of the accumulated mean: maybe improve, maybe reduce."""
        avg = state.avg_value
        improved = avg < (1 - rtol) * state.best_value - atol
        best = jnp.where(improved, avg.astype(state.best_value.dtype), state.best_value)
        plateau = jnp.where(improved, 0, _tree.safe_increment(state.plateau_count))

        def cooling_down():
            return jnp.asarray(0, jnp.int32), state.scale, state.cooldown_count - 1

        def watching():
            reduce = plateau == patience
            scale = jnp.maximum(jnp.where(reduce, state.scale * factor, state.scale), min_scale)
            return (
                jnp.where(reduce, 0, plateau),
                scale,
                jnp.where(reduce, cooldown, 0).astype(jnp.int32),
            )

        new_plateau, new_scale, new_cooldown = jax.lax.cond(
            state.cooldown_count > 0, cooling_down, watching
        )
        return ReduceLROnPlateauState(
            scale=new_scale,
            best_value=best.astype(state.best_value.dtype),
            plateau_count=new_plateau,
            cooldown_count=new_cooldown,
            count=jnp.asarray(0, jnp.int32),
            avg_value=jnp.asarray(0.0, avg.dtype),
        )

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del params, extra_args
        if value is None:
            raise TypeError(
                f"{_NAME}: update needs the monitored value: call "
                f"`update(updates, state, params, value=loss)`."
            )
        if jnp.ndim(value) != 0:
            raise ValueError(f"{_NAME}: value must be a scalar, got shape {jnp.shape(value)}.")
        count = _tree.safe_increment(state.count)
        avg = (state.count * state.avg_value + jnp.asarray(value).astype(state.avg_value.dtype)) / (
            count
        )
        state = state._replace(avg_value=avg.astype(state.avg_value.dtype), count=count)
        state = jax.lax.cond(count == accumulation_size, evaluate, lambda s: s, state)
        return jax.tree.map(lambda g: state.scale * g, updates), state

    return transformation(init_fn, update_fn, name=_NAME)
