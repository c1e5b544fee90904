"""Gradient clipping: element-wise, by global norm, per block, unit-wise (AGC),
per example (for differential privacy), and NaN zeroing."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import EmptyState, GradientTransformationExtraArgs, transformation
from optjax.transforms._unitwise import unitwise_clip, unitwise_norm
from optjax.tree import _math as _tree
from optjax.tree._math import _describe_path

ClipState = EmptyState
ClipByGlobalNormState = EmptyState
AdaptiveGradClipState = EmptyState


def _empty_init(params):
    del params
    return EmptyState()


def clip(max_delta: jax.typing.ArrayLike) -> GradientTransformationExtraArgs:
    """Clips every element of the updates to ``[-max_delta, max_delta]``.

    .. math::

        u = \\min(\\max(g, -\\delta), \\delta)

    Args:
      max_delta: the largest absolute value :math:`\\delta \\ge 0` an element
        may keep.

    Returns:
      A stateless gradient transformation.

    Raises:
      ValueError: if ``max_delta`` is a negative number.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.clip(1.0)
      >>> tx.update({"w": jnp.array([-3.0, 0.5, 2.0])}, tx.init(None))[0]["w"]
      Array([-1. ,  0.5,  1. ], dtype=float32)
    """
    _checks.check_non_negative("max_delta", max_delta, where="clip")

    def update_fn(updates, state, params=None, **extra_args):
        return jax.tree.map(lambda g: jnp.clip(g, -max_delta, max_delta), updates), state

    return transformation(_empty_init, update_fn, name="clip")


def clip_by_block_rms(threshold: jax.typing.ArrayLike) -> GradientTransformationExtraArgs:
    """Rescales each leaf (block) whose root mean square exceeds ``threshold``.

    .. math::

        u_i = \\frac{g_i}{\\max\\left(1, \\mathrm{rms}(g_i) / \\tau\\right)},
        \\qquad \\mathrm{rms}(g_i) = \\sqrt{\\operatorname{mean}(|g_i|^2)}

    Args:
      threshold: the largest root mean square :math:`\\tau > 0` a leaf may keep.

    Returns:
      A stateless gradient transformation.

    Raises:
      ValueError: if ``threshold`` is a number <= 0.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.clip_by_block_rms(1.0)
      >>> u = tx.update({"w": jnp.array([3.0, -4.0])}, tx.init(None))[0]["w"]
      >>> print(f"rms after: {jnp.sqrt(jnp.mean(u**2)):.4f}")
      rms after: 1.0000
    """
    _checks.check_positive("threshold", threshold, where="clip_by_block_rms")

    def clip_leaf(g):
        denominator = jnp.maximum(1.0, jnp.sqrt(jnp.mean(_tree.abs_sq(g))) / threshold)
        return g / denominator

    def update_fn(updates, state, params=None, **extra_args):
        return jax.tree.map(clip_leaf, updates), state

    return transformation(_empty_init, update_fn, name="clip_by_block_rms")


def _fused_squared_norm(tree: Any) -> jax.Array:
    """:math:`\\sum_i \\|g_i\\|^2`, as one reduction when all leaves are float32 (or float64).

    Many leaves otherwise give one reduction kernel each (and a chain of scalar
    adds); the concatenation is fused into the single reduction by XLA.
    """
    leaves = [jnp.asarray(x) for x in jax.tree.leaves(tree)]
    dtypes = {x.dtype for x in leaves}
    if len(leaves) > 1 and dtypes in ({jnp.dtype("float32")}, {jnp.dtype("float64")}):
        return jnp.sum(jnp.square(jnp.concatenate([jnp.ravel(x) for x in leaves])))
    return _tree.l2_norm(tree, squared=True)


def clip_by_global_norm(max_norm: jax.typing.ArrayLike) -> GradientTransformationExtraArgs:
    """Rescales the updates so that their global norm is at most ``max_norm``.

    .. math::

        u = \\begin{cases} g & \\|g\\|_2 < c \\\\
        \\dfrac{g}{\\|g\\|_2}\\, c & \\text{otherwise} \\end{cases}

    where :math:`\\|g\\|_2` is the Euclidean norm of all leaves together. A zero
    gradient passes through unchanged (no division by zero), and the derivative
    of the update with respect to a zero gradient is finite too.

    .. warning::
      optjax multiplies every leaf by the one scalar :math:`c / \\|g\\|_2`
      (which XLA fuses into the next transform's pass over the leaf); Optax
      computes :math:`(g / \\|g\\|_2)\\, c` per element. The two agree to an ulp
      or two (at :math:`\\|g\\|_2 = c` optjax returns :math:`g` exactly).

    Args:
      max_norm: the largest global norm :math:`c > 0` the updates may keep.

    Returns:
      A stateless gradient transformation.

    Raises:
      ValueError: if ``max_norm`` is a number <= 0.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.clip_by_global_norm(1.0)
      >>> updates = {"a": jnp.array([3.0]), "b": jnp.array([4.0])}
      >>> tx.update(updates, tx.init(None))[0]
      {'a': Array([0.6], dtype=float32), 'b': Array([0.8], dtype=float32)}

    References:
      Pascanu et al., *On the difficulty of training recurrent neural
      networks*, ICML 2013, https://arxiv.org/abs/1211.5063
    """
    _checks.check_positive("max_norm", max_norm, where="clip_by_global_norm")

    def update_fn(updates, state, params=None, **extra_args):
        squared_norm = _fused_squared_norm(updates)
        keep = jnp.squeeze(jnp.sqrt(squared_norm) < max_norm)
        if keep.ndim != 0:
            raise ValueError(
                f"clip_by_global_norm: max_norm must be a scalar, got shape {jnp.shape(max_norm)}."
            )
        # Taking the root of 1 where the clipped branch is unused keeps reverse
        # mode finite at a zero gradient; forward values are the plain formula's.
        denominator = jnp.sqrt(jnp.where(keep, jnp.ones_like(squared_norm), squared_norm))
        # One scalar factor, multiplied in: XLA fuses a multiply into every consumer
        # (the moment updates downstream), where a per-element divide would be
        # materialized as an extra pass over each leaf. It agrees with the
        # per-element ``g / |g| * c`` to an ulp or two.
        factor = jnp.where(keep, jnp.ones_like(squared_norm), max_norm / denominator)

        def clip_leaf(g):
            return jax.lax.select(keep, g, (g * factor.astype(g.dtype)).astype(g.dtype))

        return jax.tree.map(clip_leaf, updates), state

    return transformation(_empty_init, update_fn, name="clip_by_global_norm")


def _batch_size(grads: Any, where: str) -> int:
    leaves = jax.tree_util.tree_flatten_with_path(grads)[0]
    if not leaves:
        raise ValueError(f"{where}: grads has no leaves.")
    batch = None
    for path, g in leaves:
        shape = jnp.shape(g)
        if len(shape) == 0 or (batch is not None and shape[0] != batch):
            raise ValueError(
                f"{where}: every leaf of grads needs the same leading batch axis, "
                f"but the leaf at key path {_describe_path(path)} has shape {shape}"
                + ("." if batch is None else f" (expected leading size {batch}).")
            )
        batch = shape[0] if batch is None else batch
    return batch


def _clip_and_sum(grads: Any, clip_norm: jax.typing.ArrayLike) -> tuple[Any, jax.Array]:
    norms = jax.vmap(_tree.l2_norm)(grads)
    # A zero-norm example has 0/0 = NaN here: it is kept as it is (factor 1).
    factors = jnp.nan_to_num(jnp.minimum(clip_norm / norms, 1.0), nan=1.0)
    num_clipped = jnp.sum(factors < 1.0)
    summed = jax.tree.map(lambda g: jnp.tensordot(factors, g, axes=1), grads)
    return summed, num_clipped


def per_example_global_norm_clip(
    grads: Any, l2_norm_clip: jax.typing.ArrayLike
) -> tuple[Any, jax.Array]:
    """Clips each example's gradient to a global norm, then sums over examples.

    ``grads`` holds per-example gradients stacked on a leading batch axis. For
    example :math:`n` with gradient tree :math:`g^{(n)}`:

    .. math::

        \\hat g = \\sum_n \\min\\left(1, \\frac{C}{\\|g^{(n)}\\|_2}\\right) g^{(n)}

    (an example with zero norm keeps factor 1). This is the clipping step of
    DP-SGD; it is a function, not a transform.

    Args:
      grads: a tree whose leaves all have the same leading batch size.
      l2_norm_clip: the clipping norm :math:`C`.

    Returns:
      ``(summed, num_clipped)``: the sum of the clipped per-example gradients
      (the batch axis removed) and the number of examples that were clipped.

    Raises:
      ValueError: if a leaf lacks the common leading batch axis.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> grads = [jnp.array([[0.0, 0.0], [3.0, 4.0], [0.6, 0.8]])]
      >>> summed, num_clipped = optjax.per_example_global_norm_clip(grads, 1.0)
      >>> summed[0], num_clipped
      (Array([1.2, 1.6], dtype=float32), Array(1, dtype=int32))

    References:
      Abadi et al., *Deep Learning with Differential Privacy*, CCS 2016,
      https://arxiv.org/abs/1607.00133
    """
    _batch_size(grads, "per_example_global_norm_clip")
    return _clip_and_sum(grads, l2_norm_clip)


def per_example_layer_norm_clip(
    grads: Any,
    global_l2_norm_clip: jax.typing.ArrayLike,
    uniform: bool = True,
) -> tuple[Any, Any]:
    """Clips each example's gradient leaf by leaf (layer by layer), then sums.

    Each of the :math:`K` leaves (layers) is clipped per example as in
    :func:`per_example_global_norm_clip`, with its own norm :math:`C_k`:

    .. math::

        C_k = \\begin{cases} C / \\sqrt{K} & \\texttt{uniform} \\\\
        C \\sqrt{D_k / D} & \\text{otherwise} \\end{cases}

    where :math:`D_k` is the number of parameters in leaf :math:`k` (per
    example) and :math:`D` the total. Either way
    :math:`\\sum_k C_k^2 = C^2`.

    Args:
      grads: a tree whose leaves all have the same leading batch size.
      global_l2_norm_clip: the overall clipping norm :math:`C`.
      uniform: split :math:`C` evenly across leaves; otherwise in proportion
        to the square root of each leaf's size.

    Returns:
      ``(summed, num_clipped)``: two trees shaped like ``grads``, the sum of the
      clipped per-example gradients of each leaf and the number of examples
      clipped in each leaf.

    Raises:
      ValueError: if a leaf lacks the common leading batch axis.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> grads = {"a": jnp.array([[3.0, 4.0]]), "b": jnp.array([[0.1]])}
      >>> summed, counts = optjax.per_example_layer_norm_clip(grads, 2.0)
      >>> print(f"{jnp.linalg.norm(summed['a']):.4f}", int(counts["a"]), int(counts["b"]))
      1.4142 1 0

    References:
      McMahan et al., *Learning Differentially Private Recurrent Language
      Models*, ICLR 2018, https://arxiv.org/abs/1710.06963
    """
    _batch_size(grads, "per_example_layer_norm_clip")
    if uniform:
        num_leaves = len(jax.tree.leaves(grads))
        clip_norms = jax.tree.map(lambda _: global_l2_norm_clip * (1.0 / num_leaves) ** 0.5, grads)
    else:
        total = jax.tree.reduce(lambda acc, g: acc + g[0].size, grads, 0)
        clip_norms = jax.tree.map(lambda g: global_l2_norm_clip * (g[0].size / total) ** 0.5, grads)
    pairs = jax.tree.map(_clip_and_sum, grads, clip_norms)
    return jax.tree.transpose(
        outer_treedef=jax.tree.structure(grads),
        inner_treedef=jax.tree.structure((0, 0)),
        pytree_to_transpose=pairs,
    )


def adaptive_grad_clip(
    clipping: jax.typing.ArrayLike,
    eps: jax.typing.ArrayLike = 1e-3,
    axis: int | tuple[int, ...] | None = None,
) -> GradientTransformationExtraArgs:
    """Adaptive gradient clipping (AGC): caps gradient norms relative to parameter norms.

    For each unit :math:`i` (an output neuron: a slice of a leaf),

    .. math::

        u_i = \\begin{cases} g_i & \\|g_i\\| < \\lambda \\max(\\|\\theta_i\\|,
        \\epsilon) \\\\ g_i\\, \\dfrac{\\lambda \\max(\\|\\theta_i\\|, \\epsilon)}
        {\\max(\\|g_i\\|, 10^{-6})} & \\text{otherwise} \\end{cases}

    With ``axis=None`` the units follow common layouts: scalars and vectors are
    one unit; rank-2 and rank-3 leaves reduce over axis 0; rank-4 (HWIO conv)
    over axes (0, 1, 2); rank-5 over axes (0, 1, 2, 3). A 0-d leaf is one unit
    even when ``axis`` is given (Optax raises there).

    Args:
      clipping: the largest allowed ratio :math:`\\lambda` of gradient norm to
        parameter norm.
      eps: the floor :math:`\\epsilon` on parameter norms, so that
        zero-initialized parameters can still move.
      axis: the axis or axes reduced to compute unit norms; ``None`` infers
        them from each leaf's rank.

    Returns:
      A stateless gradient transformation that needs ``params`` in ``update``.

    Raises:
      ValueError: if ``clipping`` or ``eps`` is a negative number.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.adaptive_grad_clip(0.1)
      >>> params = {"w": jnp.array([3.0, 4.0])}
      >>> tx.update({"w": jnp.array([1.0, 0.0])}, tx.init(params), params)[0]["w"]
      Array([0.5, 0. ], dtype=float32)

    References:
      Brock et al., *High-Performance Large-Scale Image Recognition Without
      Normalization*, ICML 2021, https://arxiv.org/abs/2102.06171
    """
    _checks.check_non_negative("clipping", clipping, where="adaptive_grad_clip")
    _checks.check_non_negative("eps", eps, where="adaptive_grad_clip")

    def clip_leaf(g, p):
        max_norm = clipping * jnp.maximum(unitwise_norm(p, axis), eps)
        return unitwise_clip(unitwise_norm(g, axis), max_norm, g)

    def update_fn(updates, state, params=None, **extra_args):
        updates = _tree.map(
            clip_leaf, updates, params, names=("updates", "params"), where="adaptive_grad_clip"
        )
        return updates, state

    return transformation(_empty_init, update_fn, name="adaptive_grad_clip", needs_params=True)


class ZeroNansState(NamedTuple):
    """State of :func:`zero_nans`: per leaf, whether the last update had a NaN."""

    found_nan: Any


def zero_nans() -> GradientTransformationExtraArgs:
    """Replaces NaN elements of the updates with zeros; infinities are kept.

    .. math::

        u = \\begin{cases} 0 & g = \\mathrm{NaN} \\\\ g & \\text{otherwise}
        \\end{cases}

    The state records, for every leaf, whether that leaf held a NaN at the
    last call (a boolean scalar per leaf), so that NaNs can be monitored even
    though they were removed.

    Returns:
      A gradient transformation with a :class:`ZeroNansState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.zero_nans()
      >>> params = {"a": jnp.zeros(2), "b": jnp.zeros(1)}
      >>> grads = {"a": jnp.array([jnp.nan, jnp.inf]), "b": jnp.array([1.0])}
      >>> updates, state = tx.update(grads, tx.init(params))
      >>> updates["a"], state.found_nan["a"], state.found_nan["b"]
      (Array([ 0., inf], dtype=float32), Array(True, dtype=bool), Array(False, dtype=bool))
    """

    def init_fn(params):
        return ZeroNansState(found_nan=jax.tree.map(lambda _: jnp.array(False), params))

    def update_fn(updates, state, params=None, **extra_args):
        _tree.check_same_structure(
            state.found_nan, updates, "optimizer state", "updates", where="zero_nans"
        )
        found_nan = jax.tree.map(lambda g: jnp.any(jnp.isnan(g)), updates)
        updates = jax.tree.map(lambda g: jnp.where(jnp.isnan(g), jnp.zeros_like(g), g), updates)
        return updates, ZeroNansState(found_nan=found_nan)

    return transformation(init_fn, update_fn, name="zero_nans")
