"""Numerically safe scalar and tree helpers exported at the top level, as Optax does.

Safe norms (finite gradients at zero), a saturating counter increment, gradient
scaling, a diagonal Gaussian, and, re-exported under Optax's top-level names,
the tree moment helpers and the linear algebra of :mod:`optjax._linear_algebra`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import jax.scipy.stats.norm as _normal

from optjax._linear_algebra import matrix_inverse_pth_root, nnls, power_iteration
from optjax.tree._map_params import map_params as tree_map_params
from optjax.tree._math import safe_increment, safe_norm
from optjax.tree._moments import (
    bias_correction,
    update_infinity_moment,
    update_moment,
    update_moment_per_elem_norm,
)
from optjax.tree._reductions import norm as _tree_norm

__all__ = [
    "bias_correction",
    "global_norm",
    "matrix_inverse_pth_root",
    "multi_normal",
    "nnls",
    "power_iteration",
    "safe_increment",
    "safe_int32_increment",
    "safe_norm",
    "safe_root_mean_squares",
    "scale_gradient",
    "tree_map_params",
    "update_infinity_moment",
    "update_moment",
    "update_moment_per_elem_norm",
]


def _abs_sq(x: jax.typing.ArrayLike) -> jax.Array:
    x = jnp.asarray(x)
    return (x.conj() * x).real


def global_norm(updates: Any) -> jax.Array:
    r"""The Euclidean norm of all the leaves of a pytree together (deprecated).

    .. math::
        \|g\| = \Big(\sum_i \sum_j |g_{ij}|^2\Big)^{1/2}

    Args:
      updates: pytree.

    Returns:
      A scalar array.

    Examples:
      >>> import warnings
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> with warnings.catch_warnings():
      ...     warnings.simplefilter("ignore", DeprecationWarning)
      ...     print(optjax.global_norm({"a": jnp.array([3.0]), "b": jnp.array(4.0)}))
      5.0

    .. warning::
      Deprecated, as in Optax: use :func:`optjax.tree.norm`. Calling it emits a
      ``DeprecationWarning``.
    """
    warnings.warn(
        "optjax.global_norm is deprecated (as in Optax); use optjax.tree.norm.",
        DeprecationWarning,
        stacklevel=2,
    )
    return _tree_norm(updates)


def safe_root_mean_squares(x: jax.typing.ArrayLike, min_rms: jax.typing.ArrayLike) -> jax.Array:
    r"""``max(rms(x), min_rms)``, with a zero (not NaN) gradient where the RMS is small.

    .. math::
        \mathrm{rms}(x) = \Big(\frac{1}{n} \sum_j |x_j|^2\Big)^{1/2}

    Args:
      x: array (complex entries use their modulus).
      min_rms: the lower bound.

    Returns:
      A scalar array.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> print(optjax.safe_root_mean_squares(jnp.array([3.0, 4.0]), 0.0) ** 2)
      12.5
    """
    small = jnp.sqrt(jnp.mean(_abs_sq(x))) <= min_rms
    safe_x = jnp.where(small, jnp.ones_like(x), x)
    return jnp.where(small, min_rms, jnp.sqrt(jnp.mean(_abs_sq(safe_x))))


safe_int32_increment = safe_increment


@jax.custom_vjp
def _scaled_backward(inputs: Any, scale: jax.typing.ArrayLike) -> Any:
    del scale
    return inputs


def _scaled_backward_fwd(inputs, scale):
    return inputs, scale


def _scaled_backward_bwd(scale, cotangents):
    return jax.tree.map(lambda g: g * scale, cotangents), None


_scaled_backward.defvjp(_scaled_backward_fwd, _scaled_backward_bwd)


def scale_gradient(inputs: Any, scale: jax.typing.ArrayLike) -> Any:
    r"""The identity on the forward pass; multiplies the gradient by ``scale`` on the way back.

    .. math::
        f(x) = x, \qquad \frac{\partial L}{\partial x} \leftarrow s \, \frac{\partial L}{\partial f}

    ``scale == 1`` returns ``inputs`` itself and ``scale == 0`` stops the
    gradient.

    Args:
      inputs: a pytree of arrays.
      scale: the factor :math:`s` for the backward pass.

    Returns:
      ``inputs``, with the scaled backward pass.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> print(jax.grad(lambda x: optjax.scale_gradient(x, 0.5) ** 2)(3.0))
      3.0
    """
    if scale == 1.0:
        return inputs
    if scale == 0.0:
        return jax.lax.stop_gradient(inputs)
    return _scaled_backward(inputs, scale)


class MultiNormalDiagFromLogScale:
    r"""A Gaussian with diagonal covariance, parametrised by its mean and log standard deviation.

    Args:
      loc: the mean :math:`\mu`.
      log_scale: :math:`\log \sigma`, broadcastable with ``loc``.
    """

    def __init__(self, loc: jax.typing.ArrayLike, log_scale: jax.typing.ArrayLike):
        self._log_scale = jnp.asarray(log_scale)
        self._scale = jnp.exp(log_scale)
        self._mean = jnp.asarray(loc)
        try:
            self._param_shape = jax.lax.broadcast_shapes(self._mean.shape, self._scale.shape)
        except ValueError:
            raise ValueError(
                f"multi_normal: Incompatible shapes for broadcasting: loc has shape "
                f"{self._mean.shape} and log_scale has shape {self._scale.shape}."
            ) from None

    def sample(self, shape: Sequence[int], key: jax.Array) -> jax.Array:
        """Draws samples of shape ``(*shape, *param_shape)``."""
        sample_shape = tuple(shape) + self._param_shape
        # Explicit broadcasts keep this valid under jax_numpy_rank_promotion='raise'.
        scale = jnp.broadcast_to(self._scale, sample_shape)
        mean = jnp.broadcast_to(self._mean, sample_shape)
        return jax.random.normal(key, shape=sample_shape) * scale + mean

    def log_prob(self, x: jax.typing.ArrayLike) -> jax.Array:
        """The log density of ``x``, summed over the parameter axes."""
        per_element = _normal.logpdf(x, loc=self._mean, scale=self._scale)
        return jnp.sum(per_element, axis=[-(i + 1) for i in range(len(self._param_shape))])

    @property
    def log_scale(self) -> jax.Array:
        """:math:`\\log \\sigma`."""
        return self._log_scale

    @property
    def params(self) -> Sequence[jax.Array]:
        """``[loc, log_scale]``, the parameters to differentiate."""
        return [self._mean, self._log_scale]


def multi_normal(
    loc: jax.typing.ArrayLike, log_scale: jax.typing.ArrayLike
) -> MultiNormalDiagFromLogScale:
    r"""A diagonal Gaussian :math:`\mathcal{N}(\mu, \mathrm{diag}(\sigma^2))` from ``(loc, log_scale)``.

    .. math::
        \log p(x) = \sum_j \Big(-\tfrac12 \big(\tfrac{x_j - \mu_j}{\sigma_j}\big)^2
          - \log \sigma_j - \tfrac12 \log 2\pi\Big)

    Args:
      loc: the mean :math:`\mu`.
      log_scale: :math:`\log \sigma`, broadcastable with ``loc``.

    Returns:
      An object with ``sample(shape, key)``, ``log_prob(x)``, ``params`` and
      ``log_scale``.

    Raises:
      ValueError: if ``loc`` and ``log_scale`` do not broadcast.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> dist = optjax.multi_normal(jnp.zeros(2), jnp.zeros(2))
      >>> dist.sample((5,), jax.random.key(0)).shape
      (5, 2)
      >>> print(round(float(dist.log_prob(jnp.zeros(2))), 4))
      -1.8379
    """
    return MultiNormalDiagFromLogScale(loc=loc, log_scale=log_scale)
