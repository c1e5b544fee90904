"""Projections onto boxes: the non-negative orthant, boxes, hypercubes, l-inf balls."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from optjax.projections import _common


def projection_non_negative(tree: Any) -> Any:
    r"""Projection onto the non-negative orthant.

    .. math::

        \operatorname{proj}(x) = \underset{p \ge 0}{\operatorname{argmin}}
        \|x - p\|_2^2 = \max(x, 0)

    Args:
      tree: a tree of arrays (or numbers) to project.

    Returns:
      A tree with the structure of ``tree`` whose negative entries are zero.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import projections
      >>> print(projections.projection_non_negative(jnp.array([-1.0, 2.0])))
      [0. 2.]
    """
    return jax.tree.map(jax.nn.relu, tree)


def _is_scalar_leaf(bound: Any) -> bool:
    return (
        bound is not None
        and jax.tree_util.treedef_is_leaf(jax.tree.structure(bound))
        and np.ndim(bound) == 0
    )


def _broadcast_bound(tree: Any, bound: Any, name: str, where: str) -> Any:
    """``bound`` as a tree like ``tree``: a scalar is used for every leaf."""
    if _is_scalar_leaf(bound):
        return jax.tree.map(lambda _: bound, tree)
    _common.check_same_structure(tree, bound, "tree", name, where=where)
    return bound


def _check_order(lower: Any, upper: Any, where: str) -> None:
    for path, lo, hi in zip(
        [p for p, _ in jax.tree_util.tree_flatten_with_path(lower)[0]],
        jax.tree.leaves(lower),
        jax.tree.leaves(upper),
    ):
        lo_value, hi_value = _common.concrete_value(lo), _common.concrete_value(hi)
        if lo_value is None or hi_value is None:
            continue
        if np.any(lo_value > hi_value):
            at = jax.tree_util.keystr(path) or "<root>"
            raise ValueError(
                f"{where}: lower must not exceed upper (at key path {at}); the box is empty."
            )


def _clip_leaf(path: Any, x: Any, lo: Any, hi: Any, where: str) -> jax.Array:
    shape = np.shape(x)
    try:
        fits = np.broadcast_shapes(shape, np.shape(lo), np.shape(hi)) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{where}: the bounds at key path {jax.tree_util.keystr(path) or '<root>'} have "
            f"shapes {np.shape(lo)} and {np.shape(hi)}, which do not broadcast to the leaf's "
            f"shape {shape}."
        )
    return jnp.clip(x, lo, hi)


def projection_box(tree: Any, lower: Any, upper: Any) -> Any:
    r"""Projection onto box constraints.

    .. math::

        \operatorname{proj}(x) = \underset{\text{lower} \le p \le \text{upper}}
        {\operatorname{argmin}} \|x - p\|_2^2 = \min(\max(x, \text{lower}), \text{upper})

    Args:
      tree: a tree of arrays to project.
      lower: the lower bound: a scalar (used for every leaf) or a tree with the
        structure of ``tree`` whose leaves broadcast to the matching leaf.
      upper: the upper bound, in the same form as ``lower``.

    Returns:
      A tree with the structure of ``tree``.

    Raises:
      ValueError: if a bound's tree structure or shapes do not match ``tree``
        (the message names the key path), or a known ``lower`` exceeds ``upper``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import projections
      >>> x = {"a": jnp.array([-1.0, 0.5, 3.0]), "b": jnp.array(7.0)}
      >>> p = projections.projection_box(x, 0.0, {"a": 1.0, "b": 5.0})
      >>> print(p["a"], p["b"])
      [0.  0.5 1. ] 5.0
    """
    where = "projection_box"
    lower = _broadcast_bound(tree, lower, "lower", where)
    upper = _broadcast_bound(tree, upper, "upper", where)
    _check_order(lower, upper, where)
    return jax.tree_util.tree_map_with_path(
        lambda path, x, lo, hi: _clip_leaf(path, x, lo, hi, where), tree, lower, upper
    )


def projection_hypercube(tree: Any, scale: Any = 1) -> Any:
    r"""Projection onto the hypercube :math:`[0, \text{scale}]^d`.

    .. math::

        \operatorname{proj}(x) = \underset{0 \le p \le \text{scale}}
        {\operatorname{argmin}} \|x - p\|_2^2

    A shortcut for ``projection_box(tree, 0, scale)``; the default is the unit
    hypercube.

    Args:
      tree: a tree of arrays to project.
      scale: the side of the hypercube, ``>= 0``: a scalar or a tree like
        ``tree`` (default 1).

    Returns:
      A tree with the structure of ``tree``.

    Raises:
      ValueError: if ``scale`` is negative or does not match ``tree``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import projections
      >>> print(projections.projection_hypercube(jnp.array([-1.0, 0.5, 2.0])))
      [0.  0.5 1. ]
    """
    where = "projection_hypercube"
    if _is_scalar_leaf(scale):
        _common.check_radius("scale", scale, where=where, allow_zero=True)
    scale = _broadcast_bound(tree, scale, "scale", where)
    lower = jax.tree.map(lambda _: 0, tree)
    _check_order(lower, scale, where)
    return jax.tree_util.tree_map_with_path(
        lambda path, x, lo, hi: _clip_leaf(path, x, lo, hi, where), tree, lower, scale
    )


def projection_linf_ball(tree: Any, scale: jax.typing.ArrayLike = 1) -> Any:
    r"""Projection onto the l-infinity ball of radius ``scale``.

    .. math::

        \operatorname{proj}(x) = \underset{\|p\|_\infty \le \text{scale}}
        {\operatorname{argmin}} \|x - p\|_2^2 = \min(\max(x, -\text{scale}), \text{scale})

    The radius is cast to each leaf's dtype before clipping, so leaves keep
    their dtype.

    Args:
      tree: a tree of arrays to project.
      scale: the radius, a scalar ``>= 0`` (default 1).

    Returns:
      A tree with the structure of ``tree``.

    Raises:
      ValueError: if ``scale`` is not a scalar or is negative.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import projections
      >>> print(projections.projection_linf_ball(jnp.array([-3.0, 0.5, 2.0])))
      [-1.   0.5  1. ]
    """
    _common.check_radius("scale", scale, where="projection_linf_ball", allow_zero=True)
    return jax.tree.map(
        lambda x: jnp.clip(x, jnp.full_like(x, -scale), jnp.full_like(x, scale)), tree
    )
