"""Masking: apply a transform to a subset of the parameters only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import numpy as np

from optjax._base import (
    GradientTransformationExtraArgs,
    is_params_placeholder,
    with_extra_args_support,
)
from optjax._flax_adapter import strip_variables
from optjax.tree._math import _describe_path


class MaskedNode(NamedTuple):
    """Placeholder for a masked-out subtree: an empty node with no leaves.

    The inner transform of :func:`masked` sees a tree where every masked-out
    entry is a ``MaskedNode``, so its state holds nothing for those entries.
    """


class MaskedState(NamedTuple):
    """State of :func:`masked`: the inner transform's state."""

    inner_state: Any


def _is_callable_mask(mask: Any) -> bool:
    leaves = jax.tree.leaves(jax.tree.map(callable, mask))
    return bool(leaves) and all(leaves)


# Optax's private name for the same test (Optax's own tests call it).
_mask_callable = _is_callable_mask


def _node_children(node: Any) -> tuple[list[Any], list[Any]]:
    children, _ = jax.tree_util.tree_flatten_with_path(node, is_leaf=lambda x: x is not node)
    return [key for key, _ in children], [child for _, child in children]


def _check_mask_leaf(value: Any, path: tuple) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, jax.core.Tracer):
        raise TypeError(
            f"masked: the mask entry at key path {_describe_path(path)} is a traced "
            f"array; a mask must hold static Python booleans (decide with shapes "
            f"or names, e.g. `lambda p: jax.tree.map(lambda x: x.ndim > 1, p)`)."
        )
    if hasattr(value, "dtype") and np.shape(value) == () and value.dtype == bool:
        return bool(value)
    raise TypeError(
        f"masked: the mask entry at key path {_describe_path(path)} is "
        f"{type(value).__name__}; mask entries must be booleans."
    )


def _same_kind(prefix_node: Any, tree_node: Any) -> bool:
    # Any two mappings with the same keys line up (a plain dict of labels for
    # the ``nnx.State`` that flax.nnx.Optimizer passes, say); other containers
    # must have the same type (a list is not a tuple).
    if isinstance(prefix_node, Mapping) and isinstance(tree_node, Mapping):
        return True
    return type(prefix_node) is type(tree_node)


def resolve_prefix(
    prefix: Any,
    tree: Any,
    *,
    where: str,
    what: str,
    check_leaf: Callable[[Any, tuple], Any],
) -> Any:
    """Validates that ``prefix`` is a tree prefix of ``tree`` and resolves its leaves.

    Every leaf of ``prefix`` (a mask, a label...) stands for the whole subtree
    of ``tree`` at the same key path; ``check_leaf(value, path)`` validates it
    and returns the value to keep. The result is rebuilt with ``tree``'s
    container types, so it maps onto ``tree`` with ``jax.tree.map``. Raises
    ``ValueError`` naming the key path where the structures disagree; ``what``
    names ``prefix`` in that message.
    """

    def walk(prefix_node, tree_node, path):
        if isinstance(tree_node, MaskedNode):
            # Already masked out by an outer masked(): nothing below to resolve
            # (a callable mask mapped over such a tree returns the placeholder).
            return tree_node
        # A strict leaf holds exactly one value: an empty container ({}, [],
        # ()) is a node with no children, and matches an empty subtree.
        prefix_def = jax.tree.structure(prefix_node)
        if jax.tree_util.treedef_is_leaf(prefix_def) and prefix_def.num_leaves == 1:
            return check_leaf(prefix_node, path)
        prefix_keys, prefix_children = _node_children(prefix_node)
        tree_keys, tree_children = _node_children(tree_node)
        if not _same_kind(prefix_node, tree_node) or prefix_keys != tree_keys:
            # "Dict key mismatch" is the phrase of JAX's error that Optax lets
            # through; code (and Optax's tests) match on it.
            both_dicts = isinstance(prefix_node, Mapping) and isinstance(tree_node, Mapping)
            raise ValueError(
                f"{where}: "
                + ("Dict key mismatch: " if both_dicts else "")
                + f"the {what} does not match the parameters at key path "
                f"{_describe_path(path)}: the {what} has {type(prefix_node).__name__} "
                f"with entries {[jax.tree_util.keystr(k) for k in prefix_keys]}, the "
                f"parameters have {type(tree_node).__name__} with entries "
                f"{[jax.tree_util.keystr(k) for k in tree_keys]}."
            )
        treedef = jax.tree.structure(tree_node, is_leaf=lambda x: x is not tree_node)
        resolved = [
            walk(p, t, path + tuple(key))
            for key, p, t in zip(prefix_keys, prefix_children, tree_children)
        ]
        return jax.tree.unflatten(treedef, resolved)

    # Masks and labels built by mapping over an nnx.State hold nnx.Variable
    # nodes; they stand for their values.
    return walk(strip_variables(prefix), tree, ())


