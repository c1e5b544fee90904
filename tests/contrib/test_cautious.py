"""The cautious wrapper (``cautious``) against NumPy references of C-AdamW and C-Lion.

The references are plain NumPy (float64) transcriptions of the paper's algorithm
boxes, independent of optjax's tree helpers; the JAX side runs in float64 too,
so the comparison is tight. Optax has no cautious wrapper, so the contract
checks run here, through the same functions as ``test_contract.py``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
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


def _cautious_scale(direction, g):
    """The paper's mask on a direction to subtract, normalized per tensor."""
    mask = (direction * g > 0).astype(np.float64)
    return mask / max(mask.mean(), 1e-3)


def numpy_cautious_adamw(lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, mask_decay=False):
    """C-AdamW (Liang et al. 2024, Alg. 2); ``mask_decay`` masks ``d + wd * p`` instead."""
    params = initial_params()
    m = {k: np.zeros_like(p) for k, p in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    history = []
    for t in range(1, STEPS + 1):
        grads = numpy_grad(params)
        new_params = {}
        for k, p in params.items():
            g = grads[k]
            direction, m[k], v[k] = numpy_adam_direction(m[k], v[k], g, b1, b2, eps, t)
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
    params = initial_params()
    m = {k: np.zeros_like(p) for k, p in params.items()}
    history = []
    for _ in range(STEPS):
        grads = numpy_grad(params)
        new_params = {}
        for k, p in params.items():
            g = grads[k]
            direction = np.sign(b1 * m[k] + (1 - b1) * g)
            new_params[k] = p - lr * (_cautious_scale(direction, g) * direction + wd * p)
            m[k] = b2 * m[k] + (1 - b2) * g
        params = new_params
        history.append(params)
    return history


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
    assert_trajectories_close(jax_trajectory(make()), reference())


def test_cautious_masks_something_in_the_reference_runs():
    """Guard: the references above really drop entries (else they would test nothing)."""
    history = jax_trajectory(optjax.cautious(optjax.adamw(0.05, weight_decay=0.1)))
    plain = jax_trajectory(optjax.adamw(0.05, weight_decay=0.1))
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


CONVERGENCE = {
    "cautious/adamw": lambda lr: optjax.cautious(optjax.adamw(lr, weight_decay=0.0)),
    "cautious/lion": lambda lr: optjax.cautious(optjax.lion(lr, weight_decay=0.0)),
    "cautious/sgd_momentum": lambda lr: optjax.cautious(optjax.sgd(lr, momentum=0.9)),
    "cautious/optax_chain": lambda lr: optjax.cautious(
        optax.chain(optax.clip_by_global_norm(10.0), optax.adam(lr))
    ),
}
_PEAKS = {"cautious/lion": 0.02, "cautious/sgd_momentum": 0.001}


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_converges_on_ill_conditioned_least_squares(name):
    """Cosine-decayed learning rate, 3000 steps: within 1e-3 of the minimizer."""
    peak = _PEAKS.get(name, _PEAKS.get(name.split("/")[0], 0.05))
    tx = CONVERGENCE[name](optjax.cosine_decay_schedule(peak, 3000))
    shape = (2, 3) if name.endswith("matrix") else (6,)
    np.testing.assert_allclose(converge_on_least_squares(tx, shape), X_STAR, atol=1e-3)


CONTRACT_CASES = [
    Case(name="cautious/adamw", make=lambda lib: lib.cautious(lib.adamw(0.01))),
    Case(name="cautious/optax_lion", make=lambda lib: lib.cautious(optax.lion(0.01))),
]
_SKIP = {
    "cautious/optax_lion": {"differentiable", "vmap_equals_loop", "dtype_float32"},
}


@pytest.mark.parametrize("case, check", contract_pairs(CONTRACT_CASES, _SKIP))
def test_contract(case, check):
    CONTRACT_CHECKS[check](case)


BAD_HYPERPARAMETERS = [
    (lambda: optjax.cautious(optjax.adam(0.1), eps=0.0), "eps"),
]


@pytest.mark.parametrize("build, argument", BAD_HYPERPARAMETERS)
def test_bad_hyperparameters_raise_naming_the_argument(build, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        build()
