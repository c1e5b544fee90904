"""``micro_grad``: per-example gradients, transformed and combined microbatch by microbatch."""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from optjax.microbatching._accumulators import AccumulationType, Accumulator, AccumulatorTree
from optjax.microbatching._microbatch import micro_vmap

# Per-example outputs returned next to the combined gradient. The type name
# ``Aux`` matches Optax's, so reprs read the same.
IndividualOutputs = collections.namedtuple("Aux", ["values", "metrics", "aux"])
ValueAndGradFn = Callable[..., tuple[Any, IndividualOutputs]]


def _identity(x: Any) -> Any:
    return x


def _no_metrics(x: Any) -> None:
    del x


def micro_grad(
    fun: Callable[..., Any],
    has_aux: bool = False,
    argnums: int | Sequence[int] = 0,
    *,
    batch_argnums: int | Sequence[int] = 1,
    keep_batch_dim: bool = True,
    microbatch_size: int | None = None,
    accumulator: Accumulator | AccumulationType | AccumulatorTree = AccumulationType.SUM,
    transform_fn: Callable[[Any], Any] = _identity,
    metrics_fn: Callable[[Any], Any] = _no_metrics,
    num_real_microbatches: int | jax.Array | None = None,
) -> ValueAndGradFn:
    """Per-example gradients, transformed then combined over the batch.

    For a batch of :math:`B` examples with per-example gradients
    :math:`g_b = \\nabla_\\theta f(\\theta, x_b)`, the returned function computes
    (with the default ``SUM`` accumulator)

    .. math::

        G = \\sum_{b=1}^{B} T(g_b), \\qquad m_b = M(g_b),

    where :math:`T` is ``transform_fn`` (per-example clipping, or squaring to
    collect second moments) and :math:`M` is ``metrics_fn``. The examples are
    processed ``microbatch_size`` at a time (see :func:`micro_vmap`).

    Unlike ``jax.value_and_grad``, the combined gradient comes first and the
    per-example values, metrics and ``fun``'s auxiliary output come second, as
    the namedtuple ``Aux(values, metrics, aux)``.

    .. warning::
      Positional arguments after the last of ``batch_argnums`` are passed
      through unmapped; Optax sizes ``in_axes`` by ``max(batch_argnums) + 1``
      and fails on them.

    Args:
      fun: the loss ``fun(params, batch, ...)``, returning a scalar (or
        ``(scalar, aux)`` with ``has_aux``).
      has_aux: whether ``fun`` returns ``(value, aux)``.
      argnums: the argument(s) to differentiate with respect to.
      batch_argnums: the positional argument(s) with a leading batch axis.
        Keyword arguments are batched too (mapped along axis 0).
      keep_batch_dim: if True, ``fun`` sees each example with a batch axis of
        size 1; if False, with the batch axis removed.
      microbatch_size: examples per microbatch; ``None`` processes the whole
        batch at once.
      accumulator: how to combine the transformed gradients (a prefix pytree of
        :class:`AccumulationType` or :class:`Accumulator`).
      transform_fn: applied to each example's gradient before combining.
      metrics_fn: applied to each example's gradient; returned per example.
      num_real_microbatches: if given, only this many microbatches are run.

    Returns:
      A function with ``fun``'s arguments returning ``(combined, Aux)``, where
      each field of ``Aux`` has a leading batch axis (``aux`` is ``None``
      without ``has_aux``).

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import microbatching
      >>> loss = lambda w, x, y: 0.5 * jnp.mean((x @ w - y) ** 2)
      >>> grad_fn = microbatching.micro_grad(
      ...     loss, batch_argnums=(1, 2), microbatch_size=2,
      ...     accumulator=microbatching.AccumulationType.MEAN,
      ...     metrics_fn=jnp.linalg.norm)
      >>> mean_grad, aux = grad_fn(jnp.zeros(1), jnp.ones((4, 1)), jnp.array([1.0, 2, 3, 4]))
      >>> print(mean_grad, aux.values, aux.metrics)
      [-2.5] [0.5 2.  4.5 8. ] [1. 2. 3. 4.]

    References:
      McKenna et al., `Per-example gradient computation for large-scale
      training <https://arxiv.org/abs/2510.00236>`_, 2025.
    """
    batch_argnums = (batch_argnums,) if isinstance(batch_argnums, int) else tuple(batch_argnums)
    if not batch_argnums:
        raise ValueError("micro_grad: batch_argnums must name at least one argument.")

    if has_aux:
        fun_with_aux = fun
    else:

        def fun_with_aux(*args, **kwargs):
            return fun(*args, **kwargs), None

    value_and_grad = jax.value_and_grad(fun_with_aux, argnums, has_aux=True)

    def per_example(*args, **kwargs):
        (value, aux), grad = value_and_grad(*args, **kwargs)
        return transform_fn(grad), IndividualOutputs(value, metrics_fn(grad), aux)

    def grad_fn(*args, **kwargs):
        for i in batch_argnums:
            if not -len(args) <= i < len(args):
                raise TypeError(
                    f"micro_grad: batch_argnums names positional argument {i}, but the "
                    f"function was called with {len(args)} positional arguments."
                )
        batch_positions = {i % len(args) for i in batch_argnums}
        in_axes = [0 if i in batch_positions else None for i in range(len(args))]
        mapped = micro_vmap(
            per_example,
            in_axes=in_axes,
            accumulator=(accumulator, AccumulationType.CONCAT),
            microbatch_size=microbatch_size,
            num_real_microbatches=num_real_microbatches,
        )
        if keep_batch_dim:
            # Each example keeps a batch axis of size 1 inside the vmap.
            args = [
                jax.tree.map(lambda x: jnp.expand_dims(x, 1), a) if i in batch_positions else a
                for i, a in enumerate(args)
            ]
        return mapped(*args, **kwargs)

    return grad_fn
