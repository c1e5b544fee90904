"""Hessian-vector products, the Hessian diagonal and the empirical Fisher diagonal.

All three take a loss with the signature ``loss(params, inputs, targets)`` and
work on flattened parameters: vectors have ``ravel_pytree(params)[0].size``
entries, in ``jax.flatten_util.ravel_pytree``'s leaf order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import flatten_util

LossFn = Callable[[Any, Any, Any], jax.Array]


def _ravel(tree: Any) -> jax.Array:
    return flatten_util.ravel_pytree(tree)[0]


def hvp(loss: LossFn, v: jax.Array, params: Any, inputs: Any, targets: Any) -> Any:
    r"""Hessian-vector product of ``loss`` with respect to ``params``.

    .. math::

        H v = \nabla^2_\theta \ell(\theta, x, y)\, v

    computed forward-over-reverse (a JVP of the gradient), without forming
    :math:`H`.

    .. note::
      Optax 0.2.8 deprecates ``optax.second_order`` (to be removed in 0.2.9)
      and warns on every call; optjax keeps these functions supported and
      does not warn.

    Args:
      loss: the loss, called as ``loss(params, inputs, targets)``.
      v: a vector with as many entries as ``params`` has in total (in
        ``ravel_pytree`` order).
      params: the parameters, a tree of floating-point arrays.
      inputs: the inputs at which ``loss`` is evaluated.
      targets: the targets at which ``loss`` is evaluated.

    Returns:
      :math:`Hv` as a tree with the structure of ``params``.

    Raises:
      ValueError: if ``v`` is not a vector of the right size.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import second_order
      >>> loss = lambda w, x, y: jnp.sum((x @ w - y) ** 2)
      >>> x, y = jnp.array([[1.0, 2.0], [3.0, 4.0]]), jnp.array([1.0, 0.0])
      >>> print(second_order.hvp(loss, jnp.array([1.0, 0.0]), jnp.zeros(2), x, y))
      [20. 28.]
    """
    _, unravel = flatten_util.ravel_pytree(params)
    size = int(sum(np.size(leaf) for leaf in jax.tree.leaves(params)))
    if np.shape(v) != (size,):
        raise ValueError(
            f"hvp: v must be a vector with one entry per parameter, shape ({size},), "
            f"got shape {np.shape(v)}."
        )
    gradient = jax.grad(lambda p: loss(p, inputs, targets))
    return jax.jvp(gradient, (params,), (unravel(v),))[1]


def hessian_diag(loss: LossFn, params: Any, inputs: Any, targets: Any) -> jax.Array:
    r"""The diagonal of the Hessian of ``loss`` with respect to ``params``.

    .. math::

        d_i = \left(\nabla^2_\theta \ell(\theta, x, y)\right)_{ii}
            = e_i^\top H e_i

    One Hessian-vector product per basis vector :math:`e_i`, batched with
    ``vmap``: exact, and meant for small parameter counts (it costs :math:`d`
    HVPs and :math:`O(d^2)` memory).

    .. note::
      Optax 0.2.8 deprecates ``optax.second_order`` and warns on every call;
      optjax keeps these functions supported and does not warn.

    Args:
      loss: the loss, called as ``loss(params, inputs, targets)``.
      params: the parameters, a tree of floating-point arrays.
      inputs: the inputs at which ``loss`` is evaluated.
      targets: the targets at which ``loss`` is evaluated.

    Returns:
      A flat vector with one entry per parameter (``ravel_pytree`` order).

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import second_order
      >>> loss = lambda w, x, y: jnp.sum((x @ w - y) ** 2)
      >>> x, y = jnp.array([[1.0, 2.0], [3.0, 4.0]]), jnp.array([1.0, 0.0])
      >>> print(second_order.hessian_diag(loss, jnp.zeros(2), x, y))
      [20. 40.]
    """
    size = _ravel(params).size

    def diagonal_entry(basis_vector: jax.Array) -> jax.Array:
        product = _ravel(hvp(loss, basis_vector, params, inputs, targets))
        return jnp.vdot(basis_vector, product)

    return jax.vmap(diagonal_entry)(jnp.eye(size))


def fisher_diag(
    negative_log_likelihood: LossFn, params: Any, inputs: Any, targets: Any
) -> jax.Array:
    r"""The diagonal of the observed (empirical) Fisher information.

    .. math::

        F_{ii} = \left(\frac{\partial}{\partial \theta_i}
        \left(-\log p(y \mid x, \theta)\right)\right)^2

    the squared gradient of the negative log-likelihood at the given batch
    (sum or average the likelihood over the batch inside the function).

    .. note::
      Optax 0.2.8 deprecates ``optax.second_order`` and warns on every call;
      optjax keeps these functions supported and does not warn.

    Args:
      negative_log_likelihood: called as ``nll(params, inputs, targets)``.
      params: the parameters, a tree of floating-point arrays.
      inputs: the inputs at which it is evaluated.
      targets: the targets at which it is evaluated.

    Returns:
      A flat vector with one entry per parameter (``ravel_pytree`` order).

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import second_order
      >>> nll = lambda w, x, y: 0.5 * jnp.sum((x @ w - y) ** 2)
      >>> x, y = jnp.array([[1.0, 2.0]]), jnp.array([1.0])
      >>> print(second_order.fisher_diag(nll, jnp.zeros(2), x, y))
      [1. 4.]

    References:
      Kunstner et al., `Limitations of the Empirical Fisher Approximation for
      Natural Gradient Descent <https://arxiv.org/abs/1905.12558>`_, 2019
    """
    gradient = jax.grad(negative_log_likelihood)(params, inputs, targets)
    return jnp.square(_ravel(gradient))
