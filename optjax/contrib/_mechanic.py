"""Mechanic: learns the scale of any base optimizer's updates online.

Mechanic treats the base optimizer's accumulated updates as a direction
:math:`\\Delta_t` and learns, by coin betting over several time scales, how far
to move along it from the initial point: :math:`x_t = x_0 + s_t \\Delta_t`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import (
    GradientTransformationExtraArgs,
    transformation,
    with_extra_args_support,
)
from optjax.contrib._schedule_free import lowest_float_dtype
from optjax.tree import _math as _tree


class MechanicState(NamedTuple):
    """State of :func:`mechanize` (field names as in Optax).

    Attributes:
      base_optimizer_state: the wrapped optimizer's state.
      count: the number of earlier steps.
      r: the wealth of each of the ``num_betas`` bettors.
      m: the running maximum of :math:`|h|` per bettor.
      v: the running sum of :math:`h^2` per bettor.
      s: the scale bet by each bettor; the step uses their sum.
      x0: the reference point :math:`x_0` (the params at the first update).
    """

    base_optimizer_state: Any
    count: jax.Array
    r: jax.Array
    m: jax.Array
    v: jax.Array
    s: jax.Array
    x0: Any


def _sqrt_finite_grad(x: jax.Array) -> jax.Array:
    """``sqrt(x)`` whose derivative at ``x = 0`` is 0 rather than infinite.

    On the first step every ``h`` is 0, so ``v = 0``; a plain square root would
    make derivatives through the update NaN (``inf * 0``). The values are
    those of ``jnp.sqrt``.
    """
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1)), 0)


def mechanize(
    base_optimizer: Any,
    weight_decay: jax.typing.ArrayLike = 1e-2,
    eps: jax.typing.ArrayLike = 1e-8,
    s_init: jax.typing.ArrayLike = 1e-6,
    num_betas: int = 6,
) -> GradientTransformationExtraArgs:
    r"""Wraps an optimizer so that Mechanic learns its step-size multiplier.

    With :math:`S = \sum_j s_j` the current scale, :math:`d_t` the base
    optimizer's update (a descent step), :math:`\beta_j = 1 - 10^{-j}` for
    :math:`j = 1..n` (``num_betas``) and :math:`\lambda` = ``weight_decay``:

    .. math::

        \Delta_{t-1} = \frac{x_t - x_0}{S + \epsilon}, \qquad
        \tilde g_t = g_t + \lambda S \frac{\|g_t\|}{\|x_t\| + \epsilon} x_t, \qquad
        h = \langle \tilde g_t, \Delta_{t-1} \rangle, \\
        m_j \leftarrow \max(\beta_j m_j, |h| + \epsilon), \quad
        v_j \leftarrow \beta_j^2 v_j + h^2, \quad
        r_j \leftarrow \beta_j r_j - \mathrm{clip}(h, -m_j^{\text{old}}, m_j^{\text{old}})\, s_j, \\
        s_j \leftarrow \frac{s_{\text{init}} m_j / n + \max(r_j, 0)}{\sqrt{v_j} + \epsilon},
        \qquad x_{t+1} = x_0 + \Big(\sum_j s_j\Big) (\Delta_{t-1} + d_t),

    and the returned update is :math:`x_{t+1} - x_t`. The reference point
    :math:`x_0` is the parameters seen by the *first update* (not by ``init``),
    so weights loaded after ``init`` are respected.

    .. warning::
      The values are Optax's, but derivatives *through* the update differ: at
      the first step :math:`v = 0`, where Optax's :math:`\sqrt{v}` makes them
      NaN; optjax's square root has a zero derivative there, so they are finite.

    Use a base learning rate of 1.0 (a schedule shape still helps); Mechanic
    learns the multiplier. Normalized-update optimizers (LARS, LAMB) are not
    expected to work well.

    Args:
      base_optimizer: the optimizer to wrap; any object with ``init`` and
        ``update`` (optjax or Optax).
      weight_decay: :math:`\lambda \ge 0`, Mechanic's own decay on the
        gradients it bets with (independent of any decay in the base optimizer).
      eps: :math:`\epsilon \ge 0`, for numerical stability.
      s_init: the initial scale of each bettor (> 0).
      num_betas: :math:`n \ge 1`, the number of time scales
        (:math:`\beta = 0.9, 0.99, \dots`).

    Returns:
      A gradient transformation with a :class:`MechanicState`; its ``update``
      needs ``params`` and passes extra keyword arguments to the base optimizer.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum(x**2)
      >>> solver = optjax.contrib.mechanize(optjax.adam(1.0))
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = solver.init(params)
      >>> for _ in range(50):
      ...     updates, state = solver.update(jax.grad(f)(params), state, params)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(f"{f(params):.4f}")
      1.5100

    References:
      Cutkosky, Defazio & Mehta, *Mechanic: A Learning Rate Tuner*, NeurIPS
      2023, https://arxiv.org/abs/2306.00144
    """
    where = "mechanize"
    if not (hasattr(base_optimizer, "init") and hasattr(base_optimizer, "update")):
        raise TypeError(
            f"{where}: base_optimizer must be a gradient transformation with `init` "
            f"and `update`, got {type(base_optimizer).__name__}."
        )
    _checks.check_non_negative("weight_decay", weight_decay, where=where)
    _checks.check_non_negative("eps", eps, where=where)
    _checks.check_positive("s_init", s_init, where=where)
    _checks.check_positive_int("num_betas", num_betas, where=where)
    base_optimizer = with_extra_args_support(base_optimizer)

    def init_fn(params):
        dtype = lowest_float_dtype(params)
        zeros = jnp.zeros([num_betas], dtype=dtype)
        return MechanicState(
            base_optimizer_state=base_optimizer.init(params),
            count=jnp.zeros([], jnp.int32),
            r=zeros,
            m=zeros,
            v=zeros,
            s=jnp.ones([num_betas], dtype=dtype) * s_init,
            x0=params,
        )

    def update_fn(updates, state, params=None, **extra_args):
        base_updates, base_state = base_optimizer.update(
            updates, state.base_optimizer_state, params, **extra_args
        )
        # The first update re-anchors x0 on the params actually trained from.
        x0 = _tree.where(state.count == 0, params, state.x0)

        scale = jnp.sum(state.s)
        decay = weight_decay * scale * _tree.l2_norm(updates) / (_tree.l2_norm(params) + eps)
        grads = jax.tree.map(lambda g, x: g + decay * x, updates, params)

        # The memory-light variant: recompute the previous direction from x_t.
        delta_prev = jax.tree.map(lambda x, x0_: (x0_ - x) / (scale + eps), params, x0)
        # delta_prev points from x_t back to x_0 (a negated direction), and the
        # base updates already descend, so subtracting accumulates the step.
        delta = _tree.sub(delta_prev, base_updates)
        h = _tree.vdot(grads, delta_prev)

        betas = jnp.array([1.0 - 0.1**j for j in range(1, num_betas + 1)], dtype=state.s.dtype)
        clipped_h = jax.lax.clamp(-state.m, jnp.ones_like(state.m) * h, state.m)
        m = jnp.maximum(betas * state.m, jnp.abs(h) + eps)
        v = betas**2 * state.v + h**2
        r = betas * state.r + clipped_h * state.s
        wealth = (s_init / jnp.size(betas)) * m + jnp.maximum(0.0, r)
        s = wealth / (_sqrt_finite_grad(v) + eps)

        total = jnp.sum(s)
        new_params = jax.tree.map(lambda x0_, d: x0_ - total * d, x0, delta)
        new_state = MechanicState(
            base_optimizer_state=base_state,
            count=_tree.safe_increment(state.count),
            r=r,
            m=m,
            v=v,
            s=s,
            x0=x0,
        )
        return _tree.sub(new_params, params), new_state

    return transformation(init_fn, update_fn, name="mechanize", needs_params=True)
