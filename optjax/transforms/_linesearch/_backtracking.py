"""Backtracking (Armijo) line search."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, transformation
from optjax.transforms._linesearch._common import (
    _errors_to_inf,
    _print_if,
    _require,
    _scalar_dtype,
    _slope,
    _split_fn_kwargs,
)
from optjax.tree import _math as _tree


class BacktrackingLinesearchInfo(NamedTuple):
    """Diagnostics of one backtracking search.

    Attributes:
      num_linesearch_steps: number of objective evaluations.
      decrease_error: violation of the sufficient decrease criterion at the
        returned step size (0 when satisfied).
    """

    num_linesearch_steps: jax.Array
    decrease_error: jax.Array


class ScaleByBacktrackingLinesearchState(NamedTuple):
    """State of :func:`scale_by_backtracking_linesearch` (Optax's field names).

    Attributes:
      learning_rate: the accepted step size.
      value: the objective at the accepted point (``inf`` before the first step).
      grad: the gradient at the accepted point when ``store_grad=True``, else
        ``None``.
      info: a :class:`BacktrackingLinesearchInfo`.
    """

    learning_rate: jax.Array
    value: jax.Array
    grad: Any
    info: BacktrackingLinesearchInfo


class _BacktrackCarry(NamedTuple):
    learning_rate: jax.Array
    value: jax.Array
    grad: Any
    decrease_error: jax.Array
    iter_num: jax.Array


def scale_by_backtracking_linesearch(
    max_backtracking_steps: jax.typing.ArrayLike,
    slope_rtol: jax.typing.ArrayLike = 1e-4,
    decrease_factor: jax.typing.ArrayLike = 0.8,
    increase_factor: jax.typing.ArrayLike = 1.5,
    max_learning_rate: jax.typing.ArrayLike = 1.0,
    atol: jax.typing.ArrayLike = 0.0,
    rtol: jax.typing.ArrayLike = 0.0,
    store_grad: bool = False,
    verbose: bool = False,
) -> GradientTransformationExtraArgs:
    """Scales the direction by a step size found by backtracking (Armijo).

    Starting from :math:`\\eta = \\min(\\kappa_+ \\eta_{\\text{prev}},
    \\eta_{\\max})`, the step size is multiplied by :math:`\\kappa_-`
    (``decrease_factor``) until the sufficient decrease criterion holds:

    .. math::

        f(w + \\eta u) \\le (1 + \\delta) f(w)
        + c\\, \\eta \\langle \\nabla f(w), u\\rangle + \\epsilon,
        \\qquad u_{\\text{out}} = \\eta\\, u,

    with :math:`c` = ``slope_rtol``, :math:`\\delta` = ``rtol`` and
    :math:`\\epsilon` = ``atol``. At most ``max_backtracking_steps``
    reductions are tried; if every trial value is NaN or infinite, the step
    size is 0 (no move). ``u`` must be a descent direction,
    :math:`\\langle \\nabla f(w), u\\rangle < 0`, for the criterion to be
    satisfiable.

    Args:
      max_backtracking_steps: maximum number of step-size reductions.
      slope_rtol: :math:`c`, the fraction of the linear decrease required.
      decrease_factor: :math:`\\kappa_-` in (0, 1).
      increase_factor: :math:`\\kappa_+`, growth of the first trial over the
        previous accepted step size (1 keeps it, ``inf`` restarts at the max).
      max_learning_rate: :math:`\\eta_{\\max}`.
      atol: :math:`\\epsilon`.
      rtol: :math:`\\delta`.
      store_grad: also compute the gradient at the accepted point and keep it
        in the state, for :func:`value_and_grad_from_state`.
      verbose: print a diagnostic when the search fails.

    Returns:
      A gradient transformation whose ``update`` takes ``value``, ``grad`` and
      ``value_fn`` keyword arguments; other keyword arguments go to
      ``value_fn``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda w: jnp.sum(w ** 2)
      >>> tx = optjax.chain(optjax.sgd(1.0),
      ...                   optjax.scale_by_backtracking_linesearch(15))
      >>> w = jnp.array([1.0, 2.0])
      >>> state = tx.init(w)
      >>> value, grad = jax.value_and_grad(f)(w)
      >>> u, state = tx.update(grad, state, w, value=value, grad=grad, value_fn=f)
      >>> print(f"{state[-1].learning_rate:.3f}", optjax.apply_updates(w, u).round(3))
      0.800 [-0.6 -1.2]

    References:
      Nocedal & Wright, `Numerical Optimization
      <https://doi.org/10.1007/978-0-387-40065-5>`_, 2006, Algorithm 3.1.

      Vaswani et al., `Painless Stochastic Gradient
      <https://arxiv.org/abs/1905.09997>`_, 2019.
    """
    where = "scale_by_backtracking_linesearch"
    _checks.check_in_interval(
        "decrease_factor", decrease_factor, 0.0, 1.0, closed_low=False, where=where
    )
    _checks.check_in_interval("slope_rtol", slope_rtol, 0.0, 1.0, where=where)
    _checks.check_positive("max_learning_rate", max_learning_rate, where=where)
    _checks.check_non_negative("max_backtracking_steps", max_backtracking_steps, where=where)

    def init_fn(params):
        dtype = _scalar_dtype(params)
        return ScaleByBacktrackingLinesearchState(
            learning_rate=jnp.asarray(1.0, dtype),
            value=jnp.asarray(jnp.inf, dtype),
            grad=_tree.zeros_like(params) if store_grad else None,
            info=BacktrackingLinesearchInfo(
                num_linesearch_steps=jnp.asarray(0),
                decrease_error=jnp.asarray(jnp.inf, dtype),
            ),
        )

    def update_fn(updates, state, params, *, value=None, grad=None, value_fn=None, **extra):
        _require(where, value, value_fn, grad)
        fn_kwargs = _split_fn_kwargs(value_fn, extra, where)
        # The init dtype, not the state's: a user may set learning_rate to a Python float.
        dtype = _scalar_dtype(params)
        value = jnp.asarray(value).astype(dtype)
        slope = _slope(updates, grad).astype(dtype)

        def objective(w):
            return jnp.asarray(value_fn(w, **fn_kwargs)).astype(dtype)

        def decrease_error(lr, new_value):
            return _errors_to_inf(new_value - (1.0 + rtol) * value - lr * slope_rtol * slope)

        def keep_going(carry):
            return (carry.decrease_error > atol) & (carry.iter_num <= max_backtracking_steps)

        def body(carry):
            lr = jnp.where(carry.iter_num > 0, decrease_factor * carry.learning_rate,
                           carry.learning_rate)  # fmt: skip
            lr = lr.astype(dtype)
            trial = _tree.add_scale(params, lr, updates)
            if store_grad:
                new_value, pullback = jax.vjp(objective, trial)
                error = decrease_error(lr, new_value)
                last = (error <= atol) | (carry.iter_num == max_backtracking_steps)
                new_grad = jax.lax.cond(
                    last,
                    lambda: _tree.cast_like(pullback(jnp.ones((), dtype))[0], carry.grad),
                    lambda: carry.grad,
                )
            else:
                new_value = objective(trial)
                error = decrease_error(lr, new_value)
                new_grad = carry.grad
            return _BacktrackCarry(lr, new_value, new_grad, error.astype(dtype),
                                   carry.iter_num + 1)  # fmt: skip

        first_lr = jnp.minimum(increase_factor * state.learning_rate, max_learning_rate)
        carry = _BacktrackCarry(
            learning_rate=jnp.asarray(first_lr, dtype),
            value=value,
            grad=_tree.zeros_like(params) if store_grad else None,
            decrease_error=jnp.asarray(jnp.inf, dtype),
            iter_num=jnp.asarray(0),
        )
        carry = jax.lax.while_loop(keep_going, body, carry)
        # Only NaN/inf trials: do not move.
        lr = jnp.where(jnp.isinf(carry.decrease_error), 0.0, carry.learning_rate).astype(dtype)
        if verbose:
            _print_if(
                carry.decrease_error > atol,
                "scale_by_backtracking_linesearch: no step size with sufficient decrease "
                "found (value {value}, slope {slope}, step size {lr}, decrease error {err}).",
                value=value,
                slope=slope,
                lr=lr,
                err=carry.decrease_error,
            )
        new_state = ScaleByBacktrackingLinesearchState(
            learning_rate=lr,
            value=carry.value,
            grad=carry.grad,
            info=BacktrackingLinesearchInfo(carry.iter_num, carry.decrease_error),
        )
        return _tree.scale(lr, updates), new_state

    return transformation(init_fn, update_fn, name=where, needs_params=True)
