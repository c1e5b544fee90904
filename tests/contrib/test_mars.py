"""MARS (``mars_adamw``, ``mars_lion``, ``scale_by_mars``) against a NumPy reference.

The reference is a plain NumPy (float64) transcription of the paper's algorithm
box and official code, independent of optjax's tree helpers; the JAX side runs
in float64 too, so the comparison is tight. Optax has no MARS, so the contract
checks run here, through the same functions as ``test_contract.py``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from contrib_helpers import (
    CONTRACT_CHECKS,
    STEPS,
    X_STAR,
    assert_trajectories_close,
    contract_pairs,
    converge_on_least_squares,
    initial_params,
    jax_trajectory,
    numpy_adam_direction,
    numpy_grad,
)
from registry import Case

import optjax


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
    params = initial_params()
    m = {k: np.zeros_like(p) for k, p in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    last = {k: np.zeros_like(p) for k, p in params.items()}
    history = []
    for t in range(1, STEPS + 1):
        grads = numpy_grad(params)
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
                    direction, m[k], v[k] = numpy_adam_direction(m[k], v[k], c, b1, b2, eps, t)
            else:
                direction, m[k], v[k] = numpy_adam_direction(m[k], v[k], g, *betas_1d, eps, t)
            new_params[k] = p - lr * (direction + wd * p)
            last[k] = g
        params = new_params
        history.append(params)
    return history


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
    assert_trajectories_close(jax_trajectory(make()), numpy_mars(**kwargs))


def test_mars_clipping_is_active_then_inactive_in_the_reference_run():
    """In the "lr,wd,gamma" run the matrix's corrected gradient crosses unit norm."""
    history = [initial_params()] + numpy_mars(lr=0.2, gamma=0.1, wd=0.01)[:-1]
    grads = [numpy_grad(p)["w"] for p in history]
    coefficient = 0.1 * 0.95 / 0.05
    norms = [np.linalg.norm(grads[0] * (1 + coefficient))] + [
        np.linalg.norm(g + coefficient * (g - prev)) for prev, g in zip(grads, grads[1:])
    ]
    assert max(norms) > 1 and min(norms) < 1


def test_mars_non_matrix_leaves_follow_plain_adamw():
    """Biases and scalars get AdamW with betas (0.9, 0.95); matrices do not."""
    mars = jax_trajectory(optjax.mars_adamw(0.05, weight_decay=0.1))
    adamw = jax_trajectory(optjax.adamw(0.05, b1=0.9, b2=0.95, weight_decay=0.1))
    for k in ("b", "s"):
        np.testing.assert_allclose(mars[k], adamw[k], rtol=1e-12, atol=1e-14)
    assert not np.allclose(mars["w"], adamw["w"])


def test_mars_gamma_zero_is_clipped_adam_and_gamma_schedule_works():
    constant = jax_trajectory(optjax.mars_adamw(0.05, gamma=0.1))
    schedule = jax_trajectory(optjax.mars_adamw(0.05, gamma=lambda count: 0.1))
    np.testing.assert_allclose(schedule["w"], constant["w"], rtol=1e-12)
    no_correction = jax_trajectory(optjax.mars_adamw(0.05, gamma=0.0))
    assert_trajectories_close(no_correction, numpy_mars(lr=0.05, gamma=0.0))


def test_mars_state_keeps_the_previous_gradient():
    tx = optjax.scale_by_mars()
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
    grads = {"w": jnp.full((2, 2), 0.25), "b": jnp.full((2,), -0.5)}
    _, state = tx.update(grads, tx.init(params))
    assert int(state.count) == 1
    np.testing.assert_array_equal(state.prev_grad["w"], grads["w"])
    np.testing.assert_array_equal(state.prev_grad["b"], grads["b"])


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


CONVERGENCE = {
    "mars_adamw/matrix": lambda lr: optjax.mars_adamw(lr),
    "mars_adamw/1d": lambda lr: optjax.mars_adamw(lr, optimize_1d=True),
    "mars_lion/matrix": lambda lr: optjax.mars_lion(lr),
}
_PEAKS = {"mars_lion": 0.02}


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_converges_on_ill_conditioned_least_squares(name):
    """Cosine-decayed learning rate, 3000 steps: within 1e-3 of the minimizer."""
    peak = _PEAKS.get(name, _PEAKS.get(name.split("/")[0], 0.05))
    tx = CONVERGENCE[name](optjax.cosine_decay_schedule(peak, 3000))
    shape = (2, 3) if name.endswith("matrix") else (6,)
    np.testing.assert_allclose(converge_on_least_squares(tx, shape), X_STAR, atol=1e-3)


CONTRACT_CASES = [
    Case(name="mars_adamw", make=lambda lib: lib.mars_adamw(0.01, weight_decay=0.01)),
    Case(name="mars_lion/optimize_1d", make=lambda lib: lib.mars_lion(0.01, optimize_1d=True)),
]
_SKIP = {
    "mars_lion/optimize_1d": {"differentiable", "vmap_equals_loop"},
}


@pytest.mark.parametrize("case, check", contract_pairs(CONTRACT_CASES, _SKIP))
def test_contract(case, check):
    CONTRACT_CHECKS[check](case)


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
]


@pytest.mark.parametrize("build, argument", BAD_HYPERPARAMETERS)
def test_bad_hyperparameters_raise_naming_the_argument(build, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        build()
