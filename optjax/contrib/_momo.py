"""MoMo: momentum with a Polyak-type step size built from a model of the loss.

MoMo keeps moving averages of the loss values, of the gradients and of
:math:`\\langle g_k, x_k \\rangle`, which together define a model of the loss
that is truncated at a known lower bound; the step size is the one that
minimizes this model, capped at the learning rate. :func:`momo` uses SGD's
momentum, :func:`momo_adam` Adam's preconditioned momentum.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, ScalarOrSchedule, transformation
from optjax.contrib._schedule_free import lowest_float_dtype
from optjax.tree import _math as _tree

# Optax's threshold under which the momentum is treated as zero: float64's
# machine epsilon, whatever the parameters' dtype.
_ZERO_NORM = float(jnp.finfo(jnp.float64).eps)


class MomoState(NamedTuple):
    """State of :func:`momo` (field names as in Optax).

    Attributes:
      exp_avg: :math:`d_k`, the moving average of the gradients.
      barf: :math:`\\bar f_k`, the moving average of the loss values.
      gamma: :math:`\\gamma_k`, the moving average of :math:`\\langle g_i, x_i\\rangle`.
      lb: the current lower bound of the loss.
      count: the number of earlier steps.
    """

    exp_avg: Any
    barf: jax.Array
    gamma: jax.Array
    lb: jax.Array
    count: jax.Array


class MomoAdamState(NamedTuple):
    """State of :func:`momo_adam` (field names as in Optax).

    Attributes:
      exp_avg: :math:`d_k`, the moving average of the gradients.
      exp_avg_sq: the moving average of the squared gradients.
      barf: :math:`\\bar f_k`, the moving average of the loss values.
      gamma: :math:`\\gamma_k`, the moving average of :math:`\\langle g_i, x_i\\rangle`.
      lb: the current lower bound of the loss.
      count: the number of earlier steps.
    """

    exp_avg: Any
    exp_avg_sq: Any
    barf: jax.Array
    gamma: jax.Array
    lb: jax.Array
    count: jax.Array


_VALUE_MSG = (
    "{name} needs the current loss value: call `update(grads, state, params, "
    "value=loss)`, with loss from `jax.value_and_grad`."
)


def _check_momo(where: str, learning_rate: Any, weight_decay: Any, **decays: Any) -> None:
    if not callable(learning_rate):
        _checks.check_non_negative("learning_rate", learning_rate, where=where)
    _checks.check_non_negative("weight_decay", weight_decay, where=where)
    for name, value in decays.items():
        _checks.check_decay(name, value, where=where)


def _init_scalars(params: Any, lower_bound: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(barf, gamma, lb)``, kept in the lowest leaf dtype so no leaf is promoted."""
    dtype = lowest_float_dtype(params)
    zero = jnp.zeros([], dtype=dtype)
    return zero, zero, jnp.array(lower_bound, dtype=dtype)


def _polyak_step(
    *,
    direction: Any,
    precond: Any,
    sq_norm: jax.Array,
    params: Any,
    barf: jax.Array,
    gamma: jax.Array,
    lb: jax.Array,
    alpha: Any,
    weight_decay: Any,
    lower_bound: Any,
    adapt_lower_bound: bool,
    bc1: Any = 1,
) -> tuple[Any, jax.Array]:
    """The step shared by MoMo and MoMo-Adam; returns ``(updates, new lb)``.

    ``precond`` is Adam's :math:`D` (``None`` for MoMo, where :math:`D = I`),
    ``sq_norm`` is :math:`\\langle d, D^{-1} d\\rangle` and ``bc1`` is Adam's
    first-moment bias correction (1 for MoMo).
    """
    decay = 1 + alpha * weight_decay
    iprod = _tree.vdot(direction, params)
    if adapt_lower_bound:
        cap = decay * (barf - gamma) + iprod
        lb = jnp.where(
            cap < decay * bc1 * lb, jnp.maximum(cap / (2 * bc1 * decay), lower_bound), lb
        )
    t1 = jnp.maximum(decay * (barf - bc1 * lb - gamma) + iprod, 0.0) / sq_norm
    # A (numerically) zero momentum takes no Polyak step.
    t1 = jnp.where(sq_norm <= _ZERO_NORM, 0.0, t1)
    tau = jnp.minimum(alpha / bc1, t1)
    shrink = -(alpha * weight_decay) / decay
    if precond is None:
        updates = jax.tree.map(lambda d, x: shrink * x - tau * d, direction, params)
    else:
        updates = jax.tree.map(lambda d, p, x: shrink * x - tau * d / p, direction, precond, params)
    if adapt_lower_bound:
        new_lb = ((barf + iprod - gamma) - 0.5 * tau * sq_norm) / bc1
        new_lb = jnp.maximum(new_lb, lower_bound)
    else:
        new_lb = lb
    return updates, new_lb


