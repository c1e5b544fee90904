"""GaLore: run an optimizer on low-rank projections of the weight-matrix gradients.

Each matrix gradient :math:`G \\in \\mathbb{R}^{m \\times n}` is projected onto
the top-:math:`r` singular subspace of a recent gradient, the base optimizer
(Adam by default) keeps its moments in that :math:`r`-dimensional space, and its
update is projected back. The projector is refreshed from the SVD of the
current gradient every ``update_proj_gap`` steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    MaskOrFn,
    OptState,
    ScalarOrSchedule,
    Updates,
    transformation,
    with_extra_args_support,
)
from optjax.transforms._adam_family import scale_by_adam
from optjax.transforms._basic import scale_by_learning_rate
from optjax.transforms._combinators._chain import chain
from optjax.transforms._regularization import add_decayed_weights
from optjax.tree import _math as _tree

_NAME = "scale_by_galore"


class GaLoreDimensionNumbers(NamedTuple):
    """Which axes of a weight form the rows and the columns of GaLore's matrix.

    A weight stored with more than two axes (an attention kernel of shape
    ``(embed, heads, head_dim)``, say) is seen as the matrix whose rows are the
    ``reduction_axis`` axes and whose columns are the ``output_axis`` axes,
    flattened in the order given; the two groups must cover every axis once.

    Attributes:
      reduction_axis: the input axis or axes (the rows), default 0.
      output_axis: the output axis or axes (the columns), default 1.

    Examples:
      >>> import optjax
      >>> optjax.contrib.GaLoreDimensionNumbers(reduction_axis=0, output_axis=(1, 2))
      GaLoreDimensionNumbers(reduction_axis=0, output_axis=(1, 2))
    """

    reduction_axis: Sequence[int] | int = 0
    output_axis: Sequence[int] | int = 1


class GaLoreState(NamedTuple):
    """State of :func:`scale_by_galore` (field names as in Optax).

    Attributes:
      count: int32, the number of updates so far.
      base_optimizer_state: the base optimizer's state, on the low-rank
        gradients of projected leaves and the full gradients of the others.
      projector: per leaf, the orthonormal projector (``(m, r)`` or ``(n, r)``);
        a ``(0, 0)`` array for leaves that are not projected.
    """

    count: jax.typing.ArrayLike
    base_optimizer_state: OptState
    projector: Updates


class _Plan(NamedTuple):
    """How one leaf becomes an ``(rows, cols)`` matrix and back."""

    perm: tuple[int, ...]
    inverse: tuple[int, ...]
    grouped_shape: tuple[int, ...]
    rows: int
    cols: int

    @property
    def left(self) -> bool:
        # Project the longer side away: P^T G for tall (and square) matrices.
        return self.rows >= self.cols

    def to_matrix(self, x: jax.Array) -> jax.Array:
        return jnp.transpose(x, self.perm).reshape(self.rows, self.cols)

    def from_matrix(self, m: jax.Array) -> jax.Array:
        return jnp.transpose(m.reshape(self.grouped_shape), self.inverse)


def _axes(value: Any, ndim: int, field: str, where: str) -> tuple[int, ...]:
    axes = (value,) if isinstance(value, int) else tuple(value)
    for axis in axes:
        if isinstance(axis, bool) or not isinstance(axis, int) or not -ndim <= axis < ndim:
            raise ValueError(
                f"{_NAME}: {field} {value!r} {where} is not an axis of a rank-{ndim} array "
                f"(valid axes are {-ndim}..{ndim - 1})."
            )
    return tuple(axis % ndim for axis in axes)


def _plan(shape: tuple[int, ...], dims: GaLoreDimensionNumbers, where: str) -> _Plan:
    """Validates ``dims`` against ``shape`` and returns the matrix plan."""
    if len(shape) < 2:
        raise ValueError(
            f"{_NAME}: the leaf {where} has shape {shape}; GaLore projects arrays of rank "
            f">= 2 only. Give it None in weight_dimension_numbers."
        )
    rows_axes = _axes(dims.reduction_axis, len(shape), "reduction_axis", where)
    cols_axes = _axes(dims.output_axis, len(shape), "output_axis", where)
    perm = rows_axes + cols_axes
    if sorted(perm) != list(range(len(shape))):
        raise ValueError(
            f"{_NAME}: for the leaf {where} of shape {shape}, reduction_axis {rows_axes} and "
            f"output_axis {cols_axes} must together name every axis exactly once."
        )
    grouped_shape = tuple(shape[a] for a in perm)
    inverse = tuple(perm.index(a) for a in range(len(shape)))
    rows = math.prod(shape[a] for a in rows_axes)
    cols = math.prod(shape[a] for a in cols_axes)
    return _Plan(perm, inverse, grouped_shape, rows, cols)


def _resolve_dims(tree: Any, spec: Any) -> list[tuple[Any, GaLoreDimensionNumbers | None]]:
    """``[(leaf, dims or None)]`` for the leaves of ``tree``, in flattening order."""
    leaves, treedef = jax.tree.flatten(tree)
    if spec is None:
        return [(x, GaLoreDimensionNumbers() if jnp.ndim(x) == 2 else None) for x in leaves]
    if isinstance(spec, GaLoreDimensionNumbers):
        return [(x, spec if jnp.ndim(x) >= 2 else None) for x in leaves]
    if callable(spec):
        spec = spec(tree)
    try:
        dims = treedef.flatten_up_to(spec)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{_NAME}: weight_dimension_numbers must have the structure of the params "
            f"(a GaLoreDimensionNumbers or None per leaf); params are {treedef}, got "
            f"{jax.tree.structure(spec, is_leaf=_is_dims_leaf)}."
        ) from error
    for d in dims:
        if d is not None and not isinstance(d, GaLoreDimensionNumbers):
            raise TypeError(
                f"{_NAME}: weight_dimension_numbers leaves must be GaLoreDimensionNumbers "
                f"or None, got {type(d).__name__}."
            )
    return list(zip(leaves, dims))


def _is_dims_leaf(x: Any) -> bool:
    return x is None or isinstance(x, GaLoreDimensionNumbers)


def _paths(tree: Any) -> list[str]:
    return [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


def scale_by_galore(
    rank: int = 128,
    update_proj_gap: int = 200,
    scale: float = 1.0,
    base_optimizer: GradientTransformation | None = None,
    weight_dimension_numbers: Any = None,
) -> GradientTransformationExtraArgs:
    """Runs ``base_optimizer`` on low-rank projections of matrix gradients.

    For a leaf seen as a matrix :math:`G_t \\in \\mathbb{R}^{m \\times n}` with
    :math:`m \\ge n` (the left case) and :math:`r = \\min(\\text{rank}, m, n)`:

    .. math::

        P_t = \\begin{cases} U_{:, :r} \\text{ of } \\mathrm{svd}(G_t) &
        t \\bmod T = 0 \\\\ P_{t-1} & \\text{otherwise} \\end{cases},
        \\qquad R_t = P_t^\\top G_t \\in \\mathbb{R}^{r \\times n}, \\\\
        N_t = \\mathrm{base}(R_t), \\qquad u_t = \\alpha\\, P_t N_t ,

    with :math:`T` = ``update_proj_gap`` and :math:`\\alpha` = ``scale``. When
    :math:`m < n` the projection is on the right: :math:`P_t = V_{:, :r}`,
    :math:`R_t = G_t P_t` and :math:`u_t = \\alpha\\, N_t P_t^\\top`. The SVD
    is taken in float32. Leaves that are not projected go through
    ``base_optimizer`` unchanged (by default every leaf that is not 2-d).

    A ``rank`` larger than a matrix's smaller side is clipped to it, as in
    Optax (the projection is then a rotation, and the base optimizer runs in
    a rotated full space).

    .. warning::
      ``base_optimizer`` sees low-rank shapes and ``params=None``: use a
      gradient-only transform (``scale_by_adam``, ``scale_by_lion``,
      ``sgd(1.0)``...), not one that needs the parameters (``adamw``,
      ``lamb``, ``lars``). Put weight decay in :func:`galore`'s
      ``weight_decay``, which acts in the full space.

    Args:
      rank: the target rank :math:`r` of the projection (a positive int).
      update_proj_gap: :math:`T`, the number of steps between projector
        refreshes (a positive int).
      scale: :math:`\\alpha`, a factor on the projected-back updates.
      base_optimizer: the transform run in the low-rank space;
        ``None`` means :func:`~optjax.scale_by_adam` with its defaults.
      weight_dimension_numbers: which leaves are matrices, and how: ``None``
        (the 2-d leaves, rows = axis 0), one :class:`GaLoreDimensionNumbers`
        (applied to every leaf of rank >= 2), a tree of
        :class:`GaLoreDimensionNumbers` or ``None`` per leaf, or a function of
        the params that returns such a tree.

    Returns:
      A gradient transformation with a :class:`GaLoreState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import numpy as np
      >>> import optjax
      >>> tx = optjax.contrib.scale_by_galore(rank=1, base_optimizer=optjax.sgd(1.0))
      >>> g = {"w": jnp.array([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), "b": jnp.ones(2)}
      >>> u, state = tx.update(g, tx.init(g))
      >>> print(np.abs(np.asarray(u["w"])).round(3))
      [[3. 0.]
       [0. 0.]
       [0. 0.]]
      >>> state.projector["w"].shape, state.projector["b"].shape
      ((3, 1), (0, 0))

    References:
      Zhao et al., *GaLore: Memory-Efficient LLM Training by Gradient Low-Rank
      Projection*, ICML 2024, https://arxiv.org/abs/2403.03507
    """
    if isinstance(rank, bool) or not isinstance(rank, int):
        raise TypeError(f"{_NAME}: rank must be an int, got {type(rank).__name__}.")
    if rank <= 0:
        raise ValueError(f"{_NAME}: rank must be > 0, got {rank}.")
    _checks.check_positive_int("update_proj_gap", update_proj_gap, where=_NAME)
    spec = weight_dimension_numbers
    base = with_extra_args_support(scale_by_adam() if base_optimizer is None else base_optimizer)

    def shapes_for(x, dims, path):
        """(projector, proxy) zero arrays for one leaf."""
        if dims is None:
            return jnp.zeros((0, 0), x.dtype), jnp.zeros_like(x)
        plan = _plan(jnp.shape(x), dims, f"at key path {path}")
        r = min(rank, plan.rows, plan.cols)
        if plan.left:
            return jnp.zeros((plan.rows, r), x.dtype), jnp.zeros((r, plan.cols), x.dtype)
        return jnp.zeros((plan.cols, r), x.dtype), jnp.zeros((plan.rows, r), x.dtype)

    def init_fn(params):
        treedef = jax.tree.structure(params)
        pairs = _resolve_dims(params, spec)
        if not pairs:
            return GaLoreState(jnp.zeros([], jnp.int32), base.init(params), params)
        made = [shapes_for(x, d, p) for (x, d), p in zip(pairs, _paths(params))]
        projectors = jax.tree.unflatten(treedef, [m[0] for m in made])
        proxies = jax.tree.unflatten(treedef, [m[1] for m in made])
        return GaLoreState(jnp.zeros([], jnp.int32), base.init(proxies), projectors)

    def update_fn(updates, state, params=None, **extra_args):
        del params
        treedef = jax.tree.structure(updates)
        pairs = _resolve_dims(updates, spec)
        refresh = state.count % update_proj_gap == 0
        try:
            old_projectors = treedef.flatten_up_to(state.projector)
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"{_NAME}: the updates' structure {treedef} differs from the state's "
                f"projector structure {jax.tree.structure(state.projector)}."
            ) from error
        plans, low_rank, projectors = [], [], []
        for (g, dims), path, proj in zip(pairs, _paths(updates), old_projectors):
            if dims is None:
                plans.append(None)
                low_rank.append(g)
                projectors.append(proj)
                continue
            plan = _plan(jnp.shape(g), dims, f"at key path {path}")
            r = min(rank, plan.rows, plan.cols)
            matrix = plan.to_matrix(g)

            def fresh(matrix=matrix, plan=plan, r=r, dtype=proj.dtype):
                u, _, vh = jnp.linalg.svd(matrix.astype(jnp.float32), full_matrices=False)
                basis = u[:, :r] if plan.left else vh[:r, :].T
                return basis.astype(dtype)

            proj = jax.lax.cond(refresh, fresh, lambda proj=proj: proj)
            plans.append(plan)
            low_rank.append(proj.T @ matrix if plan.left else matrix @ proj)
            projectors.append(proj)

        base_updates, base_state = base.update(
            jax.tree.unflatten(treedef, low_rank), state.base_optimizer_state, None, **extra_args
        )
        full = []
        for n, plan, proj, (g, _) in zip(
            treedef.flatten_up_to(base_updates), plans, projectors, pairs
        ):
            if plan is None:
                full.append(n)
                continue
            back = proj @ n if plan.left else n @ proj.T
            full.append((scale * plan.from_matrix(back)).astype(g.dtype))
        new_state = GaLoreState(
            count=_tree.safe_increment(state.count),
            base_optimizer_state=base_state,
            projector=jax.tree.unflatten(treedef, projectors),
        )
        return jax.tree.unflatten(treedef, full), new_state

    return transformation(init_fn, update_fn, name=_NAME)


def galore(
    learning_rate: ScalarOrSchedule,
    rank: int = 128,
    update_proj_gap: int = 200,
    scale: float = 1.0,
    base_optimizer: GradientTransformation | None = None,
    weight_decay: jax.typing.ArrayLike = 0.0,
    mask: MaskOrFn | None = None,
    weight_dimension_numbers: Any = None,
) -> GradientTransformationExtraArgs:
    """The GaLore optimizer: a base optimizer in a low-rank gradient subspace, then SGD.

    .. math::

        u_t = \\alpha\\, P_t\\, \\mathrm{base}(P_t^\\top G_t), \\qquad
        \\theta_{t+1} = \\theta_t - \\eta_t\\,(u_t + \\lambda\\, \\theta_t)

    for a tall matrix leaf (see :func:`scale_by_galore` for the projector
    :math:`P_t` and the wide case); other leaves get the base optimizer's
    full-space update. It is ``chain(scale_by_galore(...),
    add_decayed_weights(weight_decay, mask), scale_by_learning_rate(learning_rate))``.
    The optimizer state of an :math:`m \\times n` matrix is
    :math:`O(r \\max(m, n))` instead of :math:`O(mn)`.

    .. warning::
      ``base_optimizer`` must not need the parameters (no ``adamw``,
      ``lamb``, ``lars``); use ``weight_decay`` here for decoupled decay.
      When the base optimizer carries its own learning rate, set
      ``learning_rate=1.0``.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      rank: the target rank of the projection (a positive int).
      update_proj_gap: the number of steps between projector refreshes.
      scale: :math:`\\alpha`, a factor on the projected-back updates.
      base_optimizer: the transform run in the low-rank space (default
        :func:`~optjax.scale_by_adam`).
      weight_decay: :math:`\\lambda`, decoupled weight decay in the full space.
      mask: a tree of booleans (or a function of the params returning one)
        choosing the leaves that get weight decay.
      weight_dimension_numbers: which leaves are matrices, and how; see
        :func:`scale_by_galore`.

    Returns:
      A gradient transformation whose state is
      ``(GaLoreState, WeightDecay state, learning-rate state)``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda p: jnp.sum(p["w"] ** 2) + jnp.sum(p["b"] ** 2)
      >>> solver = optjax.contrib.galore(learning_rate=0.1, rank=2)
      >>> params = {"w": jnp.ones((8, 4)), "b": jnp.ones(4)}
      >>> state = solver.init(params)
      >>> for _ in range(5):
      ...     updates, state = solver.update(jax.grad(f)(params), state, params)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(f"{f(params):.3f}")
      22.771

    References:
      Zhao et al., *GaLore: Memory-Efficient LLM Training by Gradient Low-Rank
      Projection*, ICML 2024, https://arxiv.org/abs/2403.03507
    """
    return chain(
        scale_by_galore(
            rank=rank,
            update_proj_gap=update_proj_gap,
            scale=scale,
            base_optimizer=base_optimizer,
            weight_dimension_numbers=weight_dimension_numbers,
        ),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
