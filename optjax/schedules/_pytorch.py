"""Schedules from ``torch.optim.lr_scheduler`` and fairseq that Optax lacks.

Each is a pure function of the step count with the documented closed form of
its PyTorch (or fairseq) counterpart: ``schedule(t)`` is the learning rate
used by the ``t``-th update (counting from 0), i.e. the learning rate PyTorch
holds after ``t`` calls to ``scheduler.step()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import Schedule
from optjax.schedules._decay import _as_float, _is_number

_CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


def cyclic_schedule(
    base_lr: jax.typing.ArrayLike,
    max_lr: jax.typing.ArrayLike,
    step_size_up: int = 2000,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: jax.typing.ArrayLike = 1.0,
) -> Schedule:
    """Cyclical learning rate: triangles between ``base_lr`` and ``max_lr``.

    The closed form of ``torch.optim.lr_scheduler.CyclicLR`` (with its default
    ``scale_mode``). With :math:`U` = ``step_size_up``, :math:`D` =
    ``step_size_down`` (default :math:`U`), the cycle length :math:`C = U + D`,
    the completed cycles :math:`k = \\lfloor t / C \\rfloor` and the position
    in the cycle :math:`s = t - kC`:

    .. math::

        h(t) = \\begin{cases} s / U & s \\le U \\\\ (C - s) / D & s > U
        \\end{cases}, \\qquad
        \\eta(t) = \\eta_{\\text{base}} + (\\eta_{\\max} - \\eta_{\\text{base}})\\, h(t)\\, g(t)

    with the amplitude factor :math:`g(t) = 1` for ``'triangular'``,
    :math:`g(t) = 2^{-k}` for ``'triangular2'`` (halved every cycle) and
    :math:`g(t) = \\gamma^t` for ``'exp_range'``.

    Args:
      base_lr: the value :math:`\\eta_{\\text{base}}` at the start of each
        cycle.
      max_lr: the value :math:`\\eta_{\\max}` at the top of the first cycle.
      step_size_up: the number of steps :math:`U \\ge 1` from the bottom to the
        top of a cycle.
      step_size_down: the number of steps :math:`D \\ge 1` from the top back to
        the bottom; ``None`` uses ``step_size_up``.
      mode: ``'triangular'``, ``'triangular2'`` or ``'exp_range'``.
      gamma: the per-step amplitude factor :math:`\\gamma \\ge 0` of
        ``'exp_range'`` (ignored by the other modes).

    Returns:
      A function from the step count to the value.

    Raises:
      ValueError: for an unknown ``mode``, a step size that is not a positive
        integer or a negative ``gamma``.

    Examples:
      >>> import optjax
      >>> sched = optjax.cyclic_schedule(0.1, 1.0, step_size_up=2, mode="triangular2")
      >>> print(" ".join(f"{sched(t):.3f}" for t in range(9)))
      0.100 0.550 1.000 0.550 0.100 0.325 0.550 0.325 0.100

    References:
      Smith, *Cyclical Learning Rates for Training Neural Networks*, WACV 2017.
      https://arxiv.org/abs/1506.01186
    """
    where = "cyclic_schedule"
    _checks.check_choice("mode", mode, _CYCLIC_MODES, where=where)
    _checks.check_positive_int("step_size_up", step_size_up, where=where)
    if step_size_down is not None:
        _checks.check_positive_int("step_size_down", step_size_down, where=where)
    _checks.check_non_negative("gamma", gamma, where=where)
    up = int(step_size_up)
    down = up if step_size_down is None else int(step_size_down)
    cycle_length = up + down

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        count = jnp.asarray(count)
        # Integer arithmetic for the position in the cycle keeps it exact.
        cycles_done = jnp.floor_divide(count, cycle_length)
        position = count - cycles_done * cycle_length
        height = jnp.where(position <= up, position / up, (cycle_length - position) / down)
        if mode == "triangular":
            amplitude = 1.0
        elif mode == "triangular2":
            amplitude = jnp.power(0.5, cycles_done)
        else:
            amplitude = jnp.power(gamma, count)
        return _as_float(base_lr + (max_lr - base_lr) * height * amplitude)

    return schedule


def step_decay_schedule(
    init_value: jax.typing.ArrayLike,
    step_size: int,
    gamma: jax.typing.ArrayLike = 0.1,
) -> Schedule:
    """Multiplies the value by ``gamma`` every ``step_size`` steps.

    The closed form of ``torch.optim.lr_scheduler.StepLR``:

    .. math::

        \\eta(t) = \\eta_0\\, \\gamma^{\\lfloor t / S \\rfloor}

    Args:
      init_value: the initial value :math:`\\eta_0`.
      step_size: the period :math:`S \\ge 1` of the decay, in steps.
      gamma: the factor :math:`\\gamma \\ge 0` applied every period.

    Returns:
      A function from the step count to the value.

    Raises:
      ValueError: if ``step_size`` is not a positive integer or ``gamma < 0``.

    Examples:
      >>> import optjax
      >>> sched = optjax.step_decay_schedule(1.0, step_size=10, gamma=0.5)
      >>> print(" ".join(f"{sched(t):.2f}" for t in (0, 9, 10, 25)))
      1.00 1.00 0.50 0.25
    """
    where = "step_decay_schedule"
    _checks.check_positive_int("step_size", step_size, where=where)
    _checks.check_non_negative("gamma", gamma, where=where)

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        periods = jnp.floor_divide(jnp.asarray(count), step_size)
        return _as_float(init_value * jnp.power(gamma, periods))

    return schedule


def multistep_decay_schedule(
    init_value: jax.typing.ArrayLike,
    milestones: Sequence[int],
    gamma: jax.typing.ArrayLike = 0.1,
) -> Schedule:
    """Multiplies the value by ``gamma`` at each milestone step.

    The closed form of ``torch.optim.lr_scheduler.MultiStepLR``: with
    milestones :math:`m_1 \\le m_2 \\le \\dots`,

    .. math::

        \\eta(t) = \\eta_0\\, \\gamma^{\\#\\{i:\\ m_i \\le t\\}}

    A milestone listed twice applies ``gamma`` twice, as in PyTorch.

    Args:
      init_value: the initial value :math:`\\eta_0`.
      milestones: the non-negative steps at which to decay, in non-decreasing
        order.
      gamma: the factor :math:`\\gamma \\ge 0` applied at each milestone.

    Returns:
      A function from the step count to the value.

    Raises:
      ValueError: if the milestones are unsorted or negative, or ``gamma < 0``.

    Examples:
      >>> import optjax
      >>> sched = optjax.multistep_decay_schedule(1.0, milestones=[3, 6], gamma=0.5)
      >>> print(" ".join(f"{sched(t):.2f}" for t in range(8)))
      1.00 1.00 1.00 0.50 0.50 0.50 0.25 0.25
    """
    where = "multistep_decay_schedule"
    milestones = tuple(milestones)
    for milestone in milestones:
        _checks.check_non_negative("every milestone", milestone, where=where)
    concrete = all(_is_number(m) for m in milestones)
    if concrete and list(milestones) != sorted(milestones):
        raise ValueError(
            f"{where}: milestones must be in non-decreasing order, got {list(milestones)!r}."
        )
    _checks.check_non_negative("gamma", gamma, where=where)

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        count = jnp.asarray(count)
        passed = jnp.zeros(count.shape, jnp.int32)
        for milestone in milestones:
            passed = passed + (count >= milestone).astype(jnp.int32)
        return _as_float(init_value * jnp.power(gamma, passed))

    return schedule


def inverse_sqrt_schedule(init_value: jax.typing.ArrayLike, warmup_steps: int) -> Schedule:
    """Linear warmup to ``init_value``, then decay as one over the square root of the step.

    The ``inverse_sqrt`` schedule of fairseq (with ``warmup_init_lr=0``) and
    the shape of the Transformer schedule; after the warmup it is T5's
    ``rsqrt_decay`` up to a constant factor. With
    :math:`\\eta_0` = ``init_value`` and :math:`W` = ``warmup_steps``:

    .. math::

        \\eta(t) = \\begin{cases} \\eta_0\\, t / W & t < W \\\\
        \\eta_0 \\sqrt{W / t} & t \\ge W \\end{cases}

    The peak :math:`\\eta_0` is reached at :math:`t = W`; step 0 has value 0.
    The Transformer's :math:`d^{-1/2} \\min(t^{-1/2}, t\\, W^{-3/2})` is this
    schedule with :math:`\\eta_0 = (d\\, W)^{-1/2}`.

    Args:
      init_value: the peak value :math:`\\eta_0`, reached at the end of warmup.
      warmup_steps: the length :math:`W \\ge 1` of the linear warmup.

    Returns:
      A function from the step count to the value.

    Raises:
      ValueError: if ``warmup_steps`` is not a positive integer (the decay is
        anchored at :math:`W`, so :math:`W = 0` has no finite value at step 0).

    Examples:
      >>> import optjax
      >>> sched = optjax.inverse_sqrt_schedule(1.0, warmup_steps=4)
      >>> print(" ".join(f"{sched(t):.3f}" for t in (0, 2, 4, 16, 100)))
      0.000 0.500 1.000 0.500 0.200

    References:
      Vaswani et al., *Attention Is All You Need*, NeurIPS 2017.
      https://arxiv.org/abs/1706.03762
    """
    _checks.check_positive_int("warmup_steps", warmup_steps, where="inverse_sqrt_schedule")
    warmup = int(warmup_steps)

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        count = jnp.asarray(count)
        rising = init_value * count / warmup
        # The maximum keeps the unused branch finite at t = 0.
        decaying = init_value * jnp.sqrt(warmup / jnp.maximum(count, warmup))
        return _as_float(jnp.where(count < warmup, rising, decaying))

    return schedule
