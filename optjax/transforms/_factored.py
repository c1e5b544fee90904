"""Adafactor's factored second-moment estimate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, transformation
from optjax.tree import _math as _tree


class FactoredState(NamedTuple):
    """State of :func:`scale_by_factored_rms`: count, row/column statistics, full statistics."""

    count: jax.Array
    v_row: Any
    v_col: Any
    v: Any


def _decay_rate_pow(step: jax.typing.ArrayLike, exponent: jax.typing.ArrayLike = 0.8) -> jax.Array:
    """Adafactor's increasing decay :math:`1 - (t+1)^{-c}`, computed in float32."""
    t = jnp.array(step + 1, jnp.float32)
    return 1.0 - t ** (-exponent)


def _factored_axes(
    shape: tuple[int, ...], factored: bool, min_dim_size_to_factor: int
) -> tuple[int, int] | None:
    """The (second largest, largest) axes to factor over, or None to keep full statistics."""
    if not factored or len(shape) < 2:
        return None
    # np.argsort's tie-breaking decides which of two equal axes is factored;
    # Optax uses it too, so the state layout matches for tied shapes.
    order = np.argsort(shape)
    if shape[order[-2]] < min_dim_size_to_factor:
        return None
    return int(order[-2]), int(order[-1])


def _placeholder(param: jax.Array) -> jax.Array:
    return jnp.zeros((1,), dtype=param.dtype)


