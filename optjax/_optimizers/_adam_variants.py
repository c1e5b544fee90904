"""More adaptive optimizers: AdaBelief, Yogi, Adan and the optimistic methods."""

from __future__ import annotations

from typing import Any

import jax

from optjax._base import GradientTransformationExtraArgs, MaskOrFn, ScalarOrSchedule
from optjax.transforms._adam_family import scale_by_adam, scale_by_belief, scale_by_yogi
from optjax.transforms._adam_variants import scale_by_adan, scale_by_optimistic_gradient
from optjax.transforms._basic import scale_by_learning_rate
from optjax.transforms._combinators._chain import chain
from optjax.transforms._regularization import add_decayed_weights


def adabelief(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-16,
    eps_root: jax.typing.ArrayLike = 1e-16,
    *,
    nesterov: bool = False,
) -> GradientTransformationExtraArgs:
    """The AdaBelief optimizer: Adam scaled by the variance of the gradient's surprise.

    .. math::

        m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t, \\qquad
        s_t = \\beta_2 s_{t-1} + (1-\\beta_2) (g_t - m_t)^2 + \\bar\\epsilon, \\\\
        u_t = -\\eta_t\\, \\frac{m_t/(1-\\beta_1^t)}{\\sqrt{s_t/(1-\\beta_2^t)} + \\epsilon}.

    .. note::
      The defaults ``eps=eps_root=1e-16`` follow the authors' code; the paper's
      text uses ``eps=1e-8, eps_root=0``.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the belief variance, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added to the stored variance each step.
      nesterov: use Dozat's Nesterov momentum.

    Returns:
      A gradient transformation with ``(ScaleByBeliefState, ...)`` state.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> solver = optjax.adabelief(learning_rate=0.1)
      >>> params = jnp.array([1.0, -2.0])
      >>> updates, _ = solver.update(2 * params, solver.init(params), params)
      >>> print([f"{v:.4f}" for v in updates])
      ['-0.1111', '0.1111']

    References:
      Zhuang et al., *AdaBelief Optimizer: Adapting Stepsizes by the Belief in
      Observed Gradients*, NeurIPS 2020, https://arxiv.org/abs/2010.07468
    """
    return chain(
        scale_by_belief(b1=b1, b2=b2, eps=eps, eps_root=eps_root, nesterov=nesterov),
        scale_by_learning_rate(learning_rate),
    )


def yogi(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-3,
) -> GradientTransformationExtraArgs:
    """The Yogi optimizer: Adam with an additive, sign-controlled second moment.

    .. math::

        v_t = v_{t-1} - (1-\\beta_2)\\, \\mathrm{sign}(v_{t-1} - g_t^2)\\, g_t^2, \\qquad
        u_t = -\\eta_t\\, \\frac{m_t/(1-\\beta_1^t)}{\\sqrt{v_t/(1-\\beta_2^t)} + \\epsilon},

    with :math:`m_t` as in :func:`adam`; both moments start at ``1e-6``.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, rate of the second-moment update, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator (larger than Adam's).

    Returns:
      A gradient transformation with ``(ScaleByAdamState, ...)`` state.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> solver = optjax.yogi(learning_rate=0.1)
      >>> params = jnp.array([1.0, -2.0])
      >>> updates, _ = solver.update(2 * params, solver.init(params), params)
      >>> print([f"{v:.4f}" for v in updates])
      ['-0.0999', '0.1000']

    References:
      Zaheer et al., *Adaptive Methods for Nonconvex Optimization*, NeurIPS 2018,
      https://papers.nips.cc/paper/8186-adaptive-methods-for-nonconvex-optimization
    """
    return chain(scale_by_yogi(b1=b1, b2=b2, eps=eps), scale_by_learning_rate(learning_rate))


