"""Sign-based scalings: signSGD, Lion and Rprop."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import EmptyState, GradientTransformationExtraArgs, transformation
from optjax.tree import _math as _tree


def _canonical_dtype(dtype: Any) -> Any:
    return None if dtype is None else jax.dtypes.canonicalize_dtype(dtype)


def scale_by_sign() -> GradientTransformationExtraArgs:
    """Replaces every update by its sign.

    .. math::

        u = \\mathrm{sign}(g)

    Complex entries map to :math:`g / |g|` (and 0 to 0), as in ``jnp.sign``.

    Returns:
      A stateless gradient transformation.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_sign()
      >>> tx.update({"w": jnp.array([-3.0, 0.0, 0.5])}, tx.init(None))[0]["w"]
      Array([-1.,  0.,  1.], dtype=float32)

    References:
      Bernstein et al., *signSGD: Compressed Optimisation for Non-Convex
      Problems*, ICML 2018, https://arxiv.org/abs/1802.04434
    """

    def init_fn(params):
        del params
        return EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        return jax.tree.map(jnp.sign, updates), state

    return transformation(init_fn, update_fn, name="scale_by_sign")


class ScaleByLionState(NamedTuple):
    """State of :func:`scale_by_lion`: the step count and the momentum."""

    count: jax.Array
    mu: Any


_LION_MODES = ("hard", "smooth", "refined")


def scale_by_lion(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.99,
    mu_dtype: Any | None = None,
    *,
    mode: Literal["hard", "smooth", "refined"] = "hard",
    smooth_beta: float = 1.0,
) -> GradientTransformationExtraArgs:
    """Lion's update: the sign of an interpolation between momentum and gradient.

    .. math::

        c_t = (1-\\beta_1)\\, g_t + \\beta_1\\, m_{t-1}, \\qquad
        u_t = \\sigma(c_t), \\qquad
        m_t = (1-\\beta_2)\\, g_t + \\beta_2\\, m_{t-1}

    where :math:`\\sigma` is ``sign`` (``mode="hard"``, the paper's rule),
    :math:`\\tanh(\\kappa\\, c)` with :math:`\\kappa` = ``smooth_beta``
    (``"smooth"``), or the identity clipped to the sign outside
    :math:`(-1, 1)` (``"refined"``). The update uses the *old* momentum, which
    is refreshed with a different rate :math:`\\beta_2` afterwards.

    Args:
      b1: :math:`\\beta_1`, the interpolation weight of the momentum, in [0, 1].
      b2: :math:`\\beta_2`, the decay of the momentum, in [0, 1).
      mu_dtype: dtype of the momentum; ``None`` uses the parameters' dtype.
      mode: ``"hard"``, ``"smooth"`` or ``"refined"``, see above.
      smooth_beta: :math:`\\kappa` for ``mode="smooth"``, > 0.

    Returns:
      A gradient transformation with a :class:`ScaleByLionState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_lion(mode="refined")
      >>> u, _ = tx.update({"w": jnp.array([-30.0, 5.0])}, tx.init({"w": jnp.zeros(2)}))
      >>> u["w"]
      Array([-1. ,  0.5], dtype=float32)

    References:
      Chen et al., *Symbolic Discovery of Optimization Algorithms*, NeurIPS
      2023, https://arxiv.org/abs/2302.06675
    """
    where = "scale_by_lion"
    _checks.check_in_interval("b1", b1, 0.0, 1.0, closed_high=True, where=where)
    _checks.check_decay("b2", b2, where=where)
    _checks.check_choice("mode", mode, _LION_MODES, where=where)
    _checks.check_positive("smooth_beta", smooth_beta, where=where)
    mu_dtype = _canonical_dtype(mu_dtype)

    if mode == "hard":
        squash = jnp.sign
    elif mode == "smooth":

        def squash(c):
            return jnp.tanh(smooth_beta * c)

    else:

        def squash(c):
            return jnp.where(jnp.abs(c) < 1.0, c, jnp.sign(c))

    def init_fn(params):
        return ScaleByLionState(
            count=jnp.zeros([], jnp.int32), mu=_tree.zeros_like(params, dtype=mu_dtype)
        )

    def update_fn(updates, state, params=None, **extra_args):
        new_updates = _tree.map(
            lambda g, m: squash((1.0 - b1) * g + b1 * m), updates, state.mu, where=where
        )
        mu = _tree.cast(_tree.update_moment(updates, state.mu, b2, 1), mu_dtype)
        return new_updates, ScaleByLionState(count=_tree.safe_increment(state.count), mu=mu)

    return transformation(init_fn, update_fn, name=where)


class ScaleByRpropState(NamedTuple):
    """State of :func:`scale_by_rprop`: per-element step sizes and the last computed step."""

    step_sizes: Any
    prev_updates: Any


def scale_by_rprop(
    learning_rate: jax.typing.ArrayLike,
    eta_minus: jax.typing.ArrayLike = 0.5,
    eta_plus: jax.typing.ArrayLike = 1.2,
    min_step_size: jax.typing.ArrayLike = 1e-6,
    max_step_size: jax.typing.ArrayLike = 50.0,
) -> GradientTransformationExtraArgs:
    """Rprop: per-element step sizes that grow while the gradient keeps its sign.

    With :math:`s_t = g_t\\, p_{t-1}` (the product of the gradient with the
    previous step :math:`p`):

    .. math::

        \\Delta_t = \\begin{cases}
        \\mathrm{clip}(\\eta^+ \\Delta_{t-1}, \\Delta_{\\min}, \\Delta_{\\max}) & s_t > 0 \\\\
        \\mathrm{clip}(\\eta^- \\Delta_{t-1}, \\Delta_{\\min}, \\Delta_{\\max}) & s_t < 0 \\\\
        \\Delta_{t-1} & s_t = 0 \\end{cases}, \\qquad
        p_t = \\begin{cases} 0 & s_t < 0 \\\\ \\Delta_t\\, \\mathrm{sign}(g_t) & \\text{else}
        \\end{cases}

    with :math:`\\Delta_0` = ``learning_rate`` and :math:`p_0 = 0`. The
    returned update is :math:`u_t = p_t`: zero where the gradient changed sign
    (that step is skipped, as in iRprop-), the adapted step size times the
    gradient's sign elsewhere. Chain with ``scale(-1)`` to descend, as
    :func:`optjax.rprop` does.

    .. warning::
      Optax 0.2.8 emits the step :math:`p_{t-1}` computed at the *previous*
      call, so its first update is all zeros and every later one lags one step
      behind the algorithm (upstream PR google-deepmind/optax#1725). optjax
      emits :math:`p_t`, which is what the paper and ``torch.optim.Rprop`` do;
      the state (``step_sizes``, ``prev_updates``) is laid out as in Optax.

    Args:
      learning_rate: :math:`\\Delta_0`, the initial step size, > 0.
      eta_minus: :math:`\\eta^-` in (0, 1), the shrink factor after a sign flip.
      eta_plus: :math:`\\eta^+ > 1`, the growth factor while the sign holds.
      min_step_size: :math:`\\Delta_{\\min} \\ge 0`.
      max_step_size: :math:`\\Delta_{\\max} \\ge \\Delta_{\\min}`.

    Returns:
      A gradient transformation with a :class:`ScaleByRpropState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_rprop(learning_rate=0.1)
      >>> state = tx.init({"w": jnp.zeros(1)})
      >>> for g in (1.0, 1.0, 1.0):
      ...     u, state = tx.update({"w": jnp.array([g])}, state)
      ...     print(f"{u['w'][0]:.3f}")
      0.100
      0.120
      0.144

    References:
      Riedmiller & Braun, *A Direct Adaptive Method for Faster Backpropagation
      Learning: The RPROP Algorithm*, ICNN 1993,
      https://doi.org/10.1109/ICNN.1993.298623
    """
    where = "scale_by_rprop"
    if callable(learning_rate):
        raise TypeError(
            f"{where}: learning_rate is the initial step size (a number); Rprop adapts its "
            f"step sizes itself, so schedules are not supported."
        )
    _checks.check_positive("learning_rate", learning_rate, where=where)
    _checks.check_in_interval(
        "eta_minus", eta_minus, 0.0, 1.0, closed_low=False, closed_high=False, where=where
    )
    _checks.check_in_interval(
        "eta_plus", eta_plus, 1.0, float("inf"), closed_low=False, where=where
    )
    _checks.check_non_negative("min_step_size", min_step_size, where=where)
    _checks.check_in_interval(
        "max_step_size",
        max_step_size,
        _concrete_or(min_step_size, 0.0),
        float("inf"),
        closed_high=True,
        where=where,
    )

    def init_fn(params):
        return ScaleByRpropState(
            step_sizes=_tree.full_like(params, learning_rate),
            prev_updates=_tree.zeros_like(params),
        )

    def new_step_size(s, step_size):
        factor = jnp.where(s > 0, eta_plus, eta_minus)
        clipped = jnp.clip(step_size * factor, min=min_step_size, max=max_step_size)
        return jnp.where(s == 0, step_size, clipped)

    def update_fn(updates, state, params=None, **extra_args):
        agreement = _tree.map(lambda g, p: g * p, updates, state.prev_updates, where=where)
        step_sizes = jax.tree.map(new_step_size, agreement, state.step_sizes)
        steps = jax.tree.map(
            lambda s, g, d: jnp.where(s < 0, jnp.zeros_like(g), d * jnp.sign(g)),
            agreement,
            updates,
            step_sizes,
        )
        # The current step is the update (Optax returns the previous one; see the warning).
        return steps, ScaleByRpropState(step_sizes=step_sizes, prev_updates=steps)

    return transformation(init_fn, update_fn, name=where)


def _concrete_or(value: Any, default: float) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return default
