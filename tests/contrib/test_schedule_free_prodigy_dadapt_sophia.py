"""Schedule-Free, Prodigy, D-Adaptation AdamW and Sophia beyond the registry.

The registry (``tests/registry/modern_b.py``) compares 100-step trajectories
with ``optax.contrib``. Here: Sophia with ``obj_fn`` passed through ``update``
(as users call it) against Optax step by step, the error when it is missing,
the Hessian-refresh cadence, ``schedule_free_eval_params`` against Optax's, a
NumPy transcription of the paper's Schedule-Free SGD, the zero-denominator
fallback of the distance estimators, bad hyperparameters and convergence.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest
from harness import assert_trees_close, loss, make_params

import optjax
from optjax.contrib._sophia import scale_by_sophia

# ----------------------------------------------------------------------------
# Sophia: obj_fn passed as an extra argument, against optax.contrib.sophia.


def _sophia_run(tx, apply_updates, params, scales):
    """Scan over steps; step t's objective is ``scales[t] * loss`` (a changing batch)."""

    def step(carry, scale):
        params, state = carry
        obj_fn = lambda p: scale * loss(p)  # noqa: E731
        grads = jax.grad(obj_fn)(params)
        updates, state = tx.update(grads, state, params, obj_fn=obj_fn)
        return (apply_updates(params, updates), state), updates

    (params, state), updates = jax.lax.scan(step, (params, tx.init(params)), scales)
    return params, state, updates


SOPHIA_SETTINGS = {
    "default_key": dict(learning_rate=0.05),
    "interval=3,typed_key": dict(
        learning_rate=0.05,
        update_interval=3,
        b2=0.9,
        key=jax.random.key(5),
    ),
    "interval=1,gamma=1,clip=0.3": dict(
        learning_rate=0.1,
        update_interval=1,
        gamma=1.0,
        clip_threshold=0.3,
        key=jax.random.PRNGKey(11),
    ),
}


def _make_sophia(lib, kwargs):
    kwargs = dict(kwargs)
    key = kwargs.pop("key", None)
    module = lib.contrib if lib is optax else lib
    if key is None:
        return module.sophia(**kwargs)
    return module.sophia(
        **kwargs, hessian_diagonal_fn=module.hutchinson_estimator_diag_hessian(key)
    )


@pytest.mark.parametrize("name", sorted(SOPHIA_SETTINGS))
def test_sophia_with_obj_fn_matches_optax_step_by_step(name):
    kwargs = SOPHIA_SETTINGS[name]
    scales = jnp.linspace(1.0, 0.5, 25)

    @jax.jit
    def both(params):
        ours = _sophia_run(_make_sophia(optjax, kwargs), optjax.apply_updates, params, scales)
        ref = _sophia_run(_make_sophia(optax, kwargs), optax.apply_updates, params, scales)
        return ours, ref

    (params, state, updates), (ref_params, ref_state, ref_updates) = both(make_params())
    assert_trees_close(updates, ref_updates, rtol=1e-5, atol=1e-6, what=f"{name} updates")
    assert_trees_close(params, ref_params, rtol=1e-5, atol=1e-6, what=f"{name} params")
    assert_trees_close(state, ref_state, rtol=1e-5, atol=1e-6, what=f"{name} state")


@pytest.mark.parametrize(
    "call",
    [
        lambda tx, g, s, p: tx.update(g, s, p),
        lambda tx, g, s, p: tx.update(g, s, p, value=1.0),
        lambda tx, g, s, p: jax.jit(tx.update)(g, s, p),
    ],
    ids=["no_extra_args", "value_only", "jitted"],
)
def test_sophia_without_obj_fn_raises_type_error_saying_what_to_pass(call):
    tx = optjax.sophia(0.1)
    params = {"w": jnp.ones(3)}
    with pytest.raises(TypeError, match=r"obj_fn=") as info:
        call(tx, params, tx.init(params), params)
    assert "f(params)" in str(info.value) and "scalar loss" in str(info.value)


def test_hutchinson_rejects_missing_or_non_callable_obj_fn():
    est = optjax.hutchinson_estimator_diag_hessian()
    params = jnp.ones(2)
    with pytest.raises(TypeError, match="obj_fn"):
        est.update(params, est.init(params), params)
    with pytest.raises(TypeError, match="obj_fn must be a function"):
        est.update(params, est.init(params), params, obj_fn=3.0)
    with pytest.raises(ValueError, match="needs the current parameters"):
        est.update(params, est.init(params), obj_fn=jnp.sum)


