"""Decay schedules: constant, polynomial (and linear), exponential and cosine.

A schedule is a function from the step count (a Python or NumPy integer, an
integer array or a tracer) to a floating scalar. Every schedule in optjax
returns a floating array: float32 by default, float64 under ``jax_enable_x64``,
or the dtype of a floating hyperparameter array. Values are computed with the
same arithmetic as Optax, so the numbers agree to the last bit.
"""

from __future__ import annotations

import logging
import numbers
from typing import Any

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import Schedule

_logger = logging.getLogger(__name__)


def _is_number(value: Any) -> bool:
    """Whether ``value`` is a concrete real number (not a bool, array or tracer)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _as_float(value: Any) -> jax.Array:
    """Returns ``value`` as a floating array without changing its number.

    Plain Python scalars become weakly typed arrays, so that they combine with
    updates of any float dtype exactly as the Python scalar would; integer
    arrays are cast to the default float dtype; floating arrays are returned
    unchanged.
    """
    if type(value) in (int, float):
        return jnp.asarray(float(value))
    value = jnp.asarray(value)
    if not jnp.issubdtype(value.dtype, jnp.inexact):
        value = value.astype(jnp.result_type(float))
    return value


def _check_begin(value: Any, *, where: str) -> None:
    _checks.check_non_negative("transition_begin", value, where=where)


def _held_constant(value: Any, reason: str, *, where: str) -> Schedule:
    """The constant schedule Optax returns for a disabled transition, logged as Optax does."""
    _logger.info("%s: %s; the schedule holds init_value=%r.", where, reason, value)
    return constant_schedule(value)


def constant_schedule(value: jax.typing.ArrayLike) -> Schedule:
    """Returns a schedule that holds one value forever.

    .. math::

        \\eta(t) = v

    Args:
      value: the value :math:`v` returned at every step.

    Returns:
      A function from the step count to ``value`` as a floating array.

    Examples:
      >>> import optjax
      >>> sched = optjax.constant_schedule(5)
      >>> sched(0)
      Array(5., dtype=float32, weak_type=True)
      >>> print(f"{sched(1000):.1f}")
      5.0
    """

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        del count
        return _as_float(value)

    return schedule


def polynomial_schedule(
    init_value: jax.typing.ArrayLike,
    end_value: jax.typing.ArrayLike,
    power: jax.typing.ArrayLike,
    transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    """Moves from ``init_value`` to ``end_value`` along a polynomial of ``power``.

    With :math:`I` = ``init_value``, :math:`E` = ``end_value``, :math:`p` =
    ``power``, :math:`B` = ``transition_begin`` and :math:`T` =
    ``transition_steps``:

    .. math::

        \\eta(t) = (I - E) \\left(1 - \\frac{\\min(\\max(t - B, 0), T)}{T}\\right)^p + E

    so :math:`\\eta(t) = I` for :math:`t \\le B` and :math:`\\eta(t) = E` for
    :math:`t \\ge B + T`.

    .. warning::
      Intentional difference from Optax: the fraction
      :math:`1 - \\min(\\max(t - B, 0), T)/T` is clamped at 0. Under ``jit``, XLA
      may evaluate :math:`1 - T/T` as a tiny negative number, so from step
      :math:`B + T` on Optax returns ``NaN`` for a fractional ``power`` and a
      value slightly past ``end_value`` otherwise (e.g. ``-1.5e-8`` for
      ``linear_schedule(1.0, 0.0, 20)``); optjax returns ``end_value`` exactly.
      All other values are Optax's, bit for bit.

    Args:
      init_value: the value :math:`I` before and at the start of the transition.
      end_value: the value :math:`E` reached after the transition.
      power: the exponent :math:`p` of the polynomial.
      transition_steps: the length :math:`T` of the transition. A value
        :math:`\\le 0` disables the transition: the schedule then holds
        ``init_value`` forever (as documented in Optax, which logs it).
      transition_begin: the number of steps :math:`B \\ge 0` during which
        ``init_value`` is held before the transition starts.

    Returns:
      A function from the step count to the value.

    Raises:
      ValueError: if ``transition_begin`` is negative.

    Examples:
      >>> import optjax
      >>> sched = optjax.polynomial_schedule(1.0, 0.0, power=2, transition_steps=10)
      >>> print(f"{sched(0):.2f} {sched(5):.2f} {sched(10):.2f} {sched(20):.2f}")
      1.00 0.25 0.00 0.00
    """
    where = "polynomial_schedule"
    _check_begin(transition_begin, where=where)
    if _is_number(transition_steps) and transition_steps <= 0:
        reason = f"transition_steps={transition_steps!r} is not positive"
        return _held_constant(init_value, reason, where=where)

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        elapsed = jnp.clip(count - transition_begin, 0, transition_steps)
        # Clamped at 0: XLA may evaluate 1 - T/T as a tiny negative number, and a
        # fractional power of a negative number is NaN (see the warning above).
        remaining = jnp.maximum(1 - elapsed / transition_steps, 0)
        return _as_float((init_value - end_value) * (remaining**power) + end_value)

    return schedule


def linear_schedule(
    init_value: jax.typing.ArrayLike,
    end_value: jax.typing.ArrayLike,
    transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    """Moves linearly from ``init_value`` to ``end_value``.

    This is :func:`polynomial_schedule` with ``power=1``:

    .. math::

        \\eta(t) = (I - E) \\left(1 - \\frac{\\min(\\max(t - B, 0), T)}{T}\\right) + E

    .. warning::
      Intentional difference from Optax: from step :math:`B + T` on the value is
      ``end_value`` exactly, also under ``jit`` (see :func:`polynomial_schedule`).

    Args:
      init_value: the value :math:`I` before and at the start of the transition.
      end_value: the value :math:`E` reached after the transition.
      transition_steps: the length :math:`T` of the transition; a value
        :math:`\\le 0` holds ``init_value`` forever (as in Optax).
      transition_begin: the number of steps :math:`B \\ge 0` during which
        ``init_value`` is held before the transition starts.

    Returns:
      A function from the step count to the value.

    Raises:
      ValueError: if ``transition_begin`` is negative.

    Examples:
      >>> import optjax
      >>> sched = optjax.linear_schedule(1.0, 0.0, 10)
      >>> print(f"{sched(5):.2f}")
      0.50
      >>> sched = optjax.linear_schedule(1.0, 0.0, 10, transition_begin=5)
      >>> print(f"{sched(5):.2f} {sched(10):.2f} {sched(15):.2f}")
      1.00 0.50 0.00
    """
    return polynomial_schedule(
        init_value=init_value,
        end_value=end_value,
        power=1,
        transition_steps=transition_steps,
        transition_begin=transition_begin,
    )


def exponential_decay(
    init_value: jax.typing.ArrayLike,
    transition_steps: int,
    decay_rate: float,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: jax.typing.ArrayLike | None = None,
) -> Schedule:
    """Multiplies ``init_value`` by ``decay_rate`` every ``transition_steps`` steps.

    With :math:`I` = ``init_value``, :math:`r` = ``decay_rate``, :math:`B` =
    ``transition_begin`` and :math:`T` = ``transition_steps``:

    .. math::

        \\eta(t) = \\begin{cases} I & t \\le B \\\\
        I\\, r^{(t - B)/T} & t > B \\end{cases}

    With ``staircase=True`` the exponent is rounded down,
    :math:`\\lfloor (t - B)/T \\rfloor`, so the value drops in discrete steps.
    With an ``end_value`` :math:`E` the result is clipped:
    :math:`\\max(\\eta(t), E)` when :math:`r < 1` (decay stops at :math:`E`) and
    :math:`\\min(\\eta(t), E)` when :math:`r \\ge 1` (growth stops at :math:`E`).

    Args:
      init_value: the initial value :math:`I`.
      transition_steps: the number of steps :math:`T` over which the value
        is multiplied by ``decay_rate`` once. A value :math:`\\le 0` disables
        the decay: the schedule holds ``init_value`` forever (as in Optax,
        which logs it).
      decay_rate: the factor :math:`r \\ge 0`; ``0`` also holds
        ``init_value`` forever (as in Optax).
      transition_begin: the number of steps :math:`B \\ge 0` during which
        ``init_value`` is held.
      staircase: decay at integer multiples of ``transition_steps`` only.
      end_value: an optional bound :math:`E` (lower bound when decaying, upper
        bound when growing).

    Returns:
      A function from the step count to the value.

    Raises:
      ValueError: if ``decay_rate < 0`` or ``transition_begin < 0``.

    Examples:
      >>> import optjax
      >>> sched = optjax.exponential_decay(1.0, transition_steps=10, decay_rate=0.5)
      >>> print(f"{sched(10):.3f} {sched(15):.3f}")
      0.500 0.354
      >>> sched = optjax.exponential_decay(
      ...     1.0, 10, 0.5, staircase=True, end_value=0.2)
      >>> print(f"{sched(15):.3f} {sched(100):.3f}")
      0.500 0.200
    """
    where = "exponential_decay"
    _checks.check_non_negative("decay_rate", decay_rate, where=where)
    _check_begin(transition_begin, where=where)
    if _is_number(transition_steps) and transition_steps <= 0:
        reason = f"transition_steps={transition_steps!r} is not positive"
        return _held_constant(init_value, reason, where=where)
    if _is_number(decay_rate) and decay_rate == 0:
        return _held_constant(init_value, "decay_rate=0", where=where)

    def clip(value):
        if _is_number(decay_rate):
            return (
                jnp.maximum(value, end_value) if decay_rate < 1.0 else jnp.minimum(value, end_value)
            )
        return jnp.where(
            decay_rate < 1.0, jnp.maximum(value, end_value), jnp.minimum(value, end_value)
        )

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        elapsed = count - transition_begin
        exponent = elapsed / transition_steps
        if staircase:
            exponent = jnp.floor(exponent)
        value = jnp.where(elapsed <= 0, init_value, init_value * jnp.power(decay_rate, exponent))
        if end_value is not None:
            value = clip(value)
        return _as_float(value)

    return schedule


def cosine_decay_schedule(
    init_value: jax.typing.ArrayLike,
    decay_steps: int,
    alpha: jax.typing.ArrayLike = 0.0,
    exponent: jax.typing.ArrayLike = 1.0,
) -> Schedule:
    """Half a cosine from ``init_value`` down to ``alpha * init_value``.

    With :math:`I` = ``init_value``, :math:`T` = ``decay_steps``,
    :math:`\\alpha` = ``alpha`` and :math:`p` = ``exponent``:

    .. math::

        c(t) = \\tfrac12 \\left(1 + \\cos\\frac{\\pi \\min(t, T)}{T}\\right), \\qquad
        \\eta(t) = I \\left((1 - \\alpha)\\, c(t)^p + \\alpha\\right)

    so :math:`\\eta(0) = I` and :math:`\\eta(t) = \\alpha I` for
    :math:`t \\ge T`.

    Args:
      init_value: the initial value :math:`I`.
      decay_steps: the length :math:`T > 0` of the decay.
      alpha: the final value as a fraction of ``init_value``.
      exponent: the power :math:`p` applied to the cosine factor.

    Returns:
      A function from the step count to the value.

    Raises:
      ValueError: if ``decay_steps <= 0`` (as in Optax).

    Examples:
      >>> import optjax
      >>> sched = optjax.cosine_decay_schedule(1.0, decay_steps=10, alpha=0.1)
      >>> print(f"{sched(0):.3f} {sched(5):.3f} {sched(10):.3f} {sched(50):.3f}")
      1.000 0.550 0.100 0.100

    References:
      Loshchilov and Hutter, *SGDR: Stochastic Gradient Descent with Warm
      Restarts*, ICLR 2017. https://arxiv.org/abs/1608.03983
    """
    _checks.check_positive("decay_steps", decay_steps, where="cosine_decay_schedule")
    # Python ints become Python floats before meeting a (possibly int32) count,
    # so that a large decay_steps cannot overflow int32 under jit.
    horizon = float(decay_steps) if isinstance(decay_steps, int) else decay_steps

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        if isinstance(count, int):
            count = float(count)
        progress = jnp.minimum(count, horizon)
        cosine = 0.5 * (1 + jnp.cos(jnp.pi * progress / horizon))
        return _as_float(init_value * ((1 - alpha) * cosine**exponent + alpha))

    return schedule
