"""Layer-wise scalings: each leaf (a layer's weight block) gets its own factor.

These are the building blocks of LARS, LAMB and Fromage, which scale a layer's
update by the ratio of its parameter norm to its update norm (the trust ratio).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import EmptyState, GradientTransformationExtraArgs, transformation
from optjax.tree import _math as _tree

ScaleByTrustRatioState = EmptyState


def _empty_init(params):
    del params
    return EmptyState()


def scale_by_trust_ratio(
    min_norm: jax.typing.ArrayLike = 0.0,
    trust_coefficient: jax.typing.ArrayLike = 1.0,
    eps: jax.typing.ArrayLike = 0.0,
) -> GradientTransformationExtraArgs:
    """Scales each leaf's update by its trust ratio, parameter norm over update norm.

    With norms clipped from below at ``min_norm``:

    .. math::

        u_\\ell = g_\\ell \\cdot \\begin{cases}
        1 & \\|\\theta_\\ell\\| = 0 \\text{ or } \\|g_\\ell\\| = 0 \\\\
        \\dfrac{c\\, \\|\\theta_\\ell\\|}{\\|g_\\ell\\| + \\epsilon} & \\text{otherwise,}
        \\end{cases}

    where :math:`\\ell` ranges over the leaves and norms are Frobenius norms of
    the whole leaf.

    Args:
      min_norm: lower bound for both norms (0 disables the clipping).
      trust_coefficient: :math:`c`, a multiplier for the ratio.
      eps: :math:`\\epsilon`, added to the update norm.

    Returns:
      A stateless gradient transformation that needs ``params`` in ``update``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_trust_ratio()
      >>> params = {"w": jnp.array([3.0, 4.0])}
      >>> tx.update({"w": jnp.array([0.0, 0.5])}, tx.init(params), params)[0]["w"]
      Array([0., 5.], dtype=float32)

    References:
      You, Gitman & Ginsburg, *Large Batch Training of Convolutional Networks*,
      2017, https://arxiv.org/abs/1708.03888
    """
    for name, value in (
        ("min_norm", min_norm),
        ("trust_coefficient", trust_coefficient),
        ("eps", eps),
    ):
        _checks.check_non_negative(name, value, where="scale_by_trust_ratio")

    def scale_leaf(g, p):
        param_norm = _tree.safe_norm(p, min_norm)
        update_norm = _tree.safe_norm(g, min_norm)
        ratio = trust_coefficient * param_norm / (update_norm + eps)
        # A zero norm would freeze the leaf forever (or divide by zero): keep g.
        degenerate = jnp.logical_or(param_norm == 0.0, update_norm == 0.0)
        return g * jnp.where(degenerate, jnp.array(1.0, dtype=p.dtype), ratio)

    def update_fn(updates, state, params=None, **extra_args):
        updates = _tree.map(
            scale_leaf,
            updates,
            params,
            names=("updates", "params"),
            where="scale_by_trust_ratio",
        )
        return updates, state

    return transformation(_empty_init, update_fn, name="scale_by_trust_ratio", needs_params=True)


def scale_by_param_block_norm(
    min_scale: jax.typing.ArrayLike = 1e-3,
) -> GradientTransformationExtraArgs:
    """Scales each leaf's update by the norm of that leaf's parameters.

    .. math::

        u_\\ell = g_\\ell \\cdot \\max(\\|\\theta_\\ell\\|, s_{\\min})

    Args:
      min_scale: :math:`s_{\\min}`, the smallest factor used.

    Returns:
      A stateless gradient transformation that needs ``params`` in ``update``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_param_block_norm()
      >>> params = {"w": jnp.array([3.0, 4.0]), "b": jnp.zeros(2)}
      >>> u, _ = tx.update({"w": jnp.ones(2), "b": jnp.ones(2)}, tx.init(params), params)
      >>> u["w"], u["b"]
      (Array([5., 5.], dtype=float32), Array([0.001, 0.001], dtype=float32))

    References:
      Bernstein et al., *On the distance between two neural networks and the
      stability of learning*, NeurIPS 2020, https://arxiv.org/abs/2002.03432
    """
    _checks.check_non_negative("min_scale", min_scale, where="scale_by_param_block_norm")

    def update_fn(updates, state, params=None, **extra_args):
        updates = _tree.map(
            lambda g, p: g * _tree.safe_norm(p, min_scale),
            updates,
            params,
            names=("updates", "params"),
            where="scale_by_param_block_norm",
        )
        return updates, state

    return transformation(
        _empty_init, update_fn, name="scale_by_param_block_norm", needs_params=True
    )


def scale_by_param_block_rms(
    min_scale: jax.typing.ArrayLike = 1e-3,
) -> GradientTransformationExtraArgs:
    """Scales each leaf's update by the root mean square of that leaf's parameters.

    .. math::

        u_\\ell = g_\\ell \\cdot \\max\\left(\\sqrt{\\mathrm{mean}(\\theta_\\ell^2)},
        s_{\\min}\\right)

    Args:
      min_scale: :math:`s_{\\min}`, the smallest factor used.

    Returns:
      A stateless gradient transformation that needs ``params`` in ``update``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_param_block_rms()
      >>> params = {"w": jnp.array([3.0, -3.0])}
      >>> tx.update({"w": jnp.ones(2)}, tx.init(params), params)[0]["w"]
      Array([3., 3.], dtype=float32)

    References:
      Shazeer & Stern, *Adafactor: Adaptive Learning Rates with Sublinear Memory
      Cost* (relative step sizes), ICML 2018, https://arxiv.org/abs/1804.04235
    """
    _checks.check_non_negative("min_scale", min_scale, where="scale_by_param_block_rms")

    def update_fn(updates, state, params=None, **extra_args):
        updates = _tree.map(
            lambda g, p: g * _tree.safe_rms(p, min_scale),
            updates,
            params,
            names=("updates", "params"),
            where="scale_by_param_block_rms",
        )
        return updates, state

    return transformation(
        _empty_init, update_fn, name="scale_by_param_block_rms", needs_params=True
    )
