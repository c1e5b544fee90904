"""``microbatch`` and ``micro_vmap``: evaluating a function one microbatch at a time."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax.microbatching._accumulators import (
    AccumulationType,
    Accumulator,
    AccumulatorTree,
    canonicalize,
)
from optjax.microbatching._reshape import normalize_axis, reshape_batch_axis

Function = Callable[..., Any]
VmapFn = Callable[[Function, Any, Any], Function]


def _as_tuple(value: Any, single: type) -> tuple[Any, ...]:
    return (value,) if isinstance(value, single) else tuple(value)


class _BatchSlots:
    """The batch arguments of a call: which positions/names, and their batch axes."""

    def __init__(self, argnums: tuple[int, ...], argnames: tuple[str, ...], in_axes: Any):
        count = len(argnums) + len(argnames)
        axes = (in_axes,) * count if isinstance(in_axes, int) else tuple(in_axes)
        if len(axes) != count:
            raise ValueError(
                f"microbatch: in_axes has {len(axes)} entries but argnums + argnames name "
                f"{count} batch arguments ({argnums} + {argnames})."
            )
        for name, keys in (("argnums", argnums), ("argnames", argnames)):
            if len(set(keys)) != len(keys):
                raise ValueError(f"microbatch: {name}={keys} repeats an entry.")
        self.slots = [("args", i, ax) for i, ax in zip(argnums, axes)]
        self.slots += [("kwargs", n, ax) for n, ax in zip(argnames, axes[len(argnums) :])]

    def check_present(self, args: list[Any], kwargs: dict[str, Any]) -> None:
        for kind, key, _ in self.slots:
            if kind == "args" and not -len(args) <= key < len(args):
                raise TypeError(
                    f"microbatch: argnums names positional argument {key}, but the "
                    f"function was called with {len(args)} positional arguments."
                )
            if kind == "kwargs" and key not in kwargs:
                raise TypeError(
                    f"microbatch: argnames names {key!r}, which was not passed as a keyword "
                    f"argument (got {sorted(kwargs)})."
                )

    def batch_size(self, args: list[Any], kwargs: dict[str, Any]) -> int:
        """The common batch size of all batch leaves, or a ValueError naming a mismatch."""
        sizes = []
        for kind, key, ax in self.slots:
            tree = (args if kind == "args" else kwargs)[key]
            label = f"{kind}[{key!r}]"
            for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
                where = f"microbatch ({label}{jax.tree_util.keystr(path)})"
                shape = jnp.shape(leaf)
                axis = normalize_axis(ax, len(shape), what=where)
                sizes.append((f"{label}{jax.tree_util.keystr(path)}", shape[axis]))
        if not sizes:
            raise ValueError(
                "microbatch: the batch arguments (argnums/argnames) hold no arrays, so "
                "there is no batch axis to split."
            )
        first_label, first_size = sizes[0]
        for label, size in sizes[1:]:
            if size != first_size:
                raise ValueError(
                    "microbatch: batch arguments must have equal-size batch axes; "
                    f"{first_label} has {first_size} but {label} has {size}."
                )
        return first_size

    def map(self, fn: Callable[[Any, int], Any], args: list[Any], kwargs: dict[str, Any]):
        """Applies ``fn(tree, axis)`` to every batch argument, returning new args/kwargs."""
        new = {"args": list(args), "kwargs": dict(kwargs)}
        for kind, key, ax in self.slots:
            new[kind][key] = fn(new[kind][key], ax)
        return new["args"], new["kwargs"]


def _check_num_real(num_real: Any, num_microbatches: int) -> None:
    if isinstance(num_real, bool) or not isinstance(num_real, numbers.Integral):
        return  # None, or an array (possibly traced): used as the loop bound as is.
    if not 0 <= num_real <= num_microbatches:
        raise ValueError(
            f"microbatch: num_real_microbatches={num_real} must be in "
            f"[0, {num_microbatches}] (the number of microbatches)."
        )


def _take_microbatch(tree: Any, axis: int, index: jax.Array) -> Any:
    # Leaves were split by reshape_batch_axis, so they have one more dimension
    # than the caller's leaves; ``axis`` is relative to the caller's leaves.
    return jax.tree.map(lambda x: jnp.take(x, index, axis=axis % (x.ndim - 1)), tree)


def microbatch(
    fun: Function,
    argnums: int | Sequence[int],
    microbatch_size: int | None,
    accumulator: Accumulator | AccumulationType | AccumulatorTree = AccumulationType.SUM,
    *,
    argnames: str | Sequence[str] = (),
    in_axes: int | Sequence[int] = 0,
    num_real_microbatches: int | jax.Array | None = None,
) -> Function:
    """Evaluates ``fun`` sequentially on microbatches and combines the results.

    The batch arguments are split into :math:`n = B / \\mathrm{microbatch\\_size}`
    microbatches :math:`x^{(0)}, \\dots, x^{(n-1)}` (see
    :func:`reshape_batch_axis` for which rows go where), ``fun`` runs on each
    inside a ``lax.fori_loop``, and the outputs are folded with the accumulator.
    For ``SUM``:

    .. math::

        \\mathrm{microbatch}(f)(x) = \\sum_{i=0}^{n-1} f(x^{(i)}).

    Only one microbatch is live at a time, which bounds peak memory. The result
    equals ``fun(full_batch)`` whenever ``fun`` decomposes over the batch the
    way the accumulator assumes (a sum, a mean, or a per-example map for
    ``CONCAT``).

    .. warning::
      Where Optax fails or silently returns NaN, optjax differs: a concrete
      ``num_real_microbatches`` outside ``[0, num_microbatches]`` raises
      ``ValueError`` (Optax fills the missing rows with NaN), negative
      ``in_axes`` count from the end, ``MEAN``/``RUNNING_MEAN`` also accept
      complex outputs, and ``RUNNING_MEAN`` keeps a bfloat16 carry when the loop
      bound is traced.

    Args:
      fun: the function to evaluate.
      argnums: index or indices of the positional arguments that have a batch
        axis.
      microbatch_size: the number of batch rows per microbatch; must divide the
        batch size. ``None`` returns ``fun`` unchanged.
      accumulator: how to combine the microbatch outputs: an
        :class:`AccumulationType`, an :class:`Accumulator`, or a pytree of
        these that is a prefix of ``fun``'s output.
      argnames: name or names of keyword arguments that have a batch axis.
      in_axes: the batch axis of every batch argument (an int), or one axis per
        entry of ``argnums + argnames``.
      num_real_microbatches: if given, only this many microbatches are run (it
        may be a traced integer, so a variable batch size does not recompile).

    Returns:
      A function with the same arguments as ``fun``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import microbatching
      >>> fun = lambda x: (2 * x, jnp.sum(x**2))
      >>> types = (microbatching.AccumulationType.CONCAT, microbatching.AccumulationType.SUM)
      >>> batched = microbatching.microbatch(fun, argnums=0, microbatch_size=2, accumulator=types)
      >>> doubled, total = batched(jnp.array([1.0, 2.0, 3.0, 4.0]))
      >>> print(doubled, float(total))
      [2. 4. 6. 8.] 30.0
    """
    if microbatch_size is None:
        return fun
    _checks.check_positive_int("microbatch_size", microbatch_size, where="microbatch")
    argnums = _as_tuple(argnums, int)
    argnames = _as_tuple(argnames, str)
    batch = _BatchSlots(argnums, argnames, in_axes)

    def microbatched_fun(*args, **kwargs):
        batch.check_present(list(args), kwargs)
        batch_size = batch.batch_size(list(args), kwargs)
        if batch_size % microbatch_size:
            raise ValueError(
                f"microbatch: batch_size={batch_size} is not divisible by "
                f"microbatch_size={microbatch_size}."
            )
        num_microbatches = batch_size // microbatch_size
        _check_num_real(num_real_microbatches, num_microbatches)
        acc = canonicalize(accumulator, num_microbatches)
        split_args, split_kwargs = batch.map(
            lambda tree, ax: reshape_batch_axis(tree, microbatch_size, ax), list(args), kwargs
        )

        def call(index):
            sub_args, sub_kwargs = batch.map(
                lambda tree, ax: _take_microbatch(tree, ax, index), split_args, split_kwargs
            )
            return fun(*sub_args, **sub_kwargs)

        def body(index, carry):
            return acc.update(carry, call(index), index)

        if num_real_microbatches is None:
            num_steps = num_microbatches
        else:
            num_steps = num_real_microbatches
        carry = acc.init(jax.eval_shape(call, 0))
        carry = jax.lax.fori_loop(0, num_steps, body, carry)
        return acc.finalize(carry)

    return microbatched_fun


def micro_vmap(
    fun: Function,
    in_axes: int | Sequence[int | None] = 0,
    out_axes: Any = 0,
    *,
    microbatch_size: int | None = None,
    vmap_fn: VmapFn = jax.vmap,
    accumulator: Accumulator | AccumulationType | AccumulatorTree = AccumulationType.CONCAT,
    num_real_microbatches: int | jax.Array | None = None,
) -> Function:
    """``jax.vmap`` that runs over the batch one microbatch at a time.

    Within a microbatch ``fun`` is vectorised with ``vmap_fn``; the microbatches
    run sequentially (see :func:`microbatch`). With the default ``CONCAT``
    accumulator the result equals ``jax.vmap(fun, in_axes)(...)``; with ``SUM``
    or ``MEAN`` the per-example outputs are reduced as they are produced, so the
    full per-example output never has to fit in memory:

    .. math::

        \\mathrm{micro\\_vmap}(f)(x) = \\sum_{b=1}^{B} f(x_b)
        \\quad (\\text{for } \\mathrm{SUM}).

    Keyword arguments are mapped along their axis 0, as in ``jax.vmap``.

    .. warning::
      An int ``in_axes`` maps every positional argument, as in ``jax.vmap``;
      Optax turns it into a one-entry tuple, which only works for functions
      of one positional argument.

    Args:
      fun: the per-example function.
      in_axes: the mapped axis of each positional argument (``None`` for an
        unmapped one), or one int for all of them.
      out_axes: must be 0.
      microbatch_size: examples per microbatch; ``None`` maps the whole batch at
        once.
      vmap_fn: the vectorising map, with ``jax.vmap``'s
        ``(fun, in_axes, out_axes)`` signature.
      accumulator: how to combine the per-example outputs (a prefix pytree of
        :class:`AccumulationType` or :class:`Accumulator`).
      num_real_microbatches: if given, only this many microbatches are run.

    Returns:
      The mapped function, with ``fun``'s arguments plus a batch axis.

    Raises:
      NotImplementedError: if ``out_axes`` is not 0.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import microbatching
      >>> print(microbatching.micro_vmap(lambda x: x**2, microbatch_size=2)(jnp.arange(6)))
      [ 0  1  4  9 16 25]
      >>> total = microbatching.micro_vmap(
      ...     jnp.sum, microbatch_size=2, accumulator=microbatching.AccumulationType.SUM)
      >>> float(total(jnp.ones((4, 3))))
      12.0
    """
    if out_axes != 0:
        raise NotImplementedError(f"micro_vmap: only out_axes=0 is supported, got {out_axes!r}.")
    if not isinstance(in_axes, int) and not isinstance(in_axes, Sequence):
        raise TypeError(
            f"micro_vmap: in_axes must be an int or a sequence of ints/None, got {in_axes!r}."
        )

    def vmap_then_aggregate(*args, kwargs):
        axes = tuple(in_axes) if isinstance(in_axes, Sequence) else in_axes
        outputs = vmap_fn(fun, axes, out_axes)(*args, **kwargs)
        leaves = jax.tree.leaves(outputs)
        # Only ``aggregate`` is used here, which does not depend on the count.
        count = leaves[0].shape[0] if leaves else 1
        return canonicalize(accumulator, count).aggregate(outputs)

    def mapped_fun(*args, **kwargs):
        if isinstance(in_axes, int):
            axes = (in_axes,) * len(args)
        else:
            axes = tuple(in_axes)
            if len(axes) != len(args):
                raise ValueError(
                    f"micro_vmap: in_axes has {len(axes)} entries but the function was "
                    f"called with {len(args)} positional arguments."
                )
        mapped = [i for i, ax in enumerate(axes) if ax is not None]
        microbatched = microbatch(
            vmap_then_aggregate,
            argnums=tuple(mapped),
            argnames="kwargs",
            microbatch_size=microbatch_size,
            accumulator=accumulator,
            in_axes=tuple(axes[i] for i in mapped) + (0,),
            num_real_microbatches=num_real_microbatches,
        )
        return microbatched(*args, kwargs=kwargs)

    return mapped_fun
