"""Softmax cross-entropy losses: probability labels, integer labels, PolyLoss.

Also the optjax-only :func:`cross_entropy`, which takes either label kind and
smooths them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax.losses import _smoothing, _utils

Axis = _utils.Axis


def _prepare(logits, labels, axis, where, *, name: str):
    """Checks and broadcasts ``logits``/``labels``; gives ``where`` the logits' shape."""
    logits = _utils.check_floating("logits", logits, where=name)
    logits, labels = _utils.broadcast_pair(("logits", "labels"), logits, labels, where=name)
    _utils.canonical_axes(axis, logits.ndim, where=name)
    mask = _utils.expand_where(where, logits.shape, axis, where=name)
    return logits, labels, mask


def softmax_cross_entropy(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    axis: Axis = -1,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    """Softmax cross-entropy with one-hot or probability labels.

    .. math::

        \\ell = -\\sum_k y_k \\log \\operatorname{softmax}(z)_k

    The log-softmax is computed with the max subtracted, so logits as large as
    :math:`\\pm 10^4` give finite losses and gradients.

    Args:
      logits: floating array of shape ``[..., K]``.
      labels: probabilities (rows summing to 1), broadcastable with ``logits``.
      axis: the class axis (or axes); ``None`` means all axes.
      where: optional boolean mask of the logits' shape, or of the result's
        shape (one flag per row); masked classes leave both the normalizer and
        the sum.

    Returns:
      The losses, with the logits' shape without ``axis``.

    Raises:
      TypeError: if ``logits`` is not floating.
      ValueError: if the shapes do not broadcast or ``axis`` is out of range.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> logits = jnp.array([[1.0, 2.0, 3.0]])
      >>> print(f"{losses.softmax_cross_entropy(logits, jnp.array([[0.0, 0.0, 1.0]]))[0]:.4f}")
      0.4076

    References:
      https://en.wikipedia.org/wiki/Cross-entropy
    """
    logits, labels, mask = _prepare(logits, labels, axis, where, name="softmax_cross_entropy")
    log_probs = jax.nn.log_softmax(logits, axis, mask)
    return -(labels * log_probs).sum(axis, where=mask)


@jax.custom_jvp
def _label_weighted_log_softmax(logits: jax.Array, labels: jax.Array) -> jax.Array:
    # 0 * log 0 is taken as 0: a class with zero weight contributes nothing,
    # even where its logit is -inf.
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    return jnp.where(labels != 0.0, labels * log_probs, jnp.zeros_like(log_probs))


@_label_weighted_log_softmax.defjvp
def _label_weighted_log_softmax_jvp(primals, tangents):
    logits, labels = primals
    logits_dot, labels_dot = tangents
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    out = jnp.where(labels != 0.0, labels * log_probs, jnp.zeros_like(log_probs))
    # d log_softmax(z) = dz - <softmax(z), dz>; written without the -inf logits'
    # own contribution, which autodiff would turn into 0 * inf = NaN.
    centered = logits_dot - jnp.sum(
        logits_dot * jax.nn.softmax(logits, axis=-1), axis=-1, keepdims=True
    )
    return out, labels * centered + labels_dot * log_probs


def safe_softmax_cross_entropy(
    logits: jax.typing.ArrayLike, labels: jax.typing.ArrayLike
) -> jax.Array:
    """Softmax cross-entropy that takes :math:`0 \\log 0 = 0` for ``-inf`` logits.

    .. math::

        \\ell = -\\sum_{k : y_k \\ne 0} y_k \\log \\operatorname{softmax}(z)_k

    Unlike :func:`softmax_cross_entropy`, a class with logit ``-inf`` and label
    0 contributes 0 to the loss and to its gradient instead of NaN.

    Args:
      logits: floating array of shape ``[..., K]``; entries may be ``-inf``.
      labels: probabilities broadcastable to ``[..., K]``.

    Returns:
      The losses, with shape ``[...]``.

    Raises:
      TypeError: if ``logits`` is not floating.
      ValueError: if the shapes do not broadcast.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> logits = jnp.array([0.0, 0.0, -jnp.inf])
      >>> print(f"{losses.safe_softmax_cross_entropy(logits, jnp.array([0.5, 0.5, 0.0])):.4f}")
      0.6931
    """
    name = "safe_softmax_cross_entropy"
    logits = _utils.check_floating("logits", logits, where=name)
    logits, labels = _utils.broadcast_pair(("logits", "labels"), logits, labels, where=name)
    return -jnp.sum(_label_weighted_log_softmax(logits, labels), axis=-1)


def _classes_last(array: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    """Moves ``axes`` to the end (in order) and flattens them into one axis."""
    batch = tuple(a for a in range(array.ndim) if a not in axes)
    moved = jnp.transpose(array, batch + axes)
    return moved.reshape(moved.shape[: len(batch)] + (-1,))


def softmax_cross_entropy_with_integer_labels(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    axis: int | tuple[int, ...] = -1,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    """Softmax cross-entropy with integer class labels.

    .. math::

        \\ell = \\operatorname{logsumexp}(z) - z_y

    Only the label's logit is subtracted from the (stable) log-normalizer, so
    the result is finite for logits as large as :math:`\\pm 10^4`. With a tuple
    ``axis``, the classes are the flattened (row-major) entries of those axes
    and a label is a flat index into them.

    .. note::
      Labels outside ``[0, K)`` give an undefined result (no error is raised,
      as in Optax): checking would need a device-to-host transfer.

    Args:
      logits: floating array of shape ``[..., K]``.
      labels: integer array of the logits' shape without ``axis``.
      axis: the class axis, or a tuple of axes.
      where: optional boolean mask of the logits' shape, or of the result's
        shape; a row with every class masked gives 0.

    Returns:
      The losses, with the logits' shape without ``axis``.

    Raises:
      TypeError: if ``logits`` is not floating or ``labels`` is not integer.
      ValueError: if ``axis`` is ``None`` or out of range, or the labels' shape
        does not fit.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> logits = jnp.array([[1.0, 2.0, 3.0]])
      >>> print(f"{losses.softmax_cross_entropy_with_integer_labels(logits, jnp.array([2]))[0]:.4f}")
      0.4076

    References:
      https://en.wikipedia.org/wiki/Cross-entropy
    """
    name = "softmax_cross_entropy_with_integer_labels"
    logits = _utils.check_floating("logits", logits, where=name)
    labels = _utils.check_integer("labels", labels, where=name)
    if not isinstance(axis, int | tuple):
        raise ValueError(f"{name}: axis must be an int or a tuple of ints, got {axis!r}.")
    axes = _utils.canonical_axes(axis, logits.ndim, where=name)
    mask = _utils.expand_where(where, logits.shape, axis, where=name)
    logits = _classes_last(logits, axes)
    if mask is not None:
        mask = _classes_last(mask, axes)
    batch_shape = logits.shape[:-1]
    if labels.shape != batch_shape:
        try:
            labels = jnp.broadcast_to(labels, batch_shape)
        except ValueError:
            raise ValueError(
                f"{name}: labels must have the logits' shape without axis={axis!r}, "
                f"got logits.shape={jnp.shape(logits)} (classes flattened last) and "
                f"labels.shape={labels.shape}."
            ) from None
    label_logits = jnp.take_along_axis(logits, labels[..., None], axis=-1)[..., 0]
    out = jax.nn.logsumexp(logits, axis=-1, where=mask) - label_logits
    if mask is not None:
        out = jnp.where(jnp.any(mask, axis=-1), out, 0.0)
    return out


def poly_loss_cross_entropy(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    epsilon: jax.typing.ArrayLike = 2.0,
    axis: Axis = -1,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    """PolyLoss: cross-entropy plus a weighted first polynomial term.

    With :math:`p = \\operatorname{softmax}(z)` and :math:`p_t = \\sum_k y_k p_k`,

    .. math::

        \\ell = -\\sum_k y_k \\log p_k + \\epsilon\\, (1 - p_t)

    This is Poly-1: the cross-entropy's Taylor series in :math:`(1 - p_t)` with
    the first coefficient raised by :math:`\\epsilon` (2 for ImageNet
    classification, -1 for detection, in the paper).

    Args:
      logits: floating array of shape ``[..., K]``.
      labels: floating probabilities broadcastable with ``logits``.
      epsilon: the extra weight :math:`\\epsilon` of the first term.
      axis: the class axis (or axes); ``None`` means all axes.
      where: optional boolean mask, as in :func:`softmax_cross_entropy`.

    Returns:
      The losses, with the logits' shape without ``axis``.

    Raises:
      TypeError: if ``logits`` or ``labels`` is not floating.
      ValueError: if the shapes do not broadcast or ``axis`` is out of range.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> logits, labels = jnp.array([1.0, 2.0, 3.0]), jnp.array([0.0, 0.0, 1.0])
      >>> print(f"{losses.poly_loss_cross_entropy(logits, labels):.4f}")
      1.0771

    References:
      Leng et al., *PolyLoss: A Polynomial Expansion Perspective of
      Classification Loss Functions*, ICLR 2022. https://arxiv.org/abs/2204.12511
    """
    name = "poly_loss_cross_entropy"
    labels = _utils.check_floating("labels", labels, where=name)
    logits, labels, mask = _prepare(logits, labels, axis, where, name=name)
    probs = jax.nn.softmax(logits, axis=axis, where=mask)
    one_minus_pt = jnp.sum(labels * (1 - probs), axis=axis, where=mask)
    log_probs = jax.nn.log_softmax(logits, axis, mask)
    cross_entropy = -(labels * log_probs).sum(axis, where=mask)
    return cross_entropy + epsilon * one_minus_pt


def cross_entropy(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    label_smoothing: jax.typing.ArrayLike = 0.0,
) -> jax.Array:
    """Softmax cross-entropy with integer or one-hot labels and optional smoothing.

    .. math::

        \\ell = -\\sum_k \\tilde y_k \\log \\operatorname{softmax}(z)_k,
        \\qquad \\tilde y = (1 - \\alpha)\\, y + \\alpha / K

    The label kind is decided by dtype: integer labels (shape ``[...]``) are
    class indices, floating labels (shape ``[..., K]``) are one-hot or
    probability rows. Without smoothing, integer labels use
    :func:`softmax_cross_entropy_with_integer_labels`; with smoothing they are
    made one-hot first and :func:`smooth_labels` is applied. This function is
    optjax only (Optax has no counterpart).

    Args:
      logits: floating array of shape ``[..., K]``.
      labels: integer array ``[...]`` or floating array ``[..., K]``.
      label_smoothing: :math:`\\alpha \\in [0, 1]`; 0 disables smoothing.

    Returns:
      The losses, with shape ``[...]``.

    Raises:
      ValueError: if the labels' shape does not fit their kind.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> logits = jnp.array([[1.0, 2.0, 3.0]])
      >>> print(f"{losses.cross_entropy(logits, jnp.array([2]))[0]:.4f}")
      0.4076
      >>> print(f"{losses.cross_entropy(logits, jnp.array([2]), label_smoothing=0.3)[0]:.4f}")
      0.7076

    References:
      Müller et al., *When Does Label Smoothing Help?*, NeurIPS 2019,
      https://arxiv.org/abs/1906.02629
    """
    name = "cross_entropy"
    _checks.check_in_interval(
        "label_smoothing", label_smoothing, 0.0, 1.0, closed_high=True, where=name
    )
    logits = _utils.check_floating("logits", logits, where=name)
    labels = jnp.asarray(labels)
    no_smoothing = isinstance(label_smoothing, int | float) and label_smoothing == 0.0
    if jnp.issubdtype(labels.dtype, jnp.integer):
        if logits.ndim == 0 or labels.shape != logits.shape[:-1]:
            raise ValueError(
                f"{name}: integer labels must have the logits' shape without the class "
                f"axis, got logits.shape={logits.shape} and labels.shape={labels.shape}."
            )
        if no_smoothing:
            return softmax_cross_entropy_with_integer_labels(logits, labels)
        labels = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    elif labels.shape != logits.shape:
        raise ValueError(
            f"{name}: floating labels must have the logits' shape (integer "
            f"labels drop the class axis), got logits.shape={logits.shape} and "
            f"labels.shape={labels.shape}."
        )
    if not no_smoothing:
        labels = _smoothing.smooth_labels(labels, label_smoothing)
    return softmax_cross_entropy(logits, labels)
