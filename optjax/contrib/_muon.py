"""Muon: momentum orthogonalized by a Newton-Schulz iteration, for matrix parameters.

Muon keeps a (Nesterov) momentum per matrix and replaces it, before the step,
by an approximation of its orthogonal polar factor :math:`U V^\\top` (where
:math:`M = U \\Sigma V^\\top`), computed with a few matrix multiplications. This
is steepest descent under the spectral norm. Parameters that are not matrices
(biases, scalars, convolution kernels unless told how to flatten them) are
trained by AdamW instead, as in Optax.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import (
    EmptyState,
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    transformation,
)
from optjax._optimizers._adam import adamw
from optjax.transforms._adam_family import canonical_dtype, nesterov_mu_hat
from optjax.transforms._basic import scale_by_learning_rate
from optjax.transforms._combinators._chain import chain
from optjax.transforms._combinators._masking import MaskedNode
from optjax.transforms._combinators._partition import partition
from optjax.transforms._regularization import add_decayed_weights
from optjax.tree import _math as _tree

_DEFAULT_NS_COEFFS = (3.4445, -4.7750, 2.0315)
# Per-step coefficients from Ahn et al. (Dion), one row per Newton-Schulz step.
_DION_NS_COEFFS = (
    (4.0848, -6.8946, 2.9270),
    (3.9505, -6.3029, 2.6377),
    (3.7418, -5.5913, 2.3037),
    (2.8769, -3.1427, 1.2046),
    (2.8366, -3.0525, 1.2012),
)
_NS_PRESETS = {"standard": _DEFAULT_NS_COEFFS, "dion": _DION_NS_COEFFS}
_PRECONDITIONINGS = ("frobenius", "spectral", "aol", "schatten")


class MuonDimensionNumbers(NamedTuple):
    """Which axes of a parameter form the matrix that Muon orthogonalizes.

    A weight :math:`W` used as :math:`y = x W` has a reduction (input) axis and an
    output axis. Several axes may be named for either; they are flattened
    together. Every axis named by neither is a batch axis: each slice along the
    batch axes is orthogonalized on its own.

    .. math::

        W \\in \\mathbb{R}^{B \\times (\\prod_{r} n_r) \\times (\\prod_{o} n_o)}
        \\mapsto \\bigl(\\mathrm{orth}(W_b)\\bigr)_{b=1}^{B}

    Attributes:
      reduction_axis: an axis or a sequence of axes (negative values count from
        the end). Default 0.
      output_axis: an axis or a sequence of axes, disjoint from the reduction
        axes. Default 1.

    Examples:
      >>> import optjax
      >>> # An HWIO convolution kernel: reduce over H, W and I, output O.
      >>> optjax.MuonDimensionNumbers(reduction_axis=(0, 1, 2), output_axis=3)
      MuonDimensionNumbers(reduction_axis=(0, 1, 2), output_axis=3)
    """

    reduction_axis: Sequence[int] | int = 0
    output_axis: Sequence[int] | int = 1


class MuonState(NamedTuple):
    """State of :func:`scale_by_muon`: step count, momentum and Newton-Schulz coefficients."""

    count: jax.Array
    mu: Any
    ns_coeffs: jax.Array


WeightDimNumOrFn = Any  # MuonDimensionNumbers | tree of them | Callable[[Params], tree]

# ----------------------------------------------------------------------------
# Dimension numbers, resolved to one entry per leaf.


def _is_spec_leaf(x: Any) -> bool:
    return x is None or isinstance(x, MuonDimensionNumbers)


def _dims_per_leaf(spec: Any, tree: Any, *, where: str, argument: str) -> list[Any]:
    """One ``MuonDimensionNumbers`` (or ``None``) per leaf of ``tree``, in leaf order.

    ``spec`` is ``None`` (every leaf gets ``None``), one ``MuonDimensionNumbers``
    (shared by every leaf), a tree prefix of ``tree`` whose leaves are either, or
    a function of ``tree`` returning one of these.
    """
    if callable(spec) and not isinstance(spec, MuonDimensionNumbers):
        spec = spec(tree)
    if _is_spec_leaf(spec):
        return [spec] * len(jax.tree.leaves(tree))
    spec_leaves, spec_def = jax.tree.flatten(spec, is_leaf=_is_spec_leaf)
    try:
        subtrees = spec_def.flatten_up_to(tree)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{where}: {argument} must be a tree prefix of the parameters with "
            f"MuonDimensionNumbers or None leaves; it does not match them: {error}"
        ) from None
    dims = []
    for dim, subtree in zip(spec_leaves, subtrees, strict=True):
        dims.extend([dim] * len(jax.tree.leaves(subtree)))
    return dims


def _normalized_axes(ndim: int, dims: MuonDimensionNumbers) -> tuple[tuple, tuple]:
    def as_tuple(axes):
        axes = (axes,) if isinstance(axes, int) else tuple(axes)
        return tuple(axis % ndim for axis in axes)

    return as_tuple(dims.reduction_axis), as_tuple(dims.output_axis)


def _matrix_layout(shape: tuple, dims: MuonDimensionNumbers | None, path: str, where: str):
    """Axis permutation and (batch, rows, cols) sizes for a leaf of ``shape``.

    ``dims=None`` accepts 2-d leaves only (as rows x cols); explicit dimension
    numbers accept any rank >= 2.
    """
    if len(shape) < 2:
        raise ValueError(
            f"{where}: the leaf at key path {path} has shape {shape}; Muon "
            f"orthogonalizes matrices (rank >= 2). optjax.muon sends such leaves "
            f"to AdamW; with scale_by_muon, keep them out (optjax.partition)."
        )
    if dims is None:
        if len(shape) != 2:
            raise ValueError(
                f"{where}: the leaf at key path {path} has shape {shape}; a leaf "
                f"of rank > 2 needs MuonDimensionNumbers (which axes form the "
                f"matrix) in weight_dimension_numbers."
            )
        dims = MuonDimensionNumbers()
    reduction, output = _normalized_axes(len(shape), dims)
    if set(reduction) & set(output):
        raise ValueError(
            f"{where}: the reduction axes {reduction} and output axes {output} of "
            f"the leaf at key path {path} (shape {shape}) overlap."
        )
    batch = tuple(a for a in range(len(shape)) if a not in reduction and a not in output)
    sizes = [math.prod(shape[a] for a in axes) for axes in (batch, reduction, output)]
    return batch + reduction + output, tuple(sizes)


def _fans(shape: tuple, dims: MuonDimensionNumbers) -> tuple[int, int]:
    reduction, output = _normalized_axes(len(shape), dims)
    return math.prod(shape[a] for a in reduction), math.prod(shape[a] for a in output)


# ----------------------------------------------------------------------------
# Newton-Schulz.


def _ns_step(x: jax.Array, coeffs: jax.Array) -> jax.Array:
    """One quintic step :math:`a X + (b A + c A^2) X` with :math:`A = X X^H`."""
    gram = x @ x.T.conj()
    poly = coeffs[1] * gram + coeffs[2] * gram @ gram
    return coeffs[0] * x + poly @ x


def _aol_first_step(x: jax.Array, coeffs: jax.Array, eps: Any) -> jax.Array:
    """First step with rows rescaled by their absolute Gram row sums (AOL)."""
    gram = x @ x.T.conj()
    row_scale = jax.lax.rsqrt(jnp.clip(jnp.abs(gram).sum(axis=-1), min=eps))[:, None]
    x = x * row_scale
    gram = gram * row_scale * row_scale.T
    poly = coeffs[1] * gram + coeffs[2] * gram @ gram
    return coeffs[0] * x + poly @ x


def _schatten_first_step(x: jax.Array, coeffs: jax.Array, eps: Any) -> jax.Array:
    """First step with :math:`X` divided by its Schatten-4 norm."""
    gram = x @ x.T
    scale = jax.lax.rsqrt(jnp.clip(jnp.linalg.norm(gram, ord="fro"), min=eps))
    x = x * scale
    gram = gram * scale**2
    poly = coeffs[1] * gram + coeffs[2] * gram @ gram
    return coeffs[0] * x + poly @ x


def _orthogonalize_matrix(
    x: jax.Array, coeffs: jax.Array, ns_steps: int, preconditioning: str, eps: Any
) -> jax.Array:
    """Approximates the polar factor of one matrix with Newton-Schulz steps."""
    wide = x.shape[0] <= x.shape[1]
    if not wide:  # Iterate on the smaller Gram matrix.
        x = x.T
    if preconditioning == "frobenius":
        x = x / (jnp.linalg.norm(x, ord="fro") + eps)
    elif preconditioning == "spectral":
        x = x / (jnp.linalg.norm(x, ord=2) + eps)
    coeffs = coeffs.astype(x.dtype)
    rows = [coeffs] * ns_steps if coeffs.ndim == 1 else list(coeffs)
    for step, row in enumerate(rows):
        if step == 0 and preconditioning == "aol":
            x = _aol_first_step(x, row, eps)
        elif step == 0 and preconditioning == "schatten":
            x = _schatten_first_step(x, row, eps)
        else:
            x = _ns_step(x, row)
    return x if wide else x.T


def _orthogonalize(
    x: jax.Array,
    dims: MuonDimensionNumbers | None,
    coeffs: jax.Array,
    ns_steps: int,
    preconditioning: str,
    eps: Any,
    *,
    path: str,
    where: str,
) -> jax.Array:
    permutation, flat_shape = _matrix_layout(x.shape, dims, path, where)
    inverse = tuple(sorted(range(x.ndim), key=lambda i: permutation[i]))
    permuted_shape = tuple(x.shape[a] for a in permutation)
    matrices = x.transpose(permutation).reshape(flat_shape)
    orth = jax.vmap(lambda m: _orthogonalize_matrix(m, coeffs, ns_steps, preconditioning, eps))(
        matrices
    )
    return orth.reshape(permuted_shape).transpose(inverse)


def _coeff_array(ns_coeffs: Any, ns_steps: int, where: str) -> jax.Array:
    coeffs = jnp.asarray(ns_coeffs)
    if coeffs.ndim not in (1, 2) or coeffs.shape[-1] != 3:
        raise ValueError(f"{where}: ns_coeffs must have shape (3,) or (n, 3), got {coeffs.shape}.")
    if coeffs.ndim == 2 and coeffs.shape[0] > ns_steps:
        raise ValueError(
            f"{where}: ns_coeffs has {coeffs.shape[0]} rows but ns_steps is "
            f"{ns_steps}; with one row per step, ns_steps must be >= the rows."
        )
    return coeffs


def _leaf_paths(tree: Any) -> list[str]:
    return [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


# ----------------------------------------------------------------------------
# Public transforms.


def scale_by_muon(
    ns_coeffs: tuple[Any, Any, Any] | tuple[tuple[Any, Any, Any], ...] = _DEFAULT_NS_COEFFS,
    ns_steps: jax.typing.ArrayLike = 5,
    beta: jax.typing.ArrayLike = 0.95,
    eps: jax.typing.ArrayLike = 1e-8,
    mu_dtype: jax.typing.DTypeLike | None = None,
    *,
    nesterov: bool = True,
    adaptive: bool = False,
    preconditioning: Literal["frobenius", "spectral", "aol", "schatten"] = "frobenius",
    weight_dimension_numbers: WeightDimNumOrFn | None = None,
) -> GradientTransformationExtraArgs:
    """Rescales updates by Muon: the (Nesterov) momentum, orthogonalized by Newton-Schulz.

    .. math::

        m_t = \\beta m_{t-1} + (1-\\beta) g_t, \\qquad
        \\hat m_t = \\frac{\\beta m_t}{1-\\beta^{t+1}} + \\frac{(1-\\beta) g_t}{1-\\beta^t}
        \\ (\\text{nesterov}), \\ \\text{else } \\frac{m_t}{1-\\beta^t}, \\\\
        X_0 = \\frac{\\hat m_t}{\\|\\hat m_t\\|_F + \\epsilon}, \\qquad
        X_{k+1} = a X_k + (b A_k + c A_k^2) X_k, \\quad A_k = X_k X_k^\\top, \\qquad
        u_t = X_K .

    :math:`X_K` approximates :math:`U V^\\top` for :math:`\\hat m_t = U\\Sigma V^\\top`
    (the default coefficients trade exactness for speed: singular values land
    roughly in [0.7, 1.2]). Tall matrices are iterated transposed. With
    ``adaptive=True``, :math:`u_t = \\langle \\hat m_t, X_K\\rangle X_K`.

    **Leaves that are not matrices.** Every leaf is orthogonalized. A leaf
    without dimension numbers (``weight_dimension_numbers=None``, or a ``None``
    entry) must be 2-d, with axis 0 as the reduction axis and axis 1 as the
    output axis; a leaf of rank > 2 needs a :class:`MuonDimensionNumbers`
    saying which axes form the matrix (the remaining axes are batch axes);
    a leaf of rank 0 or 1, or of rank > 2 without dimension numbers, raises
    ``ValueError`` naming its key path. Use :func:`muon`, which sends such
    leaves to AdamW.

    Args:
      ns_coeffs: :math:`(a, b, c)`, or one row of coefficients per step.
      ns_steps: :math:`K`, the number of Newton-Schulz steps (an int >= 1);
        with per-step rows, the rows are used and ``ns_steps`` must be >= their
        number.
      beta: :math:`\\beta`, momentum decay, in [0, 1).
      eps: :math:`\\epsilon`, added to the normalizing norm (>= 0).
      mu_dtype: storage dtype of the momentum; ``None`` keeps the params'.
      nesterov: use the Nesterov look-ahead :math:`\\hat m_t` above.
      adaptive: scale the result by its inner product with :math:`\\hat m_t`
        (the dual norm; Bernstein & Newhouse 2024).
      preconditioning: how :math:`X_0` is normalized: ``"frobenius"`` (above),
        ``"spectral"`` (divide by the largest singular value, via an SVD),
        ``"aol"`` (rescale rows by the Gram matrix's absolute row sums in the
        first step) or ``"schatten"`` (divide by the Schatten-4 norm in the
        first step).
      weight_dimension_numbers: ``None`` (every leaf is a 2-d matrix), one
        :class:`MuonDimensionNumbers` for every leaf, a tree prefix of the
        params with such (or ``None``) leaves, or a function of the updates
        returning one of these.

    Returns:
      A gradient transformation with a :class:`MuonState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_muon()
      >>> w = jnp.array([[3.0, 0.0], [0.0, 1.0]])
      >>> u, _ = tx.update({"w": w}, tx.init({"w": w}))
      >>> print([f"{v:.2f}" for v in jnp.diag(u["w"])])
      ['0.75', '1.13']

    References:
      Jordan et al., *Muon: An optimizer for hidden layers in neural networks*,
      2024, https://kellerjordan.github.io/posts/muon/ . Bernstein & Newhouse,
      *Old Optimizer, New Norm: An Anthology*, 2024,
      https://arxiv.org/abs/2409.20325
    """
    where = "scale_by_muon"
    _checks.check_positive_int("ns_steps", ns_steps, where=where)
    _checks.check_decay("beta", beta, where=where)
    _checks.check_non_negative("eps", eps, where=where)
    _checks.check_choice("preconditioning", preconditioning, _PRECONDITIONINGS, where=where)
    _coeff_array(ns_coeffs, ns_steps, where)
    mu_dtype = canonical_dtype(mu_dtype)

    def init_fn(params):
        return MuonState(
            count=jnp.zeros([], jnp.int32),
            mu=_tree.zeros_like(params, dtype=mu_dtype),
            ns_coeffs=_coeff_array(ns_coeffs, ns_steps, where),
        )

    def update_fn(updates, state, params=None, **extra_args):
        dims = _dims_per_leaf(
            weight_dimension_numbers, updates, where=where, argument="weight_dimension_numbers"
        )
        mu = _tree.update_moment(updates, state.mu, beta, order=1)
        count = _tree.safe_increment(state.count)
        if nesterov:
            mu_hat = nesterov_mu_hat(mu, updates, beta, count)
        else:
            mu_hat = _tree.bias_correction(mu, beta, count)
        leaves, treedef = jax.tree.flatten(mu_hat)
        paths = _leaf_paths(mu_hat)
        orth = []
        for leaf, dim, path in zip(leaves, dims, paths, strict=True):
            o = _orthogonalize(
                leaf,
                dim,
                state.ns_coeffs,
                ns_steps,
                preconditioning,
                eps,
                path=path,
                where=where,
            )
            if adaptive:
                o = jnp.sum(leaf.conj() * o) * o
            orth.append(o)
        new_state = MuonState(count=count, mu=_tree.cast(mu, mu_dtype), ns_coeffs=state.ns_coeffs)
        return jax.tree.unflatten(treedef, orth), new_state

    return transformation(init_fn, update_fn, name=where)


def _scale_by_shape(dims_fn: Callable[[Any], Any], consistent_rms: Any):
    """Multiplies each orthogonalized leaf by a factor of its fan-in and fan-out."""

    def update_fn(updates, state, params=None, **extra_args):
        dims = _dims_per_leaf(
            dims_fn, updates, where="muon", argument="muon_weight_dimension_numbers"
        )
        leaves, treedef = jax.tree.flatten(updates)
        scaled = []
        for leaf, dim in zip(leaves, dims, strict=True):
            fan_in, fan_out = _fans(leaf.shape, MuonDimensionNumbers() if dim is None else dim)
            if consistent_rms is None:
                factor = jnp.sqrt(jnp.maximum(1, fan_out / fan_in))
            else:
                factor = jnp.sqrt(jnp.maximum(fan_in, fan_out)) * consistent_rms
            scaled.append(factor * leaf)
        return jax.tree.unflatten(treedef, scaled), state

    return transformation(lambda params: EmptyState(), update_fn, name="muon")


def muon(
    learning_rate: ScalarOrSchedule,
    ns_coeffs: tuple[Any, Any, Any] | tuple[tuple[Any, Any, Any], ...] | str = _DEFAULT_NS_COEFFS,
    ns_steps: jax.typing.ArrayLike = 5,
    beta: jax.typing.ArrayLike = 0.95,
    eps: jax.typing.ArrayLike = 1e-8,
    weight_decay: jax.typing.ArrayLike = 0.0,
    weight_decay_mask: Any | Callable[[Any], Any] | None = None,
    mu_dtype: jax.typing.DTypeLike | None = None,
    *,
    nesterov: bool = True,
    adaptive: bool = False,
    preconditioning: Literal["frobenius", "spectral", "aol", "schatten"] = "frobenius",
    adam_b1: jax.typing.ArrayLike = 0.9,
    adam_b2: jax.typing.ArrayLike = 0.999,
    adam_eps_root: jax.typing.ArrayLike = 0.0,
    adam_weight_decay: jax.typing.ArrayLike = 0.0,
    adam_learning_rate: ScalarOrSchedule | None = None,
    muon_weight_dimension_numbers: WeightDimNumOrFn | None = None,
    consistent_rms: jax.typing.ArrayLike | None = None,
) -> GradientTransformationExtraArgs:
    """The Muon optimizer: orthogonalized momentum for matrices, AdamW for the rest.

    For a matrix parameter :math:`W \\in \\mathbb{R}^{n_{in} \\times n_{out}}`:

    .. math::

        O_t = \\mathrm{NS}_K(\\hat m_t) \\approx U V^\\top, \\qquad
        W_{t+1} = W_t - \\eta_t \\left( s\\, O_t + \\lambda W_t \\right), \\qquad
        s = \\sqrt{\\max(1, n_{out}/n_{in})},

    with :math:`\\hat m_t` the Nesterov momentum and :math:`\\mathrm{NS}_K` the
    Newton-Schulz iteration of :func:`scale_by_muon`. With ``consistent_rms=r``,
    :math:`s = r\\sqrt{\\max(n_{in}, n_{out})}` instead (Liu et al. 2025).

    **Leaves that are not matrices.** Without ``muon_weight_dimension_numbers``,
    exactly the 2-d leaves use Muon (axis 0 as input, axis 1 as output). Every
    other leaf (0-d scalars, 1-d biases and gains, and leaves of rank > 2 such
    as convolution kernels) is trained by :func:`~optjax.adamw` with
    ``adam_learning_rate`` (default: ``learning_rate``), ``adam_b1``,
    ``adam_b2``, ``eps``, ``adam_eps_root``, ``adam_weight_decay`` and
    ``mu_dtype``, and with Nesterov momentum when ``nesterov=True`` (that is,
    NAdamW by default). A tree with no 2-d leaf is trained entirely by that
    AdamW, without error. To orthogonalize a leaf of rank > 2, give it a
    :class:`MuonDimensionNumbers` in ``muon_weight_dimension_numbers`` (a tree
    prefix of the params, or a function of them); there, a ``None`` entry
    sends its leaves to AdamW, and every leaf under a
    :class:`MuonDimensionNumbers` must have rank >= 2.

    .. warning::
      As in Optax, ``weight_decay`` (multiplied by the learning rate) applies to
      the Muon leaves only, and ``adam_weight_decay`` to the AdamW leaves, with
      no mask. The Newton-Schulz output is not exactly orthogonal (singular
      values roughly in [0.7, 1.2] with the default coefficients). The momentum
      is bias-corrected (Adam-style, as in Optax), whereas Jordan's reference
      code uses an uncorrected EMA; since the orthogonalization discards the
      overall scale, the two differ only during the first few tens of steps.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      ns_coeffs: Newton-Schulz coefficients :math:`(a, b, c)`, one row per step,
        or a preset name: ``"standard"`` (the default coefficients) or
        ``"dion"`` (five per-step rows from Ahn et al. 2025).
      ns_steps: number of Newton-Schulz steps (an int >= 1).
      beta: momentum decay, in [0, 1).
      eps: added to the Newton-Schulz normalization and to AdamW's denominator.
      weight_decay: :math:`\\lambda \\ge 0`, decoupled weight decay of the
        Muon leaves.
      weight_decay_mask: a boolean tree (or a function returning one) that
        selects the Muon leaves to decay.
      mu_dtype: storage dtype of the momenta (Muon's and AdamW's first moment).
      nesterov: Nesterov momentum, for Muon and for the AdamW leaves.
      adaptive: scale each orthogonalized update by its inner product with
        the momentum (see :func:`scale_by_muon`).
      preconditioning: ``"frobenius"``, ``"spectral"``, ``"aol"`` or
        ``"schatten"`` (see :func:`scale_by_muon`).
      adam_b1: AdamW's first-moment decay, in [0, 1).
      adam_b2: AdamW's second-moment decay, in [0, 1).
      adam_eps_root: AdamW's :math:`\\bar\\epsilon` (inside the square root).
      adam_weight_decay: AdamW's decoupled weight decay (>= 0).
      adam_learning_rate: AdamW's learning rate; ``None`` uses ``learning_rate``.
      muon_weight_dimension_numbers: ``None`` (the 2-d rule above), or a tree
        prefix of the params with :class:`MuonDimensionNumbers` or ``None``
        leaves, or a function of the params returning one.
      consistent_rms: ``None`` for the width scaling :math:`s` above, or
        :math:`r > 0` for :math:`s = r\\sqrt{\\max(n_{in}, n_{out})}`.

    Returns:
      A gradient transformation with a :class:`~optjax.PartitionState` whose
      ``inner_states`` are keyed ``"muon"`` and ``"adam"``.

    Raises:
      ValueError: for a bad hyperparameter (naming it), an unknown preset or
        preconditioning, or (at ``init``/``update``) a leaf of rank < 2 under a
        :class:`MuonDimensionNumbers`.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> params = {"w": jnp.array([[3.0, 0.0], [0.0, 1.0]]), "b": jnp.array([0.5, -2.0])}
      >>> solver = optjax.muon(learning_rate=0.1)
      >>> grads = params  # the gradient of 0.5 * |params|^2
      >>> updates, state = solver.update(grads, solver.init(params), params)
      >>> print([f"{v:.3f}" for v in jnp.diag(updates["w"])])  # Muon: ~orthogonal
      ['-0.075', '-0.113']
      >>> print([f"{v:.3f}" for v in updates["b"]])  # the bias: NAdamW
      ['-0.147', '0.147']
      >>> sorted(state.inner_states)
      ['adam', 'muon']

    References:
      Jordan et al., *Muon: An optimizer for hidden layers in neural networks*,
      2024, https://kellerjordan.github.io/posts/muon/ . Liu et al., *Muon is
      Scalable for LLM Training*, 2025, https://arxiv.org/abs/2502.16982
    """
    where = "muon"
    if isinstance(ns_coeffs, str):
        _checks.check_choice("ns_coeffs", ns_coeffs, tuple(_NS_PRESETS), where=where)
        ns_coeffs = _NS_PRESETS[ns_coeffs]
    _checks.check_positive_int("ns_steps", ns_steps, where=where)
    _checks.check_decay("beta", beta, where=where)
    _checks.check_decay("adam_b1", adam_b1, where=where)
    _checks.check_decay("adam_b2", adam_b2, where=where)
    for name, value in (
        ("eps", eps),
        ("weight_decay", weight_decay),
        ("adam_eps_root", adam_eps_root),
        ("adam_weight_decay", adam_weight_decay),
    ):
        _checks.check_non_negative(name, value, where=where)
    if consistent_rms is not None:
        _checks.check_positive("consistent_rms", consistent_rms, where=where)
    if adam_learning_rate is None:
        adam_learning_rate = learning_rate
    user_spec = muon_weight_dimension_numbers
    decay_mask = weight_decay_mask
    if callable(weight_decay_mask):
        # The mask function sees the "muon" group's tree, where AdamW leaves
        # are MaskedNode placeholders; a mask mapped over it keeps them, and
        # they stand for "no decay" (there is nothing there to decay).
        def decay_mask(tree):
            mask = weight_decay_mask(tree)
            is_node = lambda x: isinstance(x, MaskedNode)  # noqa: E731
            return jax.tree.map(lambda m: False if is_node(m) else m, mask, is_leaf=is_node)

    def leaf_dims(tree):
        """Per-leaf dimension numbers of ``tree``; ``None`` marks an AdamW leaf."""
        if user_spec is None:
            return [
                MuonDimensionNumbers() if jnp.ndim(x) == 2 else None for x in jax.tree.leaves(tree)
            ]
        return _dims_per_leaf(
            user_spec, tree, where=where, argument="muon_weight_dimension_numbers"
        )

    def labels(params):
        treedef = jax.tree.structure(params)
        return jax.tree.unflatten(
            treedef, ["adam" if d is None else "muon" for d in leaf_dims(params)]
        )

    def muon_dims(masked_updates):
        # Inside the "muon" group every other leaf is a MaskedNode (no leaves),
        # so each remaining leaf gets its (non-None) dimension numbers.
        treedef = jax.tree.structure(masked_updates)
        return jax.tree.unflatten(treedef, leaf_dims(masked_updates))

    return partition(
        transforms={
            "muon": chain(
                scale_by_muon(
                    ns_coeffs=ns_coeffs,
                    ns_steps=ns_steps,
                    beta=beta,
                    eps=eps,
                    mu_dtype=mu_dtype,
                    nesterov=nesterov,
                    adaptive=adaptive,
                    preconditioning=preconditioning,
                    weight_dimension_numbers=muon_dims,
                ),
                _scale_by_shape(muon_dims, consistent_rms),
                add_decayed_weights(weight_decay, decay_mask),
                scale_by_learning_rate(learning_rate),
            ),
            "adam": adamw(
                learning_rate=adam_learning_rate,
                b1=adam_b1,
                b2=adam_b2,
                eps=eps,
                eps_root=adam_eps_root,
                weight_decay=adam_weight_decay,
                mu_dtype=mu_dtype,
                nesterov=nesterov,
            ),
        },
        param_labels=labels,
    )
