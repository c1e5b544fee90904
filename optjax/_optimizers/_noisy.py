"""Noisy SGD: stochastic gradient descent with annealed Gaussian gradient noise."""

from __future__ import annotations

import jax

from optjax._base import GradientTransformationExtraArgs, ScalarOrSchedule
from optjax.transforms._basic import scale_by_learning_rate
from optjax.transforms._combinators._chain import chain
from optjax.transforms._noise import add_noise, resolve_key


def noisy_sgd(
    learning_rate: ScalarOrSchedule,
    eta: jax.typing.ArrayLike = 0.01,
    gamma: jax.typing.ArrayLike = 0.55,
    key: jax.Array | int | None = None,
    *,
    seed: int | None = None,
) -> GradientTransformationExtraArgs:
    """SGD on gradients perturbed by Gaussian noise of decaying variance.

    At step :math:`t = 1, 2, \\dots`

    .. math::

        u_t = -\\alpha_t \\left(g_t + \\sigma_t \\xi_t\\right), \\qquad
        \\sigma_t^2 = \\frac{\\eta}{t^{\\gamma}}, \\qquad
        \\xi_t \\sim \\mathcal{N}(0, I)

    This is ``chain(add_noise(eta, gamma, key), scale_by_learning_rate(lr))``;
    from the same key its noise matches Optax's exactly.

    Args:
      learning_rate: :math:`\\alpha_t`, a number or a schedule of the step.
      eta: the initial noise variance :math:`\\eta \\ge 0`.
      gamma: the annealing exponent :math:`\\gamma`.
      key: a typed key (``jax.random.key``), a legacy ``jax.random.PRNGKey``
        or an integer seed.
      seed: deprecated integer spelling of ``key`` (Optax compatibility).

    Returns:
      A gradient transformation (a chain of two; see :func:`add_noise`).

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.noisy_sgd(learning_rate=0.1, eta=0.0, key=jax.random.key(0))
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> updates, _ = tx.update({"w": jnp.array([1.0, -1.0])}, tx.init(params), params)
      >>> optjax.apply_updates(params, updates)["w"]
      Array([0.9, 2.1], dtype=float32)

    References:
      Neelakantan et al., *Adding Gradient Noise Improves Learning for Very
      Deep Networks*, 2015, https://arxiv.org/abs/1511.06807
    """
    key = resolve_key(key, seed, where="noisy_sgd")
    return chain(add_noise(eta, gamma, key), scale_by_learning_rate(learning_rate))
