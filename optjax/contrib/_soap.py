"""SOAP: Adam run in the eigenbasis of Shampoo's Kronecker-factored preconditioner.

Vyas et al., *SOAP: Improving and Stabilizing Shampoo using Adam*, 2024
(https://arxiv.org/abs/2409.11321). Every dimension of a leaf that is small
enough keeps a running statistic :math:`L_i` (the gradient's Gram matrix along
that dimension) and an orthogonal basis :math:`Q_i` that tracks its
eigenvectors; Adam's moments live in the rotated coordinates
:math:`G' = G \\times_1 Q_1^\\top \\cdots \\times_k Q_k^\\top`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import (
    GradientTransformationExtraArgs,
    MaskOrFn,
    ScalarOrSchedule,
    transformation,
)
from optjax.transforms._basic import scale_by_learning_rate
from optjax.transforms._combinators._chain import chain
from optjax.transforms._regularization import add_decayed_weights
from optjax.tree import _math as _tree

_HIGHEST = jax.lax.Precision.HIGHEST
_DATA_FORMATS = ("channels_last", "channels_first")


class ScaleBySoapState(NamedTuple):
    """State of :func:`scale_by_soap`.

    Attributes:
      count: number of ``update`` calls so far (the first call only builds the
        eigenbasis, so Adam's step is ``count - 1``).
      mu: first moment, in the parameters' own coordinates and shape.
      nu: second moment, in the rotated coordinates (stored in the
        parameters' shape; see ``merge_dims`` for the rotated layout).
      stats: per leaf, a tuple with one Gram matrix :math:`L_i` per (merged)
        dimension, or ``None`` for a dimension that is not preconditioned.
      bases: per leaf, the matching tuple of eigenbases :math:`Q_i`.
    """

    count: jax.Array
    mu: Any
    nu: Any
    stats: Any
    bases: Any


class _Layout(NamedTuple):
    """How one leaf is viewed for preconditioning (static, from its shape)."""

    shape: tuple[int, ...]
    perm: tuple[int, ...] | None
    merged: tuple[int, ...]
    preconditioned: tuple[bool, ...]


def _merge_shape(shape: tuple[int, ...], max_dim: int) -> tuple[int, ...]:
    """Greedily merges neighbouring dimensions while the product stays <= ``max_dim``."""
    merged: list[int] = []
    current = 1
    for size in shape:
        if current * size > max_dim:
            if current > 1:
                merged.append(current)
                current = size
            else:
                merged.append(size)
        else:
            current *= size
    if current > 1 or not merged:
        merged.append(current)
    return tuple(merged)


def _layout(
    shape: tuple[int, ...],
    max_precond_dim: int,
    merge_dims: bool,
    precondition_1d: bool,
    data_format: str,
) -> _Layout:
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        return _Layout(shape, None, (), ())
    if len(shape) == 1:
        return _Layout(shape, None, shape, (precondition_1d and shape[0] <= max_precond_dim,))
    perm = None
    viewed = shape
    if merge_dims and data_format == "channels_last" and len(shape) == 4:
        perm = (0, 3, 1, 2)
        viewed = tuple(shape[p] for p in perm)
    merged = _merge_shape(viewed, max_precond_dim) if merge_dims else viewed
    return _Layout(shape, perm, merged, tuple(d <= max_precond_dim for d in merged))


def _to_view(x: jax.Array, layout: _Layout) -> jax.Array:
    if layout.perm is not None:
        x = jnp.transpose(x, layout.perm)
    return x.reshape(layout.merged)


def _from_view(x: jax.Array, layout: _Layout) -> jax.Array:
    if layout.perm is None:
        return x.reshape(layout.shape)
    permuted = tuple(layout.shape[p] for p in layout.perm)
    inverse = tuple(layout.perm.index(i) for i in range(len(layout.perm)))
    return jnp.transpose(x.reshape(permuted), inverse)


def _rotate(x: jax.Array, bases: tuple[Any, ...], *, back: bool) -> jax.Array:
    """``x`` times ``Q_i^T`` (or ``Q_i`` when ``back``) along every preconditioned axis."""
    for axis, q in enumerate(bases):
        if q is None:
            continue
        # tensordot puts the new axis last; move it back into place.
        contracted = 1 if back else 0
        x = jnp.moveaxis(
            jnp.tensordot(x, q, axes=((axis,), (contracted,)), precision=_HIGHEST), -1, axis
        )
    return x


def _gram(x: jax.Array, axis: int) -> jax.Array:
    """``sum over the other axes`` of ``x x^T`` along ``axis``."""
    others = tuple(i for i in range(x.ndim) if i != axis)
    return jnp.tensordot(x, x, axes=(others, others), precision=_HIGHEST)


def _eigenbasis(stat: jax.Array) -> jax.Array:
    """Eigenvectors of a symmetric matrix, by decreasing eigenvalue."""
    _, vectors = jnp.linalg.eigh(stat)
    return vectors[:, ::-1]


def _refresh_basis(stat, q, nu, axis):
    """One power iteration and a QR step, after sorting by estimated eigenvalue.

    ``nu``'s coordinates along ``axis`` are permuted with the basis vectors.
    """
    estimates = jnp.sum(q * jnp.matmul(stat, q, precision=_HIGHEST), axis=0)
    order = jnp.argsort(-estimates)
    nu = jnp.take(nu, order, axis=axis)
    q_new, _ = jnp.linalg.qr(jnp.matmul(stat, q[:, order], precision=_HIGHEST))
    return q_new, nu


def _initial_bases(operands):
    stats_list, bases_list, nu_list = operands
    new_bases = [
        tuple(None if s is None else _eigenbasis(s).astype(s.dtype) for s in stats)
        for stats in stats_list
    ]
    return new_bases, nu_list


def _refreshed_bases(operands):
    stats_list, bases_list, nu_list = operands
    out_bases, out_nus = [], []
    for stats, bases, nu in zip(stats_list, bases_list, nu_list):
        leaf_bases = []
        for axis, (s, q) in enumerate(zip(stats, bases)):
            if s is None:
                leaf_bases.append(None)
                continue
            q, nu = _refresh_basis(s, q, nu, axis)
            leaf_bases.append(q.astype(s.dtype))
        out_bases.append(tuple(leaf_bases))
        out_nus.append(nu)
    return out_bases, out_nus


def _kept_bases(operands):
    _, bases_list, nu_list = operands
    return list(bases_list), list(nu_list)


def _stat_dtype(dtype: Any) -> Any:
    return jnp.promote_types(dtype, jnp.float32)


def scale_by_soap(
    b1: jax.typing.ArrayLike = 0.95,
    b2: jax.typing.ArrayLike = 0.95,
    shampoo_beta: jax.typing.ArrayLike = -1,
    eps: jax.typing.ArrayLike = 1e-8,
    precondition_frequency: int = 10,
    max_precond_dim: int = 10000,
    merge_dims: bool = False,
    precondition_1d: bool = False,
    normalize_grads: bool = False,
    data_format: str = "channels_last",
    correct_bias: bool = True,
) -> GradientTransformationExtraArgs:
    """Rescales updates by SOAP: Adam in the eigenbasis of Shampoo's preconditioner.

    For a matrix gradient :math:`G_t` (Algorithm 3 of the paper), with
    :math:`\\beta_s` the ``shampoo_beta``:

    .. math::

        G'_t = Q_L^\\top G_t Q_R, \\qquad
        M_t = \\beta_1 M_{t-1} + (1-\\beta_1) G_t, \\qquad
        M'_t = Q_L^\\top M_t Q_R, \\\\
        V_t = \\beta_2 V_{t-1} + (1-\\beta_2)\\, G'_t \\odot G'_t, \\qquad
        u_t = \\frac{\\sqrt{1-\\beta_2^t}}{1-\\beta_1^t}\\,
              Q_L \\frac{M'_t}{\\sqrt{V_t} + \\epsilon} Q_R^\\top, \\\\
        L_t = \\beta_s L_{t-1} + (1-\\beta_s) G_t G_t^\\top, \\qquad
        R_t = \\beta_s R_{t-1} + (1-\\beta_s) G_t^\\top G_t,

    and every ``precondition_frequency`` steps :math:`Q_L, Q_R` are refreshed
    from :math:`L_t, R_t`. A :math:`k`-d leaf has one Gram matrix and basis
    per dimension (:math:`L_i = \\sum_{\\text{other axes}} G G^\\top` along
    axis :math:`i`).

    Conventions (those of the paper's official implementation):

    * The first call only accumulates :math:`L, R` from :math:`G_0` and sets
      the bases to their eigenvectors (``jnp.linalg.eigh``, sorted by
      decreasing eigenvalue); it returns a zero update and leaves the moments
      untouched, so the projection never uses the gradient it projects. Adam's
      step :math:`t` (and the bias correction) therefore counts from the
      second call.
    * After Adam's step :math:`t` with :math:`t \\bmod f = 0`, each basis is
      refreshed by one power iteration and a QR decomposition,
      :math:`Q \\leftarrow \\mathrm{qr}(L\\, Q_{\\text{sorted}})`, where the
      columns are first sorted by the estimated eigenvalues
      :math:`\\mathrm{diag}(Q^\\top L Q)` and :math:`V`'s coordinates are
      permuted with them. No full ``eigh`` after the first call.
    * :math:`M` is kept in the original coordinates (the reference code
      re-rotates it whenever the basis changes, which is the same).
    * :math:`\\epsilon` is added to :math:`\\sqrt{V_t}` before bias
      correction; the correction :math:`\\sqrt{1-\\beta_2^t}/(1-\\beta_1^t)`
      multiplies the update (``correct_bias=False`` drops it).
    * Statistics, bases and moments are stored in float32 (float64 for
      float64 parameters); the returned update has the gradient's dtype.

    Leaves that are not matrices: a scalar, and a 1-d leaf unless
    ``precondition_1d``, has no preconditioned dimension and follows Adam (in
    the form above, one step late). A dimension longer than
    ``max_precond_dim`` is not rotated (its basis is the identity) while the
    other dimensions of the leaf are. With ``merge_dims``, the dimensions of a
    leaf with two or more axes are greedily merged, left to right, while their
    product stays at most ``max_precond_dim`` (so a small matrix becomes one
    vector with a full preconditioner, as in the reference code); with
    ``data_format="channels_last"`` a 4-d leaf's last axis is moved to
    position 1 before merging.

    .. warning::
      ``data_format`` defaults to ``"channels_last"`` here (the reference
      implementation defaults to ``"channels_first"``); it only matters with
      ``merge_dims=True`` and 4-d leaves.

    Args:
      b1: :math:`\\beta_1`, decay of the first moment, in [0, 1).
      b2: :math:`\\beta_2`, decay of the rotated second moment, in [0, 1).
      shampoo_beta: :math:`\\beta_s`, decay of the Gram matrices; a negative
        value means ``b2``.
      eps: :math:`\\epsilon`, added to :math:`\\sqrt{V_t}`.
      precondition_frequency: :math:`f`, steps between basis refreshes (>= 1).
      max_precond_dim: dimensions longer than this are not preconditioned.
      merge_dims: merge small dimensions of >= 2-d leaves (see above).
      precondition_1d: also precondition 1-d leaves (with one full matrix).
      normalize_grads: divide each leaf's update by its RMS.
      data_format: ``"channels_last"`` or ``"channels_first"`` (see above).
      correct_bias: apply Adam's bias correction.

    Returns:
      A gradient transformation with a :class:`ScaleBySoapState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_soap()
      >>> state = tx.init({"w": jnp.zeros((2, 2))})
      >>> u, state = tx.update({"w": jnp.array([[1.0, 0.5], [0.5, 2.0]])}, state)
      >>> print(float(jnp.abs(u["w"]).max()))  # the first call only builds the basis
      0.0
      >>> u, state = tx.update({"w": jnp.array([[0.5, -1.0], [2.0, 1.0]])}, state)
      >>> print(jnp.round(u["w"], 3))
      [[ 1. -1.]
       [ 1.  1.]]

    References:
      Vyas et al., *SOAP: Improving and Stabilizing Shampoo using Adam*, 2024,
      https://arxiv.org/abs/2409.11321
    """
    where = "scale_by_soap"
    _checks.check_decay("b1", b1, where=where)
    _checks.check_decay("b2", b2, where=where)
    if isinstance(shampoo_beta, (int, float)) and shampoo_beta >= 0:
        _checks.check_decay("shampoo_beta", shampoo_beta, where=where)
    _checks.check_non_negative("eps", eps, where=where)
    _checks.check_positive_int("precondition_frequency", precondition_frequency, where=where)
    _checks.check_positive_int("max_precond_dim", max_precond_dim, where=where)
    _checks.check_choice("data_format", data_format, _DATA_FORMATS, where=where)
    if isinstance(shampoo_beta, (int, float)):
        beta_s = b2 if shampoo_beta < 0 else shampoo_beta
    else:
        beta_s = jnp.where(jnp.asarray(shampoo_beta) < 0, b2, shampoo_beta)

    def layout(x):
        return _layout(jnp.shape(x), max_precond_dim, merge_dims, precondition_1d, data_format)

    def init_fn(params):
        def stats_of(x):
            lay, dtype = layout(x), _stat_dtype(x.dtype)
            return tuple(
                jnp.zeros((d, d), dtype) if p else None
                for d, p in zip(lay.merged, lay.preconditioned)
            )

        def bases_of(x):
            lay, dtype = layout(x), _stat_dtype(x.dtype)
            return tuple(
                jnp.eye(d, dtype=dtype) if p else None
                for d, p in zip(lay.merged, lay.preconditioned)
            )

        return ScaleBySoapState(
            count=jnp.zeros([], jnp.int32),
            mu=jax.tree.map(lambda x: jnp.zeros(jnp.shape(x), _stat_dtype(x.dtype)), params),
            nu=jax.tree.map(lambda x: jnp.zeros(jnp.shape(x), _stat_dtype(x.dtype)), params),
            stats=jax.tree.map(stats_of, params),
            bases=jax.tree.map(bases_of, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        leaves, treedef = jax.tree.flatten(updates)
        mus = treedef.flatten_up_to(state.mu)
        nus = treedef.flatten_up_to(state.nu)
        all_stats = treedef.flatten_up_to(state.stats)
        all_bases = treedef.flatten_up_to(state.bases)

        first = state.count == 0
        step = state.count  # Adam's step after this call (0 on the first call).
        safe_step = jnp.maximum(step, 1)
        refresh = (step > 0) & (step % precondition_frequency == 0)
        branch = jnp.where(first, 0, jnp.where(refresh, 1, 2))

        new_updates, new_mus, views, new_stats, layouts = [], [], [], [], []
        for g, mu, nu, stats, bases in zip(leaves, mus, nus, all_stats, all_bases):
            lay = layout(g)
            layouts.append(lay)
            g32 = g.astype(mu.dtype)
            g_view = _to_view(g32, lay)
            g_rot = _rotate(g_view, bases, back=False)
            mu_next = b1 * mu + (1 - b1) * g32
            nu_view = _to_view(nu, lay)
            nu_next = b2 * nu_view + (1 - b2) * g_rot * g_rot
            mu_rot = _rotate(_to_view(mu_next, lay), bases, back=False)
            direction = _from_view(
                _rotate(mu_rot / (jnp.sqrt(nu_next) + eps), bases, back=True), lay
            )
            if correct_bias:
                scale = jnp.sqrt(1 - b2**safe_step) / (1 - b1**safe_step)
                direction = direction * scale.astype(direction.dtype)
            if normalize_grads:
                direction = direction / (1e-30 + jnp.sqrt(jnp.mean(direction * direction)))
            new_updates.append(jnp.where(first, jnp.zeros_like(direction), direction))
            new_mus.append(jnp.where(first, mu, mu_next).astype(mu.dtype))
            views.append(jnp.where(first, nu_view, nu_next).astype(nu.dtype))
            new_stats.append(
                tuple(
                    None if s is None else beta_s * s + (1 - beta_s) * _gram(g_view, axis)
                    for axis, s in enumerate(stats)
                )
            )

        # The bases are constants for differentiation (eigh's derivative is
        # undefined at repeated eigenvalues); the moments stay differentiable.
        frozen_stats, frozen_bases = jax.lax.stop_gradient((new_stats, list(all_bases)))
        new_bases, views = jax.lax.switch(
            branch,
            (_initial_bases, _refreshed_bases, _kept_bases),
            (frozen_stats, frozen_bases, views),
        )
        new_nus = [_from_view(v, lay) for v, lay in zip(views, layouts)]
        new_state = ScaleBySoapState(
            count=_tree.safe_increment(state.count),
            mu=treedef.unflatten(new_mus),
            nu=treedef.unflatten(new_nus),
            stats=treedef.unflatten(new_stats),
            bases=treedef.unflatten(new_bases),
        )
        return treedef.unflatten(new_updates), new_state

    return transformation(init_fn, update_fn, name=where)


def soap(
    learning_rate: ScalarOrSchedule = 3e-3,
    b1: jax.typing.ArrayLike = 0.95,
    b2: jax.typing.ArrayLike = 0.95,
    shampoo_beta: jax.typing.ArrayLike = -1,
    eps: jax.typing.ArrayLike = 1e-8,
    weight_decay: ScalarOrSchedule = 0.01,
    precondition_frequency: int = 10,
    max_precond_dim: int = 10000,
    merge_dims: bool = False,
    precondition_1d: bool = False,
    normalize_grads: bool = False,
    data_format: str = "channels_last",
    correct_bias: bool = True,
    *,
    mask: MaskOrFn | None = None,
) -> GradientTransformationExtraArgs:
    """The SOAP optimizer: Adam in Shampoo's eigenbasis, with decoupled weight decay.

    .. math::

        u_t = -\\eta_t \\left(\\mathrm{SOAP}(G_t) + \\lambda\\, \\theta_t\\right),

    where :math:`\\mathrm{SOAP}(G_t)` is :func:`scale_by_soap` (its docstring
    gives the update rule, the first-call convention and the rule for leaves
    that are not matrices: scalars and 1-d leaves follow Adam unless
    ``precondition_1d``). It is ``chain(scale_by_soap(...),
    add_decayed_weights(weight_decay, mask), scale_by_learning_rate(lr))``.

    .. warning::
      The reference implementation decays the weights after the gradient
      step, :math:`\\theta \\leftarrow (1-\\eta\\lambda)(\\theta - \\eta N)`, and
      skips the decay on the first call; here the decay is AdamW's
      :math:`\\theta - \\eta (N + \\lambda\\theta)`, applied on every call
      (the difference is :math:`O(\\eta^2 \\lambda)` per step).

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: :math:`\\beta_1`, decay of the first moment.
      b2: :math:`\\beta_2`, decay of the rotated second moment.
      shampoo_beta: decay of the Gram matrices; negative means ``b2``.
      eps: :math:`\\epsilon`, added to :math:`\\sqrt{V_t}`.
      weight_decay: :math:`\\lambda`, decoupled weight decay.
      precondition_frequency: steps between eigenbasis refreshes.
      max_precond_dim: dimensions longer than this are not preconditioned.
      merge_dims: merge small dimensions of >= 2-d leaves.
      precondition_1d: also precondition 1-d leaves.
      normalize_grads: divide each leaf's SOAP direction by its RMS.
      data_format: ``"channels_last"`` or ``"channels_first"``, for merging
        the dimensions of 4-d leaves.
      correct_bias: apply Adam's bias correction.
      mask: a boolean tree (or a function of the params returning one)
        selecting the leaves that weight decay applies to.

    Returns:
      A gradient transformation whose state is
      ``(ScaleBySoapState, AddDecayedWeightsState | EmptyState,
      ScaleByScheduleState | EmptyState)``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> a = jnp.array([[2.0, 1.0], [1.0, 3.0], [0.0, 1.0]])
      >>> b = jnp.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0], [1.0, 1.0, 1.0]])
      >>> f = lambda w: jnp.sum((a @ w - b) ** 2)  # least squares, minimum 4.2
      >>> solver = optjax.soap(learning_rate=0.03, weight_decay=0.0)
      >>> w = jnp.zeros((2, 3))
      >>> state = solver.init(w)
      >>> for _ in range(100):
      ...     updates, state = solver.update(jax.grad(f)(w), state, w)
      ...     w = optjax.apply_updates(w, updates)
      >>> print(f"{f(w):.2f}")
      4.22

    References:
      Vyas et al., *SOAP: Improving and Stabilizing Shampoo using Adam*, 2024,
      https://arxiv.org/abs/2409.11321
    """
    return chain(
        scale_by_soap(
            b1=b1,
            b2=b2,
            shampoo_beta=shampoo_beta,
            eps=eps,
            precondition_frequency=precondition_frequency,
            max_precond_dim=max_precond_dim,
            merge_dims=merge_dims,
            precondition_1d=precondition_1d,
            normalize_grads=normalize_grads,
            data_format=data_format,
            correct_bias=correct_bias,
        ),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
