"""``optjax.tree_utils``: Optax's 36 older names, the same objects as ``optjax.tree``'s."""

import warnings

import jax.numpy as jnp
import optax
import pytest

import optjax


def test_every_optax_name_is_there_and_shared():
    public = {n for n in dir(optax.tree_utils) if not n.startswith("_")} - {"functools", "typing"}
    assert set(optjax.tree_utils.__all__) == public
    for name in public - {"NamedTupleKey"}:
        assert getattr(optjax.tree_utils, name) is getattr(optjax.tree, name[len("tree_") :])
    assert optjax.tree_utils.tree_map_params is optjax.tree_map_params


@pytest.mark.parametrize(
    "name, expected",
    [
        ("tree_scalar_mul", lambda t: optax.tree.scale(2.0, t)),
        ("tree_l1_norm", lambda t: optax.tree.norm(t, ord=1)),
        ("tree_l2_norm", lambda t: optax.tree.norm(t)),
        ("tree_linf_norm", lambda t: optax.tree.norm(t, ord="inf")),
    ],
)
def test_deprecated_names_warn_and_work(name, expected):
    tree = {"a": jnp.array([3.0, -4.0])}
    with pytest.warns(DeprecationWarning, match=f"tree_utils.{name} is deprecated"):
        fn = getattr(optjax.tree_utils, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        out = fn(2.0, tree) if name == "tree_scalar_mul" else fn(tree)
    assert str(out) == str(expected(tree))


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'tree_nope'"):
        optjax.tree_utils.tree_nope  # noqa: B018
