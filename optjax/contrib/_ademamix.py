"""AdEMAMix and its simplified form: Adam with a mixture of a fast and a slow momentum.

AdEMAMix adds a second, very slow exponential moving average of the gradients to
Adam's numerator, so that gradients from thousands of steps ago still count.
Simplified AdEMAMix folds both averages into one un-normalized accumulator plus
a multiple of the current gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, ScalarOrSchedule, transformation
from optjax.transforms._adam_family import canonical_dtype
from optjax.transforms._basic import scale_by_learning_rate
from optjax.transforms._combinators._chain import chain
from optjax.transforms._regularization import add_decayed_weights
from optjax.tree import _math as _tree


def _value_at(hyperparameter: Any, count: jax.Array) -> Any:
    return hyperparameter(count) if callable(hyperparameter) else hyperparameter


def _check(where: str, decays: dict[str, Any], non_negative: dict[str, Any]) -> None:
    for name, value in decays.items():
        if not callable(value):
            _checks.check_decay(name, value, where=where)
    for name, value in non_negative.items():
        if not callable(value):
            _checks.check_non_negative(name, value, where=where)


class ScaleByAdemamixState(NamedTuple):
    """State of :func:`scale_by_ademamix`.

    Attributes:
      count: number of steps taken (drives the bias corrections of ``m1``, ``nu``).
      count_m2: number of steps taken (the argument of the ``b3`` and ``alpha``
        schedules).
      m1: fast EMA of the gradients.
      m2: slow EMA of the gradients.
      nu: EMA of the squared gradients.
    """

    count: jax.Array
    count_m2: jax.Array
    m1: Any
    m2: Any
    nu: Any


def scale_by_ademamix(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    b3: ScalarOrSchedule = 0.9999,
    alpha: ScalarOrSchedule = 6.0,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    mu_dtype: jax.typing.DTypeLike | None = None,
) -> GradientTransformationExtraArgs:
    """Rescales updates by AdEMAMix: Adam whose numerator mixes a fast and a slow EMA.

    .. math::

        m^{(1)}_t = \\beta_1 m^{(1)}_{t-1} + (1-\\beta_1) g_t, \\qquad
        m^{(2)}_t = \\beta_3(t) m^{(2)}_{t-1} + (1-\\beta_3(t)) g_t, \\\\
        v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2, \\qquad
        u_t = \\frac{m^{(1)}_t/(1-\\beta_1^t) + \\alpha(t)\\, m^{(2)}_t}
        {\\sqrt{v_t/(1-\\beta_2^t) + \\bar\\epsilon} + \\epsilon}.

    The slow EMA :math:`m^{(2)}` is not bias-corrected, so it fills slowly.
    ``b3`` and ``alpha`` may be schedules of the number of earlier steps (the
    paper warms both up; see its Algorithm 1).

    Args:
      b1: :math:`\\beta_1`, decay of the fast EMA, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-gradient EMA, in [0, 1).
      b3: :math:`\\beta_3`, decay of the slow EMA, in [0, 1); a number or a schedule.
      alpha: :math:`\\alpha \\ge 0`, weight of the slow EMA; a number or a schedule.
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.
      mu_dtype: storage dtype of ``m1``, ``m2`` and ``nu``; ``None`` keeps the
        params'.

    Returns:
      A gradient transformation with a :class:`ScaleByAdemamixState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_ademamix(alpha=2.0, b3=0.5)
      >>> u, _ = tx.update({"w": jnp.array([4.0, -1.0])}, tx.init({"w": jnp.zeros(2)}))
      >>> print([f"{v:.2f}" for v in u["w"]])
      ['2.00', '-2.00']

    References:
      Pagliardini, Ablin & Grangier, *The AdEMAMix Optimizer: Better, Faster,
      Older*, ICLR 2025, https://arxiv.org/abs/2409.03137
    """
    _check(
        "scale_by_ademamix",
        {"b1": b1, "b2": b2, "b3": b3},
        {"alpha": alpha, "eps": eps, "eps_root": eps_root},
    )
    mu_dtype = canonical_dtype(mu_dtype)

    def init_fn(params):
        return ScaleByAdemamixState(
            count=jnp.zeros([], jnp.int32),
            count_m2=jnp.zeros([], jnp.int32),
            m1=_tree.zeros_like(params, dtype=mu_dtype),
            m2=_tree.zeros_like(params, dtype=mu_dtype),
            nu=_tree.zeros_like(params, dtype=mu_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        b3_t = _value_at(b3, state.count_m2)
        alpha_t = _value_at(alpha, state.count_m2)
        m1 = _tree.update_moment(updates, state.m1, b1, order=1)
        m2 = _tree.update_moment(updates, state.m2, b3_t, order=1)
        nu = _tree.update_moment_per_elem_norm(updates, state.nu, b2, order=2)
        count = _tree.safe_increment(state.count)
        m1_hat = _tree.bias_correction(m1, b1, count)
        nu_hat = _tree.bias_correction(nu, b2, count)
        updates = _tree.map(
            lambda fast, slow, v: (fast + alpha_t * slow) / (jnp.sqrt(v + eps_root) + eps),
            m1_hat,
            m2,
            nu_hat,
            where="scale_by_ademamix",
        )
        new_state = ScaleByAdemamixState(
            count=count,
            count_m2=_tree.safe_increment(state.count_m2),
            m1=_tree.cast_like(m1, state.m1),
            m2=_tree.cast_like(m2, state.m2),
            nu=_tree.cast_like(nu, state.nu),
        )
        return updates, new_state

    return transformation(init_fn, update_fn, name="scale_by_ademamix")


def ademamix(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    b3: ScalarOrSchedule = 0.9999,
    alpha: ScalarOrSchedule = 5.0,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    mu_dtype: Any | None = None,
    weight_decay: jax.typing.ArrayLike = 0.0,
    mask: Any | Callable[[Any], Any] | None = None,
) -> GradientTransformationExtraArgs:
    """The AdEMAMix optimizer: AdamW with an extra slow momentum in the numerator.

    .. math::

        \\theta_{t+1} = \\theta_t - \\eta_t \\left(
        \\frac{\\hat m^{(1)}_t + \\alpha\\, m^{(2)}_t}{\\sqrt{\\hat v_t + \\bar\\epsilon}
        + \\epsilon} + \\lambda\\, \\theta_t \\right),

    with the fast EMA :math:`\\hat m^{(1)}_t` and :math:`\\hat v_t`
    bias-corrected as in Adam, and the slow EMA :math:`m^{(2)}_t` (decay
    :math:`\\beta_3`) not; see :func:`scale_by_ademamix`.

    .. warning::
      The default ``alpha`` is 5 here and 6 in :func:`scale_by_ademamix`, as in
      Optax. The paper warms ``alpha`` and ``b3`` up over many steps; pass
      schedules for that. Without the warm-up, the slow EMA's large weight
      can make the first steps unstable. ``mu_dtype`` also sets the storage
      dtype of ``nu``; moments are cast back to it after every step (Optax
      lets them drift to the gradients' dtype).

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: :math:`\\beta_1`, decay of the fast EMA, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-gradient EMA, in [0, 1).
      b3: :math:`\\beta_3`, decay of the slow EMA, in [0, 1); a number or a schedule.
      alpha: :math:`\\alpha \\ge 0`, weight of the slow EMA; a number or a schedule.
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.
      mu_dtype: storage dtype of the moments; ``None`` keeps the params'.
      weight_decay: :math:`\\lambda \\ge 0`, decoupled weight decay (multiplied
        by the learning rate, as in ``torch.optim.AdamW``).
      mask: a boolean tree (or a function of the params returning one) that
        selects the leaves to decay.

    Returns:
      A gradient transformation whose state is ``(ScaleByAdemamixState,
      EmptyState | WeightDecayScheduleState, ScaleByScheduleState | EmptyState)``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum(x**2)
      >>> solver = optjax.ademamix(learning_rate=0.01)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = solver.init(params)
      >>> for _ in range(5):
      ...     updates, state = solver.update(jax.grad(f)(params), state, params)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(f"{f(params):.4f}")
      13.4069

    References:
      Pagliardini, Ablin & Grangier, *The AdEMAMix Optimizer: Better, Faster,
      Older*, ICLR 2025, https://arxiv.org/abs/2409.03137
    """
    return chain(
        scale_by_ademamix(
            b1=b1,
            b2=b2,
            b3=b3,
            alpha=alpha,
            eps=eps,
            eps_root=eps_root,
            mu_dtype=mu_dtype,
        ),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


class ScaleBySimplifiedAdEMAMixState(NamedTuple):
    """State of :func:`scale_by_simplified_ademamix`.

    Attributes:
      t: number of steps taken.
      m: un-normalized momentum :math:`\\sum_k \\beta_1^k g_{t-k}`.
      n: EMA of the squared gradients.
    """

    t: jax.Array
    m: Any
    n: Any


def scale_by_simplified_ademamix(
    b1: jax.typing.ArrayLike = 0.99,
    b2: jax.typing.ArrayLike = 0.95,
    alpha: ScalarOrSchedule = 0.0,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
) -> GradientTransformationExtraArgs:
    """Rescales updates by Simplified AdEMAMix: one accumulator plus alpha times the gradient.

    .. math::

        m_t = \\beta_1 m_{t-1} + g_t, \\qquad
        v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2, \\qquad
        u_t = \\frac{m_t + \\alpha(t)\\, g_t}{\\sqrt{v_t/(1-\\beta_2^t) + \\bar\\epsilon}
        + \\epsilon}.

    The momentum is a plain sum (no :math:`1-\\beta_1` factor, no bias
    correction), so its scale grows to :math:`1/(1-\\beta_1)`; pick the learning
    rate accordingly. ``alpha`` may be a schedule of the number of earlier steps.

    Args:
      b1: :math:`\\beta_1`, decay of the momentum accumulator, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-gradient EMA, in [0, 1).
      alpha: :math:`\\alpha \\ge 0`, weight of the current gradient; a number or
        a schedule.
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.

    Returns:
      A gradient transformation with a :class:`ScaleBySimplifiedAdEMAMixState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_simplified_ademamix(alpha=1.0)
      >>> u, _ = tx.update({"w": jnp.array([4.0, -1.0])}, tx.init({"w": jnp.zeros(2)}))
      >>> print([f"{v:.2f}" for v in u["w"]])
      ['2.00', '-2.00']

    References:
      Morwani et al., *Connections between Schedule-Free Optimizers, AdEMAMix,
      and Accelerated SGD Variants*, 2025, https://arxiv.org/abs/2502.02431
    """
    _check(
        "scale_by_simplified_ademamix",
        {"b1": b1, "b2": b2},
        {"alpha": alpha, "eps": eps, "eps_root": eps_root},
    )

    def init_fn(params):
        return ScaleBySimplifiedAdEMAMixState(
            t=jnp.zeros([], jnp.int32),
            m=_tree.zeros_like(params),
            n=_tree.zeros_like(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        alpha_t = _value_at(alpha, state.t)
        m = _tree.map(lambda g, m: g + b1 * m, updates, state.m, where="simplified_ademamix")
        # n + (1 - b2) (g^2 - n), written as a lerp from g^2 towards n.
        n = _tree.map(
            lambda g, n: _tree.abs_sq(g) + b2 * (n - _tree.abs_sq(g)),
            updates,
            state.n,
            where="simplified_ademamix",
        )
        t = _tree.safe_increment(state.t)
        n_hat = _tree.bias_correction(n, b2, t)
        updates = _tree.map(
            lambda m, g, v: (m + alpha_t * g) / (jnp.sqrt(v + eps_root) + eps),
            m,
            updates,
            n_hat,
            where="simplified_ademamix",
        )
        new_state = ScaleBySimplifiedAdEMAMixState(
            t=t, m=_tree.cast_like(m, state.m), n=_tree.cast_like(n, state.n)
        )
        return updates, new_state

    return transformation(init_fn, update_fn, name="scale_by_simplified_ademamix")


def simplified_ademamix(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.99,
    b2: jax.typing.ArrayLike = 0.95,
    alpha: ScalarOrSchedule = 0.0,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    weight_decay: jax.typing.ArrayLike = 0.0,
    mask: Any | Callable[[Any], Any] | None = None,
) -> GradientTransformationExtraArgs:
    """Simplified AdEMAMix: one un-normalized momentum plus alpha times the gradient, over RMS.

    .. math::

        m_t = \\beta_1 m_{t-1} + g_t, \\qquad
        \\theta_{t+1} = \\theta_t - \\eta_t \\left(
        \\frac{m_t + \\alpha\\, g_t}{\\sqrt{\\hat v_t + \\bar\\epsilon} + \\epsilon}
        + \\lambda\\, \\theta_t \\right),

    with :math:`\\hat v_t` Adam's bias-corrected second moment; see
    :func:`scale_by_simplified_ademamix`. With :math:`\\alpha = 0` this is
    Adam with an undamped momentum (a rescaled learning rate).

    .. warning::
      The momentum sums gradients without the :math:`1-\\beta_1` factor, so
      with the default :math:`\\beta_1 = 0.99` the steps are up to 100 times
      Adam's for the same learning rate.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: :math:`\\beta_1`, decay of the momentum accumulator, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-gradient EMA, in [0, 1).
      alpha: :math:`\\alpha \\ge 0`, weight of the current gradient; a number or
        a schedule.
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.
      weight_decay: :math:`\\lambda \\ge 0`, decoupled weight decay (multiplied
        by the learning rate).
      mask: a boolean tree (or a function of the params returning one) that
        selects the leaves to decay.

    Returns:
      A gradient transformation whose state is
      ``(ScaleBySimplifiedAdEMAMixState, EmptyState | WeightDecayScheduleState,
      ScaleByScheduleState | EmptyState)``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum(x**2)
      >>> solver = optjax.simplified_ademamix(learning_rate=0.01)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = solver.init(params)
      >>> for _ in range(5):
      ...     updates, state = solver.update(jax.grad(f)(params), state, params)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(f"{f(params):.4f}")
      12.2888

    References:
      Morwani et al., *Connections between Schedule-Free Optimizers, AdEMAMix,
      and Accelerated SGD Variants*, 2025, https://arxiv.org/abs/2502.02431
    """
    return chain(
        scale_by_simplified_ademamix(b1=b1, b2=b2, alpha=alpha, eps=eps, eps_root=eps_root),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
