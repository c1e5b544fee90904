"""Schedules: number-for-number parity with Optax, PyTorch closed forms, bad input."""

from __future__ import annotations

import bisect
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optjax

RTOL = 1e-6
N = 40
# Large counts catch int32 overflow and loss of precision far into training.
LARGE = [1_000_003, 2**31 - 1]
STEPS = list(range(N)) + LARGE


def _join_three(lib):
    return lib.join_schedules(
        [
            lib.constant_schedule(1.0),
            lib.linear_schedule(1.0, 0.0, 10),
            lib.cosine_decay_schedule(0.5, 8, alpha=0.2),
        ],
        [5, 12],
    )


def _join_equal_boundaries(lib):
    return lib.join_schedules(
        [
            lib.exponential_decay(1.0, 3, 0.5),
            lib.constant_schedule(9.0),  # never active: both boundaries are 6.
            lib.polynomial_schedule(0.5, 0.1, 2, 10),
        ],
        [6, 6],
    )


_SGDR_CYCLES = [
    dict(init_value=0.0, peak_value=1.0, warmup_steps=3, decay_steps=10),
    dict(init_value=0.1, peak_value=0.5, warmup_steps=0, decay_steps=8, end_value=0.05),
    dict(init_value=0.0, peak_value=0.3, warmup_steps=2, decay_steps=12, exponent=2.0),
]

# Each entry builds the same schedule from optjax or from optax.
OPTAX_SCHEDULES = {
    "constant_float": lambda lib: lib.constant_schedule(0.5),
    "constant_int": lambda lib: lib.constant_schedule(3),
    "polynomial_power2": lambda lib: lib.polynomial_schedule(1.0, 0.01, 2, 20),
    "polynomial_begin_sqrt": lambda lib: lib.polynomial_schedule(
        0.5, 1.5, power=0.5, transition_steps=17, transition_begin=5
    ),
    "polynomial_zero_steps": lambda lib: lib.polynomial_schedule(0.3, 0.0, 2, 0),
    "linear": lambda lib: lib.linear_schedule(1.0, 0.0, 20),
    "linear_begin_increasing": lambda lib: lib.linear_schedule(0.1, 1.0, 13, transition_begin=7),
    "exponential": lambda lib: lib.exponential_decay(1.0, 10, 0.5),
    "exponential_begin_staircase": lambda lib: lib.exponential_decay(
        0.3, 7, 0.8, transition_begin=5, staircase=True
    ),
    "exponential_lower_bound": lambda lib: lib.exponential_decay(1.0, 5, 0.5, end_value=0.1),
    "exponential_upper_bound": lambda lib: lib.exponential_decay(
        0.1, 6, 2.0, transition_begin=3, end_value=1.0
    ),
    "cosine": lambda lib: lib.cosine_decay_schedule(1.0, 20),
    "cosine_alpha_exponent": lambda lib: lib.cosine_decay_schedule(
        0.5, 17, alpha=0.1, exponent=2.0
    ),
    "cosine_int_init": lambda lib: lib.cosine_decay_schedule(2, 9, alpha=0.05, exponent=0.5),
    "warmup_constant": lambda lib: lib.warmup_constant_schedule(0.0, 1.0, 8),
    "warmup_constant_offset": lambda lib: lib.warmup_constant_schedule(0.2, 0.7, 3),
    "warmup_cosine": lambda lib: lib.warmup_cosine_decay_schedule(0.0, 1.0, 5, 30),
    "warmup_cosine_no_warmup": lambda lib: lib.warmup_cosine_decay_schedule(
        0.1, 0.5, 0, 20, end_value=0.01, exponent=2.0
    ),
    "warmup_cosine_zero_peak": lambda lib: lib.warmup_cosine_decay_schedule(0.0, 0.0, 3, 10),
    "warmup_cosine_small": lambda lib: lib.warmup_cosine_decay_schedule(
        1e-4, 3e-3, 7, 25, end_value=1e-5
    ),
    "warmup_exponential": lambda lib: lib.warmup_exponential_decay_schedule(0.0, 1.0, 5, 6, 0.5),
    "warmup_exponential_all_flags": lambda lib: lib.warmup_exponential_decay_schedule(
        0.1, 1.0, 4, 3, 0.7, transition_begin=5, staircase=True, end_value=0.2
    ),
    "warmup_exponential_no_warmup": lambda lib: lib.warmup_exponential_decay_schedule(
        0.0, 1.0, 0, 5, 0.9
    ),
    "piecewise_constant_none": lambda lib: lib.piecewise_constant_schedule(1.0),
    "piecewise_constant": lambda lib: lib.piecewise_constant_schedule(1.0, {10: 0.1, 20: 0.5}),
    "piecewise_constant_unsorted_zero": lambda lib: lib.piecewise_constant_schedule(
        0.5, {25: 2.0, 5: 0.1, 15: 0.0}
    ),
    "piecewise_linear": lambda lib: lib.piecewise_interpolate_schedule(
        "linear", 1.0, {4: 0.1, 8: 0.01}
    ),
    "piecewise_cosine_unsorted": lambda lib: lib.piecewise_interpolate_schedule(
        "cosine", 0.5, {10: 0.2, 3: 2.0, 20: 1.0}
    ),
    "piecewise_cosine_boundary_zero": lambda lib: lib.piecewise_interpolate_schedule(
        "cosine", 1.0, {0: 0.5, 12: 0.1}
    ),
    "piecewise_linear_none": lambda lib: lib.piecewise_interpolate_schedule("linear", 0.7),
    "join_three": _join_three,
    "join_equal_boundaries": _join_equal_boundaries,
    "linear_onecycle": lambda lib: lib.linear_onecycle_schedule(30, 1.0),
    "linear_onecycle_all_args": lambda lib: lib.linear_onecycle_schedule(
        40, 0.5, pct_start=0.2, pct_final=0.7, div_factor=10.0, final_div_factor=100.0
    ),
    "linear_onecycle_no_rise": lambda lib: lib.linear_onecycle_schedule(20, 1.0, pct_start=0.0),
    "cosine_onecycle": lambda lib: lib.cosine_onecycle_schedule(30, 1.0),
    "cosine_onecycle_all_args": lambda lib: lib.cosine_onecycle_schedule(
        25, 0.3, pct_start=0.4, div_factor=5.0, final_div_factor=50.0
    ),
    "sgdr_three_cycles": lambda lib: lib.sgdr_schedule(_SGDR_CYCLES),
    "sgdr_one_cycle": lambda lib: lib.sgdr_schedule(_SGDR_CYCLES[:1]),
}


