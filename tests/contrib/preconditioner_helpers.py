"""Shared pieces of the SOAP and Shampoo tests.

A tree with a matrix, a 3-d and a 4-d tensor, a bias, a scalar and a ``None``;
a fixed gradient sequence for it; the updates of a transformation over that
sequence; an ill-conditioned least-squares problem; and the contract checks
(jit == eager, vmap == loop, abstract init, scan-stable state, dtypes,
differentiability), written here because Optax has no reference for these
optimizers. Eigendecompositions round differently under jit and eagerly, so
updates are compared at rtol 1e-4 on well-posed shapes.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from harness import make_params

import optjax

STEPS = 24
SHAPES = {"w": (3, 4), "t3": (2, 2, 3), "t4": (2, 3, 3, 2), "b": (4,), "s": ()}


def sample_tree(arrays):
    """The test tree: a matrix, a 3-d and a 4-d tensor, a bias, a scalar and a None."""
    return {
        "dense": {"w": arrays["w"], "b": arrays["b"]},
        "conv": (arrays["t4"], arrays["t3"]),
        "s": arrays["s"],
        "frozen": None,
    }


def gradients(seed=0, steps=STEPS):
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


def run_optjax(make, dtype):
    grads = {k: jnp.asarray(v, dtype) for k, v in gradients().items()}
    params = jax.tree.map(lambda g: g[0], sample_tree(grads))
    updates = _scan_updates(make)(params, sample_tree(grads))
    return {k: np.asarray(v, np.float64) for k, v in _flat(updates).items()}


def _flat(tree):
    return {
        "w": tree["dense"]["w"],
        "b": tree["dense"]["b"],
        "t4": tree["conv"][0],
        "t3": tree["conv"][1],
        "s": tree["s"],
    }


def leaf_updates(tx, grads):
    """Updates of ``tx`` for the bias and the scalar leaves (a tree without matrices)."""
    tree = {"b": jnp.asarray(grads["b"], jnp.float32), "s": jnp.asarray(grads["s"], jnp.float32)}
    params = jax.tree.map(lambda g: g[0], tree)

    def step(state, g):
        updates, state = tx.update(g, state, params)
        return state, updates

    return jax.lax.scan(step, tx.init(params), tree)[1]


def contract_inputs(dtype=jnp.float32, steps=3):
    grads = {k: jnp.asarray(v[:steps], dtype) for k, v in gradients().items()}
    return jax.tree.map(lambda g: g[0], sample_tree(grads)), sample_tree(grads)


def assert_close_on_scale(actual, expected, rtol=1e-4):
    for a, b in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(np.abs(b).max(), 1e-6))


def assert_reaches_least_squares_solution(make, steps=1000):
    """``make(schedule)`` reaches the least-squares solution (condition number ~30) to 1e-4."""
    loss, solution = _least_squares()
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


def _least_squares():
    rng = np.random.default_rng(0)
    u, _ = np.linalg.qr(rng.standard_normal((12, 4)))
    v, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    a = u @ np.diag(np.logspace(0, 1.5, 4)) @ v.T
    b = rng.standard_normal((12, 3))
    solution = np.linalg.lstsq(np.hstack([a, np.ones((12, 1))]), b, rcond=None)[0]
    loss = lambda p: 0.5 * jnp.sum((jnp.asarray(a, jnp.float32) @ p["w"] + p["b"][None] - b) ** 2)  # noqa: E731
    return loss, {"w": solution[:4], "b": solution[4]}


def lr_sweep_matches_loop(make):
    """``vmap`` over the learning rate equals one run per learning rate."""
    params, grads = contract_inputs(steps=2)

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
        assert_close_on_scale(jax.tree.map(lambda x, i=i: x[i], batched), single(lr))


def check_jit_equals_eager_and_compiles_once(make):
    tx = make()
    params, grads = contract_inputs()
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
        assert_close_on_scale(jitted, eager)
    assert len(traces) == 1


def check_vmap_over_independent_trees_equals_loop(make):
    tx = make()
    params, grads = contract_inputs()

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
        assert_close_on_scale(jax.tree.map(lambda x, i=i: x[i], batched), single(scale))


def check_abstract_init_and_state_stable_under_scan(make):
    tx = make()
    params, grads = contract_inputs()
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


def check_updates_keep_the_gradient_dtype(make, dtype):
    tx = make()
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


def check_float64_under_x64(make):
    with jax.enable_x64(True):
        tx = make()
        params, grads = contract_inputs(jnp.float64, steps=2)

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


def check_update_is_differentiable(make):
    tx = make()
    params, grads = contract_inputs(steps=2)
    first = jax.tree.map(lambda x: x[0], grads)
    _, state = tx.update(first, tx.init(params), params)

    def objective(g):
        updates, _ = tx.update(g, state, params)
        return sum(jnp.sum(u) for u in jax.tree.leaves(updates))

    sensitivity = jax.jit(jax.grad(objective))(jax.tree.map(lambda x: x[1], grads))
    for leaf in jax.tree.leaves(sensitivity):
        assert np.all(np.isfinite(np.asarray(leaf)))


def mode_product(x, q, axis, transpose):
    """``x`` times ``q^T`` (or ``q``) along ``axis``."""
    m = q.T if transpose else q
    return np.moveaxis(np.tensordot(m, np.moveaxis(x, axis, 0), axes=1), 0, axis)


def gram_along(x, axis):
    """The Gram matrix of ``x``'s mode-``axis`` unfolding."""
    y = np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)
    return y @ y.T
