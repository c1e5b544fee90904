"""Shared pieces of the MARS, cautious and SAM tests.

A smooth, non-quadratic problem on a tree with a matrix, a bias and a scalar
(its NumPy and JAX gradients), the float64 trajectory of a transformation on
it, an ill-conditioned least-squares problem and an ill-conditioned quadratic
for the convergence checks, and the registry's contract checks for optimizers
Optax lacks.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import test_contract as contract

import optjax

STEPS = 25
RTOL, ATOL = 1e-9, 1e-12

_TARGETS = {"w": 1.0, "b": -0.5, "s": 2.0}
_SCALES = {"w": 1.5, "b": 0.7, "s": 3.0}


def initial_params():
    rng = np.random.default_rng(0)
    return {
        "w": rng.normal(size=(3, 4)),
        "b": rng.normal(size=(4,)),
        "s": np.asarray(0.3),
    }


def numpy_grad(params):
    """A smooth, non-quadratic gradient, leaf by leaf (NumPy side)."""
    return {k: _SCALES[k] * (p - _TARGETS[k]) + 0.2 * np.cos(2.0 * p) for k, p in params.items()}


def jax_grad(params):
    return {k: _SCALES[k] * (p - _TARGETS[k]) + 0.2 * jnp.cos(2.0 * p) for k, p in params.items()}


@functools.cache
def _compiled_trajectory(tx):
    @jax.jit
    def run(params):
        def step(carry, _):
            params, state = carry
            updates, state = tx.update(jax_grad(params), state, params)
            params = optjax.apply_updates(params, updates)
            return (params, state), params

        _, history = jax.lax.scan(step, (params, tx.init(params)), None, length=STEPS)
        return history

    return run


def jax_trajectory(tx):
    """Params after every step, shape (STEPS, ...) per leaf, computed in float64."""
    with jax.enable_x64(True):
        params = jax.tree.map(jnp.asarray, initial_params())
        history = _compiled_trajectory(tx)(params)
        return jax.tree.map(np.asarray, history)


def assert_trajectories_close(history, reference):
    for t, expected in enumerate(reference):
        for k in expected:
            np.testing.assert_allclose(
                history[k][t], expected[k], rtol=RTOL, atol=ATOL, err_msg=f"step {t + 1}, {k}"
            )


def numpy_adam_direction(m, v, g, b1, b2, eps, t):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    denom = (np.sqrt(v) / np.sqrt(1 - b2**t) + eps) * (1 - b1**t)
    return m / denom, m, v


# An ill-conditioned least-squares problem for the convergence checks.
_A = np.diag(np.logspace(0, 1.5, 6)) @ np.linalg.qr(np.random.default_rng(1).normal(size=(6, 6)))[0]


X_STAR = np.linspace(-1.0, 1.0, 6)


_B = _A @ X_STAR


def _least_squares(params):
    residual = jnp.asarray(_A, jnp.float32) @ params["x"].reshape(6) - jnp.asarray(_B, jnp.float32)
    return 0.5 * jnp.sum(residual**2)


def converge_on_least_squares(tx, shape, steps=3000):
    """The final ``x`` (flattened) after ``steps`` steps of ``tx`` on the least-squares problem."""
    params = {"x": jnp.zeros(shape)}

    @jax.jit
    def run(params):
        def step(carry, _):
            params, state = carry
            updates, state = tx.update(jax.grad(_least_squares)(params), state, params)
            return (optjax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
        return params

    return np.asarray(run(params)["x"]).reshape(6)


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


def contract_pairs(cases, skip):
    """``(case, check)`` parameters with ids ``name-check``, minus the ``skip`` ones."""
    return [
        pytest.param(case, check, id=f"{case.name}-{check}")
        for case in cases
        for check in sorted(CONTRACT_CHECKS)
        if check not in skip.get(case.name, ())
    ]


# An ill-conditioned quadratic (condition number 100) for the convergence checks.
_QUADRATIC_SCALES = jnp.logspace(0, 2, 6)
QUADRATIC_OPT = jnp.linspace(-1.0, 2.0, 6)
QUADRATIC_STEPS = 1500


def _quadratic(p):
    return 0.5 * jnp.sum(_QUADRATIC_SCALES * (p["x"] - QUADRATIC_OPT) ** 2)


def cosine_multiplier(t):
    """A cosine decay from 1 to 0 over ``QUADRATIC_STEPS``."""
    return 0.5 * (1.0 + jnp.cos(jnp.pi * jnp.minimum(t, QUADRATIC_STEPS) / QUADRATIC_STEPS))


def converge_on_quadratic(tx, eval_params=False):
    """The final ``x`` after ``QUADRATIC_STEPS`` steps of ``tx`` on the quadratic.

    ``obj_fn`` is passed as an extra argument (Sophia's Hessian estimator needs
    it); ``eval_params`` reads Schedule-Free's averaged iterate instead.
    """
    init = {"x": jnp.zeros(6)}

    def step(carry, _):
        p, s = carry
        u, s = tx.update(jax.grad(_quadratic)(p), s, p, obj_fn=_quadratic)
        return (optjax.apply_updates(p, u), s), None

    @jax.jit
    def run():
        (p, s), _ = jax.lax.scan(step, (init, tx.init(init)), None, length=QUADRATIC_STEPS)
        return optjax.schedule_free_eval_params(s, p) if eval_params else p

    return np.asarray(run()["x"])


def small_loss(p):
    """A two-leaf quadratic with minimum at ``w = 1``, ``b = -1``."""
    return jnp.sum((p["w"] - 1.0) ** 2) + 2.0 * (p["b"] + 1.0) ** 2