def test_hutchinson_is_exact_for_diagonal_and_unbiased_for_coupled_hessians():
    curvature = jnp.array([1.0, 3.0, -2.0])
    diag_fn = lambda x: 0.5 * jnp.sum(curvature * x**2)  # noqa: E731
    est = optjax.hutchinson_estimator_diag_hessian(jax.random.key(0))
    x = jnp.array([0.3, -1.0, 2.0])
    out, _ = est.update(x, est.init(x), x, obj_fn=diag_fn)
    np.testing.assert_allclose(out, curvature)

    hessian = jnp.array([[2.0, 0.5, -0.3], [0.5, 1.0, 0.8], [-0.3, 0.8, 3.0]])
    coupled = lambda x: 0.5 * x @ hessian @ x  # noqa: E731

    def sample(key):
        e = optjax.hutchinson_estimator_diag_hessian(key)
        return e.update(x, e.init(x), x, obj_fn=coupled)[0]

    samples = jax.jit(jax.vmap(sample))(jax.random.split(jax.random.key(1), 4000))
    np.testing.assert_allclose(samples.mean(0), jnp.diag(hessian), atol=0.05)


def test_sophia_refreshes_the_hessian_on_steps_0_k_2k():
    calls = []

    def counting_estimator():
        def update(updates, state, params=None, **extra_args):
            # Runs inside lax.cond: report the step from the state.
            jax.debug.callback(lambda c: calls.append(int(c)), state)
            return jax.tree.map(jnp.ones_like, updates), state + 1

        return optjax.GradientTransformation(lambda p: jnp.zeros([], jnp.int32), update)

    tx = scale_by_sophia(update_interval=3, b2=0.5, hessian_diagonal_fn=counting_estimator())
    params = jnp.ones(2)
    state = tx.init(params)
    nus = []
    for _ in range(8):
        _, state = tx.update(params, state, params)
        nus.append(float(state.nu[0]))
    jax.effects_barrier()
    # Refreshed before steps 1, 4, 7 (state.count 0, 3, 6); h halves its gap to 1 each time.
    assert calls == [0, 1, 2]
    assert nus == [0.5, 0.5, 0.5, 0.75, 0.75, 0.75, 0.875, 0.875]
    assert int(state.hessian_fn_state) == 3


def test_sophia_clips_updates_and_first_step_is_sign_like():
    tx = optjax.sophia(0.1, weight_decay=0.0, clip_threshold=0.5)
    params = {"w": jnp.array([[1.0, -2.0], [0.0, 3.0]]), "b": jnp.array(0.5)}
    grads = {"w": jnp.array([[1e-3, -2.0], [0.0, 5.0]]), "b": jnp.array(-1e-12)}
    updates, _ = tx.update(grads, tx.init(params), params, obj_fn=loss)
    # h = 0 at step 1: m / eps saturates the clip except for (near-)zero gradients.
    np.testing.assert_allclose(updates["w"], [[-0.05, 0.05], [0.0, -0.05]])
    np.testing.assert_allclose(updates["b"], 1e-12 / 1e-8 * 0.1, rtol=1e-4)


# ----------------------------------------------------------------------------
# Schedule-Free: eval params against Optax, and the paper's algorithm in NumPy.


def _trajectory_with_state(tx, apply_updates, params, steps=40):
    def step(carry, _):
        params, state = carry
        grads = jax.grad(loss)(params)
        updates, state = tx.update(grads, state, params)
        return (apply_updates(params, updates), state), None

    (params, state), _ = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
    return params, state


EVAL_SETTINGS = {
    "sgd_warmup_wd": lambda m: m.schedule_free_sgd(0.2, warmup_steps=5, weight_decay=1e-2),
    "adamw_b1=0.95": lambda m: m.schedule_free_adamw(0.02, b1=0.95),
    "wrap_adam_b1=0.5": lambda m: m.schedule_free(optax.adam(0.01, b1=0.0), 0.01, b1=0.5),
}


@pytest.mark.parametrize("name", sorted(EVAL_SETTINGS))
def test_schedule_free_eval_params_match_optax(name):
    make = EVAL_SETTINGS[name]

    @jax.jit
    def both(params):
        ours = _trajectory_with_state(make(optjax), optjax.apply_updates, params)
        ref = _trajectory_with_state(make(optax.contrib), optax.apply_updates, params)
        return (
            optjax.schedule_free_eval_params(ours[1], ours[0]),
            optax.contrib.schedule_free_eval_params(ref[1], ref[0]),
            # Ours also reads Optax's state (same field names).
            optjax.schedule_free_eval_params(ref[1], ref[0]),
        )

    ours, ref, ours_on_ref = both(make_params())
    assert_trees_close(ours, ref, rtol=1e-5, atol=1e-6, what=f"{name} eval params")
    assert_trees_close(ours_on_ref, ref, rtol=0, atol=0, what=f"{name} eval of Optax state")


