"""Projections onto l2 spheres and balls (the norm is over the whole tree)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from optjax.projections import _common


def projection_l2_sphere(tree: Any, scale: jax.typing.ArrayLike = 1) -> Any:
    r"""Projection onto the l2 sphere of radius ``scale``.

    .. math::

        \operatorname{proj}(x) = \underset{y}{\operatorname{argmin}}
        \|x - y\|_2^2 \quad \text{subject to} \quad \|y\|_2 = \text{scale},
        \qquad \text{so} \quad \operatorname{proj}(x) = \frac{\text{scale}}{\|x\|_2} x

    .. note::
      At :math:`x = 0` every point of the sphere is closest and the result is
      NaN, as in Optax.

    Args:
      tree: a tree of arrays to project.
      scale: the radius, a scalar ``> 0`` (default 1).

    Returns:
      A tree with the structure of ``tree``; each leaf is multiplied by the
      factor above (so leaves follow JAX's dtype promotion with it).

    Raises:
      ValueError: if ``scale`` is not a positive scalar.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import projections
      >>> print(projections.projection_l2_sphere(jnp.array([3.0, 4.0]), scale=10.0))
      [6. 8.]
    """
    _common.check_radius("scale", scale, where="projection_l2_sphere", allow_zero=False)
    factor = scale / jnp.sqrt(_common.squared_l2_norm(tree))
    return _common.scale(factor, tree)


def projection_l2_ball(tree: Any, scale: jax.typing.ArrayLike = 1) -> Any:
    r"""Projection onto the l2 ball of radius ``scale``.

    .. math::

        \operatorname{proj}(x) = \underset{y}{\operatorname{argmin}}
        \|x - y\|_2^2 \quad \text{subject to} \quad \|y\|_2 \le \text{scale},
        \qquad \text{so} \quad
        \operatorname{proj}(x) = \frac{\text{scale}}{\max(\|x\|_2, \text{scale})} x

    The factor is computed from the squared norm, so the gradient is finite
    (the identity) at :math:`x = 0`.

    Args:
      tree: a tree of arrays to project.
      scale: the radius, a scalar ``> 0`` (default 1).

    Returns:
      A tree with the structure of ``tree``.

    Raises:
      ValueError: if ``scale`` is not a positive scalar.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import projections
      >>> x = {"a": jnp.array([3.0]), "b": jnp.array([4.0])}
      >>> p = projections.projection_l2_ball(x)
      >>> print(p["a"], p["b"])
      [0.6] [0.8]
    """
    _common.check_radius("scale", scale, where="projection_l2_ball", allow_zero=False)
    squared_norm = _common.squared_l2_norm(tree)
    factor = scale / jnp.sqrt(jnp.maximum(squared_norm, scale**2))
    return _common.scale(factor, tree)