# Intentional difference (see polynomial_schedule's warning): under jit Optax can
# return NaN or a value slightly past end_value from the end of a polynomial
# transition on; optjax returns end_value. Entry: (first step at the end, end_value).
POLYNOMIAL_END = {
    "polynomial_power2": (20, 0.01),
    "polynomial_begin_sqrt": (22, 1.5),
    "linear": (20, 0.0),
    "linear_begin_increasing": (20, 1.0),
    "warmup_constant": (8, 1.0),
    "warmup_constant_offset": (3, 0.7),
}


def _eager(schedule, steps, cast):
    return np.array([np.asarray(schedule(cast(t))) for t in steps], dtype=np.float64)


def _compiled(schedule):
    """One jit per schedule: vmap over the steps and a lax.scan carrying the count."""

    def run(steps):
        def body(count, _):
            return count + 1, schedule(count)

        _, scanned = jax.lax.scan(body, jnp.zeros([], jnp.int32), None, length=N)
        return jax.vmap(schedule)(steps), scanned

    return jax.jit(run)


@pytest.mark.parametrize("name", sorted(OPTAX_SCHEDULES))
def test_matches_optax(name):
    make = OPTAX_SCHEDULES[name]
    ours, ref = make(optjax), make(optax)
    steps = jnp.asarray(STEPS, jnp.int32)

    # Python ints, eagerly (Optax then does part of the arithmetic in Python).
    np.testing.assert_allclose(_eager(ours, STEPS, int), _eager(ref, STEPS, int), rtol=RTOL)

    # Under jit: vmap over int32 steps and a traced count in lax.scan.
    ours_vmap, ours_scan = _compiled(ours)(steps)
    ref_vmap = np.asarray(jax.jit(jax.vmap(ref))(steps))
    if name in POLYNOMIAL_END:
        end_step, end_value = POLYNOMIAL_END[name]
        ref_vmap = np.where(np.asarray(STEPS) >= end_step, np.float32(end_value), ref_vmap)
    assert ours_vmap.dtype == jnp.float32 and ours_scan.dtype == jnp.float32
    np.testing.assert_allclose(ours_vmap, ref_vmap, rtol=RTOL)
    np.testing.assert_allclose(ours_scan, ref_vmap[:N], rtol=RTOL)


