"""Muon, ADOPT and AdEMAMix: plain-NumPy references, convergence, fallbacks, bad input.

Parity with ``optax.contrib`` is in the registry (``registry/modern_a.py``);
here each algorithm is checked against a NumPy transcription of its paper's
algorithm box, step by step, on a tree with a matrix, a bias and a scalar.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optjax

STEPS = 25
SHAPES = {"w": (4, 3), "b": (3,), "s": ()}


def _gradients(shapes=SHAPES, steps=STEPS, seed=0):
    """A fixed sequence of gradients per leaf, shape (steps, *leaf_shape), float32."""
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=(steps, *shape)).astype(np.float32) for k, shape in shapes.items()}


def _params(shapes=SHAPES, seed=1):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=shape).astype(np.float32) for k, shape in shapes.items()}


def _run(tx, params, grads):
    """All updates of ``tx`` for the gradient sequence, params updated as it goes."""

    @jax.jit
    def run(params, grads):
        def step(carry, g):
            p, state = carry
            u, state = tx.update(g, state, p)
            return (optjax.apply_updates(p, u), state), u

        return jax.lax.scan(step, (params, tx.init(params)), grads)

    (final, state), updates = run(params, grads)
    return jax.tree.map(np.asarray, updates), state


def _run_reference(step_fn, params, grads):
    """Runs a NumPy ``step_fn(t, g, p) -> update`` (t = 1, 2, ...) in float64."""
    params = {k: np.asarray(v, np.float64) for k, v in params.items()}
    updates = {k: [] for k in params}
    for t in range(1, len(next(iter(grads.values()))) + 1):
        g = {k: np.asarray(v[t - 1], np.float64) for k, v in grads.items()}
        u = step_fn(t, g, params)
        for k in params:
            updates[k].append(u[k])
            params[k] = params[k] + u[k]
    return {k: np.stack(v) for k, v in updates.items()}


def _assert_close(actual, expected, rtol=2e-4, atol=2e-6):
    for k in expected:
        np.testing.assert_allclose(actual[k], expected[k], rtol=rtol, atol=atol, err_msg=k)


# ----------------------------------------------------------------------------
# NumPy references, transcribed from the papers.


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
    "adopt": (lambda: optjax.adopt(0.02), lambda: _NumpyAdopt(0.02)),
    "adopt/no_clip,b2=0.9": (
        lambda: optjax.adopt(0.02, b2=0.9, use_clipping=False),
        lambda: _NumpyAdopt(0.02, b2=0.9, clip=False),
    ),
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
    params, grads = _params(), _gradients()
    ours, _ = _run(make(), params, grads)
    expected = _run_reference(make_reference(), params, grads)
    assert all(v.shape[0] == STEPS >= 20 for v in expected.values())
    _assert_close(ours, expected)


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


# ----------------------------------------------------------------------------
# Convergence.


def _least_squares():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(32, 6)).astype(np.float32)
    target = {
        "w": rng.normal(size=(6, 4)).astype(np.float32),
        "b": np.linspace(-1, 1, 4, dtype=np.float32),
    }
    y = x @ target["w"] + target["b"][None]
    loss = lambda p: 0.5 * jnp.mean(jnp.sum((x @ p["w"] + p["b"][None] - y) ** 2, axis=1))  # noqa: E731
    return loss, target


def _quadratic():
    scales = jnp.logspace(0, 2, 6)  # condition number 100
    target = {"x": jnp.linspace(-1.0, 1.0, 6)}
    loss = lambda p: 0.5 * jnp.sum(scales * (p["x"] - target["x"]) ** 2)  # noqa: E731
    return loss, target


def _cosine(peak, steps):
    return lambda t: peak * 0.5 * (1.0 + jnp.cos(jnp.pi * jnp.minimum(t, steps) / steps))


CONVERGENCE = {
    # Muon's step has a fixed spectral size, so it needs the decaying schedule.
    "muon": (_least_squares, lambda s: optjax.muon(_cosine(0.05, s)), 1500, 1e-3),
    "adopt": (_quadratic, lambda s: optjax.adopt(_cosine(0.05, s)), 1500, 1e-3),
    "ademamix": (_quadratic, lambda s: optjax.ademamix(_cosine(0.02, s), b3=0.999), 1500, 1e-3),
    "simplified_ademamix": (
        _quadratic,
        lambda s: optjax.simplified_ademamix(_cosine(0.002, s), b1=0.9),
        1500,
        1e-3,
    ),
}


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_reaches_the_minimum(name):
    problem, make, steps, tolerance = CONVERGENCE[name]
    loss, target = problem()
    params = jax.tree.map(jnp.zeros_like, target)
    tx = make(steps)

    @jax.jit
    def run(params):
        def step(carry, _):
            p, state = carry
            u, state = tx.update(jax.grad(loss)(p), state, p)
            return (optjax.apply_updates(p, u), state), None

        return jax.lax.scan(step, (params, tx.init(params)), None, length=steps)[0][0]

    final = run(params)
    for k in target:
        error = float(jnp.max(jnp.abs(final[k] - target[k])))
        assert error < tolerance, f"{name}: |{k} - {k}*|_inf = {error:.2e} >= {tolerance}"


# ----------------------------------------------------------------------------
# Muon's rule for leaves that are not matrices.

MIXED = {"w": (4, 3), "b": (3,), "s": (), "k": (2, 3, 3, 2)}
NON_MATRIX = ("b", "s", "k")


@functools.cache
def _mixed_data():
    return _params(MIXED, seed=6), _gradients(MIXED, steps=12, seed=7)


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
    ours, _ = _run(optjax.muon(**muon_kwargs), params, grads)
    sub = lambda tree: {k: tree[k] for k in NON_MATRIX}  # noqa: E731
    expected, _ = _run(optjax.adamw(**adamw_kwargs), sub(params), sub(grads))
    for k in NON_MATRIX:
        np.testing.assert_allclose(ours[k], expected[k], rtol=1e-6, atol=1e-8, err_msg=k)


def test_muon_matrix_leaf_is_orthogonalized_and_unaffected_by_the_others():
    params, grads = _mixed_data()
    ours, _ = _run(optjax.muon(0.02), params, grads)
    alone, _ = _run(optjax.muon(0.02), {"w": params["w"]}, {"w": grads["w"]})
    np.testing.assert_allclose(ours["w"], alone["w"], rtol=1e-6, atol=1e-8)
    # Shape (4, 3): fan_out/fan_in < 1, so the update is -lr times NS(momentum).
    singular_values = np.linalg.svd(ours["w"][-1] / -0.02, compute_uv=False)
    assert singular_values.min() > 0.6 and singular_values.max() < 1.25


def test_muon_with_only_non_matrix_leaves_is_adamw_without_error():
    params = {"b": jnp.array([1.0, -2.0]), "s": jnp.array(0.5)}
    grads = {"b": np.ones((5, 2), np.float32), "s": np.linspace(-1, 1, 5, dtype=np.float32)}
    ours, state = _run(optjax.muon(0.1), params, grads)
    expected, _ = _run(optjax.nadamw(0.1, weight_decay=0.0), params, grads)
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
    ours, _ = _run(optjax.muon(0.02, muon_weight_dimension_numbers=spec), params, grads)
    flat = lambda x: x.reshape(*x.shape[:-4], 18, 2)  # noqa: E731
    expected, _ = _run(optjax.muon(0.02), {"k": flat(params["k"])}, {"k": flat(grads["k"])})
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


def test_adopt_state_is_adams_state():
    state = optjax.adopt(0.1).init({"w": jnp.ones(2)})[0]
    assert optjax.ScaleByAdoptState is optjax.ScaleByAdamState
    assert isinstance(state, optjax.ScaleByAdoptState) and state._fields == ("count", "mu", "nu")


# ----------------------------------------------------------------------------
# Bad hyperparameters.

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
    (optjax.adopt, dict(learning_rate=0.1, b1=1.0), "b1"),
    (optjax.adopt, dict(learning_rate=0.1, b2=-0.5), "b2"),
    (optjax.adopt, dict(learning_rate=0.1, eps=-1.0), "eps"),
    (optjax.scale_by_adopt, dict(b2=1.0), "b2"),
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


def test_traced_hyperparameters_are_not_checked_and_vmap_over_learning_rate_works():
    params = {"w": jnp.ones((3, 2)), "b": jnp.ones(2)}
    grads = jax.tree.map(lambda x: 0.5 * x, params)

    def first_update(lr, beta):
        tx = optjax.muon(lr, beta=beta)
        return tx.update(grads, tx.init(params), params)[0]

    updates = jax.jit(jax.vmap(first_update))(jnp.array([0.1, 0.2]), jnp.array([0.9, 0.95]))
    np.testing.assert_allclose(updates["b"][1], 2 * updates["b"][0], rtol=1e-6)
