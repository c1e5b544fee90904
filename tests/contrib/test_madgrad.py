"""MADGRAD: a NumPy transcription of the algorithm box, schedules, bad input.

Parity with ``optax.contrib`` over 100 steps is in ``registry/contrib/madgrad.py``.
"""

import jax.numpy as jnp
import numpy as np
import pytest

import optjax


def _numpy_madgrad(x0, grads, lrs, momentum, eps):
    """Defazio & Jelassi, Algorithm 1 (with eps added to the learning rate, as in PyTorch)."""
    s, v, x = np.zeros_like(x0), np.zeros_like(x0), x0.copy()
    iterates = []
    for k, (g, lr) in enumerate(zip(grads, lrs)):
        lamb = (lr + eps) * np.sqrt(k + 1)
        s = s + lamb * g
        v = v + lamb * g**2
        z = x0 - s / (np.cbrt(v) + eps)
        x = (1 - momentum) * z + momentum * x
        iterates.append(x)
    return np.stack(iterates)


@pytest.mark.parametrize("momentum, scheduled", [(0.9, False), (0.0, True)])
def test_iterates_match_numpy_transcription(momentum, scheduled):
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=4)
    grads = rng.normal(size=(8, 4))
    lrs = [0.1 * 0.5**k if scheduled else 0.1 for k in range(8)]
    learning_rate = (lambda count: 0.1 * 0.5**count) if scheduled else 0.1
    tx = optjax.contrib.madgrad(learning_rate, momentum=momentum)
    params = jnp.asarray(x0, jnp.float32)
    state = tx.init(params)
    ours = []
    for g in grads:
        u, state = tx.update(jnp.asarray(g, jnp.float32), state, params)
        params = optjax.apply_updates(params, u)
        ours.append(np.asarray(params))
    expected = _numpy_madgrad(x0, grads, lrs, momentum, 1e-6)
    np.testing.assert_allclose(np.stack(ours), expected, rtol=1e-4, atol=1e-6)


def test_update_without_params_is_a_clear_error():
    tx = optjax.contrib.madgrad(0.1)
    with pytest.raises(ValueError, match="needs the current parameters"):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"learning_rate": -0.1}, "scale_by_madgrad: learning_rate must be >= 0"),
        (
            {"learning_rate": 0.1, "momentum": 1.0},
            r"scale_by_madgrad: momentum must be in \[0, 1\)",
        ),
        ({"learning_rate": 0.1, "eps": -1.0}, "scale_by_madgrad: eps must be >= 0"),
        ({"learning_rate": 0.1, "weight_decay": -1.0}, "weight_decay must be >= 0"),
    ],
)
def test_bad_hyperparameters_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        optjax.contrib.madgrad(**kwargs)
