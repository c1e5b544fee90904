"""Linear warmup followed by a constant, a cosine decay or an exponential decay."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import Schedule
from optjax.schedules._decay import (
    _is_number,
    cosine_decay_schedule,
    exponential_decay,
    linear_schedule,
)
from optjax.schedules._piecewise import join_schedules


def warmup_constant_schedule(
    init_value: jax.typing.ArrayLike,
    peak_value: jax.typing.ArrayLike,
    warmup_steps: int,
) -> Schedule:
    """Warms up linearly from ``init_value`` to ``peak_value``, then holds it.

    With :math:`I` = ``init_value``, :math:`P` = ``peak_value`` and :math:`W`
    = ``warmup_steps``:

    .. math::

        \\eta(t) = I + (P - I) \\frac{\\min(t, W)}{W}

    Args:
      init_value: the value :math:`I` at step 0.
      peak_value: the value :math:`P` reached at step :math:`W` and held after.
      warmup_steps: the length :math:`W \\ge 1` of the warmup.

    Returns:
      A function from the step count to the value.

    Raises:
      ValueError: if ``warmup_steps < 1``. (Optax then returns ``init_value``
        forever, never reaching ``peak_value``; use
        :func:`constant_schedule` for no warmup.)

    Examples:
      >>> import optjax
      >>> sched = optjax.warmup_constant_schedule(0.0, 1.0, warmup_steps=4)
      >>> print(f"{sched(0):.2f} {sched(1):.2f} {sched(4):.2f} {sched(100):.2f}")
      0.00 0.25 1.00 1.00
    """
    where = "warmup_constant_schedule"
    _checks.check_positive("warmup_steps", warmup_steps, where=where)
    return linear_schedule(
        init_value=init_value, end_value=peak_value, transition_steps=warmup_steps
    )


def _check_warmup(warmup_steps, *, where: str) -> None:
    _checks.check_non_negative("warmup_steps", warmup_steps, where=where)


def warmup_cosine_decay_schedule(
    init_value: jax.typing.ArrayLike,
    peak_value: jax.typing.ArrayLike,
    warmup_steps: int,
    decay_steps: int,
    end_value: jax.typing.ArrayLike = 0.0,
    exponent: jax.typing.ArrayLike = 1.0,
) -> Schedule:
    """Warms up linearly to ``peak_value``, then decays along a cosine to ``end_value``.

    With :math:`I` = ``init_value``, :math:`P` = ``peak_value``, :math:`E` =
    ``end_value``, :math:`W` = ``warmup_steps``, :math:`T` = ``decay_steps``
    (the total length, warmup included) and :math:`p` = ``exponent``:

    .. math::

        \\eta(t) = \\begin{cases}
        I + (P - I)\\, t / W & t < W \\\\
        P \\left((1 - \\alpha)\\, c^p + \\alpha\\right),\\
        c = \\tfrac12 \\left(1 + \\cos \\frac{\\pi \\min(t - W,\\, T - W)}{T - W}\\right)
        & t \\ge W \\end{cases}

    where :math:`\\alpha = E / P` (and :math:`\\alpha = 0` when :math:`P = 0`),
    so the value ends at :math:`E` from step :math:`T` on.

    Args:
      init_value: the value :math:`I` at step 0.
      peak_value: the value :math:`P` at the end of the warmup.
      warmup_steps: the length :math:`W \\ge 0` of the linear warmup; ``0``
        starts the cosine at step 0.
      decay_steps: the total length :math:`T > W` of the schedule, warmup
        included: the cosine lasts :math:`T - W` steps.
      end_value: the final value :math:`E`.
      exponent: the power :math:`p` applied to the cosine factor.

    Returns:
      A function from the step count to the value.

    Raises:
      ValueError: if ``warmup_steps < 0`` or ``decay_steps <= warmup_steps``.

    Examples:
      >>> import optjax
      >>> sched = optjax.warmup_cosine_decay_schedule(
      ...     0.0, 1.0, warmup_steps=2, decay_steps=12, end_value=0.1)
      >>> print(" ".join(f"{sched(t):.3f}" for t in (0, 1, 2, 7, 12, 20)))
      0.000 0.500 1.000 0.550 0.100 0.100

    References:
      Loshchilov and Hutter, *SGDR: Stochastic Gradient Descent with Warm
      Restarts*, ICLR 2017. https://arxiv.org/abs/1608.03983
    """
    where = "warmup_cosine_decay_schedule"
    _check_warmup(warmup_steps, where=where)
    if _is_number(warmup_steps) and _is_number(decay_steps) and decay_steps <= warmup_steps:
        raise ValueError(
            f"{where}: decay_steps is the total length including the warmup and must "
            f"exceed warmup_steps; got decay_steps={decay_steps!r}, "
            f"warmup_steps={warmup_steps!r}."
        )
    if _is_number(peak_value):
        alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    else:
        is_zero = jnp.asarray(peak_value) == 0.0
        alpha = jnp.where(is_zero, 0.0, end_value / jnp.where(is_zero, 1.0, peak_value))
    warmup = linear_schedule(
        init_value=init_value, end_value=peak_value, transition_steps=warmup_steps
    )
    decay = cosine_decay_schedule(
        init_value=peak_value,
        decay_steps=decay_steps - warmup_steps,
        alpha=alpha,
        exponent=exponent,
    )
    return join_schedules([warmup, decay], [warmup_steps])


def warmup_exponential_decay_schedule(
    init_value: jax.typing.ArrayLike,
    peak_value: jax.typing.ArrayLike,
    warmup_steps: int,
    transition_steps: int,
    decay_rate: jax.typing.ArrayLike,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: jax.typing.ArrayLike | None = None,
) -> Schedule:
    """Warms up linearly to ``peak_value``, then decays exponentially.

    With :math:`I` = ``init_value``, :math:`P` = ``peak_value``, :math:`W` =
    ``warmup_steps``, :math:`r` = ``decay_rate``, :math:`B` =
    ``transition_begin`` and :math:`T` = ``transition_steps``:

    .. math::

        \\eta(t) = \\begin{cases}
        I + (P - I)\\, t / W & t < W \\\\
        P & W \\le t \\le W + B \\\\
        P\\, r^{(t - W - B)/T} & t > W + B \\end{cases}

    with the exponent rounded down when ``staircase=True`` and the result
    clipped at ``end_value`` as in :func:`exponential_decay`.

    Args:
      init_value: the value :math:`I` at step 0.
      peak_value: the value :math:`P` at the end of the warmup.
      warmup_steps: the length :math:`W \\ge 0` of the linear warmup.
      transition_steps: the number of steps :math:`T` per factor of
        ``decay_rate``; a value :math:`\\le 0` holds ``peak_value`` after the
        warmup (as in Optax, see :func:`exponential_decay`).
      decay_rate: the factor :math:`r \\ge 0`; ``0`` also holds ``peak_value``.
      transition_begin: the number of steps :math:`B \\ge 0` after the warmup
        during which ``peak_value`` is held.
      staircase: decay at integer multiples of ``transition_steps`` only.
      end_value: an optional bound (lower when decaying, upper when growing).

    Returns:
      A function from the step count to the value.

    Raises:
      ValueError: if ``warmup_steps < 0``, ``decay_rate < 0`` or
        ``transition_begin < 0``.

    Examples:
      >>> import optjax
      >>> sched = optjax.warmup_exponential_decay_schedule(
      ...     0.0, 1.0, warmup_steps=2, transition_steps=10, decay_rate=0.5)
      >>> print(" ".join(f"{sched(t):.3f}" for t in (0, 1, 2, 12, 22)))
      0.000 0.500 1.000 0.500 0.250
    """
    _check_warmup(warmup_steps, where="warmup_exponential_decay_schedule")
    warmup = linear_schedule(
        init_value=init_value, end_value=peak_value, transition_steps=warmup_steps
    )
    decay = exponential_decay(
        init_value=peak_value,
        transition_steps=transition_steps,
        decay_rate=decay_rate,
        transition_begin=transition_begin,
        staircase=staircase,
        end_value=end_value,
    )
    return join_schedules([warmup, decay], [warmup_steps])
