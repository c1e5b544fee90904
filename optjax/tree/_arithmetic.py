"""Leafwise arithmetic on pytrees: the public ``optjax.tree`` operators.

These follow NumPy's promotion rules leaf by leaf, as Optax's do: scaling an
integer tree by ``0.5`` gives a float tree. The optimizers themselves use the
dtype-preserving helpers of :mod:`optjax.tree._math` instead.
"""

from __future__ import annotations

import operator
from typing import Any

import jax
import jax.numpy as jnp

from optjax.tree._structure import is_none, tree_map


def add(tree_x: Any, tree_y: Any, *other_trees: Any) -> Any:
    r"""Adds two or more pytrees leaf by leaf.

    .. math::
        z_i = x_i + y_i (+ \dots)

    Args:
      tree_x: first pytree.
      tree_y: second pytree, with the structure of ``tree_x``.
      *other_trees: further pytrees to add, with the same structure.

    Returns:
      The leafwise sum, with the structure of ``tree_x``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> out = optjax.tree.add({"a": jnp.array([1.0, 2.0])}, {"a": jnp.array([3.0, 4.0])})
      >>> print(out["a"])
      [4. 6.]
    """
    names = ["tree_x", "tree_y"] + [f"other_trees[{i}]" for i in range(len(other_trees))]
    # The builtin ``sum`` (which starts from 0) is what Optax uses, so that
    # signed zeros and Python-scalar leaves come out the same.
    return tree_map(
        lambda *leaves: sum(leaves), tree_x, tree_y, *other_trees, names=names, where="tree.add"
    )


def sub(tree_x: Any, tree_y: Any) -> Any:
    r"""Subtracts ``tree_y`` from ``tree_x`` leaf by leaf.

    Args:
      tree_x: first pytree.
      tree_y: second pytree, with the structure of ``tree_x``.

    Returns:
      The leafwise difference ``x - y``.

    Examples:
      >>> import optjax
      >>> optjax.tree.sub({"a": 3.0, "b": 5}, {"a": 1.0, "b": 2})
      {'a': 2.0, 'b': 3}
    """
    return tree_map(operator.sub, tree_x, tree_y, names=("tree_x", "tree_y"), where="tree.sub")


def mul(tree_x: Any, tree_y: Any) -> Any:
    r"""Multiplies two pytrees leaf by leaf.

    Args:
      tree_x: first pytree.
      tree_y: second pytree, with the structure of ``tree_x``.

    Returns:
      The leafwise product ``x * y``.

    Examples:
      >>> import optjax
      >>> optjax.tree.mul({"a": 3.0, "b": 5}, {"a": 2.0, "b": 2})
      {'a': 6.0, 'b': 10}
    """
    return tree_map(operator.mul, tree_x, tree_y, names=("tree_x", "tree_y"), where="tree.mul")


def div(tree_x: Any, tree_y: Any) -> Any:
    r"""Divides ``tree_x`` by ``tree_y`` leaf by leaf (true division).

    Args:
      tree_x: first pytree.
      tree_y: second pytree, with the structure of ``tree_x``.

    Returns:
      The leafwise quotient ``x / y``.

    Examples:
      >>> import optjax
      >>> optjax.tree.div({"a": 3.0, "b": 5}, {"a": 2.0, "b": 2})
      {'a': 1.5, 'b': 2.5}
    """
    return tree_map(operator.truediv, tree_x, tree_y, names=("tree_x", "tree_y"), where="tree.div")


def scale(scalar: jax.typing.ArrayLike, tree: Any) -> Any:
    r"""Multiplies every leaf of a pytree by a scalar.

    .. math::
        z_i = \alpha \, x_i

    Each product follows the usual promotion rules (an integer leaf times
    ``0.5`` is a float).

    Args:
      scalar: the factor :math:`\alpha`.
      tree: pytree.

    Returns:
      ``scalar * tree``, with the structure of ``tree``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> print(optjax.tree.scale(0.5, {"a": jnp.array([2, 4])})["a"])
      [1. 2.]
    """
    return jax.tree.map(lambda x: scalar * x, tree)


def add_scale(tree_x: Any, scalar: jax.typing.ArrayLike, tree_y: Any) -> Any:
    r"""Adds ``tree_x`` and ``tree_y`` scaled by a scalar.

    .. math::
        z_i = x_i + \alpha \, y_i

    ``None`` entries of ``tree_x`` stay ``None`` whatever ``tree_y`` holds there.

    Args:
      tree_x: first pytree.
      scalar: the factor :math:`\alpha` applied to ``tree_y``.
      tree_y: second pytree, with the structure of ``tree_x``.

    Returns:
      ``tree_x + scalar * tree_y``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> out = optjax.tree.add_scale({"a": jnp.array([1.0])}, 2.0, {"a": jnp.array([3.0])})
      >>> print(out["a"])
      [7.]
    """
    scalar = jnp.asarray(scalar)
    return tree_map(
        lambda x, y: None if x is None else x + scalar * y,
        tree_x,
        tree_y,
        names=("tree_x", "tree_y"),
        where="tree.add_scale",
        is_leaf=is_none,
    )


def where(condition: jax.typing.ArrayLike, tree_x: Any, tree_y: Any) -> Any:
    r"""Selects ``tree_x``'s leaves where ``condition`` holds, else ``tree_y``'s.

    Args:
      condition: a boolean (array) broadcast against every leaf.
      tree_x: pytree chosen where ``condition`` is true.
      tree_y: pytree chosen elsewhere, with the structure of ``tree_x``.

    Returns:
      ``jnp.where(condition, x, y)`` leaf by leaf.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> out = optjax.tree.where(False, {"a": jnp.array(1.0)}, {"a": jnp.array(2.0)})
      >>> print(out["a"])
      2.0
    """
    return tree_map(
        lambda x, y: jnp.where(condition, x, y),
        tree_x,
        tree_y,
        names=("tree_x", "tree_y"),
        where="tree.where",
    )


def conj(tree: Any) -> Any:
    r"""Takes the complex conjugate of every leaf.

    Args:
      tree: pytree.

    Returns:
      ``jnp.conj(x)`` leaf by leaf.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> print(optjax.tree.conj({"a": jnp.array([1 + 2j])})["a"])
      [1.-2.j]
    """
    return jax.tree.map(jnp.conj, tree)


def real(tree: Any) -> Any:
    r"""Takes the real part of every leaf.

    Args:
      tree: pytree.

    Returns:
      ``jnp.real(x)`` leaf by leaf.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> print(optjax.tree.real({"a": jnp.array([1 + 2j])})["a"])
      [1.]
    """
    return jax.tree.map(jnp.real, tree)


def clip(
    tree: Any,
    min_value: jax.typing.ArrayLike | None = None,
    max_value: jax.typing.ArrayLike | None = None,
) -> Any:
    r"""Clips every leaf to ``[min_value, max_value]``.

    .. math::
        z_i = \min(\max(x_i, a), b)

    Args:
      tree: pytree.
      min_value: lower bound :math:`a`; ``None`` (default) leaves values unbounded below.
      max_value: upper bound :math:`b`; ``None`` (default) leaves values unbounded above.

    Returns:
      ``jnp.clip(x, min_value, max_value)`` leaf by leaf.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> print(optjax.tree.clip({"a": jnp.array([-2.0, 0.5, 3.0])}, -1.0, 1.0)["a"])
      [-1.   0.5  1. ]
    """
    return jax.tree.map(lambda x: jnp.clip(x, min_value, max_value), tree)
