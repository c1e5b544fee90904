"""Reading and changing the dtypes of a pytree's leaves."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from optjax.tree._structure import tree_map

_HANDLERS = (None, "promote", "highest", "lowest")


def _astype(x: Any, dtype: Any) -> Any:
    # Arrays (NumPy or JAX) keep their own type; Python scalars become arrays.
    if hasattr(x, "astype"):
        return x.astype(dtype)
    return jnp.asarray(x).astype(dtype)


def cast(tree: Any, dtype: jax.typing.DTypeLike | None) -> Any:
    r"""Casts every leaf to ``dtype``; ``dtype=None`` returns ``tree`` unchanged.

    Args:
      tree: pytree.
      dtype: the target dtype, or ``None`` to skip the cast.

    Returns:
      The cast tree.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> optjax.tree.cast({"a": jnp.array(1.5)}, jnp.bfloat16)
      {'a': Array(1.5, dtype=bfloat16)}
    """
    if dtype is None:
        return tree
    return jax.tree.map(lambda x: _astype(x, dtype), tree)


def cast_like(tree: Any, other_tree: Any) -> Any:
    r"""Casts each leaf of ``tree`` to the dtype of the matching leaf of ``other_tree``.

    Leaves of ``other_tree`` without a dtype (Python scalars) leave the
    matching leaf of ``tree`` as it is.

    Args:
      tree: the pytree to cast.
      other_tree: the reference pytree, with the structure of ``tree``.

    Returns:
      The cast tree.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> optjax.tree.cast_like({"a": jnp.array(1.0)}, {"a": jnp.array(2, jnp.int8)})
      {'a': Array(1, dtype=int8)}
    """
    return tree_map(
        lambda x, ref: _astype(x, ref.dtype) if hasattr(ref, "dtype") else x,
        tree,
        other_tree,
        names=("tree", "other_tree"),
        where="tree.cast_like",
    )


def _lower(dtype1: Any, dtype2: Any) -> Any:
    promoted = jnp.promote_types(dtype1, dtype2)
    if promoted == dtype1:
        return dtype2
    if promoted == dtype2:
        return dtype1
    raise ValueError(
        f"tree.dtype: cannot order {jnp.dtype(dtype1).name} and {jnp.dtype(dtype2).name}: "
        f"neither promotes to the other (they promote to {jnp.dtype(promoted).name}); "
        f"use mixed_dtype_handler='promote'."
    )


def _higher(dtype1: Any, dtype2: Any) -> Any:
    return dtype2 if _lower(dtype1, dtype2) == dtype1 else dtype1


def dtype(tree: Any, mixed_dtype_handler: str | None = None) -> jnp.dtype:
    r"""The dtype of a pytree's leaves.

    Args:
      tree: pytree. A tree without leaves has JAX's default float dtype.
      mixed_dtype_handler: what to do when the leaves' dtypes differ:
        ``None`` (default) raises; ``'promote'`` returns their common promoted
        dtype (:func:`jax.numpy.promote_types`); ``'highest'`` / ``'lowest'``
        return the largest / smallest dtype for the order "``a <= b`` when
        ``a`` promotes to ``b``", and raise when two dtypes are not ordered
        (``float16`` and ``bfloat16``, say).

    Returns:
      A NumPy dtype.

    Raises:
      ValueError: for mixed dtypes with ``mixed_dtype_handler=None`` (naming the
        key paths), for unordered dtypes with ``'highest'``/``'lowest'``, or for
        an unknown ``mixed_dtype_handler``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tree = {"a": jnp.array(1.0, jnp.float16), "b": jnp.array(2.0)}
      >>> optjax.tree.dtype(tree, "highest"), optjax.tree.dtype(tree, "lowest")
      (dtype('float32'), dtype('float16'))
    """
    if mixed_dtype_handler not in _HANDLERS:
        raise ValueError(
            f"tree.dtype: invalid mixed_dtype_handler={mixed_dtype_handler!r}; "
            f"valid values are None, 'promote', 'highest', 'lowest'."
        )
    leaves_with_path = jax.tree_util.tree_flatten_with_path(tree)[0]
    if not leaves_with_path:
        return jnp.asarray([]).dtype
    dtypes = [jnp.asarray(leaf).dtype for _, leaf in leaves_with_path]
    if mixed_dtype_handler is None:
        first = dtypes[0]
        wrong = [
            f"{jax.tree_util.keystr(path) or '<root>'} is {d.name}"
            for (path, _), d in zip(leaves_with_path, dtypes)
            if d != first
        ]
        if wrong:
            raise ValueError(
                f"tree.dtype: the leaves have mixed dtypes (the first is {first.name}; "
                f"{', '.join(wrong)}); pass mixed_dtype_handler='promote', 'highest' "
                f"or 'lowest'."
            )
        return first
    combine = {"promote": jnp.promote_types, "highest": _higher, "lowest": _lower}
    return functools.reduce(combine[mixed_dtype_handler], dtypes)
