"""Input checks shared by the loss modules.

Every loss validates at trace time with one clear line that names the loss and
the argument. Dtype problems raise ``TypeError`` (as Optax's checks do); shape
and axis problems raise ``ValueError``. Where Optax broadcasts, the helpers
broadcast explicitly, so the losses also work under
``jax_numpy_rank_promotion="raise"``.
"""

from __future__ import annotations

import operator

import jax
import jax.numpy as jnp

Axis = int | tuple[int, ...] | None


def check_floating(name: str, value: jax.typing.ArrayLike, *, where: str) -> jax.Array:
    """Returns ``value`` as an array, or raises ``TypeError`` if it is not floating."""
    dtype = jax.dtypes.result_type(value)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{where}: {name} must have a floating dtype, got {dtype}.")
    return jnp.asarray(value)


def check_integer(name: str, value: jax.typing.ArrayLike, *, where: str) -> jax.Array:
    """Returns ``value`` as an array, or raises ``TypeError`` if it is not integer."""
    dtype = jax.dtypes.result_type(value)
    if not jnp.issubdtype(dtype, jnp.integer):
        raise TypeError(f"{where}: {name} must have an integer dtype, got {dtype}.")
    return jnp.asarray(value)


def check_same_shape(
    names: tuple[str, str], first: jax.Array, second: jax.Array, *, where: str
) -> None:
    """Raises ``ValueError`` naming both shapes unless they are equal."""
    if jnp.shape(first) != jnp.shape(second):
        raise ValueError(
            f"{where}: {names[0]} and {names[1]} must have the same shape, got "
            f"{names[0]}.shape={jnp.shape(first)} and {names[1]}.shape={jnp.shape(second)}."
        )


def check_rank(name: str, value: jax.Array, rank: int, *, where: str) -> None:
    """Raises ``ValueError`` unless ``value`` has ``rank`` dimensions."""
    if jnp.ndim(value) != rank:
        raise ValueError(
            f"{where}: {name} must have rank {rank}, got {name}.shape={jnp.shape(value)}."
        )


def broadcast_to_shape(
    name: str, value: jax.Array, shape: tuple[int, ...], other: str, *, where: str
) -> jax.Array:
    """Broadcasts ``value`` to ``shape`` explicitly, or raises naming both shapes."""
    value = jnp.asarray(value)
    if value.shape == shape:
        return value
    try:
        target = jnp.broadcast_shapes(value.shape, shape)
    except ValueError:
        target = None
    if target != tuple(shape):
        raise ValueError(
            f"{where}: {name} must be broadcastable to {other}'s shape, got "
            f"{name}.shape={value.shape} and {other}.shape={tuple(shape)}."
        )
    return jnp.broadcast_to(value, shape)


def broadcast_pair(
    names: tuple[str, str], first: jax.Array, second: jax.Array, *, where: str
) -> tuple[jax.Array, jax.Array]:
    """Broadcasts two arrays to their common shape, or raises naming both shapes."""
    first, second = jnp.asarray(first), jnp.asarray(second)
    if first.shape == second.shape:
        return first, second
    try:
        shape = jnp.broadcast_shapes(first.shape, second.shape)
    except ValueError:
        raise ValueError(
            f"{where}: {names[0]} and {names[1]} must have broadcastable shapes, got "
            f"{names[0]}.shape={first.shape} and {names[1]}.shape={second.shape}."
        ) from None
    return jnp.broadcast_to(first, shape), jnp.broadcast_to(second, shape)


def canonical_axes(axis: Axis, ndim: int, *, where: str) -> tuple[int, ...]:
    """Returns ``axis`` as a tuple of non-negative axes of an ``ndim`` array."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple | list) else (axis,)
    out = []
    for a in axes:
        try:
            a = operator.index(a)
        except TypeError:
            raise TypeError(
                f"{where}: axis must be an int, a tuple of ints or None, got {axis!r}."
            ) from None
        if not -ndim <= a < ndim:
            raise ValueError(
                f"{where}: axis {a} is out of range for an array of rank {ndim} "
                f"(valid: {-ndim} to {ndim - 1})."
            )
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{where}: axis {axis!r} repeats an axis.")
    return tuple(out)


def expand_where(
    where_mask: jax.typing.ArrayLike | None, shape: tuple[int, ...], axis: Axis, *, where: str
) -> jax.Array | None:
    """Gives a reduced-shape ``where`` mask back its reduced axes, then broadcasts it.

    Optax accepts a mask either of the input's shape or of the output's shape
    (the input's shape without ``axis``); both become the input's shape here.
    """
    if where_mask is None:
        return None
    where_mask = jnp.asarray(where_mask)
    if where_mask.ndim != len(shape):
        where_mask = jnp.expand_dims(where_mask, canonical_axes(axis, len(shape), where=where))
    return broadcast_to_shape("where", where_mask, tuple(shape), "the input", where=where)
