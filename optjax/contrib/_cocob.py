"""COCOB-Backprop: learning-rate-free descent by continuous coin betting.

Each coordinate is a gambler that bets a fraction of its accumulated reward on
the sign of the negative gradient (Orabona & Tommasi, Algorithm 2).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import (
    GradientTransformationExtraArgs,
    MaskOrFn,
    ScalarOrSchedule,
    transformation,
)
from optjax.transforms._basic import scale_by_learning_rate
from optjax.transforms._combinators._chain import chain
from optjax.transforms._regularization import add_decayed_weights
from optjax.tree import _math as _tree


class COCOBState(NamedTuple):
    """State of :func:`scale_by_cocob` (field names as in Optax).

    Attributes:
      init_particles: the starting point :math:`w_1`.
      cumulative_gradients: :math:`\\theta = -\\sum_k g_k`.
      scale: :math:`L`, the largest gradient magnitude seen (at least ``eps``).
      subgradients: :math:`G = \\sum_k |g_k|`.
      reward: :math:`R`, the accumulated reward, clipped at zero.
    """

    init_particles: Any
    cumulative_gradients: Any
    scale: Any
    subgradients: Any
    reward: Any


def _check_cocob(where: str, alpha: Any, eps: Any) -> None:
    _checks.check_positive("alpha", alpha, where=where)
    _checks.check_positive("eps", eps, where=where)


def scale_by_cocob(
    alpha: jax.typing.ArrayLike = 100.0,
    eps: jax.typing.ArrayLike = 1e-8,
) -> GradientTransformationExtraArgs:
    r"""Replaces updates by the COCOB-Backprop step, coordinate by coordinate.

    With :math:`w_1` the initial parameters and, per coordinate,

    .. math::

        L_t = \max(L_{t-1}, |g_t|), \quad G_t = G_{t-1} + |g_t|, \quad
        R_t = \max(R_{t-1} - g_t (w_t - w_1), 0), \quad
        \theta_t = \theta_{t-1} - g_t, \\
        w_{t+1} = w_1 + \frac{\theta_t}{L_t \max(G_t + L_t, \alpha L_t)} (L_t + R_t),
        \qquad u_t = w_{t+1} - w_t ,

    with :math:`L_0 = \epsilon` and :math:`G_0 = R_0 = \theta_0 = 0`.

    Args:
      alpha: :math:`\alpha > 0`, bounds the fraction of the wealth bet early on.
      eps: :math:`\epsilon > 0`, the initial gradient scale (avoids 0 / 0).

    Returns:
      A gradient transformation with a :class:`COCOBState`; its ``update``
      needs ``params``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.contrib.scale_by_cocob()
      >>> params = {"w": jnp.array([1.0, -1.0])}
      >>> state = tx.init(params)
      >>> u, state = tx.update({"w": jnp.array([2.0, -0.5])}, state, params)
      >>> print(jnp.round(u["w"], 3))
      [-0.01  0.01]

    References:
      Orabona & Tommasi, *Training Deep Networks without Learning Rates Through
      Coin Betting*, NeurIPS 2017, https://arxiv.org/abs/1705.07795
    """
    _check_cocob("scale_by_cocob", alpha, eps)

    def init_fn(params):
        zeros = _tree.zeros_like(params)
        return COCOBState(
            init_particles=params,
            cumulative_gradients=zeros,
            scale=_tree.scale(eps, _tree.ones_like(params)),
            subgradients=zeros,
            reward=zeros,
        )

    def update_fn(updates, state, params=None, **extra_args):
        scale = jax.tree.map(lambda s, g: jnp.maximum(s, jnp.abs(g)), state.scale, updates)
        subgradients = jax.tree.map(lambda s, g: s + jnp.abs(g), state.subgradients, updates)
        reward = jax.tree.map(
            lambda r, g, w, w1: jnp.maximum(r - g * (w - w1), 0),
            state.reward,
            updates,
            params,
            state.init_particles,
        )
        theta = _tree.sub(state.cumulative_gradients, updates)

        def bet(w, w1, c, big_l, big_g, r):
            fraction = c / (big_l * jnp.maximum(big_g + big_l, alpha * big_l))
            return -w + (w1 + fraction * (big_l + r))

        new_updates = jax.tree.map(
            bet, params, state.init_particles, theta, scale, subgradients, reward
        )
        new_state = COCOBState(
            init_particles=state.init_particles,
            cumulative_gradients=theta,
            scale=scale,
            subgradients=subgradients,
            reward=reward,
        )
        return new_updates, new_state

    return transformation(init_fn, update_fn, name="scale_by_cocob", needs_params=True)


def cocob(
    learning_rate: ScalarOrSchedule = 1.0,
    alpha: jax.typing.ArrayLike = 100.0,
    eps: jax.typing.ArrayLike = 1e-8,
    weight_decay: jax.typing.ArrayLike = 0.0,
    mask: MaskOrFn | None = None,
) -> GradientTransformationExtraArgs:
    r"""The COCOB-Backprop optimizer: parameter-free steps by coin betting.

    .. math::

        \tilde g_t = \eta_t (g_t + \lambda w_t), \qquad
        w_{t+1} = w_1 + \frac{\theta_t}{L_t \max(G_t + L_t, \alpha L_t)} (L_t + R_t),

    where :math:`L, G, R, \theta` accumulate :math:`\tilde g` as in
    :func:`scale_by_cocob`. It is ``chain(add_decayed_weights(weight_decay,
    mask), scale_by_learning_rate(learning_rate, flip_sign=False),
    scale_by_cocob(alpha, eps))``: the learning rate rescales the gradients
    that are bet on (1 by default), it is not a step size.

    Args:
      learning_rate: :math:`\eta_t`, a gradient multiplier (1.0 by default), a
        number or a schedule of the step count.
      alpha: :math:`\alpha > 0`, bounds the fraction of the wealth bet early on.
      eps: :math:`\epsilon > 0`, the initial gradient scale.
      weight_decay: :math:`\lambda \ge 0`, an L2 penalty added to the gradients.
      mask: a boolean tree (or a function of the params returning one)
        selecting the leaves to decay.

    Returns:
      A gradient transformation whose ``update`` needs ``params``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum(x**2)
      >>> solver = optjax.contrib.cocob()
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = solver.init(params)
      >>> for _ in range(30):
      ...     updates, state = solver.update(jax.grad(f)(params), state, params)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(f"{f(params):.4f}")
      0.2201

    References:
      Orabona & Tommasi, *Training Deep Networks without Learning Rates Through
      Coin Betting*, NeurIPS 2017, https://arxiv.org/abs/1705.07795
    """
    return chain(
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate, flip_sign=False),
        scale_by_cocob(alpha, eps),
    )