def scale_by_factored_rms(
    factored: bool = True,
    decay_rate: jax.typing.ArrayLike = 0.8,
    step_offset: jax.typing.ArrayLike = 0,
    min_dim_size_to_factor: int = 128,
    epsilon: jax.typing.ArrayLike = 1e-30,
    decay_rate_fn: Callable[[jax.typing.ArrayLike, jax.typing.ArrayLike], jax.typing.ArrayLike] = (
        _decay_rate_pow
    ),
) -> GradientTransformationExtraArgs:
    """Divides by a factored (rank-1) estimate of the gradients' root mean square.

    For a leaf whose two largest axes (rows :math:`r` and columns :math:`c`,
    the largest) both have at least ``min_dim_size_to_factor`` entries, only the
    row and column means of the squared gradient are tracked:

    .. math::

        G_t = |g_t|^2 + \\epsilon, \\qquad
        R_t = \\hat\\beta_t R_{t-1} + (1-\\hat\\beta_t)\\, \\mathrm{mean}_c\\, G_t, \\qquad
        C_t = \\hat\\beta_t C_{t-1} + (1-\\hat\\beta_t)\\, \\mathrm{mean}_r\\, G_t,

    .. math::

        u_t = g_t \\Big/ \\sqrt{\\frac{R_t\\, C_t}{\\mathrm{mean}_r\\, R_t}}

    (:math:`R_t` and :math:`C_t` broadcast along the reduced axes). Other
    leaves, including 0-d and 1-d ones, keep the full statistic
    :math:`V_t = \\hat\\beta_t V_{t-1} + (1-\\hat\\beta_t) G_t` and use
    :math:`u_t = g_t / \\sqrt{V_t}`. The decay follows
    :math:`\\hat\\beta_t` = ``decay_rate_fn(t - step_offset, decay_rate)``,
    by default :math:`1 - (t+1)^{-0.8}` with :math:`t = 0, 1, \\dots`

    Unused statistics are stored as 1-element placeholders, so that every leaf
    of ``v_row``, ``v_col`` and ``v`` exists whatever the leaf's shape.

    Args:
      factored: factor the statistics of rank >= 2 leaves.
      decay_rate: the exponent :math:`c` passed to ``decay_rate_fn``.
      step_offset: subtracted from the step count, e.g. the first step of a
        fine-tuning run, so the decay schedule restarts (``count - step_offset``
        must stay >= 0 for the default schedule).
      min_dim_size_to_factor: factor only when the second largest axis has at
        least this many entries.
      epsilon: :math:`\\epsilon`, added to the squared gradients.
      decay_rate_fn: ``(step, decay_rate) -> beta``; replace it to cap the
        decay below 1, as in Zhai et al. (2021).

    Returns:
      A gradient transformation with a :class:`FactoredState`; its ``update``
      needs ``params``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_factored_rms(min_dim_size_to_factor=2)
      >>> params = {"w": jnp.zeros((2, 3)), "b": jnp.zeros(3)}
      >>> state = tx.init(params)
      >>> [x.shape for x in (state.v_row["w"], state.v_col["w"], state.v["w"])]
      [(2,), (3,), (1,)]
      >>> u, state = tx.update({"w": jnp.ones((2, 3)), "b": -jnp.ones(3)}, state, params)
      >>> u["b"]
      Array([-1., -1., -1.], dtype=float32)

    References:
      Shazeer & Stern, *Adafactor: Adaptive Learning Rates with Sublinear
      Memory Cost*, ICML 2018, https://arxiv.org/abs/1804.04235

      Zhai et al., *Scaling Vision Transformers*, CVPR 2022,
      https://arxiv.org/abs/2106.04560
    """
    where = "scale_by_factored_rms"
    _checks.check_non_negative("min_dim_size_to_factor", min_dim_size_to_factor, where=where)
    _checks.check_non_negative("epsilon", epsilon, where=where)
    if decay_rate_fn is _decay_rate_pow:
        _checks.check_non_negative("decay_rate", decay_rate, where=where)

    def axes_of(param):
        return _factored_axes(param.shape, factored, min_dim_size_to_factor)

    def init_leaf(param):
        axes = axes_of(param)
        if axes is None:
            return _placeholder(param), _placeholder(param), jnp.zeros_like(param)
        row_axis, col_axis = axes
        # v_row drops the column (largest) axis, v_col drops the row axis.
        v_row = jnp.zeros_like(param, shape=np.delete(param.shape, col_axis).tolist())
        v_col = jnp.zeros_like(param, shape=np.delete(param.shape, row_axis).tolist())
        return v_row, v_col, _placeholder(param)

    def update_leaf(grad, v_row, v_col, v, param, beta):
        dtype = param.dtype
        axes = axes_of(param)
        grad_sq = _tree.abs_sq(grad) + epsilon
        if axes is None:
            new_v = (beta * v + (1.0 - beta) * grad_sq).astype(dtype)
            return grad * new_v**-0.5, _placeholder(param), _placeholder(param), new_v
        row_axis, col_axis = axes
        new_row = beta * v_row + (1.0 - beta) * jnp.mean(grad_sq, axis=col_axis)
        new_col = beta * v_col + (1.0 - beta) * jnp.mean(grad_sq, axis=row_axis)
        new_row = new_row.astype(dtype)
        new_col = new_col.astype(dtype)
        # In v_row the row axis shifts left by one if it came after the column axis.
        row_axis_in_row = row_axis - 1 if row_axis > col_axis else row_axis
        row_mean = jnp.mean(new_row, axis=row_axis_in_row, keepdims=True)
        row_factor = (new_row / row_mean) ** -0.5
        col_factor = new_col**-0.5
        update = (
            grad
            * jnp.expand_dims(row_factor, axis=col_axis)
            * jnp.expand_dims(col_factor, axis=row_axis)
        )
        return update, new_row, new_col, _placeholder(param)

    def init_fn(params):
        leaves, treedef = jax.tree.flatten(params)
        stats = [init_leaf(p) for p in leaves]
        return FactoredState(
            count=jnp.zeros([], jnp.int32),
            v_row=treedef.unflatten([s[0] for s in stats]),
            v_col=treedef.unflatten([s[1] for s in stats]),
            v=treedef.unflatten([s[2] for s in stats]),
        )

    def update_fn(updates, state, params=None, **extra_args):
        for field in ("v_row", "v_col", "v"):
            _tree.check_same_structure(
                updates, getattr(state, field), "updates", f"state.{field}", where=where
            )
        beta = decay_rate_fn(state.count - step_offset, decay_rate)
        grads, treedef = jax.tree.flatten(updates)
        per_leaf = zip(
            grads,
            treedef.flatten_up_to(state.v_row),
            treedef.flatten_up_to(state.v_col),
            treedef.flatten_up_to(state.v),
            treedef.flatten_up_to(params),
            strict=True,
        )
        results = [update_leaf(*args, beta) for args in per_leaf]
        new_updates, v_row, v_col, v = (
            treedef.unflatten([r[i] for r in results]) for i in range(4)
        )
        new_state = FactoredState(
            count=_tree.safe_increment(state.count), v_row=v_row, v_col=v_col, v=v
        )
        return new_updates, new_state

    return transformation(init_fn, update_fn, name=where, needs_params=True)
