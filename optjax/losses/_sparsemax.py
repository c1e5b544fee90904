"""Sparsemax losses: the Fenchel-Young losses of the Gini entropy."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from optjax.losses import _utils
from optjax.projections._simplex import project_rows_onto_simplex


def sparsemax_loss(logits: jax.typing.ArrayLike, labels: jax.typing.ArrayLike) -> jax.Array:
    """Binary sparsemax loss with labels in :math:`\\{0, 1\\}`.

    .. math::

        \\ell(z, y) = \\operatorname{sparseplus}(\\pm z), \\qquad
        \\operatorname{sparseplus}(x) = \\begin{cases} 0 & x \\le -1 \\\\
        (x + 1)^2 / 4 & |x| < 1 \\\\ x & x \\ge 1 \\end{cases}

    with :math:`-z` for label 1 and :math:`+z` for label 0. It is zero exactly
    when ``jax.nn.sparse_sigmoid(logits)`` equals the label.

    Args:
      logits: floating scores of any shape ``[...]``.
      labels: labels in ``{0, 1}``, broadcastable with ``logits``.

    Returns:
      The losses, with the broadcast shape of the inputs.

    Raises:
      TypeError: if ``logits`` is not floating.
      ValueError: if the shapes do not broadcast.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.sparsemax_loss(jnp.array([2.0, 0.0, -3.0]), jnp.array([1, 1, 1]))
      Array([0.  , 0.25, 3.  ], dtype=float32)

    References:
      Blondel, Martins & Niculae, *Learning with Fenchel-Young Losses*, JMLR
      2020, section 4.4. https://arxiv.org/abs/1901.02324
    """
    name = "sparsemax_loss"
    logits = _utils.check_floating("logits", logits, where=name)
    logits, labels = _utils.broadcast_pair(("logits", "labels"), logits, labels, where=name)
    return jax.nn.sparse_plus(jnp.where(labels, -logits, logits))


def multiclass_sparsemax_loss(
    scores: jax.typing.ArrayLike, labels: jax.typing.ArrayLike
) -> jax.Array:
    """Multiclass sparsemax loss with integer labels.

    With :math:`p = \\operatorname{sparsemax}(s)`, the Euclidean projection of
    the scores onto the probability simplex,

    .. math::

        \\ell(s, y) = \\langle p, s \\rangle - s_y + \\tfrac12 (1 - \\|p\\|^2)

    It is zero exactly when :math:`p` is the one-hot vector of :math:`y`, and its
    gradient is :math:`p - e_y`.

    Args:
      scores: floating array of shape ``[..., K]``.
      labels: integer array of shape ``[...]`` with values in ``[0, K)``.

    Returns:
      The losses, with shape ``[...]``.

    Raises:
      TypeError: if ``scores`` is not floating or ``labels`` is not integer.
      ValueError: if the labels' shape does not broadcast to ``scores.shape[:-1]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> scores = jnp.array([[3.0, 1.0, 0.0], [0.5, 0.4, 0.0]])
      >>> print(jnp.round(losses.multiclass_sparsemax_loss(scores, jnp.array([0, 1])), 4))
      [0.     0.3033]

    References:
      Martins & Astudillo, *From Softmax to Sparsemax: A Sparse Model of
      Attention and Multi-Label Classification*, ICML 2016.
      https://arxiv.org/abs/1602.02068
    """
    name = "multiclass_sparsemax_loss"
    scores = _utils.check_floating("scores", scores, where=name)
    labels = _utils.check_integer("labels", labels, where=name)
    if scores.ndim == 0:
        raise ValueError(f"{name}: scores must have a class axis, got scores.shape=().")
    labels = _utils.broadcast_to_shape(
        "labels", labels, scores.shape[:-1], "scores[..., 0]", where=name
    )
    probs = project_rows_onto_simplex(scores)
    label_scores = jnp.take_along_axis(scores, labels[..., None], axis=-1)
    # Scores relative to the label's; entries outside the support are zeroed so
    # that -inf scores give 0 * 0 instead of 0 * inf.
    relative = jnp.where(probs > 0, scores - label_scores, 0.0)
    return jnp.sum(probs * relative, axis=-1) + 0.5 * (1.0 - jnp.sum(probs * probs, axis=-1))
