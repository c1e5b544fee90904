"""Prodigy: AdamW whose step size is estimated on the fly from the distance travelled."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, ScalarOrSchedule, transformation
from optjax.contrib._schedule_free import lowest_float_dtype
from optjax.tree import _math as _tree


class ProdigyState(NamedTuple):
    """State of :func:`prodigy` (field names as in Optax).

    Attributes:
      exp_avg: :math:`m_t`, the EMA of :math:`d_t g_t`.
      exp_avg_sq: :math:`v_t`, the EMA of :math:`d_t^2 g_t^2`.
      grad_sum: :math:`s_t`, the weighted sum of the scaled gradients.
      params0: :math:`x_0`, the initial parameters.
      estim_lr: :math:`d_t`, the current step-size estimate.
      numerator_weighted: :math:`r_t`, the weighted sum of
        :math:`\\langle g_k, x_0 - x_k \\rangle`.
      count: the number of updates so far.
    """

    exp_avg: Any
    exp_avg_sq: Any
    grad_sum: Any
    params0: Any
    estim_lr: jax.Array
    numerator_weighted: jax.Array
    count: jax.Array


def check_betas(betas: Any, where: str) -> tuple[Any, Any]:
    """``betas`` must be a pair of decay rates in [0, 1)."""
    try:
        beta1, beta2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"{where}: betas must be a pair (b1, b2), got {betas!r}.") from None
    _checks.check_decay("betas[0]", beta1, where=where)
    _checks.check_decay("betas[1]", beta2, where=where)
    return beta1, beta2


def safe_ratio(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """``numerator / denominator``, or 0 where the denominator is 0 (no NaN, no NaN grads)."""
    ok = denominator > 0
    return jnp.where(ok, numerator / jnp.where(ok, denominator, 1), jnp.zeros_like(numerator))


def prodigy(
    learning_rate: ScalarOrSchedule = 1.0,
    betas: tuple[jax.typing.ArrayLike, jax.typing.ArrayLike] = (0.9, 0.999),
    beta3: jax.typing.ArrayLike | None = None,
    eps: jax.typing.ArrayLike = 1e-8,
    estim_lr0: jax.typing.ArrayLike = 1e-6,
    estim_lr_coef: jax.typing.ArrayLike = 1.0,
    weight_decay: jax.typing.ArrayLike = 0.0,
    safeguard_warmup: bool = False,
) -> GradientTransformationExtraArgs:
    """Prodigy: learning-rate-free AdamW that estimates the distance to the solution.

    With :math:`\\eta_t` the schedule, :math:`\\rho_t = \\sqrt{1-\\beta_2^{t}}
    /(1-\\beta_1^{t})` the Adam bias correction and :math:`\\delta_t =
    d_t \\eta_t \\rho_t`:

    .. math::

        m_t = \\beta_1 m_{t-1} + (1-\\beta_1) d_t g_t, \\qquad
        v_t = \\beta_2 v_{t-1} + (1-\\beta_2) d_t^2 g_t^2, \\\\
        r_t = \\beta_3 r_{t-1} + \\frac{d_t \\delta_t}{d_0}
        \\langle g_t, x_0 - x_t \\rangle, \\qquad
        s_t = \\beta_3 s_{t-1} + \\frac{\\delta_t d_t}{d_0} g_t, \\\\
        d_{t+1} = \\max\\left(d_t,\\ c\\, \\frac{r_t}{\\|s_t\\|_1}\\right), \\qquad
        u_t = -\\delta_t \\left(\\frac{m_t}{\\sqrt{v_t} + d_{t+1}\\epsilon}
        + \\lambda x_t\\right),

    with :math:`\\beta_3 = \\sqrt{\\beta_2}` by default and :math:`c` =
    ``estim_lr_coef``. ``safeguard_warmup=True`` uses :math:`d_t^2 g_t / d_0`
    in :math:`s_t` (dropping :math:`\\eta_t \\rho_t`), which keeps the estimate
    from growing during a warmup. The :math:`1/d_0` and the missing
    :math:`(1-\\beta_3)` factors cancel in :math:`r_t/\\|s_t\\|_1`.

    .. warning::
      When :math:`\\|s_t\\|_1 = 0` (all-zero gradients, or a schedule that starts
      at 0 without ``safeguard_warmup``) the estimate keeps :math:`d_t`; Optax
      divides 0 by 0 there and :math:`d` becomes NaN for good.

    Args:
      learning_rate: :math:`\\eta_t`, a multiplier (number or schedule) on the
        estimated step size; 1 is the base value.
      betas: :math:`(\\beta_1, \\beta_2)`, AdamW's decay rates, each in [0, 1).
      beta3: :math:`\\beta_3` in [0, 1), the decay of :math:`r` and :math:`s`;
        ``None`` uses :math:`\\sqrt{\\beta_2}`.
      eps: :math:`\\epsilon`, scaled by :math:`d` in the denominator.
      estim_lr0: :math:`d_0 > 0`, the initial under-estimate of the step size.
      estim_lr_coef: :math:`c > 0`, multiplies every estimate.
      weight_decay: :math:`\\lambda \\ge 0`, decoupled (AdamW) weight decay.
      safeguard_warmup: leave :math:`\\eta_t \\rho_t` out of :math:`s_t`.

    Returns:
      A gradient transformation with a :class:`ProdigyState`; ``update`` needs
      ``params``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum((x - 3.0) ** 2)
      >>> tx = optjax.prodigy()
      >>> params = jnp.zeros(2)
      >>> state = tx.init(params)
      >>> step = jax.jit(lambda p, s: tx.update(jax.grad(f)(p), s, p))
      >>> for _ in range(200):
      ...     updates, state = step(params, state)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(f"{f(params):.4f}")
      0.0000

    References:
      Mishchenko & Defazio, *Prodigy: An Expeditiously Adaptive Parameter-Free
      Learner*, ICML 2024, https://arxiv.org/abs/2306.06101
    """
    where = "prodigy"
    beta1, beta2 = check_betas(betas, where)
    if beta3 is None:
        beta3 = beta2**0.5
    _checks.check_decay("beta3", beta3, where=where)
    _checks.check_non_negative("eps", eps, where=where)
    _checks.check_positive("estim_lr0", estim_lr0, where=where)
    _checks.check_positive("estim_lr_coef", estim_lr_coef, where=where)
    _checks.check_non_negative("weight_decay", weight_decay, where=where)
    if not callable(learning_rate):
        _checks.check_non_negative("learning_rate", learning_rate, where=where)

    def init_fn(params):
        dtype = lowest_float_dtype(params)
        return ProdigyState(
            exp_avg=_tree.zeros_like(params),
            exp_avg_sq=_tree.zeros_like(params),
            grad_sum=_tree.zeros_like(params),
            params0=params,
            estim_lr=jnp.asarray(estim_lr0, dtype=dtype),
            numerator_weighted=jnp.zeros([], dtype),
            count=jnp.zeros([], jnp.int32),
        )

    def update_fn(updates, state, params=None, **extra_args):
        d = state.estim_lr
        sched = learning_rate(state.count) if callable(learning_rate) else learning_rate
        count = _tree.safe_increment(state.count)
        correction = (1 - beta2**count) ** 0.5 / (1 - beta1**count)
        dlr = jnp.asarray(d * sched * correction, dtype=d.dtype)
        dg = _tree.map(lambda g: d * g, updates, where=where)
        distance = _tree.map(
            lambda p0, p: p0 - p,
            state.params0,
            params,
            names=("initial params", "params"),
            where=where,
        )
        inner = _tree.vdot(updates, distance)
        exp_avg = _tree.update_moment(dg, state.exp_avg, beta1, order=1)
        exp_avg_sq = _tree.map(
            lambda v, x: beta2 * v + (1 - beta2) * x * x, state.exp_avg_sq, dg, where=where
        )
        s_weight = d if safeguard_warmup else dlr
        grad_sum = _tree.map(
            lambda s, x: beta3 * s + s_weight * x / estim_lr0, state.grad_sum, dg, where=where
        )
        numerator = beta3 * state.numerator_weighted + (d / estim_lr0) * dlr * inner
        denominator = _tree.sum(jax.tree.map(jnp.abs, grad_sum))
        estimate = estim_lr_coef * safe_ratio(numerator, denominator)
        new_d = jnp.maximum(d, estimate).astype(d.dtype)
        new_updates = _tree.map(
            lambda m, v, p: -weight_decay * dlr * p - dlr * m / (jnp.sqrt(v) + new_d * eps),
            exp_avg,
            exp_avg_sq,
            params,
            where=where,
        )
        new_state = ProdigyState(
            exp_avg=_tree.cast_like(exp_avg, state.exp_avg),
            exp_avg_sq=_tree.cast_like(exp_avg_sq, state.exp_avg_sq),
            grad_sum=_tree.cast_like(grad_sum, state.grad_sum),
            params0=state.params0,
            estim_lr=new_d,
            numerator_weighted=numerator.astype(state.numerator_weighted.dtype),
            count=count,
        )
        return new_updates, new_state

    return transformation(init_fn, update_fn, name=where, needs_params=True)
