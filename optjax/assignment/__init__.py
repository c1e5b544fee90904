"""Linear assignment (bipartite matching) solvers in JAX (``optax.assignment``).

Examples:
  >>> import jax.numpy as jnp
  >>> from optjax import assignment
  >>> cost = jnp.array([[1.0, 5.0], [4.0, 2.0]])
  >>> i, j = assignment.hungarian_algorithm(cost)
  >>> print(float(cost[i, j].sum()))
  3.0
"""

from optjax.assignment._potentials import hungarian_algorithm as hungarian_algorithm
from optjax.assignment._shortest_path import base_hungarian_algorithm as base_hungarian_algorithm

__all__ = ["base_hungarian_algorithm", "hungarian_algorithm"]
