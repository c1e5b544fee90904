"""Euclidean projections onto convex sets, on pytrees (``optax.projections``).

Each function returns the closest point of a set to a tree, in the l2 norm
over all the leaves together. Use them for projected gradient descent:

Examples:
  >>> import jax.numpy as jnp
  >>> from optjax import projections
  >>> params = {"w": jnp.array([0.4, 0.9, -0.3])}
  >>> print(jnp.round(projections.projection_simplex(params)["w"], 2))
  [0.25 0.75 0.  ]
"""

from optjax.projections._affine import projection_halfspace as projection_halfspace
from optjax.projections._affine import projection_hyperplane as projection_hyperplane
from optjax.projections._affine import projection_vector as projection_vector
from optjax.projections._box import projection_box as projection_box
from optjax.projections._box import projection_hypercube as projection_hypercube
from optjax.projections._box import projection_linf_ball as projection_linf_ball
from optjax.projections._box import projection_non_negative as projection_non_negative
from optjax.projections._l2 import projection_l2_ball as projection_l2_ball
from optjax.projections._l2 import projection_l2_sphere as projection_l2_sphere
from optjax.projections._simplex import projection_l1_ball as projection_l1_ball
from optjax.projections._simplex import projection_l1_sphere as projection_l1_sphere
from optjax.projections._simplex import projection_simplex as projection_simplex

__all__ = [
    "projection_box",
    "projection_halfspace",
    "projection_hypercube",
    "projection_hyperplane",
    "projection_l1_ball",
    "projection_l1_sphere",
    "projection_l2_ball",
    "projection_l2_sphere",
    "projection_linf_ball",
    "projection_non_negative",
    "projection_simplex",
    "projection_vector",
]
