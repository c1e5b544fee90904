"""Structure checks shared by the public ``optjax.tree`` functions.

The public functions map over trees of one structure, as ``jax.tree.map`` does;
what they add is the error. Where the trees differ (including a subtree or a
``None`` where the first tree has a leaf, which would otherwise reach the leaf
function and fail inside it), they raise a ``ValueError`` that names the
function, both arguments and the first key path where the trees differ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax

from optjax.tree._math import _first_difference


def check_compatible(
    tree: Any,
    rest: Sequence[Any],
    names: Sequence[str],
    *,
    where: str,
    is_leaf: Callable[[Any], bool] | None = None,
) -> None:
    """Raises ``ValueError`` if a tree of ``rest`` has a different structure from ``tree``.

    ``names[0]`` names ``tree`` and ``names[i + 1]`` names ``rest[i]`` in the
    message (the last name is reused for any further trees).
    """
    treedef = jax.tree.structure(tree, is_leaf=is_leaf)
    for index, other in enumerate(rest):
        if jax.tree.structure(other, is_leaf=is_leaf) != treedef:
            other_name = names[min(index + 1, len(names) - 1)]
            raise ValueError(
                f"{where}: the tree structure of {other_name} does not match "
                f"{names[0]}; {_first_difference(tree, other)}."
            )


def tree_map(
    f: Callable[..., Any],
    tree: Any,
    *rest: Any,
    names: Sequence[str],
    where: str,
    is_leaf: Callable[[Any], bool] | None = None,
) -> Any:
    """``jax.tree.map`` with a readable error for mismatched structures."""
    if rest:
        check_compatible(tree, rest, names, where=where, is_leaf=is_leaf)
    return jax.tree.map(f, tree, *rest, is_leaf=is_leaf)


def is_none(x: Any) -> bool:
    """``is_leaf`` predicate that stops at ``None`` entries."""
    return x is None
