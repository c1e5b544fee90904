"""Basic transforms: identity, zeroing, scaling, learning rates and momentum."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import (
    EmptyState,
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    Schedule,
    transformation,
)
from optjax.tree import _math as _tree


def _empty_init(params):
    del params
    return EmptyState()


def identity() -> GradientTransformationExtraArgs:
    """Returns the updates unchanged.

    .. math::

        u = g

    Returns:
      A stateless gradient transformation.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.identity()
      >>> tx.update({"w": jnp.array([2.0])}, tx.init(None))[0]
      {'w': Array([2.], dtype=float32)}
    """

    def update_fn(updates, state, params=None, **extra_args):
        return updates, state

    return transformation(_empty_init, update_fn, name="identity")


def set_to_zero() -> GradientTransformationExtraArgs:
    """Replaces every update with zeros (freezes the parameters it sees).

    .. math::

        u = 0

    Returns:
      A stateless gradient transformation.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.set_to_zero()
      >>> tx.update({"w": jnp.array([2.0])}, tx.init(None))[0]
      {'w': Array([0.], dtype=float32)}
    """

    def update_fn(updates, state, params=None, **extra_args):
        return _tree.zeros_like(updates), state

    return transformation(_empty_init, update_fn, name="set_to_zero")


ScaleState = EmptyState


def scale(step_size: jax.typing.ArrayLike) -> GradientTransformationExtraArgs:
    """Multiplies every update by a constant.

    .. math::

        u = \\alpha\\, g

    Args:
      step_size: the factor :math:`\\alpha`.

    Returns:
      A stateless gradient transformation.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale(-0.5)
      >>> tx.update({"w": jnp.array([2.0])}, tx.init(None))[0]
      {'w': Array([-1.], dtype=float32)}
    """

    def update_fn(updates, state, params=None, **extra_args):
        return jax.tree.map(lambda g: step_size * g, updates), state

    return transformation(_empty_init, update_fn, name="scale")


class ScaleByScheduleState(NamedTuple):
    """State of :func:`scale_by_schedule`: the step count."""

    count: jax.Array


def scale_by_schedule(step_size_fn: Schedule) -> GradientTransformationExtraArgs:
    """Multiplies the updates by a schedule evaluated at the step count.

    .. math::

        u_t = \\alpha(t)\\, g_t, \\qquad t = 0, 1, \\dots

    Args:
      step_size_fn: a function from the step count to the factor
        :math:`\\alpha(t)`.

    Returns:
      A gradient transformation with a :class:`ScaleByScheduleState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_schedule(lambda t: 1.0 / (t + 1))
      >>> state = tx.init({"w": jnp.array([0.0])})
      >>> u, state = tx.update({"w": jnp.array([1.0])}, state)
      >>> u, state = tx.update({"w": jnp.array([1.0])}, state)
      >>> u["w"]
      Array([0.5], dtype=float32)
    """
    if not callable(step_size_fn):
        raise TypeError(
            f"scale_by_schedule: step_size_fn must be callable, got "
            f"{type(step_size_fn).__name__}; use optjax.scale for a constant."
        )

    def init_fn(params):
        del params
        return ScaleByScheduleState(count=jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None, **extra_args):
        step_size = step_size_fn(state.count)
        updates = jax.tree.map(lambda g: jnp.array(step_size, dtype=g.dtype) * g, updates)
        return updates, ScaleByScheduleState(count=_tree.safe_increment(state.count))

    return transformation(init_fn, update_fn, name="scale_by_schedule")


def scale_by_learning_rate(
    learning_rate: ScalarOrSchedule | None = None,
    *,
    flip_sign: bool = True,
) -> GradientTransformationExtraArgs:
    """Scales by the (negated) learning rate, constant or scheduled.

    .. math::

        u_t = -\\eta_t\\, g_t \\quad (\\texttt{flip\\_sign=True})

    Args:
      learning_rate: a number, an array or a schedule ``t -> eta_t``. ``None``
        returns :func:`identity` (for aliases whose learning rate is optional).
      flip_sign: negate, so that adding the updates descends the loss.

    Returns:
      A gradient transformation.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_learning_rate(0.1)
      >>> tx.update({"w": jnp.array([2.0])}, tx.init(None))[0]
      {'w': Array([-0.2], dtype=float32)}
    """
    if learning_rate is None:
        return identity()
    sign = -1 if flip_sign else 1
    if callable(learning_rate):
        return scale_by_schedule(lambda count: sign * learning_rate(count))
    return scale(sign * learning_rate)


class TraceState(NamedTuple):
    """State of :func:`trace`: the momentum buffer."""

    trace: Any


def trace(
    decay: jax.typing.ArrayLike,
    nesterov: bool = False,
    accumulator_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """Heavy-ball (or Nesterov) momentum, as in ``torch.optim.SGD``.

    .. math::

        m_t = g_t + \\beta\\, m_{t-1}, \\qquad
        u_t = \\begin{cases} g_t + \\beta\\, m_t & \\text{Nesterov} \\\\
        m_t & \\text{otherwise} \\end{cases}

    Args:
      decay: the momentum :math:`\\beta`, in [0, 1]; ``decay=1`` makes
        :math:`m_t` the plain running sum of the updates, as in Optax.
      nesterov: use Nesterov's look-ahead form.
      accumulator_dtype: dtype of the momentum buffer; ``None`` uses the
        parameters' dtype.

    Returns:
      A gradient transformation with a :class:`TraceState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.trace(decay=0.5)
      >>> state = tx.init({"w": jnp.array([0.0])})
      >>> u, state = tx.update({"w": jnp.array([1.0])}, state)
      >>> u, state = tx.update({"w": jnp.array([1.0])}, state)
      >>> u["w"]
      Array([1.5], dtype=float32)

    References:
      Polyak, *Some methods of speeding up the convergence of iteration
      methods*, 1964. Sutskever et al., *On the importance of initialization
      and momentum in deep learning*, ICML 2013.
    """
    _checks.check_in_interval("decay", decay, 0.0, 1.0, closed_high=True, where="trace")

    def init_fn(params):
        return TraceState(trace=_tree.zeros_like(params, dtype=accumulator_dtype))

    def update_fn(updates, state, params=None, **extra_args):
        new_trace = _tree.map(lambda g, t: g + decay * t, updates, state.trace, where="trace")
        if nesterov:
            updates = jax.tree.map(lambda g, t: g + decay * t, updates, new_trace)
        else:
            updates = new_trace
        return updates, TraceState(trace=_tree.cast(new_trace, accumulator_dtype))

    return transformation(init_fn, update_fn, name="trace")


class EmaState(NamedTuple):
    """State of :func:`ema`: the step count and the moving average."""

    count: jax.Array
    ema: Any


def ema(
    decay: jax.typing.ArrayLike,
    debias: bool = True,
    accumulator_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """Exponential moving average of the updates, optionally bias-corrected.

    .. math::

        m_t = (1-\\beta)\\, g_t + \\beta\\, m_{t-1}, \\qquad
        u_t = \\frac{m_t}{1 - \\beta^t} \\ (\\texttt{debias}) \\text{ or } m_t

    Args:
      decay: :math:`\\beta`, in [0, 1), or exactly 1 when ``debias=False``
        (the average then stays at zero; with ``debias=True`` it would
        divide zero by zero).
      debias: divide by :math:`1-\\beta^t` to remove the zero-initialization
        bias.
      accumulator_dtype: dtype of the average; ``None`` uses the parameters'.

    Returns:
      A gradient transformation with an :class:`EmaState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.ema(decay=0.9)
      >>> u, _ = tx.update({"w": jnp.array([2.0])}, tx.init({"w": jnp.array([0.0])}))
      >>> print(u["w"].round(4))  # the debiased average of one gradient is that gradient
      [2.]
    """
    _checks.check_in_interval("decay", decay, 0.0, 1.0, closed_high=not debias, where="ema")

    def init_fn(params):
        return EmaState(
            count=jnp.zeros([], jnp.int32),
            ema=_tree.zeros_like(params, dtype=accumulator_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        new_ema = _tree.update_moment(updates, state.ema, decay, order=1)
        count = _tree.safe_increment(state.count)
        updates = _tree.bias_correction(new_ema, decay, count) if debias else new_ema
        return updates, EmaState(count=count, ema=_tree.cast(new_ema, accumulator_dtype))

    return transformation(init_fn, update_fn, name="ema")
