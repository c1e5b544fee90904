"""Muon against a NumPy reference, its rule for non-matrix leaves, and bad input.

Parity with ``optax.contrib`` is in the registry (``registry/contrib/muon.py``);
here Muon is checked against a NumPy transcription of Jordan et al.'s algorithm,
step by step, on a tree with a matrix, a bias and a scalar.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from stepwise_helpers import (
    STEPS,
    assert_reaches_the_minimum,
    assert_updates_close,
    cosine,
    least_squares,
    random_gradients,
    random_params,
    run_reference,
    run_updates,
)

import optjax


def _newton_schulz(m, coeffs, steps, eps):
    """Jordan et al.'s zeropower_via_newtonschulz5, in NumPy."""
    a, b, c = coeffs
    x = m / (np.linalg.norm(m) + eps)
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


class _NumpyMuon:
    """Muon for 2-d leaves, NAdamW for the others (Optax's and optjax's rule).

    The momentum is the bias-corrected Nesterov EMA (optjax's documented
    convention); Jordan's post uses an uncorrected lerp, which orthogonalization
    makes almost scale-free, so only the first steps differ.
    """

    def __init__(
        self,
        lr,
        beta=0.95,
        coeffs=(3.4445, -4.7750, 2.0315),
        steps=5,
        eps=1e-8,
        weight_decay=0.0,
        b1=0.9,
        b2=0.999,
        adam_weight_decay=0.0,
    ):
        self.__dict__.update(locals())
        self.state = {}

    def __call__(self, t, g, p):
        out = {}
        for k, gk in g.items():
            m, v = self.state.get(k, (np.zeros_like(gk), np.zeros_like(gk)))
            if gk.ndim == 2:
                m = self.beta * m + (1 - self.beta) * gk
                m_hat = self.beta * m / (1 - self.beta ** (t + 1)) + (1 - self.beta) * gk / (
                    1 - self.beta**t
                )
                o = _newton_schulz(m_hat, self.coeffs, self.steps, self.eps)
                fan_in, fan_out = gk.shape
                o = np.sqrt(max(1.0, fan_out / fan_in)) * o
                out[k] = -self.lr * (o + self.weight_decay * p[k])
            else:
                b1, b2 = self.b1, self.b2
                m = b1 * m + (1 - b1) * gk
                v = b2 * v + (1 - b2) * gk**2
                m_hat = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * gk / (1 - b1**t)
                v_hat = v / (1 - b2**t)
                step = m_hat / (np.sqrt(v_hat) + self.eps)
                out[k] = -self.lr * (step + self.adam_weight_decay * p[k])
            self.state[k] = (m, v)
        return out


def test_newton_schulz_converges_to_the_polar_factor():
    """Classic cubic coefficients (1.5, -0.5, 0) with many steps give U V^T exactly."""
    m = np.random.default_rng(3).normal(size=(5, 3)).astype(np.float32)
    tx = optjax.scale_by_muon(ns_coeffs=(1.5, -0.5, 0.0), ns_steps=40, beta=0.0)
    u, _ = tx.update(m, tx.init(m))
    left, _, right = np.linalg.svd(m.astype(np.float64), full_matrices=False)
    np.testing.assert_allclose(np.asarray(u), left @ right, atol=1e-5)


def test_default_coefficients_give_nearly_orthogonal_updates():
    """Jordan's quintic: singular values land near 1 (roughly [0.7, 1.2])."""
    m = np.random.default_rng(4).normal(size=(6, 10)).astype(np.float32)
    tx = optjax.scale_by_muon(beta=0.0)
    u, _ = tx.update(m, tx.init(m))
    singular_values = np.linalg.svd(np.asarray(u), compute_uv=False)
    assert singular_values.min() > 0.6 and singular_values.max() < 1.25, singular_values


MIXED = {"w": (4, 3), "b": (3,), "s": (), "k": (2, 3, 3, 2)}


NON_MATRIX = ("b", "s", "k")


@functools.cache
def _mixed_data():
    return random_params(MIXED, seed=6), random_gradients(MIXED, steps=12, seed=7)


FALLBACKS = {
    "default": (
        dict(learning_rate=0.02),
        dict(learning_rate=0.02, nesterov=True, weight_decay=0.0),
    ),
    "nesterov=False": (
        dict(learning_rate=0.02, nesterov=False),
        dict(learning_rate=0.02, nesterov=False, weight_decay=0.0),
    ),
    "adam_args": (
        dict(
            learning_rate=0.02,
            eps=1e-3,
            adam_b1=0.5,
            adam_b2=0.9,
            adam_eps_root=1e-6,
            adam_weight_decay=0.1,
            adam_learning_rate=0.005,
            weight_decay=0.3,
        ),
        dict(
            learning_rate=0.005,
            b1=0.5,
            b2=0.9,
            eps=1e-3,
            eps_root=1e-6,
            weight_decay=0.1,
            nesterov=True,
        ),
    ),
}


