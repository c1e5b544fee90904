"""Regression losses: squared, absolute, Huber, log-cosh and cosine losses.

They return one value per element (or per vector for the cosine losses), like
``optax.losses``; only the ``mean_*`` names reduce.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax.losses import _utils


def _errors(predictions, targets, *, where: str, same_shape: bool) -> jax.Array:
    predictions = _utils.check_floating("predictions", predictions, where=where)
    if targets is None:
        return predictions
    targets = jnp.asarray(targets)
    if same_shape:
        _utils.check_same_shape(("predictions", "targets"), predictions, targets, where=where)
    else:
        predictions, targets = _utils.broadcast_pair(
            ("predictions", "targets"), predictions, targets, where=where
        )
    return predictions - targets


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
      ValueError: if the shapes differ.
      TypeError: if ``predictions`` is not floating.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.squared_error(jnp.array([1.0, 3.0]), jnp.array([0.0, 1.0]))
      Array([1., 4.], dtype=float32)
    """
    return _errors(predictions, targets, where="squared_error", same_shape=True) ** 2


def l2_loss(
    predictions: jax.typing.ArrayLike, targets: jax.typing.ArrayLike | None = None
) -> jax.Array:
    """Half the elementwise squared error.

    .. math::

        \\ell_i = \\tfrac12 (p_i - t_i)^2

    The factor one half makes the gradient the plain error :math:`p_i - t_i`.

    Args:
      predictions: floating array of any shape ``[...]``.
      targets: array of the same shape; ``None`` means zeros.

    Returns:
      The losses, with the shape of ``predictions``.

    Raises:
      ValueError: if the shapes differ.
      TypeError: if ``predictions`` is not floating.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.l2_loss(jnp.array([1.0, 3.0]), jnp.array([0.0, 1.0]))
      Array([0.5, 2. ], dtype=float32)

    References:
      Bishop, *Pattern Recognition and Machine Learning*, Springer, 2006,
      section 1.1.
    """
    return 0.5 * _errors(predictions, targets, where="l2_loss", same_shape=True) ** 2


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
      ValueError: if the shapes differ.
      TypeError: if ``predictions`` is not floating.

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


def _cosine(predictions, targets, epsilon, axis, where, *, name: str) -> jax.Array:
    a = _utils.check_floating("predictions", predictions, where=name)
    b = _utils.check_floating("targets", targets, where=name)
    a, b = _utils.broadcast_pair(("predictions", "targets"), a, b, where=name)
    _utils.canonical_axes(axis, a.ndim, where=name)
    mask = None
    if where is not None:
        mask = _utils.broadcast_to_shape("where", where, a.shape, "predictions", where=name)
    a_norm = jnp.sqrt(jnp.square(a).sum(axis=axis, where=mask, keepdims=True).clip(epsilon))
    b_norm = jnp.sqrt(jnp.square(b).sum(axis=axis, where=mask, keepdims=True).clip(epsilon))
    return ((a / a_norm) * (b / b_norm)).sum(axis=axis, where=mask)


def cosine_similarity(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    *,
    epsilon: jax.typing.ArrayLike = 0.0,
    axis: int | tuple[int, ...] | None = -1,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    """Cosine of the angle between prediction and target vectors.

    .. math::

        s = \\frac{\\langle p, t \\rangle}
        {\\sqrt{\\max(\\|p\\|^2, \\epsilon)}\\, \\sqrt{\\max(\\|t\\|^2, \\epsilon)}}

    Args:
      predictions: floating array of shape ``[..., dim]``.
      targets: floating array broadcastable with ``predictions``.
      epsilon: lower bound on the squared norms in the denominator; with the
        default 0 a zero vector gives NaN, as in Optax.
      axis: the axis (or axes) holding the vectors; ``None`` means all.
      where: optional boolean mask of the inputs' shape (or broadcastable to
        it); only the ``True`` entries count in the norms and the inner product.

    Returns:
      The similarities, with the inputs' shape without ``axis``.

    Raises:
      TypeError: if an input is not floating.
      ValueError: if the shapes do not broadcast or ``axis`` is out of range.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> print(losses.cosine_similarity(jnp.array([1.0, 0.0]), jnp.array([1.0, 1.0])))
      0.70710677

    References:
      https://en.wikipedia.org/wiki/Cosine_similarity
    """
    return _cosine(predictions, targets, epsilon, axis, where, name="cosine_similarity")


def cosine_distance(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    *,
    epsilon: jax.typing.ArrayLike = 0.0,
    axis: int | tuple[int, ...] | None = -1,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    """Cosine distance: one minus :func:`cosine_similarity`.

    .. math::

        \\ell = 1 - \\frac{\\langle p, t \\rangle}
        {\\sqrt{\\max(\\|p\\|^2, \\epsilon)}\\, \\sqrt{\\max(\\|t\\|^2, \\epsilon)}}

    Args:
      predictions: floating array of shape ``[..., dim]``.
      targets: floating array broadcastable with ``predictions``.
      epsilon: lower bound on the squared norms in the denominator.
      axis: the axis (or axes) holding the vectors; ``None`` means all.
      where: optional boolean mask; only the ``True`` entries count.

    Returns:
      The distances, with the inputs' shape without ``axis``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> losses.cosine_distance(jnp.array([1.0, 0.0]), jnp.array([1.0, 1.0]))
      Array(0.29289323, dtype=float32)

    References:
      https://en.wikipedia.org/wiki/Cosine_similarity#Cosine_distance
    """
    return 1.0 - _cosine(predictions, targets, epsilon, axis, where, name="cosine_distance")
