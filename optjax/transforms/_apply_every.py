"""Gradient accumulation: emit the sum of ``k`` updates every ``k`` steps."""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax._base import GradientTransformationExtraArgs, transformation
from optjax.tree import _math as _tree


class ApplyEvery(NamedTuple):
    """State of :func:`apply_every`: the step within the cycle and the running sum."""

    count: jax.Array
    grad_acc: Any


def _check_k(k: Any) -> None:
    """``k`` must be an integer >= 1; integer arrays (hyperparameter sweeps) pass."""
    if isinstance(k, bool):
        ok = False
    elif isinstance(k, numbers.Integral):
        ok = k >= 1
    elif hasattr(k, "dtype"):
        ok = jnp.issubdtype(k.dtype, jnp.integer)
    else:
        ok = False
    if not ok:
        raise ValueError(f"apply_every: k must be an integer >= 1, got {k!r}.")


def apply_every(k: jax.typing.ArrayLike = 1) -> GradientTransformationExtraArgs:
    """Accumulates updates and emits their sum once every ``k`` steps.

    With :math:`c_t = t \\bmod k` for steps :math:`t = 0, 1, \\dots`

    .. math::

        a_t = [c_t \\ne 0]\\, a_{t-1} + g_t, \\qquad
        u_t = [c_t = k - 1]\\, a_t

    so ``k - 1`` steps emit zeros and the ``k``-th emits the sum of the last
    ``k`` updates. Other transforms in a chain still update their state every
    step; to average whole optimizer steps use a multi-step wrapper instead.

    Args:
      k: the accumulation period, an integer >= 1 (``k=1`` is the identity).

    Returns:
      A gradient transformation with an :class:`ApplyEvery` state.

    Raises:
      ValueError: if ``k`` is not an integer >= 1.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.apply_every(2)
      >>> state = tx.init({"w": jnp.zeros(1)})
      >>> u1, state = tx.update({"w": jnp.array([1.0])}, state)
      >>> u2, state = tx.update({"w": jnp.array([2.0])}, state)
      >>> u1["w"], u2["w"]
      (Array([0.], dtype=float32), Array([3.], dtype=float32))
    """
    _check_k(k)

    def init_fn(params):
        return ApplyEvery(count=jnp.zeros([], jnp.int32), grad_acc=_tree.zeros_like(params))

    def update_fn(updates, state, params=None, **extra_args):
        cycle = state.count % k
        keep = cycle != 0
        grad_acc = _tree.map(
            lambda g, acc: keep * acc + g, updates, state.grad_acc, where="apply_every"
        )
        emit = cycle == k - 1
        updates = jax.tree.map(lambda acc: emit * acc, grad_acc)
        count = _tree.safe_increment(state.count) % k
        # The sum keeps the parameters' dtype so the state is stable under scan.
        grad_acc = _tree.cast_like(grad_acc, state.grad_acc)
        return updates, ApplyEvery(count=count, grad_acc=grad_acc)

    return transformation(init_fn, update_fn, name="apply_every")
