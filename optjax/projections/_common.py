"""Input checks and tree reductions shared by the projections.

The reductions accumulate leaf by leaf in flattening order, starting from a
Python ``0``, so their rounding matches ``optax.tree``'s and every projection
returns the same floating-point numbers as Optax's.
"""

from __future__ import annotations

import numbers
import operator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from optjax.tree import _structure


def concrete_value(value: Any) -> np.ndarray | None:
    """``value`` as a NumPy array when it is known now, else ``None``.

    Tracers (under ``jit``, ``vmap``, ``grad``) are not known: their checks
    are skipped so the projections stay transformable.
    """
    if isinstance(value, jax.core.Tracer):
        return None
    if isinstance(value, (numbers.Number, np.ndarray, np.generic, jax.Array)):
        return np.asarray(value)
    return None


def check_scalar(name: str, value: Any, *, where: str) -> None:
    """Raises ``ValueError`` unless ``value`` has no dimensions."""
    shape = np.shape(value)
    if shape != ():
        raise ValueError(f"{where}: {name} must be a scalar, got an array of shape {shape}.")


def check_radius(name: str, value: Any, *, where: str, allow_zero: bool) -> None:
    """Raises ``ValueError`` for a non-scalar, negative (or zero) radius."""
    check_scalar(name, value, where=where)
    number = concrete_value(value)
    if number is None or np.iscomplexobj(number):
        return
    bad = number < 0 if allow_zero else number <= 0
    if bool(bad) or bool(np.isnan(number)):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{where}: {name} must be {bound}, got {value!r}.")


def check_has_leaves(tree: Any, *, where: str) -> None:
    """Raises ``ValueError`` if ``tree`` holds no elements to project."""
    if not any(np.size(leaf) for leaf in jax.tree.leaves(tree)):
        raise ValueError(f"{where}: the tree to project has no elements.")


def check_float_leaves(tree: Any, *, name: str, where: str) -> None:
    """Raises ``TypeError`` naming the first integer or boolean leaf."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        dtype = jnp.result_type(leaf)
        if not jnp.issubdtype(dtype, jnp.inexact):
            raise TypeError(
                f"{where}: {name} leaf at key path {jax.tree_util.keystr(path) or '<root>'} "
                f"has dtype {jnp.dtype(dtype).name}; this projection needs floating-point "
                f"leaves (cast the tree first)."
            )


def check_same_structure(x: Any, a: Any, x_name: str, a_name: str, *, where: str) -> None:
    """Raises ``ValueError`` naming the first key path where two trees differ."""
    _structure.check_compatible(x, [a], [x_name, a_name], where=where)


def check_same_shapes(x: Any, a: Any, x_name: str, a_name: str, *, where: str) -> None:
    """Raises ``ValueError`` naming the first leaf whose shapes differ."""
    leaves_x = jax.tree_util.tree_flatten_with_path(x)[0]
    for (path, leaf_x), leaf_a in zip(leaves_x, jax.tree.leaves(a)):
        if np.shape(leaf_x) != np.shape(leaf_a):
            raise ValueError(
                f"{where}: {a_name} leaf at key path {jax.tree_util.keystr(path) or '<root>'} "
                f"has shape {np.shape(leaf_a)} but the {x_name} leaf has shape "
                f"{np.shape(leaf_x)}."
            )


def tree_sum(tree: Any) -> jax.Array:
    """Sum of every element of every leaf, accumulated in flattening order."""
    return jax.tree.reduce(operator.add, jax.tree.map(jnp.sum, tree), initializer=0)


def l1_norm(tree: Any) -> jax.Array:
    """:math:`\\sum_i |x_i|` over all leaves."""
    return jnp.asarray(tree_sum(jax.tree.map(jnp.abs, tree)))


def squared_l2_norm(tree: Any) -> jax.Array:
    """:math:`\\sum_i |x_i|^2` over all leaves (complex leaves allowed)."""
    return jnp.asarray(
        tree_sum(jax.tree.map(lambda x: jnp.square(x.real) + jnp.square(x.imag), tree))
    )


def _leaf_vdot(x: Any, a: Any) -> jax.Array:
    x, a = jnp.asarray(x), jnp.asarray(a)
    if jnp.iscomplexobj(x):
        x = jnp.conj(x)
    return jnp.tensordot(x, a, x.ndim, precision=jax.lax.Precision.HIGHEST)


def vdot(tree_x: Any, tree_a: Any) -> jax.Array:
    """:math:`\\langle x, a \\rangle` summed over matching leaves."""
    return jax.tree.reduce(operator.add, jax.tree.map(_leaf_vdot, tree_x, tree_a), initializer=0)


def scale(factor: jax.typing.ArrayLike, tree: Any) -> Any:
    """``factor * x`` for every leaf ``x``."""
    return jax.tree.map(lambda x: factor * x, tree)
