"""Aggregators and ``process``: optimizers fed with per-element gradients."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import jax

from optjax._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    OptState,
    Params,
    TransformInitFn,
    with_extra_args_support,
)
from optjax.tree import _math as _tree

PerElementUpdates = Any
AggregatedUpdates = Any
MaybeAxis = int | Sequence[int] | None


class AggregatorUpdateFn(Protocol):
    """``update(per_elt_updates, state, params=None, **extra_args) -> (updates, state)``."""

    def __call__(
        self,
        per_elt_updates: PerElementUpdates,
        state: OptState,
        params: Params | None = None,
        **extra_args: Any,
    ) -> tuple[AggregatedUpdates, OptState]: ...


class Aggregator(GradientTransformationExtraArgs):
    """A transform whose ``update`` takes per-element updates and returns one update.

    An ordinary transform maps an update shaped like the parameters to another
    one. An aggregator receives updates with extra leading per-element axes,
    ``[*batch_shape, *param_shape]`` (for instance from
    ``jax.vmap(jax.grad(loss), (None, 0))``), and returns an update shaped like
    the parameters:

    .. math::

        (u_t, s_{t+1}) = \\mathrm{update}(\\{g_{t,b}\\}_{b}, s_t, \\theta_t).

    The fields are the same as :class:`optjax.GradientTransformation`'s; the
    distinct type tells :func:`process` (and the reader) which input it expects.

    Attributes:
      init: ``init(params) -> state``.
      update: ``update(per_elt_updates, state, params=None, **extra_args) ->
        (updates, state)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> from optjax.experimental import aggregating
      >>> mean = aggregating.Aggregator(
      ...     init=lambda params: optjax.EmptyState(),
      ...     update=lambda gs, state, params=None: (jnp.mean(gs, axis=0), state))
      >>> mean.update(jnp.array([[1.0, 2.0], [3.0, 6.0]]), mean.init(None))[0]
      Array([2., 4.], dtype=float32)
    """

    init: TransformInitFn
    update: AggregatorUpdateFn


def find_unique(tree: Any, key: str, default: Any) -> Any:
    """The value under ``key`` in ``tree`` (a dict key, NamedTuple field or name).

    Mirrors ``optax.tree_utils.tree_get``: a NamedTuple whose class is called
    ``key`` is returned whole; ``default`` if nothing matches; ``KeyError`` if
    several entries match.
    """

    def is_named_tuple(node):
        return isinstance(node, tuple) and hasattr(node, "_fields")

    def matches(node):
        if is_named_tuple(node):
            return key in node._fields or type(node).__name__ == key
        return isinstance(node, dict) and key in node

    def value(node):
        if is_named_tuple(node):
            return node if type(node).__name__ == key else getattr(node, key)
        return node[key]

    found = [value(n) for n in jax.tree_util.tree_leaves(tree, is_leaf=matches) if matches(n)]
    if not found:
        return default
    if len(found) > 1:
        raise KeyError(f"Found {len(found)} entries named {key!r} in the state; expected one.")
    return found[0]


def process(
    preprocessor: GradientTransformation,
    aggregator: GradientTransformation | Aggregator,
    postprocessor: GradientTransformation,
    aggregator_has_aux: bool = False,
) -> GradientTransformationExtraArgs | Aggregator:
    """Per-element preprocessing, then aggregation, then an ordinary optimizer.

    .. math::

        \\tilde g_{t,b} = \\mathrm{pre}(g_{t,b}), \\qquad
        \\bar g_t = \\mathrm{agg}(\\{\\tilde g_{t,b}\\}_b), \\qquad
        u_t = \\begin{cases} \\mathrm{post}(\\bar g_t) & \\text{if ready} \\\\
        0 & \\text{otherwise.} \\end{cases}

    The postprocessor only steps (and its state only changes) when the
    aggregator's state says ``ready`` (an aggregator that accumulates over
    several calls); a state without a ``ready`` entry is always ready. With
    ``aggregator_has_aux``, the aggregator returns ``(updates, aux)`` and the
    dict ``aux`` is passed to the postprocessor as extra keyword arguments.

    Args:
      preprocessor: maps per-element gradients to per-element updates (e.g.
        per-example clipping).
      aggregator: combines per-element updates into one update.
      postprocessor: the optimizer applied to the aggregated update.
      aggregator_has_aux: whether the aggregator returns ``(updates, aux)``.

    Returns:
      An :class:`Aggregator` if ``aggregator`` is one, else a
      :class:`optjax.GradientTransformationExtraArgs`. Its state is the tuple
      ``(preprocessor_state, aggregator_state, postprocessor_state)``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> from optjax.experimental import aggregating
      >>> opt = aggregating.process(
      ...     optjax.identity(), aggregating.average_per_element_updates(), optjax.sgd(0.5))
      >>> params = jnp.array([1.0, 1.0])
      >>> loss = lambda w, x: jnp.sum((w - x) ** 2)
      >>> per_example = jax.vmap(jax.grad(loss), (None, 0))(params, jnp.eye(2))
      >>> updates, state = opt.update(per_example, opt.init(params))
      >>> print(updates)
      [-0.5 -0.5]
    """
    pre = with_extra_args_support(preprocessor)
    agg = with_extra_args_support(aggregator)
    post = with_extra_args_support(postprocessor)

    def init_fn(params):
        return pre.init(params), agg.init(params), post.init(params)

    def update_fn(per_elt_grads, state, params=None, **extra_args):
        pre_state, agg_state, post_state = state
        per_elt_updates, pre_state = pre.update(per_elt_grads, pre_state, params, **extra_args)
        aggregated, agg_state = agg.update(per_elt_updates, agg_state, params, **extra_args)
        if aggregator_has_aux:
            updates, aux = aggregated
            extra_args = {**extra_args, **aux}
        else:
            updates = aggregated

        def step(g, s, p, kwargs):
            return post.update(g, s, p, **kwargs)

        def skip(g, s, p, kwargs):
            del p, kwargs
            return _tree.zeros_like(g), s

        ready = find_unique(agg_state, "ready", True)
        updates, post_state = jax.lax.cond(
            ready, step, skip, updates, post_state, params, extra_args
        )
        return updates, (pre_state, agg_state, post_state)

    if isinstance(aggregator, Aggregator):
        return Aggregator(init_fn, update_fn)
    return GradientTransformationExtraArgs(init_fn, update_fn)
