"""Contrastive and metric-learning losses on embeddings: NT-Xent and triplet margin."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from optjax.losses import _regression, _utils


def ntxent(
    embeddings: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    temperature: jax.typing.ArrayLike = 0.07,
) -> jax.Array:
    """Normalized temperature-scaled cross-entropy (NT-Xent), as in SimCLR.

    With :math:`s_{ij}` the cosine similarity of embeddings :math:`i` and
    :math:`j` divided by the temperature :math:`\\tau`, :math:`P` the positive
    pairs (same label, :math:`i \\ne j`) and :math:`N(i)` the negatives of
    :math:`i` (a different label),

    .. math::

        \\ell = -\\frac{1}{|P|} \\sum_{(i, j) \\in P} \\log
        \\frac{e^{s_{ij}}}{e^{s_{ij}} + \\sum_{k \\in N(i)} e^{s_{ik}}}

    Args:
      embeddings: floating ``[batch, features]`` embeddings.
      labels: ``[batch]`` group labels; embeddings with equal labels are
        positive pairs.
      temperature: the temperature :math:`\\tau`.

    Returns:
      A scalar: the mean over positive pairs.

    Raises:
      TypeError: if ``embeddings`` is not floating.
      ValueError: if the leading sizes differ.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> embeddings = jnp.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
      >>> print(f"{losses.ntxent(embeddings, jnp.array([0, 0, 1, 1])):.4f}")
      0.0000

    References:
      Chen et al., *A Simple Framework for Contrastive Learning of Visual
      Representations*, ICML 2020. https://arxiv.org/abs/2002.05709
    """
    name = "ntxent"
    embeddings = _utils.check_floating("embeddings", embeddings, where=name)
    labels = jnp.asarray(labels)
    if labels.ndim == 0 or embeddings.ndim == 0 or labels.shape[0] != embeddings.shape[0]:
        raise ValueError(
            f"{name}: labels and embeddings must have the same leading size, got "
            f"labels.shape={labels.shape} and embeddings.shape={embeddings.shape}."
        )
    similarity = (
        _regression.cosine_similarity(
            embeddings[None, :, :],
            embeddings[:, None, :],
            epsilon=jnp.finfo(embeddings.dtype).eps,
        )
        / temperature
    )
    same = labels[:, None] == labels[None, :]
    positives = same & ~jnp.eye(same.shape[0], dtype=bool)
    negative_sims = jnp.where(~same, similarity, -jnp.inf)
    positive_sims = jnp.where(positives, similarity, -jnp.inf)
    # Shift by each row's largest similarity (held constant) for stable exps.
    row_max = jnp.max(jnp.concatenate([negative_sims, positive_sims], axis=-1), axis=1)
    shift = jax.lax.stop_gradient(row_max)[:, None]
    negative_sims, positive_sims = negative_sims - shift, positive_sims - shift
    negatives_sum = jnp.sum(jnp.exp(negative_sims), axis=1, keepdims=True)
    log_ratio = positive_sims - jnp.log(negatives_sum + jnp.exp(positive_sims))
    return -jnp.where(positives, log_ratio, 0.0).sum() / positives.sum()


def triplet_margin_loss(
    anchors: jax.typing.ArrayLike,
    positives: jax.typing.ArrayLike,
    negatives: jax.typing.ArrayLike,
    axis: int = -1,
    norm_degree: jax.typing.ArrayLike = 2,
    margin: jax.typing.ArrayLike = 1.0,
    eps: jax.typing.ArrayLike = 1e-6,
) -> jax.Array:
    """Triplet margin loss: positives must be closer to anchors than negatives.

    With :math:`d(x, y) = (\\sum_k (x_k - y_k)^q + \\varepsilon)^{1/q}` along
    ``axis`` (:math:`q` = ``norm_degree``),

    .. math::

        \\ell = \\max\\big(0,\\ d(a, p) - d(a, n) + m\\big)

    .. note::
      As in Optax, the differences are raised to the power :math:`q` without an
      absolute value, so an odd ``norm_degree`` is not a norm.

    Args:
      anchors: floating ``[batch, features]`` anchor embeddings.
      positives: embeddings similar to the anchors, same shape.
      negatives: embeddings dissimilar to the anchors, same shape.
      axis: the feature axis.
      norm_degree: the degree :math:`q` of the distance.
      margin: the margin :math:`m`.
      eps: :math:`\\varepsilon`, which keeps the root differentiable at 0.

    Returns:
      The losses, with the inputs' shape without ``axis``.

    Raises:
      TypeError: if an input is not floating.
      ValueError: if the shapes do not broadcast or ``axis`` is out of range.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> anchors = jnp.array([[0.0, 0.0], [1.0, 1.0]])
      >>> positives = jnp.array([[0.1, 0.1], [1.1, 1.1]])
      >>> negatives = jnp.array([[1.0, 0.0], [0.0, 1.0]])
      >>> print(jnp.round(losses.triplet_margin_loss(anchors, positives, negatives), 4))
      [0.1414 0.1414]

    References:
      Balntas et al., *Learning local feature descriptors with triplets and
      shallow convolutional neural networks*, BMVC 2016.
      https://bmva-archive.org.uk/bmvc/2016/papers/paper119/abstract119.pdf
    """
    name = "triplet_margin_loss"
    anchors = _utils.check_floating("anchors", anchors, where=name)
    positives = _utils.check_floating("positives", positives, where=name)
    negatives = _utils.check_floating("negatives", negatives, where=name)
    anchors_p, positives = _utils.broadcast_pair(
        ("anchors", "positives"), anchors, positives, where=name
    )
    anchors_n, negatives = _utils.broadcast_pair(
        ("anchors", "negatives"), anchors, negatives, where=name
    )
    _utils.canonical_axes(axis, anchors_p.ndim, where=name)

    def distance(x, y):
        return jnp.power(jnp.power(x - y, norm_degree).sum(axis) + eps, 1 / norm_degree)

    positive_distance = distance(anchors_p, positives)
    negative_distance = distance(anchors_n, negatives)
    return jnp.maximum(positive_distance - negative_distance + margin, 0)
