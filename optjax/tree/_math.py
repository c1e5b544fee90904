"""Tree math: the one place where optjax's per-leaf arithmetic lives.

Every optimizer's moment updates, bias corrections and norms go through these
helpers, so a faster execution strategy can be swapped in here once for all of
them. ``None`` entries in a tree are empty subtrees (as in JAX), so they pass
through every helper untouched.

The structure and dtype checks at the top are what turn bad input into a
clear error that names the key path, at trace time, instead of an XLA error.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

# ----------------------------------------------------------------------------
# Checks.


def _describe_path(path: Sequence[Any]) -> str:
    text = jax.tree_util.keystr(tuple(path))
    return text if text else "<root>"


def _first_difference(reference: Any, other: Any) -> str:
    """Describes where two trees with different treedefs first differ."""
    ref_leaves = jax.tree_util.tree_flatten_with_path(reference)[0]
    other_leaves = jax.tree_util.tree_flatten_with_path(other)[0]
    ref_paths = [path for path, _ in ref_leaves]
    other_paths = [path for path, _ in other_leaves]
    for ref_path, other_path in zip(ref_paths, other_paths):
        if ref_path != other_path:
            # A leaf present in one tree only (a None in the other, say).
            if ref_path not in other_paths and other_path in ref_paths:
                return f"key path {_describe_path(ref_path)} is missing"
            if other_path not in ref_paths and ref_path in other_paths:
                return f"key path {_describe_path(other_path)} is unexpected"
            return (
                f"first difference at key path {_describe_path(ref_path)} "
                f"(the other tree has {_describe_path(other_path)} there)"
            )
    if len(ref_paths) > len(other_paths):
        return f"key path {_describe_path(ref_paths[len(other_paths)])} is missing"
    if len(other_paths) > len(ref_paths):
        return f"key path {_describe_path(other_paths[len(ref_paths)])} is unexpected"
    # Same leaf paths: a container type differs (list vs tuple, dict vs
    # NamedTuple, a None in one tree where the other has an empty node, ...).
    return _first_node_difference(reference, other, ())


def _first_node_difference(reference: Any, other: Any, path: tuple) -> str:
    ref_children, ref_def = jax.tree_util.tree_flatten_with_path(
        reference, is_leaf=lambda x: x is not reference
    )
    other_children, other_def = jax.tree_util.tree_flatten_with_path(
        other, is_leaf=lambda x: x is not other
    )
    ref_keys = [k for k, _ in ref_children]
    other_keys = [k for k, _ in other_children]
    if type(reference) is not type(other) or ref_keys != other_keys:
        return (
            f"first difference at key path {_describe_path(path)}: "
            f"{type(reference).__name__} vs {type(other).__name__}"
        )
    for (key, ref_child), (_, other_child) in zip(ref_children, other_children):
        if jax.tree.structure(ref_child) != jax.tree.structure(other_child):
            return _first_node_difference(ref_child, other_child, path + tuple(key))
    return f"first difference at key path {_describe_path(path)}"


def check_same_structure(
    reference: Any,
    other: Any,
    reference_name: str,
    other_name: str,
    *,
    where: str,
) -> None:
    """Raises ``ValueError`` naming the first key path where two trees differ."""
    if jax.tree.structure(reference) == jax.tree.structure(other):
        return
    raise ValueError(
        f"{where}: the tree structure of {other_name} does not match "
        f"{reference_name}; {_first_difference(reference, other)}. "
        f"Build the optimizer state with `init` on the same parameter tree "
        f"that the gradients come from."
    )


def check_inexact(tree: Any, *, what: str, where: str) -> None:
    """Raises ``TypeError`` if a leaf is not floating point or complex."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        dtype = getattr(leaf, "dtype", None)
        if dtype is None:
            if isinstance(leaf, (bool, int)):
                dtype = jnp.dtype(bool if isinstance(leaf, bool) else int)
            else:
                continue
        if not jnp.issubdtype(dtype, jnp.inexact):
            raise TypeError(
                f"{where}: {what} leaf at key path {_describe_path(path)} has "
                f"dtype {jnp.dtype(dtype).name}; optimizers work on floating-"
                f"point (or complex) leaves only. Keep integer and boolean "
                f"leaves out of the tree you optimize, or exclude them with "
                f"optjax.masked."
            )


