"""Building new pytrees shaped like an existing one."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp


def zeros_like(tree: Any, dtype: jax.typing.DTypeLike | None = None) -> Any:
    r"""Builds a tree of zeros with the structure and shapes of ``tree``.

    Args:
      tree: pytree.
      dtype: dtype of the zeros; ``None`` (default) keeps each leaf's dtype.

    Returns:
      ``jnp.zeros_like(x, dtype)`` leaf by leaf.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> optjax.tree.zeros_like({"a": jnp.array([1.0, 2.0])})
      {'a': Array([0., 0.], dtype=float32)}
    """
    return jax.tree.map(lambda x: jnp.zeros_like(x, dtype=dtype), tree)


def ones_like(tree: Any, dtype: jax.typing.DTypeLike | None = None) -> Any:
    r"""Builds a tree of ones with the structure and shapes of ``tree``.

    Args:
      tree: pytree.
      dtype: dtype of the ones; ``None`` (default) keeps each leaf's dtype.

    Returns:
      ``jnp.ones_like(x, dtype)`` leaf by leaf.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> optjax.tree.ones_like({"a": jnp.array([1, 2])})
      {'a': Array([1, 1], dtype=int32)}
    """
    return jax.tree.map(lambda x: jnp.ones_like(x, dtype=dtype), tree)


def full_like(
    tree: Any,
    fill_value: jax.typing.ArrayLike,
    dtype: jax.typing.DTypeLike | None = None,
) -> Any:
    r"""Builds a tree filled with ``fill_value``, shaped like ``tree``.

    Args:
      tree: pytree.
      fill_value: the value of every element.
      dtype: dtype of the result; ``None`` (default) keeps each leaf's dtype.

    Returns:
      ``jnp.full_like(x, fill_value, dtype)`` leaf by leaf.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> optjax.tree.full_like({"a": jnp.array([1.0, 2.0])}, 7)
      {'a': Array([7., 7.], dtype=float32)}
    """
    return jax.tree.map(lambda x: jnp.full_like(x, fill_value, dtype=dtype), tree)


def batch_shape(tree: Any, shape: Sequence[int] = ()) -> Any:
    r"""Broadcasts every leaf to leading batch dimensions ``shape``.

    A leaf of shape ``s`` becomes an array of shape ``(*shape, *s)`` that
    repeats it.

    Args:
      tree: pytree.
      shape: the leading batch dimensions to add (non-negative integers).

    Returns:
      The broadcast tree.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> out = optjax.tree.batch_shape({"a": jnp.array([1.0, 2.0])}, (3,))
      >>> out["a"].shape
      (3, 2)
    """
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(
            f"tree.batch_shape: shape must be a sequence of integers, got {shape!r}."
        ) from None
    if any(d < 0 for d in dims):
        raise ValueError(f"tree.batch_shape: shape must hold non-negative integers, got {dims}.")
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (*dims, *jnp.shape(x))), tree)
