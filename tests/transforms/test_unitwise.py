"""unitwise_norm and unitwise_clip: values and gradients against Optax, bad shapes."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optjax

SHAPES_AND_AXES = [
    ((), None),
    ((5,), None),
    ((1, 5), None),
    ((3, 4), None),
    ((2, 3, 4), None),
    ((2, 2, 3, 4), None),
    ((2, 2, 2, 3, 4), None),
    ((3, 4), 1),
    ((2, 3, 4), (1, 2)),
    ((2, 2, 2, 3, 4), -1),
    ((1, 2, 1, 2, 1, 2), (0, 2)),
]


def _x(shape, dtype=jnp.float32):
    size = int(np.prod(shape))
    return (jnp.arange(size, dtype=jnp.float32).reshape(shape) - size / 3).astype(dtype)


@pytest.mark.parametrize(
    "shape, axis, dtype",
    [(shape, axis, jnp.float32) for shape, axis in SHAPES_AND_AXES]
    + [
        ((3, 4), None, jnp.bfloat16),
        ((2, 3, 4), (1, 2), jnp.complex64),
        ((5,), None, jnp.complex64),
    ],
)
def test_unitwise_norm_matches_optax(shape, axis, dtype):
    x = _x(shape, dtype) * (1 + 1j if dtype == jnp.complex64 else 1)
    ours = optjax.unitwise_norm(x, axis)
    ref = optax.transforms.unitwise_norm(x, axis)
    assert ours.shape == x.shape and ours.dtype == ref.dtype
    np.testing.assert_allclose(np.asarray(ours, np.float32), np.asarray(ref, np.float32))


@pytest.mark.parametrize("shape, axis", [((2, 2, 3, 4), None), ((3, 4), 1)])
def test_unitwise_clip_values_and_gradients_match_optax(shape, axis):
    grad = _x(shape) + 0.5

    def clip(lib, g, params):
        max_norm = 0.1 * jnp.maximum(lib.transforms.unitwise_norm(params, axis), 1e-3)
        return lib.transforms.unitwise_clip(lib.transforms.unitwise_norm(g, axis), max_norm, g)

    params = jnp.ones(shape)
    np.testing.assert_allclose(clip(optjax, grad, params), clip(optax, grad, params), rtol=1e-6)
    ours = jax.grad(lambda g: jnp.sum(clip(optjax, g, params) ** 2))(grad)
    ref = jax.grad(lambda g: jnp.sum(clip(optax, g, params) ** 2))(grad)
    np.testing.assert_allclose(ours, ref, rtol=1e-5)


def test_unitwise_clip_keeps_small_units_and_guards_zero_norms():
    grad = jnp.array([[0.0, 3.0], [0.0, 4.0]])
    out = optjax.unitwise_clip(optjax.unitwise_norm(grad), jnp.full((2, 2), 1.0), grad)
    np.testing.assert_allclose(out, [[0.0, 0.6], [0.0, 0.8]], rtol=1e-6)
    zero = jnp.zeros((2,))
    out = optjax.unitwise_clip(zero, zero, jnp.ones(2), div_eps=1e-6)
    np.testing.assert_allclose(out, 0.0)


def test_bad_shapes_raise_with_both_shapes():
    with pytest.raises(ValueError, match=r"unitwise_norm: .*\(2, 2, 2, 2, 2, 2\).*axis"):
        optjax.unitwise_norm(jnp.ones((2,) * 6))
    with pytest.raises(ValueError, match=r"unitwise_clip: max_norm .*\(3,\) and \(2,\)"):
        optjax.unitwise_clip(jnp.ones(2), jnp.ones(3), jnp.ones(2))
    with pytest.raises(ValueError, match=r"unitwise_clip: grad .*\(2, 1\) and \(2,\)"):
        optjax.unitwise_clip(jnp.ones(2), jnp.ones(2), jnp.ones((2, 1)))


def test_scalar_with_axis_is_one_unit():
    # Deliberate difference: Optax raises for a 0-d array with an axis.
    np.testing.assert_allclose(optjax.unitwise_norm(jnp.array(-3.0), axis=0), 3.0)
    with pytest.raises(ValueError):
        optax.transforms.unitwise_norm(jnp.array(-3.0), axis=0)
