"""``split_real_and_imaginary`` against ``optax.contrib`` and against real pairs.

The registry's harness has real parameters only, so the complex wrapper is
compared here: with Optax step by step (updates and every state leaf), and with
the inner optimizer run on the explicit (real, imaginary) pair, which is what
the wrapper promises.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optjax


def _loss(params):
    z, r = params["z"], params["r"]
    return jnp.sum(jnp.abs(z - (1.0 - 2.0j)) ** 2 * jnp.cos(jnp.abs(z))) + jnp.sum(r**2)


def _params():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 2)) + 1j * rng.normal(size=(3, 2))
    return {"z": jnp.asarray(z, jnp.complex64), "r": jnp.asarray(rng.normal(size=4), jnp.float32)}


def _run(lib, tx, steps=4):
    params = _params()
    state = tx.init(params)
    history = []
    for _ in range(steps):
        # JAX returns the conjugate of the ascent direction: conjugate it back.
        grads = jax.tree.map(jnp.conj, jax.grad(_loss)(params))
        updates, state = tx.update(grads, state, params)
        params = lib.apply_updates(params, updates)
        history.append(updates)
    return history, state


def _flat(tree):
    return [(jax.tree_util.keystr(p), x) for p, x in jax.tree_util.tree_flatten_with_path(tree)[0]]


INNERS = {
    "adam": lambda lib: lib.adam(0.1, b1=0.8),
    "sgd_momentum": lambda lib: lib.sgd(0.05, momentum=0.9, nesterov=True),
    "block_norm": lambda lib: lib.chain(lib.scale_by_param_block_norm(), lib.scale(-0.1)),
}


@pytest.mark.parametrize("inner", INNERS.values(), ids=INNERS.keys())
def test_matches_optax_updates_and_state(inner):
    ours = _run(optjax, optjax.contrib.split_real_and_imaginary(inner(optjax)))
    theirs = _run(optax, optax.contrib.split_real_and_imaginary(inner(optax)))
    ours_flat, theirs_flat = _flat(ours), _flat(theirs)
    # Same layout: the state splits complex leaves into (real, imaginary) pairs.
    assert [p for p, _ in ours_flat] == [p for p, _ in theirs_flat]
    for (path, a), (_, b) in zip(ours_flat, theirs_flat):
        assert a.dtype == b.dtype, path
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=path)


def test_equals_the_inner_optimizer_on_the_real_pair():
    tx = optjax.contrib.split_real_and_imaginary(optjax.adam(0.1))
    history, _ = _run(optjax, tx)

    def pair_loss(p):
        return _loss({"z": p["x"] + 1j * p["y"], "r": p["r"]})

    params = _params()
    pair = {"x": params["z"].real, "y": params["z"].imag, "r": params["r"]}
    inner = optjax.adam(0.1)
    state = inner.init(pair)
    for step in range(4):
        updates, state = inner.update(jax.grad(pair_loss)(pair), state, pair)
        pair = optjax.apply_updates(pair, updates)
        got = history[step]
        np.testing.assert_allclose(got["z"], updates["x"] + 1j * updates["y"], rtol=1e-5)
        np.testing.assert_allclose(got["r"], updates["r"], rtol=1e-5)
        assert got["z"].dtype == jnp.complex64 and got["r"].dtype == jnp.float32


def test_extra_args_reach_the_inner_transform_and_jit_matches_eager():
    inner = optjax.chain(optjax.sgd(0.1), optjax.contrib.reduce_on_plateau(patience=0))
    tx = optjax.contrib.split_real_and_imaginary(inner)
    params = _params()
    grads = jax.tree.map(jnp.conj, jax.grad(_loss)(params))
    state = tx.init(params)
    eager = tx.update(grads, state, params, value=1.0)
    jitted = jax.jit(tx.update)(grads, state, params, value=1.0)
    for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert isinstance(eager[1], optjax.contrib.SplitRealAndImaginaryState)
    assert eager[1]._fields == optax.contrib.SplitRealAndImaginaryState._fields
    # patience=0 reduces the scale at the first evaluation, through the wrapper.
    assert float(eager[1].inner_state[1].scale) == pytest.approx(0.1)


def test_a_non_transform_inner_is_rejected():
    with pytest.raises(TypeError, match="init.*update"):
        optjax.contrib.split_real_and_imaginary(lambda g: g)
