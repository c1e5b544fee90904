"""Accumulators: how the results of successive microbatches combine into one.

An :class:`Accumulator` describes a fold over the per-microbatch outputs
``y_0, ..., y_{n-1}`` of a function::

    carry = init(shape_dtype_of(y_0))
    for i in range(n):
        carry = update(carry, y_i, i)
    result = finalize(carry)

plus ``aggregate``, the same reduction done at once over a stacked batch axis
(what :func:`optjax.microbatching.micro_vmap` applies inside one microbatch).
Users usually name a strategy with :class:`AccumulationType`; the strategies
that need the number of microbatches (``MEAN``, ``CONCAT``) are only built once
that number is known, by :func:`canonicalize`.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Callable
from typing import Any, TypeAlias

import jax
import jax.numpy as jnp

AccumulatorTree: TypeAlias = Any
PyTreeFn: TypeAlias = Callable[[Any], Any]
UpdateFn: TypeAlias = Callable[[Any, Any, Any], Any]


@dataclasses.dataclass(frozen=True)
class Accumulator:
    """Four pure functions that fold per-microbatch results into one result.

    With per-microbatch outputs :math:`y_0, \\dots, y_{n-1}` the accumulated
    result is

    .. math::

        c_0 = \\mathrm{init}(\\mathrm{shape}(y_0)), \\quad
        c_{i+1} = \\mathrm{update}(c_i, y_i, i), \\quad
        r = \\mathrm{finalize}(c_n),

    and ``aggregate`` computes the same reduction in one shot over a leading
    stacked axis.

    Attributes:
      init: ``init(shape_dtype_struct) -> carry``, from the shape and dtype of
        one microbatch's output.
      update: ``update(carry, value, index) -> carry``, folding in the output of
        microbatch ``index``.
      finalize: ``finalize(carry) -> result``.
      aggregate: ``aggregate(stacked_values) -> result``, the reduction over a
        leading axis of stacked outputs (used by ``micro_vmap``).

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import microbatching
      >>> running_max = microbatching.Accumulator(
      ...     init=lambda s: jnp.full(s.shape, -jnp.inf, s.dtype),
      ...     update=lambda carry, value, index: jnp.maximum(carry, value),
      ...     finalize=lambda carry: carry,
      ...     aggregate=lambda values: jnp.max(values, axis=0),
      ... )
      >>> fun = microbatching.microbatch(jnp.max, 0, 2, accumulator=running_max)
      >>> float(fun(jnp.array([3.0, -1.0, 7.0, 2.0])))
      7.0
    """

    init: PyTreeFn
    update: UpdateFn
    finalize: PyTreeFn
    aggregate: PyTreeFn


class AccumulationType(enum.Enum):
    """Named strategies for combining microbatch outputs.

    * ``MEAN``: the average over all ``num_microbatches`` microbatches
      (floating-point outputs only).
    * ``SUM``: the sum over microbatches.
    * ``RUNNING_MEAN``: the average over the microbatches actually run, which
      differs from ``MEAN`` when ``num_real_microbatches`` stops the loop early
      (floating-point outputs only).
    * ``CONCAT``: the outputs joined back along axis 0, in the original batch
      order.

    A member compares equal to Optax's member of the same name, and Optax's
    members are accepted wherever optjax's are, so the two libraries mix.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import microbatching
      >>> fun = microbatching.microbatch(
      ...     jnp.mean, 0, 2, accumulator=microbatching.AccumulationType.MEAN)
      >>> float(fun(jnp.array([1.0, 2.0, 3.0, 4.0])))
      2.5
    """

    MEAN = enum.auto()
    SUM = enum.auto()
    RUNNING_MEAN = enum.auto()
    CONCAT = enum.auto()

    def __eq__(self, other: object) -> bool:
        if _is_accumulation_type(other):
            return self.name == other.name
        return NotImplemented

    __hash__ = enum.Enum.__hash__


def _is_accumulation_type(value: Any) -> bool:
    """Whether ``value`` is a member of optjax's or Optax's ``AccumulationType``."""
    return isinstance(value, enum.Enum) and type(value).__name__ == "AccumulationType"


_CHOICES = ", ".join(f"AccumulationType.{member.name}" for member in AccumulationType)


def _pytree(leaf: Accumulator) -> Accumulator:
    """Applies a leaf-level accumulator to every leaf of a pytree."""
    return Accumulator(
        init=lambda value: jax.tree.map(leaf.init, value),
        update=lambda carry, value, index: jax.tree.map(
            lambda c, v: leaf.update(c, v, index), carry, value
        ),
        finalize=lambda carry: jax.tree.map(leaf.finalize, carry),
        aggregate=lambda values: jax.tree.map(leaf.aggregate, values),
    )


def _zeros_inexact(kind: str) -> PyTreeFn:
    """``zeros_like`` that refuses integer leaves, for averaging strategies."""

    def init(value):
        if not jnp.issubdtype(value.dtype, jnp.inexact):
            raise ValueError(
                f"AccumulationType.{kind} needs floating-point outputs, got a leaf of "
                f"dtype {jnp.dtype(value.dtype).name}; cast the output or use "
                f"AccumulationType.SUM or CONCAT."
            )
        return jnp.zeros_like(value)

    return init


def _check_num_microbatches(num_microbatches: Any, kind: str) -> None:
    if num_microbatches is None or num_microbatches <= 0:
        raise ValueError(
            f"AccumulationType.{kind} needs a positive number of microbatches, "
            f"got num_microbatches={num_microbatches!r}."
        )


def _sum() -> Accumulator:
    return _pytree(
        Accumulator(
            init=jnp.zeros_like,
            update=lambda carry, value, index: carry + value,
            finalize=lambda carry: carry,
            aggregate=functools.partial(jnp.sum, axis=0),
        )
    )


def _mean(num_microbatches: int) -> Accumulator:
    _check_num_microbatches(num_microbatches, "MEAN")
    return _pytree(
        Accumulator(
            init=_zeros_inexact("MEAN"),
            update=lambda carry, value, index: carry + value,
            finalize=lambda carry: carry / num_microbatches,
            aggregate=functools.partial(jnp.mean, axis=0),
        )
    )


def _running_mean() -> Accumulator:
    def update(carry, value, index):
        # Weight of the old mean after ``index + 1`` values. Cast so that a
        # non-weak int32 index (a traced loop bound) cannot promote a bfloat16
        # carry to float32 inside the loop.
        keep = index / (index + 1)
        return carry * keep.astype(carry.dtype) + value * (1 - keep).astype(carry.dtype)

    return _pytree(
        Accumulator(
            init=_zeros_inexact("RUNNING_MEAN"),
            update=update,
            finalize=lambda carry: carry,
            aggregate=functools.partial(jnp.mean, axis=0),
        )
    )


def _merged_sharding_kwargs(x: jax.Array) -> dict[str, Any]:
    """``out_sharding`` for merging axes 0 and 1 of an explicitly sharded ``x``."""
    sharding = jax.typeof(x).sharding
    mesh = getattr(sharding, "mesh", None)
    if mesh is None or not mesh.are_all_axes_explicit:
        return {}
    # Axis 0 (the microbatch index) is never sharded, so the merged axis keeps
    # the sharding of axis 1.
    spec = jax.sharding.PartitionSpec(*sharding.spec[1:])
    return {"out_sharding": jax.sharding.NamedSharding(mesh, spec)}


def _concat(num_microbatches: int) -> Accumulator:
    _check_num_microbatches(num_microbatches, "CONCAT")

    def init(value):
        return jnp.broadcast_to(jnp.zeros_like(value), (num_microbatches, *value.shape))

    def finalize(carry):
        # Column-major merging undoes the column-major split made by
        # reshape_batch_axis, restoring the original batch order.
        merged_shape = (-1, *carry.shape[2:])
        return carry.reshape(merged_shape, order="F", **_merged_sharding_kwargs(carry))

    return _pytree(
        Accumulator(
            init=init,
            update=lambda carry, value, index: carry.at[index].set(value),
            finalize=finalize,
            aggregate=lambda values: values,
        )
    )


def _compose(accumulators: AccumulatorTree) -> Accumulator:
    """Combines a pytree of accumulators into one accumulator over a prefix tree."""

    def check_prefix(values):
        try:
            jax.tree.map(lambda acc, value: None, accumulators, values)
        except (ValueError, TypeError) as error:
            raise ValueError(
                "microbatching: the accumulator tree must be a prefix of the function's "
                f"output structure; accumulators {jax.tree.structure(accumulators)} vs "
                f"output {jax.tree.structure(values)}."
            ) from error

    def init(values):
        check_prefix(values)
        return jax.tree.map(lambda acc, value: acc.init(value), accumulators, values)

    def update(carry, values, index):
        return jax.tree.map(
            lambda acc, c, value: acc.update(c, value, index), accumulators, carry, values
        )

    def finalize(carry):
        return jax.tree.map(lambda acc, c: acc.finalize(c), accumulators, carry)

    def aggregate(values):
        check_prefix(values)
        return jax.tree.map(lambda acc, value: acc.aggregate(value), accumulators, values)

    return Accumulator(init, update, finalize, aggregate)


def canonicalize(
    accumulator: Accumulator | AccumulationType | AccumulatorTree,
    num_microbatches: int | None,
) -> Accumulator:
    """Builds one :class:`Accumulator` from a pytree of accumulators or types.

    Args:
      accumulator: an :class:`Accumulator`, an :class:`AccumulationType`, or a
        pytree with those at its leaves.
      num_microbatches: the number of microbatches (needed by ``MEAN`` and
        ``CONCAT``).

    Returns:
      A single accumulator over the matching pytree of outputs.
    """

    def build(acc):
        if isinstance(acc, Accumulator):
            return acc
        if _is_accumulation_type(acc):
            acc = AccumulationType.__members__.get(acc.name, acc)
        if acc is AccumulationType.MEAN:
            return _mean(num_microbatches)
        if acc is AccumulationType.SUM:
            return _sum()
        if acc is AccumulationType.RUNNING_MEAN:
            return _running_mean()
        if acc is AccumulationType.CONCAT:
            return _concat(num_microbatches)
        raise ValueError(
            f"microbatching: unknown accumulator {acc!r}; expected an Accumulator or "
            f"one of {_CHOICES}."
        )

    return _compose(jax.tree.map(build, accumulator))
