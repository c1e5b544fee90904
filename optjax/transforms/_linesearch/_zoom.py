"""Zoom line search: a step that satisfies the strong Wolfe conditions."""

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

# Optax's diagnostic sentences, verbatim: with ``verbose=True`` the reason a
# search stopped early is printed with them, so that output filters (and
# Optax's own tests) written against Optax's messages keep matching.
FLAG_INTERVAL_NOT_FOUND = (
    "No interval satisfying curvature condition. "
    "Consider increasing maximal possible stepsize of the linesearch."
)
FLAG_INTERVAL_TOO_SMALL = "Length of searched interval has been reduced below threshold."
FLAG_CURVATURE_COND_NOT_SATISFIED = (
    "Returning stepsize with sufficient decrease but curvature condition not satisfied."
)
FLAG_NO_STEPSIZE_FOUND = "Linesearch failed, no stepsize satisfying sufficient decrease found."
FLAG_NOT_A_DESCENT_DIRECTION = (
    "The linesearch failed because the provided direction is not a descent direction. "
)


class ZoomLinesearchInfo(NamedTuple):
    """Diagnostics of one zoom search.

    Attributes:
      num_linesearch_steps: number of objective evaluations.
      decrease_error: violation of the sufficient decrease criterion at the
        returned step size (0 when satisfied).
      curvature_error: violation of the curvature criterion (0 when satisfied;
        a positive value is benign when ``max_learning_rate`` capped the step).
    """

    num_linesearch_steps: jax.Array
    decrease_error: jax.Array
    curvature_error: jax.Array


class ScaleByZoomLinesearchState(NamedTuple):
    """State of :func:`scale_by_zoom_linesearch` (Optax's field names).

    Attributes:
      learning_rate: the accepted step size.
      value: the objective at the accepted point (``inf`` before the first step).
      grad: the gradient at the accepted point.
      info: a :class:`ZoomLinesearchInfo`.
    """

    learning_rate: jax.Array
    value: jax.Array
    grad: Any
    info: ZoomLinesearchInfo


class _Point(NamedTuple):
    """A trial step size with the objective's value and slope there."""

    step: jax.Array
    value: jax.Array
    slope: jax.Array


class _ZoomCarry(NamedTuple):
    count: jax.Array
    current: _Point  # the last trial
    grad: Any  # gradient at the last trial
    decrease_error: jax.Array
    curvature_error: jax.Array
    bracketed: jax.Array  # phase 2 (zoom) once True
    done: jax.Array
    failed: jax.Array
    low: _Point  # Nocedal & Wright's alpha_lo: lowest value seen, f'(lo)(hi - lo) < 0
    high: _Point  # alpha_hi
    ref: _Point  # third point for the cubic interpolant
    safe: _Point  # best step with sufficient decrease only (a fallback)
    safe_grad: Any


def _cubic_minimizer(a, fa, dfa, b, fb, c, fc):
    """Critical point of the cubic through (a, fa), (b, fb), (c, fc) with slope dfa at a.

    Writes :math:`p(x) = A (x-a)^3 + B (x-a)^2 + f'_a (x-a) + f_a`, solves the
    2x2 system for :math:`A, B` and returns
    :math:`a + (-B + \\sqrt{B^2 - 3 A f'_a}) / (3A)` (NaN when there is none).
    """
    db, dc = b - a, c - a
    rb = fb - fa - dfa * db
    rc = fc - fa - dfa * dc
    denom = (db * dc) ** 2 * (db - dc)
    # Cramer's rule for [A, B] as one 2x2 product, at full precision.
    inverse = jnp.array([[dc**2, -(db**2)], [-(dc**3), db**3]])
    cubic, quad = jnp.dot(inverse, jnp.array([rb, rc]), precision=jax.lax.Precision.HIGHEST) / denom
    return a + (-quad + jnp.sqrt(quad * quad - 3.0 * cubic * dfa)) / (3.0 * cubic)


