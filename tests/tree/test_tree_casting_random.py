"""``optjax.tree`` casting (``cast``, ``cast_like``, ``dtype``) and random trees against Optax."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optjax


class Pair(NamedTuple):
    first: object
    second: object


TREE = {
    "a": jnp.ones(3, jnp.float32),
    "b": [jnp.zeros((2,), jnp.bfloat16), None],
    "c": Pair(jnp.arange(3, dtype=jnp.int32), jnp.ones((), jnp.float16)),
}


def _assert_identical(ours, theirs):
    assert jax.tree.structure(ours) == jax.tree.structure(theirs)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        assert type(a) is type(b) and a.dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("dtype", [None, jnp.bfloat16, jnp.int8, jnp.complex64])
def test_cast_matches_optax(dtype):
    _assert_identical(optjax.tree.cast(TREE, dtype), optax.tree.cast(TREE, dtype))
    assert optjax.tree.cast(TREE, None) is TREE


def test_cast_accepts_python_scalars_and_numpy():
    out = optjax.tree.cast({"a": 1.5, "n": np.ones(2)}, jnp.float16)
    assert out["a"].dtype == jnp.float16 and isinstance(out["n"], np.ndarray)


def test_cast_like_matches_optax():
    like = jax.tree.map(lambda x: x.astype(jnp.float32) if x.dtype == jnp.int32 else x, TREE)
    like["a"] = like["a"].astype(jnp.bfloat16)
    _assert_identical(optjax.tree.cast_like(TREE, like), optax.tree.cast_like(TREE, like))
    # A reference leaf without dtype leaves the leaf as it is.
    assert optjax.tree.cast_like({"a": jnp.ones(2)}, {"a": 3})["a"].dtype == jnp.float32


@pytest.mark.parametrize("handler", ["promote", "highest", "lowest"])
def test_dtype_matches_optax(handler):
    for tree in (TREE, {"x": jnp.ones(2, jnp.int8), "y": jnp.ones(2, jnp.int16)}, {}, 2.0):
        assert optjax.tree.dtype(tree, handler) == optax.tree.dtype(tree, handler)
    same = {"a": jnp.ones(2), "b": [jnp.zeros(3)]}
    assert optjax.tree.dtype(same) == optax.tree.dtype(same) == jnp.float32
    assert optjax.tree.dtype({}) == optax.tree.dtype({})


def test_dtype_bad_inputs():
    with pytest.raises(
        ValueError, match=r"mixed dtypes \(the first is float32; \['b'\]\[0\] is bfloat16"
    ):
        optjax.tree.dtype(TREE)
    with pytest.raises(ValueError, match="cannot order float16 and bfloat16"):
        optjax.tree.dtype(
            {"a": jnp.ones(1, jnp.float16), "b": jnp.ones(1, jnp.bfloat16)}, "highest"
        )
    with pytest.raises(
        ValueError, match="invalid mixed_dtype_handler='max'; valid values are None"
    ):
        optjax.tree.dtype(TREE, "max")


@pytest.mark.parametrize(
    "sampler, dtype",
    [
        (jax.random.normal, None),
        (jax.random.uniform, jnp.float16),
        (jax.random.rademacher, jnp.int32),
        (lambda key, shape, dtype: jax.random.bernoulli(key, 0.3, shape).astype(dtype), None),
    ],
)
def test_random_like_matches_optax(sampler, dtype):
    key = jax.random.key(42)
    target = {"a": jnp.ones((2, 3)), "b": [jnp.ones(4, jnp.bfloat16), None], "c": jnp.ones(())}
    if sampler is jax.random.rademacher:
        target = jax.tree.map(lambda x: x.astype(jnp.int32), target)
    ours = optjax.tree.random_like(key, target, sampler, dtype)
    _assert_identical(ours, optax.tree.random_like(key, target, sampler, dtype))


def test_split_key_like_and_unwrap_match_optax():
    for key in (jax.random.key(1), jax.random.PRNGKey(1)):
        ours = optjax.tree.split_key_like(key, TREE)
        theirs = optax.tree.split_key_like(key, TREE)
        _assert_identical(
            optjax.tree.unwrap_random_key_data(ours), optax.tree.unwrap_random_key_data(theirs)
        )
    mixed = {"k": jax.random.key(3), "x": 1.0, "raw": jax.random.PRNGKey(3)}
    ours = optjax.tree.unwrap_random_key_data(mixed)
    assert ours["x"] == 1.0 and ours["raw"] is mixed["raw"]
    np.testing.assert_array_equal(ours["k"], jax.random.key_data(mixed["k"]))


def test_random_like_rejects_non_array_leaves():
    with pytest.raises(TypeError, match=r"leaf at key path \['b'\] is a float"):
        optjax.tree.random_like(jax.random.key(0), {"a": jnp.ones(2), "b": 1.0})