@pytest.mark.parametrize("setting", sorted(FALLBACKS))
def test_muon_non_matrix_leaves_follow_adamw_exactly(setting):
    """Scalars, 1-d and 4-d leaves get exactly AdamW's (NAdamW's) updates."""
    muon_kwargs, adamw_kwargs = FALLBACKS[setting]
    params, grads = _mixed_data()
    ours, _ = run_updates(optjax.muon(**muon_kwargs), params, grads)
    sub = lambda tree: {k: tree[k] for k in NON_MATRIX}  # noqa: E731
    expected, _ = run_updates(optjax.adamw(**adamw_kwargs), sub(params), sub(grads))
    for k in NON_MATRIX:
        np.testing.assert_allclose(ours[k], expected[k], rtol=1e-6, atol=1e-8, err_msg=k)


def test_muon_matrix_leaf_is_orthogonalized_and_unaffected_by_the_others():
    params, grads = _mixed_data()
    ours, _ = run_updates(optjax.muon(0.02), params, grads)
    alone, _ = run_updates(optjax.muon(0.02), {"w": params["w"]}, {"w": grads["w"]})
    np.testing.assert_allclose(ours["w"], alone["w"], rtol=1e-6, atol=1e-8)
    # Shape (4, 3): fan_out/fan_in < 1, so the update is -lr times NS(momentum).
    singular_values = np.linalg.svd(ours["w"][-1] / -0.02, compute_uv=False)
    assert singular_values.min() > 0.6 and singular_values.max() < 1.25


def test_muon_with_only_non_matrix_leaves_is_adamw_without_error():
    params = {"b": jnp.array([1.0, -2.0]), "s": jnp.array(0.5)}
    grads = {"b": np.ones((5, 2), np.float32), "s": np.linspace(-1, 1, 5, dtype=np.float32)}
    ours, state = run_updates(optjax.muon(0.1), params, grads)
    expected, _ = run_updates(optjax.nadamw(0.1, weight_decay=0.0), params, grads)
    for k in params:
        np.testing.assert_allclose(ours[k], expected[k], rtol=1e-6, err_msg=k)
    muon_state = state.inner_states["muon"].inner_state[0]
    assert isinstance(muon_state, optjax.MuonState) and not jax.tree.leaves(muon_state.mu)


def test_muon_dimension_numbers_orthogonalize_a_4d_leaf_as_a_matrix():
    """(H, W, I, O) with reduction (0, 1, 2): the same as the (H*W*I, O) matrix."""
    params, grads = _mixed_data()
    spec = {
        "w": optjax.MuonDimensionNumbers(),
        "b": None,
        "s": None,
        "k": optjax.MuonDimensionNumbers(reduction_axis=(0, 1, 2), output_axis=3),
    }
    ours, _ = run_updates(optjax.muon(0.02, muon_weight_dimension_numbers=spec), params, grads)
    flat = lambda x: x.reshape(*x.shape[:-4], 18, 2)  # noqa: E731
    expected, _ = run_updates(optjax.muon(0.02), {"k": flat(params["k"])}, {"k": flat(grads["k"])})
    np.testing.assert_allclose(flat(ours["k"]), expected["k"], rtol=1e-5, atol=1e-7)


def test_scale_by_muon_batch_axes_are_orthogonalized_independently():
    x = np.random.default_rng(8).normal(size=(4, 3, 5)).astype(np.float32)  # (in, batch, out)
    dims = optjax.MuonDimensionNumbers(reduction_axis=0, output_axis=-1)
    tx = optjax.scale_by_muon(beta=0.0, weight_dimension_numbers=dims)
    u, _ = tx.update(x, tx.init(x))
    plain = optjax.scale_by_muon(beta=0.0)
    for i in range(3):
        expected, _ = plain.update(x[:, i], plain.init(x[:, i]))
        np.testing.assert_allclose(np.asarray(u)[:, i], expected, rtol=1e-5, atol=1e-7)


BAD_LEAVES = {
    "scale_by_muon on a vector": (
        lambda: optjax.scale_by_muon(),
        {"w": jnp.ones((2, 2)), "bias": jnp.ones(3)},
    ),
    "scale_by_muon on a 4-d leaf without dims": (
        lambda: optjax.scale_by_muon(),
        {"conv": jnp.ones((2, 2, 2, 2))},
    ),
    "muon dims on a vector": (
        lambda: optjax.muon(
            0.1, muon_weight_dimension_numbers={"bias": optjax.MuonDimensionNumbers()}
        ),
        {"bias": jnp.ones(3)},
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_LEAVES))
def test_non_matrix_leaf_given_to_newton_schulz_raises_naming_it(case):
    make, params = BAD_LEAVES[case]
    tx = make()
    key = next(k for k in params if params[k].ndim != 2)
    with pytest.raises(ValueError, match=rf"\['{key}'\].*rank >= 2|\['{key}'\]"):
        tx.update(params, tx.init(params), params)


