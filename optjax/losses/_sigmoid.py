"""Elementwise binary losses on logits: sigmoid cross-entropy and focal loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax.losses import _utils


def _logits_and_labels(logits, labels, *, name: str) -> tuple[jax.Array, jax.Array]:
    logits = _utils.check_floating("logits", logits, where=name)
    labels = jnp.astype(labels, logits.dtype)
    return _utils.broadcast_pair(("logits", "labels"), logits, labels, where=name)


def _binary_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    # log(1 - sigmoid(z)) is log_sigmoid(-z): no overflow for large |z|.
    return -labels * jax.nn.log_sigmoid(logits) - (1.0 - labels) * jax.nn.log_sigmoid(-logits)


def sigmoid_binary_cross_entropy(
    logits: jax.typing.ArrayLike, labels: jax.typing.ArrayLike
) -> jax.Array:
    """Elementwise binary cross-entropy on logits.

    .. math::

        \\ell_i = -y_i \\log \\sigma(z_i) - (1 - y_i) \\log \\sigma(-z_i)

    Both terms use ``log_sigmoid``, so large logits do not overflow. Each
    element is an independent binary problem, so this also serves multi-label
    classification with per-class probabilities.

    Args:
      logits: floating array of any shape ``[...]``.
      labels: targets in ``[0, 1]``, broadcastable with ``logits``; cast to the
        logits' dtype.

    Returns:
      The losses, with the broadcast shape of the inputs.

    Raises:
      TypeError: if ``logits`` is not floating.
      ValueError: if the shapes do not broadcast.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.sigmoid_binary_cross_entropy(jnp.array([0.0, 1e4]), jnp.array([1.0, 1.0]))
      Array([0.6931472, 0.       ], dtype=float32)

    References:
      Goodfellow et al., *Deep Learning*, MIT Press, 2016, section 3.10.
      http://www.deeplearningbook.org/contents/prob.html
    """
    logits, labels = _logits_and_labels(logits, labels, name="sigmoid_binary_cross_entropy")
    return _binary_cross_entropy(logits, labels)


def sigmoid_focal_loss(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    alpha: jax.typing.ArrayLike | None = None,
    gamma: jax.typing.ArrayLike = 2.0,
) -> jax.Array:
    """Focal loss: binary cross-entropy down-weighted on well-classified elements.

    With :math:`p = \\sigma(z)`, :math:`p_t = y p + (1 - y)(1 - p)` the
    probability given to the label, and :math:`\\alpha_t = y \\alpha + (1 - y)(1
    - \\alpha)`,

    .. math::

        \\ell = \\alpha_t\\, (1 - p_t)^\\gamma\\, \\operatorname{BCE}(z, y)

    The factor :math:`(1 - p_t)^\\gamma` is computed as
    :math:`\\exp(\\gamma \\log(1 - p_t))` from log-sigmoids, so it stays finite
    and accurate for large logits and for :math:`\\gamma < 1`. Soft labels in
    :math:`[0, 1]` are accepted.

    Args:
      logits: floating array of any shape ``[...]``.
      labels: targets in ``[0, 1]``, broadcastable with ``logits``.
      alpha: optional weight :math:`\\alpha \\in [0, 1]` of the positive class;
        ``None`` weights both classes by 1.
      gamma: the focusing exponent :math:`\\gamma \\ge 0`; 0 gives the
        (optionally :math:`\\alpha`-weighted) cross-entropy.

    Returns:
      The losses, with the broadcast shape of the inputs.

    Raises:
      TypeError: if ``logits`` is not floating.
      ValueError: if the shapes do not broadcast, ``alpha`` is outside
        ``[0, 1]`` or ``gamma`` is negative.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> loss = losses.sigmoid_focal_loss(jnp.array([2.0, -1.0]), jnp.array([1.0, 1.0]))
      >>> print(jnp.round(loss, 4))
      [0.0018 0.7019]

    References:
      Lin et al., *Focal Loss for Dense Object Detection*, ICCV 2017.
      https://arxiv.org/abs/1708.02002
    """
    name = "sigmoid_focal_loss"
    if alpha is not None:
        _checks.check_in_interval("alpha", alpha, 0.0, 1.0, closed_high=True, where=name)
    _checks.check_non_negative("gamma", gamma, where=name)
    logits, labels = _logits_and_labels(logits, labels, name=name)
    cross_entropy = _binary_cross_entropy(logits, labels)
    # log(1 - p_t) = log((1 - y) p + y (1 - p)), a weighted logsumexp of the
    # two log-sigmoids.
    log_terms = jnp.stack([jax.nn.log_sigmoid(logits), jax.nn.log_sigmoid(-logits)], axis=-1)
    weights = jnp.stack([1 - labels, labels], axis=-1)
    log_one_minus_pt = jax.scipy.special.logsumexp(log_terms, axis=-1, b=weights)
    loss = cross_entropy * jnp.exp(gamma * log_one_minus_pt)
    if alpha is None:
        return loss
    return (alpha * labels + (1.0 - alpha) * (1.0 - labels)) * loss
