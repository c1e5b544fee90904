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


def apply_updates(params: Any, updates: Any) -> Any:
    """Returns ``params + updates``, cast back to each parameter's dtype.

    .. math::

        \\theta_{t+1} = \\theta_t + u_t

    ``None`` entries stay ``None``. A structure mismatch raises ``ValueError``
    naming the first differing key path.

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
    return _tree.map(
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
    return _tree.map(
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
