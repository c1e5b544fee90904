"""Normalizations of the updates: gradient centralization and unit global norm."""

from __future__ import annotations

import jax

from optjax import _checks
from optjax._base import EmptyState, GradientTransformationExtraArgs, transformation
from optjax.tree import _math as _tree


def _empty_init(params):
    del params
    return EmptyState()


def _centralize_leaf(g: jax.Array) -> jax.Array:
    if g.ndim <= 1:
        return g
    return g - g.mean(tuple(range(1, g.ndim)), keepdims=True)


def centralize() -> GradientTransformationExtraArgs:
    """Gradient centralization: removes the mean over all but the leading axis.

    For a leaf of rank two or more,

    .. math::

        u_{i,\\ldots} = g_{i,\\ldots} - \\operatorname{mean}_{\\ldots}(g_{i,\\ldots})

    that is, every slice along the first axis gets zero mean. Scalars and
    vectors pass through unchanged.

    Returns:
      A stateless gradient transformation.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.centralize()
      >>> tx.update({"w": jnp.array([[1.0, 2.0, 3.0], [4.0, 6.0, 8.0]])}, tx.init(None))[0]["w"]
      Array([[-1.,  0.,  1.],
             [-2.,  0.,  2.]], dtype=float32)

    References:
      Yong et al., *Gradient Centralization: A New Optimization Technique for
      Deep Neural Networks*, ECCV 2020, https://arxiv.org/abs/2004.01461
    """

    def update_fn(updates, state, params=None, **extra_args):
        return jax.tree.map(_centralize_leaf, updates), state

    return transformation(_empty_init, update_fn, name="centralize")


def normalize_by_update_norm(
    scale_factor: jax.typing.ArrayLike = 1.0,
    eps: jax.typing.ArrayLike = 1e-6,
) -> GradientTransformationExtraArgs:
    """Divides the updates by their global norm (plus ``eps``), times a factor.

    .. math::

        u = \\frac{s}{\\|g\\|_2 + \\epsilon}\\, g

    computed as :math:`g / ((\\|g\\|_2 + \\epsilon) / s)`, where
    :math:`\\|g\\|_2` is the Euclidean norm of all leaves together. Use a
    negative ``scale_factor`` (minus the step length) to descend.

    Args:
      scale_factor: the factor :math:`s`, the global norm of the result (up to
        ``eps``).
      eps: :math:`\\epsilon \\ge 0`, which keeps the division finite at a zero
        gradient.

    Returns:
      A stateless gradient transformation.

    Raises:
      ValueError: if ``eps`` is a negative number.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.normalize_by_update_norm(scale_factor=-1.0, eps=0.0)
      >>> tx.update({"w": jnp.array([3.0, 4.0])}, tx.init(None))[0]["w"]
      Array([-0.6, -0.8], dtype=float32)
    """
    _checks.check_non_negative("eps", eps, where="normalize_by_update_norm")

    def update_fn(updates, state, params=None, **extra_args):
        denominator = (_tree.l2_norm(updates) + eps) / scale_factor
        return jax.tree.map(lambda g: g / denominator, updates), state

    return transformation(_empty_init, update_fn, name="normalize_by_update_norm")
