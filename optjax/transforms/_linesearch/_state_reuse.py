"""Reusing the value and gradient that a line search kept in its state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from optjax.tree import _math as _tree


def _find_field(tree: Any, field: str) -> list[Any]:
    """Every ``field`` attribute of NamedTuples nested anywhere in ``tree``."""
    found = []
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        if field in tree._fields:
            found.append(getattr(tree, field))
        children = tuple(tree)
    elif isinstance(tree, (tuple, list)):
        children = tree
    elif isinstance(tree, dict):
        children = tuple(tree.values())
    else:
        children = ()
    for child in children:
        found.extend(_find_field(child, field))
    return found


class _StateEntryError(KeyError, ValueError):
    """No single line-search entry in the state: a ``KeyError`` as in Optax, and a ``ValueError``."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


def value_and_grad_from_state(
    value_fn: Callable[..., jax.typing.ArrayLike],
) -> Callable[..., tuple[jax.Array, Any]]:
    """Like :func:`jax.value_and_grad`, but reuses the value and gradient in a line-search state.

    .. math::

        (f(w_{k+1}), \\nabla f(w_{k+1})) =
        \\begin{cases}
        (\\texttt{state.value}, \\texttt{state.grad}) & \\text{if finite} \\\\
        \\texttt{jax.value\\_and\\_grad(f)}(w_{k+1}) & \\text{otherwise}
        \\end{cases}

    A line search evaluates the objective and its gradient at the point it
    accepts; :func:`scale_by_zoom_linesearch` (and
    :func:`scale_by_backtracking_linesearch` with ``store_grad=True``) keep
    both in the state, which is exactly what the next iteration needs. The
    state is searched (through chains and nested tuples) for the one entry
    with ``value`` and ``grad`` fields. Before the first step the stored value
    is ``inf``, and the value and gradient are computed with
    :func:`jax.value_and_grad` (one ``lax.cond``, so this compiles once).

    Args:
      value_fn: the objective, ``value_fn(params, *args, **kwargs) -> scalar``.

    Returns:
      ``value_and_grad(params, *args, state, **kwargs) -> (value, grad)``, with
      ``state`` keyword-only.

    Raises:
      ValueError: when called, if the state holds no line-search entry or
        several; the error is also a ``KeyError``, which Optax raises for
        several entries.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda w: jnp.sum((w - 3.0) ** 2)
      >>> solver = optjax.lbfgs()
      >>> w = jnp.zeros(3)
      >>> state = solver.init(w)
      >>> value_and_grad = optjax.value_and_grad_from_state(f)
      >>> value, grad = value_and_grad(w, state=state)  # computed: state is fresh
      >>> u, state = solver.update(grad, state, w, value=value, grad=grad, value_fn=f)
      >>> w = optjax.apply_updates(w, u)
      >>> value, grad = value_and_grad(w, state=state)  # reused from the state
      >>> print(w.round(3), f"{value:.2f}")  # first step: unit length along -g
      [0.577 0.577 0.577] 17.61
    """

    def value_and_grad(params, *args, state, **kwargs):
        values = _find_field(state, "value")
        grads = _find_field(state, "grad")
        if len(values) != 1 or len(grads) != 1:
            # Optax raises KeyError for several entries and ValueError for none;
            # this error is both, with one message for the two cases.
            raise _StateEntryError(
                "value_and_grad_from_state: expected exactly one entry of the state with "
                f"`value` and `grad` fields (a line search's), found {len(values)} values "
                f"and {len(grads)} grads. Use a line search that keeps them "
                "(scale_by_zoom_linesearch, or scale_by_backtracking_linesearch with "
                "store_grad=True)."
            )
        stored_value, stored_grad = values[0], grads[0]
        if stored_grad is None:
            raise ValueError(
                "value_and_grad_from_state: the line search keeps no gradient; build "
                "scale_by_backtracking_linesearch with store_grad=True."
            )

        def compute(operands):
            params, args, kwargs = operands
            new_value, new_grad = jax.value_and_grad(value_fn)(params, *args, **kwargs)
            return (
                jnp.asarray(new_value).astype(stored_value.dtype),
                _tree.cast_like(new_grad, stored_grad),
            )

        return jax.lax.cond(
            jnp.isfinite(stored_value),
            lambda operands: (stored_value, stored_grad),
            compute,
            (params, args, kwargs),
        )

    return value_and_grad
