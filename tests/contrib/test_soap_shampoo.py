"""SOAP and blocked Shampoo against plain-NumPy versions of their algorithm boxes.

Optax has neither optimizer, so the references are written here from the papers
(Vyas et al. 2024, Algorithm 3, with the official implementation's first-step
and refresh conventions; Gupta et al. 2018 / Anil et al. 2020 for blocked
Shampoo with per-block Adam grafting). Both sides get the same gradient
sequence and their updates are compared step by step; updates (not
eigenvectors) are compared, so the sign and order ambiguity of eigenvectors
does not matter.
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import make_params

import optjax

STEPS = 24
SHAPES = {"w": (3, 4), "t3": (2, 2, 3), "t4": (2, 3, 3, 2), "b": (4,), "s": ()}


def _tree(arrays):
    """The test tree: a matrix, a 3-d and a 4-d tensor, a bias, a scalar and a None."""
    return {
        "dense": {"w": arrays["w"], "b": arrays["b"]},
        "conv": (arrays["t4"], arrays["t3"]),
        "s": arrays["s"],
        "frozen": None,
    }


def _gradients(seed=0, steps=STEPS):
    """A fixed sequence of generic gradients with a drifting scale."""
    rng = np.random.default_rng(seed)
    grads = {}
    for name, shape in SHAPES.items():
        scale = 1.0 + 0.5 * np.sin(np.arange(steps))
        scale = scale.reshape((steps,) + (1,) * len(shape))
        grads[name] = rng.standard_normal((steps,) + shape) * scale + 0.3
    return grads


@functools.cache
def _scan_updates(make):
    """Compiled ``(params, grads) -> all updates`` under ``lax.scan``."""

    @jax.jit
    def run(params, grads):
        tx = make()

        def step(state, g):
            updates, state = tx.update(g, state, params)
            return state, updates

        return jax.lax.scan(step, tx.init(params), grads)[1]

    return run


def _run_optjax(make, dtype):
    grads = {k: jnp.asarray(v, dtype) for k, v in _gradients().items()}
    params = jax.tree.map(lambda g: g[0], _tree(grads))
    updates = _scan_updates(make)(params, _tree(grads))
    return {k: np.asarray(v, np.float64) for k, v in _flat(updates).items()}


def _flat(tree):
    return {
        "w": tree["dense"]["w"],
        "b": tree["dense"]["b"],
        "t4": tree["conv"][0],
        "t3": tree["conv"][1],
        "s": tree["s"],
    }


# ----------------------------------------------------------------------------
# NumPy SOAP (Algorithm 3 of Vyas et al., official-implementation conventions).


def _mode_product(x, q, axis, transpose):
    """``x`` times ``q^T`` (or ``q``) along ``axis``."""
    m = q.T if transpose else q
    return np.moveaxis(np.tensordot(m, np.moveaxis(x, axis, 0), axes=1), 0, axis)


def _gram_along(x, axis):
    y = np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)
    return y @ y.T


class NumpySoap:
    """One leaf. ``view``/``unview`` give the (merged) shape it is preconditioned in."""

    def __init__(self, shape, b1, b2, beta, eps, freq, max_dim, view=None, unview=None):
        self.b1, self.b2, self.beta, self.eps, self.freq = b1, b2, beta, eps, freq
        self.view = view or (lambda x: x)
        self.unview = unview or (lambda x: x)
        vshape = self.view(np.zeros(shape)).shape
        self.dims = [d if (len(shape) >= 2 and d <= max_dim) else None for d in vshape]
        self.L = [None if d is None else np.zeros((d, d)) for d in self.dims]
        self.Q = [None if d is None else np.eye(d) for d in self.dims]
        self.M = np.zeros(vshape)
        self.V = np.zeros(vshape)
        self.calls = 0
        self.t = 0

    def rotate(self, x, back=False):
        for i, q in enumerate(self.Q):
            if q is not None:
                x = _mode_product(x, q, i, transpose=not back)
        return x

    def step(self, g):
        g = self.view(np.asarray(g, np.float64))
        if self.calls == 0:
            # First call: statistics and eigenbasis only, no step.
            self.calls += 1
            for i, d in enumerate(self.dims):
                if d is not None:
                    self.L[i] = (1 - self.beta) * _gram_along(g, i)
                    vals, vecs = np.linalg.eigh(self.L[i])
                    self.Q[i] = vecs[:, np.argsort(-vals)]
            return self.unview(np.zeros_like(g))
        self.calls += 1
        self.t += 1
        g_rot = self.rotate(g)
        self.M = self.b1 * self.M + (1 - self.b1) * g
        self.V = self.b2 * self.V + (1 - self.b2) * g_rot**2
        n = self.rotate(self.rotate(self.M) / (np.sqrt(self.V) + self.eps), back=True)
        n = n * np.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        for i, d in enumerate(self.dims):
            if d is not None:
                self.L[i] = self.beta * self.L[i] + (1 - self.beta) * _gram_along(g, i)
        if self.t % self.freq == 0:
            for i, d in enumerate(self.dims):
                if d is None:
                    continue
                q = self.Q[i]
                order = np.argsort(-np.diag(q.T @ self.L[i] @ q))
                self.V = np.take(self.V, order, axis=i)
                self.Q[i] = np.linalg.qr(self.L[i] @ q[:, order])[0]
        return self.unview(n)


def _numpy_soap(kwargs, views=None):
    views = views or {}
    b2 = kwargs.get("b2", 0.95)
    beta = kwargs.get("shampoo_beta", -1)
    out = {}
    for name, seq in _gradients().items():
        view, unview = views.get(name, (None, None))
        ref = NumpySoap(
            SHAPES[name],
            kwargs.get("b1", 0.95),
            b2,
            b2 if beta < 0 else beta,
            kwargs.get("eps", 1e-8),
            kwargs.get("precondition_frequency", 10),
            kwargs.get("max_precond_dim", 10000),
            view,
            unview,
        )
        out[name] = np.stack([ref.step(g) for g in seq])
    return out


def _channels_last_view(merged):
    """The reference's NHWC handling: move the last axis to position 1, then merge."""

    def view(x):
        return np.transpose(x, (0, 3, 1, 2)).reshape(merged)

    def unview(y):
        return np.transpose(y.reshape(2, 2, 3, 3), (0, 2, 3, 1))

    return view, unview


