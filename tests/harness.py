"""Shared machinery for the registry tests: the parameter tree, the loss, one
compiled trajectory per case, tolerances per dtype, and path-aware comparison."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optjax

STEPS = 100

# Tolerances by dtype, in one place: (rtol, atol).
TOLERANCES = {
    jnp.dtype("float32"): (1e-5, 1e-6),
    jnp.dtype("float64"): (1e-9, 1e-12),
}


def make_params(dtype=jnp.float32):
    """A nested tree with dicts, lists, tuples, a scalar, ``None`` and a 4-d leaf."""
    keys = jax.random.split(jax.random.key(42), 5)

    def normal(k, shape):
        return jax.random.normal(k, shape, dtype=jnp.float32).astype(dtype)

    return {
        "dense": [normal(keys[0], (3, 4)), normal(keys[1], (4,))],
        "scalar": jnp.asarray(0.5, dtype=dtype),
        "conv": (normal(keys[2], (2, 3, 3, 2)),),
        "frozen": None,
        "nested": {"w": normal(keys[3], (5,)), "pair": (normal(keys[4], (2, 2)), None)},
    }


def loss(params):
    """Smooth, non-quadratic and leaf-coupled, so trajectories are not trivial."""
    leaves = jax.tree.leaves(params)
    total = 0.0
    for i, x in enumerate(leaves):
        x32 = x.astype(jnp.float32) if x.dtype == jnp.bfloat16 else x
        target = 0.3 * (i + 1)
        total = total + jnp.sum(0.5 * (x32 - target) ** 2 + 0.1 * jnp.cos(3.0 * x32))
    coupling = jnp.sum(leaves[0].astype(total.dtype)) * jnp.sum(leaves[-1].astype(total.dtype))
    return total + 0.01 * coupling


def trajectory(tx, apply_updates, params, pass_value, steps=STEPS):
    """Runs ``steps`` updates under ``lax.scan``; returns (params, state, all updates)."""
    state = tx.init(params)

    def step(carry, _):
        params, state = carry
        value, grads = jax.value_and_grad(loss)(params)
        grads = jax.tree.map(lambda g, p: g.astype(p.dtype), grads, params)
        kwargs = {"value": value} if pass_value else {}
        updates, state = tx.update(grads, state, params, **kwargs)
        return (apply_updates(params, updates), state), updates

    (params, state), updates = jax.lax.scan(step, (params, state), None, length=steps)
    return params, state, updates


def _compiled_pair(case, dtype_name, x64):
    # Not cached: each (case, dtype) runs once, and a cache would keep every
    # compiled 100-step trajectory alive for the whole run (gigabytes per
    # worker with the full registry, enough to crash XLA's compiler late in a run).
    del x64
    dtype = jnp.dtype(dtype_name)
    mine = case.make(optjax)
    theirs = case.reference(optax) if case.reference is not None else case.make(optax)

    @jax.jit
    def run(params):
        ours = trajectory(mine, optjax.apply_updates, params, pass_value=True)
        ref = trajectory(theirs, optax.apply_updates, params, pass_value=case.needs_value)
        return ours, ref

    return run, dtype


def run_pair(case, dtype):
    """Returns ((params, state, updates) for optjax, same for the reference)."""
    run, dtype = _compiled_pair(case, jnp.dtype(dtype).name, jax.config.jax_enable_x64)
    return run(make_params(dtype))


def flatten(tree):
    """``[(key path string, leaf)]`` so that NamedTuples of either library line up."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [(jax.tree_util.keystr(path), leaf) for path, leaf in leaves]


def assert_trees_close(actual, expected, *, rtol, atol, what, scale_relative=False):
    """Asserts leafwise closeness, naming the worst key path on failure."""
    actual_flat, expected_flat = flatten(actual), flatten(expected)
    actual_paths = [p for p, _ in actual_flat]
    expected_paths = [p for p, _ in expected_flat]
    assert actual_paths == expected_paths, (
        f"{what}: layouts differ.\n optjax:    {actual_paths}\n reference: {expected_paths}"
    )
    for (path, a), (_, b) in zip(actual_flat, expected_flat):
        a_is_key, b_is_key = _is_prng_key(a), _is_prng_key(b)
        if a_is_key or b_is_key:
            # Typed PRNG keys (add_noise's state): same key type, same bits.
            assert a_is_key and b_is_key, f"{what}{path}: dtype {a.dtype} vs {b.dtype}"
            assert a.dtype == b.dtype, f"{what}{path}: key type {a.dtype} vs {b.dtype}"
            np.testing.assert_array_equal(
                np.asarray(jax.random.key_data(a)),
                np.asarray(jax.random.key_data(b)),
                err_msg=f"{what}{path}",
            )
            continue
        a = np.asarray(a)
        b = np.asarray(b)
        assert a.shape == b.shape, f"{what}{path}: shape {a.shape} vs {b.shape}"
        if a.dtype != b.dtype and not scale_relative:
            raise AssertionError(f"{what}{path}: dtype {a.dtype} vs {b.dtype}")
        a64 = a.astype(np.float64) if a.dtype.kind != "c" else a.astype(np.complex128)
        b64 = b.astype(np.float64) if b.dtype.kind != "c" else b.astype(np.complex128)
        if a.dtype.kind in "iub":
            np.testing.assert_array_equal(a, b, err_msg=f"{what}{path}")
            continue
        tol = atol
        if scale_relative:
            finite = np.abs(b64[np.isfinite(b64)])
            tol = atol * max(1.0, float(finite.max()) if finite.size else 1.0)
        np.testing.assert_allclose(a64, b64, rtol=rtol, atol=tol, err_msg=f"{what}{path}")


def _is_prng_key(x):
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
