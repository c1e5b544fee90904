"""ACProp: AdaBelief's centred second moment, applied one step late.

The numerator of step :math:`t` is the raw gradient, the denominator is built
only from gradients up to step :math:`t-1`, so the two are independent
("asynchronous"). The state is AdaBelief's (``ScaleByBeliefState``), as in Optax.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import (
    GradientTransformationExtraArgs,
    MaskOrFn,
    ScalarOrSchedule,
    transformation,
)
from optjax.transforms._adam_family import ScaleByBeliefState
from optjax.transforms._basic import scale_by_learning_rate
from optjax.transforms._combinators._chain import chain
from optjax.transforms._regularization import add_decayed_weights
from optjax.tree import _math as _tree


def _check_acprop(where: str, b1: Any, b2: Any, eps: Any, eps_root: Any) -> None:
    _checks.check_decay("b1", b1, where=where)
    _checks.check_decay("b2", b2, where=where)
    _checks.check_non_negative("eps", eps, where=where)
    _checks.check_non_negative("eps_root", eps_root, where=where)


def scale_by_acprop(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-16,
    eps_root: jax.typing.ArrayLike = 1e-16,
) -> GradientTransformationExtraArgs:
    r"""Rescales updates by ACProp: the gradient over the previous belief variance.

    With :math:`t` the number of earlier steps (``state.count``):

    .. math::

        u_t = \frac{g_t}{\sqrt{\hat s_{t-1}} + \epsilon}, \qquad
        \hat s_{t-1} = \frac{s_{t-1}}{1 - \beta_2^{t}}
        \quad (\hat s = 1 \text{ on the first step}), \\
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        s_t = \beta_2 s_{t-1} + (1-\beta_2) (g_t - m_{t-1})^2 + \bar\epsilon .

    The first step divides by one (there is no earlier variance yet), so its
    update is the gradient itself.

    Args:
      b1: :math:`\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\beta_2`, decay of the prediction-error variance, in [0, 1).
      eps: :math:`\epsilon`, added to the square root in the denominator (>= 0).
      eps_root: :math:`\bar\epsilon`, added to the variance at every step (>= 0;
        keep it positive to differentiate through the update).

    Returns:
      A gradient transformation with a :class:`~optjax.ScaleByBeliefState`
      (``count``, ``mu``, ``nu``).

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.contrib.scale_by_acprop()
      >>> state = tx.init({"w": jnp.zeros(2)})
      >>> u, state = tx.update({"w": jnp.array([2.0, -1.0])}, state)
      >>> print(jnp.round(u["w"], 3))
      [ 2. -1.]
      >>> u, state = tx.update({"w": jnp.array([1.0, -1.0])}, state)
      >>> print(jnp.round(u["w"], 3))
      [ 0.5 -1. ]

    References:
      Zhuang et al., *Momentum Centering and Asynchronous Update for Adaptive
      Gradient Methods*, NeurIPS 2021, https://arxiv.org/abs/2110.05454
    """
    _check_acprop("scale_by_acprop", b1, b2, eps, eps_root)

    def init_fn(params):
        return ScaleByBeliefState(
            count=jnp.zeros([], jnp.int32),
            mu=_tree.zeros_like(params),
            nu=_tree.zeros_like(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        mu = _tree.update_moment(updates, state.mu, b1, order=1)
        error = _tree.sub(updates, state.mu)
        nu = _tree.update_moment_per_elem_norm(error, state.nu, b2, order=2)
        nu = jax.tree.map(lambda v: v + eps_root, nu)
        # The denominator uses the variance *before* this step. On the first
        # step there is none: correct with t = 1 (finite) and then divide by 1.
        first = state.count == 0
        count = _tree.safe_increment(state.count)
        nu_hat = _tree.bias_correction(state.nu, b2, jnp.where(first, count, state.count))
        nu_hat = jax.tree.map(lambda v: jnp.where(first, 1, v), nu_hat)
        updates = _tree.map(
            lambda g, v: g / (jnp.sqrt(v) + eps), updates, nu_hat, where="scale_by_acprop"
        )
        return updates, ScaleByBeliefState(count=count, mu=mu, nu=nu)

    return transformation(init_fn, update_fn, name="scale_by_acprop")


def acprop(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-16,
    eps_root: jax.typing.ArrayLike = 1e-16,
    weight_decay: jax.typing.ArrayLike = 0.0,
    mask: MaskOrFn | None = None,
) -> GradientTransformationExtraArgs:
    r"""The ACProp optimizer: centred, asynchronous adaptive steps.

    .. math::

        \theta_{t+1} = \theta_t - \eta_t \left(
        \frac{g_t}{\sqrt{\hat s_{t-1}} + \epsilon} + \lambda \theta_t \right),

    with :math:`\hat s_{t-1}` the bias-corrected variance of the prediction
    errors :math:`g_k - m_{k-1}` for :math:`k < t`; see :func:`scale_by_acprop`.
    It is ``chain(scale_by_acprop(...), add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate))``.

    .. warning::
      The weight decay is multiplied by the learning rate (as in PyTorch and
      Optax), not only by the schedule multiplier as in Loshchilov & Hutter.

    Args:
      learning_rate: :math:`\eta_t`, a number or a schedule of the step count.
      b1: :math:`\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\beta_2`, decay of the prediction-error variance, in [0, 1).
      eps: :math:`\epsilon`, added to the square root in the denominator (>= 0).
      eps_root: :math:`\bar\epsilon`, added to the variance at every step (>= 0).
      weight_decay: :math:`\lambda \ge 0`, decoupled weight decay.
      mask: a boolean tree (or a function of the params returning one)
        selecting the leaves to decay.

    Returns:
      A gradient transformation whose state is
      ``(ScaleByBeliefState, decay state, learning-rate state)``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum(x**2)
      >>> solver = optjax.contrib.acprop(learning_rate=0.1)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = solver.init(params)
      >>> for _ in range(3):
      ...     updates, state = solver.update(jax.grad(f)(params), state, params)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(f"{f(params):.4f}")
      7.4304

    References:
      Zhuang et al., *Momentum Centering and Asynchronous Update for Adaptive
      Gradient Methods*, NeurIPS 2021, https://arxiv.org/abs/2110.05454
    """
    return chain(
        scale_by_acprop(b1=b1, b2=b2, eps=eps, eps_root=eps_root),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