SOAP_SETTINGS = {
    "defaults": ({}, {}),
    "freq3": ({"b1": 0.9, "b2": 0.99, "shampoo_beta": 0.9, "precondition_frequency": 3}, {}),
    # Dimension 4 of the matrix exceeds 3: only its rows are rotated.
    "max_dim3": ({"precondition_frequency": 4, "max_precond_dim": 3}, {}),
    # (2, 2, 3) -> (4, 3); (2, 3, 3, 2) -> NCHW (2, 2, 3, 3) -> (4, 3, 3); (3, 4) stays.
    # (Shapes chosen so that the first statistics have no repeated zero eigenvalue,
    # whose eigenbasis would be arbitrary.)
    "merge": (
        {"precondition_frequency": 5, "max_precond_dim": 4, "merge_dims": True},
        {
            "t3": (lambda x: x.reshape(4, 3), lambda y: y.reshape(2, 2, 3)),
            "t4": _channels_last_view((4, 3, 3)),
        },
    ),
}


@pytest.mark.parametrize("setting", sorted(SOAP_SETTINGS))
def test_soap_matches_numpy_reference_float64(setting):
    kwargs, views = SOAP_SETTINGS[setting]
    with jax.enable_x64(True):
        ours = _run_optjax(lambda: optjax.scale_by_soap(**kwargs), jnp.float64)
    expected = _numpy_soap(kwargs, views)
    for name in SHAPES:
        np.testing.assert_allclose(ours[name], expected[name], rtol=1e-7, atol=1e-9, err_msg=name)
    assert all(np.all(ours[name][0] == 0) for name in SHAPES)  # first call: basis only


