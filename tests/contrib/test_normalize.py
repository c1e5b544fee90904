"""``optjax.contrib.normalize`` against ``optax.contrib.normalize`` and its closed form."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optjax

TREES = {
    "dict": {"a": np.array([3.0, 0.0]), "b": np.array([[0.0], [4.0]])},
    "scalar": np.array(-2.5),
    "nested_with_none": {"x": (np.arange(6.0).reshape(2, 3), None), "y": np.array([1e-3])},
}


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("tree", TREES.values(), ids=TREES.keys())
def test_matches_optax_and_the_closed_form(tree, dtype):
    grads = jax.tree.map(lambda x: jnp.asarray(x, dtype), tree)
    ours, state = optjax.contrib.normalize().update(grads, optjax.contrib.NormalizeState())
    theirs, _ = optax.contrib.normalize().update(grads, optax.contrib.NormalizeState())
    norm = np.sqrt(sum(np.sum(np.asarray(g, np.float64) ** 2) for g in jax.tree.leaves(grads)))
    tol = 1e-2 if dtype == jnp.bfloat16 else 1e-6
    for a, b, g in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), jax.tree.leaves(grads)):
        assert a.dtype == dtype
        np.testing.assert_array_equal(np.asarray(a, np.float32), np.asarray(b, np.float32))
        np.testing.assert_allclose(
            np.asarray(a, np.float64), np.asarray(g, np.float64) / norm, rtol=tol
        )
    assert state == optjax.EmptyState()


def test_zero_updates_give_nan_as_in_optax():
    """No epsilon, as in Optax: use normalize_by_update_norm for a guarded variant."""
    zeros = {"a": jnp.zeros(3)}
    ours, _ = optjax.contrib.normalize().update(zeros, optjax.contrib.NormalizeState())
    theirs, _ = optax.contrib.normalize().update(zeros, optax.contrib.NormalizeState())
    assert np.all(np.isnan(ours["a"])) and np.all(np.isnan(theirs["a"]))


def test_state_is_optax_empty_state_shape():
    assert optjax.contrib.NormalizeState is optjax.EmptyState
    assert optjax.contrib.normalize().init({"a": jnp.ones(2)}) == optjax.EmptyState()
