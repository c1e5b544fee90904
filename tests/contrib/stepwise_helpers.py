"""Shared pieces of the Muon, ADOPT and AdEMAMix tests.

A fixed gradient sequence on a tree with a matrix, a bias and a scalar; the
updates of a transformation over it (params updated as it goes) and of a NumPy
``step_fn(t, g, p)`` reference; and the problems and runner of the convergence
checks.
"""

import jax
import jax.numpy as jnp
import numpy as np

import optjax

STEPS = 25
SHAPES = {"w": (4, 3), "b": (3,), "s": ()}


def random_gradients(shapes=SHAPES, steps=STEPS, seed=0):
    """A fixed sequence of gradients per leaf, shape (steps, *leaf_shape), float32."""
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=(steps, *shape)).astype(np.float32) for k, shape in shapes.items()}


def random_params(shapes=SHAPES, seed=1):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=shape).astype(np.float32) for k, shape in shapes.items()}


def run_updates(tx, params, grads):
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


def run_reference(step_fn, params, grads):
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


def assert_updates_close(actual, expected, rtol=2e-4, atol=2e-6):
    for k in expected:
        np.testing.assert_allclose(actual[k], expected[k], rtol=rtol, atol=atol, err_msg=k)


def least_squares():
    """A linear model's least squares (matrix ``w``, bias ``b``) and its minimizer."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(32, 6)).astype(np.float32)
    target = {
        "w": rng.normal(size=(6, 4)).astype(np.float32),
        "b": np.linspace(-1, 1, 4, dtype=np.float32),
    }
    y = x @ target["w"] + target["b"][None]
    loss = lambda p: 0.5 * jnp.mean(jnp.sum((x @ p["w"] + p["b"][None] - y) ** 2, axis=1))  # noqa: E731
    return loss, target


def quadratic():
    """An ill-conditioned quadratic (condition number 100) and its minimizer."""
    scales = jnp.logspace(0, 2, 6)  # condition number 100
    target = {"x": jnp.linspace(-1.0, 1.0, 6)}
    loss = lambda p: 0.5 * jnp.sum(scales * (p["x"] - target["x"]) ** 2)  # noqa: E731
    return loss, target


def cosine(peak, steps):
    """A cosine decay from ``peak`` to 0 over ``steps``."""
    return lambda t: peak * 0.5 * (1.0 + jnp.cos(jnp.pi * jnp.minimum(t, steps) / steps))


def assert_reaches_the_minimum(name, problem, make, steps, tolerance):
    """Runs ``make(steps)`` from zeros on ``problem()`` and checks the sup-norm error."""
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
