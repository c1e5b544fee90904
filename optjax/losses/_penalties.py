"""Keras-style L1 / L2 penalties on parameter trees, to add to a loss."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax.transforms._combinators._masking import mask_tree, resolve_mask


def _penalized_leaves(params: Any, mask: Any, where: str) -> list[jax.Array]:
    if mask is None:
        return jax.tree.leaves(params)
    mask_value = mask(params) if callable(mask) else mask
    return jax.tree.leaves(mask_tree(params, resolve_mask(mask_value, params, where=where)))


def _total(terms: list[jax.Array]) -> jax.Array:
    # Starting from the first term keeps the params' dtype (a float32 zero
    # would promote bfloat16 sums).
    return sum(terms[1:], terms[0]) if terms else jnp.zeros([])


def l1_penalty(
    params: Any,
    strength: jax.typing.ArrayLike,
    mask: Any | Callable[[Any], Any] | None = None,
) -> jax.Array:
    """Keras-style L1 penalty on a parameter tree.

    .. math::

        R(\\theta) = \\lambda \\sum_i |\\theta_i|

    Away from zero its gradient is what :func:`optjax.add_l1_penalty` adds.

    Args:
      params: a tree of arrays.
      strength: the coefficient :math:`\\lambda \\ge 0`.
      mask: a boolean tree (a prefix of ``params``) or a function of ``params``
        returning one; only leaves marked True are penalized.

    Returns:
      A scalar.

    Raises:
      ValueError: if ``strength`` is negative or the mask does not match
        ``params`` (the message names the key path).

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> params = {"w": jnp.array([1.0, -2.0]), "b": jnp.array([5.0])}
      >>> losses.l1_penalty(params, 0.1, mask={"w": True, "b": False})
      Array(0.3, dtype=float32)
    """
    _checks.check_non_negative("strength", strength, where="l1_penalty")
    leaves = _penalized_leaves(params, mask, "l1_penalty")
    return strength * _total([jnp.sum(jnp.abs(x)) for x in leaves])


def l2_penalty(
    params: Any,
    strength: jax.typing.ArrayLike,
    mask: Any | Callable[[Any], Any] | None = None,
) -> jax.Array:
    """Keras-style L2 penalty on a parameter tree (no factor one half).

    .. math::

        R(\\theta) = \\lambda \\sum_i \\theta_i^2

    Its gradient :math:`2 \\lambda \\theta` is what :func:`optjax.add_l2_penalty`
    adds to the updates.

    Args:
      params: a tree of arrays.
      strength: the coefficient :math:`\\lambda \\ge 0`.
      mask: a boolean tree (a prefix of ``params``) or a function of ``params``
        returning one; only leaves marked True are penalized.

    Returns:
      A scalar.

    Raises:
      ValueError: if ``strength`` is negative or the mask does not match
        ``params`` (the message names the key path).

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> params = {"w": jnp.array([1.0, -2.0]), "b": jnp.array([5.0])}
      >>> losses.l2_penalty(params, 0.1, mask={"w": True, "b": False})
      Array(0.5, dtype=float32)
    """
    _checks.check_non_negative("strength", strength, where="l2_penalty")
    leaves = _penalized_leaves(params, mask, "l2_penalty")
    return strength * _total([jnp.sum(jnp.square(x)) for x in leaves])
