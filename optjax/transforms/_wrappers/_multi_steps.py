"""Gradient accumulation over micro-batches: ``MultiSteps``."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp

from optjax._base import GradientTransformationExtraArgs, with_extra_args_support
from optjax._flax_adapter import strip_variables
from optjax.transforms._wrappers._finite import check_updates
from optjax.tree import _math as _tree


class ShouldSkipUpdateFunction(Protocol):
    """``(updates, gradient_step, params) -> (should_skip, skip_state)`` for :class:`MultiSteps`."""

    def __call__(
        self, updates: Any, gradient_step: jax.typing.ArrayLike, params: Any | None
    ) -> tuple[jax.Array, Any]: ...


class MultiStepsState(NamedTuple):
    """State of :class:`MultiSteps`: counters, inner state and the accumulator."""

    mini_step: jax.typing.ArrayLike
    gradient_step: jax.typing.ArrayLike
    inner_opt_state: Any
    acc_grads: Any
    skip_state: Any = ()


def _never_skip(updates, gradient_step, params):
    del updates, gradient_step, params
    return jnp.array(False), ()


def _constant_k(every_k_schedule: Any) -> Callable[[jax.typing.ArrayLike], Any]:
    """Validates ``every_k_schedule`` and returns it as a schedule."""
    if callable(every_k_schedule):
        return every_k_schedule
    if isinstance(every_k_schedule, bool):
        ok = False
    elif isinstance(every_k_schedule, numbers.Integral):
        ok = every_k_schedule >= 1
    elif hasattr(every_k_schedule, "dtype"):
        # Integer arrays (hyperparameter sweeps) cannot be checked at build time.
        ok = jnp.issubdtype(every_k_schedule.dtype, jnp.integer) and jnp.ndim(every_k_schedule) == 0
    else:
        ok = False
    if not ok:
        raise ValueError(
            f"MultiSteps: every_k_schedule must be an integer >= 1 or a schedule "
            f"(a function of the gradient step), got {every_k_schedule!r}."
        )
    return lambda step: every_k_schedule


class MultiSteps:
    """Accumulates gradients over ``k`` micro-steps, then takes one inner step.

    With :math:`j` the micro-step within the current cycle and :math:`k` the
    number of micro-steps of the cycle (``every_k_schedule`` at the current
    gradient step):

    .. math::

        a_j = a_{j-1} + \\frac{g_j - a_{j-1}}{j + 1} \\quad (\\texttt{use\\_grad\\_mean}),
        \\qquad a_j = a_{j-1} + g_j \\quad (\\text{otherwise}),

        (u_j, s) = \\begin{cases} T(a_j, s) & j = k - 1 \\\\ (0, s) & j < k - 1 \\end{cases}

    so ``k - 1`` micro-steps return zeros and the ``k``-th returns the inner
    transform's update of the mean (or sum) of the ``k`` gradients, after
    which the accumulator restarts from zero. The mean is a running
    (Welford) mean, as in Optax, so it does not grow with ``k``.

    The inner update runs only on the emitting micro-step (``lax.cond``).
    Optax computes it on every micro-step and discards the result, so the
    inner optimizer costs ``k`` times less compute here, for the same
    numbers. The state is exactly the inner state, one accumulator and two
    counters (plus ``skip_state``), and ``accumulator_dtype=None`` (an
    option Optax lacks) accumulates in the gradients' own dtype.

    .. warning::

       On emission the accumulator is reset to zero by value. Optax 0.2.8
       multiplies it by zero instead, so once a NaN or Inf gradient has been
       accumulated (without a ``should_skip_update_fn``) every later update
       is NaN; here only the cycle that contained it is. Finite trajectories
       are identical.

    A micro-step rejected by ``should_skip_update_fn`` returns zeros and
    leaves the whole state (but ``skip_state``) untouched, as if it never
    happened.

    Args:
      opt: the inner transform, applied once per cycle.
      every_k_schedule: the number of micro-steps per cycle: an integer >= 1,
        or a function of the gradient step (count of emitted updates) that
        returns one, to grow the effective batch size over training.
      use_grad_mean: average the accumulated gradients (True) or sum them.
      should_skip_update_fn: optional ``fn(updates, gradient_step, params) ->
        (should_skip, skip_state)`` that rejects micro-steps, e.g.
        :func:`optjax.skip_not_finite`; ``skip_state`` is stored in the state
        for monitoring.
      accumulator_dtype: dtype of the accumulator (default float32, as in
        Optax, so bfloat16 gradients accumulate in float32); ``None`` uses the
        gradients' dtype.

    Raises:
      ValueError: if ``every_k_schedule`` is neither an integer >= 1 nor
        callable.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> opt = optjax.MultiSteps(optjax.sgd(1.0), every_k_schedule=2)
      >>> params = {"w": jnp.array([0.0])}
      >>> state = opt.init(params)
      >>> u1, state = opt.update({"w": jnp.array([1.0])}, state, params)
      >>> u2, state = opt.update({"w": jnp.array([3.0])}, state, params)
      >>> u1["w"], u2["w"], opt.has_updated(state)
      (Array([0.], dtype=float32), Array([-2.], dtype=float32), Array(True, dtype=bool))

    References:
      Optax's ``MultiSteps``,
      https://optax.readthedocs.io/en/latest/api/optimizer_wrappers.html
    """

    def __init__(
        self,
        opt: Any,
        every_k_schedule: int | Callable[[jax.typing.ArrayLike], jax.typing.ArrayLike],
        use_grad_mean: bool = True,
        should_skip_update_fn: ShouldSkipUpdateFunction | None = None,
        accumulator_dtype: Any = jnp.float32,
    ):
        self._opt = with_extra_args_support(opt)
        self._every_k_schedule = _constant_k(every_k_schedule)
        self._use_grad_mean = use_grad_mean
        self._accumulator_dtype = (
            None if accumulator_dtype is None else jax.dtypes.canonicalize_dtype(accumulator_dtype)
        )
        self._has_skip_fn = should_skip_update_fn is not None
        self._should_skip_update_fn = should_skip_update_fn or _never_skip

    @property
    def inner_opt(self) -> GradientTransformationExtraArgs:
        """The wrapped transform."""
        return self._opt

    def _accumulate(self, grad, acc, count):
        if self._use_grad_mean:
            return acc + (grad - acc) / (count + 1)
        return grad + acc

    def init(self, params: Any) -> MultiStepsState:
        """Builds the initial :class:`MultiStepsState` (an all-zero accumulator)."""
        # The accumulator meets plain gradient arrays in update, so it must
        # not inherit the nnx.Variable nodes that flax passes to init.
        plain = strip_variables(params)
        gradient_step = jnp.zeros([], jnp.int32)
        _, skip_state = self._should_skip_update_fn(_tree.zeros_like(plain), gradient_step, plain)
        return MultiStepsState(
            mini_step=jnp.zeros([], jnp.int32),
            gradient_step=gradient_step,
            inner_opt_state=self._opt.init(params),
            acc_grads=_tree.zeros_like(plain, dtype=self._accumulator_dtype),
            skip_state=skip_state,
        )

    def update(
        self,
        updates: Any,
        state: MultiStepsState,
        params: Any | None = None,
        **extra_args: Any,
    ) -> tuple[Any, MultiStepsState]:
        """Accumulates ``updates``; returns the inner update every ``k`` micro-steps."""
        check_updates(updates, params, where="MultiSteps")
        k = jnp.asarray(self._every_k_schedule(state.gradient_step)).astype(jnp.int32)
        should_skip, skip_state = self._should_skip_update_fn(updates, state.gradient_step, params)
        should_skip = jnp.asarray(should_skip)
        if (should_skip.dtype, should_skip.shape) != (jnp.bool_, ()):
            raise ValueError(
                f"MultiSteps: should_skip_update_fn must return a boolean scalar, "
                f"got dtype {should_skip.dtype} and shape {should_skip.shape}."
            )

        def accumulate(state):
            acc = _tree.map(
                lambda g, a: self._accumulate(g, a, state.mini_step),
                updates,
                state.acc_grads,
                names=("updates", "accumulated gradients"),
                where="MultiSteps",
            )
            emit = state.mini_step == k - 1

            def emit_step(acc, inner_state):
                new_updates, new_inner = self._opt.update(
                    _tree.cast_like(acc, updates), inner_state, params, **extra_args
                )
                return (
                    _tree.cast_like(new_updates, updates),
                    _tree.cast_like(new_inner, inner_state),
                    _tree.zeros_like(state.acc_grads),
                )

            def hold_step(acc, inner_state):
                return (
                    _tree.zeros_like(updates),
                    inner_state,
                    _tree.cast_like(acc, state.acc_grads),
                )

            new_updates, inner_state, acc = jax.lax.cond(
                emit, emit_step, hold_step, acc, state.inner_opt_state
            )
            return new_updates, MultiStepsState(
                mini_step=_tree.safe_increment(state.mini_step) % k,
                gradient_step=jnp.where(
                    emit, _tree.safe_increment(state.gradient_step), state.gradient_step
                ),
                inner_opt_state=inner_state,
                acc_grads=acc,
                skip_state=skip_state,
            )

        if not self._has_skip_fn:
            return accumulate(state)

        def skip(state):
            return _tree.zeros_like(updates), state._replace(skip_state=skip_state)

        return jax.lax.cond(should_skip, skip, accumulate, state)

    def has_updated(self, state: MultiStepsState) -> jax.Array:
        """True iff the last ``update`` emitted the inner transform's update.

        Args:
          state: the state returned by that ``update``.

        Returns:
          A boolean scalar.
        """
        return jnp.logical_and(state.mini_step == 0, state.gradient_step > 0)

    def gradient_transformation(self) -> GradientTransformationExtraArgs:
        """Returns ``(init, update)`` as a gradient transformation, to use in a chain."""
        return GradientTransformationExtraArgs(self.init, self.update)
