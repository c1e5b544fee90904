"""optjax and Optax mix freely, and optjax drives flax.nnx.Optimizer."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from harness import assert_trees_close, loss, make_params

import optjax


def _run(tx, apply_updates, steps=20):
    params = make_params()
    state = tx.init(params)

    @jax.jit
    def step(params, state):
        grads = jax.grad(loss)(params)
        updates, state = tx.update(grads, state, params)
        return apply_updates(params, updates), state

    for _ in range(steps):
        params, state = step(params, state)
    return params


def test_optjax_transform_inside_optax_chain():
    mixed = optax.chain(optax.clip_by_global_norm(1.0), optjax.adamw(1e-2, weight_decay=1e-2))
    pure = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(1e-2, weight_decay=1e-2))
    assert_trees_close(
        _run(mixed, optax.apply_updates),
        _run(pure, optax.apply_updates),
        rtol=1e-6,
        atol=1e-7,
        what="optax.chain(optjax)",
    )


def test_optax_transform_inside_optjax_chain():
    mixed = optjax.chain(optax.clip_by_global_norm(1.0), optjax.sgd(1e-2, momentum=0.9))
    pure = optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(1e-2, momentum=0.9))
    assert_trees_close(
        _run(mixed, optjax.apply_updates),
        _run(pure, optax.apply_updates),
        rtol=1e-6,
        atol=1e-7,
        what="optjax.chain(optax)",
    )


def test_extra_args_reach_optax_transforms_that_accept_them():
    # optax.polyak_sgd needs `value`; an optax transform without extra-arg
    # support (optax.scale) must still work in the same chain.
    tx = optjax.chain(optax.scale(1.0), optax.polyak_sgd(max_learning_rate=0.5))
    params = {"w": jnp.array([1.0, -2.0])}
    grads = {"w": jnp.array([2.0, -4.0])}
    updates, _ = tx.update(grads, tx.init(params), params, value=jnp.array(5.0))
    ref, _ = optax.polyak_sgd(max_learning_rate=0.5).update(
        grads, optax.polyak_sgd(0.5).init(params), params, value=jnp.array(5.0)
    )
    np.testing.assert_allclose(updates["w"], ref["w"], rtol=1e-6)


class _MLP(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(3, 8, rngs=rngs)
        self.out = nnx.Linear(8, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(jax.nn.relu(self.hidden(x)))


def _train_nnx(tx, steps=10):
    model = _MLP(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    x = jnp.linspace(-1.0, 1.0, 24).reshape(8, 3)
    y = jnp.sum(x, axis=1, keepdims=True) ** 2

    @nnx.jit
    def step(model, optimizer):
        def mse(model):
            return jnp.mean((model(x) - y) ** 2)

        value, grads = nnx.value_and_grad(mse)(model)
        optimizer.update(model, grads)
        return value

    losses = [float(step(model, optimizer)) for _ in range(steps)]
    return nnx.state(model, nnx.Param), losses


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.adam(1e-2),
        lambda lib: lib.chain(lib.clip_by_global_norm(1.0), lib.sgd(5e-2, momentum=0.9)),
    ],
    ids=["adam", "clip+sgd"],
)
def test_optjax_drives_flax_nnx_optimizer(make):
    ours, our_losses = _train_nnx(make(optjax))
    ref, ref_losses = _train_nnx(make(optax))
    assert our_losses[-1] < our_losses[0]
    np.testing.assert_allclose(our_losses, ref_losses, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(ref)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_masked_with_a_path_based_mask_works_under_nnx_optimizer():
    # A mask that reads key names: at init nnx.Optimizer passes nnx.Variable
    # nodes (paths end in `.value`), at update plain arrays (Optax #1148).
    def kernels_only(params):
        return jax.tree_util.tree_map_with_path(lambda path, _: path[-1].key == "kernel", params)

    model = _MLP(nnx.Rngs(0))
    bias_before = model.hidden.bias[...]
    optimizer = nnx.Optimizer(
        model, optjax.masked(optjax.set_to_zero(), kernels_only), wrt=nnx.Param
    )
    grads = jax.tree.map(jnp.ones_like, nnx.state(model, nnx.Param))
    kernel_before = model.hidden.kernel[...]
    optimizer.update(model, grads)
    # Kernels got a zero update; biases were masked out and took the raw gradient.
    np.testing.assert_allclose(model.hidden.kernel[...], kernel_before)
    np.testing.assert_allclose(model.hidden.bias[...], bias_before + 1.0)
