"""Reductions of a whole pytree to one scalar: sums, extrema, norms, inner products."""

from __future__ import annotations

import builtins
import functools
import operator
from typing import Any

import jax
import jax.numpy as jnp

from optjax.tree._structure import check_compatible

_NORM_ORDS = "None, 1, 2, jnp.inf, 'inf' or 'infinity'"


def sum(  # noqa: A001 - Optax's name.
    tree: Any, associative_reduction: bool = False
) -> jax.typing.ArrayLike:
    r"""Sums every element of every leaf.

    .. math::
        s = \sum_i \sum_j x_{ij}

    Args:
      tree: pytree.
      associative_reduction: if True, combine the per-leaf sums as a balanced
        tree (``jax.tree.reduce_associative``), which can compile faster for
        trees with many leaves; the order of the additions then differs, so
        the last bits of a float result may too.

    Returns:
      A scalar; ``0`` for a tree without leaves.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> print(optjax.tree.sum({"a": jnp.array([1.0, 2.0]), "b": 3.0}))
      6.0
    """
    sums = jax.tree.map(jnp.sum, tree)
    if associative_reduction:
        return jax.tree.reduce_associative(operator.add, sums, identity=0)
    return jax.tree.reduce(operator.add, sums, initializer=0)


def _leaf_extremum(reduce_fn):
    # Empty leaves have no extremum; mapping them to None drops them from
    # the reduction instead of raising.
    return lambda x: None if jnp.size(x) == 0 else reduce_fn(x)


def max(tree: Any) -> jax.typing.ArrayLike:  # noqa: A001 - Optax's name.
    r"""The largest element over every leaf of a pytree.

    Args:
      tree: pytree.

    Returns:
      A scalar; ``-inf`` for a tree without elements.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> print(optjax.tree.max({"a": jnp.array([1.0, 5.0]), "b": -2.0}))
      5.0
    """
    maxima = jax.tree.map(_leaf_extremum(jnp.max), tree)
    return jax.tree.reduce(jnp.maximum, maxima, initializer=-float("inf"))


def min(tree: Any) -> jax.typing.ArrayLike:  # noqa: A001 - Optax's name.
    r"""The smallest element over every leaf of a pytree.

    Args:
      tree: pytree.

    Returns:
      A scalar; ``inf`` for a tree without elements.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> print(optjax.tree.min({"a": jnp.array([1.0, 5.0]), "b": -2.0}))
      -2.0
    """
    minima = jax.tree.map(_leaf_extremum(jnp.min), tree)
    return jax.tree.reduce(jnp.minimum, minima, initializer=float("inf"))


def size(tree: Any) -> int:
    r"""The total number of elements in a pytree.

    Args:
      tree: pytree.

    Returns:
      A Python integer.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> optjax.tree.size({"a": jnp.zeros((2, 3)), "b": 1.0})
      7
    """
    return builtins.sum(jnp.size(leaf) for leaf in jax.tree.leaves(tree))


def _leaf_vdot(path, x, y):
    x = jnp.asarray(x)
    y = jnp.asarray(y)
    if x.shape != y.shape:
        raise ValueError(
            f"tree.vdot: leaves at key path {jax.tree_util.keystr(path) or '<root>'} "
            f"have different shapes, {x.shape} in tree_x and {y.shape} in tree_y."
        )
    # jnp.vdot conjugates x; Optax 0.2.8 on this JAX version computes it this way.
    return jnp.vdot(x, y, precision=jax.lax.Precision.HIGHEST)


def vdot(tree_x: Any, tree_y: Any) -> jax.typing.ArrayLike:
    r"""The inner product of two pytrees, conjugating the first.

    .. math::
        \langle x, y \rangle = \sum_i \sum_j \overline{x_{ij}} \, y_{ij}

    Products are computed at the highest matmul precision.

    Args:
      tree_x: first pytree.
      tree_y: second pytree, with the structure and leaf shapes of ``tree_x``.

    Returns:
      A scalar; ``0`` for trees without leaves.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> x = {"a": jnp.array([1.0, 2.0]), "b": jnp.array(3.0)}
      >>> print(optjax.tree.vdot(x, x))
      14.0
    """
    check_compatible(tree_x, (tree_y,), ("tree_x", "tree_y"), where="tree.vdot")
    products = jax.tree_util.tree_map_with_path(_leaf_vdot, tree_x, tree_y)
    return jax.tree.reduce(operator.add, products, initializer=0)


def _abs_sq(x):
    return jnp.square(x.real) + jnp.square(x.imag)


def norm(
    tree: Any,
    ord: int | str | float | None = None,  # noqa: A002 - NumPy's name.
    squared: bool = False,
) -> jax.Array:
    r"""The vector norm of a whole pytree, as if its leaves were one flat vector.

    .. math::
        \|x\|_2 = \Big(\sum_i \sum_j |x_{ij}|^2\Big)^{1/2}, \quad
        \|x\|_1 = \sum_i \sum_j |x_{ij}|, \quad
        \|x\|_\infty = \max_{i, j} |x_{ij}|

    Args:
      tree: pytree.
      ord: which norm: ``None`` or ``2`` (Euclidean, default), ``1``, or
        ``jnp.inf`` / ``'inf'`` / ``'infinity'``.
      squared: if True, return the square of the norm.

    Returns:
      A scalar array.

    Raises:
      ValueError: for any other ``ord``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> x = {"a": jnp.array([3.0, 0.0]), "b": jnp.array(-4.0)}
      >>> print(optjax.tree.norm(x), optjax.tree.norm(x, ord=1), optjax.tree.norm(x, ord="inf"))
      5.0 7.0 4.0
    """
    if ord is None or (not isinstance(ord, str) and ord == 2):
        total = sum(jax.tree.map(_abs_sq, tree))
        return jnp.array(total if squared else jnp.sqrt(total))
    if not isinstance(ord, str) and ord == 1:
        value = sum(jax.tree.map(jnp.abs, tree))
    elif ord in ("inf", "infinity") or (not isinstance(ord, str) and ord == jnp.inf):
        value = max(jax.tree.map(jnp.abs, tree))
    else:
        raise ValueError(f"tree.norm: unsupported ord={ord!r}; valid values are {_NORM_ORDS}.")
    return jnp.array(_abs_sq(value) if squared else value)


def allclose(
    a: Any,
    b: Any,
    rtol: jax.typing.ArrayLike = 1e-05,
    atol: jax.typing.ArrayLike = 1e-08,
    equal_nan: bool = False,
) -> jax.typing.ArrayLike:
    r"""Whether two pytrees are equal leaf by leaf within a tolerance.

    Leaf by leaf this is :func:`jax.numpy.allclose`:
    :math:`|a - b| \le \text{atol} + \text{rtol} \, |b|` everywhere.

    Args:
      a: first pytree.
      b: second pytree, with the structure of ``a``.
      rtol: relative tolerance.
      atol: absolute tolerance.
      equal_nan: whether NaNs in the same places count as equal.

    Returns:
      A boolean scalar (``True`` for trees without leaves).

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> print(optjax.tree.allclose({"a": jnp.array(1.0)}, {"a": jnp.array(1.0 + 1e-7)}))
      True
    """
    check_compatible(a, (b,), ("a", "b"), where="tree.allclose")
    close = jax.tree.map(
        lambda x, y: jnp.allclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan), a, b
    )
    return functools.reduce(operator.and_, jax.tree.leaves(close), True)
