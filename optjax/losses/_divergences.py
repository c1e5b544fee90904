"""Kullback-Leibler divergences between distributions given in log space."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp

from optjax.losses import _utils

Axis = _utils.Axis


def _prepare(first, second, names: tuple[str, str], axis, where, *, name: str):
    first = _utils.check_floating(names[0], first, where=name)
    second = _utils.check_floating(names[1], second, where=name)
    first, second = _utils.broadcast_pair(names, first, second, where=name)
    _utils.canonical_axes(axis, first.ndim, where=name)
    if where is not None:
        where = _utils.broadcast_to_shape("where", where, first.shape, names[0], where=name)
    return first, second, where


def kl_divergence(
    log_predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    axis: Axis = -1,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    """Kullback-Leibler divergence of predictions from targets.

    .. math::

        \\ell = \\sum_k t_k \\,(\\log t_k - \\log p_k), \\qquad 0 \\log 0 = 0

    .. warning::
      The values are Optax's, but the gradient with respect to ``targets`` is
      finite where a target is 0 (Optax's is NaN there): the logarithm is
      taken of a safe value.

    Args:
      log_predictions: log-probabilities of shape ``[..., K]``.
      targets: probabilities broadcastable with ``log_predictions``.
      axis: the axis (or axes) holding the distributions; ``None`` means all.
      where: optional boolean mask broadcastable to the inputs; only the
        ``True`` entries are summed.

    Returns:
      The divergences, with the inputs' shape without ``axis``.

    Raises:
      TypeError: if an input is not floating.
      ValueError: if the shapes do not broadcast or ``axis`` is out of range.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> log_p = jnp.log(jnp.array([0.5, 0.5]))
      >>> print(f"{losses.kl_divergence(log_p, jnp.array([1.0, 0.0])):.4f}")
      0.6931

    References:
      Kullback & Leibler, *On Information and Sufficiency*, Annals of
      Mathematical Statistics, 1951. https://www.jstor.org/stable/2236703
    """
    names = ("log_predictions", "targets")
    log_p, targets, where = _prepare(
        log_predictions, targets, names, axis, where, name="kl_divergence"
    )
    zero = targets == 0
    log_targets = jnp.where(zero, 0, jnp.log(jnp.where(zero, 1, targets)))
    return jnp.sum(targets * (log_targets - log_p), axis=axis, where=where)


def kl_divergence_with_log_targets(
    log_predictions: jax.typing.ArrayLike,
    log_targets: jax.typing.ArrayLike,
    axis: Axis = -1,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    """Kullback-Leibler divergence with both distributions in log space.

    .. math::

        \\ell = \\sum_k e^{\\log t_k} \\,(\\log t_k - \\log p_k)

    Args:
      log_predictions: log-probabilities of shape ``[..., K]``.
      log_targets: log-probabilities broadcastable with ``log_predictions``.
      axis: the axis (or axes) holding the distributions; ``None`` means all.
      where: optional boolean mask broadcastable to the inputs.

    Returns:
      The divergences, with the inputs' shape without ``axis``.

    Raises:
      TypeError: if an input is not floating.
      ValueError: if the shapes do not broadcast or ``axis`` is out of range.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> log_p, log_t = jnp.log(jnp.array([0.5, 0.5])), jnp.log(jnp.array([0.9, 0.1]))
      >>> print(f"{losses.kl_divergence_with_log_targets(log_p, log_t):.4f}")
      0.3681

    References:
      Kullback & Leibler, *On Information and Sufficiency*, Annals of
      Mathematical Statistics, 1951. https://www.jstor.org/stable/2236703
    """
    names = ("log_predictions", "log_targets")
    log_p, log_t, where = _prepare(
        log_predictions, log_targets, names, axis, where, name="kl_divergence_with_log_targets"
    )
    return jnp.sum(jnp.exp(log_t) * (log_t - log_p), axis=axis, where=where)


def generalized_kl_divergence(
    log_predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    axis: Axis = -1,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    """Generalized Kullback-Leibler divergence, for unnormalized distributions.

    .. math::

        \\ell = \\sum_k t_k \\,(\\log t_k - \\log p_k) + p_k - t_k

    It is the Bregman divergence of :math:`x \\log x - x` and equals
    :func:`kl_divergence` when both distributions sum to 1.

    Args:
      log_predictions: log of non-negative values, shape ``[..., K]``.
      targets: non-negative values broadcastable with ``log_predictions``.
      axis: the axis (or axes) to sum over; ``None`` means all.
      where: optional boolean mask broadcastable to the inputs.

    Returns:
      The divergences, with the inputs' shape without ``axis``.

    Raises:
      TypeError: if an input is not floating.
      ValueError: if the shapes do not broadcast or ``axis`` is out of range.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> log_p = jnp.log(jnp.array([1.0, 2.0]))
      >>> print(f"{losses.generalized_kl_divergence(log_p, jnp.array([2.0, 2.0])):.4f}")
      0.3863

    References:
      Boyd & Vandenberghe, *Convex Optimization*, 2004, p. 90.
      https://stanford.edu/~boyd/cvxbook/bv_cvxbook.pdf

      Bregman, *The relaxation method of finding the common point of convex
      sets*, 1967. https://doi.org/10.1016/0041-5553(67)90040-7
    """
    name = "generalized_kl_divergence"
    names = ("log_predictions", "targets")
    log_p, targets, mask = _prepare(log_predictions, targets, names, axis, where, name=name)
    divergence = kl_divergence(log_p, targets, axis=axis, where=mask)
    return divergence + jnp.sum(jnp.exp(log_p) - targets, axis=axis, where=mask)


def convex_kl_divergence(
    log_predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    axis: Axis = -1,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    """Deprecated name of :func:`generalized_kl_divergence`.

    .. math::

        \\ell = \\sum_k t_k \\,(\\log t_k - \\log p_k) + p_k - t_k

    Emits a ``DeprecationWarning`` on every call, as Optax does, then returns
    :func:`generalized_kl_divergence`.

    Args:
      log_predictions: log of non-negative values, shape ``[..., K]``.
      targets: non-negative values broadcastable with ``log_predictions``.
      axis: the axis (or axes) to sum over; ``None`` means all.
      where: optional boolean mask broadcastable to the inputs.

    Returns:
      The divergences, with the inputs' shape without ``axis``.

    Examples:
      >>> import warnings
      >>> import jax.numpy as jnp
      >>> from optjax import losses
      >>> log_p = jnp.log(jnp.array([1.0, 2.0]))
      >>> with warnings.catch_warnings():
      ...     warnings.simplefilter("ignore", DeprecationWarning)
      ...     print(f"{losses.convex_kl_divergence(log_p, jnp.array([2.0, 2.0])):.4f}")
      0.3863
    """
    warnings.warn(
        "convex_kl_divergence is deprecated: use generalized_kl_divergence instead.",
        DeprecationWarning,
        stacklevel=2,
    )
    return generalized_kl_divergence(log_predictions, targets, axis=axis, where=where)
