"""``optjax.tree`` arithmetic, construction, reductions and moments against ``optax.tree``.

Every function runs on a table of trees (dicts, lists, tuples, NamedTuples,
``None`` entries, Python scalars, integer, bfloat16 and complex leaves, empty
trees) and must give Optax's tree structure, leaf types, dtypes and values.
"""

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


def _tree(seed, dtype=jnp.float32):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    return {
        "w": jax.random.normal(k1, (3,)).astype(dtype),
        "layers": [jax.random.normal(k2, (3,)).astype(dtype), None],
        "pair": Pair(jax.random.normal(k3, ()).astype(dtype), (jnp.arange(3, dtype=dtype),)),
    }


def _mixed(seed):
    tree = _tree(seed)
    tree["int"] = jnp.arange(1, 4, dtype=jnp.int32) + seed
    tree["py"] = 1.5 + seed
    tree["py_int"] = 2 + seed
    return tree


def _complex(seed):
    re, im = _tree(seed), _tree(seed + 7)
    return jax.tree.map(lambda a, b: a + 1j * b, re, im)


TREES = {
    "float32": lambda s: _tree(s),
    "bfloat16": lambda s: _tree(s, jnp.bfloat16),
    "mixed": _mixed,
    "complex": _complex,
    "empty_dict": lambda s: {},
    "only_none": lambda s: {"a": None},
    "scalar_leaf": lambda s: 2.0 + s,
    "empty_array": lambda s: {"a": jnp.zeros((0,)), "b": jnp.ones(3) * (s + 1)},
}


def assert_same(ours, theirs, rtol=0.0, atol=0.0):
    """Same structure, same leaf kinds and dtypes, and (nearly) equal values."""
    assert jax.tree.structure(ours) == jax.tree.structure(theirs)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        assert type(a) is type(b) or (isinstance(a, jax.Array) and isinstance(b, jax.Array))
        assert jnp.result_type(a) == jnp.result_type(b)
        assert getattr(a, "weak_type", None) == getattr(b, "weak_type", None)
        np.testing.assert_allclose(
            np.asarray(a, np.float64 if not jnp.iscomplexobj(a) else np.complex128),
            np.asarray(b, np.float64 if not jnp.iscomplexobj(b) else np.complex128),
            rtol=rtol,
            atol=atol,
        )


UNARY = {
    "conj": lambda lib, t: lib.tree.conj(t),
    "real": lambda lib, t: lib.tree.real(t),
    "scale_half": lambda lib, t: lib.tree.scale(0.5, t),
    "scale_int": lambda lib, t: lib.tree.scale(3, t),
    "zeros_like": lambda lib, t: lib.tree.zeros_like(t),
    "ones_like_f16": lambda lib, t: lib.tree.ones_like(t, jnp.float16),
    "full_like": lambda lib, t: lib.tree.full_like(t, 3, jnp.int8),
    "batch_shape": lambda lib, t: lib.tree.batch_shape(t, (2, 1)),
    "sum": lambda lib, t: lib.tree.sum(t),
    "sum_assoc": lambda lib, t: lib.tree.sum(t, associative_reduction=True),
    "max": lambda lib, t: lib.tree.max(lib.tree.real(t)),
    "min": lambda lib, t: lib.tree.min(lib.tree.real(t)),
    "size": lambda lib, t: lib.tree.size(t),
    "norm": lambda lib, t: lib.tree.norm(t),
    "norm_sq": lambda lib, t: lib.tree.norm(t, squared=True),
    "norm_1": lambda lib, t: lib.tree.norm(t, ord=1),
    "norm_1_sq": lambda lib, t: lib.tree.norm(t, ord=1, squared=True),
    "norm_inf": lambda lib, t: lib.tree.norm(t, ord=jnp.inf),
    "norm_inf_str": lambda lib, t: lib.tree.norm(t, ord="infinity", squared=True),
    "bias_correction": lambda lib, t: lib.tree.bias_correction(lib.tree.real(t), 0.9, 3),
}

