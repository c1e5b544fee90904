"""AdEMAMix and simplified AdEMAMix against NumPy transcriptions of their papers.

Parity with ``optax.contrib`` is in the registry (``registry/contrib/ademamix.py``).
"""

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


class _NumpyAdemamix:
    """Pagliardini et al., Algorithm 1, with constant alpha and beta3 (no warm-up)."""

    def __init__(self, lr, b1=0.9, b2=0.999, b3=0.9999, alpha=5.0, eps=1e-8, weight_decay=0.0):
        self.__dict__.update(locals())
        self.state = {}

    def __call__(self, t, g, p):
        out = {}
        for k, gk in g.items():
            m1, m2, nu = self.state.get(k, (0 * gk, 0 * gk, 0 * gk))
            m1 = self.b1 * m1 + (1 - self.b1) * gk
            m2 = self.b3 * m2 + (1 - self.b3) * gk
            nu = self.b2 * nu + (1 - self.b2) * gk**2
            m1_hat = m1 / (1 - self.b1**t)
            nu_hat = nu / (1 - self.b2**t)
            step = (m1_hat + self.alpha * m2) / (np.sqrt(nu_hat) + self.eps)
            out[k] = -self.lr * (step + self.weight_decay * p[k])
            self.state[k] = (m1, m2, nu)
        return out


class _NumpySimplifiedAdemamix:
    """Morwani et al.'s simplified AdEMAMix: m = b1 m + g, Adam's bias-corrected v."""

    def __init__(self, lr, b1=0.99, b2=0.95, alpha=0.0, eps=1e-8, weight_decay=0.0):
        self.__dict__.update(locals())
        self.state = {}

    def __call__(self, t, g, p):
        out = {}
        for k, gk in g.items():
            m, v = self.state.get(k, (0 * gk, 0 * gk))
            m = self.b1 * m + gk
            v = self.b2 * v + (1 - self.b2) * gk**2
            v_hat = v / (1 - self.b2**t)
            step = (m + self.alpha * gk) / (np.sqrt(v_hat) + self.eps)
            out[k] = -self.lr * (step + self.weight_decay * p[k])
            self.state[k] = (m, v)
        return out


REFERENCE_CASES = {
    "ademamix": (lambda: optjax.ademamix(0.01), lambda: _NumpyAdemamix(0.01)),
    "ademamix/b3=0.99,alpha=2,wd": (
        lambda: optjax.ademamix(0.01, b3=0.99, alpha=2.0, weight_decay=0.1),
        lambda: _NumpyAdemamix(0.01, b3=0.99, alpha=2.0, weight_decay=0.1),
    ),
    "simplified_ademamix": (
        lambda: optjax.simplified_ademamix(0.002),
        lambda: _NumpySimplifiedAdemamix(0.002),
    ),
    "simplified_ademamix/alpha=2,wd": (
        lambda: optjax.simplified_ademamix(0.002, b1=0.9, alpha=2.0, weight_decay=0.1),
        lambda: _NumpySimplifiedAdemamix(0.002, b1=0.9, alpha=2.0, weight_decay=0.1),
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
    "ademamix": (quadratic, lambda s: optjax.ademamix(cosine(0.02, s), b3=0.999), 1500, 1e-3),
    "simplified_ademamix": (
        quadratic,
        lambda s: optjax.simplified_ademamix(cosine(0.002, s), b1=0.9),
        1500,
        1e-3,
    ),
}


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_reaches_the_minimum(name):
    assert_reaches_the_minimum(name, *CONVERGENCE[name])


BAD_HYPERPARAMETERS = [
    (optjax.ademamix, dict(learning_rate=0.1, b1=1.0), "b1"),
    (optjax.ademamix, dict(learning_rate=0.1, b2=2.0), "b2"),
    (optjax.ademamix, dict(learning_rate=0.1, b3=1.0), "b3"),
    (optjax.ademamix, dict(learning_rate=0.1, alpha=-1.0), "alpha"),
    (optjax.ademamix, dict(learning_rate=0.1, eps=-1.0), "eps"),
    (optjax.ademamix, dict(learning_rate=0.1, eps_root=-1.0), "eps_root"),
    (optjax.ademamix, dict(learning_rate=0.1, weight_decay=-1.0), "weight_decay"),
    (optjax.scale_by_ademamix, dict(b3=-0.1), "b3"),
    (optjax.simplified_ademamix, dict(learning_rate=0.1, b1=1.0), "b1"),
    (optjax.simplified_ademamix, dict(learning_rate=0.1, b2=-0.1), "b2"),
    (optjax.simplified_ademamix, dict(learning_rate=0.1, alpha=-2.0), "alpha"),
    (optjax.scale_by_simplified_ademamix, dict(eps_root=-1.0), "eps_root"),
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
