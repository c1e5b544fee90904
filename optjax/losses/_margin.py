"""Margin losses on raw scores: hinge and perceptron, binary and multiclass."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from optjax.losses import _utils


def hinge_loss(predictor_outputs: jax.typing.ArrayLike, targets: jax.typing.ArrayLike) -> jax.Array:
    """Binary hinge loss with targets in :math:`\\{-1, 1\\}`.

    .. math::

        \\ell_i = \\max(0, 1 - f_i\\, y_i)

    Args:
      predictor_outputs: real-valued scores of any shape ``[...]``.
      targets: labels in ``{-1, 1}``, broadcastable with the scores.

    Returns:
      The losses, with the broadcast shape of the inputs.

    Raises:
      ValueError: if the shapes do not broadcast.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.hinge_loss(jnp.array([0.5, 2.0, -1.0]), jnp.array([1.0, 1.0, 1.0]))
      Array([0.5, 0. , 2. ], dtype=float32)

    References:
      Cortes & Vapnik, *Support-Vector Networks*, Machine Learning, 1995.
      https://en.wikipedia.org/wiki/Hinge_loss
    """
    outputs, targets = _utils.broadcast_pair(
        ("predictor_outputs", "targets"), predictor_outputs, targets, where="hinge_loss"
    )
    return jnp.maximum(0, 1 - outputs * targets)


def perceptron_loss(
    predictor_outputs: jax.typing.ArrayLike, targets: jax.typing.ArrayLike
) -> jax.Array:
    """Binary perceptron loss with targets in :math:`\\{-1, 1\\}`.

    .. math::

        \\ell_i = \\max(0, -f_i\\, y_i)

    It is the hinge loss without the margin: zero as soon as the sign is right.

    Args:
      predictor_outputs: real-valued scores of any shape ``[...]``.
      targets: labels in ``{-1, 1}`` of the same shape.

    Returns:
      The losses, with the inputs' shape.

    Raises:
      ValueError: if the shapes differ.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.perceptron_loss(jnp.array([0.5, -2.0]), jnp.array([1.0, 1.0]))
      Array([0., 2.], dtype=float32)

    References:
      Rosenblatt, *The Perceptron*, Psychological Review, 1958.
      https://en.wikipedia.org/wiki/Perceptron
    """
    outputs, targets = jnp.asarray(predictor_outputs), jnp.asarray(targets)
    _utils.check_same_shape(
        ("predictor_outputs", "targets"), outputs, targets, where="perceptron_loss"
    )
    return jnp.maximum(0, -outputs * targets)


def _one_hot_labels(scores, labels, *, name: str) -> tuple[jax.Array, jax.Array]:
    scores = jnp.asarray(scores)
    labels = _utils.check_integer("labels", labels, where=name)
    if scores.ndim == 0:
        raise ValueError(f"{name}: scores must have a class axis, got scores.shape=().")
    labels = _utils.broadcast_to_shape(
        "labels", labels, scores.shape[:-1], "scores[..., 0]", where=name
    )
    # One-hot in JAX's default float dtype, as Optax does: bfloat16 scores give
    # float32 losses.
    return scores, jax.nn.one_hot(labels, scores.shape[-1])


def multiclass_hinge_loss(scores: jax.typing.ArrayLike, labels: jax.typing.ArrayLike) -> jax.Array:
    """Crammer-Singer multiclass hinge loss with integer labels.

    .. math::

        \\ell = \\max_k \\big(s_k + 1 - [k = y]\\big) - s_y

    That is the largest margin violation :math:`\\max(0, \\max_{k \\ne y} s_k + 1 - s_y)`.

    Args:
      scores: floating array of shape ``[..., K]``.
      labels: integer array of shape ``[...]`` with values in ``[0, K)``.

    Returns:
      The losses, with shape ``[...]``.

    Raises:
      TypeError: if ``labels`` is not integer.
      ValueError: if the labels' shape does not broadcast to ``scores.shape[:-1]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.multiclass_hinge_loss(jnp.array([[1.0, 1.5, 0.0]]), jnp.array([0]))
      Array([1.5], dtype=float32)

    References:
      Crammer & Singer, *On the Algorithmic Implementation of Multiclass
      Kernel-based Vector Machines*, JMLR 2001.
      https://www.jmlr.org/papers/v2/crammer01a.html
    """
    scores, one_hot = _one_hot_labels(scores, labels, name="multiclass_hinge_loss")
    return jnp.max(scores + 1.0 - one_hot, axis=-1) - jnp.sum(scores * one_hot, axis=-1)


def multiclass_perceptron_loss(
    scores: jax.typing.ArrayLike, labels: jax.typing.ArrayLike
) -> jax.Array:
    """Multiclass perceptron loss with integer labels.

    .. math::

        \\ell = \\max_k s_k - s_y

    Args:
      scores: floating array of shape ``[..., K]``.
      labels: integer array of shape ``[...]`` with values in ``[0, K)``.

    Returns:
      The losses, with shape ``[...]``.

    Raises:
      TypeError: if ``labels`` is not integer.
      ValueError: if the labels' shape does not broadcast to ``scores.shape[:-1]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.multiclass_perceptron_loss(jnp.array([[1.0, 1.5, 0.0]]), jnp.array([0]))
      Array([0.5], dtype=float32)

    References:
      Collins, *Discriminative Training Methods for Hidden Markov Models:
      Theory and Experiments with Perceptron Algorithms*, EMNLP 2002.
      https://aclanthology.org/W02-1001/
    """
    scores, one_hot = _one_hot_labels(scores, labels, name="multiclass_perceptron_loss")
    return jnp.max(scores, axis=-1) - jnp.sum(scores * one_hot, axis=-1)
