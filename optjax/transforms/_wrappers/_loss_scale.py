"""Dynamic loss scaling for float16 and bfloat16 training (Keras semantics)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, with_extra_args_support
from optjax.transforms._wrappers._finite import all_finite, check_updates
from optjax.tree import _math as _tree


class DynamicLossScaleState(NamedTuple):
    """State of :func:`dynamic_loss_scale`: the float32 scale, the finite-step streak, the inner state."""

    scale: jax.Array
    good_steps: jax.Array
    inner_state: Any


def _unscale(grads: Any, scale: jax.Array) -> Any:
    # float16 cannot hold scales of 2**16 and more, so divide in (at least)
    # float32 and round once, back to the gradients' dtype.
    def leaf(g):
        wide = jnp.promote_types(g.dtype, jnp.float32)
        return (g.astype(wide) / scale.astype(wide)).astype(g.dtype)

    return jax.tree.map(leaf, grads)


def dynamic_loss_scale(
    inner: Any,
    initial_scale: float = 2.0**15,
    dynamic_growth_steps: int = 2000,
) -> GradientTransformationExtraArgs:
    """Wraps ``inner`` with dynamic loss scaling, as Keras' ``LossScaleOptimizer``.

    Multiply the loss by the current scale :math:`S` before differentiating
    (:func:`optjax.scale_loss`), so that small float16 gradients do not
    underflow, and pass the gradients of the *scaled* loss to ``update``. The
    wrapper divides them by :math:`S` before the inner transform sees them, and
    adapts :math:`S`: with :math:`n` the number of consecutive finite steps
    and :math:`N` = ``dynamic_growth_steps``,

    .. math::

        (u_t, s_t) = \\begin{cases} T(g_t / S_t, s_{t-1}) & g_t \\text{ finite} \\\\
                     (0, s_{t-1}) & \\text{otherwise} \\end{cases}, \\qquad
        S_{t+1} = \\begin{cases} 2 S_t & g_t \\text{ finite and } n = N \\\\
                  S_t / 2 & g_t \\text{ not finite} \\\\
                  S_t & \\text{otherwise} \\end{cases}

    Step by step (Keras 3 ``LossScaleOptimizer``):

    =======================  ==========================  ===============  ==============
    scaled gradients         inner update                scale            good_steps
    =======================  ==========================  ===============  ==============
    any NaN or Inf           skipped: zero updates,      halved           reset to 0
                             inner state untouched
    finite, streak < N - 1   applied to ``g / scale``    unchanged        + 1
    finite, streak = N - 1   applied to ``g / scale``    doubled          reset to 0
    =======================  ==========================  ===============  ==============

    The gradients are always unscaled by the scale the loss was multiplied
    with (the one in the incoming state). The scale is a float32 scalar and
    the division happens in (at least) float32, so scales above float16's
    range work; the inner transform receives, and the wrapper returns,
    updates in the gradients' dtype. The finiteness test looks at the scaled
    gradients, so an overflow in the backward pass is caught. As in Keras the
    scale has no floor; it only halves on non-finite steps.

    Args:
      inner: the transform that consumes the unscaled gradients.
      initial_scale: the first loss scale (a power of two keeps the unscaling
        exact); better too high than too low, since it halves at once but
        doubles only every ``dynamic_growth_steps``.
      dynamic_growth_steps: the number of consecutive finite steps after
        which the scale doubles.

    Returns:
      A gradient transformation with a :class:`DynamicLossScaleState`.

    Raises:
      ValueError: if ``initial_scale`` is not positive or
        ``dynamic_growth_steps`` is not an integer >= 1.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.dynamic_loss_scale(optjax.sgd(0.1), initial_scale=8.0)
      >>> params = {"w": jnp.array([1.0])}
      >>> state = tx.init(params)
      >>> loss_fn = lambda p: jnp.sum(p["w"] ** 2)
      >>> grads = jax.grad(lambda p: optjax.scale_loss(loss_fn(p), state))(params)
      >>> grads["w"]
      Array([16.], dtype=float32)
      >>> updates, state = tx.update(grads, state, params)
      >>> updates["w"], optjax.loss_scale(state)
      (Array([-0.2], dtype=float32), Array(8., dtype=float32))
      >>> updates, state = tx.update({"w": jnp.array([jnp.inf])}, state, params)
      >>> updates["w"], optjax.loss_scale(state)
      (Array([0.], dtype=float32), Array(4., dtype=float32))

    References:
      Keras ``LossScaleOptimizer``,
      https://keras.io/api/mixed_precision/loss_scale_optimizer/

      Micikevicius et al., 2017. Mixed Precision Training.
      https://arxiv.org/abs/1710.03740
    """
    _checks.check_positive("initial_scale", initial_scale, where="dynamic_loss_scale")
    _checks.check_positive_int(
        "dynamic_growth_steps", dynamic_growth_steps, where="dynamic_loss_scale"
    )
    inner = with_extra_args_support(inner)

    def init_fn(params):
        return DynamicLossScaleState(
            scale=jnp.asarray(initial_scale, jnp.float32),
            good_steps=jnp.zeros([], jnp.int32),
            inner_state=inner.init(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        check_updates(updates, params, where="dynamic_loss_scale")
        finite = all_finite(updates)

        def finite_step(inner_state):
            new_updates, new_inner = inner.update(
                _unscale(updates, state.scale), inner_state, params, **extra_args
            )
            grow = state.good_steps == dynamic_growth_steps - 1
            return (
                _tree.cast_like(new_updates, updates),
                _tree.cast_like(new_inner, inner_state),
                jnp.where(grow, 2.0 * state.scale, state.scale),
                jnp.where(grow, jnp.zeros([], jnp.int32), state.good_steps + 1),
            )

        def overflow_step(inner_state):
            return (
                _tree.zeros_like(updates),
                inner_state,
                state.scale / 2.0,
                jnp.zeros([], jnp.int32),
            )

        new_updates, inner_state, scale, good_steps = jax.lax.cond(
            finite, finite_step, overflow_step, state.inner_state
        )
        return new_updates, DynamicLossScaleState(
            scale=scale.astype(jnp.float32), good_steps=good_steps, inner_state=inner_state
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)


def _find_scale_state(state: Any) -> DynamicLossScaleState:
    def is_scale_state(x):
        return isinstance(x, DynamicLossScaleState)

    found = [x for x in jax.tree.leaves(state, is_leaf=is_scale_state) if is_scale_state(x)]
    if len(found) != 1:
        raise ValueError(
            f"Expected exactly one DynamicLossScaleState in the optimizer state "
            f"(from optjax.dynamic_loss_scale), found {len(found)}. Pass the state "
            f"of the transform that wraps your optimizer with dynamic_loss_scale."
        )
    return found[0]


def loss_scale(state: Any) -> jax.Array:
    """Returns the current loss scale held in an optimizer state.

    .. math::

        S_t

    The state may be the :class:`DynamicLossScaleState` itself or any state
    that contains exactly one (a chain's tuple, a named chain's dict, a
    :class:`optjax.MultiStepsState`, ...).

    Args:
      state: an optimizer state containing one :class:`DynamicLossScaleState`.

    Returns:
      The scale, a float32 scalar.

    Raises:
      ValueError: if ``state`` holds no loss-scale state, or more than one.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.chain(optjax.clip(1.0), optjax.dynamic_loss_scale(optjax.sgd(0.1)))
      >>> optjax.loss_scale(tx.init({"w": jnp.zeros(2)}))
      Array(32768., dtype=float32)
    """
    return _find_scale_state(state).scale


def scale_loss(loss: jax.typing.ArrayLike, state: Any) -> jax.Array:
    """Multiplies a loss by the current loss scale found in ``state``.

    .. math::

        \\tilde L = S_t\\, L

    Differentiate the scaled loss and pass its gradients to the
    :func:`dynamic_loss_scale` transform, which unscales them. The product
    follows JAX's type promotion with the float32 scale (a float16 loss gives
    a float32 scaled loss, as in Keras).

    Args:
      loss: the loss value (or any array to scale).
      state: an optimizer state containing one :class:`DynamicLossScaleState`
        (searched through nested states, e.g. a chain's).

    Returns:
      ``loss * scale``.

    Raises:
      ValueError: if ``state`` holds no loss-scale state, or more than one.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.dynamic_loss_scale(optjax.sgd(0.1), initial_scale=1024.0)
      >>> optjax.scale_loss(jnp.float32(0.5), tx.init({"w": jnp.zeros(2)}))
      Array(512., dtype=float32)
    """
    return loss * _find_scale_state(state).scale
