"""ADOPT: Adam with the second moment taken one step late, so it can converge for any b2.

ADOPT normalizes the current gradient by the second-moment estimate of the
*previous* steps (which is independent of the current gradient), and applies the
momentum after the normalization instead of before it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, ScalarOrSchedule, transformation
from optjax.transforms._adam_family import ScaleByAdamState, canonical_dtype
from optjax.transforms._basic import scale_by_learning_rate
from optjax.transforms._combinators._chain import chain
from optjax.tree import _math as _tree

# ADOPT keeps Adam's state (a count and two moments), as Optax does: the name is
# an alias, so an ADOPT state is also an ``optjax.ScaleByAdamState``.
ScaleByAdoptState = ScaleByAdamState


def _default_clip_value(count: jax.Array) -> jax.Array:
    return count**0.25


def _check_adopt(where: str, b1: Any, b2: Any, eps: Any) -> None:
    _checks.check_decay("b1", b1, where=where)
    _checks.check_decay("b2", b2, where=where)
    _checks.check_non_negative("eps", eps, where=where)


def scale_by_adopt(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.9999,
    eps: jax.typing.ArrayLike = 1e-6,
    mu_dtype: jax.typing.DTypeLike | None = None,
    *,
    nesterov: bool = False,
    use_clipping: bool = True,
    clip_value_fn: Callable[[jax.Array], jax.Array] = _default_clip_value,
) -> GradientTransformationExtraArgs:
    """Rescales updates by ADOPT: normalize by the previous second moment, then average.

    With :math:`t` the number of earlier steps (``state.count``) and
    :math:`c_t` = ``clip_value_fn(t)`` (default :math:`t^{1/4}`):

    .. math::

        v_0 = g_0^2, \\qquad m_0 = 0, \\qquad u_0 = 0, \\\\
        \\text{for } t \\ge 1: \\quad
        m_t = \\beta_1 m_{t-1} + (1-\\beta_1)\\,
        \\mathrm{clip}\\!\\left(\\frac{g_t}{\\max(\\sqrt{v_{t-1}}, \\epsilon)}, -c_t, c_t\\right),
        \\\\
        v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2, \\qquad u_t = m_t .

    The first step only initializes :math:`v` (its update is zero). With
    ``nesterov=True`` the update is the look-ahead
    :math:`u_t = \\beta_1 m_t + (1-\\beta_1)\\,\\mathrm{clip}(\\cdot)`; with
    ``use_clipping=False`` the normalized gradient is not clipped.

    Args:
      b1: :math:`\\beta_1`, decay of the average of normalized gradients, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-gradient average, in [0, 1).
      eps: :math:`\\epsilon`, lower bound of :math:`\\sqrt{v_{t-1}}` (>= 0).
      mu_dtype: storage dtype of the first moment; ``None`` keeps the params'.
      nesterov: use the Nesterov look-ahead of the first moment.
      use_clipping: clip the normalized gradient to :math:`[-c_t, c_t]`.
      clip_value_fn: :math:`t \\mapsto c_t`, a function of the step count.

    Returns:
      A gradient transformation with a :class:`ScaleByAdoptState` (an alias of
      :class:`~optjax.ScaleByAdamState`: ``count``, ``mu``, ``nu``).

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_adopt()
      >>> state = tx.init({"w": jnp.zeros(2)})
      >>> u, state = tx.update({"w": jnp.array([2.0, -1.0])}, state)
      >>> print([f"{v:.2f}" for v in u["w"]])
      ['0.00', '0.00']
      >>> u, state = tx.update({"w": jnp.array([1.0, -1.0])}, state)
      >>> print([f"{v:.2f}" for v in u["w"]])
      ['0.05', '-0.10']

    References:
      Taniguchi et al., *ADOPT: Modified Adam Can Converge with Any beta2 with
      the Optimal Rate*, NeurIPS 2024, https://arxiv.org/abs/2411.02853
    """
    _check_adopt("scale_by_adopt", b1, b2, eps)
    mu_dtype = canonical_dtype(mu_dtype)

    def init_fn(params):
        return ScaleByAdamState(
            count=jnp.zeros([], jnp.int32),
            mu=_tree.zeros_like(params, dtype=mu_dtype),
            nu=_tree.zeros_like(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        first = state.count == 0
        # Step 0 only records v_0 = g_0^2 (b2 -> 0) and leaves m at 0 (b1 -> 1).
        b1_t = jnp.where(first, 1, b1)
        b2_t = jnp.where(first, 0, b2)
        nu = _tree.update_moment_per_elem_norm(updates, state.nu, b2_t, order=2)
        clip = clip_value_fn(state.count) if use_clipping else None

        def normalize(g, v):
            scaled = g / jnp.maximum(jnp.sqrt(v), eps)
            return jnp.clip(scaled, -clip, clip) if use_clipping else scaled

        normalized = _tree.map(normalize, updates, state.nu, where="scale_by_adopt")
        mu = _tree.update_moment(normalized, state.mu, b1_t, order=1)
        if nesterov:
            updates = _tree.update_moment(normalized, mu, b1_t, order=1)
        else:
            updates = mu
        new_state = ScaleByAdamState(
            count=_tree.safe_increment(state.count),
            mu=_tree.cast(mu, mu_dtype),
            nu=_tree.cast_like(nu, state.nu),
        )
        return updates, new_state

    return transformation(init_fn, update_fn, name="scale_by_adopt")


def adopt(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.9999,
    eps: jax.typing.ArrayLike = 1e-6,
    mu_dtype: Any | None = None,
    *,
    nesterov: bool = False,
    use_clipping: bool = True,
    clip_value_fn: Callable[[jax.Array], jax.Array] = _default_clip_value,
) -> GradientTransformationExtraArgs:
    """The ADOPT optimizer: Adam-like, convergent for any b2, with clipped normalized steps.

    .. math::

        m_t = \\beta_1 m_{t-1} + (1-\\beta_1)\\,
        \\mathrm{clip}\\!\\left(\\frac{g_t}{\\max(\\sqrt{v_{t-1}}, \\epsilon)}, -c_t, c_t\\right),
        \\qquad v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2, \\\\
        \\theta_{t+1} = \\theta_t - \\eta_t\\, m_t ,

    for :math:`t \\ge 1`, with :math:`v_0 = g_0^2`, :math:`m_0 = 0` (the first
    step does not move the parameters) and :math:`c_t = t^{1/4}`; see
    :func:`scale_by_adopt`.

    .. warning::
      The first call only records :math:`v_0 = g_0^2` and returns a zero
      update, as in the paper's Algorithm 2 and Optax; a training loop of
      :math:`n` steps therefore moves the parameters :math:`n-1` times.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: :math:`\\beta_1`, decay of the average of normalized gradients, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-gradient average, in [0, 1).
      eps: :math:`\\epsilon`, lower bound of :math:`\\sqrt{v_{t-1}}` (>= 0).
      mu_dtype: storage dtype of the first moment; ``None`` keeps the params'.
      nesterov: use the Nesterov look-ahead of the first moment.
      use_clipping: clip the normalized gradient (recommended when training
        from scratch).
      clip_value_fn: :math:`t \\mapsto c_t`, a function of the step count.

    Returns:
      A gradient transformation whose state is
      ``(ScaleByAdoptState, ScaleByScheduleState | EmptyState)``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum(x**2)
      >>> solver = optjax.adopt(learning_rate=0.1)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = solver.init(params)
      >>> for _ in range(4):
      ...     updates, state = solver.update(jax.grad(f)(params), state, params)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(f"{f(params):.4f}")
      13.3390

    References:
      Taniguchi et al., *ADOPT: Modified Adam Can Converge with Any beta2 with
      the Optimal Rate*, NeurIPS 2024, https://arxiv.org/abs/2411.02853
    """
    return chain(
        scale_by_adopt(
            b1=b1,
            b2=b2,
            eps=eps,
            mu_dtype=mu_dtype,
            nesterov=nesterov,
            use_clipping=use_clipping,
            clip_value_fn=clip_value_fn,
        ),
        scale_by_learning_rate(learning_rate),
    )
