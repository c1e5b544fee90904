"""Splitting a batch axis into (num_microbatches, microbatch_size)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from optjax import _checks


def normalize_axis(axis: int, ndim: int, *, what: str) -> int:
    """Maps a possibly negative ``axis`` into ``[0, ndim)``, or raises ``ValueError``."""
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{what}: batch axis {axis} is out of range for a leaf with {ndim} dimensions."
        )
    return axis % ndim


def _explicit_sharding_kwargs(x: jax.Array, microbatch_size: int, axis: int) -> dict[str, Any]:
    """``out_sharding`` for the split when ``x`` lives on an explicitly sharded mesh."""
    sharding = jax.typeof(x).sharding
    mesh = getattr(sharding, "mesh", None)
    if mesh is None or not mesh.are_all_axes_explicit:
        return {}
    spec = tuple(sharding.spec)
    if axis < len(spec):
        # The new microbatch-index axis is replicated; the sharding of the old
        # batch axis moves to the microbatch_size axis right after it.
        spec = (*spec[:axis], None, spec[axis], *spec[axis + 1 :])
    num_shards = x.shape[axis] // sharding.shard_shape(x.shape)[axis]
    if microbatch_size % num_shards:
        raise ValueError(
            f"reshape_batch_axis: the batch axis is split over {num_shards} shards, "
            f"which must divide microbatch_size={microbatch_size}."
        )
    out = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(*spec))
    return {"out_sharding": out}


def reshape_batch_axis(tree: Any, microbatch_size: int, axis: int = 0) -> Any:
    """Splits the batch axis of every leaf into ``(num_microbatches, microbatch_size)``.

    A leaf of shape ``(..., B, ...)`` (batch axis ``axis``) becomes
    ``(..., B // microbatch_size, microbatch_size, ...)``, filled in column-major
    order:

    .. math::

        y[\\dots, i, j, \\dots] = x[\\dots, i + j\\,n, \\dots], \\qquad
        n = B / \\mathrm{microbatch\\_size},

    so microbatch ``i`` holds the rows ``i, i + n, i + 2n, \\dots``. On an
    explicitly sharded mesh, the sharding of the batch axis carries over to the
    ``microbatch_size`` axis and the new leading axis is replicated.

    .. warning::
      Optax 0.2.8 compares JAX versions as strings, so under JAX 0.10 it never
      passes ``out_sharding`` and fails on explicitly sharded inputs; optjax
      handles them. A negative ``axis`` is also accepted here.

    Args:
      tree: a pytree of arrays that share a batch axis.
      microbatch_size: the number of rows in each microbatch; must divide the
        batch size.
      axis: the batch axis (negative values count from the end).

    Returns:
      The pytree with each leaf reshaped.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import microbatching
      >>> print(microbatching.reshape_batch_axis(jnp.arange(6), 2))
      [[0 3]
       [1 4]
       [2 5]]
    """

    _checks.check_positive_int("microbatch_size", microbatch_size, where="reshape_batch_axis")

    def split(path, x):
        x = jnp.asarray(x)
        where = f"reshape_batch_axis (leaf {jax.tree_util.keystr(path) or '<root>'})"
        ax = normalize_axis(axis, x.ndim, what=where)
        if x.shape[ax] % microbatch_size:
            raise ValueError(
                f"{where}: batch size {x.shape[ax]} along axis {axis} is not divisible "
                f"by microbatch_size={microbatch_size}."
            )
        new_shape = (*x.shape[:ax], -1, microbatch_size, *x.shape[ax + 1 :])
        kwargs = _explicit_sharding_kwargs(x, microbatch_size, ax)
        return x.reshape(new_shape, order="F", **kwargs)

    return jax.tree_util.tree_map_with_path(split, tree)