def _loss_value(value: Any, dtype: Any, name: str) -> jax.Array:
    if value is None:
        raise ValueError(_VALUE_MSG.format(name=name))
    return jnp.asarray(value, dtype=dtype)


def momo(
    learning_rate: ScalarOrSchedule = 1.0,
    beta: jax.typing.ArrayLike = 0.9,
    lower_bound: jax.typing.ArrayLike = 0.0,
    weight_decay: jax.typing.ArrayLike = 0.0,
    adapt_lower_bound: bool = False,
) -> GradientTransformationExtraArgs:
    r"""The MoMo optimizer: SGD with momentum and a model-based Polyak step size.

    With :math:`f_k` the loss (passed as ``value=``), :math:`\alpha_k` the
    learning rate, :math:`\lambda` = ``weight_decay``, :math:`f_*` the lower
    bound and :math:`\beta_k = \beta` (0 on the first step):

    .. math::

        \bar f_k = \beta_k \bar f_{k-1} + (1-\beta_k) f_k, \quad
        d_k = \beta_k d_{k-1} + (1-\beta_k) g_k, \quad
        \gamma_k = \beta_k \gamma_{k-1} + (1-\beta_k) \langle g_k, x_k \rangle, \\
        \tau_k = \min\left(\alpha_k, \frac{\big((1+\alpha_k\lambda)
        (\bar f_k - f_* - \gamma_k) + \langle d_k, x_k \rangle\big)_+}{\|d_k\|^2}\right), \qquad
        x_{k+1} = \frac{x_k}{1 + \alpha_k \lambda} - \tau_k d_k .

    The returned update is :math:`x_{k+1} - x_k`; when :math:`\|d_k\| = 0` no
    momentum step is taken. With
    ``adapt_lower_bound=True`` the bound :math:`f_*` is re-estimated on the
    fly (never below ``lower_bound``).

    Args:
      learning_rate: :math:`\alpha_k \ge 0`, the cap on the step size (choose it
        large), a number or a schedule of the step count.
      beta: :math:`\beta`, the momentum of all the averages, in [0, 1).
      lower_bound: :math:`f_*`, a lower bound of the loss (0 for most losses).
      weight_decay: :math:`\lambda \ge 0`.
      adapt_lower_bound: estimate the lower bound online (when no good guess
        is known).

    Returns:
      A gradient transformation with a :class:`MomoState`; its ``update`` needs
      ``params`` and ``value=loss``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum(x**2)
      >>> solver = optjax.contrib.momo()
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = solver.init(params)
      >>> for _ in range(3):
      ...     value, grad = jax.value_and_grad(f)(params)
      ...     updates, state = solver.update(grad, state, params, value=value)
      ...     params = optjax.apply_updates(params, updates)
      ...     print(f"{f(params):.4f}")
      3.5000
      3.3182
      3.1419

    References:
      Schaipp et al., *MoMo: Momentum Models for Adaptive Learning Rates*, ICML
      2024, https://arxiv.org/abs/2305.07583
    """
    _check_momo("momo", learning_rate, weight_decay, beta=beta)

    def init_fn(params):
        barf, gamma, lb = _init_scalars(params, lower_bound)
        return MomoState(_tree.zeros_like(params), barf, gamma, lb, jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None, value=None, **extra_args):
        value = _loss_value(value, state.barf.dtype, "momo")
        # The first step initializes every average at the current values.
        b = jnp.where(state.count == 0, 0.0, beta)
        barf = b * state.barf + (1 - b) * value
        exp_avg = _tree.update_moment(updates, state.exp_avg, b, order=1)
        gamma = b * state.gamma + (1 - b) * _tree.vdot(updates, params)
        alpha = learning_rate(state.count) if callable(learning_rate) else learning_rate
        new_updates, lb = _polyak_step(
            direction=exp_avg,
            precond=None,
            sq_norm=_tree.l2_norm(exp_avg, squared=True),
            params=params,
            barf=barf,
            gamma=gamma,
            lb=state.lb,
            alpha=alpha,
            weight_decay=weight_decay,
            lower_bound=lower_bound,
            adapt_lower_bound=adapt_lower_bound,
        )
        new_state = MomoState(exp_avg, barf, gamma, lb, _tree.safe_increment(state.count))
        return new_updates, new_state

    return transformation(init_fn, update_fn, name="momo", needs_params=True)