def _quadratic_minimizer(a, fa, dfa, b, fb):
    """Critical point of the quadratic through (a, fa), (b, fb) with slope dfa at a."""
    db = b - a
    curvature = (fb - fa - dfa * db) / (db * db)
    return a - dfa / (2.0 * curvature)


def scale_by_zoom_linesearch(
    max_linesearch_steps: jax.typing.ArrayLike,
    max_learning_rate: jax.typing.ArrayLike | None = None,
    tol: jax.typing.ArrayLike = 0.0,
    increase_factor: jax.typing.ArrayLike = 2.0,
    slope_rtol: jax.typing.ArrayLike = 1e-4,
    curv_rtol: jax.typing.ArrayLike = 0.9,
    approx_dec_rtol: jax.typing.ArrayLike | None = 1e-6,
    stepsize_precision: jax.typing.ArrayLike = 1e-5,
    initial_guess_strategy: str = "keep",
    verbose: bool = False,
) -> GradientTransformationExtraArgs:
    """Scales the direction by a step size satisfying the strong Wolfe conditions.

    With :math:`\\phi(\\eta) = f(w + \\eta u)`, the search looks for

    .. math::

        \\phi(\\eta) \\le \\phi(0) + c_1 \\eta \\phi'(0) + \\epsilon
        \\quad \\text{(sufficient decrease)}, \\qquad
        |\\phi'(\\eta)| \\le c_2 |\\phi'(0)| + \\epsilon
        \\quad \\text{(curvature)},

    and returns :math:`u_{\\text{out}} = \\eta u`, with :math:`c_1` =
    ``slope_rtol``, :math:`c_2` = ``curv_rtol`` and :math:`\\epsilon` = ``tol``.
    Phase 1 (Nocedal & Wright, Algorithm 3.5) tries
    :math:`\\eta_0, \\kappa \\eta_0, \\kappa^2 \\eta_0, \\ldots` (``increase_factor``
    :math:`\\kappa`, capped at ``max_learning_rate``) until an interval
    :math:`[\\eta_{lo}, \\eta_{hi}]` is known to contain an acceptable step.
    Phase 2 (Algorithm 3.6, "zoom") shrinks that interval, trying the minimizer
    of a cubic interpolant, else of a quadratic one, else the midpoint (each
    interpolant is used only if it falls well inside the interval).

    Near a minimizer, sufficient decrease cannot be measured below
    :math:`\\sqrt{\\varepsilon_{\\text{mach}}}`; with ``approx_dec_rtol``
    :math:`= c_3` set, Hager & Zhang's approximate criterion
    :math:`\\phi'(\\eta) \\le (2 c_1 - 1)\\phi'(0)` is also accepted when
    :math:`\\phi(\\eta) \\le \\phi(0) + c_3 |\\phi(0)|`. If no step meets both
    conditions within ``max_linesearch_steps`` evaluations (or the interval
    shrinks below ``stepsize_precision``), the best step with sufficient
    decrease seen is returned; failing that, the last trial.

    The first trial is 1 (``initial_guess_strategy="one"``, right for
    quasi-Newton directions) or the previous accepted step size (``"keep"``,
    right for gradient directions). The value and gradient at the accepted
    point are kept in the state (see :func:`value_and_grad_from_state`).

    Args:
      max_linesearch_steps: maximum number of objective evaluations.
      max_learning_rate: largest step size tried, ``None`` for no cap.
      tol: :math:`\\epsilon`, slack on both criteria.
      increase_factor: :math:`\\kappa > 1`, growth of the trials in phase 1.
      slope_rtol: :math:`c_1 \\in (0, 1)`.
      curv_rtol: :math:`c_2 \\in (c_1, \\infty]`; ``inf`` turns the search into
        an interpolating backtracking search (sufficient decrease only).
      approx_dec_rtol: :math:`c_3`, or ``None`` for the plain Armijo criterion.
      stepsize_precision: interval length below which the search stops with
        the best sufficient-decrease step.
      initial_guess_strategy: ``"one"`` or ``"keep"``.
      verbose: print a diagnostic when the search fails.

    Returns:
      A gradient transformation whose ``update`` takes ``value``, ``grad`` and
      ``value_fn`` keyword arguments; other keyword arguments go to
      ``value_fn``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda w: jnp.sum(jnp.array([1.0, 4.0]) * w ** 2)
      >>> tx = optjax.chain(optjax.sgd(1.0), optjax.scale_by_zoom_linesearch(15))
      >>> w = jnp.array([1.0, 1.0])
      >>> state = tx.init(w)
      >>> value, grad = jax.value_and_grad(f)(w)
      >>> u, state = tx.update(grad, state, w, value=value, grad=grad, value_fn=f)
      >>> print(f"{state[-1].learning_rate:.4f}", f"{f(w + u):.4f}")
      0.1308 0.5538

    References:
      Nocedal & Wright, `Numerical Optimization
      <https://doi.org/10.1007/978-0-387-40065-5>`_, 2006, Algorithms 3.5 and 3.6.

      Hager & Zhang, `Algorithm 851: CG_DESCENT
      <https://doi.org/10.1145/1132973.1132979>`_, 2006 (approximate Wolfe).

    .. warning::
      The scalars of the search (step sizes, values, slopes) are kept in at
      least float32, also for bfloat16 parameters (Optax keeps them in the
      parameters' dtype).
    """
    where = "scale_by_zoom_linesearch"
    _checks.check_choice(
        "initial_guess_strategy", initial_guess_strategy, ("one", "keep"), where=where
    )
    _checks.check_positive("max_linesearch_steps", max_linesearch_steps, where=where)
    _checks.check_in_interval("slope_rtol", slope_rtol, 0.0, 1.0, closed_low=False, where=where)
    _checks.check_non_negative("tol", tol, where=where)
    _checks.check_in_interval(
        "increase_factor", increase_factor, 1.0, float("inf"), closed_low=False, where=where
    )
    if max_learning_rate is not None:
        _checks.check_positive("max_learning_rate", max_learning_rate, where=where)
    if approx_dec_rtol is not None:
        _checks.check_non_negative("approx_dec_rtol", approx_dec_rtol, where=where)
    c1, c2 = _checks._concrete(slope_rtol), _checks._concrete(curv_rtol)
    if c1 is not None and c2 is not None and not c1 < c2:
        raise ValueError(
            f"{where}: need 0 < slope_rtol < curv_rtol (c1 < c2 in the Wolfe "
            f"conditions), got slope_rtol={slope_rtol!r}, curv_rtol={curv_rtol!r}."
        )

    def init_fn(params):
        dtype = _scalar_dtype(params)
        return ScaleByZoomLinesearchState(
            learning_rate=jnp.asarray(1.0, dtype),
            value=jnp.asarray(jnp.inf, dtype),
            grad=_tree.zeros_like(params),
            info=ZoomLinesearchInfo(
                num_linesearch_steps=jnp.asarray(0),
                decrease_error=jnp.asarray(jnp.inf, dtype),
                curvature_error=jnp.asarray(jnp.inf, dtype),
            ),
        )

    def update_fn(updates, state, params, *, value=None, grad=None, value_fn=None, **extra):
        _require(where, value, value_fn, grad)
        fn_kwargs = _split_fn_kwargs(value_fn, extra, where)
        # The init dtype, not the state's: a user may set learning_rate to a Python float.
        dtype = _scalar_dtype(params)
        as_scalar = lambda x: jnp.asarray(x).astype(dtype)  # noqa: E731
        grad = _tree.cast_like(grad, params)
        value0 = as_scalar(value)
        slope0 = as_scalar(_slope(updates, grad))
        value_and_grad = jax.value_and_grad(lambda w: value_fn(w, **fn_kwargs))

        def evaluate(step):
            """phi(step), its gradient in w, and phi'(step)."""
            new_value, new_grad = value_and_grad(_tree.add_scale(params, step, updates))
            new_grad = _tree.cast_like(new_grad, params)
            return as_scalar(new_value), new_grad, as_scalar(_slope(updates, new_grad))

        def criteria(step, new_value, new_slope):
            armijo = new_value - value0 - slope_rtol * step * slope0
            if approx_dec_rtol is not None:
                # Hager & Zhang's approximate Wolfe, only close to the initial value.
                approx = jnp.maximum(
                    new_slope - (2.0 * slope_rtol - 1.0) * slope0,
                    new_value - value0 - approx_dec_rtol * jnp.abs(value0),
                )
                armijo = jnp.minimum(armijo, approx)
            curvature = jnp.abs(new_slope) - curv_rtol * jnp.abs(slope0)
            return as_scalar(_errors_to_inf(armijo)), as_scalar(_errors_to_inf(curvature))

        def bracket(carry):
            """Algorithm 3.5: grow the trial until [lo, hi] brackets a good step."""
            prev = carry.current
            step = jnp.where(carry.count == 0, guess, increase_factor * prev.step)
            if max_learning_rate is None:
                capped = jnp.asarray(False)
            else:
                capped = step >= max_learning_rate
                step = jnp.minimum(step, max_learning_rate)
            step = as_scalar(step)
            new_value, new_grad, new_slope = evaluate(step)
            dec, curv = criteria(step, new_value, new_slope)
            good = jnp.maximum(dec, curv) <= tol
            new = _Point(step, new_value, new_slope)

            sufficient = dec <= tol
            safe, safe_grad = _tree.where(
                sufficient, (new, new_grad), (carry.safe, carry.safe_grad)
            )
            # Overshoot (no decrease, or higher than the previous trial): [prev, new].
            overshoot = (dec > 0.0) | ((new_value >= prev.value) & (carry.count > 0))
            # Slope turned non-negative with decrease: the minimum is behind, [new, prev].
            turned = (new_slope >= 0.0) & ~overshoot
            low, high = _tree.where(turned, (new, prev), (prev, new))
            bracketed = overshoot | turned | good
            done = good | (capped & ~bracketed)
            if verbose:
                _print_if(
                    capped & ~bracketed & ~good,
                    "scale_by_zoom_linesearch: step size capped at {step} (decrease error "
                    "{dec}, curvature error {curv}). "
                    + FLAG_INTERVAL_NOT_FOUND
                    + " "
                    + FLAG_CURVATURE_COND_NOT_SATISFIED,
                    step=step,
                    dec=dec,
                    curv=curv,
                )
            return carry._replace(
                current=new,
                grad=new_grad,
                decrease_error=dec,
                curvature_error=curv,
                bracketed=bracketed,
                done=done,
                low=low,
                high=high,
                ref=low,
                safe=safe,
                safe_grad=safe_grad,
            )

        def zoom(carry):
            """Algorithm 3.6: shrink [lo, hi] by safeguarded interpolation."""
            low, high, ref = carry.low, carry.high, carry.ref
            width = jnp.abs(high.step - low.step)
            left = jnp.minimum(low.step, high.step)
            right = jnp.maximum(low.step, high.step)

            cubic = _cubic_minimizer(
                low.step, low.value, low.slope, high.step, high.value, ref.step, ref.value
            )
            quad = _quadratic_minimizer(low.step, low.value, low.slope, high.step, high.value)
            cubic_ok = (cubic > left + 0.2 * width) & (cubic < right - 0.2 * width)
            quad_ok = (quad > left + 0.1 * width) & (quad < right - 0.1 * width)
            step = jnp.where(
                cubic_ok, cubic, jnp.where(quad_ok, quad, (low.step + high.step) / 2.0)
            )
            step = as_scalar(step)

            new_value, new_grad, new_slope = evaluate(step)
            dec, curv = criteria(step, new_value, new_slope)
            good = jnp.maximum(dec, curv) <= tol
            new = _Point(step, new_value, new_slope)

            better = (dec <= tol) & (new_value < carry.safe.value)
            safe, safe_grad = _tree.where(better, (new, new_grad), (carry.safe, carry.safe_grad))
            replace_high = (dec > 0.0) | (new_value >= low.value)
            flip = (new_slope * (high.step - low.step) >= 0.0) & ~replace_high
            new_high = _tree.where(replace_high, new, _tree.where(flip, low, high))
            new_low = _tree.where(replace_high, low, new)
            # The point that left the interval becomes the cubic's third point.
            new_ref = _tree.where(replace_high | flip, high, low)

            too_narrow = (width <= stepsize_precision) & (safe.step > 0.0)
            out_of_steps = carry.count + 1 >= max_linesearch_steps
            return carry._replace(
                current=new,
                grad=new_grad,
                decrease_error=dec,
                curvature_error=curv,
                done=good,
                failed=(out_of_steps | too_narrow) & ~good,
                low=new_low,
                high=new_high,
                ref=new_ref,
                safe=safe,
                safe_grad=safe_grad,
            )

        def fall_back(carry):
            """Out of budget: prefer the best sufficient-decrease step seen."""
            use_safe = (carry.safe.step > 0.0) | jnp.isinf(carry.decrease_error)
            current, grad = _tree.where(
                use_safe,
                (carry.current._replace(step=carry.safe.step, value=carry.safe.value),
                 carry.safe_grad),
                (carry.current, carry.grad),
            )  # fmt: skip
            if verbose:
                failed = ~carry.done
                width = jnp.abs(carry.high.step - carry.low.step)
                _print_if(
                    failed & carry.bracketed & (width <= stepsize_precision),
                    FLAG_INTERVAL_TOO_SMALL + " Interval length: {width}.",
                    width=width,
                )
                _print_if(
                    failed & (carry.safe.step > 0.0),
                    FLAG_CURVATURE_COND_NOT_SATISFIED + " Step size: {step}.",
                    step=carry.safe.step,
                )
                _print_if(
                    failed & ~(carry.safe.step > 0.0),
                    FLAG_NO_STEPSIZE_FOUND,
                )
                _print_if(
                    failed & ~(carry.safe.step > 0.0) & (slope0 >= 0.0),
                    FLAG_NOT_A_DESCENT_DIRECTION + "The slope at step size 0 is {slope}.",
                    slope=slope0,
                )
                _print_if(
                    failed,
                    "scale_by_zoom_linesearch: no step size met both Wolfe conditions "
                    "(value {value}, slope {slope}, last step {step}, decrease error "
                    "{dec}, curvature error {curv}); returning step size {chosen}.",
                    value=value0,
                    slope=slope0,
                    step=carry.current.step,
                    dec=carry.decrease_error,
                    curv=carry.curvature_error,
                    chosen=current.step,
                )
            return carry._replace(current=current, grad=grad)

        def body(carry):
            new = jax.lax.cond(carry.bracketed, zoom, bracket, carry)
            if_bracket_failed = (~carry.bracketed) & (new.count + 1 >= max_linesearch_steps)
            new = new._replace(
                count=new.count + 1,
                failed=new.failed | (if_bracket_failed & ~new.done),
            )
            return jax.lax.cond(new.failed, fall_back, lambda c: c, new)

        def keep_going(carry):
            return ~(carry.done | carry.failed)

        if initial_guess_strategy == "one":
            guess = jnp.ones([], dtype)
        else:
            guess = as_scalar(state.learning_rate)
        zero = jnp.zeros([], dtype)
        start = _Point(zero, value0, slope0)
        carry = _ZoomCarry(
            count=jnp.asarray(0),
            current=start,
            grad=grad,
            decrease_error=jnp.asarray(jnp.inf, dtype),
            curvature_error=jnp.asarray(jnp.inf, dtype),
            bracketed=jnp.asarray(False),
            done=jnp.asarray(False),
            failed=jnp.asarray(False),
            low=start,
            high=start,
            ref=start,
            safe=start,
            safe_grad=grad,
        )
        carry = jax.lax.while_loop(keep_going, body, carry)
        learning_rate = carry.current.step
        new_state = ScaleByZoomLinesearchState(
            learning_rate=learning_rate,
            value=carry.current.value,
            grad=carry.grad,
            info=ZoomLinesearchInfo(carry.count, carry.decrease_error, carry.curvature_error),
        )
        return _tree.scale(learning_rate, updates), new_state

    return transformation(init_fn, update_fn, name=where, needs_params=True)