# ----------------------------------------------------------------------------
# Structure-checked mapping.


def map(  # noqa: A001 - mirrors jax.tree.map on purpose.
    f: Callable[..., Any],
    tree: Any,
    *rest: Any,
    names: Sequence[str] = ("updates", "optimizer state"),
    where: str = "optjax",
) -> Any:
    """``jax.tree.map`` that first checks every tree has ``tree``'s structure.

    A mismatch raises ``ValueError`` that names the first differing key path;
    ``names`` names the trees in that message.
    """
    for index, other in enumerate(rest):
        other_name = names[min(index + 1, len(names) - 1)]
        check_same_structure(tree, other, names[0], other_name, where=where)
    return jax.tree.map(f, tree, *rest)


# ----------------------------------------------------------------------------
# Construction and casting.


def zeros_like(tree: Any, dtype: Any = None) -> Any:
    """Zeros shaped like each leaf, in ``dtype`` or the leaf's own dtype."""
    return jax.tree.map(lambda x: jnp.zeros_like(x, dtype=dtype), tree)


def ones_like(tree: Any, dtype: Any = None) -> Any:
    """Ones shaped like each leaf, in ``dtype`` or the leaf's own dtype."""
    return jax.tree.map(lambda x: jnp.ones_like(x, dtype=dtype), tree)


def full_like(tree: Any, fill_value: jax.typing.ArrayLike, dtype: Any = None) -> Any:
    """``fill_value`` shaped like each leaf, in ``dtype`` or the leaf's dtype."""
    return jax.tree.map(lambda x: jnp.full_like(x, fill_value, dtype=dtype), tree)


def cast(tree: Any, dtype: Any) -> Any:
    """Casts every leaf to ``dtype``; ``None`` leaves the tree as it is."""
    if dtype is None:
        return tree
    return jax.tree.map(lambda x: jnp.asarray(x).astype(dtype), tree)


def cast_like(tree: Any, like: Any) -> Any:
    """Casts each leaf of ``tree`` to the dtype of the matching leaf of ``like``."""

    def _cast(x, y):
        x_dtype = getattr(x, "dtype", None)
        y_dtype = getattr(y, "dtype", None)
        if x_dtype is None or y_dtype is None or x_dtype == y_dtype:
            return x
        return x.astype(y_dtype)

    return jax.tree.map(_cast, tree, like)


# ----------------------------------------------------------------------------
# Elementwise arithmetic.


def add(tree_x: Any, tree_y: Any, *others: Any) -> Any:
    """Leafwise ``x + y (+ ...)``."""
    return jax.tree.map(lambda *xs: functools.reduce(operator.add, xs), tree_x, tree_y, *others)


def sub(tree_x: Any, tree_y: Any) -> Any:
    """Leafwise ``x - y``."""
    return jax.tree.map(operator.sub, tree_x, tree_y)


def mul(tree_x: Any, tree_y: Any) -> Any:
    """Leafwise ``x * y``."""
    return jax.tree.map(operator.mul, tree_x, tree_y)


def scale(scalar: jax.typing.ArrayLike, tree: Any) -> Any:
    """``scalar * x`` for every leaf, keeping each leaf's dtype."""
    return jax.tree.map(lambda x: (scalar * x).astype(jnp.asarray(x).dtype), tree)


def add_scale(tree_x: Any, scalar: jax.typing.ArrayLike, tree_y: Any) -> Any:
    """Leafwise ``x + scalar * y``, keeping each leaf of ``x``'s dtype."""
    return jax.tree.map(lambda x, y: (x + scalar * y).astype(jnp.asarray(x).dtype), tree_x, tree_y)


def where(condition: jax.typing.ArrayLike, tree_x: Any, tree_y: Any) -> Any:
    """Leafwise ``jnp.where(condition, x, y)``."""
    return jax.tree.map(lambda x, y: jnp.where(condition, x, y), tree_x, tree_y)


def abs_sq(x: jax.typing.ArrayLike) -> jax.Array:
    r"""The squared modulus ``|x|**2``, real-valued for complex ``x``.

    .. math::
        |x|^2 = \mathrm{Re}(x)^2 + \mathrm{Im}(x)^2

    Args:
      x: a real or complex array.

    Returns:
      A real array of ``x``'s shape.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> optjax.tree.abs_sq(jnp.array([3.0 + 4.0j]))
      Array([25.], dtype=float32)
    """
    x = jnp.asarray(x)
    if jnp.iscomplexobj(x):
        return jnp.square(x.real) + jnp.square(x.imag)
    return jnp.square(x)


