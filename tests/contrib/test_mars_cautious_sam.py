"""MARS and the cautious wrapper against NumPy references; SAM's opaque mode against Optax.

The references are plain NumPy (float64) transcriptions of the papers'
algorithm boxes and official code, independent of optjax's tree helpers; the
JAX side runs in float64 too, so the comparison is tight. The registry
(``registry/modern_d.py``) covers SAM's transparent mode against
``optax.contrib.sam``; the contract checks for the optimizers Optax lacks run
here, through the same functions as ``test_contract.py``.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest
import test_contract as contract
from registry import Case

import optjax

STEPS = 25
RTOL, ATOL = 1e-9, 1e-12

_TARGETS = {"w": 1.0, "b": -0.5, "s": 2.0}
_SCALES = {"w": 1.5, "b": 0.7, "s": 3.0}


def _initial_params():
    rng = np.random.default_rng(0)
    return {
        "w": rng.normal(size=(3, 4)),
        "b": rng.normal(size=(4,)),
        "s": np.asarray(0.3),
    }


def _numpy_grad(params):
    """A smooth, non-quadratic gradient, leaf by leaf (NumPy side)."""
    return {k: _SCALES[k] * (p - _TARGETS[k]) + 0.2 * np.cos(2.0 * p) for k, p in params.items()}


def _jax_grad(params):
    return {k: _SCALES[k] * (p - _TARGETS[k]) + 0.2 * jnp.cos(2.0 * p) for k, p in params.items()}


@functools.cache
def _compiled_trajectory(tx):
    @jax.jit
    def run(params):
        def step(carry, _):
            params, state = carry
            updates, state = tx.update(_jax_grad(params), state, params)
            params = optjax.apply_updates(params, updates)
            return (params, state), params

        _, history = jax.lax.scan(step, (params, tx.init(params)), None, length=STEPS)
        return history

    return run


def _jax_trajectory(tx):
    """Params after every step, shape (STEPS, ...) per leaf, computed in float64."""
    with jax.enable_x64(True):
        params = jax.tree.map(jnp.asarray, _initial_params())
        history = _compiled_trajectory(tx)(params)
        return jax.tree.map(np.asarray, history)


def _assert_trajectories_close(history, reference):
    for t, expected in enumerate(reference):
        for k in expected:
            np.testing.assert_allclose(
                history[k][t], expected[k], rtol=RTOL, atol=ATOL, err_msg=f"step {t + 1}, {k}"
            )


# ---------------------------------------------------------------------------
# NumPy references.


def _numpy_adam_direction(m, v, g, b1, b2, eps, t):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    denom = (np.sqrt(v) / np.sqrt(1 - b2**t) + eps) * (1 - b1**t)
    return m / denom, m, v


def numpy_mars(
    lr=3e-3,
    b1=0.95,
    b2=0.99,
    gamma=0.025,
    eps=1e-8,
    wd=0.0,
    lion=False,
    optimize_1d=False,
    betas_1d=(0.9, 0.95),
):
    """Approximate MARS (Yuan et al. 2024, Alg. 1 with the official per-tensor clip)."""
    params = _initial_params()
    m = {k: np.zeros_like(p) for k, p in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    last = {k: np.zeros_like(p) for k, p in params.items()}
    history = []
    for t in range(1, STEPS + 1):
        grads = _numpy_grad(params)
        new_params = {}
        for k, p in params.items():
            g = grads[k]
            if p.ndim >= 2 or optimize_1d:
                c = g + gamma * b1 / (1 - b1) * (g - last[k])
                norm = np.linalg.norm(c)
                if norm > 1:
                    c = c / norm
                if lion:
                    m[k] = b1 * m[k] + (1 - b1) * c
                    direction = np.sign(m[k])
                else:
                    direction, m[k], v[k] = _numpy_adam_direction(m[k], v[k], c, b1, b2, eps, t)
            else:
                direction, m[k], v[k] = _numpy_adam_direction(m[k], v[k], g, *betas_1d, eps, t)
            new_params[k] = p - lr * (direction + wd * p)
            last[k] = g
        params = new_params
        history.append(params)
    return history


def _cautious_scale(direction, g):
    """The paper's mask on a direction to subtract, normalized per tensor."""
    mask = (direction * g > 0).astype(np.float64)
    return mask / max(mask.mean(), 1e-3)