def adan(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.98,
    b2: jax.typing.ArrayLike = 0.92,
    b3: jax.typing.ArrayLike = 0.99,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 1e-8,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: MaskOrFn | None = None,
) -> GradientTransformationExtraArgs:
    """The Adan optimizer (adaptive Nesterov momentum).

    With :math:`\\Delta_t = g_t - g_{t-1}` and hats denoting bias correction:

    .. math::

        m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t, \\qquad
        v_t = \\beta_2 v_{t-1} + (1-\\beta_2) \\Delta_t, \\\\
        n_t = \\beta_3 n_{t-1} + (1-\\beta_3) (g_t + (1-\\beta_2) \\Delta_t)^2, \\\\
        u_t = -\\eta_t \\left(\\frac{\\hat m_t + (1-\\beta_2) \\hat v_t}
        {\\sqrt{\\hat n_t + \\bar\\epsilon} + \\epsilon} + \\lambda\\, \\theta_t\\right).

    .. warning::
      The paper (and its PyTorch code) applies the decay proximally,
      :math:`\\theta_{t+1} = (\\theta_t + u_t)/(1 + \\lambda\\eta)`; here, as
      in Optax, it is decoupled additive decay multiplied by the learning rate.
      The moments are bias-corrected, and :math:`\\beta_i` weigh the *old*
      value (the paper's :math:`1-\\beta_i`).

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the gradient-difference average, in [0, 1).
      b3: :math:`\\beta_3`, decay of the squared look-ahead term, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.
      weight_decay: :math:`\\lambda`, a number or a schedule.
      mask: a boolean tree (or function of the params) selecting decayed leaves.

    Returns:
      A gradient transformation; ``update`` needs ``params``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> solver = optjax.adan(learning_rate=0.1)
      >>> params = jnp.array([1.0, -2.0])
      >>> updates, _ = solver.update(2 * params, solver.init(params), params)
      >>> print([f"{v:.4f}" for v in updates])
      ['-0.1000', '0.1000']

    References:
      Xie et al., *Adan: Adaptive Nesterov Momentum Algorithm for Faster
      Optimizing Deep Models*, IEEE TPAMI 2024, https://arxiv.org/abs/2208.06677
    """
    return chain(
        scale_by_adan(b1=b1, b2=b2, b3=b3, eps=eps, eps_root=eps_root),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


def optimistic_gradient_descent(
    learning_rate: ScalarOrSchedule,
    alpha: ScalarOrSchedule = 1.0,
    beta: ScalarOrSchedule = 1.0,
) -> GradientTransformationExtraArgs:
    """Optimistic gradient descent, for min-max games (last-iterate convergence).

    .. math::

        u_t = -\\eta_t \\left((\\alpha + \\beta)\\, g_t - \\beta\\, g_{t-1}\\right),
        \\qquad g_0 := g_1.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      alpha: :math:`\\alpha`, the weight of the current gradient.
      beta: :math:`\\beta`, the optimism (negative momentum) coefficient.

    Returns:
      A gradient transformation with
      ``(ScaleByOptimisticGradientState, ...)`` state.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> solver = optjax.optimistic_gradient_descent(learning_rate=0.1)
      >>> params = jnp.array([1.0, -2.0])
      >>> state = solver.init(params)
      >>> updates, state = solver.update(jnp.array([1.0, 1.0]), state, params)
      >>> updates, state = solver.update(jnp.array([2.0, 0.0]), state, params)
      >>> print([f"{v:.4f}" for v in updates])
      ['-0.3000', '0.1000']

    References:
      Mokhtari, Ozdaglar & Pattathil, *A Unified Analysis of Extra-gradient and
      Optimistic Gradient Methods for Saddle Point Problems: Proximal Point
      Approach*, AISTATS 2020, https://arxiv.org/abs/1901.08511
    """
    return chain(
        scale_by_optimistic_gradient(alpha=alpha, beta=beta),
        scale_by_learning_rate(learning_rate),
    )


def optimistic_adam_v2(
    learning_rate: ScalarOrSchedule,
    *,
    alpha: jax.typing.ArrayLike = 1.0,
    beta: jax.typing.ArrayLike = 1.0,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    mu_dtype: Any | None = None,
    nesterov: bool = True,
    nu_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """Optimistic Adam: optimistic gradient steps on Adam's normalized direction.

    With :math:`r_t` the (by default Nesterov) Adam direction of :func:`adam`:

    .. math::

        r_t = \\frac{\\hat m_t}{\\sqrt{\\hat v_t + \\bar\\epsilon} + \\epsilon}, \\qquad
        u_t = -\\eta_t \\left((\\alpha + \\beta)\\, r_t - \\beta\\, r_{t-1}\\right),
        \\qquad r_0 := r_1.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      alpha: :math:`\\alpha`, the weight of the current direction.
      beta: :math:`\\beta`, the optimism coefficient.
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-gradient average, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.
      mu_dtype: storage dtype of the first moment; ``None`` keeps the params'.
      nesterov: use Nesterov momentum in the Adam direction.
      nu_dtype: storage dtype of the second moment (optjax only).

    Returns:
      A gradient transformation with
      ``(ScaleByAdamState, ScaleByOptimisticGradientState, ...)`` state.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> solver = optjax.optimistic_adam_v2(0.1, alpha=0.5, beta=1.0)
      >>> params = jnp.array([1.0, -2.0])
      >>> updates, _ = solver.update(2 * params, solver.init(params), params)
      >>> print([f"{v:.4f}" for v in updates])
      ['-0.0737', '0.0737']

    References:
      Daskalakis et al., *Training GANs with Optimism*, ICLR 2018,
      https://arxiv.org/abs/1711.00141
    """
    return chain(
        scale_by_adam(
            b1=b1,
            b2=b2,
            eps=eps,
            eps_root=eps_root,
            mu_dtype=mu_dtype,
            nesterov=nesterov,
            nu_dtype=nu_dtype,
        ),
        scale_by_optimistic_gradient(alpha=alpha, beta=beta),
        scale_by_learning_rate(learning_rate),
    )
