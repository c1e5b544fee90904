"""Second-order quantities of a loss (``optax.second_order``).

Examples:
  >>> import jax.numpy as jnp
  >>> from optjax import second_order
  >>> loss = lambda w, x, y: jnp.sum(w**4) + 0 * jnp.sum(x) + 0 * jnp.sum(y)
  >>> print(second_order.hessian_diag(loss, jnp.array([1.0, 2.0]), 0.0, 0.0))
  [12. 48.]
"""

from optjax.second_order._hessian import fisher_diag as fisher_diag
from optjax.second_order._hessian import hessian_diag as hessian_diag
from optjax.second_order._hessian import hvp as hvp

__all__ = ["fisher_diag", "hessian_diag", "hvp"]
