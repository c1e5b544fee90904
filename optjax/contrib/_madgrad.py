"""MADGRAD: momentumized, adaptive, dual-averaged gradient descent.

Dual averaging keeps weighted sums of the gradients and of their squares from
the start of training and steps from the initial point :math:`x_0`, with a
cube-root (instead of square-root) normalization and momentum applied by
averaging the iterates.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, ScalarOrSchedule, transformation
from optjax.transforms._combinators._chain import chain
from optjax.transforms._regularization import add_decayed_weights
from optjax.tree import _math as _tree


class MadgradState(NamedTuple):
    """State of :func:`scale_by_madgrad` (field names as in Optax).

    Attributes:
      count: the number of earlier steps :math:`k`.
      grad_sum_sq: :math:`v_k = \\sum_i \\lambda_i g_i^2`.
      s: :math:`s_k = \\sum_i \\lambda_i g_i`.
      x0: the initial parameters :math:`x_0`.
    """

    count: jax.Array
    grad_sum_sq: Any
    s: Any
    x0: Any


def _check_madgrad(where: str, learning_rate: Any, momentum: Any, eps: Any) -> None:
    if not callable(learning_rate):
        _checks.check_non_negative("learning_rate", learning_rate, where=where)
    _checks.check_decay("momentum", momentum, where=where)
    _checks.check_non_negative("eps", eps, where=where)


def scale_by_madgrad(
    learning_rate: ScalarOrSchedule,
    momentum: float = 0.9,
    eps: float = 1e-6,
) -> GradientTransformationExtraArgs:
    r"""Replaces updates by the MADGRAD step (the learning rate is built in).

    With :math:`k` the number of earlier steps and
    :math:`\lambda_k = (\eta_k + \epsilon)\sqrt{k+1}`:

    .. math::

        s_{k+1} = s_k + \lambda_k g_k, \qquad
        v_{k+1} = v_k + \lambda_k g_k^2, \qquad
        z_{k+1} = x_0 - \frac{s_{k+1}}{v_{k+1}^{1/3} + \epsilon}, \\
        x_{k+1} = (1 - \beta) z_{k+1} + \beta x_k, \qquad u_k = x_{k+1} - x_k ,

    with :math:`\beta` = ``momentum``. The updates already descend (they are
    not negated afterwards), which is why the learning rate is an argument here.

    .. warning::
      :math:`\epsilon` is added to the learning rate inside :math:`\lambda_k`
      as well as to the denominator, as in the authors' PyTorch code and Optax.

    Args:
      learning_rate: :math:`\eta_k \ge 0`, a number or a schedule of the step count.
      momentum: :math:`\beta`, the iterate-averaging weight, in [0, 1).
      eps: :math:`\epsilon \ge 0`, for numerical stability.

    Returns:
      A gradient transformation with a :class:`MadgradState`; its ``update``
      needs ``params``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.contrib.scale_by_madgrad(learning_rate=0.1, momentum=0.0)
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> u, state = tx.update({"w": jnp.array([8.0, -1.0])}, tx.init(params), params)
      >>> print([f"{v:.3f}" for v in u["w"]])
      ['-0.431', '0.215']

    References:
      Defazio & Jelassi, *Adaptivity without Compromise: A Momentumized,
      Adaptive, Dual Averaged Gradient Method for Stochastic Optimization*,
      JMLR 2022, https://arxiv.org/abs/2101.11075
    """
    _check_madgrad("scale_by_madgrad", learning_rate, momentum, eps)

    def init_fn(params):
        return MadgradState(
            count=jnp.zeros([], jnp.int32),
            grad_sum_sq=_tree.zeros_like(params),
            s=_tree.zeros_like(params),
            x0=params,
        )

    def update_fn(updates, state, params=None, **extra_args):
        eta = learning_rate(state.count) if callable(learning_rate) else learning_rate
        weight = (eta + eps) * jnp.sqrt(state.count + 1)
        # Each increment is cast to the gradient's dtype, so low-precision
        # sums are not promoted by the float32 weight.
        grad_sum_sq = _tree.map(
            lambda v, g: v + (weight * g**2).astype(g.dtype),
            state.grad_sum_sq,
            updates,
            where="scale_by_madgrad",
        )
        s = jax.tree.map(lambda s_, g: s_ + (weight * g).astype(g.dtype), state.s, updates)
        z = jax.tree.map(lambda x0, s_, v: x0 - s_ / (jnp.cbrt(v) + eps), state.x0, s, grad_sum_sq)
        new_params = jax.tree.map(lambda z_, x: (1 - momentum) * z_ + momentum * x, z, params)
        new_state = MadgradState(
            count=_tree.safe_increment(state.count),
            grad_sum_sq=grad_sum_sq,
            s=s,
            x0=state.x0,
        )
        return _tree.sub(new_params, params), new_state

    return transformation(init_fn, update_fn, name="scale_by_madgrad", needs_params=True)


def madgrad(
    learning_rate: ScalarOrSchedule,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    eps: float = 1e-6,
) -> GradientTransformationExtraArgs:
    r"""The MADGRAD optimizer: dual averaging with cube-root adaptivity and momentum.

    .. math::

        \tilde g_k = g_k + \omega x_k, \qquad
        z_{k+1} = x_0 - \frac{\sum_{i \le k} \lambda_i \tilde g_i}
        {\big(\sum_{i \le k} \lambda_i \tilde g_i^2\big)^{1/3} + \epsilon}, \qquad
        x_{k+1} = (1 - \beta) z_{k+1} + \beta x_k ,

    with :math:`\lambda_i = (\eta_i + \epsilon)\sqrt{i+1}` and :math:`\omega`
    = ``weight_decay``; see :func:`scale_by_madgrad`. It is
    ``chain(add_decayed_weights(weight_decay), scale_by_madgrad(...))``.

    Args:
      learning_rate: :math:`\eta_k \ge 0`, a number or a schedule of the step count.
      momentum: :math:`\beta`, the iterate-averaging weight, in [0, 1).
      weight_decay: :math:`\omega \ge 0`, an L2 penalty added to the gradients.
      eps: :math:`\epsilon \ge 0`, for numerical stability.

    Returns:
      A gradient transformation whose ``update`` needs ``params``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum(x**2)
      >>> solver = optjax.contrib.madgrad(learning_rate=0.1)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = solver.init(params)
      >>> for _ in range(10):
      ...     updates, state = solver.update(jax.grad(f)(params), state, params)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(f"{f(params):.4f}")
      3.9111

    References:
      Defazio & Jelassi, *Adaptivity without Compromise: A Momentumized,
      Adaptive, Dual Averaged Gradient Method for Stochastic Optimization*,
      JMLR 2022, https://arxiv.org/abs/2101.11075
    """
    return chain(
        add_decayed_weights(weight_decay),
        scale_by_madgrad(learning_rate=learning_rate, momentum=momentum, eps=eps),
    )
