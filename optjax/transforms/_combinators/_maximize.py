"""Gradient ascent: PyTorch's ``maximize=True`` as a wrapper."""

from __future__ import annotations

from typing import Any

import jax

from optjax._base import GradientTransformationExtraArgs, with_extra_args_support


def maximize(inner: Any) -> GradientTransformationExtraArgs:
    """Turns a minimizer into a maximizer by negating the gradients it receives.

    .. math::

        (u_t, s_{t+1}) = T(-g_t, s_t, \\theta_t)

    Applying the updates then ascends the objective whose gradient is
    :math:`g`, exactly as PyTorch's ``maximize=True`` does: the gradient is
    negated before anything else, so weight decay inside ``inner`` still pulls
    the parameters towards zero. The state is ``inner``'s state, unchanged.

    .. warning::

        ``maximize`` must see the raw gradients: wrap the whole optimizer
        (``maximize(optjax.adamw(...))``), or put it first in a chain. Negating
        later in a chain, after a transform that mixes in the parameters (weight
        decay) or that is not odd in the gradient (``clip``, noise...), is not
        the same thing. Do not also negate the loss, or the two flips cancel.

    Args:
      inner: the transform (usually a full optimizer) to run on :math:`-g`.

    Returns:
      A gradient transformation whose state is ``inner``'s state.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> tx = optjax.maximize(optjax.sgd(0.1))
      >>> updates, _ = tx.update({"w": jnp.array([1.0, -2.0])}, tx.init(params), params)
      >>> updates["w"]
      Array([ 0.1, -0.2], dtype=float32)

    References:
      PyTorch, ``torch.optim.SGD(maximize=True)``:
      https://pytorch.org/docs/stable/generated/torch.optim.SGD.html
    """
    inner = with_extra_args_support(inner)

    def update_fn(updates, state, params=None, **extra_args):
        # Negation is exact in every float format, so this equals scaling by -1.
        negated = jax.tree.map(lambda g: -g, updates)
        return inner.update(negated, state, params, **extra_args)

    return GradientTransformationExtraArgs(inner.init, update_fn)