BINARY = {
    "add": lambda lib, x, y: lib.tree.add(x, y),
    "add3": lambda lib, x, y: lib.tree.add(x, y, x),
    "sub": lambda lib, x, y: lib.tree.sub(x, y),
    "mul": lambda lib, x, y: lib.tree.mul(x, y),
    "div": lambda lib, x, y: lib.tree.div(x, y),
    "add_scale": lambda lib, x, y: lib.tree.add_scale(x, 0.3, y),
    "where": lambda lib, x, y: lib.tree.where(True, x, y),
    "vdot": lambda lib, x, y: lib.tree.vdot(x, y),
    "allclose": lambda lib, x, y: lib.tree.allclose(x, y),
    "clip": lambda lib, x, y: lib.tree.clip(x, min_value=-0.5),
    "update_moment": lambda lib, x, y: lib.tree.update_moment(x, y, 0.9, 2),
    "update_moment_pen": lambda lib, x, y: lib.tree.update_moment_per_elem_norm(x, y, 0.9, 2),
    "update_inf": lambda lib, x, y: lib.tree.update_infinity_moment(x, y, 0.9, 1e-3),
}

_REAL_ONLY = {"clip", "update_inf"}


def _skip(name, kind):
    # Clipping and the infinity moment order values: not defined for complex leaves.
    return kind == "complex" and name in _REAL_ONLY


def _tolerance(kind):
    return {"bfloat16": (1e-2, 1e-2), "complex": (1e-6, 1e-6)}.get(kind, (1e-6, 1e-6))


@pytest.mark.parametrize("kind", sorted(TREES))
def test_unary_functions_match_optax(kind):
    tree = TREES[kind](0)
    rtol, atol = _tolerance(kind)
    for name, fn in UNARY.items():
        if kind == "complex" and name in ("bias_correction",):
            continue
        ours, theirs = fn(optjax, tree), fn(optax, tree)
        try:
            assert_same(ours, theirs, rtol, atol)
        except AssertionError as error:
            raise AssertionError(f"{name} on {kind}: {error}") from None


@pytest.mark.parametrize("kind", sorted(TREES))
def test_binary_functions_match_optax(kind):
    x, y = TREES[kind](1), TREES[kind](2)
    rtol, atol = _tolerance(kind)
    for name, fn in BINARY.items():
        if _skip(name, kind):
            continue
        ours, theirs = fn(optjax, x, y), fn(optax, x, y)
        try:
            assert_same(ours, theirs, rtol, atol)
        except AssertionError as error:
            raise AssertionError(f"{name} on {kind}: {error}") from None


def test_moments_give_none_where_updates_are_none():
    updates = {"a": None, "b": jnp.ones(2)}
    moments = {"a": jnp.ones(3), "b": jnp.zeros(2)}
    for name in ("update_moment", "update_moment_per_elem_norm"):
        ours = getattr(optjax.tree, name)(updates, moments, 0.5, 2)
        assert_same(ours, getattr(optax.tree, name)(updates, moments, 0.5, 2))
        assert ours["a"] is None
    ours = optjax.tree.update_infinity_moment(updates, moments, 0.5, 0.1)
    assert_same(ours, optax.tree.update_infinity_moment(updates, moments, 0.5, 0.1))
    ours = optjax.tree.add_scale(updates, 2.0, moments)
    assert_same(ours, optax.tree.add_scale(updates, 2.0, moments))


def test_signed_zero_and_promotion_follow_optax():
    neg_zero = {"a": jnp.array(-0.0), "b": -0.0}
    assert_same(optjax.tree.add(neg_zero, neg_zero), optax.tree.add(neg_zero, neg_zero))
    ints = {"a": jnp.arange(3)}
    assert optjax.tree.scale(0.5, ints)["a"].dtype == jnp.float32
    assert optjax.tree.div(ints, ints)["a"].dtype == jnp.float32
    assert optjax.tree.sum({}) == 0
    assert optjax.tree.max({}) == -np.inf and optjax.tree.min([]) == np.inf
    assert optjax.tree.vdot({}, {}) == 0
    assert optjax.tree.allclose({}, {}) is True