def test_soap_matches_numpy_reference_float32():
    # float32 eigendecompositions and QR: compare at rtol 1e-4 on the update scale.
    ours = _run_optjax(lambda: optjax.scale_by_soap(precondition_frequency=3), jnp.float32)
    expected = _numpy_soap({"precondition_frequency": 3})
    for name in SHAPES:
        scale = np.abs(expected[name]).max()
        np.testing.assert_allclose(
            ours[name], expected[name], rtol=1e-4, atol=1e-4 * scale, err_msg=name
        )


def test_soap_merge_dims_two_d_leaf_becomes_one_full_preconditioner():
    # (3, 4) with max_precond_dim 12 merges into one 12-vector: one 12 x 12 statistic.
    state = optjax.scale_by_soap(merge_dims=True, max_precond_dim=12).init(jnp.zeros((3, 4)))
    assert [s.shape for s in state.stats] == [(12, 12)]
    state = optjax.scale_by_soap(max_precond_dim=3).init(jnp.zeros((3, 4)))
    assert state.stats[0].shape == (3, 3) and state.stats[1] is None


# ----------------------------------------------------------------------------
# NumPy blocked Shampoo with per-block Adam grafting and momentum.


class NumpyShampoo:
    """One leaf, with explicit loops over its blocks (no padding)."""

    def __init__(self, shape, b1, b2, eps, meps, block, freq, start, decay):
        self.b1, self.b2, self.eps, self.meps = b1, b2, eps, meps
        self.freq, self.start, self.decay = freq, start, decay
        self.shape = shape
        self.m = np.zeros(shape)
        self.v = np.zeros(shape)
        self.t = 0
        self.blocks = []
        if len(shape) >= 2:
            ranges = [[slice(lo, min(lo + block, d)) for lo in range(0, d, block)] for d in shape]
            self.blocks = list(itertools.product(*ranges))
        sizes = [[s.stop - s.start for s in blk] for blk in self.blocks]
        self.L = [[np.zeros((b, b)) for b in bs] for bs in sizes]
        self.P = [[np.eye(b) for b in bs] for bs in sizes]

    def step(self, g):
        g = np.asarray(g, np.float64)
        self.t += 1
        t = self.t
        self.v = self.b2 * self.v + (1 - self.b2) * g**2
        adam = g / (np.sqrt(self.v / (1 - self.b2**t)) + self.eps)
        direction = adam.copy()
        k = len(self.shape)
        for j, blk in enumerate(self.blocks):
            gb = g[blk]
            for i in range(k):
                gram = _gram_along(gb, i)
                if self.decay is None:
                    self.L[j][i] = self.L[j][i] + gram
                else:
                    self.L[j][i] = self.decay * self.L[j][i] + (1 - self.decay) * gram
            if t % self.freq == 0 or t == self.start:
                for i in range(k):
                    vals, vecs = np.linalg.eigh(self.L[j][i])
                    vals = np.maximum(vals, 0) + self.meps
                    self.P[j][i] = (vecs * vals ** (-1 / (2 * k))) @ vecs.T
            if t >= self.start:
                s = gb
                for i in range(k):
                    s = _mode_product(s, self.P[j][i], i, transpose=False)
                direction[blk] = s * np.linalg.norm(adam[blk]) / np.linalg.norm(s)
        self.m = self.b1 * self.m + (1 - self.b1) * direction
        return self.m / (1 - self.b1**t)


SHAMPOO_DEFAULTS = {
    "b1": 0.9,
    "b2": 0.999,
    "eps": 1e-8,
    "matrix_epsilon": 1e-6,
    "block_size": 128,
    "precondition_frequency": 10,
    "start_preconditioning_step": 10,
    "stats_decay": None,
}


