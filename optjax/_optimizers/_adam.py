"""Adam-style optimizers: Adam, NAdam, AdamW, NAdamW, AMSGrad, Adamax, AdamaxW, RAdam.

Each is a short :func:`~optjax.chain` of primitives, in exactly Optax's order,
so states and trajectories match Optax's.
"""

from __future__ import annotations

from typing import Any

import jax

from optjax._base import GradientTransformationExtraArgs, MaskOrFn, ScalarOrSchedule
from optjax.transforms._adam_family import (
    scale_by_adam,
    scale_by_adamax,
    scale_by_amsgrad,
    scale_by_radam,
)
from optjax.transforms._basic import scale_by_learning_rate
from optjax.transforms._combinators._chain import chain
from optjax.transforms._regularization import add_decayed_weights


def adam(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    mu_dtype: Any | None = None,
    *,
    nesterov: bool = False,
    nu_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """The Adam optimizer: momentum divided by a running RMS of the gradients.

    .. math::

        m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t, \\qquad
        v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2, \\\\
        \\hat m_t = \\frac{m_t}{1-\\beta_1^t}, \\qquad
        \\hat v_t = \\frac{v_t}{1-\\beta_2^t}, \\qquad
        u_t = -\\eta_t\\, \\frac{\\hat m_t}{\\sqrt{\\hat v_t + \\bar\\epsilon} + \\epsilon}.

    ``nesterov=True`` gives NAdam (see :func:`nadam`).

    .. warning::
      :math:`\\epsilon` is added to :math:`\\sqrt{\\hat v_t}` after bias
      correction, as in Algorithm 1 of the paper and ``torch.optim.Adam``.
      TensorFlow/Keras instead add an :math:`\\hat\\epsilon` to the
      uncorrected :math:`\\sqrt{v_t}`, so the same ``eps`` behaves differently
      early in training.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-gradient average, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root; make it
        positive to differentiate through the update (meta-learning).
      mu_dtype: storage dtype of the first moment; ``None`` keeps the params'.
      nesterov: use Dozat's Nesterov momentum.
      nu_dtype: storage dtype of the second moment; ``None`` keeps the
        params'. Optax has no such option.

    Returns:
      A gradient transformation whose state is
      ``(ScaleByAdamState, ScaleByScheduleState | EmptyState)``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum(x**2)
      >>> solver = optjax.adam(learning_rate=0.1)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = solver.init(params)
      >>> for _ in range(3):
      ...     updates, state = solver.update(jax.grad(f)(params), state, params)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(f"{f(params):.4f}")
      10.6764

    References:
      Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015,
      https://arxiv.org/abs/1412.6980
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
        scale_by_learning_rate(learning_rate),
    )


def nadam(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    mu_dtype: Any | None = None,
    *,
    nesterov: bool = True,
    nu_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """NAdam: :func:`adam` with Nesterov momentum (``nesterov=True`` by default).

    .. math::

        \\hat m_t = \\frac{\\beta_1 m_t}{1-\\beta_1^{t+1}}
        + \\frac{(1-\\beta_1) g_t}{1-\\beta_1^t}, \\qquad
        u_t = -\\eta_t\\, \\frac{\\hat m_t}{\\sqrt{\\hat v_t + \\bar\\epsilon} + \\epsilon},

    with :math:`m_t, v_t, \\hat v_t` as in :func:`adam`.

    .. warning::
      ``torch.optim.NAdam`` additionally decays :math:`\\beta_1` over time
      (``momentum_decay``); this follows Dozat's rule without that schedule
      (and without the paper's extra :math:`\\beta_2` factor), like Optax.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-gradient average, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.
      mu_dtype: storage dtype of the first moment; ``None`` keeps the params'.
      nesterov: keep ``True``; ``False`` is plain Adam.
      nu_dtype: storage dtype of the second moment (optjax only).

    Returns:
      A gradient transformation (the same state as :func:`adam`).

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> solver = optjax.nadam(learning_rate=0.1)
      >>> params = jnp.array([1.0, -2.0])
      >>> updates, _ = solver.update(2 * params, solver.init(params), params)
      >>> print([f"{v:.4f}" for v in updates])
      ['-0.1474', '0.1474']

    References:
      Dozat, *Incorporating Nesterov Momentum into Adam*, ICLR 2016 workshop,
      https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ
    """
    return adam(
        learning_rate, b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov, nu_dtype=nu_dtype
    )


def adamw(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    mu_dtype: Any | None = None,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: MaskOrFn | None = None,
    *,
    nesterov: bool = False,
    nu_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """AdamW: Adam with decoupled weight decay.

    .. math::

        u_t = -\\eta_t \\left(\\frac{\\hat m_t}{\\sqrt{\\hat v_t + \\bar\\epsilon}
        + \\epsilon} + \\lambda\\, \\theta_t\\right),

    with :math:`\\hat m_t, \\hat v_t` as in :func:`adam`. The decay is added
    after the adaptive scaling, so it is not rescaled by :math:`\\hat v_t`.

    .. warning::
      The decay is multiplied by the learning rate :math:`\\eta_t`, as in
      ``torch.optim.AdamW``, whereas the paper multiplies it only by the
      schedule multiplier. The default ``weight_decay`` is ``1e-4`` (PyTorch's
      is ``1e-2``).

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-gradient average, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.
      mu_dtype: storage dtype of the first moment; ``None`` keeps the params'.
      weight_decay: :math:`\\lambda`, a number or a schedule.
      mask: a boolean tree (or a function of the params returning one) that
        selects the leaves to decay; Adam itself applies to every leaf.
      nesterov: use Nesterov momentum (NAdamW).
      nu_dtype: storage dtype of the second moment (optjax only).

    Returns:
      A gradient transformation; ``update`` needs ``params``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> solver = optjax.adamw(learning_rate=0.1, weight_decay=0.5)
      >>> params = jnp.array([1.0, -2.0])
      >>> updates, _ = solver.update(jnp.zeros(2), solver.init(params), params)
      >>> print([f"{v:.4f}" for v in updates])  # only the decay acts on a zero gradient
      ['-0.0500', '0.1000']

    References:
      Loshchilov & Hutter, *Decoupled Weight Decay Regularization*, ICLR 2019,
      https://arxiv.org/abs/1711.05101
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
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


def nadamw(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    mu_dtype: Any | None = None,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: MaskOrFn | None = None,
    *,
    nesterov: bool = True,
    nu_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """NAdamW: :func:`adamw` with Nesterov momentum (``nesterov=True`` by default).

    .. math::

        \\hat m_t = \\frac{\\beta_1 m_t}{1-\\beta_1^{t+1}}
        + \\frac{(1-\\beta_1) g_t}{1-\\beta_1^t}, \\qquad
        u_t = -\\eta_t \\left(\\frac{\\hat m_t}{\\sqrt{\\hat v_t + \\bar\\epsilon}
        + \\epsilon} + \\lambda\\, \\theta_t\\right).

    .. warning::
      As in :func:`adamw`, the decay is multiplied by the learning rate.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-gradient average, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.
      mu_dtype: storage dtype of the first moment; ``None`` keeps the params'.
      weight_decay: :math:`\\lambda`, a number or a schedule.
      mask: a boolean tree (or function of the params) selecting decayed leaves.
      nesterov: keep ``True``; ``False`` is plain AdamW.
      nu_dtype: storage dtype of the second moment (optjax only).

    Returns:
      A gradient transformation; ``update`` needs ``params``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> solver = optjax.nadamw(learning_rate=0.1, weight_decay=0.0)
      >>> params = jnp.array([1.0, -2.0])
      >>> updates, _ = solver.update(2 * params, solver.init(params), params)
      >>> print([f"{v:.4f}" for v in updates])
      ['-0.1474', '0.1474']

    References:
      Loshchilov & Hutter, *Decoupled Weight Decay Regularization*, ICLR 2019,
      https://arxiv.org/abs/1711.05101. Dozat, *Incorporating Nesterov Momentum
      into Adam*, 2016, https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ
    """
    return adamw(
        learning_rate,
        b1,
        b2,
        eps,
        eps_root,
        mu_dtype,
        weight_decay,
        mask,
        nesterov=nesterov,
        nu_dtype=nu_dtype,
    )


def amsgrad(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    mu_dtype: Any | None = None,
    bias_correction_mu: bool = True,
    bias_correction_nu: bool = True,
    *,
    nu_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """The AMSGrad optimizer: Adam with a running maximum of the second moment.

    .. math::

        \\tilde v_t = \\max\\left(\\tilde v_{t-1}, \\frac{v_t}{1-\\beta_2^t}\\right),
        \\qquad u_t = -\\eta_t\\, \\frac{m_t/(1-\\beta_1^t)}
        {\\sqrt{\\tilde v_t + \\bar\\epsilon} + \\epsilon},

    with :math:`m_t, v_t` as in :func:`adam`; the step size never grows.

    .. warning::
      ``torch.optim.Adam(amsgrad=True)`` takes the maximum of the *uncorrected*
      :math:`v_t` and bias-corrects afterwards; here (as in Optax) the maximum
      is taken after bias correction unless ``bias_correction_nu=False``.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-gradient average, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.
      mu_dtype: storage dtype of the first moment; ``None`` keeps the params'.
      bias_correction_mu: bias-correct the first moment.
      bias_correction_nu: bias-correct the second moment before the maximum
        (``False`` for both matches the original paper).
      nu_dtype: storage dtype of ``nu`` and ``nu_max`` (optjax only).

    Returns:
      A gradient transformation with ``(ScaleByAmsgradState, ...)`` state.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> solver = optjax.amsgrad(learning_rate=0.1)
      >>> params = jnp.array([1.0, -2.0])
      >>> updates, _ = solver.update(2 * params, solver.init(params), params)
      >>> print([f"{v:.4f}" for v in updates])
      ['-0.1000', '0.1000']

    References:
      Reddi, Kale & Kumar, *On the Convergence of Adam and Beyond*, ICLR 2018,
      https://arxiv.org/abs/1904.09237
    """
    return chain(
        scale_by_amsgrad(
            b1=b1,
            b2=b2,
            eps=eps,
            eps_root=eps_root,
            mu_dtype=mu_dtype,
            bias_correction_mu=bias_correction_mu,
            bias_correction_nu=bias_correction_nu,
            nu_dtype=nu_dtype,
        ),
        scale_by_learning_rate(learning_rate),
    )


def adamax(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
) -> GradientTransformationExtraArgs:
    """The Adamax optimizer: Adam with the infinity norm as second moment.

    .. math::

        m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t, \\qquad
        v_t = \\max(|g_t| + \\epsilon, \\beta_2 v_{t-1}), \\qquad
        u_t = -\\eta_t\\, \\frac{m_t}{(1-\\beta_1^t)\\, v_t}.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the running maximum, in [0, 1).
      eps: :math:`\\epsilon`, keeps the denominator positive.

    Returns:
      A gradient transformation with ``(ScaleByAdamState, ...)`` state.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> solver = optjax.adamax(learning_rate=0.1)
      >>> params = jnp.array([1.0, -2.0])
      >>> updates, _ = solver.update(2 * params, solver.init(params), params)
      >>> print([f"{v:.4f}" for v in updates])
      ['-0.1000', '0.1000']

    References:
      Kingma & Ba, *Adam: A Method for Stochastic Optimization*, Section 7.1,
      ICLR 2015, https://arxiv.org/abs/1412.6980
    """
    return chain(scale_by_adamax(b1=b1, b2=b2, eps=eps), scale_by_learning_rate(learning_rate))


def adamaxw(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: MaskOrFn | None = None,
) -> GradientTransformationExtraArgs:
    """AdamaxW: :func:`adamax` with decoupled weight decay.

    .. math::

        u_t = -\\eta_t \\left(\\frac{m_t}{(1-\\beta_1^t)\\, v_t} + \\lambda\\, \\theta_t\\right)

    .. warning::
      The decay is multiplied by the learning rate, as in PyTorch's AdamW and
      unlike the paper.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the running maximum, in [0, 1).
      eps: :math:`\\epsilon`, keeps the denominator positive.
      weight_decay: :math:`\\lambda`, a number or a schedule.
      mask: a boolean tree (or function of the params) selecting decayed leaves.

    Returns:
      A gradient transformation; ``update`` needs ``params``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> solver = optjax.adamaxw(learning_rate=0.1, weight_decay=0.5)
      >>> params = jnp.array([1.0, -2.0])
      >>> updates, _ = solver.update(jnp.zeros(2), solver.init(params), params)
      >>> print([f"{v:.4f}" for v in updates])
      ['-0.0500', '0.1000']

    References:
      Loshchilov & Hutter, *Decoupled Weight Decay Regularization*, ICLR 2019,
      https://arxiv.org/abs/1711.05101
    """
    return chain(
        scale_by_adamax(b1=b1, b2=b2, eps=eps),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


def radam(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    threshold: jax.typing.ArrayLike = 5.0,
    *,
    nesterov: bool = False,
) -> GradientTransformationExtraArgs:
    """Rectified Adam: momentum SGD until the adaptive step's variance is tractable.

    .. math::

        \\rho_t = \\rho_\\infty - \\frac{2 t \\beta_2^t}{1-\\beta_2^t}, \\qquad
        u_t = -\\eta_t \\begin{cases}
        r_t\\, \\hat m_t / (\\sqrt{\\hat v_t + \\bar\\epsilon} + \\epsilon)
        & \\rho_t \\ge \\text{threshold} \\\\ \\hat m_t & \\text{otherwise,}
        \\end{cases}

    with :math:`\\rho_\\infty = 2/(1-\\beta_2) - 1` and the rectification
    :math:`r_t` of :func:`scale_by_radam`.

    .. warning::
      ``torch.optim.RAdam`` switches when :math:`\\rho_t > 5`; here the test
      is :math:`\\rho_t \\ge` ``threshold``, as in Optax.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-gradient average, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.
      threshold: the :math:`\\rho_t` above which the adaptive step is used.
      nesterov: use Nesterov momentum.

    Returns:
      A gradient transformation with ``(ScaleByAdamState, ...)`` state.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> solver = optjax.radam(learning_rate=0.1)
      >>> params = jnp.array([1.0, -2.0])
      >>> updates, _ = solver.update(2 * params, solver.init(params), params)
      >>> print([f"{v:.4f}" for v in updates])  # the first steps are plain momentum
      ['-0.2000', '0.4000']

    References:
      Liu et al., *On the Variance of the Adaptive Learning Rate and Beyond*,
      ICLR 2020, https://arxiv.org/abs/1908.03265
    """
    return chain(
        scale_by_radam(
            b1=b1, b2=b2, eps=eps, eps_root=eps_root, threshold=threshold, nesterov=nesterov
        ),
        scale_by_learning_rate(learning_rate),
    )
