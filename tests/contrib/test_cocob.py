"""COCOB-Backprop: the paper's first steps in closed form, and bad input.

Parity with ``optax.contrib`` over 100 steps is in ``registry/contrib/cocob.py``.
"""

import jax.numpy as jnp
import numpy as np
import pytest

import optjax


def _numpy_cocob(w1, grads, alpha, eps):
    """Orabona & Tommasi, Algorithm 2, coordinate-wise; returns the iterates."""
    big_l, big_g = np.full_like(w1, eps), np.zeros_like(w1)
    reward, theta, w = np.zeros_like(w1), np.zeros_like(w1), w1.copy()
    iterates = []
    for g in grads:
        big_l = np.maximum(big_l, np.abs(g))
        big_g = big_g + np.abs(g)
        reward = np.maximum(reward - g * (w - w1), 0)
        theta = theta - g
        w = w1 + theta / (big_l * np.maximum(big_g + big_l, alpha * big_l)) * (big_l + reward)
        iterates.append(w)
    return np.stack(iterates)


def test_first_step_bets_one_over_alpha():
    # L = G = |g|, R = 0 on the first step: the bet is -sign(g) / alpha.
    params = jnp.array([1.0, -2.0, 0.5])
    grads = jnp.array([3.0, -0.1, 2.0])
    tx = optjax.contrib.scale_by_cocob(alpha=100.0)
    updates, _ = tx.update(grads, tx.init(params), params)
    np.testing.assert_allclose(updates, -np.sign(grads) / 100.0, rtol=1e-5)


@pytest.mark.parametrize("alpha", [100.0, 3.0])
def test_iterates_match_numpy_transcription(alpha):
    rng = np.random.default_rng(0)
    w1 = rng.normal(size=4)
    grads = rng.normal(size=(8, 4))
    tx = optjax.contrib.cocob(alpha=alpha)
    params = jnp.asarray(w1, jnp.float32)
    state = tx.init(params)
    ours = []
    for g in grads:
        u, state = tx.update(jnp.asarray(g, jnp.float32), state, params)
        params = optjax.apply_updates(params, u)
        ours.append(np.asarray(params))
    np.testing.assert_allclose(np.stack(ours), _numpy_cocob(w1, grads, alpha, 1e-8), rtol=1e-4)


def test_update_without_params_is_a_clear_error():
    tx = optjax.contrib.cocob()
    with pytest.raises(ValueError, match="needs the current parameters"):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))


@pytest.mark.parametrize("kwargs, name", [({"alpha": 0.0}, "alpha"), ({"eps": -1e-8}, "eps")])
def test_bad_hyperparameters_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=rf"scale_by_cocob: {name} must be > 0"):
        optjax.contrib.cocob(**kwargs)
