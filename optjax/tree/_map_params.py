"""Mapping a function over the parameter-shaped parts of an optimizer state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import jax


@jax.tree_util.register_pytree_node_class
class _ParamsPlaceholder:
    """An opaque stand-in for the parameters: a pytree node with no leaves.

    ``init`` functions build their parameter-shaped state by mapping over the
    parameters, so every such copy of the placeholder comes back as a
    placeholder, and marks where the state holds parameter-shaped trees.
    """

    def tree_flatten(self):
        return (), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        del aux, children
        return cls()


@runtime_checkable
class Initable(Protocol):
    """Anything with an ``init(params) -> state`` method, like a GradientTransformation."""

    def init(self, params: Any) -> Any:
        """Returns a fresh state for ``params``."""


def map_params(
    initable: Callable[[Any], Any] | Initable,
    f: Callable[..., Any],
    state: Any,
    /,
    *rest: Any,
    transform_non_params: Callable[..., Any] | None = None,
    is_leaf: Callable[[Any], bool] | None = None,
) -> Any:
    r"""Applies ``f`` to every parameter-shaped tree inside an optimizer state.

    ``initable`` is called on an opaque placeholder to learn which parts of the
    state are copies of the parameter tree (moments, traces...). Each such part
    is replaced by ``jax.tree.map(f, part, *rest, is_leaf=is_leaf)``; every
    other state leaf (counts, keys, hyperparameters) is passed to
    ``transform_non_params`` if given, and kept otherwise. A typical use is
    turning parameter sharding specs into state sharding specs.

    .. math::
        s'_k = \begin{cases}
          \mathrm{map}(f, s_k, r_1, \dots) & \text{if } s_k \text{ is parameter-shaped} \\
          g(s_k) & \text{otherwise, with } g = \texttt{transform\_non\_params}
        \end{cases}

    Args:
      initable: the optimizer (anything with ``init``) or an ``init`` function.
      f: the function applied leaf by leaf to each parameter-shaped tree.
      state: the optimizer state, built by ``initable``.
      *rest: further trees with the parameters' structure, passed to ``f``.
      transform_non_params: optional function applied to the other leaves.
      is_leaf: passed to ``jax.tree.map`` over the parameter-shaped trees.

    Returns:
      The mapped state.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> opt = optjax.adam(1e-3)
      >>> params = {"w": jnp.zeros(3)}
      >>> state = opt.init(params)
      >>> specs = optjax.tree.map_params(
      ...     opt, lambda _, spec: spec, state, {"w": "data"},
      ...     transform_non_params=lambda _: None)
      >>> specs[0].mu, specs[0].count
      ({'w': 'data'}, None)
    """
    placeholder = _ParamsPlaceholder()
    if isinstance(initable, Initable):
        skeleton = initable.init(placeholder)
    else:
        skeleton = initable(placeholder)

    def map_part(marker, value):
        if isinstance(marker, _ParamsPlaceholder):
            return jax.tree.map(f, value, *rest, is_leaf=is_leaf)
        if transform_non_params is not None:
            return transform_non_params(value)
        return value

    return jax.tree.map(
        map_part, skeleton, state, is_leaf=lambda x: isinstance(x, _ParamsPlaceholder)
    )