def test_schedule_free_eval_params_finds_the_state_in_a_chain_and_keeps_dtype():
    tx = optjax.chain(
        optjax.clip_by_global_norm(1.0),
        optjax.schedule_free_sgd(0.1, state_dtype=jnp.float32),
    )
    params = {"w": jnp.ones(3, jnp.bfloat16), "b": jnp.zeros([], jnp.bfloat16)}
    state = tx.init(params)
    updates, state = tx.update(params, state, params)
    params = optjax.apply_updates(params, updates)
    x = optjax.schedule_free_eval_params(state, params)
    assert x["w"].dtype == jnp.bfloat16 and x["b"].dtype == jnp.bfloat16
    np.testing.assert_allclose(
        np.asarray(x["w"], np.float32),
        np.asarray(optjax.schedule_free_eval_params(state[1], params)["w"], np.float32),
    )
    with pytest.raises(ValueError, match="ScheduleFreeState"):
        optjax.schedule_free_eval_params(optjax.adam(0.1).init(params), params)


def _numpy_schedule_free_sgd(grad_fn, params, lr, b1, steps, weight_decay=0.0, power=2.0):
    """Algorithm 1 of Defazio et al. (2024), storing x and z, for constant lr."""
    x = {k: v.copy() for k, v in params.items()}
    z = {k: v.copy() for k, v in params.items()}
    weight_sum = 0.0
    ys, xs = [], []
    for _ in range(steps):
        y = {k: (1 - b1) * z[k] + b1 * x[k] for k in x}
        g = grad_fn(y)
        z = {k: z[k] - lr * (g[k] + weight_decay * y[k]) for k in z}
        weight = lr**power
        weight_sum += weight
        c = weight / weight_sum
        x = {k: (1 - c) * x[k] + c * z[k] for k in x}
        ys.append({k: (1 - b1) * z[k] + b1 * x[k] for k in x})
        xs.append(x)
    return ys, xs


_TARGETS = {"w": np.linspace(-1.0, 1.0, 6).reshape(3, 2), "b": np.array([0.5, -0.5]), "s": 2.0}
_CURV = {"w": np.linspace(0.5, 3.0, 6).reshape(3, 2), "b": np.array([1.0, 4.0]), "s": 0.3}


def _np_grad(p):
    return {k: _CURV[k] * (np.asarray(p[k], np.float64) - _TARGETS[k]) for k in p}


def _jax_loss(p):
    return sum(0.5 * jnp.sum(_CURV[k] * (p[k] - _TARGETS[k]) ** 2) for k in p)


@pytest.mark.parametrize("b1, weight_decay", [(0.9, None), (0.5, 0.1)])
def test_schedule_free_sgd_matches_numpy_transcription_of_the_paper(b1, weight_decay):
    params = {
        "w": np.arange(6.0).reshape(3, 2) / 3,
        "b": np.array([1.0, 2.0]),
        "s": np.array(-1.0),
    }
    lr, steps = 0.3, 25
    ys_ref, xs_ref = _numpy_schedule_free_sgd(
        _np_grad, params, lr, b1, steps, weight_decay=weight_decay or 0.0
    )
    tx = optjax.schedule_free_sgd(lr, b1=b1, weight_decay=weight_decay)
    p = jax.tree.map(lambda v: jnp.asarray(v, jnp.float32), params)
    state = tx.init(p)
    step = jax.jit(lambda g, s, p: tx.update(g, s, p))
    for t in range(steps):
        updates, state = step(jax.grad(_jax_loss)(p), state, p)
        p = optjax.apply_updates(p, updates)
        x = optjax.schedule_free_eval_params(state, p)
        for k in params:
            np.testing.assert_allclose(p[k], ys_ref[t][k], rtol=2e-5, atol=2e-6, err_msg=k)
            np.testing.assert_allclose(x[k], xs_ref[t][k], rtol=2e-5, atol=2e-6, err_msg=k)


