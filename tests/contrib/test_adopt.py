"""ADOPT against a NumPy transcription of the paper's algorithm box, and bad input.

Parity with ``optax.contrib`` is in the registry (``registry/contrib/adopt.py``).
"""

import jax.numpy as jnp
import numpy as np
import pytest
from stepwise_helpers import (
    STEPS,
    assert_reaches_the_minimum,
    assert_updates_close,
    cosine,
    quadratic,
    random_gradients,
    random_params,
    run_reference,
    run_updates,
)

import optjax


class _NumpyAdopt:
    """Taniguchi et al., Algorithm 2 (with clipping c_t = t^(1/4))."""

    def __init__(self, lr, b1=0.9, b2=0.9999, eps=1e-6, clip=True):
        self.__dict__.update(locals())
        self.state = {}

    def __call__(self, t, g, p):
        out = {}
        for k, gk in g.items():
            if k not in self.state:  # t = 1 here is the paper's t = 0: v_0 = g_0^2.
                self.state[k] = (np.zeros_like(gk), gk**2)
                out[k] = np.zeros_like(gk)
                continue
            m, v = self.state[k]
            step = t - 1  # the paper's t
            normalized = gk / np.maximum(np.sqrt(v), self.eps)
            if self.clip:
                normalized = np.clip(normalized, -(step**0.25), step**0.25)
            m = self.b1 * m + (1 - self.b1) * normalized
            v = self.b2 * v + (1 - self.b2) * gk**2
            out[k] = -self.lr * m
            self.state[k] = (m, v)
        return out


def test_adopt_state_is_adams_state():
    state = optjax.adopt(0.1).init({"w": jnp.ones(2)})[0]
    assert optjax.ScaleByAdoptState is optjax.ScaleByAdamState
    assert isinstance(state, optjax.ScaleByAdoptState) and state._fields == ("count", "mu", "nu")


REFERENCE_CASES = {
    "adopt": (lambda: optjax.adopt(0.02), lambda: _NumpyAdopt(0.02)),
    "adopt/no_clip,b2=0.9": (
        lambda: optjax.adopt(0.02, b2=0.9, use_clipping=False),
        lambda: _NumpyAdopt(0.02, b2=0.9, clip=False),
    ),
}


@pytest.mark.parametrize("name", sorted(REFERENCE_CASES))
def test_matches_numpy_reference_step_by_step(name):
    make, make_reference = REFERENCE_CASES[name]
    params, grads = random_params(), random_gradients()
    ours, _ = run_updates(make(), params, grads)
    expected = run_reference(make_reference(), params, grads)
    assert all(v.shape[0] == STEPS >= 20 for v in expected.values())
    assert_updates_close(ours, expected)


CONVERGENCE = {
    "adopt": (quadratic, lambda s: optjax.adopt(cosine(0.05, s)), 1500, 1e-3),
}


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_reaches_the_minimum(name):
    assert_reaches_the_minimum(name, *CONVERGENCE[name])


BAD_HYPERPARAMETERS = [
    (optjax.adopt, dict(learning_rate=0.1, b1=1.0), "b1"),
    (optjax.adopt, dict(learning_rate=0.1, b2=-0.5), "b2"),
    (optjax.adopt, dict(learning_rate=0.1, eps=-1.0), "eps"),
    (optjax.scale_by_adopt, dict(b2=1.0), "b2"),
]


@pytest.mark.parametrize(
    "fn,kwargs,argument",
    BAD_HYPERPARAMETERS,
    ids=[
        f"{fn.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items())}"
        for fn, kw, _ in BAD_HYPERPARAMETERS
    ],
)
def test_bad_hyperparameter_raises_naming_it(fn, kwargs, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        fn(**kwargs)
