"""Partitioning: a different transform for each labelled group of parameters."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, NamedTuple

import jax

from optjax._base import (
    GradientTransformationExtraArgs,
    is_params_placeholder,
    with_extra_args_support,
)
from optjax._flax_adapter import strip_variables
from optjax.transforms._basic import set_to_zero
from optjax.transforms._combinators._masking import masked, resolve_prefix
from optjax.tree._math import _describe_path


class PartitionState(NamedTuple):
    """State of :func:`partition`: one ``MaskedState`` per label, keyed by label."""

    inner_states: Mapping[Hashable, Any]


MultiTransformState = PartitionState


def _label_checker(transforms: Mapping[Hashable, Any]) -> Callable[[Any, tuple], Any]:
    def check(label, path):
        if isinstance(label, jax.core.Tracer):
            raise TypeError(
                f"partition: the label at key path {_describe_path(path)} is a traced "
                f"array; labels must be static (strings, say), decided from names "
                f"or shapes."
            )
        try:
            known = label in transforms
        except TypeError:  # Unhashable, so it cannot be a key of `transforms`.
            known = False
        if not known:
            raise ValueError(
                f"partition: the label {label!r} at key path {_describe_path(path)} "
                f"names no transform; the valid labels are "
                f"{[key for key in transforms]}."
            )
        return label

    return check


def partition(
    transforms: Mapping[Hashable, Any],
    param_labels: Any | Callable[[Any], Any],
    *,
    mask_compatible_extra_args: bool = False,
) -> GradientTransformationExtraArgs:
    """Applies a different transform to each labelled group of parameters.

    Every parameter leaf :math:`i` carries a label :math:`\\ell(i)`; the
    transform registered under that label produces its update:

    .. math::

        u_i = T_{\\ell(i)}(g_{\\{j : \\ell(j) = \\ell(i)\\}})_i

    Each transform sees only the leaves with its label (the others are
    ``MaskedNode`` placeholders, as in :func:`optjax.masked`), so its state
    holds memory for those leaves only. A transform whose label occurs nowhere
    is allowed; its state then holds no per-parameter entries. ``multi_transform``
    is the same function under its older Optax name.

    Labels are computed and checked on plain arrays: under
    ``flax.nnx.Optimizer``, ``init`` receives ``nnx.Variable`` nodes and
    ``update`` plain arrays, and both see the same labels (a label function
    may read key paths such as ``path[-1].key``).

    Args:
      transforms: a mapping from label to gradient transformation.
      param_labels: a tree of labels with the parameters' structure, or a prefix
        of it (one label names a whole subtree), or a function from the
        parameters (at ``init``) or the updates (at ``update``) to such a tree.
        Every label must be a key of ``transforms``.
      mask_compatible_extra_args: also mask every extra keyword argument whose
        tree structure equals the updates', so each transform sees it aligned
        with its own leaves.

    Returns:
      A gradient transformation with a :class:`PartitionState`.

    Raises:
      ValueError: at ``init`` or ``update``, when a label names no transform
        or the labels' structure does not match the parameters (the message
        names the key path).

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> params = {"w": jnp.array([1.0, 2.0]), "b": jnp.array([1.0])}
      >>> tx = optjax.partition(
      ...     {"slow": optjax.sgd(0.1), "fast": optjax.sgd(1.0)}, {"w": "slow", "b": "fast"})
      >>> updates, _ = tx.update({"w": jnp.ones(2), "b": jnp.ones(1)}, tx.init(params))
      >>> updates["w"], updates["b"]
      (Array([-0.1, -0.1], dtype=float32), Array([-1.], dtype=float32))

      Labels can come from a function of the parameters, here of their key paths:

      >>> import jax
      >>> by_name = lambda p: jax.tree_util.tree_map_with_path(lambda k, _: k[-1].key, p)
      >>> tx = optjax.multi_transform({"w": optjax.adam(0.1), "b": optjax.set_to_zero()}, by_name)
      >>> sorted(tx.init(params).inner_states)
      ['b', 'w']
    """
    transforms = {label: with_extra_args_support(tx) for label, tx in transforms.items()}
    check_label = _label_checker(transforms)

    def group_masks(tree):
        plain = strip_variables(tree)
        labels = param_labels(plain) if callable(param_labels) else param_labels
        labels = resolve_prefix(
            labels, plain, where="partition", what="labels", check_leaf=check_label
        )
        return {
            group: jax.tree.map(lambda label, group=group: label == group, labels)
            for group in transforms
        }

    def wrapped(group, mask):
        return masked(
            transforms[group], mask, mask_compatible_extra_args=mask_compatible_extra_args
        )

    def init_fn(params):
        if is_params_placeholder(params):
            # tree_map_params: no labels to read; each group's masked state
            # marks where parameter trees sit.
            return PartitionState(
                inner_states={group: wrapped(group, False).init(params) for group in transforms}
            )
        masks = group_masks(params)
        return PartitionState(
            inner_states={group: wrapped(group, masks[group]).init(params) for group in transforms}
        )

    def update_fn(updates, state, params=None, **extra_args):
        missing = [group for group in transforms if group not in state.inner_states]
        if missing:
            raise ValueError(
                f"partition: the state has no entry for the labels {missing}. Was it "
                f"built by this partition's init?"
            )
        masks = group_masks(updates)
        new_states = {}
        # The groups are disjoint, so applying them one after another touches
        # every leaf exactly once.
        for group in transforms:
            updates, new_states[group] = wrapped(group, masks[group]).update(
                updates, state.inner_states[group], params, **extra_args
            )
        return updates, PartitionState(inner_states=new_states)

    return GradientTransformationExtraArgs(init_fn, update_fn)


multi_transform = partition


def freeze(mask: bool | Any) -> GradientTransformationExtraArgs:
    """Zeroes the updates of the parameters selected by ``mask``, freezing them.

    .. math::

        u_i = \\begin{cases} 0 & m_i = \\text{True} \\\\ g_i & m_i = \\text{False}
        \\end{cases}

    Chain it in front of an optimizer to keep some parameters fixed; the
    optimizer still keeps state for the frozen leaves (use
    :func:`selective_transform` to avoid that).

    Args:
      mask: one boolean (freeze everything or nothing), or a tree of booleans
        with the parameters' structure or a prefix of it; ``True`` freezes.

    Returns:
      A gradient transformation with a ``MaskedState``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> params = {"w": jnp.array([1.0, 2.0]), "b": jnp.array([1.0])}
      >>> tx = optjax.chain(optjax.freeze({"w": True, "b": False}), optjax.sgd(0.5))
      >>> updates, _ = tx.update(params, tx.init(params))
      >>> updates["w"], updates["b"]
      (Array([-0., -0.], dtype=float32), Array([-0.5], dtype=float32))
    """
    return masked(set_to_zero(), mask)


def selective_transform(
    optimizer: Any,
    *,
    freeze_mask: bool | Any,
) -> GradientTransformationExtraArgs:
    """Runs ``optimizer`` on the unfrozen parameters and zeroes the frozen ones.

    .. math::

        u_i = \\begin{cases} 0 & m_i = \\text{True} \\\\ T(g_{\\{j : m_j =
        \\text{False}\\}})_i & m_i = \\text{False} \\end{cases}

    Unlike ``chain(freeze(mask), optimizer)``, the optimizer keeps no state for
    frozen leaves. This is :func:`partition` with the labels ``"train"`` and
    ``"freeze"``.

    Args:
      optimizer: the transform for the trainable (``False``) leaves.
      freeze_mask: one boolean, or a tree of booleans with the parameters'
        structure or a prefix of it; ``True`` freezes.

    Returns:
      A gradient transformation with a :class:`PartitionState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> params = {"w": jnp.array([1.0, 2.0]), "b": jnp.array([1.0])}
      >>> tx = optjax.selective_transform(optjax.sgd(0.5), freeze_mask={"w": True, "b": False})
      >>> updates, _ = tx.update(params, tx.init(params))
      >>> updates["w"], updates["b"]
      (Array([0., 0.], dtype=float32), Array([-0.5], dtype=float32))
    """

    def labels(params):
        del params
        return jax.tree.map(lambda frozen: "freeze" if frozen else "train", freeze_mask)

    return partition({"train": optimizer, "freeze": set_to_zero()}, labels)
