"""Fenchel-Young losses built from a max (convex conjugate) function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import jax
import jax.numpy as jnp


class MaxFun(Protocol):
    """A convex "max" function of a score vector, such as ``logsumexp``."""

    def __call__(self, scores: jax.Array, *args: Any, **kwargs: Any) -> jax.typing.ArrayLike: ...


def make_fenchel_young_loss(max_fun: MaxFun) -> Callable[..., jax.Array]:
    """Builds the Fenchel-Young loss of a max function.

    For a convex regularized max :math:`\\Omega^*` (``max_fun``),

    .. math::

        \\ell(\\theta, y) = \\Omega^*(\\theta) - \\langle y, \\theta \\rangle

    (the constant :math:`\\Omega(y)` is left out). ``logsumexp`` gives the
    softmax cross-entropy up to that constant; its gradient in :math:`\\theta`
    is :math:`\\nabla\\Omega^*(\\theta) - y`.

    .. warning::
      The returned loss maps over every leading axis and applies ``max_fun``
      to the last one (as Optax does); jaxopt's version flattened the whole
      input into one vector instead.

    .. warning::
      Extra arguments reach ``max_fun`` unchanged. Optax 0.2.8 routes them
      through ``jnp.vectorize``, which rejects extra positional arguments and
      silently drops keyword arguments.

    Args:
      max_fun: a function of a 1-D score vector (plus any extra arguments)
        returning a scalar.

    Returns:
      A function ``loss(scores, targets, *args, **kwargs)`` that passes the
      extra arguments to ``max_fun`` and returns one loss per leading index.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jax.scipy.special import logsumexp
      >>> from optjax import losses
      >>> fy_loss = losses.make_fenchel_young_loss(logsumexp)
      >>> scores = jnp.array([[1.0, 2.0, 3.0]])
      >>> print(jnp.round(fy_loss(scores, jnp.array([[0.0, 0.0, 1.0]])), 4))
      [0.4076]

    References:
      Blondel, Martins & Niculae, *Learning with Fenchel-Young Losses*, JMLR
      2020. https://arxiv.org/abs/1901.02324
    """
    if not callable(max_fun):
        raise TypeError(f"make_fenchel_young_loss: max_fun must be callable, got {max_fun!r}.")
    inner_last_axis = jnp.vectorize(jnp.vdot, signature="(n),(n)->()")

    def fenchel_young_loss(scores, targets, *args, **kwargs):
        # The extra arguments are hyperparameters of max_fun: bound whole, not
        # mapped over the leading axes.
        def row_max(row):
            return max_fun(row, *args, **kwargs)

        max_last_axis = jnp.vectorize(row_max, signature="(n)->()")
        return max_last_axis(scores) - inner_last_axis(targets, scores)

    return fenchel_young_loss
