"""Loss functions and parameter penalties in plain ``jax.numpy``.

The losses return one value per example (no reduction) like ``optax.losses``,
except the ``mean_*`` ones, which average over every element. Shapes follow
Optax: classification losses reduce the last (class) axis. The parameter
penalties live in :mod:`optjax.losses._penalties`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from optjax import _checks


def _check_floating(name: str, value: jax.typing.ArrayLike, *, where: str) -> jax.Array:
    value = jnp.asarray(value)
    if not jnp.issubdtype(value.dtype, jnp.floating):
        raise ValueError(f"{where}: {name} must have a floating dtype, got {value.dtype}.")
    return value


def _check_same_shape(
    names: tuple[str, str], first: jax.Array, second: jax.Array, *, where: str
) -> None:
    if first.shape != second.shape:
        raise ValueError(
            f"{where}: {names[0]} and {names[1]} must have the same shape, got "
            f"{names[0]}.shape={first.shape} and {names[1]}.shape={second.shape}."
        )


def _check_integer_labels(logits: jax.Array, labels: jax.Array, *, where: str) -> None:
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(f"{where}: labels must have an integer dtype, got {labels.dtype}.")
    if logits.ndim == 0 or labels.shape != logits.shape[:-1]:
        raise ValueError(
            f"{where}: integer labels must have the logits' shape without the class "
            f"axis, got logits.shape={logits.shape} and labels.shape={labels.shape}."
        )


def _errors(predictions, targets, *, where: str, same_shape: bool) -> jax.Array:
    predictions = _check_floating("predictions", predictions, where=where)
    if targets is None:
        return predictions
    targets = jnp.asarray(targets)
    if same_shape:
        _check_same_shape(("predictions", "targets"), predictions, targets, where=where)
    return predictions - targets


# ----------------------------------------------------------------------------
# Regression.


def squared_error(
    predictions: jax.typing.ArrayLike, targets: jax.typing.ArrayLike | None = None
) -> jax.Array:
    """Elementwise squared error between predictions and targets.

    .. math::

        \\ell_i = (p_i - t_i)^2

    Args:
      predictions: floating array of any shape ``[...]``.
      targets: array of the same shape; ``None`` means zeros.

    Returns:
      The squared errors, with the shape of ``predictions``.

    Raises:
      ValueError: if the shapes differ or ``predictions`` is not floating.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.squared_error(jnp.array([1.0, 3.0]), jnp.array([0.0, 1.0]))
      Array([1., 4.], dtype=float32)
    """
    return _errors(predictions, targets, where="squared_error", same_shape=True) ** 2


def mean_squared_error(
    predictions: jax.typing.ArrayLike, targets: jax.typing.ArrayLike | None = None
) -> jax.Array:
    """Mean squared error over every element.

    .. math::

        \\ell = \\frac{1}{n} \\sum_i (p_i - t_i)^2

    Args:
      predictions: floating array of any shape ``[...]``.
      targets: array of the same shape; ``None`` means zeros.

    Returns:
      A scalar: the mean of :func:`squared_error`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.mean_squared_error(jnp.array([1.0, 3.0]), jnp.array([0.0, 1.0]))
      Array(2.5, dtype=float32)
    """
    return jnp.mean(squared_error(predictions, targets))


def absolute_error(
    predictions: jax.typing.ArrayLike, targets: jax.typing.ArrayLike | None = None
) -> jax.Array:
    """Elementwise absolute error between predictions and targets.

    .. math::

        \\ell_i = |p_i - t_i|

    Args:
      predictions: floating array of any shape ``[...]``.
      targets: array of the same shape; ``None`` means zeros.

    Returns:
      The absolute errors, with the shape of ``predictions``.

    Raises:
      ValueError: if the shapes differ or ``predictions`` is not floating.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.absolute_error(jnp.array([1.0, -3.0]), jnp.array([0.0, 1.0]))
      Array([1., 4.], dtype=float32)
    """
    return jnp.abs(_errors(predictions, targets, where="absolute_error", same_shape=True))


def mean_absolute_error(
    predictions: jax.typing.ArrayLike, targets: jax.typing.ArrayLike | None = None
) -> jax.Array:
    """Mean absolute error over every element.

    .. math::

        \\ell = \\frac{1}{n} \\sum_i |p_i - t_i|

    Args:
      predictions: floating array of any shape ``[...]``.
      targets: array of the same shape; ``None`` means zeros.

    Returns:
      A scalar: the mean of :func:`absolute_error`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.mean_absolute_error(jnp.array([1.0, -3.0]), jnp.array([0.0, 1.0]))
      Array(2.5, dtype=float32)
    """
    return jnp.mean(absolute_error(predictions, targets))


def huber_loss(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike | None = None,
    *,
    delta: jax.typing.ArrayLike = 1.0,
) -> jax.Array:
    """Huber loss: quadratic for small errors, linear for large ones.

    With :math:`e_i = p_i - t_i`,

    .. math::

        \\ell_i = \\begin{cases} \\tfrac12 e_i^2 & |e_i| \\le \\delta \\\\
        \\delta\\,(|e_i| - \\tfrac12 \\delta) & |e_i| > \\delta \\end{cases}

    Its gradient is the error clipped to :math:`[-\\delta, \\delta]`.

    Args:
      predictions: floating array of any shape ``[...]``.
      targets: array broadcastable to ``predictions``; ``None`` means zeros.
      delta: the threshold :math:`\\delta > 0` between the two regimes.

    Returns:
      The losses, with the broadcast shape of the inputs.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.huber_loss(jnp.array([0.5, 3.0]))
      Array([0.125, 2.5  ], dtype=float32)

    References:
      Huber, *Robust Estimation of a Location Parameter*, Annals of Mathematical
      Statistics, 1964. https://en.wikipedia.org/wiki/Huber_loss
    """
    _checks.check_positive("delta", delta, where="huber_loss")
    abs_errors = jnp.abs(_errors(predictions, targets, where="huber_loss", same_shape=False))
    # Splitting |e| into a clipped part and a remainder gives both regimes
    # without a select, so the gradient is the clipped error everywhere.
    quadratic = jnp.minimum(abs_errors, delta)
    linear = abs_errors - quadratic
    return 0.5 * quadratic**2 + delta * linear


def log_cosh(
    predictions: jax.typing.ArrayLike, targets: jax.typing.ArrayLike | None = None
) -> jax.Array:
    """Log-cosh loss: a smooth Huber-like loss.

    .. math::

        \\ell_i = \\log\\cosh(p_i - t_i)
        = \\operatorname{logaddexp}(e_i, -e_i) - \\log 2

    It behaves like :math:`e^2/2` near zero and like :math:`|e| - \\log 2` far
    from it, and is computed without overflow for large errors.

    Args:
      predictions: floating array of any shape ``[...]``.
      targets: array broadcastable to ``predictions``; ``None`` means zeros.

    Returns:
      The losses, with the broadcast shape of the inputs.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> print(f"{losses.log_cosh(jnp.array(1000.0)):.2f}")
      999.31

    References:
      Chen et al., *Log Hyperbolic Cosine Loss Improves Variational
      Auto-Encoder*, 2019. https://openreview.net/pdf?id=rkglvsC9Ym
    """
    errors = _errors(predictions, targets, where="log_cosh", same_shape=False)
    return jnp.logaddexp(errors, -errors) - jnp.log(2.0).astype(errors.dtype)


def cosine_distance(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    *,
    epsilon: jax.typing.ArrayLike = 0.0,
    axis: int | tuple[int, ...] | None = -1,
) -> jax.Array:
    """Cosine distance: one minus the cosine of the angle between two vectors.

    .. math::

        \\ell = 1 - \\frac{\\langle p, t \\rangle}
        {\\sqrt{\\max(\\|p\\|^2, \\epsilon)}\\, \\sqrt{\\max(\\|t\\|^2, \\epsilon)}}

    Args:
      predictions: floating array of shape ``[..., dim]``.
      targets: floating array of shape ``[..., dim]``.
      epsilon: lower bound on the squared norms in the denominator.
      axis: the axis (or axes) holding the vectors.

    Returns:
      The distances, with shape ``[...]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.cosine_distance(jnp.array([1.0, 0.0]), jnp.array([1.0, 1.0]))
      Array(0.29289323, dtype=float32)
    """
    a = _check_floating("predictions", predictions, where="cosine_distance")
    b = _check_floating("targets", targets, where="cosine_distance")
    a_norm = jnp.sqrt(jnp.square(a).sum(axis=axis, keepdims=True).clip(epsilon))
    b_norm = jnp.sqrt(jnp.square(b).sum(axis=axis, keepdims=True).clip(epsilon))
    return 1.0 - ((a / a_norm) * (b / b_norm)).sum(axis=axis)


# ----------------------------------------------------------------------------
# Classification.


def smooth_labels(labels: jax.typing.ArrayLike, alpha: jax.typing.ArrayLike) -> jax.Array:
    """Label smoothing: mixes one-hot labels with the uniform distribution.

    With :math:`K` classes (the last axis),

    .. math::

        \\tilde y_k = (1 - \\alpha)\\, y_k + \\frac{\\alpha}{K}

    Args:
      labels: floating one-hot (or probability) labels of shape ``[..., K]``.
      alpha: the smoothing factor :math:`\\alpha \\in [0, 1]`.

    Returns:
      The smoothed labels, with the shape of ``labels``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.smooth_labels(jnp.array([0.0, 1.0, 0.0, 0.0]), 0.2)
      Array([0.05, 0.85, 0.05, 0.05], dtype=float32)

    References:
      Müller et al., *When Does Label Smoothing Help?*, NeurIPS 2019,
      https://arxiv.org/abs/1906.02629
    """
    _checks.check_in_interval("alpha", alpha, 0.0, 1.0, closed_high=True, where="smooth_labels")
    labels = _check_floating("labels", labels, where="smooth_labels")
    return (1.0 - alpha) * labels + alpha / labels.shape[-1]


def softmax_cross_entropy(logits: jax.typing.ArrayLike, labels: jax.typing.ArrayLike) -> jax.Array:
    """Softmax cross-entropy with one-hot or probability labels.

    .. math::

        \\ell = -\\sum_k y_k \\log \\operatorname{softmax}(z)_k

    The log-softmax is computed with the max subtracted, so logits as large as
    :math:`\\pm 10^4` give finite losses and gradients.

    Args:
      logits: floating array of shape ``[..., K]``.
      labels: probabilities (rows summing to 1), same shape as ``logits``.

    Returns:
      The losses, with shape ``[...]``.

    Raises:
      ValueError: if the shapes differ (Optax broadcasts instead).

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> logits = jnp.array([[1.0, 2.0, 3.0]])
      >>> print(f"{losses.softmax_cross_entropy(logits, jnp.array([[0.0, 0.0, 1.0]]))[0]:.4f}")
      0.4076
    """
    logits = _check_floating("logits", logits, where="softmax_cross_entropy")
    labels = jnp.asarray(labels)
    _check_same_shape(("logits", "labels"), logits, labels, where="softmax_cross_entropy")
    return -(labels * jax.nn.log_softmax(logits, axis=-1)).sum(axis=-1)


def softmax_cross_entropy_with_integer_labels(
    logits: jax.typing.ArrayLike, labels: jax.typing.ArrayLike
) -> jax.Array:
    """Softmax cross-entropy with integer class labels.

    .. math::

        \\ell = \\operatorname{logsumexp}(z) - z_y

    Only the label's logit is subtracted from the (stable) log-normalizer, so
    the result is finite for logits as large as :math:`\\pm 10^4`.

    .. note::
      Labels outside ``[0, K)`` give an undefined result (no error is raised,
      as in Optax): checking would need a device-to-host transfer.

    Args:
      logits: floating array of shape ``[..., K]``.
      labels: integer array of shape ``[...]`` with values in ``[0, K)``.

    Returns:
      The losses, with shape ``[...]``.

    Raises:
      ValueError: if ``labels`` is not integer or its shape is not
        ``logits.shape[:-1]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> logits = jnp.array([[1.0, 2.0, 3.0]])
      >>> print(f"{losses.softmax_cross_entropy_with_integer_labels(logits, jnp.array([2]))[0]:.4f}")
      0.4076
    """
    where = "softmax_cross_entropy_with_integer_labels"
    logits = _check_floating("logits", logits, where=where)
    labels = jnp.asarray(labels)
    _check_integer_labels(logits, labels, where=where)
    label_logits = jnp.take_along_axis(logits, labels[..., None], axis=-1)[..., 0]
    return jax.nn.logsumexp(logits, axis=-1) - label_logits


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
    made one-hot first and :func:`smooth_labels` is applied.

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
    _checks.check_in_interval(
        "label_smoothing", label_smoothing, 0.0, 1.0, closed_high=True, where="cross_entropy"
    )
    logits = _check_floating("logits", logits, where="cross_entropy")
    labels = jnp.asarray(labels)
    no_smoothing = isinstance(label_smoothing, (int, float)) and label_smoothing == 0.0
    if jnp.issubdtype(labels.dtype, jnp.integer):
        _check_integer_labels(logits, labels, where="cross_entropy")
        if no_smoothing:
            return softmax_cross_entropy_with_integer_labels(logits, labels)
        labels = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    elif labels.shape != logits.shape:
        raise ValueError(
            f"cross_entropy: floating labels must have the logits' shape (integer "
            f"labels drop the class axis), got logits.shape={logits.shape} and "
            f"labels.shape={labels.shape}."
        )
    if not no_smoothing:
        labels = smooth_labels(labels, label_smoothing)
    return softmax_cross_entropy(logits, labels)


def sigmoid_binary_cross_entropy(
    logits: jax.typing.ArrayLike, labels: jax.typing.ArrayLike
) -> jax.Array:
    """Elementwise binary cross-entropy on logits.

    .. math::

        \\ell_i = -y_i \\log \\sigma(z_i) - (1 - y_i) \\log \\sigma(-z_i)

    Both terms use ``log_sigmoid``, so large logits do not overflow.

    Args:
      logits: floating array of any shape ``[...]``.
      labels: targets in ``[0, 1]``, broadcastable to ``logits``.

    Returns:
      The losses, with the broadcast shape of the inputs.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.sigmoid_binary_cross_entropy(jnp.array([0.0, 1e4]), jnp.array([1.0, 1.0]))
      Array([0.6931472, 0.       ], dtype=float32)
    """
    logits = _check_floating("logits", logits, where="sigmoid_binary_cross_entropy")
    labels = jnp.astype(labels, logits.dtype)
    return -labels * jax.nn.log_sigmoid(logits) - (1.0 - labels) * jax.nn.log_sigmoid(-logits)


def hinge_loss(predictor_outputs: jax.typing.ArrayLike, targets: jax.typing.ArrayLike) -> jax.Array:
    """Binary hinge loss with targets in :math:`\\{-1, 1\\}`.

    .. math::

        \\ell_i = \\max(0, 1 - f_i\\, y_i)

    Args:
      predictor_outputs: real-valued scores of any shape ``[...]``.
      targets: labels in ``{-1, 1}``, broadcastable to the scores.

    Returns:
      The losses, with the broadcast shape of the inputs.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.hinge_loss(jnp.array([0.5, 2.0, -1.0]), jnp.array([1.0, 1.0, 1.0]))
      Array([0.5, 0. , 2. ], dtype=float32)

    References:
      Cortes & Vapnik, *Support-Vector Networks*, Machine Learning, 1995.
    """
    return jnp.maximum(0, 1 - jnp.asarray(predictor_outputs) * jnp.asarray(targets))


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
      ValueError: if ``labels`` is not integer or its shape is not
        ``scores.shape[:-1]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.multiclass_hinge_loss(jnp.array([[1.0, 1.5, 0.0]]), jnp.array([0]))
      Array([1.5], dtype=float32)

    References:
      Crammer & Singer, *On the Algorithmic Implementation of Multiclass
      Kernel-based Vector Machines*, JMLR 2001.
    """
    scores = _check_floating("scores", scores, where="multiclass_hinge_loss")
    labels = jnp.asarray(labels)
    _check_integer_labels(scores, labels, where="multiclass_hinge_loss")
    one_hot = jax.nn.one_hot(labels, scores.shape[-1], dtype=scores.dtype)
    return jnp.max(scores + 1.0 - one_hot, axis=-1) - (scores * one_hot).sum(axis=-1)