# ----------------------------------------------------------------------------
# Reductions.


def sum(tree: Any) -> jax.Array:  # noqa: A001 - tree-level sum.
    """The sum of every element of every leaf."""
    sums = jax.tree.map(jnp.sum, tree)
    return jax.tree.reduce(operator.add, sums, initializer=0)


def vdot(tree_x: Any, tree_y: Any) -> jax.Array:
    """Inner product ``sum_i <x_i, y_i>`` over the leaves of two trees."""
    products = jax.tree.map(
        lambda x, y: jnp.vdot(
            jnp.asarray(x).ravel(),
            jnp.asarray(y).ravel(),
            precision=jax.lax.Precision.HIGHEST,
        ),
        tree_x,
        tree_y,
    )
    return jax.tree.reduce(operator.add, products, initializer=0)


def l2_norm(tree: Any, squared: bool = False) -> jax.Array:
    """The global Euclidean norm of a tree, over every element of every leaf.

    .. math::
        \\|x\\| = \\sqrt{\\textstyle\\sum_i \\|x_i\\|^2}

    Args:
      tree: a tree of arrays (complex leaves count their modulus).
      squared: return the squared norm.

    Returns:
      A scalar array.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> optjax.tree.l2_norm({"a": jnp.array([3.0]), "b": jnp.array([4.0])})
      Array(5., dtype=float32)
    """
    squares = jax.tree.map(lambda x: jnp.sum(abs_sq(x)), tree)
    total = jax.tree.reduce(operator.add, squares, initializer=0)
    return jnp.asarray(total if squared else jnp.sqrt(total))


def safe_norm(
    x: jax.typing.ArrayLike,
    min_norm: jax.typing.ArrayLike,
    ord: int | float | str | None = None,  # noqa: A002 - NumPy's name.
    axis: None | tuple[int, ...] | int = None,
    keepdims: bool = False,
) -> jax.Array:
    r"""``max(norm(x), min_norm)``, with a zero (not NaN) gradient where the norm is small.

    .. math::
        \mathrm{safe\_norm}(x) = \begin{cases}
          \|x\| & \text{if } \|x\| > m \\ m & \text{otherwise} \end{cases}

    The naive ``jnp.maximum(jnp.linalg.norm(x), min_norm)`` has a NaN gradient
    at ``x = 0``; here, where the norm is at most ``min_norm``, the norm is
    taken of a dummy array of ones instead, so both branches stay finite.

    Args:
      x: array.
      min_norm: the lower bound :math:`m`.
      ord: the order of the norm, as in :func:`jax.numpy.linalg.norm`.
      axis: the axis or pair of axes to reduce, as in :func:`jax.numpy.linalg.norm`.
      keepdims: whether to keep the reduced axes with size one.

    Returns:
      The safe norm.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> print(jax.grad(optjax.safe_norm)(jnp.zeros(3), 0.0))
      [0. 0. 0.]
      >>> print(optjax.safe_norm(jnp.array([3.0, 4.0]), 1.0))
      5.0
    """
    full = jnp.linalg.norm(x, ord=ord, axis=axis, keepdims=True)
    small = full <= min_norm
    safe_x = jnp.where(small, jnp.ones_like(x), x)
    if not keepdims:
        small = jnp.squeeze(small, axis=axis)
    return jnp.where(
        small, min_norm, jnp.linalg.norm(safe_x, ord=ord, axis=axis, keepdims=keepdims)
    )


def safe_rms(x: jax.typing.ArrayLike, min_rms: jax.typing.ArrayLike) -> jax.Array:
    """``max(sqrt(mean(|x|^2)), min_rms)`` with a finite gradient at 0."""
    x = jnp.asarray(x)
    rms = jnp.sqrt(jnp.mean(abs_sq(x)))
    x = jnp.where(rms <= min_rms, jnp.ones_like(x), x)
    return jnp.where(rms <= min_rms, min_rms, jnp.sqrt(jnp.mean(abs_sq(x))))


# ----------------------------------------------------------------------------
# Moments, shared by every adaptive optimizer.


