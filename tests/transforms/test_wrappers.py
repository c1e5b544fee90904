"""Unit tests for MultiSteps, apply_if_finite, the skip functions and dynamic
loss scaling (trajectories against Optax are in registry/robustness.py)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from harness import assert_trees_close
from jax.experimental import checkify

import optjax

INF, NAN = float("inf"), float("nan")


def _counting(lib):
    """An inner transform that passes updates through and counts its calls."""

    def init(params):
        del params
        return jnp.zeros([], jnp.int32)

    def update(updates, state, params=None):
        del params
        return updates, state + 1

    return lib.GradientTransformation(init, update)


def _times_value(lib):
    """An inner transform that multiplies the updates by the extra argument ``value``."""

    def update(updates, state, params=None, **extra_args):
        del params
        return jax.tree.map(lambda u: u * extra_args["value"], updates), state

    return lib.GradientTransformationExtraArgs(lambda params: (), update)


def _run(tx, grads_sequence, params):
    """Feeds a stacked sequence of gradients; returns per-step params, updates and states."""

    @jax.jit
    def run(grads_sequence, params):
        def step(carry, grads):
            params, state = carry
            updates, state = tx.update(grads, state, params)
            params = jax.tree.map(lambda p, u: p + u, params, updates)
            return (params, state), (params, updates, state)

        _, history = jax.lax.scan(step, (params, tx.init(params)), grads_sequence)
        return history

    return run(grads_sequence, params)


# ----------------------------------------------------------------------------
# Build-time validation.

BAD_HYPERPARAMETERS = [
    ("MultiSteps k=0", lambda: optjax.MultiSteps(optjax.sgd(0.1), 0), "every_k_schedule"),
    ("MultiSteps k<0", lambda: optjax.MultiSteps(optjax.sgd(0.1), -3), "every_k_schedule"),
    ("MultiSteps float", lambda: optjax.MultiSteps(optjax.sgd(0.1), 2.5), "every_k_schedule"),
    ("MultiSteps bool", lambda: optjax.MultiSteps(optjax.sgd(0.1), True), "every_k_schedule"),
    ("MultiSteps str", lambda: optjax.MultiSteps(optjax.sgd(0.1), "3"), "every_k_schedule"),
    ("MultiSteps None", lambda: optjax.MultiSteps(optjax.sgd(0.1), None), "every_k_schedule"),
    (
        "MultiSteps float array",
        lambda: optjax.MultiSteps(optjax.sgd(0.1), jnp.array(2.0)),
        "every_k_schedule",
    ),
    ("apply_if_finite -1", lambda: optjax.apply_if_finite(optjax.sgd(0.1), -1), "max_consec"),
    ("apply_if_finite float", lambda: optjax.apply_if_finite(optjax.sgd(0.1), 1.5), "max_consec"),
    ("apply_if_finite bool", lambda: optjax.apply_if_finite(optjax.sgd(0.1), True), "max_consec"),
    ("apply_if_finite None", lambda: optjax.apply_if_finite(optjax.sgd(0.1), None), "max_consec"),
    (
        "loss scale zero",
        lambda: optjax.dynamic_loss_scale(optjax.sgd(0.1), initial_scale=0.0),
        "initial_scale",
    ),
    (
        "loss scale negative",
        lambda: optjax.dynamic_loss_scale(optjax.sgd(0.1), initial_scale=-8.0),
        "initial_scale",
    ),
    (
        "growth steps zero",
        lambda: optjax.dynamic_loss_scale(optjax.sgd(0.1), dynamic_growth_steps=0),
        "dynamic_growth_steps",
    ),
    (
        "growth steps float",
        lambda: optjax.dynamic_loss_scale(optjax.sgd(0.1), dynamic_growth_steps=2.5),
        "dynamic_growth_steps",
    ),
]


@pytest.mark.parametrize(
    "build, match", [c[1:] for c in BAD_HYPERPARAMETERS], ids=[c[0] for c in BAD_HYPERPARAMETERS]
)
def test_bad_hyperparameters_raise_at_build_time(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize(
    "result",
    [(jnp.array(1.0), ()), (jnp.array([False, True]), ())],
    ids=["float", "vector"],
)
def test_multisteps_rejects_a_skip_function_that_is_not_a_boolean_scalar(result):
    opt = optjax.MultiSteps(optjax.sgd(0.1), 2, should_skip_update_fn=lambda u, s, p: result)
    params = {"w": jnp.zeros(2)}
    with pytest.raises(ValueError, match="boolean scalar"):
        opt.update(params, opt.init(params), params)


# ----------------------------------------------------------------------------
# MultiSteps.


def _regression_problem():
    keys = jax.random.split(jax.random.key(3), 4)
    x = jax.random.normal(keys[0], (12, 3))
    y = jax.random.normal(keys[1], (12,))
    params = {"w": jax.random.normal(keys[2], (3,)), "b": jax.random.normal(keys[3], ())}
    return x, y, params


def _mse(params, x, y):
    return jnp.mean((x @ params["w"] + params["b"] - y) ** 2)


@pytest.mark.parametrize("use_grad_mean", [True, False], ids=["mean", "sum"])
def test_k_micro_batches_equal_one_step_on_the_concatenated_batch(use_grad_mean):
    x, y, params = _regression_problem()
    k = 3
    micro_grads = [
        jax.grad(_mse)(params, xb, yb)
        for xb, yb in zip(jnp.split(x, k), jnp.split(y, k), strict=True)
    ]
    # Closed form of the full-batch gradient of the mean squared error.
    residual = x @ params["w"] + params["b"] - y
    full = {"w": 2.0 / len(y) * x.T @ residual, "b": 2.0 / len(y) * jnp.sum(residual)}
    factor = 1.0 if use_grad_mean else float(k)

    opt = optjax.MultiSteps(optjax.identity(), k, use_grad_mean=use_grad_mean)
    state = opt.init(params)
    for i, grads in enumerate(micro_grads):
        updates, state = opt.update(grads, state, params)
        if i < k - 1:
            assert_trees_close(
                updates, jax.tree.map(jnp.zeros_like, params), rtol=0, atol=0, what="hold"
            )
    assert_trees_close(
        updates, jax.tree.map(lambda g: factor * g, full), rtol=1e-5, atol=1e-6, what="mean"
    )

    # Accumulated SGD equals one SGD step on the whole batch.
    opt = optjax.MultiSteps(optjax.sgd(0.1), k, use_grad_mean=use_grad_mean)
    state, accumulated = opt.init(params), params
    for grads in micro_grads:
        updates, state = opt.update(grads, state, accumulated)
        accumulated = optjax.apply_updates(accumulated, updates)
    one_step = jax.tree.map(lambda p, g: p - 0.1 * factor * g, params, full)
    assert_trees_close(accumulated, one_step, rtol=1e-5, atol=1e-6, what="sgd")


def test_inner_update_runs_only_on_the_emitting_micro_step():
    """checkify reports a failed check only where the inner update executed.

    The inner state is the same in both libraries (Optax selects the old state
    on non-emitting steps), but Optax executes the inner update on every
    micro-step and discards it, while optjax runs it under ``lax.cond`` only
    when the accumulated gradient is emitted.
    """

    def tripwire(lib):
        def update(updates, state, params=None):
            del params
            checkify.check(state < 0, "inner update executed")
            return updates, state + 1

        return lib.GradientTransformation(lambda p: jnp.zeros([], jnp.int32), update)

    params = {"w": jnp.zeros(2)}
    grads = {"w": jnp.ones(2)}
    executed, counters = {}, {}
    for lib in (optjax, optax):
        opt = lib.MultiSteps(tripwire(lib), 3)
        step = jax.jit(checkify.checkify(lambda g, s, opt=opt: opt.update(g, s, params)))
        state, ran = opt.init(params), []
        for _ in range(6):
            err, (_, state) = step(grads, state)
            ran.append(err.get() is not None)
        executed[lib.__name__], counters[lib.__name__] = ran, int(state.inner_opt_state)
    assert executed["optjax"] == [False, False, True, False, False, True]
    assert executed["optax"] == [True] * 6
    assert counters == {"optjax": 2, "optax": 2}


def test_has_updated_and_counters_follow_the_schedule_as_in_optax():
    def k_of(step):
        return jnp.minimum(step // 2 + 1, 3)  # k = 1, 1, 2, 2, 3, 3, ...

    params = {"w": jnp.zeros(2)}
    grads = jax.tree.map(
        lambda p: jnp.arange(1.0, 10.0)[:, None] * jnp.ones((9,) + p.shape), params
    )
    flags = {}
    for lib in (optjax, optax):
        opt = lib.MultiSteps(lib.sgd(0.1), k_of)
        _, updates, states = _run(opt.gradient_transformation(), grads, params)
        flags[lib.__name__] = [
            bool(opt.has_updated(jax.tree.map(lambda x, i=i: x[i], states))) for i in range(9)
        ]
        if lib is optjax:
            ours = (updates, states)
        else:
            assert_trees_close(ours[0], updates, rtol=1e-6, atol=0, what="updates")
            assert_trees_close(ours[1], states, rtol=1e-6, atol=0, what="state")
    assert (
        flags["optjax"]
        == flags["optax"]
        == [True, True, False, True, False, True, False, False, True]
    )


def test_integer_array_k_works_like_an_int():
    params = {"w": jnp.zeros(2)}
    grads = {"w": jnp.ones((4, 2))}
    _, a, _ = _run(
        optjax.MultiSteps(optjax.sgd(0.1), jnp.array(2)).gradient_transformation(), grads, params
    )
    _, b, _ = _run(optjax.MultiSteps(optjax.sgd(0.1), 2).gradient_transformation(), grads, params)
    assert_trees_close(a, b, rtol=0, atol=0, what="k array")


def test_state_is_the_inner_state_plus_one_accumulator():
    params = {"w": jnp.zeros((3, 4)), "b": jnp.zeros(4), "s": jnp.zeros(()), "none": None}
    for lib in (optjax, optax):
        state = lib.MultiSteps(lib.adam(1e-2), 4).init(params)
        inner = lib.adam(1e-2).init(params)
        # Two int32 counters (mini_step, gradient_step) besides inner + accumulator.
        assert optjax.tree.size(state) == optjax.tree.size(inner) + optjax.tree.size(params) + 2
    ours = optjax.MultiSteps(optjax.adam(1e-2), 4).init(params)
    theirs = optax.MultiSteps(optax.adam(1e-2), 4).init(params)
    nbytes = lambda tree: sum(x.nbytes for x in jax.tree.leaves(tree))  # noqa: E731
    assert nbytes(ours) == nbytes(theirs)

    # bfloat16 parameters: float32 accumulation by default (as Optax), or the
    # gradients' own dtype with accumulator_dtype=None (half the accumulator).
    bf16 = optjax.tree.cast(params, jnp.bfloat16)
    default = optjax.MultiSteps(optjax.sgd(0.1), 4).init(bf16)
    native = optjax.MultiSteps(optjax.sgd(0.1), 4, accumulator_dtype=None).init(bf16)
    assert {x.dtype for x in jax.tree.leaves(default.acc_grads)} == {jnp.dtype(jnp.float32)}
    assert {x.dtype for x in jax.tree.leaves(native.acc_grads)} == {jnp.dtype(jnp.bfloat16)}
    assert nbytes(native.acc_grads) * 2 == nbytes(default.acc_grads)


def test_float32_accumulator_keeps_small_bfloat16_contributions():
    # 1 + 3 * 2**-9: float32 holds the sum, which rounds to the next bfloat16
    # (1 + 2**-7); bfloat16 accumulation rounds every partial sum back to 1.
    params = {"w": jnp.zeros((), jnp.bfloat16)}
    grads = {"w": jnp.array([1.0, 2**-9, 2**-9, 2**-9], jnp.bfloat16)}
    results = {}
    for dtype in (jnp.float32, None):
        opt = optjax.MultiSteps(optjax.identity(), 4, use_grad_mean=False, accumulator_dtype=dtype)
        _, updates, _ = _run(opt.gradient_transformation(), grads, params)
        assert updates["w"].dtype == jnp.bfloat16
        results[dtype] = float(updates["w"][-1])
    assert results == {jnp.float32: 1.0 + 2**-7, None: 1.0}


def test_a_non_finite_micro_step_does_not_poison_the_next_cycle():
    """Pinned difference: Optax zeroes its accumulator by multiplying by 0, so a
    NaN accepted into one cycle stays in the accumulator forever."""
    params = {"w": jnp.zeros(2)}
    grads = {"w": jnp.array([[NAN, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])}
    emitted = {}
    for lib in (optjax, optax):
        _, updates, _ = _run(
            lib.MultiSteps(lib.sgd(1.0), 2).gradient_transformation(), grads, params
        )
        emitted[lib.__name__] = np.asarray(updates["w"])[[1, 3]]
    np.testing.assert_array_equal(emitted["optjax"], [[NAN, -1.0], [-1.0, -1.0]])
    np.testing.assert_array_equal(emitted["optax"], [[NAN, -1.0], [NAN, -1.0]])


@pytest.mark.parametrize(
    "skip_fn",
    [optjax.skip_not_finite, functools.partial(optjax.skip_large_updates, max_squared_norm=50.0)],
    ids=["not_finite", "large"],
)
def test_skipped_micro_steps_leave_the_state_untouched_as_in_optax(skip_fn):
    params = {"w": jnp.zeros(2), "s": jnp.zeros(())}
    rows = jnp.array([[1.0, 2.0, 3.0], [NAN, 1.0, 1.0], [10.0, 1.0, 0.0], [2.0, 2.0, 2.0]] * 2)
    grads = {"w": rows[:, :2], "s": rows[:, 2]}
    ref_fn = (
        optax.skip_not_finite
        if skip_fn is optjax.skip_not_finite
        else functools.partial(optax.skip_large_updates, max_squared_norm=50.0)
    )
    _, ours, our_states = _run(
        optjax.MultiSteps(
            optjax.adam(0.1), 2, should_skip_update_fn=skip_fn
        ).gradient_transformation(),
        grads,
        params,
    )
    _, theirs, their_states = _run(
        optax.MultiSteps(
            optax.adam(0.1), 2, should_skip_update_fn=ref_fn
        ).gradient_transformation(),
        grads,
        params,
    )
    assert_trees_close(ours, theirs, rtol=1e-6, atol=0, what="updates")
    assert_trees_close(our_states, their_states, rtol=1e-6, atol=0, what="states")
    skipped = np.asarray(our_states.skip_state["should_skip"])
    assert skipped.tolist() == [False, True, skip_fn is not optjax.skip_not_finite, False] * 2
    # A skipped micro-step freezes the counters, the accumulator and the inner state.
    for i in np.flatnonzero(skipped):
        before = jax.tree.map(lambda x, i=i: x[i - 1], our_states._replace(skip_state=()))
        after = jax.tree.map(lambda x, i=i: x[i], our_states._replace(skip_state=()))
        assert_trees_close(after, before, rtol=0, atol=0, what=f"state at {i}")


def test_multisteps_under_flax_nnx_optimizer_matches_optax():
    from flax import nnx

    x = jnp.linspace(-1.0, 1.0, 12).reshape(4, 3)
    results = []
    for lib in (optjax, optax):
        model = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
        tx = lib.MultiSteps(lib.adam(1e-1), 2).gradient_transformation()
        optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
        for _ in range(4):
            grads = nnx.grad(lambda m: jnp.mean(m(x) ** 2))(model)
            optimizer.update(model, grads)
        results.append(nnx.state(model, nnx.Param))
    for a, b in zip(jax.tree.leaves(results[0]), jax.tree.leaves(results[1]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda inner: optjax.MultiSteps(inner, 1).gradient_transformation(),
        lambda inner: optjax.apply_if_finite(inner, 2),
        lambda inner: optjax.dynamic_loss_scale(inner, initial_scale=1.0),
    ],
    ids=["MultiSteps", "apply_if_finite", "dynamic_loss_scale"],
)
def test_extra_args_reach_the_inner_transform(wrap):
    tx = wrap(_times_value(optjax))
    grads = {"w": jnp.array([1.0, -2.0])}
    updates, _ = tx.update(grads, tx.init(grads), grads, value=jnp.float32(3.0))
    np.testing.assert_array_equal(updates["w"], [3.0, -6.0])


@pytest.mark.parametrize(
    "wrap",
    [
        lambda inner: optjax.MultiSteps(inner, 2).gradient_transformation(),
        lambda inner: optjax.apply_if_finite(inner, 2),
        lambda inner: optjax.dynamic_loss_scale(inner),
    ],
    ids=["MultiSteps", "apply_if_finite", "dynamic_loss_scale"],
)
def test_wrappers_name_the_key_path_of_a_structure_mismatch_and_reject_int_leaves(wrap):
    tx = wrap(optjax.sgd(0.1))
    params = {"a": jnp.zeros(2), "b": jnp.zeros(())}
    state = tx.init(params)
    with pytest.raises(ValueError, match=r"\['c'\]"):
        tx.update({"a": jnp.zeros(2), "c": jnp.zeros(())}, state, params)
    with pytest.raises(TypeError, match=r"\['b'\]"):
        tx.update({"a": jnp.zeros(2), "b": jnp.zeros((), jnp.int32)}, state)


# ----------------------------------------------------------------------------
# apply_if_finite.

# F: finite, N: a NaN in one element, I: an Inf in one element. M = 2.
SCRIPT = "FNIFNNNNNNF"
OURS_APPLIED = [1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1]
OURS_COUNT = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 0]
OPTAX_APPLIED = [1, 0, 0, 1, 0, 0, 1, 1, 1, 1, 1]
OPTAX_COUNT = [0, 1, 2, 0, 1, 2, 3, 4, 5, 6, 0]
TOTAL = [0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 8]


def _scripted_grads(script, finite_row=(0.5, -1.0, 2.0)):
    bad = {"F": finite_row[0], "N": NAN, "I": INF}
    rows = jnp.array([[bad[c], *finite_row[1:]] for c in script])
    return {"w": rows[:, :2], "s": rows[:, 2]}


def test_apply_if_finite_skips_counts_and_resets_after_giving_up():
    params = {"w": jnp.array([1.0, 2.0]), "s": jnp.array(0.5)}
    grads = _scripted_grads(SCRIPT)
    history = {}
    for lib in (optjax, optax):
        tx = lib.apply_if_finite(lib.chain(_counting(lib), lib.sgd(0.1, momentum=0.9)), 2)
        history[lib.__name__] = _run(tx, grads, params)

    for name, applied, count in [
        ("optjax", OURS_APPLIED, OURS_COUNT),
        ("optax", OPTAX_APPLIED, OPTAX_COUNT),
    ]:
        new_params, updates, states = history[name]
        calls = np.asarray(states.inner_state[0])
        assert np.diff(calls, prepend=0).tolist() == applied, name
        assert np.asarray(states.notfinite_count).tolist() == count, name
        assert np.asarray(states.total_notfinite).tolist() == TOTAL, name
        assert np.asarray(states.last_finite).tolist() == [c == "F" for c in SCRIPT], name
        # Skipped steps: zero updates, params and the whole inner state untouched.
        for i in np.flatnonzero(np.asarray(applied) == 0):
            take = lambda tree, j: jax.tree.map(lambda x: x[j], tree)  # noqa: E731
            zero = jax.tree.map(jnp.zeros_like, take(updates, i))
            assert_trees_close(take(updates, i), zero, rtol=0, atol=0, what=f"{name} update {i}")
            prev_params = params if i == 0 else take(new_params, i - 1)
            assert_trees_close(take(new_params, i), prev_params, rtol=0, atol=0, what=f"{name} {i}")
            assert_trees_close(
                take(states.inner_state, i),
                take(states.inner_state, i - 1),
                rtol=0,
                atol=0,
                what=f"{name} inner state {i}",
            )
    # Both libraries agree before the first give-up step, and on its params and
    # updates (both apply it); only the reset of notfinite_count differs there.
    ours, theirs = history["optjax"], history["optax"]
    take = lambda tree, sl: jax.tree.map(lambda x: x[sl], tree)  # noqa: E731
    assert_trees_close(
        take(ours, slice(6)), take(theirs, slice(6)), rtol=1e-6, atol=0, what="prefix"
    )
    assert_trees_close(take(ours[:2], 6), take(theirs[:2], 6), rtol=1e-6, atol=0, what="give-up")


def test_apply_if_finite_with_zero_tolerance_never_skips():
    params = {"w": jnp.zeros(2), "s": jnp.zeros(())}
    tx = optjax.apply_if_finite(_counting(optjax), 0)
    _, updates, states = _run(tx, _scripted_grads("FNF"), params)
    assert np.asarray(states.inner_state).tolist() == [1, 2, 3]
    assert np.isnan(np.asarray(updates["w"][1, 0]))
    assert np.asarray(states.notfinite_count).tolist() == [0, 0, 0]


# ----------------------------------------------------------------------------
# The skip functions, against Optax.

SKIP_TREES = {
    "finite": {"a": jnp.array([1.0, -2.0]), "b": jnp.array(3.0), "c": None},
    "nan": {"a": jnp.array([NAN, -2.0]), "b": jnp.array(3.0), "c": None},
    "inf_and_nan": {"a": jnp.array([INF, NAN]), "b": jnp.array(-INF), "c": None},
    "mixed_dtypes": {"a": jnp.array([1.5, 2.0], jnp.bfloat16), "b": jnp.array(0.25)},
    "at_threshold": {"a": jnp.array([3.0, 4.0])},
}


@pytest.mark.parametrize("tree", SKIP_TREES.values(), ids=SKIP_TREES.keys())
def test_skip_functions_match_optax(tree):
    for ours, theirs in [
        (optjax.skip_not_finite, optax.skip_not_finite),
        (
            functools.partial(optjax.skip_large_updates, max_squared_norm=25.0),
            functools.partial(optax.skip_large_updates, max_squared_norm=25.0),
        ),
    ]:
        skip, info = ours(tree, jnp.int32(3), None)
        ref_skip, ref_info = theirs(tree, jnp.int32(3), None)
        assert skip.dtype == jnp.bool_ and skip.shape == ()
        assert bool(skip) == bool(ref_skip)
        assert info.keys() == ref_info.keys()
        for key in info:
            assert info[key].dtype == ref_info[key].dtype, key
            np.testing.assert_array_equal(info[key], ref_info[key], err_msg=key)


# ----------------------------------------------------------------------------
# Dynamic loss scaling.

# F: finite scaled gradients, N: an Inf in one element. N = 3, initial scale 8.
LOSS_SCALE_SCRIPT = "FFFFNFNNFFFF"
SCALE_USED = [8, 8, 8, 16, None, 8, None, None, 2, 2, 2, 4]
SCALE_AFTER = [8, 8, 16, 16, 8, 8, 4, 2, 2, 2, 4, 4]
GOOD_STEPS_AFTER = [1, 2, 0, 1, 0, 1, 0, 0, 1, 2, 0, 1]


def test_loss_scale_follows_the_keras_sequence():
    base = jnp.array([0.75, -1.5])
    grads = jnp.stack([base * s if s is not None else jnp.array([INF, 1.0]) for s in SCALE_USED])
    tx = optjax.dynamic_loss_scale(_counting(optjax), initial_scale=8.0, dynamic_growth_steps=3)
    params = {"w": jnp.zeros(2)}
    _, updates, states = _run(tx, {"w": grads}, params)
    assert np.asarray(states.scale).tolist() == SCALE_AFTER
    assert states.scale.dtype == jnp.float32
    assert np.asarray(states.good_steps).tolist() == GOOD_STEPS_AFTER
    calls = np.asarray(states.inner_state)
    assert np.diff(calls, prepend=0).tolist() == [int(s is not None) for s in SCALE_USED]
    for i, used in enumerate(SCALE_USED):
        expected = base if used is not None else jnp.zeros(2)
        np.testing.assert_array_equal(updates["w"][i], expected, err_msg=f"step {i}")


def test_float16_model_survives_an_overflow_and_keeps_training():
    keys = jax.random.split(jax.random.key(7), 3)
    x = jax.random.normal(keys[0], (32, 4)).astype(jnp.float16)
    y = (x @ jnp.array([1.0, -2.0, 0.5, 3.0], jnp.float16) + 0.5).astype(jnp.float16)
    params = {"w": jnp.zeros(4, jnp.float16), "b": jnp.zeros((), jnp.float16)}
    tx = optjax.dynamic_loss_scale(optjax.sgd(0.05, momentum=0.5), dynamic_growth_steps=5)

    def loss(params, x):
        return jnp.mean((x @ params["w"] + params["b"] - y) ** 2)

    @jax.jit
    def step(params, state, x):
        grads = jax.grad(lambda p: optjax.scale_loss(loss(p, x), state))(params)
        updates, state = tx.update(grads, state, params)
        return optjax.apply_updates(params, updates), state, grads

    state = tx.init(params)
    first_loss = float(loss(params, x))
    scales, overflowed = [], []
    for i in range(40):
        # Step 25 sees a batch whose scaled gradients overflow float16.
        batch = x * 300.0 if i == 25 else x
        new_params, state, grads = step(params, state, batch)
        finite = all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
        if not finite:
            # No parameter moved (and none became NaN), even by rounding.
            for new, old in zip(jax.tree.leaves(new_params), jax.tree.leaves(params), strict=True):
                assert new.dtype == jnp.float16
                np.testing.assert_array_equal(new, old)
        overflowed.append(not finite)
        scales.append(float(optjax.loss_scale(state)))
        params = new_params
    # 2**15 is too large for this model at first: it halves until gradients fit.
    assert overflowed[0] and overflowed[25]
    assert scales[0] == 2.0**14
    assert scales[25] == scales[24] / 2
    assert max(scales[26:]) > scales[25]  # and grows again afterwards
    assert all(np.all(np.isfinite(np.asarray(p))) for p in jax.tree.leaves(params))
    assert float(loss(params, x)) < 0.05 * first_loss


def test_unscaling_handles_scales_beyond_the_float16_range():
    # 2**17 overflows float16; dividing in float32 keeps 2.0 / 2**17 = 2**-16
    # (a float16 subnormal) exact.
    tx = optjax.dynamic_loss_scale(optjax.identity(), initial_scale=2.0**17)
    grads = {"w": jnp.array([2.0, -4.0], jnp.float16)}
    updates, _ = tx.update(grads, tx.init(grads), grads)
    assert updates["w"].dtype == jnp.float16
    np.testing.assert_array_equal(updates["w"], np.array([2.0**-16, -(2.0**-15)], np.float16))


def test_scale_loss_finds_the_scale_in_nested_states():
    params = {"w": jnp.zeros(2)}
    scaler = optjax.dynamic_loss_scale(optjax.sgd(0.1), initial_scale=64.0)
    nested = {
        "plain": scaler,
        "chain": optjax.chain(optjax.clip(1.0), scaler),
        "named_chain": optjax.named_chain(("clip", optjax.clip(1.0)), ("scaled", scaler)),
        "multisteps": optjax.MultiSteps(scaler, 2).gradient_transformation(),
        "apply_if_finite": optjax.apply_if_finite(scaler, 3),
    }
    for name, tx in nested.items():
        state = tx.init(params)
        assert float(optjax.loss_scale(state)) == 64.0, name
        assert float(optjax.scale_loss(jnp.float32(0.5), state)) == 32.0, name
    with pytest.raises(ValueError, match="found 0"):
        optjax.scale_loss(1.0, optjax.adam(1e-3).init(params))
    with pytest.raises(ValueError, match="found 2"):
        optjax.loss_scale(optjax.chain(scaler, scaler).init(params))


def test_scale_loss_works_under_jit_with_a_float16_loss():
    tx = optjax.dynamic_loss_scale(optjax.sgd(0.1), initial_scale=1024.0)
    state = tx.init({"w": jnp.zeros(2, jnp.float16)})
    scaled = jax.jit(optjax.scale_loss)(jnp.float16(0.25), state)
    assert scaled.dtype == jnp.float32 and float(scaled) == 256.0