def momo_adam(
    learning_rate: ScalarOrSchedule = 1e-2,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    lower_bound: jax.typing.ArrayLike = 0.0,
    weight_decay: jax.typing.ArrayLike = 0.0,
    adapt_lower_bound: bool = False,
) -> GradientTransformationExtraArgs:
    r"""The MoMo-Adam optimizer: Adam(W) with a model-based Polyak step size.

    With :math:`D_k = \epsilon + \sqrt{v_k / (1-\beta_2^{k+1})}` Adam's
    preconditioner, :math:`\rho_k = 1 - \beta_1^{k+1}` and the averages
    :math:`\bar f, d, \gamma` of :func:`momo` taken with :math:`\beta_1` from
    the first step on:

    .. math::

        \tau_k = \min\left(\frac{\alpha_k}{\rho_k}, \frac{\big((1+\alpha_k\lambda)
        (\bar f_k - \rho_k f_* - \gamma_k) + \langle d_k, x_k \rangle\big)_+}
        {\langle d_k, D_k^{-1} d_k \rangle}\right), \qquad
        u_k = -\frac{\alpha_k\lambda}{1+\alpha_k\lambda} x_k - \tau_k D_k^{-1} d_k .

    Args:
      learning_rate: :math:`\alpha_k \ge 0`, the cap on the step size, a number
        or a schedule of the step count.
      b1: :math:`\beta_1`, the decay of the gradient, loss and
        :math:`\langle g, x\rangle` averages, in [0, 1).
      b2: :math:`\beta_2`, the decay of the squared-gradient average, in [0, 1).
      eps: :math:`\epsilon`, added to Adam's denominator.
      lower_bound: :math:`f_*`, a lower bound of the loss (0 for most losses).
      weight_decay: :math:`\lambda \ge 0`, decoupled as in AdamW.
      adapt_lower_bound: estimate the lower bound online (when no good guess
        is known).

    Returns:
      A gradient transformation with a :class:`MomoAdamState`; its ``update``
      needs ``params`` and ``value=loss``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum(x**2)
      >>> solver = optjax.contrib.momo_adam(learning_rate=0.1)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = solver.init(params)
      >>> for _ in range(3):
      ...     value, grad = jax.value_and_grad(f)(params)
      ...     updates, state = solver.update(grad, state, params, value=value)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(f"{f(params):.4f}")
      10.6764

    References:
      Schaipp et al., *MoMo: Momentum Models for Adaptive Learning Rates*, ICML
      2024, https://arxiv.org/abs/2305.07583
    """
    _check_momo("momo_adam", learning_rate, weight_decay, b1=b1, b2=b2)
    _checks.check_non_negative("eps", eps, where="momo_adam")

    def init_fn(params):
        barf, gamma, lb = _init_scalars(params, lower_bound)
        zeros = _tree.zeros_like(params)
        return MomoAdamState(zeros, zeros, barf, gamma, lb, jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None, value=None, **extra_args):
        value = _loss_value(value, state.barf.dtype, "momo_adam")
        count = _tree.safe_increment(state.count)
        barf = b1 * state.barf + (1 - b1) * value
        exp_avg = _tree.update_moment(updates, state.exp_avg, b1, order=1)
        exp_avg_sq = _tree.update_moment(updates, state.exp_avg_sq, b2, order=2)
        bc1 = jnp.asarray(1 - b1**count, dtype=barf.dtype)
        bc2 = jnp.asarray(1 - b2**count, dtype=barf.dtype)
        precond = jax.tree.map(lambda v: eps + jnp.sqrt(v / bc2), exp_avg_sq)
        preconditioned = _tree.map(lambda d, p: d / p, exp_avg, precond, where="momo_adam")
        gamma = b1 * state.gamma + (1 - b1) * _tree.vdot(updates, params)
        alpha = learning_rate(state.count) if callable(learning_rate) else learning_rate
        new_updates, lb = _polyak_step(
            direction=exp_avg,
            precond=precond,
            sq_norm=_tree.vdot(exp_avg, preconditioned),
            params=params,
            barf=barf,
            gamma=gamma,
            lb=state.lb,
            alpha=alpha,
            weight_decay=weight_decay,
            lower_bound=lower_bound,
            adapt_lower_bound=adapt_lower_bound,
            bc1=bc1,
        )
        new_state = MomoAdamState(exp_avg, exp_avg_sq, barf, gamma, lb, count)
        return new_updates, new_state

    return transformation(init_fn, update_fn, name="momo_adam", needs_params=True)