@pytest.mark.parametrize("name", sorted(OPTAX_SCHEDULES))
def test_other_count_types_and_dtype(name):
    make = OPTAX_SCHEDULES[name]
    ours, ref = make(optjax), make(optax)
    steps = [0, 3, 5, 10, 17, 29]
    for cast in (int, np.int32, np.int64, lambda t: jnp.asarray(t, jnp.int32)):
        np.testing.assert_allclose(_eager(ours, steps, cast), _eager(ref, steps, cast), rtol=RTOL)
        for t in steps:
            value, expected = ours(cast(t)), ref(cast(t))
            assert isinstance(value, jax.Array) and value.dtype == jnp.float32
            # Same promotion against low-precision updates as Optax's value.
            assert jnp.result_type(value, jnp.bfloat16) == jnp.result_type(expected, jnp.bfloat16)


@pytest.mark.parametrize("name", sorted(OPTAX_SCHEDULES))
def test_float64_under_x64(name):
    make = OPTAX_SCHEDULES[name]
    steps = [0, 4, 9, 15, 26, 37]
    with jax.enable_x64(True):
        ours, ref = make(optjax), make(optax)
        values = [ours(t) for t in steps]
        assert all(v.dtype == jnp.float64 for v in values)
        np.testing.assert_allclose(
            np.asarray(values), _eager(ref, steps, int), rtol=1e-12, atol=1e-300
        )


@pytest.mark.parametrize("transition_steps", [3, 17, 20])
@pytest.mark.parametrize("power", [1, 0.5, 2.0])
def test_polynomial_end_value_is_exact_under_jit(power, transition_steps):
    begin, end_value = 4, 0.25
    ours = optjax.polynomial_schedule(1.0, end_value, power, transition_steps, begin)
    ref = optax.polynomial_schedule(1.0, end_value, power, transition_steps, begin)
    steps = jnp.arange(begin + transition_steps + 5, dtype=jnp.int32)
    values = np.asarray(jax.jit(jax.vmap(ours))(steps))
    end = begin + transition_steps
    assert np.all(values[end:] == np.float32(end_value))
    # Before the end of the transition, the numbers are Optax's exactly.
    np.testing.assert_array_equal(values[:end], np.asarray(jax.jit(jax.vmap(ref))(steps))[:end])


# Hyperparameters passed as traced arrays (vmap sweeps); Optax needs Python numbers
# here (it branches on them), so the reference is Optax called once per value.
TRACED_HYPERPARAMETERS = {
    "linear_init": (
        lambda lib, v: lib.linear_schedule(v, 0.0, 10),
        [0.0, 0.5, 2.0],
        7,
    ),
    "warmup_cosine_peak": (
        lambda lib, v: lib.warmup_cosine_decay_schedule(0.0, v, 5, 30, end_value=0.01),
        [0.0, 0.5, 1.0],
        12,
    ),
    "exponential_decay_rate_end_value": (
        lambda lib, v: lib.exponential_decay(1.0, 4, v, end_value=0.5),
        [0.5, 0.9, 1.5],
        13,
    ),
    "cosine_alpha": (
        lambda lib, v: lib.cosine_decay_schedule(1.0, 10, alpha=v),
        [0.0, 0.1, 0.5],
        6,
    ),
}


@pytest.mark.parametrize("name", sorted(TRACED_HYPERPARAMETERS))
def test_traced_hyperparameters(name):
    make, values, step = TRACED_HYPERPARAMETERS[name]
    swept = jax.jit(jax.vmap(lambda v: make(optjax, v)(step)))(jnp.asarray(values))
    expected = [float(make(optax, v)(step)) for v in values]
    np.testing.assert_allclose(swept, expected, rtol=RTOL)


# --- PyTorch-style schedules against the documented PyTorch/fairseq formulas --------