def _numpy_shampoo(kwargs):
    p = {**SHAMPOO_DEFAULTS, **kwargs}
    out = {}
    for name, seq in _gradients().items():
        ref = NumpyShampoo(
            SHAPES[name],
            p["b1"],
            p["b2"],
            p["eps"],
            p["matrix_epsilon"],
            p["block_size"],
            p["precondition_frequency"],
            p["start_preconditioning_step"],
            p["stats_decay"],
        )
        out[name] = np.stack([ref.step(g) for g in seq])
    return out


SHAMPOO_SETTINGS = {
    "defaults": {},
    # Uneven blocks: 3 -> [2, 1], 4 -> [2, 2]; refresh every 3 steps from step 2.
    "blocks2": {"block_size": 2, "precondition_frequency": 3, "start_preconditioning_step": 2},
    "decay": {
        "block_size": 3,
        "precondition_frequency": 4,
        "start_preconditioning_step": 1,
        "stats_decay": 0.9,
        "b1": 0.5,
        "matrix_epsilon": 1e-3,
    },
}


@pytest.mark.parametrize("setting", sorted(SHAMPOO_SETTINGS))
def test_shampoo_matches_numpy_reference_float64(setting):
    kwargs = SHAMPOO_SETTINGS[setting]
    with jax.enable_x64(True):
        ours = _run_optjax(lambda: optjax.scale_by_shampoo(**kwargs), jnp.float64)
    expected = _numpy_shampoo(kwargs)
    for name in SHAPES:
        np.testing.assert_allclose(ours[name], expected[name], rtol=1e-7, atol=1e-9, err_msg=name)


def test_shampoo_matches_numpy_reference_float32():
    kwargs = SHAMPOO_SETTINGS["blocks2"]
    ours = _run_optjax(lambda: optjax.scale_by_shampoo(**kwargs), jnp.float32)
    expected = _numpy_shampoo(kwargs)
    for name in SHAPES:
        scale = np.abs(expected[name]).max()
        np.testing.assert_allclose(
            ours[name], expected[name], rtol=1e-4, atol=1e-4 * scale, err_msg=name
        )


# ----------------------------------------------------------------------------
# Documented fallbacks for leaves that are not matrices.


def _leaf_updates(tx, grads):
    """Updates of ``tx`` for the bias and the scalar leaves (a tree without matrices)."""
    tree = {"b": jnp.asarray(grads["b"], jnp.float32), "s": jnp.asarray(grads["s"], jnp.float32)}
    params = jax.tree.map(lambda g: g[0], tree)

    def step(state, g):
        updates, state = tx.update(g, state, params)
        return state, updates

    return jax.lax.scan(step, tx.init(params), tree)[1]