def resolve_mask(mask_tree: Any, tree: Any, *, where: str) -> Any:
    """Validates that ``mask_tree`` is a boolean tree prefix of ``tree``.

    Returns the mask with every leaf converted to a Python ``bool``. Raises
    ``ValueError`` naming the key path where the structures disagree.
    """
    return resolve_prefix(mask_tree, tree, where=where, what="mask", check_leaf=_check_mask_leaf)


def mask_tree(tree: Any, mask: Any) -> Any:
    """Replaces every subtree whose mask entry is False with a :class:`MaskedNode`."""
    return jax.tree.map(lambda m, x: x if m else MaskedNode(), mask, tree)


def masked(
    inner: Any,
    mask: Any | Callable[[Any], Any],
    *,
    mask_compatible_extra_args: bool = False,
) -> GradientTransformationExtraArgs:
    """Applies ``inner`` only where ``mask`` is True; other updates pass through.

    .. math::

        u_i = \\begin{cases} T(g)_i & m_i = \\text{True} \\\\ g_i & m_i = \\text{False}
        \\end{cases}

    The inner transform never sees the masked-out leaves, so its state holds no
    memory for them. As in Optax, the state's parameter-shaped trees hold
    ``MaskedNode`` entries there: with ``tree_map_params`` and extra trees,
    pass ``is_leaf=lambda v: isinstance(v, optjax.MaskedNode)``.

    Args:
      inner: the transform to apply to the selected leaves.
      mask: a tree of booleans with the parameters' structure (or a prefix of
        it: one boolean can select a whole subtree), or a function from the
        parameters (or updates) to such a tree.
      mask_compatible_extra_args: also mask every extra keyword argument whose
        tree structure equals the updates' (per-parameter tags, say), so the
        inner transform sees them aligned with its masked updates.

    Returns:
      A gradient transformation with a :class:`MaskedState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> params = {"w": jnp.array([1.0, 2.0]), "b": jnp.array([1.0])}
      >>> tx = optjax.masked(optjax.scale(10.0), {"w": True, "b": False})
      >>> updates, _ = tx.update(params, tx.init(params))
      >>> updates["w"], updates["b"]
      (Array([10., 20.], dtype=float32), Array([1.], dtype=float32))
    """
    inner = with_extra_args_support(inner)
    mask_is_callable = _is_callable_mask(mask)

    def resolved(tree):
        # Masks are computed and checked on plain arrays, so that init (which
        # flax.nnx.Optimizer calls with nnx.Variable nodes) and update agree.
        plain = strip_variables(tree)
        mask_value = mask(plain) if mask_is_callable else mask
        return resolve_mask(mask_value, plain, where="masked")

    def init_fn(params):
        if is_params_placeholder(params):
            # tree_map_params: the placeholder stands for the whole tree, so
            # the inner state marks where (masked) parameter trees sit.
            return MaskedState(inner_state=inner.init(params))
        return MaskedState(inner_state=inner.init(mask_tree(params, resolved(params))))

    def update_fn(updates, state, params=None, **extra_args):
        mask_value = resolved(updates)
        masked_params = None if params is None else mask_tree(params, mask_value)
        if mask_compatible_extra_args:
            structure = jax.tree.structure(updates)
            extra_args = {
                key: mask_tree(value, mask_value)
                if jax.tree.structure(value) == structure
                else value
                for key, value in extra_args.items()
            }
        new_masked, inner_state = inner.update(
            mask_tree(updates, mask_value), state.inner_state, masked_params, **extra_args
        )
        new_updates = jax.tree.map(
            lambda m, new, old: new if m else old, mask_value, new_masked, updates
        )
        return new_updates, MaskedState(inner_state=inner_state)

    return GradientTransformationExtraArgs(init_fn, update_fn)
