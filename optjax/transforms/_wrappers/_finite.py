"""Robustness to non-finite gradients: skip a bad step instead of applying it."""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax._base import GradientTransformationExtraArgs, with_extra_args_support
from optjax.tree import _math as _tree


def _check_max_errors(value: Any) -> None:
    """``max_consecutive_errors`` must be an integer >= 0 (integer arrays pass)."""
    if isinstance(value, bool):
        ok = False
    elif isinstance(value, numbers.Integral):
        ok = value >= 0
    elif hasattr(value, "dtype"):
        ok = jnp.issubdtype(value.dtype, jnp.integer)
    else:
        ok = False
    if not ok:
        raise ValueError(
            f"apply_if_finite: max_consecutive_errors must be an integer >= 0, got {value!r}."
        )


def all_finite(tree: Any) -> jax.Array:
    """A boolean scalar: True iff every element of every leaf is finite."""
    checks = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]
    if not checks:
        return jnp.array(True)
    return jnp.all(jnp.stack(checks))


def check_updates(updates: Any, params: Any, *, where: str) -> None:
    """The contract's input checks, for wrappers that do not go through ``transformation``."""
    _tree.check_inexact(updates, what="updates", where=where)
    if params is not None:
        _tree.check_same_structure(params, updates, "params", "updates", where=where)


class ApplyIfFiniteState(NamedTuple):
    """State of :func:`apply_if_finite`: skip counters and the inner state."""

    notfinite_count: Any
    last_finite: Any
    total_notfinite: Any
    inner_state: Any