def test_muon_dimension_numbers_that_do_not_match_the_params_raise():
    tx = optjax.muon(0.1, muon_weight_dimension_numbers=[optjax.MuonDimensionNumbers()])
    with pytest.raises(ValueError, match="muon_weight_dimension_numbers"):
        tx.init({"w": jnp.ones((2, 2))})


def test_muon_callable_weight_decay_mask_decays_only_selected_matrices():
    params = {"a": jnp.ones((2, 2)), "c": jnp.ones((2, 2)), "b": jnp.ones(2)}
    zeros = jax.tree.map(jnp.zeros_like, params)
    mask = lambda p: jax.tree.map(lambda x: x.shape == (2, 2), p) | {"c": False}  # noqa: E731
    tx = optjax.muon(1.0, weight_decay=0.5, weight_decay_mask=mask)
    u, _ = tx.update(zeros, tx.init(params), params)
    np.testing.assert_allclose(u["a"], -0.5 * np.ones((2, 2)))
    np.testing.assert_allclose(u["c"], np.zeros((2, 2)))
    np.testing.assert_allclose(u["b"], np.zeros(2))


def test_traced_hyperparameters_are_not_checked_and_vmap_over_learning_rate_works():
    params = {"w": jnp.ones((3, 2)), "b": jnp.ones(2)}
    grads = jax.tree.map(lambda x: 0.5 * x, params)

    def first_update(lr, beta):
        tx = optjax.muon(lr, beta=beta)
        return tx.update(grads, tx.init(params), params)[0]

    updates = jax.jit(jax.vmap(first_update))(jnp.array([0.1, 0.2]), jnp.array([0.9, 0.95]))
    np.testing.assert_allclose(updates["b"][1], 2 * updates["b"][0], rtol=1e-6)


REFERENCE_CASES = {
    "muon": (lambda: optjax.muon(0.02), lambda: _NumpyMuon(0.02)),
    "muon/cubic,wd,beta": (
        lambda: optjax.muon(
            0.02,
            ns_coeffs=(1.5, -0.5, 0.0),
            ns_steps=8,
            beta=0.8,
            weight_decay=0.1,
            adam_weight_decay=0.05,
            adam_b1=0.7,
            adam_b2=0.9,
        ),
        lambda: _NumpyMuon(
            0.02,
            beta=0.8,
            coeffs=(1.5, -0.5, 0.0),
            steps=8,
            weight_decay=0.1,
            b1=0.7,
            b2=0.9,
            adam_weight_decay=0.05,
        ),
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
    "muon": (least_squares, lambda s: optjax.muon(cosine(0.05, s)), 1500, 1e-3),
}


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_reaches_the_minimum(name):
    assert_reaches_the_minimum(name, *CONVERGENCE[name])


BAD_HYPERPARAMETERS = [
    (optjax.muon, dict(learning_rate=0.1, ns_steps=0), "ns_steps"),
    (optjax.muon, dict(learning_rate=0.1, ns_steps=-2), "ns_steps"),
    (optjax.muon, dict(learning_rate=0.1, ns_steps=2.5), "ns_steps"),
    (optjax.muon, dict(learning_rate=0.1, beta=1.0), "beta"),
    (optjax.muon, dict(learning_rate=0.1, beta=-0.1), "beta"),
    (optjax.muon, dict(learning_rate=0.1, eps=-1e-8), "eps"),
    (optjax.muon, dict(learning_rate=0.1, weight_decay=-0.1), "weight_decay"),
    (optjax.muon, dict(learning_rate=0.1, adam_b1=1.0), "adam_b1"),
    (optjax.muon, dict(learning_rate=0.1, adam_b2=1.5), "adam_b2"),
    (optjax.muon, dict(learning_rate=0.1, adam_eps_root=-1.0), "adam_eps_root"),
    (optjax.muon, dict(learning_rate=0.1, adam_weight_decay=-1.0), "adam_weight_decay"),
    (optjax.muon, dict(learning_rate=0.1, consistent_rms=0.0), "consistent_rms"),
    (optjax.muon, dict(learning_rate=0.1, preconditioning="newton"), "preconditioning"),
    (optjax.muon, dict(learning_rate=0.1, ns_coeffs="fast"), "ns_coeffs"),
    (optjax.muon, dict(learning_rate=0.1, ns_coeffs=(1.0, 2.0)), "ns_coeffs"),
    (optjax.muon, dict(learning_rate=0.1, ns_coeffs="dion", ns_steps=3), "ns_steps"),
    (optjax.scale_by_muon, dict(ns_steps=0), "ns_steps"),
    (optjax.scale_by_muon, dict(beta=1.0), "beta"),
    (optjax.scale_by_muon, dict(eps=-1.0), "eps"),
    (optjax.scale_by_muon, dict(preconditioning="svd"), "preconditioning"),
    (optjax.scale_by_muon, dict(ns_coeffs=((1.0, 2.0, 3.0, 4.0),)), "ns_coeffs"),
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
