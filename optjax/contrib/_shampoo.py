"""Blocked Shampoo with Adam grafting.

Shampoo (Gupta, Koren & Singer, 2018, https://arxiv.org/abs/1802.09568)
preconditions a matrix gradient from both sides, :math:`L^{-1/4} G R^{-1/4}`;
the scalable variant (Anil et al., 2020, https://arxiv.org/abs/2002.09018)
splits large dimensions into blocks, refreshes the inverse roots only every few
steps and takes the step size from a simpler optimizer ("grafting"), which
distributed Shampoo (Shi et al., 2023, https://arxiv.org/abs/2309.06497) does
per block with Adam.
"""

from __future__ import annotations

import string
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
from optjax.contrib._soap import _stat_dtype
from optjax.transforms._basic import scale_by_learning_rate
from optjax.transforms._combinators._chain import chain
from optjax.transforms._regularization import add_decayed_weights
from optjax.tree import _math as _tree

_HIGHEST = jax.lax.Precision.HIGHEST
_LOWER = string.ascii_lowercase
_UPPER = string.ascii_uppercase


class ScaleByShampooState(NamedTuple):
    """State of :func:`scale_by_shampoo`.

    Attributes:
      count: number of steps taken.
      mu: momentum of the grafted direction, shaped like the parameters.
      nu: the Adam graft's second moment, shaped like the parameters.
      stats: per leaf, a tuple with one statistic per dimension, each of
        shape ``(n_1, ..., n_k, b_i, b_i)`` (one matrix per block); ``()`` for
        scalars and 1-d leaves.
      preconditioners: per leaf, the matching inverse roots.
    """

    count: jax.Array
    mu: Any
    nu: Any
    stats: Any
    preconditioners: Any


class _Blocks(NamedTuple):
    """Static blocking of one leaf: block sizes and block counts per dimension."""

    shape: tuple[int, ...]
    sizes: tuple[int, ...]
    counts: tuple[int, ...]