def numpy_cautious_adamw(lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, mask_decay=False):
    """C-AdamW (Liang et al. 2024, Alg. 2); ``mask_decay`` masks ``d + wd * p`` instead."""
    params = _initial_params()
    m = {k: np.zeros_like(p) for k, p in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    history = []
    for t in range(1, STEPS + 1):
        grads = _numpy_grad(params)
        new_params = {}
        for k, p in params.items():
            g = grads[k]
            direction, m[k], v[k] = _numpy_adam_direction(m[k], v[k], g, b1, b2, eps, t)
            if mask_decay:
                direction = direction + wd * p
                new_params[k] = p - lr * _cautious_scale(direction, g) * direction
            else:
                new_params[k] = p - lr * (_cautious_scale(direction, g) * direction + wd * p)
        params = new_params
        history.append(params)
    return history


def numpy_cautious_lion(lr, b1=0.9, b2=0.99, wd=0.0):
    """C-Lion (Liang et al. 2024): Lion's sign step, masked; decay unmasked."""
    params = _initial_params()
    m = {k: np.zeros_like(p) for k, p in params.items()}
    history = []
    for _ in range(STEPS):
        grads = _numpy_grad(params)
        new_params = {}
        for k, p in params.items():
            g = grads[k]
            direction = np.sign(b1 * m[k] + (1 - b1) * g)
            new_params[k] = p - lr * (_cautious_scale(direction, g) * direction + wd * p)
            m[k] = b2 * m[k] + (1 - b2) * g
        params = new_params
        history.append(params)
    return history


# ---------------------------------------------------------------------------
# MARS against NumPy.

MARS_CASES = {
    "adamw/default": (lambda: optjax.mars_adamw(), {}),
    "adamw/lr,wd,gamma": (
        lambda: optjax.mars_adamw(0.2, gamma=0.1, weight_decay=0.01),
        dict(lr=0.2, gamma=0.1, wd=0.01),
    ),
    "adamw/optimize_1d,b2": (
        lambda: optjax.mars_adamw(0.05, b2=0.9, optimize_1d=True),
        dict(lr=0.05, b2=0.9, optimize_1d=True),
    ),
    "adamw/betas_1d,eps": (
        lambda: optjax.mars_adamw(0.02, eps=1e-3, b1_1d=0.5, b2_1d=0.8),
        dict(lr=0.02, eps=1e-3, betas_1d=(0.5, 0.8)),
    ),
    "lion/default": (lambda: optjax.mars_lion(), dict(lion=True)),
    "lion/lr,wd,b1": (
        lambda: optjax.mars_lion(0.02, b1=0.9, gamma=0.05, weight_decay=0.3),
        dict(lion=True, lr=0.02, b1=0.9, gamma=0.05, wd=0.3),
    ),
    "lion/optimize_1d": (
        lambda: optjax.mars_lion(0.01, optimize_1d=True),
        dict(lion=True, lr=0.01, optimize_1d=True),
    ),
}


@pytest.mark.parametrize("name", sorted(MARS_CASES))
def test_mars_matches_numpy_reference(name):
    make, kwargs = MARS_CASES[name]
    _assert_trajectories_close(_jax_trajectory(make()), numpy_mars(**kwargs))


def test_mars_clipping_is_active_then_inactive_in_the_reference_run():
    """In the "lr,wd,gamma" run the matrix's corrected gradient crosses unit norm."""
    history = [_initial_params()] + numpy_mars(lr=0.2, gamma=0.1, wd=0.01)[:-1]
    grads = [_numpy_grad(p)["w"] for p in history]
    coefficient = 0.1 * 0.95 / 0.05
    norms = [np.linalg.norm(grads[0] * (1 + coefficient))] + [
        np.linalg.norm(g + coefficient * (g - prev)) for prev, g in zip(grads, grads[1:])
    ]
    assert max(norms) > 1 and min(norms) < 1


def test_mars_non_matrix_leaves_follow_plain_adamw():
    """Biases and scalars get AdamW with betas (0.9, 0.95); matrices do not."""
    mars = _jax_trajectory(optjax.mars_adamw(0.05, weight_decay=0.1))
    adamw = _jax_trajectory(optjax.adamw(0.05, b1=0.9, b2=0.95, weight_decay=0.1))
    for k in ("b", "s"):
        np.testing.assert_allclose(mars[k], adamw[k], rtol=1e-12, atol=1e-14)
    assert not np.allclose(mars["w"], adamw["w"])


def test_mars_gamma_zero_is_clipped_adam_and_gamma_schedule_works():
    constant = _jax_trajectory(optjax.mars_adamw(0.05, gamma=0.1))
    schedule = _jax_trajectory(optjax.mars_adamw(0.05, gamma=lambda count: 0.1))
    np.testing.assert_allclose(schedule["w"], constant["w"], rtol=1e-12)
    no_correction = _jax_trajectory(optjax.mars_adamw(0.05, gamma=0.0))
    _assert_trajectories_close(no_correction, numpy_mars(lr=0.05, gamma=0.0))


def test_mars_state_keeps_the_previous_gradient():
    tx = optjax.scale_by_mars()
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
    grads = {"w": jnp.full((2, 2), 0.25), "b": jnp.full((2,), -0.5)}
    _, state = tx.update(grads, tx.init(params))
    assert int(state.count) == 1
    np.testing.assert_array_equal(state.prev_grad["w"], grads["w"])
    np.testing.assert_array_equal(state.prev_grad["b"], grads["b"])


# ---------------------------------------------------------------------------
# Cautious against NumPy.

CAUTIOUS_CASES = {
    "c_adamw/paper": (
        lambda: optjax.chain(
            optjax.cautious(optjax.scale_by_adam(), descent=False),
            optjax.add_decayed_weights(0.1),
            optjax.scale_by_learning_rate(0.05),
        ),
        lambda: numpy_cautious_adamw(0.05, wd=0.1),
    ),
    "c_adamw/wrapping_adamw": (
        lambda: optjax.cautious(optjax.adamw(0.05, weight_decay=0.1)),
        lambda: numpy_cautious_adamw(0.05, wd=0.1, mask_decay=True),
    ),
    "c_adamw/wrapping_optax_adamw": (
        lambda: optjax.cautious(optax.adamw(0.05, b1=0.8, b2=0.9, weight_decay=0.1)),
        lambda: numpy_cautious_adamw(0.05, b1=0.8, b2=0.9, wd=0.1, mask_decay=True),
    ),
    "c_adamw/wrapping_optax_adam": (
        lambda: optjax.cautious(optax.adam(0.03)),
        lambda: numpy_cautious_adamw(0.03),
    ),
    "c_lion/wrapping_lion": (
        lambda: optjax.cautious(optjax.lion(0.02, weight_decay=0.0)),
        lambda: numpy_cautious_lion(0.02),
    ),
    "c_lion/paper": (
        lambda: optjax.chain(
            optjax.cautious(optjax.scale_by_lion(b1=0.8, b2=0.9), descent=False),
            optjax.add_decayed_weights(0.2),
            optjax.scale_by_learning_rate(0.02),
        ),
        lambda: numpy_cautious_lion(0.02, b1=0.8, b2=0.9, wd=0.2),
    ),
}


@pytest.mark.parametrize("name", sorted(CAUTIOUS_CASES))
def test_cautious_matches_numpy_reference(name):
    make, reference = CAUTIOUS_CASES[name]
    _assert_trajectories_close(_jax_trajectory(make()), reference())


def test_cautious_masks_something_in_the_reference_runs():
    """Guard: the references above really drop entries (else they would test nothing)."""
    history = _jax_trajectory(optjax.cautious(optjax.adamw(0.05, weight_decay=0.1)))
    plain = _jax_trajectory(optjax.adamw(0.05, weight_decay=0.1))
    assert not np.allclose(history["w"], plain["w"])


def test_cautious_passes_the_inner_state_through():
    inner = optjax.sgd(0.1, momentum=0.9)
    tx = optjax.cautious(inner)
    params = {"w": jnp.zeros(3)}
    grads = {"w": jnp.array([1.0, -2.0, 0.5])}
    _, state = tx.update(grads, tx.init(params), params)
    _, inner_state = inner.update(grads, inner.init(params), params)
    assert isinstance(state, optjax.CautiousState)
    for a, b in zip(jax.tree.leaves(state.inner_state), jax.tree.leaves(inner_state)):
        np.testing.assert_array_equal(a, b)


def test_cautious_sign_convention_and_normalization():
    """Descent updates agree with the gradient where their signs are opposite."""
    g = {"w": jnp.array([1.0, -1.0, 2.0, -2.0])}
    flip = optjax.GradientTransformation(
        lambda p: (), lambda u, s, p=None: ({"w": -u["w"] * jnp.array([1.0, 1.0, -1.0, 1.0])}, s)
    )
    tx = optjax.cautious(flip)
    u, _ = tx.update(g, tx.init(g), g)
    np.testing.assert_allclose(u["w"], [-4 / 3, 4 / 3, 0.0, 8 / 3], rtol=1e-6)
    ascent = optjax.GradientTransformation(lambda p: (), lambda u, s, p=None: (u, s))
    tx = optjax.cautious(ascent, descent=False)
    u, _ = tx.update(g, tx.init(g), g)
    np.testing.assert_allclose(u["w"], g["w"])
    tx = optjax.cautious(ascent)
    u, _ = tx.update(g, tx.init(g), g)  # never agrees: everything dropped
    np.testing.assert_array_equal(u["w"], np.zeros(4))


# ---------------------------------------------------------------------------
# SAM: opaque mode and sync_period=1 (the registry covers transparent mode).


def _sam_pair(**kwargs):
    ours = optjax.sam(
        optjax.adam(0.05),
        optjax.chain(optjax.normalize_by_update_norm(eps=0.0), optjax.sgd(0.05)),
        **kwargs,
    )
    theirs = optax.contrib.sam(
        optax.adam(0.05), optax.chain(optax.contrib.normalize(), optax.sgd(0.05)), **kwargs
    )
    return ours, theirs


@pytest.mark.parametrize("sync_period, reset_state", [(2, True), (3, False)])
def test_sam_opaque_mode_matches_optax_step_by_step(sync_period, reset_state):
    ours, theirs = _sam_pair(opaque_mode=True, sync_period=sync_period, reset_state=reset_state)
    grad_fn = lambda params, i: _jax_grad(params)  # noqa: E731

    def run(tx, apply_updates):
        params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), _initial_params())
        state = tx.init(params)
        step = jax.jit(lambda g, s, p: tx.update(g, s, p, grad_fn=grad_fn))
        history = []
        for _ in range(STEPS):
            updates, state = step(_jax_grad(params), state, params)
            params = apply_updates(params, updates)
            history.append(params)
        return history, state

    mine, my_state = run(ours, optjax.apply_updates)
    ref, ref_state = run(theirs, optax.apply_updates)
    for a, b in zip(mine, ref):
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6)
    assert my_state.cache is None and ref_state.cache is None
    for a, b in zip(jax.tree.leaves(my_state), jax.tree.leaves(ref_state)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_sam_opaque_mode_needs_grad_fn():
    tx = optjax.sam(optjax.sgd(0.1), optjax.sgd(0.1), opaque_mode=True)
    params = {"w": jnp.ones(2)}
    with pytest.raises(ValueError, match="grad_fn"):
        tx.update(params, tx.init(params), params)


def test_sam_update_needs_params():
    tx = optjax.sam(optjax.sgd(0.1), optjax.sgd(0.1))
    params = {"w": jnp.ones(2)}
    with pytest.raises(ValueError, match="params"):
        tx.update(params, tx.init(params))


def test_sam_sync_period_one_is_the_outer_optimizer():
    sam = optjax.sam(optjax.adam(0.05), optjax.sgd(0.1), sync_period=1)
    np.testing.assert_allclose(
        _jax_trajectory(sam)["w"], _jax_trajectory(optjax.adam(0.05))["w"], rtol=1e-12
    )


def test_sam_adversarial_step_ascends_by_rho():
    """The paper's first half-step: theta + rho * g / ||g||."""
    sam, _ = _sam_pair()
    params = {"w": jnp.array([3.0, 4.0])}
    grads = {"w": jnp.array([3.0, 4.0])}
    updates, _ = sam.update(grads, sam.init(params), params)
    np.testing.assert_allclose(updates["w"], [0.03, 0.04], rtol=1e-6)


# ---------------------------------------------------------------------------
# Convergence: an ill-conditioned least-squares problem.

_A = np.diag(np.logspace(0, 1.5, 6)) @ np.linalg.qr(np.random.default_rng(1).normal(size=(6, 6)))[0]
_X_STAR = np.linspace(-1.0, 1.0, 6)
_B = _A @ _X_STAR


def _least_squares(params):
    residual = jnp.asarray(_A, jnp.float32) @ params["x"].reshape(6) - jnp.asarray(_B, jnp.float32)
    return 0.5 * jnp.sum(residual**2)


CONVERGENCE = {
    "mars_adamw/matrix": lambda lr: optjax.mars_adamw(lr),
    "mars_adamw/1d": lambda lr: optjax.mars_adamw(lr, optimize_1d=True),
    "mars_lion/matrix": lambda lr: optjax.mars_lion(lr),
    "cautious/adamw": lambda lr: optjax.cautious(optjax.adamw(lr, weight_decay=0.0)),
    "cautious/lion": lambda lr: optjax.cautious(optjax.lion(lr, weight_decay=0.0)),
    "cautious/sgd_momentum": lambda lr: optjax.cautious(optjax.sgd(lr, momentum=0.9)),
    "cautious/optax_chain": lambda lr: optjax.cautious(
        optax.chain(optax.clip_by_global_norm(10.0), optax.adam(lr))
    ),
}
_PEAKS = {"mars_lion": 0.02, "cautious/lion": 0.02, "cautious/sgd_momentum": 0.001}


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_converges_on_ill_conditioned_least_squares(name):
    """Cosine-decayed learning rate, 3000 steps: within 1e-3 of the minimizer."""
    steps = 3000
    peak = _PEAKS.get(name, _PEAKS.get(name.split("/")[0], 0.05))
    schedule = optjax.cosine_decay_schedule(peak, steps)
    tx = CONVERGENCE[name](schedule)
    shape = (2, 3) if name.endswith("matrix") else (6,)
    params = {"x": jnp.zeros(shape)}

    @jax.jit
    def run(params):
        def step(carry, _):
            params, state = carry
            updates, state = tx.update(jax.grad(_least_squares)(params), state, params)
            return (optjax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
        return params

    final = np.asarray(run(params)["x"]).reshape(6)
    np.testing.assert_allclose(final, _X_STAR, atol=1e-3)


# ---------------------------------------------------------------------------
# Contract checks (the registry's, on the harness tree) for Optax-less optimizers.

CONTRACT_CASES = [
    Case(name="mars_adamw", make=lambda lib: lib.mars_adamw(0.01, weight_decay=0.01)),
    Case(name="mars_lion/optimize_1d", make=lambda lib: lib.mars_lion(0.01, optimize_1d=True)),
    Case(name="cautious/adamw", make=lambda lib: lib.cautious(lib.adamw(0.01))),
    Case(name="cautious/optax_lion", make=lambda lib: lib.cautious(optax.lion(0.01))),
]
CONTRACT_CHECKS = {
    "jit_equals_eager": contract.test_jit_equals_eager_and_does_not_recompile,
    "vmap_equals_loop": contract.test_vmap_over_independent_trees_equals_loop,
    "scan_and_abstract_init": contract.test_state_is_stable_under_scan_and_abstract_init,
    "differentiable": contract.test_update_is_differentiable,
    "dtype_float32": functools.partial(
        contract.test_extra_args_accepted_and_dtype_preserved, dtype=jnp.float32
    ),
    "dtype_bfloat16": functools.partial(
        contract.test_extra_args_accepted_and_dtype_preserved, dtype=jnp.bfloat16
    ),
}


# The costly eager checks run once per family, to keep this file fast.
_SKIP = {
    "mars_lion/optimize_1d": {"differentiable", "vmap_equals_loop"},
    "cautious/optax_lion": {"differentiable", "vmap_equals_loop", "dtype_float32"},
}
CONTRACT_PAIRS = [
    pytest.param(case, check, id=f"{case.name}-{check}")
    for case in CONTRACT_CASES
    for check in sorted(CONTRACT_CHECKS)
    if check not in _SKIP.get(case.name, ())
]


@pytest.mark.parametrize("case, check", CONTRACT_PAIRS)
def test_contract(case, check):
    CONTRACT_CHECKS[check](case)


def test_mars_bfloat16_state_and_float64():
    params = {"w": jnp.ones((2, 3), jnp.bfloat16), "b": jnp.ones(3, jnp.bfloat16)}
    tx = optjax.mars_adamw(0.01, mu_dtype=jnp.float32)
    state = tx.init(params)
    updates, state = tx.update(params, state, params)
    assert state[0].mu["w"].dtype == jnp.float32
    assert state[0].nu["w"].dtype == state[0].prev_grad["w"].dtype == jnp.bfloat16
    assert updates["w"].dtype == jnp.bfloat16
    with jax.enable_x64(True):
        params = {"w": jnp.ones((2, 3), jnp.float64)}
        updates, _ = tx.update(params, tx.init(params), params)
        assert updates["w"].dtype == jnp.float64


# ---------------------------------------------------------------------------
# Bad hyperparameters.

BAD_HYPERPARAMETERS = [
    (lambda: optjax.scale_by_mars(b1=1.0), "b1"),
    (lambda: optjax.scale_by_mars(b2=-0.1), "b2"),
    (lambda: optjax.scale_by_mars(gamma=-1.0), "gamma"),
    (lambda: optjax.scale_by_mars(eps=-1e-8), "eps"),
    (lambda: optjax.scale_by_mars(b1_1d=1.5), "b1_1d"),
    (lambda: optjax.scale_by_mars(b2_1d=1.0), "b2_1d"),
    (lambda: optjax.scale_by_mars(variant="shampoo"), "variant"),
    (lambda: optjax.mars_adamw(b1=1.0), "b1"),
    (lambda: optjax.mars_adamw(weight_decay=-0.1), "weight_decay"),
    (lambda: optjax.mars_lion(gamma=-0.5), "gamma"),
    (lambda: optjax.mars_lion(b1=-0.5), "b1"),
    (lambda: optjax.cautious(optjax.adam(0.1), eps=0.0), "eps"),
    (lambda: optjax.sam(optjax.sgd(0.1), optjax.sgd(0.1), sync_period=0), "sync_period"),
    (lambda: optjax.sam(optjax.sgd(0.1), optjax.sgd(0.1), sync_period=1.5), "sync_period"),
]


@pytest.mark.parametrize("build, argument", BAD_HYPERPARAMETERS)
def test_bad_hyperparameters_raise_naming_the_argument(build, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        build()
