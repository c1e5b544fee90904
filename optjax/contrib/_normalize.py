"""Normalization of the whole update tree to unit global norm (SAM's ascent step)."""

from __future__ import annotations

from optjax._base import EmptyState, GradientTransformationExtraArgs, transformation
from optjax.tree import _math as _tree

# Optax's name for the (empty) state of ``normalize``.
NormalizeState = EmptyState


def normalize() -> GradientTransformationExtraArgs:
    """Divides the updates by their global L2 norm.

    .. math::

        u = \\frac{g}{\\|g\\|_2}, \\qquad \\|g\\|_2 = \\sqrt{\\textstyle\\sum_i \\|g_i\\|^2}

    over every leaf :math:`g_i` of the tree. This is the ascent direction of
    SAM: ``chain(normalize(), sgd(rho))`` moves the parameters a distance
    :math:`\\rho` uphill. There is no epsilon, as in Optax: an all-zero update
    gives NaN. :func:`~optjax.normalize_by_update_norm` is the variant with an
    epsilon and a scale factor.

    Returns:
      A stateless gradient transformation (its state is :data:`NormalizeState`,
      an :class:`~optjax.EmptyState`).

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.contrib.normalize()
      >>> g = {"a": jnp.array([3.0]), "b": jnp.array([0.0, 4.0])}
      >>> u, _ = tx.update(g, tx.init(g))
      >>> print(jnp.round(u["a"], 3), jnp.round(u["b"], 3))
      [0.6] [0.  0.8]

    References:
      Foret et al., *Sharpness-Aware Minimization for Efficiently Improving
      Generalization*, ICLR 2021, https://arxiv.org/abs/2010.01412
    """

    def init_fn(params):
        del params
        return NormalizeState()

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        norm = _tree.l2_norm(updates)
        return _tree.map(lambda g: g / norm, updates, where="normalize"), state

    return transformation(init_fn, update_fn, name="normalize")
