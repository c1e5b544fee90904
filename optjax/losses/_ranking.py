"""Listwise ranking losses over the last axis (the items of a list)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from optjax.losses import _utils


def _masked_reduce(
    values: jax.Array, where: jax.Array | None, reduce_fn: Callable[..., jax.Array] | None
) -> jax.Array:
    """Reduces ``values`` over the included lists, 0 rather than NaN when there are none."""
    if reduce_fn is None:
        # Unreduced losses are zeroed where masked, so that summing them by
        # hand gives the same as reduce_fn=jnp.sum.
        return values if where is None else jnp.where(where, values, 0.0)
    out = reduce_fn(values, where=where)
    if reduce_fn is jnp.mean:
        # A mean over no list is NaN; report 0 instead, unless a NaN came from
        # the losses themselves, which must stay visible.
        out = jnp.where(jnp.isnan(out) & ~jnp.any(jnp.isnan(values)), 0.0, out)
    return out


def ranking_softmax_loss(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    where: jax.typing.ArrayLike | None = None,
    weights: jax.typing.ArrayLike | None = None,
    reduce_fn: Callable[..., jax.Array] | None = jnp.mean,
) -> jax.Array:
    """Listwise softmax cross-entropy between item scores and relevance labels.

    For each list (last axis) with scores :math:`s` and relevance labels
    :math:`y` (times ``weights`` if given),

    .. math::

        \\ell(s, y) = -\\sum_i y_i \\log \\frac{e^{s_i}}{\\sum_j e^{s_j}}

    with the softmax taken over the valid items only. The per-list losses are
    then reduced by ``reduce_fn`` over the lists that have a valid item.

    Args:
      logits: floating ``[..., list_size]`` item scores.
      labels: ``[..., list_size]`` relevance labels (cast to the logits' dtype).
      where: optional boolean ``[..., list_size]`` mask of the valid items.
      weights: optional ``[..., list_size]`` per-item weights of the labels.
      reduce_fn: ``jnp.mean`` (default), ``jnp.sum``, or ``None`` to return the
        ``[...]`` per-list losses (0 for lists without a valid item). A mean
        over no valid list is 0.

    Returns:
      The reduced loss, or the per-list losses if ``reduce_fn`` is ``None``.

    Raises:
      TypeError: if ``logits`` is not floating.
      ValueError: if ``labels``, ``where`` or ``weights`` does not broadcast to
        the logits' shape.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> scores, labels = jnp.array([2.0, 1.0, 3.0]), jnp.array([1.0, 0.0, 0.0])
      >>> print(f"{losses.ranking_softmax_loss(scores, labels):.3f}")
      1.408
      >>> where = jnp.array([True, True, False])
      >>> print(f"{losses.ranking_softmax_loss(scores, labels, where=where):.3f}")
      0.313

    References:
      Cao et al., *Learning to Rank: From Pairwise Approach to Listwise
      Approach*, ICML 2007. https://doi.org/10.1145/1273496.1273513
    """
    name = "ranking_softmax_loss"
    logits = _utils.check_floating("logits", logits, where=name)
    labels = _utils.broadcast_to_shape("labels", labels, logits.shape, "logits", where=name)
    labels = labels.astype(logits.dtype)
    if where is not None:
        where = _utils.broadcast_to_shape("where", where, logits.shape, "logits", where=name)
        labels = jnp.where(where, labels, jnp.zeros_like(labels))
        logits = jnp.where(where, logits, -jnp.ones_like(logits) * jnp.inf)
    if weights is not None:
        labels = labels * _utils.broadcast_to_shape(
            "weights", weights, logits.shape, "logits", where=name
        )
    per_item = labels * jax.nn.log_softmax(logits, axis=-1)
    per_list = -jnp.sum(per_item, axis=-1, where=where)
    valid_lists = None if where is None else jnp.any(where, axis=-1)
    return _masked_reduce(per_list, valid_lists, reduce_fn)