def apply_if_finite(inner: Any, max_consecutive_errors: int) -> GradientTransformationExtraArgs:
    """Skips steps whose gradients hold a NaN or an Inf, up to a limit.

    With :math:`c_t` the number of consecutive non-finite steps so far and
    :math:`M` = ``max_consecutive_errors``:

    .. math::

        c_t = \\begin{cases} 0 & g_t \\text{ finite} \\\\
              c_{t-1} + 1 & \\text{otherwise} \\end{cases}, \\qquad
        (u_t, s_t) = \\begin{cases} T(g_t, s_{t-1}) & g_t \\text{ finite or } c_t > M \\\\
              (0, s_{t-1}) & \\text{otherwise} \\end{cases}

    and :math:`c_t` is reset to 0 on a step that gives up (:math:`c_t > M`).
    A skipped step returns zero updates (in the gradients' dtype) and leaves
    the inner state exactly as it was; the inner update does not run at all
    (``lax.cond``). ``total_notfinite`` counts every non-finite step and is
    never reset.

    .. warning::

       Optax 0.2.8 never resets ``notfinite_count`` when it gives up: once
       :math:`M` consecutive steps have been skipped, every further non-finite
       step is applied until a finite one arrives. Here the give-up step resets
       the count, so a long run of non-finite gradients is applied only once
       every :math:`M + 1` steps and skipped otherwise (the fix proposed in
       Optax pull request #1746). On trajectories without non-finite gradients
       both libraries agree exactly.

    Args:
      inner: the transform to protect.
      max_consecutive_errors: how many consecutive non-finite steps to skip
        before giving up and applying one (0 never skips).

    Returns:
      A gradient transformation with an :class:`ApplyIfFiniteState`.

    Raises:
      ValueError: if ``max_consecutive_errors`` is not an integer >= 0.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.apply_if_finite(optjax.sgd(0.1), max_consecutive_errors=2)
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> state = tx.init(params)
      >>> updates, state = tx.update({"w": jnp.array([jnp.nan, 1.0])}, state, params)
      >>> updates["w"], state.notfinite_count, state.total_notfinite
      (Array([0., 0.], dtype=float32), Array(1, dtype=int32), Array(1, dtype=int32))

    References:
      Optax's ``apply_if_finite``,
      https://optax.readthedocs.io/en/latest/api/transformations.html ;
      the counter fix, https://github.com/google-deepmind/optax/pull/1746
    """
    _check_max_errors(max_consecutive_errors)
    inner = with_extra_args_support(inner)

    def init_fn(params):
        return ApplyIfFiniteState(
            notfinite_count=jnp.zeros([], jnp.int32),
            last_finite=jnp.array(True, jnp.bool_),
            total_notfinite=jnp.zeros([], jnp.int32),
            inner_state=inner.init(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        check_updates(updates, params, where="apply_if_finite")
        finite = all_finite(updates)
        streak = jnp.where(
            finite, jnp.zeros([], jnp.int32), _tree.safe_increment(state.notfinite_count)
        )
        give_up = streak > max_consecutive_errors
        apply = jnp.logical_or(finite, give_up)

        def do_update(inner_state):
            new_updates, new_state = inner.update(updates, inner_state, params, **extra_args)
            return _tree.cast_like(new_updates, updates), _tree.cast_like(new_state, inner_state)

        def skip_update(inner_state):
            return _tree.zeros_like(updates), inner_state

        new_updates, inner_state = jax.lax.cond(apply, do_update, skip_update, state.inner_state)
        return new_updates, ApplyIfFiniteState(
            notfinite_count=jnp.where(give_up, jnp.zeros([], jnp.int32), streak),
            last_finite=finite,
            total_notfinite=jnp.where(
                finite, state.total_notfinite, _tree.safe_increment(state.total_notfinite)
            ),
            inner_state=inner_state,
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)


def skip_not_finite(
    updates: Any,
    gradient_step: jax.typing.ArrayLike,
    params: Any | None,
) -> tuple[jax.Array, Any]:
    """Asks :class:`MultiSteps` to skip a micro-step whose updates hold a NaN or an Inf.

    .. math::

        \\text{skip} = \\Big(\\sum_i \\#\\{j : g_{ij} \\notin \\mathbb{R}\\} > 0\\Big)

    A ``should_skip_update_fn`` for :class:`optjax.MultiSteps`.

    Args:
      updates: the micro-step's updates.
      gradient_step: the current gradient step (unused).
      params: the parameters (unused).

    Returns:
      ``(should_skip, info)``: a boolean scalar, and a dict with
      ``should_skip`` and ``num_not_finite`` (the number of NaN and Inf
      elements, an int32 scalar), stored in ``MultiStepsState.skip_state``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> skip, info = optjax.skip_not_finite({"w": jnp.array([1.0, jnp.inf])}, 0, None)
      >>> skip, info["num_not_finite"]
      (Array(True, dtype=bool), Array(1, dtype=int32))
    """
    del gradient_step, params
    counts = [jnp.sum(jnp.logical_not(jnp.isfinite(x))) for x in jax.tree.leaves(updates)]
    num_not_finite = jnp.sum(jnp.stack(counts)) if counts else jnp.zeros([], jnp.int32)
    should_skip = num_not_finite > 0
    return should_skip, {"should_skip": should_skip, "num_not_finite": num_not_finite}


def skip_large_updates(
    updates: Any,
    gradient_step: jax.typing.ArrayLike,
    params: Any | None,
    max_squared_norm: jax.typing.ArrayLike,
) -> tuple[jax.Array, Any]:
    """Asks :class:`MultiSteps` to skip a micro-step whose squared norm is too large.

    .. math::

        \\text{skip} = \\lnot\\Big(\\sum_i \\|g_i\\|^2 < N_{\\max}\\Big)

    so a NaN norm is skipped too. A ``should_skip_update_fn`` for
    :class:`optjax.MultiSteps`; bind the threshold with ``functools.partial``.
    Complex leaves contribute :math:`|g|^2` (Optax sums :math:`g^2`, which is
    not a norm for complex numbers); real leaves match Optax exactly.

    Args:
      updates: the micro-step's updates.
      gradient_step: the current gradient step (unused).
      params: the parameters (unused).
      max_squared_norm: the largest squared global norm that is accepted
        (exclusive).

    Returns:
      ``(should_skip, info)``: a boolean scalar, and a dict with
      ``should_skip`` and ``norm_squared``, stored in
      ``MultiStepsState.skip_state``.

    Examples:
      >>> import functools
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> skip_fn = functools.partial(optjax.skip_large_updates, max_squared_norm=10.0)
      >>> skip, info = skip_fn({"w": jnp.array([3.0, 4.0])}, 0, None)
      >>> skip, info["norm_squared"]
      (Array(True, dtype=bool), Array(25., dtype=float32))
    """
    del gradient_step, params
    squares = [jnp.sum(_tree.abs_sq(x)) for x in jax.tree.leaves(updates)]
    norm_squared = jnp.sum(jnp.stack(squares)) if squares else jnp.zeros([], jnp.float32)
    should_skip = jnp.logical_not(norm_squared < max_squared_norm)
    return should_skip, {"should_skip": should_skip, "norm_squared": norm_squared}