def _blocking(shape: tuple[int, ...], block_size: int) -> _Blocks:
    shape = tuple(int(d) for d in shape)
    sizes = tuple(min(d, block_size) for d in shape)
    counts = tuple(-(-d // b) for d, b in zip(shape, sizes))
    return _Blocks(shape, sizes, counts)


def _to_blocks(x: jax.Array, blocks: _Blocks) -> jax.Array:
    """``(d_1, ..., d_k) -> (n_1, ..., n_k, b_1, ..., b_k)``, zero-padding the last blocks."""
    k = x.ndim
    pad = [(0, n * b - d) for d, b, n in zip(blocks.shape, blocks.sizes, blocks.counts)]
    x = jnp.pad(x, pad)
    interleaved = [v for pair in zip(blocks.counts, blocks.sizes) for v in pair]
    x = x.reshape(interleaved)
    return jnp.transpose(x, tuple(range(0, 2 * k, 2)) + tuple(range(1, 2 * k, 2)))


def _from_blocks(x: jax.Array, blocks: _Blocks) -> jax.Array:
    k = len(blocks.shape)
    order = [0] * (2 * k)
    for i in range(k):
        order[2 * i] = i
        order[2 * i + 1] = k + i
    x = jnp.transpose(x, order)
    x = x.reshape([n * b for n, b in zip(blocks.counts, blocks.sizes)])
    return x[tuple(slice(0, d) for d in blocks.shape)]


def _block_gram(x: jax.Array, axis: int, k: int) -> jax.Array:
    """Per block, the Gram matrix along block axis ``axis``: ``(n..., b_i, b_i)``."""
    batch, local = _LOWER[:k], _LOWER[k : 2 * k]
    other = local.replace(local[axis], _UPPER[axis])
    out = batch + local[axis] + _UPPER[axis]
    return jnp.einsum(f"{batch + local},{batch + other}->{out}", x, x, precision=_HIGHEST)


def _apply_root(x: jax.Array, root: jax.Array, axis: int, k: int) -> jax.Array:
    """Multiplies every block of ``x`` by its (symmetric) ``root`` along ``axis``."""
    batch, local = _LOWER[:k], _LOWER[k : 2 * k]
    out = batch + local.replace(local[axis], _UPPER[axis])
    spec = f"{batch + local},{batch + _UPPER[axis] + local[axis]}->{out}"
    return jnp.einsum(spec, x, root, precision=_HIGHEST)


def _inverse_root(stat: jax.Array, exponent: float, matrix_epsilon: Any) -> jax.Array:
    """``(S + eps I)^(-exponent)`` by eigendecomposition, for a batch of symmetric S."""
    values, vectors = jnp.linalg.eigh(stat)
    values = jnp.maximum(values, 0) + matrix_epsilon
    scaled = vectors * (values ** (-exponent))[..., None, :]
    return jnp.matmul(scaled, jnp.swapaxes(vectors, -1, -2), precision=_HIGHEST)


def _block_norm(x: jax.Array, k: int) -> jax.Array:
    axes = tuple(range(k, 2 * k))
    return jnp.sqrt(jnp.sum(x * x, axis=axes, keepdims=True))


def scale_by_shampoo(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    matrix_epsilon: jax.typing.ArrayLike = 1e-6,
    block_size: int = 128,
    precondition_frequency: int = 10,
    start_preconditioning_step: int = 10,
    *,
    stats_decay: jax.typing.ArrayLike | None = None,
) -> GradientTransformationExtraArgs:
    """Rescales updates by blocked Shampoo, grafted to Adam, with momentum.

    Every dimension of a leaf is split into blocks of at most ``block_size``;
    for a matrix block :math:`G` (step :math:`t`, counting from 1):

    .. math::

        L_t = L_{t-1} + G_t G_t^\\top, \\qquad R_t = R_{t-1} + G_t^\\top G_t, \\\\
        S_t = \\tilde L^{-1/4} G_t \\tilde R^{-1/4}, \\qquad
        v_t = \\beta_2 v_{t-1} + (1-\\beta_2) G_t^2, \\qquad
        A_t = \\frac{G_t}{\\sqrt{v_t/(1-\\beta_2^t)} + \\epsilon}, \\\\
        D_t = \\frac{\\|A_t\\|_F}{\\|S_t\\|_F} S_t, \\qquad
        m_t = \\beta_1 m_{t-1} + (1-\\beta_1) D_t, \\qquad
        u_t = \\frac{m_t}{1-\\beta_1^t},

    where :math:`\\tilde L^{-1/4} = V\\,\\mathrm{diag}((\\lambda_i + \\epsilon_M)^{-1/4})
    V^\\top` from the eigendecomposition :math:`L = V \\mathrm{diag}(\\lambda) V^\\top`
    (``jnp.linalg.eigh``, in float32, or float64 for float64 parameters) is
    recomputed from the current statistics when :math:`t` is a multiple of
    ``precondition_frequency`` or equals ``start_preconditioning_step`` and
    kept in between. A :math:`k`-d block keeps one statistic per dimension
    (:math:`\\sum_{\\text{other axes}} G G^\\top` along that axis) and uses the
    exponent :math:`-1/(2k)`. The norms :math:`\\|\\cdot\\|_F` are per block
    (grafting as in distributed Shampoo). Before ``start_preconditioning_step``,
    :math:`D_t = A_t`: the Adam graft alone. With ``stats_decay``
    :math:`\\beta_s`, the statistics are moving averages,
    :math:`L_t = \\beta_s L_{t-1} + (1-\\beta_s) G_t G_t^\\top`, instead of sums.

    Leaves that are not matrices: scalars and 1-d leaves are not
    preconditioned; they always take the Adam graft (the diagonal fallback),
    :math:`D_t = A_t`, with the same momentum. Leaves with more than two
    dimensions are preconditioned as order-:math:`k` tensors, as above. A
    dimension that is not a multiple of ``block_size`` ends with a smaller
    block.

    .. warning::
      The momentum acts on the grafted direction, as in Anil et al.'s
      implementation, not on the gradient before preconditioning; with
      ``start_preconditioning_step`` never reached this is therefore RMSProp
      with bias-corrected momentum, not exactly Adam.

    Args:
      b1: :math:`\\beta_1`, momentum decay of the grafted direction, in [0, 1).
      b2: :math:`\\beta_2`, decay of the Adam graft's second moment, in [0, 1).
      eps: :math:`\\epsilon`, the Adam graft's denominator term.
      matrix_epsilon: :math:`\\epsilon_M`, added to the eigenvalues of each
        statistic before the inverse root.
      block_size: the largest block along any dimension (>= 1).
      precondition_frequency: steps between inverse-root refreshes (>= 1).
      start_preconditioning_step: the first step that uses the Shampoo
        direction (>= 1); the inverse roots are also computed at that step.
      stats_decay: :math:`\\beta_s` in [0, 1) for moving-average statistics;
        ``None`` (the default) accumulates sums, as in the paper.

    Returns:
      A gradient transformation with a :class:`ScaleByShampooState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_shampoo(start_preconditioning_step=1)
      >>> state = tx.init({"w": jnp.zeros((2, 2))})
      >>> u, state = tx.update({"w": jnp.array([[1.0, 0.5], [0.5, 2.0]])}, state)
      >>> # L^(-1/4) G R^(-1/4) is G's polar factor (here I), at Adam's norm 2.
      >>> print(jnp.round(u["w"], 3))
      [[1.414 0.   ]
       [0.    1.414]]

    References:
      Gupta, Koren & Singer, *Shampoo: Preconditioned Stochastic Tensor
      Optimization*, ICML 2018, https://arxiv.org/abs/1802.09568. Anil et al.,
      *Scalable Second Order Optimization for Deep Learning*, 2020,
      https://arxiv.org/abs/2002.09018. Shi et al., *A Distributed
      Data-Parallel PyTorch Implementation of the Distributed Shampoo Optimizer
      for Training Neural Networks At-Scale*, 2023,
      https://arxiv.org/abs/2309.06497
    """
    where = "scale_by_shampoo"
    _checks.check_decay("b1", b1, where=where)
    _checks.check_decay("b2", b2, where=where)
    _checks.check_non_negative("eps", eps, where=where)
    _checks.check_non_negative("matrix_epsilon", matrix_epsilon, where=where)
    _checks.check_positive_int("block_size", block_size, where=where)
    _checks.check_positive_int("precondition_frequency", precondition_frequency, where=where)
    _checks.check_positive_int(
        "start_preconditioning_step", start_preconditioning_step, where=where
    )
    if stats_decay is not None:
        _checks.check_decay("stats_decay", stats_decay, where=where)

    def init_fn(params):
        def stats_of(x):
            if jnp.ndim(x) < 2:
                return ()
            blocks = _blocking(jnp.shape(x), block_size)
            dtype = _stat_dtype(x.dtype)
            return tuple(jnp.zeros(blocks.counts + (b, b), dtype) for b in blocks.sizes)

        def identities_of(x):
            if jnp.ndim(x) < 2:
                return ()
            blocks = _blocking(jnp.shape(x), block_size)
            dtype = _stat_dtype(x.dtype)
            return tuple(
                jnp.broadcast_to(jnp.eye(b, dtype=dtype), blocks.counts + (b, b))
                for b in blocks.sizes
            )

        def zeros_of(x):
            return jnp.zeros(jnp.shape(x), _stat_dtype(x.dtype))

        return ScaleByShampooState(
            count=jnp.zeros([], jnp.int32),
            mu=jax.tree.map(zeros_of, params),
            nu=jax.tree.map(zeros_of, params),
            stats=jax.tree.map(stats_of, params),
            preconditioners=jax.tree.map(identities_of, params),
        )

    # Built once per transform, so that eager calls reuse the compiled branches.
    def recompute(operands):
        # The roots are constants for differentiation (eigh's derivative is
        # undefined at repeated eigenvalues, e.g. those of padded blocks).
        stats_list = jax.lax.stop_gradient(operands[0])
        return [
            tuple(
                _inverse_root(s, 1.0 / (2 * len(stats)), matrix_epsilon).astype(s.dtype)
                for s in stats
            )
            for stats in stats_list
        ]

    def keep(operands):
        return list(operands[1])

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        leaves, treedef = jax.tree.flatten(updates)
        mus = treedef.flatten_up_to(state.mu)
        nus = treedef.flatten_up_to(state.nu)
        all_stats = treedef.flatten_up_to(state.stats)
        all_roots = treedef.flatten_up_to(state.preconditioners)

        count = _tree.safe_increment(state.count)
        refresh = (count % precondition_frequency == 0) | (count == start_preconditioning_step)
        use_shampoo = count >= start_preconditioning_step

        new_nus, grafts, blocked, new_stats = [], [], [], []
        for g, nu, stats in zip(leaves, nus, all_stats):
            g32 = g.astype(nu.dtype)
            nu = b2 * nu + (1 - b2) * g32 * g32
            nu_hat = nu / (1 - b2**count).astype(nu.dtype)
            grafts.append(g32 / (jnp.sqrt(nu_hat) + eps))
            new_nus.append(nu)
            if not stats:
                blocked.append(None)
                new_stats.append(())
                continue
            blocks = _blocking(g.shape, block_size)
            x = _to_blocks(g32, blocks)
            blocked.append(x)
            grams = [_block_gram(x, axis, g.ndim) for axis in range(g.ndim)]
            if stats_decay is None:
                new_stats.append(tuple(s + gram for s, gram in zip(stats, grams)))
            else:
                new_stats.append(
                    tuple(
                        stats_decay * s + (1 - stats_decay) * gram for s, gram in zip(stats, grams)
                    )
                )

        new_roots = jax.lax.cond(refresh, recompute, keep, (new_stats, list(all_roots)))

        new_updates, new_mus = [], []
        for g, mu, graft, x, roots in zip(leaves, mus, grafts, blocked, new_roots):
            direction = graft
            if x is not None:
                k = g.ndim
                blocks = _blocking(g.shape, block_size)
                y = x
                for axis, root in enumerate(roots):
                    y = _apply_root(y, root, axis, k)
                # Padding rows can pick up round-off: keep them out of the norms.
                y = y * _to_blocks(jnp.ones(g.shape, y.dtype), blocks)
                graft_norm = _block_norm(_to_blocks(graft, blocks), k)
                shampoo_norm = _block_norm(y, k)
                ratio = graft_norm / jnp.where(shampoo_norm > 0, shampoo_norm, 1)
                grafted = _from_blocks(y * ratio, blocks)
                direction = jnp.where(use_shampoo, grafted, graft)
            mu = b1 * mu + (1 - b1) * direction
            new_mus.append(mu)
            new_updates.append(mu / (1 - b1**count).astype(mu.dtype))

        new_state = ScaleByShampooState(
            count=count,
            mu=treedef.unflatten(new_mus),
            nu=treedef.unflatten(new_nus),
            stats=treedef.unflatten(new_stats),
            preconditioners=treedef.unflatten(new_roots),
        )
        return treedef.unflatten(new_updates), new_state

    return transformation(init_fn, update_fn, name=where)


def shampoo(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    matrix_epsilon: jax.typing.ArrayLike = 1e-6,
    block_size: int = 128,
    precondition_frequency: int = 10,
    start_preconditioning_step: int = 10,
    weight_decay: ScalarOrSchedule = 0.0,
    *,
    mask: MaskOrFn | None = None,
    stats_decay: jax.typing.ArrayLike | None = None,
) -> GradientTransformationExtraArgs:
    """The blocked Shampoo optimizer, grafted to Adam, with decoupled weight decay.

    .. math::

        u_t = -\\eta_t \\left(\\mathrm{Shampoo}(G_t) + \\lambda\\, \\theta_t\\right),

    where :math:`\\mathrm{Shampoo}(G_t)` is :func:`scale_by_shampoo`: per
    block, :math:`L^{-1/4} G R^{-1/4}` rescaled to the Adam direction's norm,
    then momentum (its docstring gives the full rule). Scalars and 1-d leaves
    take the Adam graft alone. It is ``chain(scale_by_shampoo(...),
    add_decayed_weights(weight_decay, mask), scale_by_learning_rate(lr))``.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: momentum decay of the grafted direction.
      b2: decay of the Adam graft's second moment.
      eps: the Adam graft's denominator term.
      matrix_epsilon: added to the eigenvalues before the inverse roots.
      block_size: the largest block along any dimension.
      precondition_frequency: steps between inverse-root refreshes.
      start_preconditioning_step: the first step that uses the Shampoo
        direction; before it the Adam graft is used alone.
      weight_decay: :math:`\\lambda`, decoupled weight decay.
      mask: a boolean tree (or a function of the params returning one)
        selecting the leaves that weight decay applies to.
      stats_decay: moving-average decay of the statistics; ``None`` sums them.

    Returns:
      A gradient transformation whose state is
      ``(ScaleByShampooState, AddDecayedWeightsState | EmptyState,
      ScaleByScheduleState | EmptyState)``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> a = jnp.array([[2.0, 1.0], [1.0, 3.0], [0.0, 1.0]])
      >>> b = jnp.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0], [1.0, 1.0, 1.0]])
      >>> f = lambda w: jnp.sum((a @ w - b) ** 2)  # least squares, minimum 4.2
      >>> solver = optjax.shampoo(learning_rate=0.03, start_preconditioning_step=1)
      >>> w = jnp.zeros((2, 3))
      >>> state = solver.init(w)
      >>> for _ in range(100):
      ...     updates, state = solver.update(jax.grad(f)(w), state, w)
      ...     w = optjax.apply_updates(w, updates)
      >>> print(f"{f(w):.2f}")
      4.20

    References:
      Gupta, Koren & Singer, *Shampoo: Preconditioned Stochastic Tensor
      Optimization*, ICML 2018, https://arxiv.org/abs/1802.09568. Anil et al.,
      *Scalable Second Order Optimization for Deep Learning*, 2020,
      https://arxiv.org/abs/2002.09018. Shi et al., 2023 (grafting per block),
      https://arxiv.org/abs/2309.06497
    """
    return chain(
        scale_by_shampoo(
            b1=b1,
            b2=b2,
            eps=eps,
            matrix_epsilon=matrix_epsilon,
            block_size=block_size,
            precondition_frequency=precondition_frequency,
            start_preconditioning_step=start_preconditioning_step,
            stats_decay=stats_decay,
        ),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
