"""D-Adaptation for AdamW: the step size is a running lower bound on the distance to a solution."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, ScalarOrSchedule, transformation
from optjax.contrib._prodigy import check_betas, safe_ratio
from optjax.contrib._schedule_free import lowest_float_dtype
from optjax.tree import _math as _tree


class DAdaptAdamWState(NamedTuple):
    """State of :func:`dadapt_adamw` (field names as in Optax).

    Attributes:
      exp_avg: :math:`m_t`, the EMA of the step-scaled gradients.
      exp_avg_sq: :math:`v_t`, the EMA of the squared gradients.
      grad_sum: :math:`s_t`, the EMA of the step-scaled gradients with rate
        :math:`\\sqrt{\\beta_2}`.
      estim_lr: :math:`d_t`, the current distance estimate.
      numerator_weighted: :math:`r_t`, the EMA of
        :math:`\\langle g_t, s_{t-1} \\rangle_{A^{-1}}`.
      count: the number of updates so far.
    """

    exp_avg: Any
    exp_avg_sq: Any
    grad_sum: Any
    estim_lr: jax.Array
    numerator_weighted: jax.Array
    count: jax.Array


def dadapt_adamw(
    learning_rate: ScalarOrSchedule = 1.0,
    betas: tuple[jax.typing.ArrayLike, jax.typing.ArrayLike] = (0.9, 0.999),
    eps: jax.typing.ArrayLike = 1e-8,
    estim_lr0: jax.typing.ArrayLike = 1e-6,
    weight_decay: jax.typing.ArrayLike = 0.0,
) -> GradientTransformationExtraArgs:
    """D-Adapted AdamW: AdamW with its step size set by D-Adaptation.

    With :math:`\\eta_t` the schedule, :math:`\\rho_t = \\sqrt{1-\\beta_2^{t}}
    /(1-\\beta_1^{t})`, :math:`\\delta_t = d_t \\eta_t \\rho_t`, :math:`\\sigma =
    \\sqrt{\\beta_2}` and :math:`A_{t-1} = \\mathrm{diag}(\\sqrt{v_{t-1}} +
    \\epsilon)`:

    .. math::

        r_t = \\sigma r_{t-1} + (1-\\sigma)\\, \\delta_t\\,
        \\langle g_t, A_{t-1}^{-1} s_{t-1} \\rangle, \\qquad
        s_t = \\sigma s_{t-1} + (1-\\sigma)\\, \\delta_t g_t, \\\\
        m_t = \\beta_1 m_{t-1} + (1-\\beta_1)\\, \\delta_t g_t, \\qquad
        v_t = \\beta_2 v_{t-1} + (1-\\beta_2)\\, g_t^2, \\\\
        d_{t+1} = \\max\\left(d_t, \\frac{r_t}{(1-\\sigma)\\|s_t\\|_1}\\right),
        \\qquad u_t = -\\frac{m_t}{\\sqrt{v_t} + \\epsilon} - \\lambda \\delta_t x_t.

    .. warning::
      When :math:`\\|s_t\\|_1 = 0` (all-zero gradients, or a schedule at 0)
      the estimate keeps :math:`d_t`; Optax divides 0 by 0 there and :math:`d`
      becomes NaN for good.

    Args:
      learning_rate: :math:`\\eta_t`, a multiplier (number or schedule) on the
        estimated step size; 1 is the base value.
      betas: :math:`(\\beta_1, \\beta_2)`, AdamW's decay rates, each in [0, 1).
      eps: :math:`\\epsilon`, added to the root of the second moment.
      estim_lr0: :math:`d_0 > 0`, the initial under-estimate of the step size.
      weight_decay: :math:`\\lambda \\ge 0`, decoupled (AdamW) weight decay.

    Returns:
      A gradient transformation with a :class:`DAdaptAdamWState`; ``update``
      needs ``params``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum((x - 3.0) ** 2)
      >>> tx = optjax.dadapt_adamw()
      >>> params = jnp.zeros(2)
      >>> state = tx.init(params)
      >>> step = jax.jit(lambda p, s: tx.update(jax.grad(f)(p), s, p))
      >>> for _ in range(300):
      ...     updates, state = step(params, state)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(f"{f(params):.3f}")
      0.000

    References:
      Defazio & Mishchenko, *Learning-Rate-Free Learning by D-Adaptation*,
      ICML 2023, https://arxiv.org/abs/2301.07733
    """
    where = "dadapt_adamw"
    beta1, beta2 = check_betas(betas, where)
    _checks.check_non_negative("eps", eps, where=where)
    _checks.check_positive("estim_lr0", estim_lr0, where=where)
    _checks.check_non_negative("weight_decay", weight_decay, where=where)
    if not callable(learning_rate):
        _checks.check_non_negative("learning_rate", learning_rate, where=where)

    def init_fn(params):
        dtype = lowest_float_dtype(params)
        return DAdaptAdamWState(
            exp_avg=_tree.zeros_like(params),
            exp_avg_sq=_tree.zeros_like(params),
            grad_sum=_tree.zeros_like(params),
            estim_lr=jnp.asarray(estim_lr0, dtype=dtype),
            numerator_weighted=jnp.zeros([], dtype),
            count=jnp.zeros([], jnp.int32),
        )

    def update_fn(updates, state, params=None, **extra_args):
        sigma = beta2**0.5
        sched = learning_rate(state.count) if callable(learning_rate) else learning_rate
        count = _tree.safe_increment(state.count)
        correction = (1 - beta2**count) ** 0.5 / (1 - beta1**count)
        dlr = (state.estim_lr * sched * correction).astype(state.numerator_weighted.dtype)
        s_weighted = _tree.map(
            lambda s, v: s / (jnp.sqrt(v) + eps), state.grad_sum, state.exp_avg_sq, where=where
        )
        inner = _tree.vdot(updates, s_weighted)
        exp_avg = _tree.map(
            lambda m, g: beta1 * m + (1 - beta1) * dlr * g, state.exp_avg, updates, where=where
        )
        exp_avg_sq = _tree.map(
            lambda v, g: beta2 * v + (1 - beta2) * g * g, state.exp_avg_sq, updates, where=where
        )
        grad_sum = _tree.map(
            lambda s, g: sigma * s + (1 - sigma) * dlr * g, state.grad_sum, updates, where=where
        )
        l1 = _tree.sum(jax.tree.map(jnp.abs, grad_sum))
        numerator = sigma * state.numerator_weighted + (1 - sigma) * dlr * inner
        estimate = safe_ratio(numerator, (1 - sigma) * l1)
        new_d = jnp.maximum(state.estim_lr, estimate).astype(state.estim_lr.dtype)
        new_updates = _tree.map(
            lambda m, v, p: -weight_decay * dlr * p - m / (jnp.sqrt(v) + eps),
            exp_avg,
            exp_avg_sq,
            params,
            where=where,
        )
        new_state = DAdaptAdamWState(
            exp_avg=_tree.cast_like(exp_avg, state.exp_avg),
            exp_avg_sq=_tree.cast_like(exp_avg_sq, state.exp_avg_sq),
            grad_sum=_tree.cast_like(grad_sum, state.grad_sum),
            estim_lr=new_d,
            numerator_weighted=numerator.astype(state.numerator_weighted.dtype),
            count=count,
        )
        return new_updates, new_state

    return transformation(init_fn, update_fn, name=where, needs_params=True)