def test_schedule_free_x_is_the_uniform_average_of_z_for_constant_lr():
    tx = optjax.schedule_free(optjax.sgd(0.2), 0.2, b1=0.7)
    p = {"w": jnp.array([1.0, -2.0]), "b": jnp.array(3.0)}
    state = tx.init(p)
    zs = []
    for _ in range(10):
        updates, state = tx.update(jax.grad(_jax_loss_small)(p), state, p)
        p = optjax.apply_updates(p, updates)
        zs.append(state.z)
    mean_z = jax.tree.map(lambda *z: jnp.mean(jnp.stack(z), 0), *zs)
    x = optjax.schedule_free_eval_params(state, p)
    assert_trees_close(x, mean_z, rtol=1e-5, atol=1e-6, what="x vs mean z")


def _jax_loss_w(p):
    return jnp.sum((p["w"] - 1.0) ** 2)


def _jax_loss_small(p):
    return jnp.sum((p["w"] - 1.0) ** 2) + 2.0 * (p["b"] + 1.0) ** 2


# ----------------------------------------------------------------------------
# Prodigy and D-Adaptation: the zero-denominator fallback.


@pytest.mark.parametrize(
    "make",
    [
        lambda: optjax.prodigy(),
        lambda: optjax.prodigy(lambda t: jnp.minimum(t / 5.0, 1.0)),  # warmup from 0
        lambda: optjax.dadapt_adamw(),
        lambda: optjax.dadapt_adamw(lambda t: jnp.minimum(t / 5.0, 1.0)),
    ],
    ids=["prodigy_zero_grads", "prodigy_warmup_from_0", "dadapt_zero_grads", "dadapt_warmup"],
)
def test_distance_estimate_stays_finite_when_the_denominator_is_zero(make):
    tx = make()
    params = {"w": jnp.array([1.0, -1.0]), "b": jnp.array(0.5)}
    state = tx.init(params)
    zero = jax.tree.map(jnp.zeros_like, params)
    for grads in [zero, zero, jax.grad(_jax_loss_small)(params)]:
        updates, state = tx.update(grads, state, params)
        params = optjax.apply_updates(params, updates)
    assert np.isfinite(state.estim_lr) and state.estim_lr >= np.float32(1e-6)
    assert all(np.all(np.isfinite(u)) for u in jax.tree.leaves(updates))


def test_prodigy_estimate_grows_to_the_distance_scale():
    tx = optjax.prodigy()
    params = {"x": jnp.zeros(4)}
    f = lambda p: jnp.sum((p["x"] - 5.0) ** 2)  # noqa: E731
    state = tx.init(params)
    step = jax.jit(lambda p, s: tx.update(jax.grad(f)(p), s, p))
    for _ in range(100):
        updates, state = step(params, state)
        params = optjax.apply_updates(params, updates)
    # d starts at 1e-6 and must grow to the order of the distance (5) to the solution.
    assert 0.5 < float(state.estim_lr) < 50.0


# ----------------------------------------------------------------------------
# Bad hyperparameters.

BAD = [
    (lambda: optjax.schedule_free_sgd(b1=0.0), "b1"),
    (lambda: optjax.schedule_free_sgd(b1=1.5), "b1"),
    (lambda: optjax.schedule_free_sgd(warmup_steps=0), "warmup_steps"),
    (lambda: optjax.schedule_free_sgd(warmup_steps=2.5), "warmup_steps"),
    (lambda: optjax.schedule_free_sgd(weight_decay=-1.0), "weight_decay"),
    (lambda: optjax.schedule_free_sgd(learning_rate=-0.1), "learning_rate"),
    (lambda: optjax.schedule_free_sgd(weight_lr_power=-1.0), "weight_lr_power"),
    (lambda: optjax.schedule_free_adamw(b2=1.0), "b2"),
    (lambda: optjax.schedule_free_adamw(eps=-1e-8), "eps"),
    (lambda: optjax.schedule_free_adamw(weight_decay=-0.1), "weight_decay"),
    (lambda: optjax.schedule_free(optjax.sgd(0.1), 0.1, b1=-0.5), "b1"),
    (lambda: optjax.prodigy(betas=(1.0, 0.9)), r"betas\[0\]"),
    (lambda: optjax.prodigy(betas=(0.9, -0.1)), r"betas\[1\]"),
    (lambda: optjax.prodigy(betas=(0.9,)), "betas"),
    (lambda: optjax.prodigy(beta3=1.0), "beta3"),
    (lambda: optjax.prodigy(estim_lr0=0.0), "estim_lr0"),
    (lambda: optjax.prodigy(estim_lr_coef=-1.0), "estim_lr_coef"),
    (lambda: optjax.prodigy(weight_decay=-1.0), "weight_decay"),
    (lambda: optjax.prodigy(eps=-1.0), "eps"),
    (lambda: optjax.prodigy(learning_rate=-1.0), "learning_rate"),
    (lambda: optjax.dadapt_adamw(betas=(0.9, 1.0)), r"betas\[1\]"),
    (lambda: optjax.dadapt_adamw(estim_lr0=-1.0), "estim_lr0"),
    (lambda: optjax.dadapt_adamw(weight_decay=-1.0), "weight_decay"),
    (lambda: optjax.sophia(0.1, b1=1.0), "b1"),
    (lambda: optjax.sophia(0.1, b2=-0.1), "b2"),
    (lambda: optjax.sophia(0.1, gamma=-1.0), "gamma"),
    (lambda: optjax.sophia(0.1, eps=-1.0), "eps"),
    (lambda: optjax.sophia(0.1, clip_threshold=0.0), "clip_threshold"),
    (lambda: optjax.sophia(0.1, update_interval=0), "update_interval"),
    (lambda: optjax.sophia(0.1, update_interval=2.5), "update_interval"),
    (lambda: optjax.sophia(0.1, weight_decay=-1.0), "weight_decay"),
    (lambda: optjax.sophia(-0.1), "learning_rate"),
    (lambda: optjax.sophia(0.1, verbose=True), "print_win_rate_every_n_steps"),
]


