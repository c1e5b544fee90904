"""Cyclical schedules: one-cycle (linear and cosine) and SGDR warm restarts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import Any

import jax

from optjax import _checks
from optjax._base import Schedule
from optjax.schedules._decay import _is_number
from optjax.schedules._piecewise import join_schedules, piecewise_interpolate_schedule
from optjax.schedules._warmup import warmup_cosine_decay_schedule


def _check_phases(transition_steps: Any, pcts: dict[str, Any], *, where: str) -> None:
    """Checks that the phase ends ``int(pct * transition_steps)``, followed by
    ``transition_steps``, are strictly increasing steps (Optax keys a dict by them,
    so coinciding steps would silently drop a phase)."""
    _checks.check_positive("transition_steps", transition_steps, where=where)
    for name, pct in pcts.items():
        _checks.check_in_interval(name, pct, 0.0, 1.0, closed_high=True, where=where)
    if not _is_number(transition_steps) or not all(_is_number(p) for p in pcts.values()):
        return
    steps = [int(pct * transition_steps) for pct in pcts.values()] + [transition_steps]
    if any(later <= earlier for earlier, later in pairwise(steps)):
        described = ", ".join(
            f"{name}={pct!r} -> step {step}"
            for (name, pct), step in zip(pcts.items(), steps[:-1], strict=True)
        )
        raise ValueError(
            f"{where}: the phases must end at strictly increasing steps before "
            f"transition_steps={transition_steps!r}, got {described}; increase "
            f"transition_steps or spread the percentages apart."
        )


def linear_onecycle_schedule(
    transition_steps: int,
    peak_value: jax.typing.ArrayLike,
    pct_start: float = 0.3,
    pct_final: float = 0.85,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """The one-cycle policy with three linear phases.

    With :math:`T` = ``transition_steps``, :math:`P` = ``peak_value``,
    :math:`d` = ``div_factor``, :math:`d_f` = ``final_div_factor``,
    :math:`b_1 = \\lfloor` ``pct_start`` :math:`\\cdot T\\rfloor` and
    :math:`b_2 = \\lfloor` ``pct_final`` :math:`\\cdot T\\rfloor`, the value
    is piecewise linear through the points

    .. math::

        (0, P/d) \\to (b_1, P) \\to (b_2, P/d) \\to (T, P/(d\\, d_f))

    and stays at :math:`P/(d\\, d_f)` after step :math:`T` (this is
    :func:`piecewise_interpolate_schedule` with ``'linear'``).

    Args:
      transition_steps: the length :math:`T > 0` of the cycle.
      peak_value: the largest value :math:`P`, reached at step :math:`b_1`.
      pct_start: the fraction of the cycle spent increasing.
      pct_final: the fraction of the cycle at which the value is back at
        :math:`P/d`.
      div_factor: the initial value is ``peak_value / div_factor``.
      final_div_factor: the final value is ``peak_value / (div_factor *
        final_div_factor)``.

    Returns:
      A function from the step count to the value.

    Raises:
      ValueError: if ``transition_steps <= 0`` (as in Optax), if a percentage
        is outside [0, 1], if the factors are not positive, or if the steps
        :math:`b_1 < b_2 < T` are not strictly increasing (Optax silently
        merges coinciding phases).

    Examples:
      >>> import optjax
      >>> sched = optjax.linear_onecycle_schedule(100, peak_value=1.0)
      >>> print(" ".join(f"{sched(t):.4f}" for t in (0, 30, 85, 100)))
      0.0400 1.0000 0.0400 0.0000

    References:
      Smith and Topin, *Super-Convergence: Very Fast Training of Neural
      Networks Using Large Learning Rates*, 2017.
      https://arxiv.org/abs/1708.07120
    """
    where = "linear_onecycle_schedule"
    _check_phases(transition_steps, {"pct_start": pct_start, "pct_final": pct_final}, where=where)
    _checks.check_positive("div_factor", div_factor, where=where)
    _checks.check_positive("final_div_factor", final_div_factor, where=where)
    return piecewise_interpolate_schedule(
        "linear",
        peak_value / div_factor,
        {
            int(pct_start * transition_steps): div_factor,
            int(pct_final * transition_steps): 1.0 / div_factor,
            transition_steps: 1.0 / final_div_factor,
        },
    )


def cosine_onecycle_schedule(
    transition_steps: int,
    peak_value: jax.typing.ArrayLike,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """The one-cycle policy with two cosine phases.

    With :math:`T` = ``transition_steps``, :math:`P` = ``peak_value``,
    :math:`d` = ``div_factor``, :math:`d_f` = ``final_div_factor`` and
    :math:`b_1 = \\lfloor` ``pct_start`` :math:`\\cdot T\\rfloor`, the value
    follows half cosines through the points

    .. math::

        (0, P/d) \\to (b_1, P) \\to (T, P/(d\\, d_f)),

    each segment being :math:`\\eta = v_1 + \\tfrac12 (v_0 - v_1)(1 + \\cos \\pi x)`
    for the fraction :math:`x` of the segment done; the value stays at
    :math:`P/(d\\, d_f)` after step :math:`T`.

    Args:
      transition_steps: the length :math:`T > 0` of the cycle.
      peak_value: the largest value :math:`P`, reached at step :math:`b_1`.
      pct_start: the fraction of the cycle spent increasing.
      div_factor: the initial value is ``peak_value / div_factor``.
      final_div_factor: the final value is ``peak_value / (div_factor *
        final_div_factor)``.

    Returns:
      A function from the step count to the value.

    Raises:
      ValueError: if ``transition_steps <= 0`` (as in Optax), if ``pct_start``
        is outside [0, 1], if the factors are not positive or if
        :math:`b_1 \\ge T`.

    Examples:
      >>> import optjax
      >>> sched = optjax.cosine_onecycle_schedule(100, peak_value=1.0)
      >>> print(" ".join(f"{sched(t):.4f}" for t in (0, 15, 30, 100)))
      0.0400 0.5200 1.0000 0.0000

    References:
      Smith and Topin, *Super-Convergence: Very Fast Training of Neural
      Networks Using Large Learning Rates*, 2017.
      https://arxiv.org/abs/1708.07120
    """
    where = "cosine_onecycle_schedule"
    _check_phases(transition_steps, {"pct_start": pct_start}, where=where)
    _checks.check_positive("div_factor", div_factor, where=where)
    _checks.check_positive("final_div_factor", final_div_factor, where=where)
    return piecewise_interpolate_schedule(
        "cosine",
        peak_value / div_factor,
        {
            int(pct_start * transition_steps): div_factor,
            int(transition_steps): 1.0 / (div_factor * final_div_factor),
        },
    )


def sgdr_schedule(cosine_kwargs: Iterable[dict[str, jax.typing.ArrayLike]]) -> Schedule:
    """Stochastic gradient descent with warm restarts: cosine cycles back to back.

    Each dict in ``cosine_kwargs`` builds one
    :func:`warmup_cosine_decay_schedule` cycle :math:`f_k` lasting
    :math:`T_k` = ``decay_steps`` steps; the cycles are joined so that, with
    :math:`S_k = T_0 + \\dots + T_{k-1}`,

    .. math::

        \\eta(t) = f_k(t - S_k) \\quad (S_k \\le t < S_{k+1}),

    and the last cycle continues (at its end value) after its end.

    Args:
      cosine_kwargs: an iterable of dicts of keyword arguments for
        :func:`warmup_cosine_decay_schedule` (``init_value``, ``peak_value``,
        ``warmup_steps``, ``decay_steps`` and optionally ``end_value`` and
        ``exponent``).

    Returns:
      A function from the step count to the value.

    Raises:
      ValueError: if ``cosine_kwargs`` is empty or a cycle is invalid.
      TypeError: if an element is not a dict or lacks an argument.

    Examples:
      >>> import optjax
      >>> cycle = dict(init_value=0.0, peak_value=1.0, warmup_steps=0, decay_steps=10)
      >>> sched = optjax.sgdr_schedule([cycle, cycle])
      >>> print(" ".join(f"{sched(t):.3f}" for t in (0, 5, 9, 10, 15, 30)))
      1.000 0.500 0.024 1.000 0.500 0.000

    References:
      Loshchilov and Hutter, *SGDR: Stochastic Gradient Descent with Warm
      Restarts*, ICLR 2017. https://arxiv.org/abs/1608.03983
    """
    where = "sgdr_schedule"
    schedules = []
    boundaries = []
    start = 0
    for i, kwargs in enumerate(cosine_kwargs):
        if not isinstance(kwargs, Mapping):
            raise TypeError(
                f"{where}: cosine_kwargs[{i}] must be a dict of "
                f"warmup_cosine_decay_schedule arguments, got {type(kwargs).__name__}."
            )
        schedules.append(warmup_cosine_decay_schedule(**kwargs))
        start = start + kwargs["decay_steps"]
        boundaries.append(start)
    if not schedules:
        raise ValueError(f"{where}: cosine_kwargs must contain at least one cycle.")
    return join_schedules(schedules, boundaries[:-1])
