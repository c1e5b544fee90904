"""Label smoothing."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax.losses import _utils


def smooth_labels(
    labels: jax.typing.ArrayLike,
    alpha: jax.typing.ArrayLike,
    *,
    axis: int | tuple[int, ...] | None = -1,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    """Label smoothing: mixes one-hot labels with the uniform distribution.

    With :math:`K` classes along ``axis``,

    .. math::

        \\tilde y_k = (1 - \\alpha)\\, y_k + \\frac{\\alpha}{K}

    With a ``where`` mask, :math:`K` counts only the included classes of each
    row.

    Args:
      labels: floating one-hot (or probability) labels of shape ``[..., K]``.
      alpha: the smoothing factor :math:`\\alpha \\in [0, 1]`.
      axis: the class axis (or axes); ``None`` means all axes.
      where: optional boolean mask broadcastable to ``labels`` that marks the
        classes to count in :math:`K`.

    Returns:
      The smoothed labels, with the shape of ``labels``.

    Raises:
      TypeError: if ``labels`` is not floating.
      ValueError: if ``alpha`` is outside ``[0, 1]`` or ``axis`` is out of range.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.smooth_labels(jnp.array([0.0, 1.0, 0.0, 0.0]), 0.2)
      Array([0.05, 0.85, 0.05, 0.05], dtype=float32)

    References:
      Müller et al., *When Does Label Smoothing Help?*, NeurIPS 2019,
      https://arxiv.org/abs/1906.02629
    """
    name = "smooth_labels"
    _checks.check_in_interval("alpha", alpha, 0.0, 1.0, closed_high=True, where=name)
    labels = _utils.check_floating("labels", labels, where=name)
    axes = _utils.canonical_axes(axis, labels.ndim, where=name)
    if where is None:
        num_classes = math.prod(labels.shape[a] for a in axes)
    else:
        mask = _utils.broadcast_to_shape("where", where, labels.shape, "labels", where=name)
        num_classes = jnp.sum(mask, axis=axes, keepdims=True)
    return (1.0 - alpha) * labels + alpha / num_classes
