"""inject_hyperparams and its accessors, lookahead, and parameter averaging.

Trajectory parity of inject_hyperparams against Optax is in the registry
(``tests/registry/hyperparams.py``); lookahead's parameters are a
``LookaheadParams`` pair, so its Optax parity runs here with its own scan.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from harness import assert_trees_close, loss, make_params

import optjax

F32, BF16 = jnp.float32, jnp.bfloat16


def _small_params(dtype=F32):
    return {
        "w": jnp.linspace(-1.0, 1.0, 6, dtype=F32).reshape(2, 3).astype(dtype),
        "s": jnp.asarray(0.5, dtype),
        "none": None,
    }


def _quadratic_grads(params):
    return jax.tree.map(lambda x: (x.astype(F32) - 0.3).astype(x.dtype), params)


# ----------------------------------------------------------------------------
# Build-time validation.

BAD_BUILDS = [
    (
        "static_args not an argument",
        lambda: optjax.inject_hyperparams(optjax.adam, "bogus"),
        "bogus",
    ),
    ("inner value checked", lambda: optjax.inject_hyperparams(optjax.adam)(0.1, b1=1.5), "b1"),
    ("sync_period 0", lambda: optjax.lookahead(optjax.sgd(0.1), 0, 0.5), "sync_period"),
    ("sync_period negative", lambda: optjax.lookahead(optjax.sgd(0.1), -2, 0.5), "sync_period"),
    ("sync_period float", lambda: optjax.lookahead(optjax.sgd(0.1), 2.5, 0.5), "sync_period"),
    ("sync_period bool", lambda: optjax.lookahead(optjax.sgd(0.1), True, 0.5), "sync_period"),
    (
        "sync_period zero array",
        lambda: optjax.lookahead(optjax.sgd(0.1), jnp.array(0), 0.5),
        "sync_period",
    ),
    ("slow_step_size > 1", lambda: optjax.lookahead(optjax.sgd(0.1), 5, 1.5), "slow_step_size"),
    ("slow_step_size < 0", lambda: optjax.lookahead(optjax.sgd(0.1), 5, -0.1), "slow_step_size"),
    ("ema decay 1", lambda: optjax.ema_params(1.0), "decay"),
    ("ema decay negative", lambda: optjax.ema_params(-0.1), "decay"),
    ("swa start negative", lambda: optjax.swa_params(-1), "start_step"),
    ("swa start float", lambda: optjax.swa_params(1.5), "start_step"),
    ("swa period 0", lambda: optjax.swa_params(0, period=0), "period"),
]


@pytest.mark.parametrize(
    "build, match", [c[1:] for c in BAD_BUILDS], ids=[c[0] for c in BAD_BUILDS]
)
def test_bad_hyperparameters_raise_at_build_time(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_unknown_argument_raises_type_error_listing_accepted_names():
    with pytest.raises(TypeError, match="bogus") as info:
        optjax.inject_hyperparams(optjax.adam)(learning_rate=1e-3, bogus=1.0)
    message = str(info.value)
    for name in ("learning_rate", "b1", "b2", "eps", "eps_root", "mu_dtype", "nu_dtype"):
        assert repr(name) in message, message


def test_wrapped_factory_keeps_the_inner_signature():
    import inspect

    injected = optjax.inject_hyperparams(optjax.adam)
    assert inspect.signature(injected) == inspect.signature(optjax.adam)


# ----------------------------------------------------------------------------
# Float32 hyperparameters for low-precision parameters (Optax #1414, #1532).


def _adam_bf16_reference(params, steps, lr=1e-2, b1=0.9, b2=0.999, eps=1e-8):
    """Adam on bfloat16 parameters and moments with float32 hyperparameters.

    The arithmetic of one step runs in float32 (bfloat16 times a float32
    hyperparameter), each transform's output is rounded to bfloat16 (the
    gradients' dtype), and the moments are stored back in bfloat16.
    """
    lr, b1, b2, eps = (jnp.float32(v) for v in (lr, b1, b2, eps))
    mu = jax.tree.map(jnp.zeros_like, params)
    nu = jax.tree.map(jnp.zeros_like, params)
    for t in range(1, steps + 1):
        c1, c2 = 1 - b1 ** jnp.int32(t), 1 - b2 ** jnp.int32(t)
        grads = _quadratic_grads(params)
        mu32 = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, grads, mu)
        nu32 = jax.tree.map(lambda g, v: (1 - b2) * jnp.square(g) + b2 * v, grads, nu)
        direction = jax.tree.map(
            lambda m, v, c1=c1, c2=c2: ((m / c1) / (jnp.sqrt(v / c2 + 0.0) + eps)).astype(BF16),
            mu32,
            nu32,
        )
        updates = jax.tree.map(lambda d: ((-lr) * d).astype(BF16), direction)
        params = jax.tree.map(lambda p, u: (p + u).astype(BF16), params, updates)
        mu = jax.tree.map(lambda m: m.astype(BF16), mu32)
        nu = jax.tree.map(lambda v: v.astype(BF16), nu32)
    return params, mu, nu


def _run_eager(tx, apply_updates, params, steps):
    state = tx.init(params)
    for _ in range(steps):
        updates, state = tx.update(_quadratic_grads(params), state, params)
        params = apply_updates(params, updates)
    return params, state


def test_bfloat16_adam_is_finite_where_optax_gives_nan():
    params = _small_params(BF16)
    theirs, _ = _run_eager(
        optax.inject_hyperparams(optax.adam)(learning_rate=1e-2), optax.apply_updates, params, 5
    )
    # Optax stores b2=0.999 in bfloat16, where it is 1.0: 1 - b2**t = 0.
    assert not all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(theirs))

    tx = optjax.inject_hyperparams(optjax.adam)(learning_rate=1e-2)
    ours, state = _run_eager(tx, optjax.apply_updates, params, 5)
    expected, mu, nu = _adam_bf16_reference(params, 5)
    for leaf in jax.tree.leaves(ours):
        assert leaf.dtype == BF16 and bool(jnp.all(jnp.isfinite(leaf)))
    assert_trees_close(ours, expected, rtol=0, atol=0, what="bf16 adam params")
    assert_trees_close(state.inner_state[0].mu, mu, rtol=0, atol=0, what="bf16 adam mu")
    assert_trees_close(state.inner_state[0].nu, nu, rtol=0, atol=0, what="bf16 adam nu")
    assert {v.dtype for v in state.hyperparams.values()} == {jnp.dtype(F32)}
    assert not jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.all(a == b)), ours, params))


@pytest.mark.parametrize(
    "params_dtype, hyperparam_dtype, expected",
    [
        (BF16, None, F32),
        (jnp.float16, None, F32),
        (F32, None, F32),
        (BF16, BF16, BF16),
        (F32, jnp.float16, jnp.float16),
    ],
)
def test_hyperparam_dtype_policy(params_dtype, hyperparam_dtype, expected):
    tx = optjax.inject_hyperparams(optjax.adam, hyperparam_dtype=hyperparam_dtype)(1e-2)
    params = _small_params(params_dtype)
    state = tx.init(params)
    assert {v.dtype for v in state.hyperparams.values()} == {jnp.dtype(expected)}
    updates, new_state = jax.jit(tx.update)(_quadratic_grads(params), state, params)
    # Updates and the inner state keep the parameters' dtype whatever the
    # hyperparameters' precision.
    assert {u.dtype for u in jax.tree.leaves(updates)} == {jnp.dtype(params_dtype)}
    assert jax.tree.map(lambda x: x.dtype, new_state) == jax.tree.map(lambda x: x.dtype, state)


def test_float64_parameters_keep_float64_hyperparameters_under_x64():
    with jax.enable_x64(True):
        tx = optjax.inject_hyperparams(optjax.adam)(learning_rate=1e-2)
        wide = tx.init({"w": jnp.zeros(3, jnp.float64)}).hyperparams
        narrow = tx.init({"w": jnp.zeros(3, F32)}).hyperparams
    assert {v.dtype for v in wide.values()} == {jnp.dtype(jnp.float64)}
    assert {v.dtype for v in narrow.values()} == {jnp.dtype(F32)}


def test_explicit_array_dtype_is_kept():
    tx = optjax.inject_hyperparams(optjax.sgd)(learning_rate=jnp.asarray(0.5, BF16))
    assert tx.init(_small_params()).hyperparams["learning_rate"].dtype == BF16


# ----------------------------------------------------------------------------
# No recompilation, accessors.


def test_setting_the_learning_rate_never_recompiles():
    tx = optjax.inject_hyperparams(optjax.sgd)(learning_rate=0.1, momentum=0.9)
    params = _small_params()
    grads = _quadratic_grads(params)
    traces = []

    @jax.jit
    def step(state):
        traces.append(1)
        return tx.update(grads, state, params)

    state = tx.init(params)
    first, state = step(state)
    state = optjax.set_hyperparams(state, learning_rate=0.5)
    second, state = step(state)
    state = optjax.set_hyperparams(state, learning_rate=1, momentum=jnp.float32(0.0))
    third, state = step(state)
    assert len(traces) == 1
    g = grads["w"]
    np.testing.assert_allclose(first["w"], -0.1 * g, rtol=1e-6)
    np.testing.assert_allclose(second["w"], -0.5 * (g + 0.9 * g), rtol=1e-6)
    np.testing.assert_allclose(third["w"], -1.0 * g, rtol=1e-6)
    assert optjax.get_hyperparams(state)["learning_rate"].dtype == F32


def _nested_states():
    inject = optjax.inject_hyperparams(optjax.adamw)
    params = _small_params()
    return {
        "top": inject(learning_rate=1e-2).init(params),
        "chain": optjax.chain(optjax.clip(1.0), inject(learning_rate=1e-2)).init(params),
        "named_chain": optjax.named_chain(
            ("clip", optjax.clip(1.0)), ("opt", inject(learning_rate=1e-2))
        ).init(params),
        "masked": optjax.masked(
            inject(learning_rate=1e-2), {"w": True, "s": False, "none": None}
        ).init(params),
        "optax_state": optax.inject_hyperparams(optax.adamw)(learning_rate=1e-2).init(params),
    }


@pytest.mark.parametrize("where", list(_nested_states()))
def test_get_and_set_find_the_injected_state_anywhere(where):
    state = _nested_states()[where]
    hyperparams = optjax.get_hyperparams(state)
    assert set(hyperparams) == {"learning_rate", "b1", "b2", "eps", "eps_root", "weight_decay"}
    np.testing.assert_allclose(hyperparams["learning_rate"], 1e-2)
    new_state = optjax.set_hyperparams(state, learning_rate=3e-4, weight_decay=0.5)
    assert jax.tree.structure(new_state) == jax.tree.structure(state)
    new_values = optjax.get_hyperparams(new_state)
    np.testing.assert_allclose(new_values["learning_rate"], 3e-4)
    np.testing.assert_allclose(new_values["weight_decay"], 0.5)
    assert new_values["learning_rate"].dtype == hyperparams["learning_rate"].dtype
    # The input state is untouched.
    np.testing.assert_allclose(optjax.get_hyperparams(state)["learning_rate"], 1e-2)


def test_set_unknown_name_lists_the_names_present():
    state = optjax.inject_hyperparams(optjax.sgd)(0.1, momentum=0.9).init(_small_params())
    with pytest.raises(KeyError, match=r"lr.*learning_rate.*momentum"):
        optjax.set_hyperparams(state, lr=0.2)


SET_ERRORS = [
    (
        "scheduled",
        lambda: optjax.inject_hyperparams(optjax.sgd)(optjax.linear_schedule(0.1, 0.0, 10)),
        {"learning_rate": 0.5},
        ValueError,
        "schedule",
    ),
    (
        "float into int slot",
        lambda: optjax.inject_hyperparams(optjax.apply_every)(k=2),
        {"k": 2.5},
        TypeError,
        "int32",
    ),
    (
        "ambiguous",
        lambda: optjax.chain(
            optjax.inject_hyperparams(optjax.sgd)(0.1), optjax.inject_hyperparams(optjax.sgd)(0.2)
        ),
        {"learning_rate": 0.5},
        ValueError,
        "several",
    ),
    ("no injected state", lambda: optjax.adam(0.1), {"learning_rate": 0.5}, ValueError, "no"),
]


@pytest.mark.parametrize(
    "build, values, error, match", [c[1:] for c in SET_ERRORS], ids=[c[0] for c in SET_ERRORS]
)
def test_set_hyperparams_errors(build, values, error, match):
    state = build().init(_small_params())
    with pytest.raises(error, match=match):
        optjax.set_hyperparams(state, **values)


def test_disjoint_injected_states_merge_and_ints_can_be_set():
    tx = optjax.chain(
        optjax.inject_hyperparams(optjax.clip_by_global_norm)(max_norm=1.0),
        optjax.inject_hyperparams(optjax.apply_every)(k=2),
    )
    state = optjax.set_hyperparams(tx.init(_small_params()), max_norm=2.0, k=3)
    values = optjax.get_hyperparams(state)
    assert float(values["max_norm"]) == 2.0 and int(values["k"]) == 3
    assert values["k"].dtype == jnp.int32


# ----------------------------------------------------------------------------
# vmap sweeps, schedules and pass-through arguments.


def test_learning_rate_sweep_under_vmap_equals_separate_runs():
    tx = optjax.inject_hyperparams(optjax.adam)(learning_rate=1e-2)
    params = make_params()
    traces = []

    def run(learning_rate):
        state = optjax.set_hyperparams(tx.init(params), learning_rate=learning_rate)

        def step(carry, _):
            p, s = carry
            updates, s = tx.update(jax.grad(loss)(p), s, p)
            return (optjax.apply_updates(p, updates), s), None

        (final, _), _ = jax.lax.scan(step, (params, state), None, length=20)
        return final

    @jax.jit
    def sweep(learning_rates):
        traces.append(1)
        return jax.vmap(run)(learning_rates)

    single = jax.jit(run)
    learning_rates = jnp.array([1e-3, 1e-2, 3e-2, 1e-1])
    swept = sweep(learning_rates)
    sweep(learning_rates * 2)
    assert len(traces) == 1
    for i, lr in enumerate(learning_rates):
        row = jax.tree.map(lambda x, i=i: x[i], swept)
        assert_trees_close(row, single(lr), rtol=1e-6, atol=1e-7, what=f"lr={lr}")
    first = jax.tree.leaves(jax.tree.map(lambda x: x[0], swept))[0]
    last = jax.tree.leaves(jax.tree.map(lambda x: x[-1], swept))[0]
    assert not np.allclose(first, last)


def test_any_numeric_hyperparameter_may_follow_a_schedule():
    b1 = optjax.linear_schedule(0.5, 0.9, 4)
    tx = optjax.inject_hyperparams(optjax.scale_by_adam)(b1=b1, eps=1e-3)
    params = _small_params()
    grads = _quadratic_grads(params)
    state = tx.init(params)
    seen = [float(state.hyperparams["b1"])]
    mu = jax.tree.map(jnp.zeros_like, params)
    for t in range(5):
        updates, state = tx.update(grads, state, params)
        # Step t uses the schedule's value at count t, stored in the state.
        seen.append(float(state.hyperparams["b1"]))
        mu = jax.tree.map(lambda g, m, t=t: (1 - b1(t)) * g + b1(t) * m, grads, mu)
        np.testing.assert_allclose(state.inner_state.mu["w"], mu["w"], rtol=1e-6)
    np.testing.assert_allclose(seen, [0.5, 0.5, 0.6, 0.7, 0.8, 0.9], rtol=1e-6)
    assert int(state.hyperparams_states["b1"].count) == 5


def test_stateful_schedule_sees_extra_args():
    class LossScaled:
        """A learning rate of 0.1 * loss, with a step counter as its state."""

        def init(self):
            return jnp.zeros([], jnp.int32)

        def update(self, state, **extra_args):
            return state + 1

        def __call__(self, state, **extra_args):
            return 0.1 * extra_args.get("value", 1.0)

    tx = optjax.inject_hyperparams(optjax.sgd)(learning_rate=LossScaled())
    params = _small_params()
    updates, state = tx.update(_quadratic_grads(params), tx.init(params), params, value=3.0)
    np.testing.assert_allclose(updates["w"], -0.3 * _quadratic_grads(params)["w"], rtol=1e-6)
    assert int(state.hyperparams_states["learning_rate"]) == 1


def test_static_and_non_numeric_arguments_pass_through():
    tx = optjax.inject_hyperparams(optjax.adam)(1e-2, mu_dtype=BF16, nesterov=True)
    params = _small_params()
    state = tx.init(params)
    assert set(state.hyperparams) == {"learning_rate", "b1", "b2", "eps", "eps_root"}
    assert state.inner_state[0].mu["w"].dtype == BF16
    updates, _ = tx.update(_quadratic_grads(params), state, params)
    reference, _ = optjax.adam(1e-2, mu_dtype=BF16, nesterov=True).update(
        _quadratic_grads(params), optjax.adam(1e-2, mu_dtype=BF16).init(params), params
    )
    assert_trees_close(updates, reference, rtol=1e-6, atol=1e-7, what="nesterov passed through")

    def matrices(p):
        return jax.tree.map(lambda x: x.ndim == 2, p)

    masked_decay = optjax.inject_hyperparams(optjax.add_decayed_weights, static_args=("mask",))(
        0.5, mask=matrices
    )
    updates, _ = masked_decay.update(_quadratic_grads(params), masked_decay.init(params), params)
    np.testing.assert_allclose(updates["w"], _quadratic_grads(params)["w"] + 0.5 * params["w"])
    np.testing.assert_allclose(updates["s"], _quadratic_grads(params)["s"])


@pytest.mark.parametrize(
    "mask, returned",
    [
        (lambda p: jax.tree.map(lambda x: x.ndim == 2, p), "returned False"),  # bool from a count
        (lambda p: {k: v.ndim > 1 for k, v in p.items()}, "calling it with a step count failed"),
    ],
    ids=["returns-a-bool", "raises"],
)
def test_a_mask_function_without_static_args_is_a_clear_error(mask, returned):
    with pytest.raises(TypeError) as error:
        optjax.inject_hyperparams(optjax.adamw)(1e-3, mask=mask)
    message = str(error.value)
    assert "'mask' is callable, so it is taken as a schedule" in message
    assert returned in message and "static_args=('mask',)" in message


def test_inject_stateful_hyperparams_is_a_deprecated_alias():
    with pytest.deprecated_call():
        injected = optjax.inject_stateful_hyperparams(optjax.sgd)
    tx = injected(learning_rate=0.1)
    params = _small_params()
    state = tx.init(params)
    assert isinstance(state, optjax.InjectStatefulHyperparamsState)
    updates, _ = tx.update(_quadratic_grads(params), state, params)
    np.testing.assert_allclose(updates["w"], -0.1 * _quadratic_grads(params)["w"], rtol=1e-6)


# ----------------------------------------------------------------------------
# Lookahead: parity with Optax over 50 steps, every leaf.

LOOKAHEAD_SETTINGS = [
    ("sgd/k=5/a=0.5", lambda lib: lib.lookahead(lib.sgd(0.05), 5, 0.5)),
    ("adam/k=3/a=0.8/reset", lambda lib: lib.lookahead(lib.adam(1e-2), 3, 0.8, reset_state=True)),
    (
        "momentum/k=1/a=0.3/reset",
        lambda lib: lib.lookahead(lib.sgd(0.05, momentum=0.9), 1, 0.3, reset_state=True),
    ),
    ("adamw/k=7/a=1.0", lambda lib: lib.lookahead(lib.adamw(1e-2, weight_decay=0.1), 7, 1.0)),
]


def _lookahead_run(lib, make, params, steps=50):
    tx = make(lib)
    pair = lib.LookaheadParams.init_synced(params)

    def step(carry, _):
        pair, state = carry
        updates, state = tx.update(jax.grad(loss)(pair.fast), state, pair)
        return (lib.apply_updates(pair, updates), state), updates

    (pair, state), updates = jax.lax.scan(step, (pair, tx.init(pair)), None, length=steps)
    return pair, state, updates


@pytest.mark.parametrize(
    "make", [s[1] for s in LOOKAHEAD_SETTINGS], ids=[s[0] for s in LOOKAHEAD_SETTINGS]
)
def test_lookahead_matches_optax(make):
    params = make_params()
    ours, theirs = jax.jit(
        lambda p: (_lookahead_run(optjax, make, p), _lookahead_run(optax, make, p))
    )(params)
    for what, a, b in zip(("params", "state", "updates"), ours, theirs):
        assert_trees_close(a, b, rtol=1e-5, atol=1e-6, what=f"lookahead {what}")
    # The run is not trivial: the slow weights moved.
    assert not np.allclose(ours[0].slow["nested"]["w"], params["nested"]["w"])


def test_lookahead_synchronizes_every_k_steps():
    tx = optjax.lookahead(optjax.sgd(0.1), sync_period=3, slow_step_size=0.5)
    pair = optjax.LookaheadParams.init_synced({"w": jnp.array([1.0]), "none": None})
    state = tx.init(pair)
    for t in range(1, 7):
        updates, state = tx.update({"w": jnp.array([1.0]), "none": None}, state, pair)
        pair = optjax.apply_updates(pair, updates)
        assert int(state.steps_since_sync) == t % 3
    # Six unit-gradient steps of 0.1; slow weights move half way every 3 steps.
    np.testing.assert_allclose(pair.slow["w"], [1.0 - 0.15 - 0.15], rtol=1e-6)
    np.testing.assert_allclose(pair.fast["w"], pair.slow["w"])


def test_lookahead_init_accepts_fast_params_and_update_needs_the_pair():
    tx = optjax.lookahead(optjax.adam(1e-2), 2, 0.5)
    params = _small_params()
    assert_trees_close(
        tx.init(params),
        tx.init(optjax.LookaheadParams.init_synced(params)),
        rtol=0,
        atol=0,
        what="init",
    )
    with pytest.raises(ValueError, match="LookaheadParams"):
        tx.update(_quadratic_grads(params), tx.init(params), params)


def test_lookahead_forwards_extra_args_to_the_fast_optimizer():
    tx = optjax.lookahead(optjax.polyak_sgd(max_learning_rate=1.0), 4, 0.5)
    params = {"w": jnp.array([2.0, -1.0])}
    grads = {"w": jnp.array([1.0, 1.0])}
    updates, _ = tx.update(
        grads, tx.init(params), optjax.LookaheadParams.init_synced(params), value=jnp.float32(1.0)
    )
    direct, _ = optjax.polyak_sgd(max_learning_rate=1.0).update(
        grads, optjax.polyak_sgd(1.0).init(params), params, value=jnp.float32(1.0)
    )
    np.testing.assert_allclose(updates.fast["w"], direct["w"], rtol=1e-6)
    np.testing.assert_allclose(updates.slow["w"], [0.0, 0.0])


# ----------------------------------------------------------------------------
# Parameter averaging: closed forms.

GRADS = jnp.array([[1.0, -2.0, 0.5], [0.3, 0.1, -1.0], [-0.7, 0.4, 2.0], [1.5, -0.2, 0.0]] * 3)


def _averaging_run(average, dtype=F32):
    """sgd(0.5) then ``average`` on a known gradient sequence.

    Returns the parameter sequence theta_0..theta_T (as float64) and the
    averaged parameters after each step.
    """
    tx = optjax.chain(optjax.sgd(0.5), average)
    params = {"w": jnp.asarray([0.2, -0.4, 1.0], dtype), "s": jnp.asarray(0.5, dtype), "none": None}

    @jax.jit
    def run(params):
        def step(carry, g):
            p, s = carry
            grads = {"w": g.astype(dtype), "s": jnp.sum(g).astype(dtype), "none": None}
            updates, s = tx.update(grads, s, p)
            p = optjax.apply_updates(p, updates)
            return (p, s), (p, optjax.averaged_params(s))

        _, (thetas, averages) = jax.lax.scan(step, (params, tx.init(params)), GRADS)
        return thetas, averages

    thetas, averages = run(params)
    thetas = jax.tree.map(
        lambda p0, ps: np.concatenate(
            [np.asarray(p0, np.float64)[None], np.asarray(ps, np.float64)]
        ),
        params,
        thetas,
    )
    return thetas, averages


@pytest.mark.parametrize("decay", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("debias", [True, False])
def test_ema_params_matches_the_closed_form(decay, debias):
    thetas, averages = _averaging_run(optjax.ema_params(decay, debias=debias))
    for name in ("w", "s"):
        theta = thetas[name]
        for t in range(1, len(theta)):
            weights = np.array([(1 - decay) * decay ** (t - k) for k in range(1, t + 1)])
            expected = np.tensordot(weights, theta[1 : t + 1], axes=1)
            if debias:
                expected = expected / (1 - decay**t)
            else:
                expected = expected + decay**t * theta[0]
            np.testing.assert_allclose(averages[name][t - 1], expected, rtol=2e-6, atol=1e-6)


SWA_SETTINGS = [(0, 1), (1, 1), (5, 1), (3, 4), (0, 5), (50, 1)]


@pytest.mark.parametrize("start_step, period", SWA_SETTINGS)
def test_swa_params_is_the_mean_of_the_selected_iterates(start_step, period):
    thetas, averages = _averaging_run(optjax.swa_params(start_step, period=period))
    for name in ("w", "s"):
        theta = thetas[name]
        for t in range(1, len(theta)):
            chosen = [k for k in range(t + 1) if k >= start_step and (k - start_step) % period == 0]
            # Before the first averaged step, the average follows the parameters.
            expected = theta[chosen].mean(axis=0) if chosen else theta[t]
            np.testing.assert_allclose(averages[name][t - 1], expected, rtol=2e-6, atol=1e-6)


def test_averages_of_bfloat16_params_in_a_float32_accumulator():
    for average, closed_form in [
        (
            optjax.ema_params(0.5, debias=False, accumulator_dtype=F32),
            lambda th, t: (
                sum(0.5 * 0.5 ** (t - k) * th[k] for k in range(1, t + 1)) + 0.5**t * th[0]
            ),
        ),
        (
            optjax.swa_params(0, accumulator_dtype=F32),
            lambda th, t: th[: t + 1].mean(axis=0),
        ),
    ]:
        thetas, averages = _averaging_run(average, dtype=BF16)
        assert averages["w"].dtype == F32
        for t in range(1, len(thetas["w"])):
            np.testing.assert_allclose(
                averages["w"][t - 1], closed_form(thetas["w"], t), rtol=1e-6, atol=1e-6
            )


def test_averaging_leaves_updates_unchanged_and_needs_params():
    params = _small_params()
    grads = _quadratic_grads(params)
    for average in (optjax.ema_params(0.9), optjax.swa_params(2)):
        tx = optjax.chain(optjax.adam(1e-2), average)
        updates, _ = tx.update(grads, tx.init(params), params)
        reference, _ = optjax.adam(1e-2).update(grads, optjax.adam(1e-2).init(params), params)
        assert_trees_close(updates, reference, rtol=0, atol=0, what="pass-through")
        with pytest.raises(ValueError, match="params"):
            tx.update(grads, tx.init(params))


def test_averaged_params_finds_the_state_and_rejects_ambiguity():
    params = _small_params()
    nested = optjax.named_chain(
        ("opt", optjax.sgd(0.1)),
        ("avg", optjax.masked(optjax.ema_params(0.9), {"w": True, "s": False, "none": None})),
    )
    averaged = optjax.averaged_params(nested.init(params))
    np.testing.assert_allclose(averaged["w"], params["w"])
    assert isinstance(averaged["s"], optjax.MaskedNode)
    with pytest.raises(ValueError, match="no"):
        optjax.averaged_params(optjax.sgd(0.1).init(params))
    both = optjax.chain(optjax.ema_params(0.9), optjax.swa_params(0))
    with pytest.raises(ValueError, match="2"):
        optjax.averaged_params(both.init(params))


def test_ema_params_equals_a_loop_of_incremental_update():
    decay = 0.8
    thetas, averages = _averaging_run(optjax.ema_params(decay, debias=False))
    target = {"w": jnp.asarray(thetas["w"][0], F32)}
    for t in range(1, len(thetas["w"])):
        target = optax.incremental_update(
            {"w": jnp.asarray(thetas["w"][t], F32)}, target, 1 - decay
        )
        np.testing.assert_allclose(averages["w"][t - 1], target["w"], rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------
# incremental_update and periodic_update agree with Optax.


@pytest.mark.parametrize("step_size", [0.0, 0.3, 1.0, jnp.float32(0.7)])
def test_incremental_update_matches_optax(step_size):
    new = {"a": jnp.array([1.0, -2.0]), "b": jnp.asarray(3.0), "none": None}
    old = {"a": jnp.array([0.5, 4.0]), "b": jnp.asarray(-1.0), "none": None}
    ours = optjax.incremental_update(new, old, step_size)
    theirs = optax.incremental_update(new, old, step_size)
    assert_trees_close(ours, theirs, rtol=0, atol=0, what="incremental_update")


@pytest.mark.parametrize("steps, period", [(0, 2), (1, 2), (4, 2), (5, 3), (jnp.int32(6), 3)])
def test_periodic_update_matches_optax(steps, period):
    new = {"a": jnp.array([1.0, -2.0]), "b": jnp.asarray(3.0)}
    old = {"a": jnp.array([0.5, 4.0]), "b": jnp.asarray(-1.0)}
    ours = optjax.periodic_update(new, old, steps, period)
    theirs = optax.periodic_update(new, old, steps, period)
    assert_trees_close(ours, theirs, rtol=0, atol=0, what="periodic_update")


# ----------------------------------------------------------------------------
# flax.nnx.Optimizer wraps state arrays in variables: the accessors unwrap them.


def test_accessors_under_flax_nnx_optimizer():
    from flax import nnx

    class Linear(nnx.Module):
        def __init__(self, rngs):
            self.layer = nnx.Linear(3, 2, rngs=rngs)

        def __call__(self, x):
            return self.layer(x)

    x = jnp.linspace(-1.0, 1.0, 12).reshape(4, 3)
    tx = optjax.chain(
        optjax.inject_hyperparams(optjax.adam)(learning_rate=1e-2),
        optjax.ema_params(0.5, debias=False),
    )
    model = Linear(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    before = jax.tree.map(np.asarray, nnx.to_pure_dict(nnx.state(model, nnx.Param)))

    @nnx.jit
    def step(model, optimizer):
        grads = nnx.grad(lambda m: jnp.mean(m(x) ** 2))(model)
        optimizer.update(model, grads)

    step(model, optimizer)
    hyperparams = optjax.get_hyperparams(optimizer.opt_state)
    assert isinstance(hyperparams["learning_rate"], jax.Array)
    np.testing.assert_allclose(hyperparams["learning_rate"], 1e-2)
    after = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    averaged = nnx.to_pure_dict(optjax.averaged_params(optimizer.opt_state))
    expected = jax.tree.map(lambda a, b: 0.5 * a + 0.5 * b, before, after)
    assert_trees_close(averaged, expected, rtol=1e-6, atol=1e-7, what="nnx ema")
