"""ACProp: a NumPy transcription of the paper's update, and bad hyperparameters.

Parity with ``optax.contrib`` over 100 steps is in ``registry/contrib/acprop.py``.
"""

import jax.numpy as jnp
import numpy as np
import pytest

import optjax


def _numpy_acprop(grads, b1, b2, eps, eps_root):
    """Zhuang et al.'s asynchronous update: the gradient over the previous variance."""
    m = np.zeros_like(grads[0])
    s = np.zeros_like(grads[0])
    out = []
    for t, g in enumerate(grads):
        s_hat = np.ones_like(s) if t == 0 else s / (1 - b2**t)
        out.append(g / (np.sqrt(s_hat) + eps))
        error = g - m
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * error**2 + eps_root
    return np.stack(out)


@pytest.mark.parametrize("b1, b2, eps", [(0.9, 0.999, 1e-16), (0.5, 0.9, 1e-3)])
def test_scale_by_acprop_matches_numpy_transcription(b1, b2, eps):
    grads = np.random.default_rng(0).normal(size=(6, 3))
    tx = optjax.contrib.scale_by_acprop(b1=b1, b2=b2, eps=eps, eps_root=1e-8)
    state = tx.init(jnp.zeros(3))
    ours = []
    for g in grads:
        u, state = tx.update(jnp.asarray(g, jnp.float32), state)
        ours.append(np.asarray(u))
    expected = _numpy_acprop(grads, b1, b2, eps, 1e-8)
    np.testing.assert_allclose(np.stack(ours), expected, rtol=1e-4)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"b1": 1.0}, "b1"),
        ({"b2": -0.1}, "b2"),
        ({"eps": -1.0}, "eps"),
        ({"eps_root": -1.0}, "eps_root"),
    ],
)
def test_bad_hyperparameters_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=rf"scale_by_acprop: {name} must be"):
        optjax.contrib.acprop(0.1, **kwargs)
