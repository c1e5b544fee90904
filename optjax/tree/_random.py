"""Random pytrees shaped like a given one, and PRNG-key helpers."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp


def split_key_like(rng_key: jax.Array, target_tree: Any) -> Any:
    r"""Splits a PRNG key into one key per leaf of ``target_tree``.

    Leaf ``i`` in flattening order gets ``jax.random.split(rng_key, n)[i]``.

    Args:
      rng_key: the key to split (typed or raw).
      target_tree: the pytree whose structure the keys take.

    Returns:
      A pytree of keys with the structure of ``target_tree``.

    Examples:
      >>> import jax
      >>> import optjax
      >>> keys = optjax.tree.split_key_like(jax.random.key(0), {"a": 1.0, "b": 2.0})
      >>> sorted(keys)
      ['a', 'b']
    """
    treedef = jax.tree.structure(target_tree)
    keys = jax.random.split(rng_key, treedef.num_leaves)
    return jax.tree.unflatten(treedef, list(keys))


def random_like(
    rng_key: jax.Array,
    target_tree: Any,
    sampler: Callable[..., jax.typing.ArrayLike] = jax.random.normal,
    dtype: jax.typing.DTypeLike | None = None,
) -> Any:
    r"""Draws a random pytree with the structure, shapes and dtypes of ``target_tree``.

    Leaf ``i`` is ``sampler(key_i, leaf.shape, dtype or leaf.dtype)`` with the
    keys of :func:`split_key_like`; a sampler that accepts ``out_sharding`` also
    gets the leaf's sharding.

    Args:
      rng_key: the PRNG key.
      target_tree: the pytree to match; its leaves must be arrays.
      sampler: a ``jax.random`` style function ``(key, shape, dtype)``; by
        default ``jax.random.normal``.
      dtype: the dtype of every sample; ``None`` (default) uses each leaf's.

    Returns:
      A random pytree.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> noise = optjax.tree.random_like(jax.random.key(0), {"w": jnp.zeros((2, 3))})
      >>> noise["w"].shape, noise["w"].dtype
      ((2, 3), dtype('float32'))

    .. warning::
      The sampler limits the dtypes: ``jax.random.rademacher`` or
      ``jax.random.randint``, for example, need an integer dtype.
    """
    for path, leaf in jax.tree_util.tree_flatten_with_path(target_tree)[0]:
        if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype"):
            raise TypeError(
                f"tree.random_like: the leaf at key path "
                f"{jax.tree_util.keystr(path) or '<root>'} is a {type(leaf).__name__}; "
                f"the leaves of target_tree must be arrays."
            )
    keys = split_key_like(rng_key, target_tree)
    try:
        takes_sharding = "out_sharding" in inspect.signature(sampler).parameters
    except (TypeError, ValueError):
        takes_sharding = False

    def draw(leaf, key):
        leaf_dtype = dtype or leaf.dtype
        if takes_sharding:
            return sampler(key, leaf.shape, leaf_dtype, out_sharding=jax.typeof(leaf).sharding)
        return sampler(key, leaf.shape, leaf_dtype)

    return jax.tree.map(draw, target_tree, keys)


def unwrap_random_key_data(input_tree: Any) -> Any:
    r"""Replaces every typed PRNG key in a pytree by its raw key data.

    Typed keys (``jax.random.key``) cannot be compared numerically; their
    ``jax.random.key_data`` (a ``uint32`` array) can. Other leaves are kept.

    Args:
      input_tree: a pytree of arrays and typed keys.

    Returns:
      The pytree with keys unwrapped.

    Examples:
      >>> import jax
      >>> import optjax
      >>> out = optjax.tree.unwrap_random_key_data({"k": jax.random.key(0), "x": 1.0})
      >>> print(out["k"].dtype, out["x"])
      uint32 1.0
    """

    def unwrap(x):
        if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            return jax.random.key_data(x)
        return x

    return jax.tree.map(unwrap, input_tree)
