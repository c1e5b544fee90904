"""What the line searches share: argument checks, the scalar dtype, the slope."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from optjax.tree import _math as _tree


def _scalar_dtype(params: Any) -> Any:
    """Real dtype of the line-search scalars: the leaves' real dtype, at least float32."""
    leaves = jax.tree.leaves(params)
    if not leaves:
        return jnp.dtype(jnp.float32)
    # ``.dtype`` first: abstract leaves (jax.ShapeDtypeStruct) are not arrays.
    leaf = leaves[0]
    dtype = leaf.dtype if hasattr(leaf, "dtype") else jnp.asarray(leaf).dtype
    real = jnp.real(jnp.zeros((), dtype)).dtype
    return jnp.promote_types(real, jnp.float32)


def _slope(direction: Any, grad: Any) -> jax.Array:
    """Directional derivative :math:`\\mathrm{Re}\\langle \\nabla f, u\\rangle`."""
    return jnp.real(_tree.vdot(grad, direction))


def _require(where: str, value: Any, value_fn: Any, grad: Any) -> None:
    missing = [
        arg for arg, given in (("value", value), ("grad", grad), ("value_fn", value_fn))
        if given is None
    ]  # fmt: skip
    if missing:
        raise TypeError(
            f"{where}.update needs the objective to search along the direction: call "
            f"`update(updates, state, params, value=f(params), grad=grad_f(params), "
            f"value_fn=f)`. Missing: {', '.join(missing)}."
        )
    if not callable(value_fn):
        raise TypeError(f"{where}: value_fn must be callable, got {type(value_fn).__name__}.")


def _split_fn_kwargs(value_fn: Callable[..., Any], extra_args: dict, where: str) -> dict:
    """The extra keyword arguments that ``value_fn`` accepts; others raise TypeError."""
    try:
        parameters = inspect.signature(value_fn).parameters
    except (TypeError, ValueError):
        return dict(extra_args)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return dict(extra_args)
    unknown = sorted(k for k in extra_args if k not in parameters)
    if unknown:
        raise TypeError(
            f"{where}.update: Unexpected keyword arguments {unknown}: value_fn does not "
            f"accept them. Extra keyword arguments are passed to value_fn; remove these "
            f"or add them to value_fn's signature."
        )
    return dict(extra_args)


def _errors_to_inf(error: jax.Array) -> jax.Array:
    """Clips a criterion violation at 0 and maps NaN to +inf (a failed evaluation)."""
    error = jnp.maximum(error, 0.0)
    return jnp.where(jnp.isnan(error), jnp.inf, error)


def _print_if(condition: jax.Array, message: str, **values: Any) -> None:
    jax.lax.cond(
        condition,
        lambda: jax.debug.print(message, ordered=True, **values),
        lambda: None,
    )
