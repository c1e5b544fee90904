"""Finding and replacing values in a pytree (an optimizer state) by key or name.

A *key* names a dict key, a NamedTuple field, or a NamedTuple class (``'count'``,
``'learning_rate'``, ``'ScaleByAdamState'``). The key paths these functions hand
to ``filtering`` (and return) spell a NamedTuple field as a
:class:`NamedTupleKey`, which carries the tuple's class name, so that two
``count`` fields of different states can be told apart.

Search order, which :func:`get_all_with_path` returns: first every node in
flattening order that holds ``key`` directly, then, node by node, the matches
nested inside those nodes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

KeyPath = tuple[Any, ...]
Filtering = Callable[[KeyPath, Any], bool]


@dataclasses.dataclass(frozen=True)
class NamedTupleKey:
    """A key-path entry for a field of a NamedTuple, naming the tuple's class.

    It plays the part of :class:`jax.tree_util.GetAttrKey` in the key paths of
    :func:`optjax.tree.get_all_with_path`, :func:`optjax.tree.get` and
    :func:`optjax.tree.set`, so a ``filtering`` function can check which state
    a field belongs to.

    Attributes:
      tuple_name: the class name of the NamedTuple.
      name: the field name.

    Examples:
      >>> import optjax
      >>> key = optjax.tree_utils.NamedTupleKey("ScaleByAdamState", "count")
      >>> str(key)
      'ScaleByAdamState.count'
    """

    tuple_name: str
    name: str

    def __str__(self) -> str:
        return f"{self.tuple_name}.{self.name}"


def _is_named_tuple(node: Any) -> bool:
    return isinstance(node, tuple) and hasattr(node, "_fields")


def _holds_any(node: Any, keys: tuple[Any, ...]) -> bool:
    """Whether ``node`` has one of ``keys`` as a dict key, field or class name."""
    if _is_named_tuple(node):
        return type(node).__name__ in keys or any(k in node._fields for k in keys)
    if isinstance(node, dict):
        return any(k in node for k in keys)
    return False


def _named_leaves(tree: Any, stop: Callable[[Any], bool]) -> list[tuple[KeyPath, Any]]:
    """Leaves with paths, stopping at ``stop`` nodes, NamedTuple fields as NamedTupleKey."""
    out = []
    flat = jax.tree_util.tree_leaves_with_path(
        tree, is_leaf=lambda x: stop(x) or _is_named_tuple(x)
    )
    for path, node in flat:
        if stop(node) or not _is_named_tuple(node):
            out.append((path, node))
            continue
        tuple_name = type(node).__name__
        for field in node._fields:
            head = (*path, NamedTupleKey(tuple_name, field))
            out.extend(
                (head + sub, leaf) for sub, leaf in _named_leaves(getattr(node, field), stop)
            )
    return out


def _children(path: KeyPath, node: Any) -> list[tuple[KeyPath, Any]]:
    if _is_named_tuple(node):
        name = type(node).__name__
        return [((*path, NamedTupleKey(name, f)), getattr(node, f)) for f in node._fields]
    # _holds_any only lets NamedTuples and dicts through.
    return [((*path, jax.tree_util.DictKey(k)), v) for k, v in node.items()]


def _select(path: KeyPath, node: Any, key: Any) -> tuple[KeyPath, Any]:
    if _is_named_tuple(node):
        if type(node).__name__ == key:
            return path, node
        return (*path, NamedTupleKey(type(node).__name__, key)), getattr(node, key)
    return (*path, jax.tree_util.DictKey(key)), node[key]


def _find(tree: Any, key: Any) -> list[tuple[KeyPath, Any]]:
    def holds(node):
        return _holds_any(node, (key,))

    holders = [(path, node) for path, node in _named_leaves(tree, holds) if holds(node)]
    found = [_select(path, node, key) for path, node in holders]
    for path, node in holders:
        for child_path, child in _children(path, node):
            found.extend((child_path + sub, value) for sub, value in _find(child, key))
    return found


def get_all_with_path(
    tree: Any, key: Any, filtering: Filtering | None = None
) -> list[tuple[KeyPath, Any]]:
    r"""Every value in ``tree`` stored under ``key``, with its key path.

    Args:
      tree: the pytree to search (an optimizer state, typically).
      key: a dict key, a NamedTuple field name, or a NamedTuple class name (which
        matches the whole tuple).
      filtering: optional ``filtering(path, value) -> bool`` that keeps only
        some of the matches.

    Returns:
      A list of ``(path, value)`` pairs; ``path`` is a tuple of key entries
      (:class:`NamedTupleKey` for NamedTuple fields) that
      :func:`jax.tree_util.keystr` prints.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> state = optjax.adam(1.0).init(jnp.zeros(2))
      >>> for path, value in optjax.tree.get_all_with_path(state, "count"):
      ...     print(jax.tree_util.keystr(path), value)
      [0]ScaleByAdamState.count 0
    """
    found = _find(tree, key)
    if filtering is not None:
        found = [(path, value) for path, value in found if filtering(path, value)]
    return found


def get(tree: Any, key: Any, default: Any = None, filtering: Filtering | None = None) -> Any:
    r"""The one value in ``tree`` stored under ``key``, or ``default`` if there is none.

    Args:
      tree: the pytree to search.
      key: a dict key, a NamedTuple field name, or a NamedTuple class name.
      default: returned when nothing matches.
      filtering: optional ``filtering(path, value) -> bool`` to choose among
        several matches (see :func:`get_all_with_path`).

    Returns:
      The matching value, or ``default``.

    Raises:
      KeyError: if several values match; ``filtering`` can single one out.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> state = optjax.adam(1.0).init(jnp.zeros(2))
      >>> print(optjax.tree.get(state, "count"), optjax.tree.get(state, "missing", -1))
      0 -1
    """
    found = get_all_with_path(tree, key, filtering=filtering)
    if len(found) > 1:
        paths = ", ".join(jax.tree_util.keystr(path) for path, _ in found)
        raise KeyError(
            f"tree.get: found {len(found)} values for {key!r}, at key paths {paths}; "
            f"pass filtering=lambda path, value: ... to choose one."
        )
    return found[0][1] if found else default


def _key_name(entry: Any) -> Any:
    if isinstance(entry, jax.tree_util.DictKey):
        if isinstance(entry.key, (str, int)):
            return entry.key
        raise KeyError(f"tree.set: dict keys must be str or int, got {entry.key!r}.")
    if isinstance(entry, NamedTupleKey):
        return entry.name
    if isinstance(entry, jax.tree_util.GetAttrKey):
        return entry.name
    if isinstance(entry, jax.tree_util.SequenceKey):
        return entry.idx
    if isinstance(entry, jax.tree_util.FlattenedIndexKey):
        return entry.key
    raise KeyError(f"tree.set: unsupported key entry {entry!r} of type {type(entry).__name__}.")


def set(  # noqa: A001 - Optax's name.
    tree: Any, filtering: Filtering | None = None, /, **kwargs: Any
) -> Any:
    r"""A copy of ``tree`` with the values under the given keys replaced.

    Each keyword names a dict key, a NamedTuple field, or a NamedTuple class
    (which replaces the whole tuple); every value stored under it is replaced,
    unless ``filtering`` rejects it.

    Args:
      tree: the pytree to update.
      filtering: optional ``filtering(path, value) -> bool``, positional only;
        only the matches it accepts are replaced.
      **kwargs: the keys and their new values.

    Returns:
      The new pytree.

    Raises:
      KeyError: if a keyword matches nothing in ``tree`` (after filtering).

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> state = optjax.adam(1.0).init(jnp.zeros(2))
      >>> print(optjax.tree.get(optjax.tree.set(state, count=7), "count"))
      7
    """
    for key in kwargs:
        if not get_all_with_path(tree, key, filtering):
            suffix = " that passes the filtering" if filtering is not None else ""
            raise KeyError(f"tree.set: found no value for {key!r}{suffix} in the tree.")
    names = tuple(kwargs)

    def holds(node):
        return _holds_any(node, names)

    def accepts(path, value):
        return filtering is None or filtering(path, value)

    def replace(path, node):
        if not holds(node):
            return node
        if _is_named_tuple(node) and type(node).__name__ in kwargs and accepts(path, node):
            return kwargs[type(node).__name__]
        new_children = {}
        for child_path, child in _children(path, node):
            name = _key_name(child_path[-1])
            if name in kwargs and accepts(child_path, child):
                new_children[name] = kwargs[name]
            elif isinstance(child, (dict, list, tuple)):
                new_children[name] = replace(child_path, child)
            else:
                new_children[name] = child
        if _is_named_tuple(node):
            return node._replace(**new_children)
        return new_children

    treedef = jax.tree.structure(tree, is_leaf=holds)
    return jax.tree.unflatten(
        treedef, [replace(path, node) for path, node in _named_leaves(tree, holds)]
    )
