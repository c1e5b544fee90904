"""Structure checks shared by the public ``optjax.tree`` functions.

The public functions follow ``jax.tree.map``'s rules exactly (the other trees
may hold a subtree where the first holds a leaf); what they add is the error:
when ``jax.tree.map`` would refuse the trees, they raise a ``ValueError`` that
names the function, both arguments and the first key path where they differ.
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
    """Raises ``ValueError`` if a tree of ``rest`` cannot be mapped with ``tree``.

    ``names[0]`` names ``tree`` and ``names[i + 1]`` names ``rest[i]`` in the
    message (the last name is reused for any further trees).
    """
    treedef = jax.tree.structure(tree, is_leaf=is_leaf)
    for index, other in enumerate(rest):
        try:
            treedef.flatten_up_to(other)
        except (ValueError, TypeError):
            other_name = names[min(index + 1, len(names) - 1)]
            raise ValueError(
                f"{where}: the tree structure of {other_name} does not match "
                f"{names[0]}; {_first_difference(tree, other)}."
            ) from None


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
