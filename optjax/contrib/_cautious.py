"""Cautious optimizers: keep only the update coordinates that agree with the gradient."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, transformation, with_extra_args_support
from optjax.tree import _math as _tree


class CautiousState(NamedTuple):
    """State of :func:`cautious`: the wrapped transform's state, untouched.

    Attributes:
      inner_state: the state of the wrapped transform.
    """

    inner_state: Any


def _cautious_leaf(u: jax.Array, g: jax.Array, descent: bool, eps: Any) -> jax.Array:
    alignment = jnp.real(u * jnp.conj(g)) if jnp.iscomplexobj(u) else u * g
    agrees = alignment < 0 if descent else alignment > 0
    wide = jnp.promote_types(jnp.real(u).dtype, jnp.float32)
    mask = agrees.astype(wide)
    fraction = jnp.maximum(jnp.mean(mask), eps) if mask.size else jnp.ones([], wide)
    scale = (1 / fraction).astype(jnp.real(u).dtype)
    return jnp.where(agrees, u * scale, jnp.zeros_like(u))


def cautious(
    inner: Any,
    *,
    descent: bool = True,
    eps: jax.typing.ArrayLike = 1e-3,
) -> GradientTransformationExtraArgs:
    """Wraps any transform so that it only moves where its update agrees with the gradient.

    With :math:`u_t` the wrapped transform's update for gradient :math:`g_t`,
    per leaf of :math:`n` entries:

    .. math::

        \\phi_t = \\mathbb{1}[u_t \\odot g_t < 0], \\qquad
        \\bar\\phi_t = \\frac{1}{n}\\sum_i \\phi_{t,i}, \\qquad
        u'_t = \\frac{\\phi_t \\odot u_t}{\\max(\\bar\\phi_t, \\epsilon)}.

    optjax updates are *descent* steps (:math:`\\theta + u` lowers the loss,
    :math:`u = -\\eta\\, d`), so an entry agrees with the gradient when
    :math:`u` and :math:`g` have opposite signs, which is the paper's
    :math:`d \\odot g > 0`. With ``descent=False`` the wrapped transform is
    taken to return a direction to *subtract* (``scale_by_adam``,
    ``scale_by_lion``, ... before the learning rate), and the test is
    :math:`u \\odot g > 0`. The rescaling keeps the average update size when
    entries are dropped. The wrapped transform's state is kept as it is: the
    mask touches only the returned updates (the paper's C-AdamW and C-Lion).

    Works around any transform: optjax or Optax optimizers, chains,
    ``sgd`` with momentum. Extra keyword arguments reach the wrapped transform.

    .. warning::
      The normalization is per leaf (per tensor, as in the official code) and
      follows the official code's current rule
      :math:`\\phi/\\max(\\bar\\phi, 10^{-3})`; the paper's first release used
      :math:`\\phi\\, n / (\\sum_i\\phi_i + 1)`, which halves the update of a
      one-entry (scalar) leaf. Weight decay *inside* the wrapped optimizer is
      masked too; the paper's C-AdamW decays unmasked, which is
      ``chain(cautious(scale_by_adam(), descent=False), add_decayed_weights(wd),
      scale_by_learning_rate(lr))``.

    Args:
      inner: the wrapped gradient transformation (optjax or Optax).
      descent: whether ``inner`` returns descent updates (a full optimizer)
        or a direction to subtract (a bare ``scale_by_*`` primitive).
      eps: :math:`\\epsilon > 0`, the floor of the kept fraction
        :math:`\\bar\\phi_t`.

    Returns:
      A gradient transformation with a :class:`CautiousState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.cautious(optjax.sgd(learning_rate=1.0, momentum=0.9))
      >>> params = {"w": jnp.zeros(2)}
      >>> state = tx.init(params)
      >>> u, state = tx.update({"w": jnp.array([1.0, 1.0])}, state, params)
      >>> u, state = tx.update({"w": jnp.array([1.0, -0.5])}, state, params)
      >>> u["w"]  # the momentum's second entry disagrees with -0.5: dropped
      Array([-3.8,  0. ], dtype=float32)

    References:
      Liang, Chen, Liu & Liu, *Cautious Optimizers: Improving Training with One
      Line of Code*, 2024, https://arxiv.org/abs/2411.16085
    """
    _checks.check_positive("eps", eps, where="cautious")
    inner = with_extra_args_support(inner)

    def init_fn(params):
        return CautiousState(inner_state=inner.init(params))

    def update_fn(updates, state, params=None, **extra_args):
        inner_updates, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
        new_updates = _tree.map(
            lambda u, g: _cautious_leaf(u, g, descent, eps),
            inner_updates,
            updates,
            names=("inner updates", "updates"),
            where="cautious",
        )
        return new_updates, CautiousState(inner_state=inner_state)

    return transformation(init_fn, update_fn, name="cautious")
