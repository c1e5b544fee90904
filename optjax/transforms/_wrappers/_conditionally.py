"""Conditional wrappers: run an inner transform only at the steps a predicate picks."""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from optjax._base import GradientTransformationExtraArgs, OptState, with_extra_args_support
from optjax.transforms._wrappers._finite import check_updates
from optjax.tree import _math as _tree


class ConditionFn(Protocol):
    """A predicate of the step count: ``should_transform_fn(step, **extra_args)``.

    ``step`` is an int32 scalar counting the previous calls to ``update``; the
    function returns a scalar (a boolean, or a number read as ``!= 0``) that
    says whether the inner transform runs at this step. Extra keyword
    arguments reach it only with ``forward_extra_args=True``.

    Examples:
      >>> import jax.numpy as jnp
      >>> every_other_step = lambda step, **extra_args: step % 2 == 0
      >>> every_other_step(jnp.int32(4))
      Array(True, dtype=bool)
    """

    def __call__(self, step: jax.typing.ArrayLike, **extra_args: Any) -> jax.typing.ArrayLike: ...


class ConditionallyTransformState(NamedTuple):
    """State of :func:`conditionally_transform`: the inner state and the step count."""

    inner_state: Any
    step: jax.typing.ArrayLike


class ConditionallyMaskState(NamedTuple):
    """State of :func:`conditionally_mask`: the step count and the inner state."""

    step: jax.typing.ArrayLike
    inner_state: OptState


def _predicate(fn: Any, step: jax.Array, extra_args: dict[str, Any], *, where: str) -> jax.Array:
    """Calls the condition and checks that it returned one boolean (or number)."""
    value = fn(step, **extra_args)
    dtype = getattr(value, "dtype", None)
    if dtype is None and isinstance(value, (bool, int, float, np.bool_)):
        dtype = np.asarray(value).dtype
    if dtype is None or not (
        jnp.issubdtype(dtype, jnp.bool_)
        or jnp.issubdtype(dtype, jnp.integer)
        or jnp.issubdtype(dtype, jnp.floating)
    ):
        raise TypeError(
            f"{where}: should_transform_fn(step) must return a boolean scalar, got "
            f"{type(value).__name__}"
            + (f" of dtype {jnp.dtype(dtype).name}" if dtype is not None else "")
            + "."
        )
    if np.shape(value) != ():
        raise TypeError(
            f"{where}: should_transform_fn(step) must return a boolean scalar (shape ()), "
            f"got an array of shape {np.shape(value)}; reduce it, e.g. with jnp.all."
        )
    value = jnp.asarray(value)
    return value if value.dtype == jnp.bool_ else value != 0


def _conditional(
    inner: Any,
    should_transform_fn: Any,
    forward_extra_args: bool,
    *,
    where: str,
    zero_rejected: bool,
    make_state: Any,
) -> GradientTransformationExtraArgs:
    """The shared body: ``lax.cond`` between the inner update and a pass-through."""
    inner = with_extra_args_support(inner)

    def init_fn(params):
        return make_state(jnp.zeros([], jnp.int32), inner.init(params))

    def update_fn(updates, state, params=None, **extra_args):
        check_updates(updates, params, where=where)
        condition_args = extra_args if forward_extra_args else {}
        run = _predicate(should_transform_fn, state.step, condition_args, where=where)

        def do_update(inner_state):
            new_updates, new_state = inner.update(updates, inner_state, params, **extra_args)
            # Both branches of lax.cond must agree on dtypes, weak types included.
            return _tree.cast_like(new_updates, updates), _tree.cast_like(new_state, inner_state)

        def reject_update(inner_state):
            return (_tree.zeros_like(updates) if zero_rejected else updates), inner_state

        new_updates, inner_state = jax.lax.cond(run, do_update, reject_update, state.inner_state)
        return new_updates, make_state(_tree.safe_increment(state.step), inner_state)

    return GradientTransformationExtraArgs(init_fn, update_fn)


def conditionally_transform(
    inner: Any,
    should_transform_fn: ConditionFn,
    forward_extra_args: bool = False,
) -> GradientTransformationExtraArgs:
    """Runs ``inner`` at the steps ``should_transform_fn`` picks; otherwise passes the updates on.

    With :math:`t` the number of previous calls to ``update`` and :math:`c`
    the condition:

    .. math::

        (u_t, s_{t+1}) = \\begin{cases} T(g_t, s_t) & c(t) \\\\
        (g_t, s_t) & \\text{otherwise} \\end{cases}

    On a rejected step the updates go through unchanged and the inner state
    is kept as it was (the inner update does not run: ``lax.cond``). Use
    :func:`conditionally_mask` to zero the updates instead.

    Args:
      inner: the transform to run at the chosen steps.
      should_transform_fn: ``should_transform_fn(step) -> bool scalar``, where
        ``step`` is an int32 scalar; a number is read as ``!= 0``.
      forward_extra_args: also pass ``update``'s extra keyword arguments to
        ``should_transform_fn``.

    Returns:
      A gradient transformation with a :class:`ConditionallyTransformState`.

    Raises:
      TypeError: at ``update`` (trace time), if ``should_transform_fn`` returns
        something other than a boolean or numeric scalar.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.conditionally_transform(optjax.scale(10.0), lambda step: step >= 1)
      >>> state = tx.init(jnp.zeros(2))
      >>> for _ in range(2):
      ...     updates, state = tx.update(jnp.ones(2), state)
      ...     print(updates)
      [1. 1.]
      [10. 10.]
    """
    return _conditional(
        inner,
        should_transform_fn,
        forward_extra_args,
        where="conditionally_transform",
        zero_rejected=False,
        make_state=lambda step, inner_state: ConditionallyTransformState(
            inner_state=inner_state, step=step
        ),
    )


def conditionally_mask(
    inner: Any,
    should_transform_fn: ConditionFn,
    forward_extra_args: bool = False,
) -> GradientTransformationExtraArgs:
    """Runs ``inner`` at the steps ``should_transform_fn`` picks; otherwise gives zero updates.

    With :math:`t` the number of previous calls to ``update`` and :math:`c`
    the condition:

    .. math::

        (u_t, s_{t+1}) = \\begin{cases} T(g_t, s_t) & c(t) \\\\
        (0, s_t) & \\text{otherwise} \\end{cases}

    On a rejected step the inner state is kept as it was. Use
    :func:`conditionally_transform` to pass the updates through instead.

    Args:
      inner: the transform to run at the chosen steps.
      should_transform_fn: ``should_transform_fn(step) -> bool scalar``, where
        ``step`` is an int32 scalar; a number is read as ``!= 0``.
      forward_extra_args: also pass ``update``'s extra keyword arguments to
        ``should_transform_fn``.

    Returns:
      A gradient transformation with a :class:`ConditionallyMaskState`.

    Raises:
      TypeError: at ``update`` (trace time), if ``should_transform_fn`` returns
        something other than a boolean or numeric scalar.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> warmup = lambda step, **extra_args: step >= 1
      >>> tx = optjax.conditionally_mask(optjax.sgd(0.5), warmup)
      >>> state = tx.init(jnp.zeros(2))
      >>> for _ in range(2):
      ...     updates, state = tx.update(jnp.ones(2), state)
      ...     print(updates)
      [0. 0.]
      [-0.5 -0.5]
    """
    return _conditional(
        inner,
        should_transform_fn,
        forward_extra_args,
        where="conditionally_mask",
        zero_rejected=True,
        make_state=lambda step, inner_state: ConditionallyMaskState(
            step=step, inner_state=inner_state
        ),
    )
