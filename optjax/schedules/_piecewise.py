"""Piecewise schedules: constant jumps, interpolated segments, and joins."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import Schedule
from optjax.schedules._decay import _as_float, _is_number

_INTERPOLATE_TYPES = ("linear", "cosine")


def _sorted_boundaries(
    boundaries_and_scales: dict[int, float] | None, *, where: str
) -> tuple[tuple, tuple]:
    """Returns ``(boundaries, scales)`` sorted by boundary; scales must be >= 0."""
    if not boundaries_and_scales:
        return (), ()
    boundaries, scales = zip(*sorted(boundaries_and_scales.items()), strict=True)
    for boundary, scale in zip(boundaries, scales, strict=True):
        if _is_number(scale) and scale < 0:
            raise ValueError(
                f"{where}: every scale in boundaries_and_scales must be >= 0, got "
                f"{scale!r} at step {boundary!r}."
            )
    return boundaries, scales


def piecewise_constant_schedule(
    init_value: jax.typing.ArrayLike,
    boundaries_and_scales: dict[int, float] | None = None,
) -> Schedule:
    """Multiplies the value by a factor at each boundary step.

    With boundaries :math:`b_i` and scales :math:`s_i` from
    ``boundaries_and_scales``:

    .. math::

        \\eta(t) = I \\prod_{i:\\ t \\ge b_i} s_i

    Args:
      init_value: the value :math:`I` before the first boundary.
      boundaries_and_scales: a dict ``{step: scale}``; from ``step`` on, the
        value is multiplied by ``scale`` (in addition to the earlier scales).
        Scales must be non-negative. ``None`` or ``{}`` gives a constant.

    Returns:
      A function from the step count to the value.

    Raises:
      ValueError: if a scale is negative (as in Optax).

    Examples:
      >>> import optjax
      >>> sched = optjax.piecewise_constant_schedule(1.0, {10: 0.1, 20: 0.5})
      >>> print(f"{sched(9):.2f} {sched(10):.2f} {sched(25):.2f}")
      1.00 0.10 0.05
    """
    boundaries, scales = _sorted_boundaries(
        boundaries_and_scales, where="piecewise_constant_schedule"
    )

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        value = init_value
        for boundary, scale in zip(boundaries, scales, strict=True):
            # 1 before the boundary, 0 from the boundary on.
            before = jnp.maximum(0.0, jnp.sign(boundary - count))
            value = value * before + (1 - before) * scale * value
        return _as_float(value)

    return schedule


def _linear_interpolate(start, end, fraction):
    return (end - start) * fraction + start


def _cosine_interpolate(start, end, fraction):
    return end + (start - end) / 2.0 * (jnp.cos(jnp.pi * fraction) + 1)


def piecewise_interpolate_schedule(
    interpolate_type: str,
    init_value: jax.typing.ArrayLike,
    boundaries_and_scales: dict[int, float] | None = None,
) -> Schedule:
    """Interpolates (linearly or along a cosine) between scaled values.

    The boundaries :math:`0 = b_0 < b_1 < \\dots < b_n` carry the values
    :math:`v_0 = I` and :math:`v_k = v_{k-1} s_k` (the scales accumulate).
    Between two boundaries the value moves from :math:`v_{k-1}` to :math:`v_k`:

    .. math::

        \\eta(t) = f\\!\\left(v_{k-1}, v_k, \\frac{t - b_{k-1}}{b_k - b_{k-1}}\\right)
        \\quad (b_{k-1} \\le t < b_k), \\qquad \\eta(t) = v_n \\quad (t \\ge b_n)

    with :math:`f(a, b, x) = a + (b - a)\\,x` for ``'linear'`` and
    :math:`f(a, b, x) = b + \\tfrac12 (a - b)(1 + \\cos \\pi x)` for
    ``'cosine'``.

    Args:
      interpolate_type: ``'linear'`` or ``'cosine'``.
      init_value: the value :math:`I` at step 0.
      boundaries_and_scales: a dict ``{step: scale}``; the value reached at
        ``step`` is the previous boundary's value times ``scale``. Scales must
        be non-negative.

    Returns:
      A function from the step count to the value.

    Raises:
      ValueError: for an unknown ``interpolate_type`` or a negative scale (as
        in Optax).

    Examples:
      >>> import optjax
      >>> sched = optjax.piecewise_interpolate_schedule(
      ...     "linear", 1.0, {4: 0.5, 8: 0.5})
      >>> print(" ".join(f"{sched(t):.3f}" for t in range(0, 11, 2)))
      1.000 0.750 0.500 0.375 0.250 0.250
    """
    where = "piecewise_interpolate_schedule"
    _checks.check_choice("interpolate_type", interpolate_type, _INTERPOLATE_TYPES, where=where)
    interpolate = _linear_interpolate if interpolate_type == "linear" else _cosine_interpolate
    boundaries, scales = _sorted_boundaries(boundaries_and_scales, where=where)

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        steps = jnp.stack((0,) + boundaries)
        values = jnp.cumprod(jnp.stack((init_value,) + scales))
        starts, ends = steps[:-1], steps[1:]
        lengths = jnp.maximum(ends - starts, 1)
        inside = jnp.logical_and(starts <= count, count < ends)
        segment = interpolate(values[:-1], values[1:], (count - starts) / lengths)
        # At most one segment is active, so the sum selects it exactly.
        active = jnp.sum(jnp.where(inside, segment, 0.0))
        return _as_float(active + (steps[-1] <= count) * values[-1])

    return schedule


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """Runs several schedules one after the other.

    With schedules :math:`f_0, \\dots, f_n` and boundaries
    :math:`b_1 \\le \\dots \\le b_n`, each schedule counts steps from its own
    start:

    .. math::

        \\eta(t) = \\begin{cases} f_0(t) & t < b_1 \\\\
        f_k(t - b_k) & b_k \\le t < b_{k+1} \\\\
        f_n(t - b_n) & t \\ge b_n \\end{cases}

    Args:
      schedules: the schedules :math:`f_0, \\dots, f_n` (at least one).
      boundaries: the :math:`n` steps at which to switch to the next schedule,
        in non-decreasing order.

    Returns:
      A function from the step count to the value.

    Raises:
      ValueError: if ``schedules`` is empty, if ``len(boundaries)`` is not
        ``len(schedules) - 1`` or if the boundaries decrease. (Optax silently
        ignores the extra schedules or boundaries.)

    Examples:
      >>> import optjax
      >>> sched = optjax.join_schedules(
      ...     [optjax.constant_schedule(1.0), optjax.linear_schedule(1.0, 0.0, 10)],
      ...     boundaries=[5])
      >>> print(f"{sched(4):.2f} {sched(5):.2f} {sched(10):.2f}")
      1.00 1.00 0.50
    """
    schedules = list(schedules)
    boundaries = list(boundaries)
    where = "join_schedules"
    if not schedules:
        raise ValueError(f"{where}: needs at least one schedule.")
    for i, sched in enumerate(schedules):
        if not callable(sched):
            raise TypeError(
                f"{where}: schedules[{i}] must be callable, got {type(sched).__name__}; "
                f"wrap numbers with optjax.constant_schedule."
            )
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(
            f"{where}: needs len(schedules) - 1 = {len(schedules) - 1} boundaries, "
            f"got {len(boundaries)}."
        )
    for previous, boundary in pairwise(boundaries):
        if _is_number(previous) and _is_number(boundary) and boundary < previous:
            raise ValueError(f"{where}: boundaries must be non-decreasing, got {boundaries!r}.")

    def schedule(step: jax.typing.ArrayLike) -> jax.Array:
        value = schedules[0](step)
        for boundary, later in zip(boundaries, schedules[1:], strict=True):
            value = jnp.where(step < boundary, value, later(step - boundary))
        return _as_float(value)

    return schedule
