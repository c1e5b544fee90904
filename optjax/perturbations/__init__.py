"""Differentiable surrogates of functions by stochastic smoothing (``optax.perturbations``).

Examples:
  >>> import jax
  >>> import jax.numpy as jnp
  >>> from optjax import perturbations
  >>> hard_max = lambda x: jax.nn.one_hot(jnp.argmax(x), x.shape[0])
  >>> soft = perturbations.make_perturbed_fun(hard_max, num_samples=2000, sigma=1.0)
  >>> p = soft(jax.random.key(0), jnp.array([0.0, 1.0]))
  >>> print(round(float(p.sum()), 3))
  1.0
"""

from optjax.perturbations._make_pert import Gumbel as Gumbel
from optjax.perturbations._make_pert import Normal as Normal
from optjax.perturbations._make_pert import make_perturbed_fun as make_perturbed_fun

__all__ = ["Gumbel", "Normal", "make_perturbed_fun"]
