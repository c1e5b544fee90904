"""Exponential moving averages of gradient moments, the public tree versions.

``None`` entries of ``updates`` (a frozen or masked-out parameter) give
``None`` whatever the moments hold there, as in Optax. The optimizers use the
structure-checked helpers of :mod:`optjax.tree._math`.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from optjax.tree._structure import is_none, tree_map

_NAMES = ("updates", "moments")


def update_moment(updates: Any, moments: Any, decay: jax.typing.ArrayLike, order: int) -> Any:
    r"""Exponential moving average of the ``order``-th power of the updates.

    .. math::
        m \leftarrow (1 - \beta) \, g^{k} + \beta \, m

    Args:
      updates: the new values :math:`g`.
      moments: the running averages :math:`m`, with the structure of ``updates``.
      decay: the decay rate :math:`\beta`.
      order: the power :math:`k`.

    Returns:
      The updated moments.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> m = optjax.tree.update_moment({"a": jnp.array(2.0)}, {"a": jnp.array(1.0)}, 0.9, 2)
      >>> print(round(float(m["a"]), 3))
      1.3
    """
    return tree_map(
        lambda g, t: None if g is None else (1 - decay) * (g**order) + decay * t,
        updates,
        moments,
        names=_NAMES,
        where="tree.update_moment",
        is_leaf=is_none,
    )


def update_moment_per_elem_norm(
    updates: Any, moments: Any, decay: jax.typing.ArrayLike, order: int
) -> Any:
    r"""Exponential moving average of the ``order``-th power of ``|g|``.

    .. math::
        v \leftarrow (1 - \beta) \, |g|^{k} + \beta \, v

    For real leaves :math:`|g|^k` is computed as :math:`g^k`; complex leaves use
    the modulus, so the average stays real.

    Args:
      updates: the new values :math:`g`.
      moments: the running averages :math:`v`, with the structure of ``updates``.
      decay: the decay rate :math:`\beta`.
      order: the power :math:`k`.

    Returns:
      The updated moments.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> v = optjax.tree.update_moment_per_elem_norm(
      ...     {"a": jnp.array(3 + 4j)}, {"a": jnp.array(0.0)}, 0.5, 2)
      >>> print(v["a"])
      12.5
    """

    def elem_norm(g):
        if jnp.isrealobj(g):
            return g**order
        half_order = order / 2
        # An integer power lowers to multiplications rather than exp/log.
        if half_order.is_integer():
            half_order = int(half_order)
        return (g.conj() * g).real ** half_order

    return tree_map(
        lambda g, t: None if g is None else (1 - decay) * elem_norm(g) + decay * t,
        updates,
        moments,
        names=_NAMES,
        where="tree.update_moment_per_elem_norm",
        is_leaf=is_none,
    )


def update_infinity_moment(
    updates: Any, moments: Any, decay: jax.typing.ArrayLike, eps: jax.typing.ArrayLike
) -> Any:
    r"""Exponentially weighted infinity norm of the updates (Adamax's moment).

    .. math::
        u \leftarrow \max(|g| + \epsilon, \beta \, u)

    Args:
      updates: the new values :math:`g`.
      moments: the running values :math:`u`, with the structure of ``updates``.
      decay: the decay rate :math:`\beta`.
      eps: the offset :math:`\epsilon` added to :math:`|g|`.

    Returns:
      The updated moments.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> u = optjax.tree.update_infinity_moment(
      ...     {"a": jnp.array([-1.0, 0.1])}, {"a": jnp.array([0.5, 2.0])}, 0.5, 0.0)
      >>> print(u["a"])
      [1. 1.]

    References:
      Kingma and Ba, `Adam: A Method for Stochastic Optimization
      <https://arxiv.org/abs/1412.6980>`_, 2014 (section 7.1)
    """
    return tree_map(
        lambda g, t: g if g is None else jnp.maximum(jnp.abs(g) + eps, decay * t),
        updates,
        moments,
        names=_NAMES,
        where="tree.update_infinity_moment",
        is_leaf=is_none,
    )


# Compiled (inlined into any enclosing jit) so that an eager call rounds
# ``decay**count`` exactly as a compiled step does.
@functools.partial(jax.jit, inline=True)
def bias_correction(moment: Any, decay: jax.typing.ArrayLike, count: jax.typing.ArrayLike) -> Any:
    r"""Removes the initialisation bias of a zero-initialised moving average.

    .. math::
        \hat m = \frac{m}{1 - \beta^{t}}

    The factor :math:`1 - \beta^t` is computed in the precision of ``decay``
    and ``count`` and only then cast to each leaf's dtype, so a bfloat16 moment
    stays bfloat16 without :math:`\beta^t` rounding to 1.

    Args:
      moment: the moving average :math:`m`.
      decay: its decay rate :math:`\beta`.
      count: the number of updates averaged so far, :math:`t`.

    Returns:
      The corrected moment, with the dtypes of ``moment``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> m = optjax.tree.bias_correction({"a": jnp.array(0.1)}, 0.9, 1)
      >>> print(jnp.round(m["a"], 3))
      1.0
    """
    correction = 1 - decay**count
    return jax.tree.map(lambda t: t / correction.astype(t.dtype), moment)