def kl_divergence(
    log_predictions: jax.typing.ArrayLike, targets: jax.typing.ArrayLike
) -> jax.Array:
    """Kullback-Leibler divergence of predictions from targets.

    .. math::

        \\ell = \\sum_k t_k \\,(\\log t_k - \\log p_k), \\qquad 0 \\log 0 = 0

    Args:
      log_predictions: log-probabilities of shape ``[..., K]``.
      targets: probabilities of shape ``[..., K]``.

    Returns:
      The divergences, with shape ``[...]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> log_p = jnp.log(jnp.array([0.5, 0.5]))
      >>> print(f"{losses.kl_divergence(log_p, jnp.array([1.0, 0.0])):.4f}")
      0.6931

    References:
      Kullback & Leibler, *On Information and Sufficiency*, Annals of
      Mathematical Statistics, 1951.
    """
    log_predictions = _check_floating("log_predictions", log_predictions, where="kl_divergence")
    targets = _check_floating("targets", targets, where="kl_divergence")
    zero = targets == 0
    # log is taken of a safe value so the gradient at t = 0 is finite, not NaN.
    log_targets = jnp.where(zero, 0, jnp.log(jnp.where(zero, 1, targets)))
    return jnp.sum(targets * (log_targets - log_predictions), axis=-1)
