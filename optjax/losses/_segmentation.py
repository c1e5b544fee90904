"""Dice losses for segmentation: soft Dice/Tversky, generalized Dice, binary Dice."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax.losses import _utils

_REDUCTIONS = ("mean", "sum", "none")


def _check_probabilities(probs: jax.Array, *, name: str) -> None:
    """Raises if concrete multi-class probabilities do not sum to 1.

    Traced inputs (under ``jit``) cannot be inspected and are not checked.
    """
    if isinstance(probs, jax.core.Tracer) or probs.shape[-1] == 1:
        return
    sums = jnp.sum(probs, axis=-1)
    if not bool(jnp.allclose(sums, 1.0, rtol=1e-5)):
        raise ValueError(
            f"{name}: with apply_softmax=False, predictions must be valid probability "
            f"distributions that sum to 1 along the class axis; the sums range over "
            f"[{float(jnp.min(sums)):.6f}, {float(jnp.max(sums)):.6f}]."
        )


def dice_loss(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    *,
    class_weights: jax.typing.ArrayLike | None = None,
    smooth: jax.typing.ArrayLike = 1.0,
    alpha: jax.typing.ArrayLike = 0.5,
    beta: jax.typing.ArrayLike = 0.5,
    apply_softmax: bool = True,
    reduction: str = "mean",
    ignore_background: bool = False,
    axis: int | tuple[int, ...] | None = None,
) -> jax.Array:
    """Soft Dice loss (Tversky loss for unequal weights), per class then reduced.

    With :math:`p` the predicted probabilities and :math:`t` the targets, sums
    over the spatial positions :math:`i` give for each class :math:`c`
    :math:`I_c = \\sum_i p_{ic} t_{ic}`, :math:`P_c = \\sum_i p_{ic}` and
    :math:`T_c = \\sum_i t_{ic}`, and

    .. math::

        \\ell_c = 1 - \\frac{I_c + s}
        {I_c + \\alpha (P_c - I_c) + \\beta (T_c - I_c) + s}

    :math:`\\alpha` weighs false positives and :math:`\\beta` false negatives;
    :math:`\\alpha = \\beta = 1/2` is the Dice loss.

    .. warning::
      With ``apply_softmax=False`` Optax checks that the predictions sum to 1
      over the class axis. optjax checks the same for concrete inputs, but
      skips the check under ``jit`` (where Optax fails with a concretization
      error) and for a single class channel (binary probabilities, which Optax
      rejects).

    Args:
      predictions: logits of shape ``[..., C]``; for binary segmentation
        ``[..., 1]`` or ``[...]`` (then a class axis is added).
      targets: one-hot targets of shape ``[..., C]``, or binary ``[..., 1]`` or
        ``[...]``.
      class_weights: optional ``[C]`` weights of the per-class losses.
      smooth: the smoothing term :math:`s` (avoids 0 / 0 on empty classes).
      alpha: the false-positive weight :math:`\\alpha`.
      beta: the false-negative weight :math:`\\beta`.
      apply_softmax: turn logits into probabilities first (a sigmoid for one
        channel, a softmax over classes otherwise); ``False`` if the
        predictions are already probabilities.
      reduction: ``"mean"`` or ``"sum"`` over classes, or ``"none"``.
      ignore_background: drop class 0 from the result (if there are several).
      axis: the spatial axis (or axes) to sum over; ``None`` means every axis
        but the first (batch) and the last (classes).

    Returns:
      The losses, of shape ``[batch]`` for ``"mean"``/``"sum"`` and
      ``[batch, C]`` for ``"none"`` (with the default ``axis``).

    Raises:
      ValueError: if the shapes differ, ``reduction`` is unknown,
        ``class_weights`` is not 1-D, or the predictions are not
        probabilities with ``apply_softmax=False``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> logits = jnp.array([[[2.0, -1.0], [0.0, 1.0]]])  # [batch, pixels, classes]
      >>> targets = jnp.array([[[1.0, 0.0], [0.0, 1.0]]])
      >>> print(jnp.round(losses.dice_loss(logits, targets), 4))
      [0.0793]

    References:
      Milletari et al., *V-Net: Fully Convolutional Neural Networks for
      Volumetric Medical Image Segmentation*, 3DV 2016.
      https://arxiv.org/abs/1606.04797

      Salehi et al., *Tversky loss function for image segmentation using 3D
      fully convolutional deep networks*, 2017. https://arxiv.org/abs/1706.05721
    """
    name = "dice_loss"
    _checks.check_choice("reduction", reduction, _REDUCTIONS, where=name)
    predictions, targets = jnp.asarray(predictions), jnp.asarray(targets)
    if predictions.ndim == targets.ndim - 1:
        predictions = predictions[..., None]
    if targets.ndim == predictions.ndim - 1:
        targets = targets[..., None]
    _utils.check_same_shape(("predictions", "targets"), predictions, targets, where=name)
    if apply_softmax:
        if predictions.shape[-1] == 1:
            probs = jax.nn.sigmoid(predictions)
        else:
            probs = jax.nn.softmax(predictions, axis=-1)
    else:
        _check_probabilities(predictions, name=name)
        probs = predictions
    if axis is None:
        axis = tuple(range(1, probs.ndim - 1))
    else:
        _utils.canonical_axes(axis, probs.ndim, where=name)

    intersection = jnp.sum(probs * targets, axis=axis)
    false_positives = jnp.sum(probs, axis=axis) - intersection
    false_negatives = jnp.sum(targets, axis=axis) - intersection
    denominator = intersection + alpha * false_positives + beta * false_negatives + smooth
    per_class = 1.0 - (intersection + smooth) / denominator
    if class_weights is not None:
        class_weights = jnp.asarray(class_weights)
        _utils.check_rank("class_weights", class_weights, 1, where=name)
        per_class = per_class * jnp.broadcast_to(class_weights, per_class.shape)
    if ignore_background and probs.shape[-1] > 1:
        per_class = per_class[..., 1:]
    if reduction == "mean":
        return jnp.mean(per_class, axis=-1)
    if reduction == "sum":
        return jnp.sum(per_class, axis=-1)
    return per_class


def multiclass_generalized_dice_loss(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    *,
    smooth: jax.typing.ArrayLike = 1.0,
    apply_softmax: bool = True,
    ignore_background: bool = False,
) -> jax.Array:
    """Generalized Dice loss: per-class Dice weighted by inverse squared class volume.

    With :math:`T_c` the number of target positives of class :math:`c` over the
    whole batch, the weights are

    .. math::

        w_c = C \\frac{1 / (T_c^2 + 10^{-7})}{\\sum_k 1 / (T_k^2 + 10^{-7})}

    and the loss is the mean over batch and classes of :math:`w_c` times the
    per-class :func:`dice_loss`. Rare classes count as much as common ones.

    Args:
      predictions: logits of shape ``[..., C]``.
      targets: one-hot targets of the same shape.
      smooth: the smoothing term of :func:`dice_loss`.
      apply_softmax: apply a softmax to the predictions first.
      ignore_background: drop class 0 from the mean.

    Returns:
      A scalar loss.

    Raises:
      ValueError: if the shapes differ.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> logits = jnp.array([[[2.0, -1.0], [0.0, 1.0], [1.0, 0.0]]])
      >>> targets = jnp.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]])
      >>> print(f"{losses.multiclass_generalized_dice_loss(logits, targets):.4f}")
      0.1354

    References:
      Sudre et al., *Generalised Dice overlap as a deep learning loss function
      for highly unbalanced segmentations*, DLMIA 2017.
      https://arxiv.org/abs/1707.03237
    """
    name = "multiclass_generalized_dice_loss"
    predictions, targets = jnp.asarray(predictions), jnp.asarray(targets)
    _utils.check_same_shape(("predictions", "targets"), predictions, targets, where=name)
    class_volumes = jnp.sum(targets, axis=tuple(range(targets.ndim - 1)))
    inverse = 1.0 / (class_volumes**2 + 1e-7)
    class_weights = inverse / jnp.sum(inverse) * inverse.shape[0]
    per_class = dice_loss(
        predictions,
        targets,
        class_weights=class_weights,
        smooth=smooth,
        apply_softmax=apply_softmax,
        reduction="none",
        ignore_background=ignore_background,
    )
    return jnp.mean(per_class)


def binary_dice_loss(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    *,
    smooth: jax.typing.ArrayLike = 1.0,
    apply_sigmoid: bool = True,
) -> jax.Array:
    """Dice loss for binary segmentation (one foreground channel).

    .. math::

        \\ell = 1 - \\frac{2 \\sum_i p_i t_i + 2 s}{\\sum_i p_i + \\sum_i t_i + 2 s}

    with :math:`p = \\sigma(z)`: the two-sided form of :func:`dice_loss` with
    :math:`\\alpha = \\beta = 1/2` and one class channel.

    Args:
      predictions: logits of shape ``[batch, ...]`` or ``[batch, ..., 1]``.
      targets: binary targets of the same shape.
      smooth: the smoothing term :math:`s`.
      apply_sigmoid: apply a sigmoid first; ``False`` if the predictions are
        already probabilities.

    Returns:
      The ``[batch]`` losses.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> logits = jnp.array([[3.0, -3.0, 3.0, -3.0]])
      >>> targets = jnp.array([[1.0, 0.0, 1.0, 0.0]])
      >>> print(jnp.round(losses.binary_dice_loss(logits, targets), 4))
      [0.0316]

    References:
      Milletari et al., *V-Net: Fully Convolutional Neural Networks for
      Volumetric Medical Image Segmentation*, 3DV 2016.
      https://arxiv.org/abs/1606.04797
    """
    predictions, targets = jnp.asarray(predictions), jnp.asarray(targets)
    if predictions.ndim == targets.ndim and predictions.shape[-1] != 1:
        predictions, targets = predictions[..., None], targets[..., None]
    return dice_loss(
        predictions, targets, smooth=smooth, apply_softmax=apply_sigmoid, reduction="mean"
    )
