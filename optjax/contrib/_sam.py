"""SAM: sharpness-aware minimization as alternating adversarial and descent steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._apply import apply_updates
from optjax._base import (
    GradientTransformationExtraArgs,
    OptState,
    transformation,
    with_extra_args_support,
)
from optjax.tree import _math as _tree


class SAMState(NamedTuple):
    """State of :func:`sam` (Optax's field names).

    Attributes:
      steps_since_sync: adversarial steps taken since the last outer step.
      opt_state: the outer optimizer's state.
      adv_state: the adversarial optimizer's state.
      cache: the outer (true) parameters while adversarial steps run; ``None``
        in opaque mode.
    """

    steps_since_sync: jax.Array
    opt_state: OptState
    adv_state: OptState
    cache: Any


def _select(condition: jax.Array, if_true: Any, if_false: Any) -> Any:
    return jax.tree.map(lambda a, b: jnp.where(condition, a, b), if_true, if_false)


def _negate(tree: Any) -> Any:
    return jax.tree.map(lambda x: -x, tree)


def sam(
    optimizer: Any,
    adv_optimizer: Any,
    sync_period: int = 2,
    reset_state: bool = True,
    opaque_mode: bool = False,
    batch_axis_name: str | None = None,
) -> GradientTransformationExtraArgs:
    """Sharpness-aware minimization: descend with the gradient at an adversarial point.

    With :math:`k` = ``sync_period``, every cycle of :math:`k` calls runs
    :math:`k-1` adversarial steps from the true parameters :math:`\\theta_t`,
    then one outer step taken from :math:`\\theta_t` with the last gradient:

    .. math::

        \\tilde\\theta_{0} = \\theta_t, \\qquad
        \\tilde\\theta_{i+1} = \\tilde\\theta_i - a_i\\big(\\nabla L(\\tilde\\theta_i)\\big)
        \\quad (i < k-1), \\qquad
        \\theta_{t+1} = \\theta_t + o\\big(\\nabla L(\\tilde\\theta_{k-1})\\big),

    where :math:`a` is ``adv_optimizer`` (its update is *subtracted*, so a
    descent optimizer ascends) and :math:`o` is ``optimizer``. The paper's
    SAM is ``k = 2`` with :math:`a` a normalized gradient step of length
    :math:`\\rho`: ``chain(normalize_by_update_norm(eps=0.0), sgd(rho))``, which
    is Optax's ``chain(optax.contrib.normalize(), optax.sgd(rho))``.

    In the default (transparent) mode each call performs one of these steps
    and returns the matching update, so the caller's parameters visit the
    adversarial points; the true parameters are kept in ``state.cache`` and the
    outer step's update jumps back to them. With ``opaque_mode=True`` one call
    runs the whole cycle, calling ``grad_fn(params, i)`` (a keyword argument of
    ``update``) for the :math:`k-1` inner gradients, and the caller only sees
    outer steps. Other extra keyword arguments reach both optimizers.

    .. warning::
      With ``sync_period=1`` this is the outer optimizer alone. Optax 0.2.8's
      transparent mode hands the outer optimizer the previous call's cached
      parameters there (and so steps from stale parameters); optjax refreshes
      the cache first. For ``sync_period >= 2`` the two agree step for step.

    Args:
      optimizer: the outer optimizer :math:`o`.
      adv_optimizer: the adversarial optimizer :math:`a`.
      sync_period: :math:`k \\ge 1`, calls per cycle (2: one adversarial and one
        outer step, as in the paper).
      reset_state: re-initialize ``adv_optimizer``'s state after every outer
        step; otherwise its state carries over (and is not advanced by the
        outer step's call).
      opaque_mode: run the whole cycle inside one call (needed when the
        gradient evaluation has side effects such as BatchNorm statistics).
      batch_axis_name: in opaque mode under ``pmap``/``shard_map``, the axis
        over which to average the inner gradients with ``lax.pmean``.

    Returns:
      A gradient transformation with a :class:`SAMState`; ``update`` needs
      ``params``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda p: jnp.sum(p**2)
      >>> adv = optjax.chain(optjax.normalize_by_update_norm(eps=0.0), optjax.sgd(0.1))
      >>> solver = optjax.sam(optjax.sgd(0.1), adv)
      >>> params = jnp.array([1.0, 2.0])
      >>> state = solver.init(params)
      >>> for _ in range(4):  # two adversarial and two outer steps
      ...     updates, state = solver.update(jax.grad(f)(params), state, params)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(params.round(4))
      [0.6239 1.2478]

    References:
      Foret, Kleiner, Mobahi & Neyshabur, *Sharpness-Aware Minimization for
      Efficiently Improving Generalization*, ICLR 2021,
      https://arxiv.org/abs/2010.01412
    """
    _checks.check_positive_int("sync_period", sync_period, where="sam")
    optimizer = with_extra_args_support(optimizer)
    adv_optimizer = with_extra_args_support(adv_optimizer)

    def init_fn(params):
        return SAMState(
            steps_since_sync=jnp.zeros([], jnp.int32),
            opt_state=optimizer.init(params),
            adv_state=adv_optimizer.init(params),
            cache=None if opaque_mode else params,
        )

    def transparent_update(updates, state, params, grad_fn=None, **extra_args):
        del grad_fn
        first_step = state.steps_since_sync == 0
        last_step = state.steps_since_sync == sync_period - 1
        # The true parameters: this call's on the first step of a cycle.
        cache = _select(first_step, params, state.cache)

        adv_updates, adv_state = adv_optimizer.update(
            updates, state.adv_state, params, **extra_args
        )
        adv_updates = _negate(adv_updates)
        opt_updates, opt_state = optimizer.update(updates, state.opt_state, cache, **extra_args)
        # Jump back to the true parameters, then take the outer step.
        opt_updates = jax.tree.map(lambda c, p, u: c - p + u, cache, params, opt_updates)

        new_updates = _select(last_step, opt_updates, adv_updates)
        if reset_state:
            adv_state = _select(last_step, adv_optimizer.init(params), adv_state)
        else:
            adv_state = _select(last_step, state.adv_state, adv_state)
        opt_state = _select(last_step, opt_state, state.opt_state)
        return new_updates, SAMState(
            steps_since_sync=(state.steps_since_sync + 1) % sync_period,
            opt_state=opt_state,
            adv_state=adv_state,
            cache=cache,
        )

    def opaque_update(updates, state, params, grad_fn=None, **extra_args):
        if grad_fn is None:
            raise ValueError(
                "sam: opaque_mode=True needs update(..., grad_fn=f), where f(params, i) "
                "returns the gradients at params for adversarial step i."
            )
        adv_params, grads, adv_state = params, updates, state.adv_state
        for i in range(sync_period - 1):
            adv_updates, adv_state = adv_optimizer.update(
                grads, adv_state, adv_params, **extra_args
            )
            adv_params = apply_updates(adv_params, _negate(adv_updates))
            grads = grad_fn(adv_params, i)
            if batch_axis_name is not None:
                grads = jax.lax.pmean(grads, axis_name=batch_axis_name)
            grads = _tree.cast_like(grads, updates)
        if reset_state:
            adv_state = adv_optimizer.init(params)
        new_updates, opt_state = optimizer.update(grads, state.opt_state, params, **extra_args)
        return new_updates, SAMState(
            steps_since_sync=jnp.zeros([], jnp.int32),
            opt_state=opt_state,
            adv_state=adv_state,
            cache=None,
        )

    chosen: Callable[..., Any] = opaque_update if opaque_mode else transparent_update

    def update_fn(updates, state, params=None, **extra_args):
        return chosen(updates, state, params, **extra_args)

    return transformation(init_fn, update_fn, name="sam", needs_params=True)