@pytest.mark.parametrize("build, name", BAD, ids=[f"{i}-{b[1]}" for i, b in enumerate(BAD)])
def test_bad_hyperparameters_raise_value_error_naming_the_argument(build, name):
    with pytest.raises(ValueError, match=name):
        build()


def test_sophia_rejects_a_hessian_fn_that_is_not_a_transformation():
    with pytest.raises(TypeError, match="hessian_diagonal_fn"):
        optjax.sophia(0.1, hessian_diagonal_fn=lambda p: p)


def test_hyperparameters_may_be_traced_for_vmapped_sweeps():
    params = {"w": jnp.array([1.0, -2.0])}

    def final_loss(lr):
        tx = optjax.schedule_free_adamw(lr, b1=0.9)
        state = tx.init(params)

        def step(carry, _):
            p, s = carry
            u, s = tx.update(jax.grad(_jax_loss_w)(p), s, p)
            return (optjax.apply_updates(p, u), s), None

        (p, s), _ = jax.lax.scan(step, (params, state), None, length=5)
        return _jax_loss_w(optjax.schedule_free_eval_params(s, p))

    losses = jax.vmap(final_loss)(jnp.array([0.01, 0.1]))
    assert np.all(np.isfinite(losses)) and losses[1] < losses[0]


# ----------------------------------------------------------------------------
# Convergence on an ill-conditioned quadratic (condition number 100).

_SCALES = jnp.logspace(0, 2, 6)
_OPT = jnp.linspace(-1.0, 2.0, 6)


def _quadratic(p):
    return 0.5 * jnp.sum(_SCALES * (p["x"] - _OPT) ** 2)


_STEPS = 1500


def _cosine(t):
    return 0.5 * (1.0 + jnp.cos(jnp.pi * jnp.minimum(t, _STEPS) / _STEPS))


# Prodigy and D-Adaptation estimate the step size; like Adam they need a decaying
# multiplier to settle (the schedule their papers recommend). Schedule-Free needs
# none: its averaged iterate converges at a constant learning rate.
CONVERGENCE = {
    "prodigy": (lambda: optjax.prodigy(_cosine), False),
    "dadapt_adamw": (lambda: optjax.dadapt_adamw(_cosine), False),
    "schedule_free_adamw": (lambda: optjax.schedule_free_adamw(0.05), True),
    "schedule_free_adam_wrapper": (
        lambda: optjax.schedule_free(optjax.adam(0.05, b1=0.0), 0.05, b1=0.9),
        True,
    ),
    "sophia": (lambda: optjax.sophia(0.05, weight_decay=0.0, gamma=1.0, update_interval=5), False),
}


@functools.cache
def _converge(name):
    build, eval_params = CONVERGENCE[name]
    tx = build()
    init = {"x": jnp.zeros(6)}

    def step(carry, _):
        p, s = carry
        u, s = tx.update(jax.grad(_quadratic)(p), s, p, obj_fn=_quadratic)
        return (optjax.apply_updates(p, u), s), None

    @jax.jit
    def run():
        (p, s), _ = jax.lax.scan(step, (init, tx.init(init)), None, length=_STEPS)
        return optjax.schedule_free_eval_params(s, p) if eval_params else p

    return np.asarray(run()["x"])


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_reaches_the_minimum_of_an_ill_conditioned_quadratic(name):
    np.testing.assert_allclose(_converge(name), _OPT, atol=1e-3, err_msg=name)
