"""MARS: variance-reduced (STORM-style) gradients fed to AdamW or Lion.

MARS (Yuan et al., 2024) corrects each stochastic gradient with a scaled
difference of consecutive gradients, clips the corrected gradient to unit norm,
and then runs an ordinary preconditioned step (AdamW or Lion) on it. Only the
*approximate* variant is implemented: the previous gradient is the one seen on
the previous step (at the previous parameters, on the previous batch), so no
extra gradient evaluation is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, MaskOrFn, ScalarOrSchedule, transformation
from optjax.transforms._adam_family import canonical_dtype
from optjax.transforms._basic import scale_by_learning_rate
from optjax.transforms._combinators._chain import chain
from optjax.transforms._regularization import add_decayed_weights
from optjax.tree import _math as _tree

_VARIANTS = ("adamw", "lion")


class ScaleByMarsState(NamedTuple):
    """State of :func:`scale_by_mars`.

    Attributes:
      count: number of updates so far (int32).
      mu: first moment (of the corrected gradient on MARS leaves, of the raw
        gradient on Adam-fallback leaves).
      nu: second moment (unused, and kept at zero, on MARS leaves of the Lion
        variant).
      prev_grad: the gradient of the previous step (zeros before the first).
    """

    count: jax.Array
    mu: Any
    nu: Any
    prev_grad: Any


def _uses_mars(leaf: jax.Array, optimize_1d: bool) -> bool:
    return optimize_1d or jnp.ndim(leaf) >= 2


def _clip_to_unit_norm(c: jax.Array) -> jax.Array:
    """``c / max(||c||_2, 1)``, the norm accumulated in at least float32."""
    wide = jnp.promote_types(c.dtype, jnp.float32)
    norm = _tree.safe_norm(c.astype(wide), 1.0)
    return c / norm.astype(c.dtype)


def _check_mars(where: str, **values: Any) -> None:
    for name, value in values.items():
        if name.startswith("b"):
            _checks.check_decay(name, value, where=where)
        elif not callable(value):
            _checks.check_non_negative(name, value, where=where)


def scale_by_mars(
    b1: jax.typing.ArrayLike = 0.95,
    b2: jax.typing.ArrayLike = 0.99,
    gamma: ScalarOrSchedule = 0.025,
    eps: jax.typing.ArrayLike = 1e-8,
    mu_dtype: Any | None = None,
    *,
    variant: Literal["adamw", "lion"] = "adamw",
    optimize_1d: bool = False,
    b1_1d: jax.typing.ArrayLike = 0.9,
    b2_1d: jax.typing.ArrayLike = 0.95,
) -> GradientTransformationExtraArgs:
    """Rescales updates by MARS: a variance-reduced gradient, clipped, then Adam or Lion.

    On every leaf with two or more dimensions (and on all leaves with
    ``optimize_1d=True``):

    .. math::

        c_t = g_t + \\gamma_t \\frac{\\beta_1}{1-\\beta_1}(g_t - g_{t-1}), \\qquad
        \\tilde c_t = \\frac{c_t}{\\max(\\|c_t\\|_2, 1)}, \\qquad
        m_t = \\beta_1 m_{t-1} + (1-\\beta_1) \\tilde c_t,

    and then either (``variant="adamw"``)

    .. math::

        v_t = \\beta_2 v_{t-1} + (1-\\beta_2) \\tilde c_t^2, \\qquad
        u_t = \\frac{m_t / (1-\\beta_1^t)}{\\sqrt{v_t / (1-\\beta_2^t)} + \\epsilon},

    or (``variant="lion"``) :math:`u_t = \\mathrm{sign}(m_t)`. :math:`g_0 = 0`,
    so the first corrected gradient is :math:`(1 + \\gamma\\beta_1/(1-\\beta_1))
    g_1`, as in the official code.

    This is the paper's *approximate* MARS: :math:`g_{t-1}` is the previous
    step's gradient (previous parameters, previous batch), stored in the
    state, instead of a second gradient evaluation at the previous parameters
    on the current batch.

    .. warning::
      Leaves that are not matrices: leaves with fewer than two dimensions
      (biases, scalars) skip the correction and follow plain Adam on the raw
      gradient, with decays ``b1_1d``/``b2_1d`` (0.9/0.95, the official code's
      ``betas_1d``) and the same ``eps``, for both variants; ``optimize_1d=True``
      applies MARS to them too. Leaves with more than two dimensions (conv
      kernels) get MARS, whereas the official code sends every non-2-d tensor
      to the AdamW branch. The clipping norm is per leaf (per tensor, as in the
      official code), not over the whole tree as in the paper's algorithm box.

    Args:
      b1: :math:`\\beta_1`, momentum decay, also sets the correction's weight.
      b2: :math:`\\beta_2`, decay of the second moment (``"adamw"`` only).
      gamma: :math:`\\gamma_t \\ge 0`, the strength of the gradient correction,
        a number or a schedule of the step count; 0 gives clipped Adam/Lion.
      eps: :math:`\\epsilon`, added to the denominator after bias correction.
      mu_dtype: storage dtype of the first moment; ``None`` keeps the params'.
      variant: ``"adamw"`` (MARS-AdamW) or ``"lion"`` (MARS-Lion).
      optimize_1d: apply MARS to leaves with fewer than two dimensions as well.
      b1_1d: first-moment decay of the Adam fallback for non-matrix leaves.
      b2_1d: second-moment decay of the Adam fallback for non-matrix leaves.

    Returns:
      A gradient transformation with a :class:`ScaleByMarsState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_mars()
      >>> params = {"w": jnp.zeros((1, 2))}
      >>> u, state = tx.update({"w": jnp.array([[3.0, -4.0]])}, tx.init(params))
      >>> print([f"{v:.4f}" for v in u["w"][0]])
      ['1.0000', '-1.0000']

    References:
      Yuan, Liu, Wu, Zhou & Gu, *MARS: Unleashing the Power of Variance
      Reduction for Training Large Models*, 2024,
      https://arxiv.org/abs/2411.10438
    """
    where = "scale_by_mars"
    _check_mars(where, b1=b1, b2=b2, b1_1d=b1_1d, b2_1d=b2_1d, gamma=gamma, eps=eps)
    _checks.check_choice("variant", variant, _VARIANTS, where=where)
    mu_dtype = canonical_dtype(mu_dtype)

    def init_fn(params):
        return ScaleByMarsState(
            count=jnp.zeros([], jnp.int32),
            mu=_tree.zeros_like(params, dtype=mu_dtype),
            nu=_tree.zeros_like(params),
            prev_grad=_tree.zeros_like(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        count = _tree.safe_increment(state.count)
        gamma_t = gamma(state.count) if callable(gamma) else gamma

        # Bias-correction factors, once per decay rate, in the count's float
        # precision (cast to each leaf's dtype where used).
        mars_corrections = (1 - b1**count, 1 - b2**count)
        adam_corrections = (1 - b1_1d**count, 1 - b2_1d**count)

        def leaf(g, m, v, prev):
            if _uses_mars(g, optimize_1d):
                c = g + (gamma_t * b1 / (1 - b1)) * (g - prev)
                c = _clip_to_unit_norm(c)
                (beta1, beta2), (c1, c2) = (b1, b2), mars_corrections
            else:
                (beta1, beta2), (c1, c2) = (b1_1d, b2_1d), adam_corrections
                c = g
            m = (1 - beta1) * c + beta1 * m
            if variant == "lion" and _uses_mars(g, optimize_1d):
                return jnp.sign(m), m, v
            v = (1 - beta2) * _tree.abs_sq(c) + beta2 * v
            m_hat = m / c1.astype(m.dtype)
            v_hat = v / c2.astype(v.dtype)
            return m_hat / (jnp.sqrt(v_hat) + eps), m, v

        results = _tree.map(
            leaf,
            updates,
            state.mu,
            state.nu,
            state.prev_grad,
            names=("updates", "mu", "nu", "prev_grad"),
            where="scale_by_mars",
        )
        treedef = jax.tree.structure(updates)
        triples = treedef.flatten_up_to(results)
        new_updates, mu, nu = (
            jax.tree.unflatten(treedef, [t[i] for t in triples]) for i in range(3)
        )
        new_state = ScaleByMarsState(
            count=count,
            mu=_tree.cast_like(mu, state.mu),
            nu=_tree.cast_like(nu, state.nu),
            prev_grad=_tree.cast_like(updates, state.prev_grad),
        )
        return new_updates, new_state

    return transformation(init_fn, update_fn, name="scale_by_mars")


def _mars(
    variant: str,
    learning_rate: ScalarOrSchedule,
    b1: Any,
    b2: Any,
    gamma: ScalarOrSchedule,
    eps: Any,
    weight_decay: ScalarOrSchedule,
    mask: MaskOrFn | Callable[[Any], Any] | None,
    mu_dtype: Any,
    optimize_1d: bool,
    b1_1d: Any,
    b2_1d: Any,
) -> GradientTransformationExtraArgs:
    return chain(
        scale_by_mars(
            b1=b1,
            b2=b2,
            gamma=gamma,
            eps=eps,
            mu_dtype=mu_dtype,
            variant=variant,
            optimize_1d=optimize_1d,
            b1_1d=b1_1d,
            b2_1d=b2_1d,
        ),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


def mars_adamw(
    learning_rate: ScalarOrSchedule = 3e-3,
    b1: jax.typing.ArrayLike = 0.95,
    b2: jax.typing.ArrayLike = 0.99,
    gamma: ScalarOrSchedule = 0.025,
    eps: jax.typing.ArrayLike = 1e-8,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: MaskOrFn | None = None,
    mu_dtype: Any | None = None,
    *,
    optimize_1d: bool = False,
    b1_1d: jax.typing.ArrayLike = 0.9,
    b2_1d: jax.typing.ArrayLike = 0.95,
) -> GradientTransformationExtraArgs:
    """MARS-AdamW: AdamW on variance-reduced, unit-norm-clipped gradients.

    .. math::

        c_t = g_t + \\gamma_t \\frac{\\beta_1}{1-\\beta_1}(g_t - g_{t-1}), \\qquad
        \\tilde c_t = \\frac{c_t}{\\max(\\|c_t\\|_2, 1)}, \\\\
        m_t = \\beta_1 m_{t-1} + (1-\\beta_1)\\tilde c_t, \\qquad
        v_t = \\beta_2 v_{t-1} + (1-\\beta_2)\\tilde c_t^2, \\\\
        u_t = -\\eta_t\\left(\\frac{m_t/(1-\\beta_1^t)}{\\sqrt{v_t/(1-\\beta_2^t)}
        + \\epsilon} + \\lambda\\theta_t\\right).

    ``chain(scale_by_mars(variant="adamw"), add_decayed_weights,
    scale_by_learning_rate)``; the approximate MARS of the paper (the previous
    step's gradient is reused, no second gradient evaluation). Defaults are the
    official code's (``lr=3e-3``, ``betas=(0.95, 0.99)``, ``gamma=0.025``,
    ``eps=1e-8``, ``weight_decay=0``).

    .. warning::
      Leaves with fewer than two dimensions (biases, scalars) follow plain
      AdamW on the raw gradient with ``b1_1d``/``b2_1d`` (0.9/0.95), as in the
      official code, but with the same learning rate and weight decay as the
      matrices (the official code has a separate ``lr_1d`` and
      ``weight_decay_1d=0.1``; use ``mask`` to exclude leaves from decay).
      ``optimize_1d=True`` applies MARS to every leaf. Leaves with more than
      two dimensions get MARS; the clipping norm is per leaf. See
      :func:`scale_by_mars`.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule.
      b1: :math:`\\beta_1`, momentum decay, in [0, 1).
      b2: :math:`\\beta_2`, second-moment decay, in [0, 1).
      gamma: :math:`\\gamma_t \\ge 0`, the correction strength, or a schedule.
      eps: :math:`\\epsilon`, added to the denominator after bias correction.
      weight_decay: :math:`\\lambda \\ge 0`, decoupled, a number or a schedule.
      mask: a boolean tree (or a function of the params) selecting the leaves
        to decay.
      mu_dtype: storage dtype of the first moment; ``None`` keeps the params'.
      optimize_1d: apply MARS to leaves with fewer than two dimensions too.
      b1_1d: first-moment decay of the Adam fallback for non-matrix leaves.
      b2_1d: second-moment decay of the Adam fallback for non-matrix leaves.

    Returns:
      A gradient transformation whose state is ``(ScaleByMarsState,
      EmptyState, EmptyState | ScaleByScheduleState)``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda p: jnp.sum((p["w"] - 1.0) ** 2)
      >>> solver = optjax.mars_adamw(learning_rate=0.1)
      >>> params = {"w": jnp.zeros((2, 2))}
      >>> state = solver.init(params)
      >>> for _ in range(3):
      ...     updates, state = solver.update(jax.grad(f)(params), state, params)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(f"{f(params):.4f}")
      1.9600

    References:
      Yuan, Liu, Wu, Zhou & Gu, *MARS: Unleashing the Power of Variance
      Reduction for Training Large Models*, 2024,
      https://arxiv.org/abs/2411.10438
    """
    return _mars(
        "adamw",
        learning_rate,
        b1,
        b2,
        gamma,
        eps,
        weight_decay,
        mask,
        mu_dtype,
        optimize_1d,
        b1_1d,
        b2_1d,
    )


def mars_lion(
    learning_rate: ScalarOrSchedule = 3e-3,
    b1: jax.typing.ArrayLike = 0.95,
    gamma: ScalarOrSchedule = 0.025,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: MaskOrFn | None = None,
    mu_dtype: Any | None = None,
    *,
    optimize_1d: bool = False,
    b1_1d: jax.typing.ArrayLike = 0.9,
    b2_1d: jax.typing.ArrayLike = 0.95,
    eps: jax.typing.ArrayLike = 1e-8,
) -> GradientTransformationExtraArgs:
    """MARS-Lion: the sign of a momentum of variance-reduced, clipped gradients.

    .. math::

        c_t = g_t + \\gamma_t \\frac{\\beta_1}{1-\\beta_1}(g_t - g_{t-1}), \\qquad
        \\tilde c_t = \\frac{c_t}{\\max(\\|c_t\\|_2, 1)}, \\\\
        m_t = \\beta_1 m_{t-1} + (1-\\beta_1)\\tilde c_t, \\qquad
        u_t = -\\eta_t\\left(\\mathrm{sign}(m_t) + \\lambda\\theta_t\\right).

    ``chain(scale_by_mars(variant="lion"), add_decayed_weights,
    scale_by_learning_rate)``, approximate MARS (the previous step's gradient is
    reused).

    .. warning::
      As in the paper and the official code, the sign is taken of the momentum
      :math:`m_t` itself: there is no Lion-style interpolation with a second
      decay :math:`\\beta_2` (MARS-Lion's momentum is already corrected). The
      default learning rate is the official code's 3e-3; sign updates usually
      want a smaller one. Leaves with fewer than two dimensions follow plain
      AdamW on the raw gradient (``b1_1d``, ``b2_1d``, ``eps``) with the same
      learning rate and decay, as in the official code (which has a separate
      ``lr_1d``); ``optimize_1d=True`` applies MARS-Lion to them too.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule.
      b1: :math:`\\beta_1`, momentum decay, in [0, 1).
      gamma: :math:`\\gamma_t \\ge 0`, the correction strength, or a schedule.
      weight_decay: :math:`\\lambda \\ge 0`, decoupled, a number or a schedule.
      mask: a boolean tree (or a function of the params) selecting the leaves
        to decay.
      mu_dtype: storage dtype of the first moment; ``None`` keeps the params'.
      optimize_1d: apply MARS-Lion to leaves with fewer than two dimensions too.
      b1_1d: first-moment decay of the Adam fallback for non-matrix leaves.
      b2_1d: second-moment decay of the Adam fallback for non-matrix leaves.
      eps: :math:`\\epsilon` of the Adam fallback.

    Returns:
      A gradient transformation whose state is ``(ScaleByMarsState,
      EmptyState, EmptyState | ScaleByScheduleState)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> solver = optjax.mars_lion(learning_rate=0.1)
      >>> params = {"w": jnp.zeros((1, 2))}
      >>> u, _ = solver.update({"w": jnp.array([[0.3, -7.0]])}, solver.init(params), params)
      >>> print([f"{v:.2f}" for v in u["w"][0]])
      ['-0.10', '0.10']

    References:
      Yuan, Liu, Wu, Zhou & Gu, *MARS: Unleashing the Power of Variance
      Reduction for Training Large Models*, 2024,
      https://arxiv.org/abs/2411.10438
    """
    return _mars(
        "lion",
        learning_rate,
        b1,
        0.99,
        gamma,
        eps,
        weight_decay,
        mask,
        mu_dtype,
        optimize_1d,
        b1_1d,
        b2_1d,
    )
