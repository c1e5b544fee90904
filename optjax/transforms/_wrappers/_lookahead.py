"""Lookahead: a fast optimizer explores, slow weights follow every k steps."""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, OptState, with_extra_args_support
from optjax.tree import _math as _tree


class LookaheadState(NamedTuple):
    """State of :func:`lookahead`: the fast optimizer's state and the steps since the last sync."""

    fast_state: OptState
    steps_since_sync: jax.Array


class LookaheadParams(NamedTuple):
    """The two copies of the parameters that :func:`lookahead` maintains.

    Compute gradients at ``fast``; evaluate (and deploy) ``slow``.
    """

    fast: Any
    slow: Any

    @classmethod
    def init_synced(cls, params: Any) -> LookaheadParams:
        """Returns fast and slow parameters that both start at ``params``."""
        return cls(fast=params, slow=params)


def _is_pair(params: Any) -> bool:
    return hasattr(params, "fast") and hasattr(params, "slow") and hasattr(params, "_replace")


def _check_sync_period(sync_period: Any) -> None:
    if isinstance(sync_period, jax.core.Tracer):
        return
    if isinstance(sync_period, (bool, np.bool_)):
        raise ValueError(f"lookahead: sync_period must be an integer >= 1, got {sync_period!r}.")
    if isinstance(sync_period, numbers.Integral):
        value = int(sync_period)
    elif isinstance(sync_period, (np.ndarray, jax.Array)) and np.shape(sync_period) == ():
        if not jnp.issubdtype(sync_period.dtype, jnp.integer):
            raise ValueError(
                f"lookahead: sync_period must be an integer >= 1, got dtype {sync_period.dtype}."
            )
        value = int(sync_period)
    else:
        raise ValueError(f"lookahead: sync_period must be an integer >= 1, got {sync_period!r}.")
    if value < 1:
        raise ValueError(f"lookahead: sync_period must be an integer >= 1, got {sync_period!r}.")


def lookahead(
    fast_optimizer: Any,
    sync_period: jax.typing.ArrayLike,
    slow_step_size: jax.typing.ArrayLike,
    reset_state: bool = False,
) -> GradientTransformationExtraArgs:
    """Lookahead: every ``sync_period`` steps, slow weights move toward the fast ones.

    .. math::

        \\phi_{t+1} = \\phi_t + \\alpha\\,(\\theta_{t,k} - \\phi_t), \\qquad
        \\theta_{t+1,0} = \\phi_{t+1}

    where :math:`\\theta_{t,i}` are the fast weights after :math:`i` fast steps,
    :math:`\\phi` the slow weights, :math:`k` = ``sync_period`` and
    :math:`\\alpha` = ``slow_step_size``. Both nested loops are folded into one
    update per step: on a synchronizing step the fast update jumps the fast
    weights to the new slow weights, otherwise the slow update is zero.

    The parameters are a :class:`LookaheadParams` pair. Gradients are taken at
    ``params.fast``, ``update(grads, state, params)`` needs ``params``, and it
    returns a ``LookaheadParams`` of updates to pass unchanged to
    :func:`optjax.apply_updates`. Extra keyword arguments reach the fast
    optimizer.

    Args:
      fast_optimizer: the inner optimizer that moves the fast weights.
      sync_period: :math:`k`, the number of fast steps between
        synchronizations (an integer >= 1).
      slow_step_size: :math:`\\alpha`, in [0, 1].
      reset_state: re-initialize the fast optimizer's state (from the fast
        weights before the step) after every synchronization.

    Returns:
      A gradient transformation with a :class:`LookaheadState`; its ``init``
      takes a ``LookaheadParams`` (or the fast parameters alone).

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.lookahead(optjax.sgd(0.1), sync_period=2, slow_step_size=0.5)
      >>> params = optjax.LookaheadParams.init_synced(jnp.array([1.0]))
      >>> state = tx.init(params)
      >>> for _ in range(2):
      ...     grads = jax.grad(lambda p: jnp.sum(p**2))(params.fast)
      ...     updates, state = tx.update(grads, state, params)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(params.slow.round(4), params.fast.round(4))
      [0.82] [0.82]

    References:
      Zhang, Lucas, Hinton & Ba, *Lookahead Optimizer: k steps forward, 1 step
      back*, NeurIPS 2019, https://arxiv.org/abs/1907.08610
    """
    _check_sync_period(sync_period)
    _checks.check_in_interval(
        "slow_step_size", slow_step_size, 0.0, 1.0, closed_high=True, where="lookahead"
    )
    fast_optimizer = with_extra_args_support(fast_optimizer)

    def init_fn(params):
        # The fast parameters alone are accepted too, so that code that only
        # knows the model's parameters can build the state.
        fast_params = params.fast if _is_pair(params) else params
        return LookaheadState(
            fast_state=fast_optimizer.init(fast_params),
            steps_since_sync=jnp.zeros([], jnp.int32),
        )

    def update_fn(updates, state, params=None, **extra_args):
        if not _is_pair(params):
            raise ValueError(
                "lookahead: update needs the LookaheadParams(fast, slow) pair as params, "
                f"got {type(params).__name__}. Start from "
                "optjax.LookaheadParams.init_synced(params)."
            )
        _tree.check_same_structure(
            params.fast, updates, "params.fast", "updates", where="lookahead"
        )
        fast_updates, fast_state = fast_optimizer.update(
            updates, state.fast_state, params.fast, **extra_args
        )
        sync_next = state.steps_since_sync == (sync_period - 1)
        new_updates = _lookahead_updates(fast_updates, sync_next, params, slow_step_size)
        # Same pair class as params (Optax's LookaheadParams works too).
        new_updates = type(params)(
            fast=_tree.cast_like(new_updates.fast, updates),
            slow=_tree.cast_like(new_updates.slow, params.slow),
        )
        if reset_state:
            fresh = fast_optimizer.init(params.fast)
            # A select rather than Optax's 0/1 blend: the same values, but
            # non-finite moments and PRNG keys are reset cleanly too.
            fast_state = jax.tree.map(
                lambda current, initial: jnp.where(sync_next, initial, current),
                fast_state,
                fresh,
            )
        steps_since_sync = (state.steps_since_sync + 1) % sync_period
        return new_updates, LookaheadState(
            fast_state=fast_state,
            steps_since_sync=jnp.asarray(steps_since_sync, jnp.int32),
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)


def _lookahead_updates(
    updates: Any, sync_next: jax.Array, params: Any, slow_step_size: Any
) -> LookaheadParams:
    """One merged lookahead step.

    With :math:`d = \\theta + u - \\phi` (the fast weights after this step,
    minus the slow ones), a synchronizing step moves the slow weights by
    :math:`\\alpha d` and the fast weights by :math:`u - (1 - \\alpha) d`, which
    lands them on the new slow weights; other steps leave the slow weights and
    the fast updates alone.
    """
    difference = _tree.map(
        lambda fast, u, slow: fast + u - slow,
        params.fast,
        updates,
        params.slow,
        names=("params.fast", "updates", "params.slow"),
        where="lookahead",
    )
    slow_updates = jax.tree.map(lambda d: slow_step_size * sync_next * d, difference)
    fast_updates = jax.tree.map(
        lambda u, d: u - sync_next * (1 - slow_step_size) * d, updates, difference
    )
    return LookaheadParams(fast=fast_updates, slow=slow_updates)
