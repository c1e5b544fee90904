"""Layout wrappers: run a transform on flat vectors instead of many small leaves.

Many small leaves mean many small kernels; concatenating them into one vector
(per dtype) lets an elementwise optimizer run as a handful of large ops.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from optjax._base import (
    GradientTransformationExtraArgs,
    is_params_placeholder,
    with_extra_args_support,
)
from optjax._flax_adapter import strip_variables
from optjax.tree import _math as _tree


def _leaves(tree: Any) -> tuple[list[jax.Array], Any]:
    leaves, treedef = jax.tree.flatten(strip_variables(tree))
    return [jnp.asarray(x) for x in leaves], treedef


def _concat(leaves: list[jax.Array]) -> jax.Array:
    if not leaves:
        return jnp.zeros((0,))
    return jnp.concatenate([jnp.ravel(x) for x in leaves])


def _split(flat: jax.Array, like: list[jax.Array]) -> list[jax.Array]:
    """Cuts ``flat`` into pieces shaped (and typed) like the leaves in ``like``."""
    sizes = [int(np.size(x)) for x in like]
    pieces = jnp.split(flat, np.cumsum(sizes)[:-1].tolist()) if like else []
    return [
        jnp.reshape(piece, x.shape).astype(x.dtype) for piece, x in zip(pieces, like, strict=True)
    ]


def _groups(leaves: list[jax.Array]) -> dict[str, list[int]]:
    """Leaf indices by dtype name, each list in flattening order."""
    groups: dict[str, list[int]] = {}
    for index, leaf in enumerate(leaves):
        groups.setdefault(leaf.dtype.name, []).append(index)
    return groups


def _gather(leaves: list[jax.Array], groups: dict[str, list[int]]) -> dict[str, jax.Array]:
    return {name: _concat([leaves[i] for i in indices]) for name, indices in groups.items()}


def grouped(inner: Any) -> GradientTransformationExtraArgs:
    """Runs an elementwise transform on one flat vector per dtype.

    The leaves of each dtype :math:`d` are raveled and concatenated, in
    flattening order, into one vector :math:`v_d`; ``inner`` runs once on the
    dict :math:`\\{d: v_d\\}`, and its output is cut back into the leaves:

    .. math::

        v_d = \\mathrm{concat}_{i:\\, \\mathrm{dtype}(g_i) = d}\\, \\mathrm{vec}(g_i),
        \\qquad (w, s_{t+1}) = T(\\{d: v_d\\}, s_t), \\qquad
        u_i = \\mathrm{reshape}(w_{\\mathrm{dtype}(g_i)}[o_i : o_i + n_i])

    For elementwise transforms (``sgd`` with momentum, ``adam``, ``adamw``,
    ``lion``, ``rmsprop``, ``adagrad``...) every element goes through exactly
    the arithmetic of the per-leaf path, with far fewer (and larger)
    operations. ``None`` leaves are kept, scalars are fine, and the updates
    keep each leaf's dtype. The state is ``inner``'s state over the dict of
    flat vectors (keyed by dtype name, e.g. ``"float32"``), so the updates
    must have the dtypes of the parameters given to ``init``.

    The results are bit for bit the per-leaf ones when the compiler emits the
    same instructions for both. It may not: on CPU, XLA fuses ``a * b + c``
    into an FMA in vectorized loop bodies but not always in their remainders,
    so an element's rounding can depend on its position in its array; and
    XLA rewrites a division by a scalar shared by one array (Adam's bias
    correction, when all leaves have one dtype) differently from one shared by
    several. Either way the two agree to an ulp or two per step.

    .. warning::

        Only elementwise transforms keep their meaning. Anything that reduces
        over a leaf (per-leaf norms or factored statistics: ``lamb``, ``lars``,
        ``fromage``, ``adafactor``, ``sm3``, ``clip_by_block_rms``,
        ``scale_by_trust_ratio``...) would reduce over the whole dtype group
        instead, and compute something else. Global transforms
        (``clip_by_global_norm``) keep their meaning, but sum in a different
        order, so they agree only to rounding.

    With ``tree_map_params``, the function is applied to the flat vectors
    (the state holds no parameter-shaped tree), so pass no extra
    parameter-shaped trees.

    Args:
      inner: an elementwise gradient transformation.

    Returns:
      A gradient transformation whose state is ``inner``'s state over the flat
      vectors.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> params = {"w": jnp.ones((2, 2)), "b": jnp.zeros(2, dtype=jnp.bfloat16), "s": None}
      >>> tx = optjax.grouped(optjax.adam(0.1))
      >>> state = tx.init(params)
      >>> {name: mu.shape for name, mu in state[0].mu.items()}
      {'bfloat16': (2,), 'float32': (4,)}
      >>> updates, _ = tx.update(params, state, params)
      >>> print(f"{updates['w'][0, 0]:.4f}", updates["b"].dtype, updates["s"])
      -0.1000 bfloat16 None
    """
    inner = with_extra_args_support(inner)

    def init_fn(params):
        if is_params_placeholder(params):
            # tree_map_params: the flat vectors stand where parameter trees do.
            return inner.init(params)
        leaves, _ = _leaves(params)
        return inner.init(_gather(leaves, _groups(leaves)))

    def update_fn(updates, state, params=None, **extra_args):
        leaves, treedef = _leaves(updates)
        groups = _groups(leaves)
        flat_params = None
        if params is not None:
            _tree.check_same_structure(updates, params, "updates", "params", where="grouped")
            # Parameters follow the updates' grouping, so both line up leaf by leaf.
            flat_params = _gather(_leaves(params)[0], groups)
        flat_updates, state = inner.update(
            _gather(leaves, groups), state, flat_params, **extra_args
        )
        new_leaves: list[Any] = [None] * len(leaves)
        for name, indices in groups.items():
            pieces = _split(flat_updates[name], [leaves[i] for i in indices])
            for index, piece in zip(indices, pieces, strict=True):
                new_leaves[index] = piece
        return jax.tree.unflatten(treedef, new_leaves), state

    return GradientTransformationExtraArgs(init_fn, update_fn)


def flatten(inner: Any) -> GradientTransformationExtraArgs:
    """Runs a transform on all leaves raveled and concatenated into one vector.

    .. math::

        v = \\mathrm{concat}_i\\, \\mathrm{vec}(g_i), \\qquad (w, s_{t+1}) = T(v, s_t),
        \\qquad u_i = \\mathrm{reshape}(w[o_i : o_i + n_i])

    This is Optax's ``flatten``: the state is ``inner``'s state over a single
    vector. Leaves of different dtypes are promoted to a common dtype inside
    the vector; :func:`grouped` keeps one vector per dtype instead.

    .. warning::

        As for :func:`grouped`, only elementwise (or global) transforms keep
        their meaning: per-leaf norms become one norm over everything. Unlike
        Optax, which returns the promoted dtype for every leaf, the updates
        are cast back to each leaf's own dtype (optjax's contract); with a
        single dtype the two agree. ``tree_map_params`` works (Optax's
        ``flatten`` fails there): the function is applied to the flat vector.

    Args:
      inner: an elementwise gradient transformation.

    Returns:
      A gradient transformation whose state is ``inner``'s state over the flat
      vector.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> params = {"w": jnp.ones((2, 2)), "b": jnp.zeros(3)}
      >>> tx = optjax.flatten(optjax.sgd(0.1, momentum=0.9))
      >>> state = tx.init(params)
      >>> state[0].trace.shape
      (7,)
      >>> updates, _ = tx.update(params, state, params)
      >>> updates["b"]
      Array([-0., -0., -0.], dtype=float32)
    """
    inner = with_extra_args_support(inner)

    def init_fn(params):
        if is_params_placeholder(params):
            return inner.init(params)
        return inner.init(_concat(_leaves(params)[0]))

    def update_fn(updates, state, params=None, **extra_args):
        leaves, treedef = _leaves(updates)
        flat_params = None
        if params is not None:
            _tree.check_same_structure(updates, params, "updates", "params", where="flatten")
            flat_params = _concat(_leaves(params)[0])
        flat_updates, state = inner.update(_concat(leaves), state, flat_params, **extra_args)
        return jax.tree.unflatten(treedef, _split(flat_updates, leaves)), state

    return GradientTransformationExtraArgs(init_fn, update_fn)
