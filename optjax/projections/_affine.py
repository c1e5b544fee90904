"""Projections onto a line through the origin, a hyperplane and a halfspace."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from optjax.projections import _common


def _check_pair(x: Any, a: Any, where: str) -> None:
    _common.check_same_structure(x, a, "x", "a", where=where)
    _common.check_same_shapes(x, a, "x", "a", where=where)


def _add_scaled(x: Any, coefficient: jax.Array, a: Any) -> Any:
    return jax.tree.map(lambda x_leaf, a_leaf: x_leaf + coefficient * a_leaf, x, a)


def projection_vector(x: Any, a: Any) -> Any:
    r"""Projection of ``x`` onto the line spanned by ``a``.

    .. math::

        \operatorname{proj}_a(x) = \frac{\langle x, a \rangle}{\langle a, a \rangle} a

    Inner products run over all the leaves (at the highest matmul precision).

    Args:
      x: the tree to project.
      a: a nonzero tree with the structure and leaf shapes of ``x``.

    Returns:
      A tree with the structure of ``a``.

    Raises:
      ValueError: if ``a`` does not match ``x`` (the message names the key path).

    Examples:
      >>> from optjax import projections
      >>> y = projections.projection_vector((1.0, 2.0), (3.0, 4.0))
      >>> print([round(float(v), 4) for v in y])
      [1.32, 1.76]
    """
    _check_pair(x, a, "projection_vector")
    coefficient = _common.vdot(x, a) / _common.vdot(a, a)
    return _common.scale(coefficient, a)


def projection_hyperplane(x: Any, a: Any, b: jax.typing.ArrayLike) -> Any:
    r"""Projection onto the hyperplane :math:`\{y : \langle a, y \rangle = b\}`.

    .. math::

        \operatorname{proj}(x) = x + \frac{b - \langle a, x \rangle}{\langle a, a \rangle} a

    Args:
      x: the tree to project.
      a: the hyperplane's nonzero normal, a tree with the structure and leaf
        shapes of ``x``.
      b: the hyperplane's offset, a scalar.

    Returns:
      A tree with the structure of ``x``.

    Raises:
      ValueError: if ``a`` does not match ``x`` or ``b`` is not a scalar.

    Examples:
      >>> from optjax import projections
      >>> y = projections.projection_hyperplane((1.0, 2.0), (3.0, 4.0), 5.0)
      >>> print([round(float(v), 4) for v in y])
      [0.28, 1.04]
    """
    _check_pair(x, a, "projection_hyperplane")
    _common.check_scalar("b", b, where="projection_hyperplane")
    coefficient = (b - _common.vdot(x, a)) / _common.vdot(a, a)
    return _add_scaled(x, jnp.asarray(coefficient), a)


def projection_halfspace(x: Any, a: Any, b: jax.typing.ArrayLike) -> Any:
    r"""Projection onto the halfspace :math:`\{y : \langle a, y \rangle \le b\}`.

    .. math::

        \operatorname{proj}(x) = x + \min\left(0,
        \frac{b - \langle a, x \rangle}{\langle a, a \rangle}\right) a

    A point already in the halfspace is returned unchanged.

    Args:
      x: the tree to project.
      a: the halfspace's nonzero outward normal, a tree with the structure and
        leaf shapes of ``x``.
      b: the halfspace's offset, a scalar.

    Returns:
      A tree with the structure of ``x``.

    Raises:
      ValueError: if ``a`` does not match ``x`` or ``b`` is not a scalar.

    Examples:
      >>> from optjax import projections
      >>> y = projections.projection_halfspace((1.0, 2.0), (3.0, 4.0), 5.0)
      >>> print([round(float(v), 4) for v in y])
      [0.28, 1.04]
      >>> y = projections.projection_halfspace((1.0, -2.0), (3.0, 4.0), 5.0)
      >>> print([round(float(v), 4) for v in y])
      [1.0, -2.0]
    """
    _check_pair(x, a, "projection_halfspace")
    _common.check_scalar("b", b, where="projection_halfspace")
    coefficient = (b - _common.vdot(x, a)) / _common.vdot(a, a)
    return _add_scaled(x, jnp.clip(coefficient, max=0), a)