def update_moment(updates: Any, moments: Any, decay: Any, order: int) -> Any:
    """EMA of the ``order``-th power: :math:`m \\leftarrow (1-\\beta) g^k + \\beta m`."""
    return map(
        lambda g, t: (1 - decay) * (g**order) + decay * t,
        updates,
        moments,
        where="moment update",
    )


def update_moment_per_elem_norm(updates: Any, moments: Any, decay: Any, order: int) -> Any:
    """EMA of ``|g|**order``: :math:`v \\leftarrow (1-\\beta) |g|^k + \\beta v`.

    For real leaves ``|g|**2`` is ``g**2``; complex leaves use the modulus.
    """

    def elem_norm(g):
        if not jnp.iscomplexobj(g):
            return g**order
        half_order = order / 2
        if float(half_order).is_integer():
            half_order = int(half_order)
        return abs_sq(g) ** half_order

    return map(
        lambda g, t: (1 - decay) * elem_norm(g) + decay * t,
        updates,
        moments,
        where="moment update",
    )


def update_infinity_moment(updates: Any, moments: Any, decay: Any, eps: Any) -> Any:
    """Exponentially weighted infinity norm: :math:`u \\leftarrow \\max(|g| + \\epsilon, \\beta u)`."""
    return map(
        lambda g, t: jnp.maximum(jnp.abs(g) + eps, decay * t),
        updates,
        moments,
        where="moment update",
    )


# Compiled (inlined into any enclosing jit) so that eager calls round
# ``decay**count`` exactly as a compiled step does, and as Optax does.
@functools.partial(jax.jit, inline=True)
def bias_correction(moment: Any, decay: Any, count: jax.typing.ArrayLike) -> Any:
    """Divides each leaf by :math:`1 - \\beta^t`.

    The correction factor is computed in the count's float precision and
    then cast to each leaf's dtype, so a bfloat16 moment stays bfloat16 without
    :math:`\\beta^t` rounding to 1.
    """
    correction = 1 - decay**count
    return jax.tree.map(lambda t: t / correction.astype(t.dtype), moment)


def safe_increment(count: jax.typing.ArrayLike) -> jax.Array:
    r"""``count + 1``, staying at the dtype's largest value instead of overflowing.

    .. math::
        c \leftarrow \min(c + 1, c_{\max})

    Args:
      count: an integer or floating-point counter.

    Returns:
      The incremented counter, in ``count``'s dtype.

    Raises:
      ValueError: for a boolean or complex ``count``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> optjax.safe_increment(jnp.asarray(1, jnp.int32))
      Array(2, dtype=int32)
      >>> optjax.safe_increment(jnp.asarray(2**31 - 1, jnp.int32))
      Array(2147483647, dtype=int32)
    """
    count = jnp.asarray(count)
    if jnp.issubdtype(count.dtype, jnp.integer):
        max_value = jnp.iinfo(count.dtype).max
    elif jnp.issubdtype(count.dtype, jnp.floating):
        max_value = jnp.finfo(count.dtype).max
    else:
        raise ValueError(
            f"safe_increment: count has dtype {count.dtype.name}; it must be an integer or "
            f"floating-point dtype."
        )
    one = jnp.array(1, dtype=count.dtype)
    max_value = jnp.array(max_value, dtype=count.dtype)
    return jnp.where(count < max_value, count + one, max_value)


def size(tree: Any) -> int:
    """The total number of elements in a tree."""
    return int(jax.tree.reduce(operator.add, jax.tree.map(jnp.size, tree), initializer=0))


def normal_like(key: jax.Array, tree: Any) -> Any:
    """Standard-normal leaves shaped like ``tree``'s, one fresh key per leaf.

    ``key`` is split into as many keys as ``tree`` has leaves (``None`` entries
    are not leaves), in flattening order, and leaf ``i`` is drawn from key
    ``i`` in that leaf's dtype. This is Optax's splitting scheme, so noise drawn
    from the same key matches Optax's bit for bit.
    """
    leaves, treedef = jax.tree.flatten(tree)
    keys = jax.random.split(key, len(leaves))
    samples = [
        jax.random.normal(k, jnp.shape(x), x.dtype, out_sharding=jax.typeof(x).sharding)
        for k, x in zip(keys, leaves, strict=True)
    ]
    return jax.tree.unflatten(treedef, samples)
