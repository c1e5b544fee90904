"""Applying updates to parameters, and parameter averaging helpers."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from optjax.tree import _math as _tree

__all__ = [
    "apply_updates",
    "incremental_update",
    "periodic_update",
]


def _is_none(x: Any) -> bool:
    return x is None


def _map_skipping_none(f, first: Any, second: Any, *, names: tuple[str, str], where: str) -> Any:
    """Maps ``f`` over two trees; a ``None`` in ``first`` gives ``None`` whatever ``second`` holds.

    This is Optax's rule for ``apply_updates`` and ``incremental_update``
    (``apply_updates(None, updates)`` is ``None``). A structure mismatch
    elsewhere raises ``ValueError`` naming the first differing key path.
    """
    treedef = jax.tree.structure(first, is_leaf=_is_none)
    try:
        seconds = treedef.flatten_up_to(second)
    except (ValueError, TypeError):
        _tree.check_same_structure(first, second, names[0], names[1], where=where)
        raise ValueError(
            f"{where}: the tree structure of {names[1]} does not match {names[0]}."
        ) from None
    firsts = jax.tree_util.tree_flatten_with_path(first, is_leaf=_is_none)[0]
    results = []
    for (path, a), b in zip(firsts, seconds):
        if a is None:
            results.append(None)
        elif b is None:
            raise TypeError(
                f"{where}: {names[1]} at key path {_tree._describe_path(path)} is None "
                f"but {names[0]} holds a value there; give a zero update instead."
            )
        else:
            results.append(f(a, b))
    return treedef.unflatten(results)


def apply_updates(params: Any, updates: Any) -> Any:
    """Returns ``params + updates``, cast back to each parameter's dtype.

    .. math::

        \\theta_{t+1} = \\theta_t + u_t

    A ``None`` entry of ``params`` stays ``None`` (whatever ``updates`` holds
    there), as in Optax; ``apply_updates(None, updates)`` is ``None``. A
    structure mismatch raises ``ValueError`` naming the first differing key
    path.

    Args:
      params: a tree of parameters.
      updates: a tree of updates with the same structure as ``params``.

    Returns:
      The updated parameters, with the dtype of each parameter leaf.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> params = {"w": jnp.array([1.0, 2.0], dtype=jnp.bfloat16)}
      >>> optjax.apply_updates(params, {"w": jnp.array([0.5, 0.5])})["w"]
      Array([1.5, 2.5], dtype=bfloat16)
    """
    return _map_skipping_none(
        lambda p, u: jnp.asarray(p + u).astype(jnp.asarray(p).dtype),
        params,
        updates,
        names=("params", "updates"),
        where="apply_updates",
    )


def incremental_update(new_tensors: Any, old_tensors: Any, step_size: jax.typing.ArrayLike) -> Any:
    """Polyak (exponential moving) averaging of parameters.

    .. math::

        \\bar\\theta \\leftarrow \\eta\\,\\theta + (1 - \\eta)\\,\\bar\\theta

    A ``None`` entry of ``new_tensors`` gives ``None``, as in Optax.

    Args:
      new_tensors: the latest values.
      old_tensors: the running average.
      step_size: :math:`\\eta`, the weight of the new values.

    Returns:
      The new running average.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> optjax.incremental_update({"w": jnp.array([1.0])}, {"w": jnp.array([0.0])}, 0.1)
      {'w': Array([0.1], dtype=float32)}
    """
    return _map_skipping_none(
        lambda new, old: step_size * new + (1.0 - step_size) * old,
        new_tensors,
        old_tensors,
        names=("new_tensors", "old_tensors"),
        where="incremental_update",
    )


def periodic_update(
    new_tensors: Any,
    old_tensors: Any,
    steps: jax.typing.ArrayLike,
    update_period: int,
) -> Any:
    """Returns ``new_tensors`` every ``update_period`` steps, else ``old_tensors``.

    .. math::

        \\bar\\theta \\leftarrow \\begin{cases} \\theta & t \\bmod k = 0 \\\\
        \\bar\\theta & \\text{otherwise} \\end{cases}

    Args:
      new_tensors: the latest values.
      old_tensors: the values kept between refreshes.
      steps: the current step :math:`t`.
      update_period: the period :math:`k`.

    Returns:
      The selected tree.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> optjax.periodic_update({"w": jnp.array([1.0])}, {"w": jnp.array([0.0])}, 4, 2)
      {'w': Array([1.], dtype=float32)}
    """
    return jax.lax.cond(
        jnp.mod(steps, update_period) == 0,
        lambda _: new_tensors,
        lambda _: old_tensors,
        None,
    )