def _as_seen(gamma):
    """``gamma`` as the schedule sees it: a float32 unless x64 is enabled.

    ``gamma ** t`` amplifies the float32 rounding of ``gamma`` (by ``t``), so the
    closed forms use the same number the schedule computes with.
    """
    return gamma if jax.config.jax_enable_x64 else float(np.float32(gamma))


def _torch_cyclic(t, base_lr, max_lr, step_size_up, step_size_down, mode, gamma):
    """torch.optim.lr_scheduler.CyclicLR.get_lr, in float64."""
    step_size_down = step_size_up if step_size_down is None else step_size_down
    total = step_size_up + step_size_down
    ratio = step_size_up / total
    cycle = math.floor(1 + t / total)
    x = 1.0 + t / total - cycle
    factor = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    height = (max_lr - base_lr) * factor
    if mode == "triangular":
        scale = 1.0
    elif mode == "triangular2":
        # PyTorch's 1 / 2.0 ** (cycle - 1), written so it underflows instead of
        # overflowing at very large steps.
        scale = 0.5 ** (cycle - 1)
    else:
        scale = _as_seen(gamma) ** t
    return base_lr + height * scale


def _torch_step(t, init_value, step_size, gamma=0.1):
    return init_value * _as_seen(gamma) ** (t // step_size)


def _torch_multistep(t, init_value, milestones, gamma=0.1):
    return init_value * _as_seen(gamma) ** bisect.bisect_right(sorted(milestones), t)


def _fairseq_inverse_sqrt(t, init_value, warmup_steps):
    if t < warmup_steps:
        return init_value * t / warmup_steps
    return init_value * math.sqrt(warmup_steps / t)


def _cyclic(base_lr, max_lr, step_size_up=2000, step_size_down=None, mode="triangular", gamma=1.0):
    args = (base_lr, max_lr, step_size_up, step_size_down, mode, gamma)
    return (
        optjax.cyclic_schedule(*args),
        lambda t: _torch_cyclic(t, *args),
    )


PYTORCH_SCHEDULES = {
    "cyclic_triangular": lambda: _cyclic(0.1, 1.0, 5),
    "cyclic_triangular_asymmetric": lambda: _cyclic(0.001, 0.006, 4, 7),
    "cyclic_triangular_zero_base": lambda: _cyclic(0.0, 1.0, 4),
    "cyclic_triangular2": lambda: _cyclic(0.1, 1.0, 3, 5, mode="triangular2"),
    "cyclic_exp_range": lambda: _cyclic(0.01, 0.1, 6, mode="exp_range", gamma=0.97),
    "cyclic_exp_range_asymmetric": lambda: _cyclic(0.2, 0.5, 2, 9, "exp_range", 0.99),
    "step_default_gamma": lambda: (
        optjax.step_decay_schedule(1.0, 15),
        lambda t: _torch_step(t, 1.0, 15),
    ),
    "step_half": lambda: (
        optjax.step_decay_schedule(0.5, 7, gamma=0.5),
        lambda t: _torch_step(t, 0.5, 7, 0.5),
    ),
    "step_every_step": lambda: (
        optjax.step_decay_schedule(0.3, 1, 0.9),
        lambda t: _torch_step(t, 0.3, 1, 0.9),
    ),
    "multistep_default_gamma": lambda: (
        optjax.multistep_decay_schedule(1.0, [10, 20, 30]),
        lambda t: _torch_multistep(t, 1.0, [10, 20, 30]),
    ),
    "multistep_repeated_milestone": lambda: (
        optjax.multistep_decay_schedule(0.5, [5, 5, 12], gamma=0.5),
        lambda t: _torch_multistep(t, 0.5, [5, 5, 12], 0.5),
    ),
    "multistep_milestone_zero": lambda: (
        optjax.multistep_decay_schedule(1.0, (0, 25), 0.5),
        lambda t: _torch_multistep(t, 1.0, (0, 25), 0.5),
    ),
    "multistep_no_milestones": lambda: (
        optjax.multistep_decay_schedule(0.2, [], 0.3),
        lambda t: _torch_multistep(t, 0.2, [], 0.3),
    ),
    "inverse_sqrt": lambda: (
        optjax.inverse_sqrt_schedule(1.0, 10),
        lambda t: _fairseq_inverse_sqrt(t, 1.0, 10),
    ),
    "inverse_sqrt_small": lambda: (
        optjax.inverse_sqrt_schedule(3e-4, 4),
        lambda t: _fairseq_inverse_sqrt(t, 3e-4, 4),
    ),
    "inverse_sqrt_one_warmup_step": lambda: (
        optjax.inverse_sqrt_schedule(0.5, 1),
        lambda t: _fairseq_inverse_sqrt(t, 0.5, 1),
    ),
}


@pytest.mark.parametrize("name", sorted(PYTORCH_SCHEDULES))
def test_matches_pytorch_closed_form(name):
    ours, closed_form = PYTORCH_SCHEDULES[name]()
    # exp_range decays to float32 underflow at the large steps; skip them there.
    steps = list(range(N)) if "exp_range" in name else STEPS
    expected = np.array([closed_form(t) for t in steps])

    np.testing.assert_allclose(_eager(ours, steps, int), expected, rtol=RTOL)
    ours_vmap, ours_scan = _compiled(ours)(jnp.asarray(steps, jnp.int32))
    assert ours_vmap.dtype == jnp.float32
    np.testing.assert_allclose(ours_vmap, expected, rtol=RTOL)
    np.testing.assert_allclose(ours_scan, expected[:N], rtol=RTOL)
    for cast in (np.int64, lambda t: jnp.asarray(t, jnp.int32)):
        np.testing.assert_allclose(_eager(ours, steps[:N:7], cast), expected[:N:7], rtol=RTOL)
    with jax.enable_x64(True):
        ours64, closed_form64 = PYTORCH_SCHEDULES[name]()
        values = [ours64(t) for t in steps[:N:5]]
        assert all(v.dtype == jnp.float64 for v in values)
        expected64 = [closed_form64(t) for t in steps[:N:5]]
        np.testing.assert_allclose(np.asarray(values), expected64, rtol=1e-12)


# --- bad input ---------------------------------------------------------------------

_CYCLE = dict(init_value=0.0, peak_value=1.0, warmup_steps=2)

BAD_INPUT = {
    "polynomial_negative_begin": (
        lambda: optjax.polynomial_schedule(1.0, 0.0, 2, 10, transition_begin=-1),
        "transition_begin must be >= 0",
    ),
    "exponential_negative_rate": (
        lambda: optjax.exponential_decay(1.0, 10, -0.5),
        "decay_rate must be >= 0",
    ),
    "warmup_exponential_negative_rate": (
        lambda: optjax.warmup_exponential_decay_schedule(0.0, 1.0, 2, 5, -0.5),
        "decay_rate must be >= 0",
    ),
    "exponential_negative_begin": (
        lambda: optjax.exponential_decay(1.0, 10, 0.5, transition_begin=-3),
        "transition_begin must be >= 0",
    ),
    "cosine_zero_steps": (
        lambda: optjax.cosine_decay_schedule(1.0, 0),
        "decay_steps must be > 0",
    ),
    "warmup_constant_zero_warmup": (
        lambda: optjax.warmup_constant_schedule(0.0, 1.0, 0),
        "warmup_steps must be > 0",
    ),
    "warmup_constant_negative_warmup": (
        lambda: optjax.warmup_constant_schedule(0.0, 1.0, -4),
        "warmup_steps must be > 0",
    ),
    "warmup_cosine_negative_warmup": (
        lambda: optjax.warmup_cosine_decay_schedule(0.0, 1.0, -1, 10),
        "warmup_steps must be >= 0",
    ),
    "warmup_cosine_decay_equals_warmup": (
        lambda: optjax.warmup_cosine_decay_schedule(0.0, 1.0, 10, 10),
        "must exceed warmup_steps",
    ),
    "warmup_cosine_decay_below_warmup": (
        lambda: optjax.warmup_cosine_decay_schedule(0.0, 1.0, 10, 5),
        "must exceed warmup_steps",
    ),
    "warmup_exponential_negative_warmup": (
        lambda: optjax.warmup_exponential_decay_schedule(0.0, 1.0, -2, 5, 0.5),
        "warmup_steps must be >= 0",
    ),
    "piecewise_constant_negative_scale": (
        lambda: optjax.piecewise_constant_schedule(1.0, {5: 0.5, 10: -0.1}),
        "must be >= 0, got -0.1 at step 10",
    ),
    "piecewise_interpolate_unknown_type": (
        lambda: optjax.piecewise_interpolate_schedule("quadratic", 1.0, {5: 0.5}),
        "must be one of 'linear', 'cosine'; got 'quadratic'",
    ),
    "piecewise_interpolate_negative_scale": (
        lambda: optjax.piecewise_interpolate_schedule("linear", 1.0, {5: -2.0}),
        "must be >= 0",
    ),
    "join_no_schedules": (
        lambda: optjax.join_schedules([], []),
        "at least one schedule",
    ),
    "join_too_many_boundaries": (
        lambda: optjax.join_schedules([optjax.constant_schedule(1.0)] * 2, [3, 5]),
        "needs len\\(schedules\\) - 1 = 1 boundaries, got 2",
    ),
    "join_too_few_boundaries": (
        lambda: optjax.join_schedules([optjax.constant_schedule(1.0)] * 3, [3]),
        "needs len\\(schedules\\) - 1 = 2 boundaries, got 1",
    ),
    "join_decreasing_boundaries": (
        lambda: optjax.join_schedules([optjax.constant_schedule(1.0)] * 3, [5, 3]),
        "non-decreasing",
    ),
    "linear_onecycle_zero_steps": (
        lambda: optjax.linear_onecycle_schedule(0, 1.0),
        "transition_steps must be > 0",
    ),
    "linear_onecycle_start_after_final": (
        lambda: optjax.linear_onecycle_schedule(100, 1.0, pct_start=0.9, pct_final=0.5),
        "strictly increasing steps",
    ),
    "linear_onecycle_final_at_end": (
        lambda: optjax.linear_onecycle_schedule(100, 1.0, pct_final=1.0),
        "strictly increasing steps",
    ),
    "linear_onecycle_too_short": (
        lambda: optjax.linear_onecycle_schedule(1, 1.0),
        "strictly increasing steps",
    ),
    "linear_onecycle_pct_out_of_range": (
        lambda: optjax.linear_onecycle_schedule(100, 1.0, pct_start=-0.1),
        "pct_start must be in \\[0, 1\\]",
    ),
    "linear_onecycle_zero_div_factor": (
        lambda: optjax.linear_onecycle_schedule(100, 1.0, div_factor=0.0),
        "div_factor must be > 0",
    ),
    "cosine_onecycle_negative_steps": (
        lambda: optjax.cosine_onecycle_schedule(-1, 1.0),
        "transition_steps must be > 0",
    ),
    "cosine_onecycle_start_at_end": (
        lambda: optjax.cosine_onecycle_schedule(100, 1.0, pct_start=1.0),
        "strictly increasing steps",
    ),
    "cosine_onecycle_zero_final_div": (
        lambda: optjax.cosine_onecycle_schedule(100, 1.0, final_div_factor=0),
        "final_div_factor must be > 0",
    ),
    "sgdr_no_cycles": (
        lambda: optjax.sgdr_schedule([]),
        "at least one cycle",
    ),
    "sgdr_cycle_shorter_than_warmup": (
        lambda: optjax.sgdr_schedule([dict(_CYCLE, decay_steps=10), dict(_CYCLE, decay_steps=2)]),
        "must exceed warmup_steps",
    ),
    "cyclic_unknown_mode": (
        lambda: optjax.cyclic_schedule(0.1, 1.0, 10, mode="sawtooth"),
        "mode must be one of 'triangular', 'triangular2', 'exp_range'; got 'sawtooth'",
    ),
    "cyclic_zero_step_size_up": (
        lambda: optjax.cyclic_schedule(0.1, 1.0, 0),
        "step_size_up must be an integer >= 1",
    ),
    "cyclic_fractional_step_size_up": (
        lambda: optjax.cyclic_schedule(0.1, 1.0, 2.5),
        "step_size_up must be an integer >= 1",
    ),
    "cyclic_negative_step_size_down": (
        lambda: optjax.cyclic_schedule(0.1, 1.0, 10, step_size_down=-1),
        "step_size_down must be an integer >= 1",
    ),
    "cyclic_negative_gamma": (
        lambda: optjax.cyclic_schedule(0.1, 1.0, 10, mode="exp_range", gamma=-0.5),
        "gamma must be >= 0",
    ),
    "step_zero_step_size": (
        lambda: optjax.step_decay_schedule(1.0, 0),
        "step_size must be an integer >= 1",
    ),
    "step_negative_step_size": (
        lambda: optjax.step_decay_schedule(1.0, -3),
        "step_size must be an integer >= 1",
    ),
    "step_negative_gamma": (
        lambda: optjax.step_decay_schedule(1.0, 10, gamma=-0.1),
        "gamma must be >= 0",
    ),
    "multistep_unsorted": (
        lambda: optjax.multistep_decay_schedule(1.0, [20, 10]),
        "non-decreasing order, got \\[20, 10\\]",
    ),
    "multistep_negative_milestone": (
        lambda: optjax.multistep_decay_schedule(1.0, [-1, 5]),
        "every milestone must be >= 0",
    ),
    "multistep_negative_gamma": (
        lambda: optjax.multistep_decay_schedule(1.0, [5], gamma=-1.0),
        "gamma must be >= 0",
    ),
    "inverse_sqrt_zero_warmup": (
        lambda: optjax.inverse_sqrt_schedule(1.0, 0),
        "warmup_steps must be an integer >= 1",
    ),
    "inverse_sqrt_negative_warmup": (
        lambda: optjax.inverse_sqrt_schedule(1.0, -4),
        "warmup_steps must be an integer >= 1",
    ),
}


# Values Optax documents (or pins in its tests) as disabling the transition: the
# schedule holds its initial value. Accepted, with the same numbers.
DISABLED_TRANSITION = {
    "polynomial_zero_steps": lambda lib: lib.polynomial_schedule(1.0, 0.0, 2, 0),
    "polynomial_negative_steps": lambda lib: lib.polynomial_schedule(1.0, 0.0, 2, -1),
    "linear_negative_steps": lambda lib: lib.linear_schedule(1.0, 0.0, -5),
    "exponential_zero_steps": lambda lib: lib.exponential_decay(1.0, 0, 0.5),
    "exponential_negative_steps": lambda lib: lib.exponential_decay(2.0, -1, 0.5, staircase=True),
    "exponential_zero_rate": lambda lib: lib.exponential_decay(1.0, 10, 0.0),
    "warmup_exponential_zero_rate": (
        lambda lib: lib.warmup_exponential_decay_schedule(0.0, 1.0, 2, 5, 0.0)
    ),
}


@pytest.mark.parametrize("name", sorted(DISABLED_TRANSITION))
def test_disabled_transition_holds_the_value_as_in_optax(name):
    make = DISABLED_TRANSITION[name]
    ours, theirs = make(optjax), make(optax)
    for step in (0, 1, 3, 10, 100):
        np.testing.assert_allclose(float(ours(step)), float(theirs(step)), rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(BAD_INPUT))
def test_bad_input_raises_value_error(name):
    build, message = BAD_INPUT[name]
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: optjax.join_schedules([optjax.constant_schedule(1.0), 0.5], [3]), "callable"),
        (lambda: optjax.sgdr_schedule([(0.0, 1.0, 2, 10)]), "must be a dict"),
    ],
    ids=["join_non_callable", "sgdr_non_dict"],
)
def test_bad_types_raise_type_error(build, message):
    with pytest.raises(TypeError, match=message):
        build()


def test_public_namespaces_agree():
    for name in optjax.schedules.__all__:
        assert getattr(optjax, name) is getattr(optjax.schedules, name)
        assert callable(getattr(optjax, name))
    optax_names = {
        name
        for name in dir(optax.schedules)
        if name.endswith("_schedule") and not name.startswith("_")
    } | {"exponential_decay", "join_schedules"}
    assert optax_names <= set(optjax.schedules.__all__)


def test_schedule_drives_scale_by_schedule():
    # A schedule is just the step_size_fn of scale_by_schedule, as in Optax.
    tx = optjax.scale_by_schedule(optjax.step_decay_schedule(1.0, step_size=2, gamma=0.5))
    state = tx.init({"w": jnp.zeros([])})
    seen = []
    for _ in range(5):
        updates, state = tx.update({"w": jnp.ones([])}, state)
        seen.append(float(updates["w"]))
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.25]