def test_bias_correction_keeps_bfloat16_and_matches_jit():
    moment = {"a": jnp.full((3,), 0.001, jnp.bfloat16)}
    eager = optjax.tree.bias_correction(moment, 0.999, jnp.asarray(1))
    jitted = jax.jit(optjax.tree.bias_correction)(moment, 0.999, jnp.asarray(1))
    assert eager["a"].dtype == jnp.bfloat16
    assert_same(eager, jitted)
    assert_same(eager, optax.tree.bias_correction(moment, 0.999, jnp.asarray(1)))


def test_reduction_gradients_match_optax():
    x = _tree(3)
    x["pair"] = x["pair"]._replace(second=(x["pair"].second[0].at[0].set(0.0),))
    for fn in (
        lambda lib, t: lib.tree.norm(t),
        lambda lib, t: lib.tree.norm(t, ord=1, squared=True),
        lambda lib, t: lib.tree.norm(t, ord="inf"),
        lambda lib, t: lib.tree.vdot(t, lib.tree.scale(2.0, t)),
    ):
        ours = jax.grad(lambda t, fn=fn: fn(optjax, t))(x)
        theirs = jax.grad(lambda t, fn=fn: fn(optax, t))(x)
        assert_same(ours, theirs, 1e-6, 1e-6)


def test_jit_and_tracing():
    x, y = _tree(4), _tree(5)
    ours = jax.jit(lambda a, b: optjax.tree.norm(optjax.tree.add_scale(a, 0.1, b)))(x, y)
    assert_same(ours, optax.tree.norm(optax.tree.add_scale(x, 0.1, y)), 1e-6, 1e-6)


def test_mismatched_structures_name_the_key_path():
    x = {"a": jnp.ones(2), "b": {"c": jnp.ones(3)}}
    y = {"a": jnp.ones(2), "b": {"d": jnp.ones(3)}}
    calls = {
        "tree.add": lambda: optjax.tree.add(x, y),
        "tree.sub": lambda: optjax.tree.sub(x, y),
        "tree.mul": lambda: optjax.tree.mul(x, y),
        "tree.div": lambda: optjax.tree.div(x, y),
        "tree.where": lambda: optjax.tree.where(True, x, y),
        "tree.add_scale": lambda: optjax.tree.add_scale(x, 1.0, y),
        "tree.vdot": lambda: optjax.tree.vdot(x, y),
        "tree.allclose": lambda: optjax.tree.allclose(x, y),
        "tree.update_moment": lambda: optjax.tree.update_moment(x, y, 0.9, 1),
        "tree.cast_like": lambda: optjax.tree.cast_like(x, y),
    }
    for where, call in calls.items():
        with pytest.raises(ValueError, match=rf"^{where}: .*\['b'\]\['c'\]"):
            call()
    with pytest.raises(ValueError, match=r"other_trees\[0\]"):
        optjax.tree.add(x, x, [1.0])
    # A subtree or None where the first tree has a leaf is a mismatch too.
    with pytest.raises(
        ValueError, match=r"at key path \['a'\] \(the other tree has \['a'\]\['z'\]"
    ):
        optjax.tree.mul(x, {"a": {"z": jnp.ones(2)}, "b": {"c": jnp.ones(3)}})
    with pytest.raises(ValueError, match=r"key path \['a'\] is missing"):
        optjax.tree.sub(x, {"a": None, "b": {"c": jnp.ones(3)}})


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match=r"unsupported ord=3; valid values are None, 1, 2"):
        optjax.tree.norm({"a": jnp.ones(2)}, ord=3)
    with pytest.raises(ValueError, match=r"unsupported ord='fro'"):
        optjax.tree.norm({"a": jnp.ones(2)}, ord="fro")
    with pytest.raises(ValueError, match=r"\['a'\] have different shapes, \(2,\) in tree_x"):
        optjax.tree.vdot({"a": jnp.ones(2)}, {"a": jnp.ones(3)})
    with pytest.raises(TypeError, match="shape must be a sequence of integers"):
        optjax.tree.batch_shape({"a": jnp.ones(2)}, (2.5,))
    with pytest.raises(ValueError, match="non-negative integers, got \\(-1,\\)"):
        optjax.tree.batch_shape({"a": jnp.ones(2)}, (-1,))