def test_soap_bias_and_scalar_follow_adam_one_step_late():
    grads = _gradients()
    ours = _leaf_updates(optjax.scale_by_soap(b1=0.9, b2=0.99, eps=0.0), grads)
    # eps = 0 makes the reference's sqrt(1 - b2^t) / (1 - b1^t) scaling exactly Adam's.
    late = {k: v[1:] for k, v in grads.items()}
    adam = _leaf_updates(optjax.scale_by_adam(b1=0.9, b2=0.99, eps=0.0), late)
    for name in ("b", "s"):
        np.testing.assert_array_equal(ours[name][0], 0.0)
        np.testing.assert_allclose(ours[name][1:], adam[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_shampoo_bias_and_scalar_take_the_adam_graft_with_momentum():
    grads = _gradients()
    ours = _leaf_updates(optjax.scale_by_shampoo(start_preconditioning_step=1), grads)
    graft = optjax.chain(optjax.scale_by_adam(b1=0.0, b2=0.999, eps=1e-8), optjax.ema(0.9))
    expected = _leaf_updates(graft, grads)
    for name in ("b", "s"):
        np.testing.assert_allclose(ours[name], expected[name], rtol=1e-5, err_msg=name)


def test_shampoo_before_start_is_the_adam_graft_for_every_leaf():
    grads = {"w": jnp.asarray(_gradients()["w"][:8], jnp.float32)}
    params = {"w": grads["w"][0]}

    def run(tx):
        def step(state, g):
            updates, state = tx.update(g, state, params)
            return state, updates

        return jax.lax.scan(step, tx.init(params), grads)[1]["w"]

    ours = run(optjax.scale_by_shampoo(start_preconditioning_step=9))
    graft = run(optjax.chain(optjax.scale_by_adam(b1=0.0), optjax.ema(0.9)))
    np.testing.assert_allclose(ours, graft, rtol=1e-5)


@pytest.mark.parametrize("name", ["scale_by_soap", "scale_by_shampoo", "soap"])
def test_trees_without_matrices_need_no_special_setting(name):
    tx = getattr(optjax, name)() if name != "soap" else optjax.soap(0.1)
    params = {"b": jnp.ones(3), "s": jnp.asarray(2.0), "none": None}
    updates, _ = tx.update(params, tx.init(params), params)
    assert jax.tree.structure(updates) == jax.tree.structure(params)


# ----------------------------------------------------------------------------
# Bad hyperparameters.

BAD_INPUT = [
    (optjax.scale_by_soap, {"precondition_frequency": 0}, "precondition_frequency"),
    (optjax.scale_by_soap, {"precondition_frequency": -2}, "precondition_frequency"),
    (optjax.scale_by_soap, {"precondition_frequency": 2.5}, "precondition_frequency"),
    (optjax.scale_by_soap, {"max_precond_dim": 0}, "max_precond_dim"),
    (optjax.scale_by_soap, {"data_format": "NCHW"}, "data_format"),
    (optjax.scale_by_soap, {"b1": 1.0}, "b1"),
    (optjax.scale_by_soap, {"b2": -0.1}, "b2"),
    (optjax.scale_by_soap, {"shampoo_beta": 1.5}, "shampoo_beta"),
    (optjax.scale_by_soap, {"eps": -1e-8}, "eps"),
    (optjax.soap, {"precondition_frequency": 0}, "precondition_frequency"),
    (optjax.scale_by_shampoo, {"block_size": 0}, "block_size"),
    (optjax.scale_by_shampoo, {"block_size": -4}, "block_size"),
    (optjax.scale_by_shampoo, {"block_size": 2.0}, "block_size"),
    (optjax.scale_by_shampoo, {"precondition_frequency": 0}, "precondition_frequency"),
    (optjax.scale_by_shampoo, {"precondition_frequency": -1}, "precondition_frequency"),
    (optjax.scale_by_shampoo, {"start_preconditioning_step": 0}, "start_preconditioning_step"),
    (optjax.scale_by_shampoo, {"matrix_epsilon": -1.0}, "matrix_epsilon"),
    (optjax.scale_by_shampoo, {"stats_decay": 1.0}, "stats_decay"),
    (optjax.scale_by_shampoo, {"b1": 1.0}, "b1"),
    (optjax.shampoo, {"learning_rate": 0.1, "block_size": 0}, "block_size"),
]


@pytest.mark.parametrize(
    "fn, kwargs, argument", BAD_INPUT, ids=[f"{f.__name__}-{k}" for f, k, _ in BAD_INPUT]
)
def test_bad_hyperparameters_raise_naming_the_argument(fn, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        fn(**kwargs)


# ----------------------------------------------------------------------------
# Convergence on an ill-conditioned least-squares problem (condition number 1000).


def _least_squares():
    rng = np.random.default_rng(0)
    u, _ = np.linalg.qr(rng.standard_normal((12, 4)))
    v, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    a = u @ np.diag(np.logspace(0, 1.5, 4)) @ v.T
    b = rng.standard_normal((12, 3))
    solution = np.linalg.lstsq(np.hstack([a, np.ones((12, 1))]), b, rcond=None)[0]
    loss = lambda p: 0.5 * jnp.sum((jnp.asarray(a, jnp.float32) @ p["w"] + p["b"][None] - b) ** 2)  # noqa: E731
    return loss, {"w": solution[:4], "b": solution[4]}


@pytest.mark.parametrize(
    "make",
    [
        lambda lr: optjax.soap(lr, weight_decay=0.0),
        lambda lr: optjax.shampoo(lr),
    ],
    ids=["soap", "shampoo"],
)
def test_reaches_least_squares_solution(make):
    loss, solution = _least_squares()
    steps = 1000
    tx = make(optjax.cosine_decay_schedule(0.05, steps))
    params = {"w": jnp.zeros((4, 3)), "b": jnp.zeros(3)}

    @jax.jit
    def run(params):
        def step(carry, _):
            params, state = carry
            updates, state = tx.update(jax.grad(loss)(params), state, params)
            return (optjax.apply_updates(params, updates), state), None

        return jax.lax.scan(step, (params, tx.init(params)), None, length=steps)[0][0]

    final = run(params)
    for name in ("w", "b"):
        np.testing.assert_allclose(final[name], solution[name], atol=1e-4, err_msg=name)


# ----------------------------------------------------------------------------
# The contract checks (jit == eager, vmap == loop, abstract init, scan-stable
# state, dtypes, differentiability), written here because Optax has no
# reference for these optimizers. Eigendecompositions round differently under
# jit and eagerly, so updates are compared at rtol 1e-4 on well-posed shapes.

CONTRACT_CASES = {
    "scale_by_soap": lambda: optjax.scale_by_soap(precondition_frequency=2),
    "soap/merge": lambda: optjax.soap(
        0.01, precondition_frequency=2, merge_dims=True, max_precond_dim=4
    ),
    "shampoo/blocks3": lambda: optjax.shampoo(
        0.01, block_size=3, precondition_frequency=2, start_preconditioning_step=1
    ),
}
CONTRACT_IDS = sorted(CONTRACT_CASES)


def _contract_inputs(dtype=jnp.float32, steps=3):
    grads = {k: jnp.asarray(v[:steps], dtype) for k, v in _gradients().items()}
    return jax.tree.map(lambda g: g[0], _tree(grads)), _tree(grads)


def _assert_close(actual, expected, rtol=1e-4):
    for a, b in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(np.abs(b).max(), 1e-6))


@pytest.mark.parametrize("name", CONTRACT_IDS)
def test_jit_equals_eager_and_compiles_once(name):
    tx = CONTRACT_CASES[name]()
    params, grads = _contract_inputs()
    traces = []

    @jax.jit
    def step(g, state):
        traces.append(1)
        return tx.update(g, state, params)

    eager_state = jit_state = tx.init(params)
    for i in range(3):
        g = jax.tree.map(lambda x, i=i: x[i], grads)
        eager, eager_state = tx.update(g, eager_state, params)
        jitted, jit_state = step(g, jit_state)
        _assert_close(jitted, eager)
    assert len(traces) == 1


@pytest.mark.parametrize("name", CONTRACT_IDS)
def test_vmap_over_independent_trees_equals_loop(name):
    tx = CONTRACT_CASES[name]()
    params, grads = _contract_inputs()

    def run(scale):
        g_seq = jax.tree.map(lambda g: g * scale, grads)

        def body(state, g):
            updates, state = tx.update(g, state, params)
            return state, updates

        return jax.lax.scan(body, tx.init(params), g_seq)[1]

    scales = jnp.array([1.0, 0.5, 2.0])
    batched = jax.jit(jax.vmap(run))(scales)
    single = jax.jit(run)
    for i, scale in enumerate(scales):
        _assert_close(jax.tree.map(lambda x, i=i: x[i], batched), single(scale))


@pytest.mark.parametrize("name", CONTRACT_IDS)
def test_abstract_init_and_state_stable_under_scan(name):
    tx = CONTRACT_CASES[name]()
    params, grads = _contract_inputs()
    state = tx.init(params)
    abstract = jax.eval_shape(tx.init, params)
    assert jax.tree.structure(abstract) == jax.tree.structure(state)
    for a, b in zip(jax.tree.leaves(abstract), jax.tree.leaves(state)):
        assert a.shape == b.shape and a.dtype == b.dtype

    def body(state, g):
        return tx.update(g, state, params)[1], None

    final = jax.jit(lambda s: jax.lax.scan(body, s, grads)[0])(state)
    assert jax.tree.structure(final) == jax.tree.structure(state)
    for a, b in zip(jax.tree.leaves(final), jax.tree.leaves(state)):
        assert a.shape == b.shape and a.dtype == b.dtype


@pytest.mark.parametrize("name", CONTRACT_IDS)
@pytest.mark.parametrize("dtype", [jnp.bfloat16])
def test_updates_keep_the_gradient_dtype(name, dtype):
    tx = CONTRACT_CASES[name]()
    params = make_params(dtype)

    @jax.jit
    def two_steps(params):
        state = tx.init(params)
        for _ in range(2):
            updates, state = tx.update(params, state, params, value=1.0, unexpected_flag=True)
        return updates

    updates = two_steps(params)
    assert jax.tree.structure(updates) == jax.tree.structure(params)
    for u in jax.tree.leaves(updates):
        assert u.dtype == dtype and np.all(np.isfinite(np.asarray(u, np.float32)))


@pytest.mark.parametrize("name", CONTRACT_IDS)
def test_float64_under_x64(name):
    with jax.enable_x64(True):
        tx = CONTRACT_CASES[name]()
        params, grads = _contract_inputs(jnp.float64, steps=2)

        @jax.jit
        def run(grads):
            state = tx.init(params)
            for i in range(2):
                g = jax.tree.map(lambda x, i=i: x[i], grads)
                updates, state = tx.update(g, state, params)
            return updates

        updates = run(grads)
        for leaf in jax.tree.leaves(updates):
            assert leaf.dtype == jnp.float64 and np.all(np.isfinite(np.asarray(leaf)))


@pytest.mark.parametrize("name", CONTRACT_IDS)
def test_update_is_differentiable(name):
    tx = CONTRACT_CASES[name]()
    params, grads = _contract_inputs(steps=2)
    first = jax.tree.map(lambda x: x[0], grads)
    _, state = tx.update(first, tx.init(params), params)

    def objective(g):
        updates, _ = tx.update(g, state, params)
        return sum(jnp.sum(u) for u in jax.tree.leaves(updates))

    sensitivity = jax.jit(jax.grad(objective))(jax.tree.map(lambda x: x[1], grads))
    for leaf in jax.tree.leaves(sensitivity):
        assert np.all(np.isfinite(np.asarray(leaf)))


@pytest.mark.parametrize(
    "make",
    [lambda lr: optjax.soap(lr, precondition_frequency=2), lambda lr: optjax.shampoo(lr)],
    ids=["soap", "shampoo"],
)
def test_vmap_over_learning_rate(make):
    params, grads = _contract_inputs(steps=2)

    def run(lr):
        tx = make(lr)

        def body(state, g):
            updates, state = tx.update(g, state, params)
            return state, updates

        return jax.lax.scan(body, tx.init(params), grads)[1]

    lrs = jnp.array([0.0, 0.01, 0.1])
    batched = jax.jit(jax.vmap(run))(lrs)
    single = jax.jit(run)
    for i, lr in enumerate(lrs):
        _assert_close(jax.tree.map(lambda x, i=i: x[i], batched), single(lr))
