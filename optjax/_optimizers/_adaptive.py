"""Adaptive optimizers without Adam's first moment: RMSProp, Adagrad, Adadelta,
Adafactor, SM3, Rprop and Lion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, MaskOrFn, ScalarOrSchedule
from optjax.transforms._basic import ema, identity, scale, scale_by_learning_rate, trace
from optjax.transforms._clipping import clip_by_block_rms
from optjax.transforms._combinators._chain import chain
from optjax.transforms._factored import scale_by_factored_rms
from optjax.transforms._layerwise import scale_by_param_block_rms
from optjax.transforms._regularization import add_decayed_weights
from optjax.transforms._rms_family import (
    scale_by_adadelta,
    scale_by_rms,
    scale_by_rss,
    scale_by_sm3,
    scale_by_stddev,
)
from optjax.transforms._sign import scale_by_lion, scale_by_rprop


def rmsprop(
    learning_rate: ScalarOrSchedule,
    decay: jax.typing.ArrayLike = 0.9,
    eps: jax.typing.ArrayLike = 1e-8,
    initial_scale: jax.typing.ArrayLike = 0.0,
    eps_in_sqrt: bool = True,
    centered: bool = False,
    momentum: jax.typing.ArrayLike | None = None,
    nesterov: bool = False,
    bias_correction: bool = False,
) -> GradientTransformationExtraArgs:
    """RMSProp: gradient descent normalized by a running RMS of the gradients.

    .. math::

        \\nu_t = (1-\\rho)\\, g_t^2 + \\rho\\, \\nu_{t-1}, \\qquad
        d_t = \\frac{\\eta_t\\, g_t}{\\sqrt{\\nu_t + \\epsilon}}, \\qquad
        \\theta_{t+1} = \\theta_t - d_t

    with :math:`\\nu_0` = ``initial_scale``. ``centered`` subtracts the square
    of a running mean of the gradients from :math:`\\nu_t`
    (:func:`scale_by_stddev`); ``bias_correction`` divides the averages by
    :math:`1-\\rho^t`; ``momentum`` :math:`\\beta` replaces :math:`d_t` by
    :math:`m_t = d_t + \\beta m_{t-1}` (or Nesterov's :math:`d_t + \\beta m_t`),
    applied *after* the learning rate as in PyTorch.

    .. warning::
      Optax's (and optjax's) default puts ``eps`` inside the square root and
      uses ``eps=1e-8``; ``torch.optim.RMSprop`` computes
      :math:`g / (\\sqrt{\\nu} + \\epsilon)` with ``eps=1e-8`` and
      ``alpha=0.99``. For PyTorch's numbers pass ``decay=0.99,
      eps_in_sqrt=False``.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule.
      decay: :math:`\\rho` in [0, 1).
      eps: :math:`\\epsilon \\ge 0`.
      initial_scale: :math:`\\nu_0 \\ge 0`.
      eps_in_sqrt: add :math:`\\epsilon` inside (True) or outside the root.
      centered: normalize by the running standard deviation instead of RMS.
      momentum: :math:`\\beta` in [0, 1), or ``None`` for no momentum.
      nesterov: Nesterov momentum (with ``momentum``).
      bias_correction: bias-correct the running averages.

    Returns:
      A gradient transformation: ``chain(scale_by_rms or scale_by_stddev,
      scale_by_learning_rate, trace or identity)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.rmsprop(learning_rate=0.1, decay=0.75, eps=0.0)
      >>> params = {"w": jnp.array([1.0, 1.0])}
      >>> u, _ = tx.update({"w": jnp.array([2.0, -4.0])}, tx.init(params), params)
      >>> u["w"]
      Array([-0.2,  0.2], dtype=float32)

    References:
      Hinton, *Neural Networks for Machine Learning*, lecture 6e, 2012,
      https://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf

      Graves, *Generating Sequences With Recurrent Neural Networks* (centered
      variant), 2013, https://arxiv.org/abs/1308.0850
    """
    if momentum is not None:
        _checks.check_decay("momentum", momentum, where="rmsprop")
    scaling = scale_by_stddev if centered else scale_by_rms
    return chain(
        scaling(
            decay=decay,
            eps=eps,
            initial_scale=initial_scale,
            eps_in_sqrt=eps_in_sqrt,
            bias_correction=bias_correction,
        ),
        scale_by_learning_rate(learning_rate),
        trace(decay=momentum, nesterov=nesterov) if momentum is not None else identity(),
    )


def adagrad(
    learning_rate: ScalarOrSchedule,
    initial_accumulator_value: jax.typing.ArrayLike = 0.1,
    eps: jax.typing.ArrayLike = 1e-7,
) -> GradientTransformationExtraArgs:
    """Adagrad: per-coordinate steps shrinking with the accumulated squared gradient.

    .. math::

        s_t = s_{t-1} + g_t^2, \\qquad
        \\theta_{t+1} = \\theta_t - \\frac{\\eta_t\\, g_t}{\\sqrt{s_t + \\epsilon}}

    with :math:`s_0` = ``initial_accumulator_value`` (coordinates with
    :math:`s_t = 0` do not move).

    .. warning::
      ``initial_accumulator_value`` defaults to 0.1, as in Optax;
      ``torch.optim.Adagrad`` starts the sum at 0 and adds ``eps=1e-10``
      outside the square root, so its first step is :math:`\\eta\\,
      \\mathrm{sign}(g)`. Pass ``initial_accumulator_value=0.0`` for a
      closer match.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule.
      initial_accumulator_value: :math:`s_0 \\ge 0`.
      eps: :math:`\\epsilon \\ge 0`, inside the root.

    Returns:
      A gradient transformation: ``chain(scale_by_rss, scale_by_learning_rate)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.adagrad(learning_rate=1.0, initial_accumulator_value=0.0, eps=0.0)
      >>> params = {"w": jnp.zeros(2)}
      >>> u, _ = tx.update({"w": jnp.array([3.0, -0.5])}, tx.init(params), params)
      >>> u["w"]
      Array([-1.,  1.], dtype=float32)

    References:
      Duchi et al., *Adaptive Subgradient Methods for Online Learning and
      Stochastic Optimization*, JMLR 2011,
      https://jmlr.org/papers/v12/duchi11a.html
    """
    return chain(
        scale_by_rss(initial_accumulator_value=initial_accumulator_value, eps=eps),
        scale_by_learning_rate(learning_rate),
    )


def adadelta(
    learning_rate: ScalarOrSchedule | None = None,
    rho: jax.typing.ArrayLike = 0.9,
    eps: jax.typing.ArrayLike = 1e-6,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_decay_mask: MaskOrFn | None = None,
) -> GradientTransformationExtraArgs:
    """Adadelta: steps whose size is the RMS of past steps over the RMS of gradients.

    .. math::

        \\tilde g_t = g_t + \\lambda \\theta_t, \\qquad
        E[g^2]_t = (1-\\rho)\\, \\tilde g_t^2 + \\rho\\, E[g^2]_{t-1},

    .. math::

        d_t = \\frac{\\sqrt{E[d^2]_{t-1} + \\epsilon}}{\\sqrt{E[g^2]_t + \\epsilon}}\\,
        \\tilde g_t, \\qquad
        E[d^2]_t = (1-\\rho)\\, d_t^2 + \\rho\\, E[d^2]_{t-1}, \\qquad
        \\theta_{t+1} = \\theta_t - \\eta_t\\, d_t

    The weight decay :math:`\\lambda` is added to the gradient first, like
    PyTorch's ``weight_decay``.

    .. warning::
      ``learning_rate=None`` (the default) means the paper's rule,
      :math:`\\eta = 1`, descending: it equals ``learning_rate=1.0`` and
      ``torch.optim.Adadelta``'s default. Optax 0.2.8 instead skips the sign
      flip when ``learning_rate`` is ``None``, so its default updates *ascend*
      the loss.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule; ``None`` means 1.
      rho: :math:`\\rho` in [0, 1).
      eps: :math:`\\epsilon \\ge 0`.
      weight_decay: :math:`\\lambda \\ge 0`, a number or a schedule.
      weight_decay_mask: a boolean tree (or a function of the params) selecting
        the leaves to decay.

    Returns:
      A gradient transformation: ``chain(add_decayed_weights,
      scale_by_adadelta, scale_by_learning_rate)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.adadelta(learning_rate=1.0, rho=0.0, eps=1.0)
      >>> params = {"w": jnp.zeros(1)}
      >>> u, _ = tx.update({"w": jnp.array([3.0])}, tx.init(params), params)
      >>> print(f"{u['w'][0]:.4f}")  # -sqrt(1) / sqrt(9 + 1) * 3
      -0.9487

    References:
      Zeiler, *ADADELTA: An Adaptive Learning Rate Method*, 2012,
      https://arxiv.org/abs/1212.5701
    """
    return chain(
        add_decayed_weights(weight_decay, mask=weight_decay_mask),
        scale_by_adadelta(rho=rho, eps=eps),
        # The paper has no learning rate: None is a unit step, still descending.
        scale_by_learning_rate(1.0 if learning_rate is None else learning_rate),
    )


def adafactor(
    learning_rate: ScalarOrSchedule | None = None,
    min_dim_size_to_factor: int = 128,
    decay_rate: jax.typing.ArrayLike = 0.8,
    decay_offset: jax.typing.ArrayLike = 0,
    multiply_by_parameter_scale: bool = True,
    clipping_threshold: jax.typing.ArrayLike | None = 1.0,
    momentum: jax.typing.ArrayLike | None = None,
    dtype_momentum: Any = jnp.float32,
    weight_decay_rate: ScalarOrSchedule | None = None,
    eps: jax.typing.ArrayLike = 1e-30,
    factored: bool = True,
    weight_decay_mask: MaskOrFn | None = None,
) -> GradientTransformationExtraArgs:
    """Adafactor: memory-light adaptive steps from a factored second moment.

    The pipeline, each stage optional except the first and last:

    .. math::

        \\hat g_t = g_t / \\sqrt{\\hat V_t}, \\qquad
        \\hat g_t \\leftarrow \\hat g_t / \\max(1, \\mathrm{rms}(\\hat g_t) / d),

    .. math::

        \\hat g_t \\leftarrow \\eta_t \\max(\\mathrm{rms}(\\theta_t), 10^{-3})\\, \\hat g_t,
        \\qquad m_t = (1-\\beta) \\hat g_t + \\beta m_{t-1}, \\qquad
        \\theta_{t+1} = \\theta_t - (m_t + \\lambda \\theta_t)

    where :math:`\\hat V_t` is the factored statistic of
    :func:`scale_by_factored_rms`, :math:`d` = ``clipping_threshold`` (per
    leaf), the parameter-scale factor is applied with
    ``multiply_by_parameter_scale``, the (not bias-corrected) momentum with
    ``momentum`` :math:`\\beta`, and
    :math:`\\lambda` = ``weight_decay_rate``. Note that the weight decay is
    *not* multiplied by the learning rate.

    .. warning::
      With ``learning_rate=None`` (the default) the step has no learning-rate
      factor at all: it is the relative step size of the paper times the
      parameter RMS, which suits freshly initialized networks. Also, leaves
      are factored only when their two largest axes have at least
      ``min_dim_size_to_factor`` (128) entries, so small models get unfactored
      (Adam-like) statistics.

    Args:
      learning_rate: :math:`\\eta_t`, a number, a schedule or ``None``.
      min_dim_size_to_factor: factor a leaf only when its second largest axis
        has at least this many entries.
      decay_rate: exponent :math:`c` of the decay :math:`1 - (t+1)^{-c}`.
      decay_offset: step count at which the decay schedule restarts.
      multiply_by_parameter_scale: scale by the parameters' RMS (at least
        1e-3), i.e. relative step sizes.
      clipping_threshold: :math:`d > 0`, the per-leaf RMS clip, or ``None``.
      momentum: :math:`\\beta` in [0, 1), or ``None`` for no momentum.
      dtype_momentum: dtype of the momentum buffer.
      weight_decay_rate: :math:`\\lambda`, a number, a schedule or ``None``.
      eps: :math:`\\epsilon`, added to the squared gradients.
      factored: use factored statistics for rank >= 2 leaves.
      weight_decay_mask: a boolean tree (or a function of the params)
        selecting the leaves to decay.

    Returns:
      A gradient transformation chaining the stages above; its ``update``
      needs ``params``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.adafactor(learning_rate=0.1, multiply_by_parameter_scale=False)
      >>> params = {"w": jnp.zeros((2, 3))}
      >>> u, _ = tx.update({"w": jnp.full((2, 3), 5.0)}, tx.init(params), params)
      >>> print(f"{u['w'][0, 0]:.4f}")  # the normalized gradient is 1
      -0.1000

    References:
      Shazeer & Stern, *Adafactor: Adaptive Learning Rates with Sublinear
      Memory Cost*, ICML 2018, https://arxiv.org/abs/1804.04235
    """
    where = "adafactor"
    if momentum is not None:
        _checks.check_decay("momentum", momentum, where=where)
    if clipping_threshold is not None:
        _checks.check_positive("clipping_threshold", clipping_threshold, where=where)
    stages = [
        scale_by_factored_rms(factored, decay_rate, decay_offset, min_dim_size_to_factor, eps)
    ]
    if clipping_threshold is not None:
        stages.append(clip_by_block_rms(clipping_threshold))
    if learning_rate is not None:
        stages.append(scale_by_learning_rate(learning_rate, flip_sign=False))
    if multiply_by_parameter_scale:
        stages.append(scale_by_param_block_rms())
    if momentum is not None:
        stages.append(ema(momentum, debias=False, accumulator_dtype=dtype_momentum))
    if weight_decay_rate is not None:
        stages.append(add_decayed_weights(weight_decay_rate, mask=weight_decay_mask))
    stages.append(scale(-1))
    return chain(*stages)


def sm3(
    learning_rate: ScalarOrSchedule,
    momentum: jax.typing.ArrayLike = 0.9,
) -> GradientTransformationExtraArgs:
    """SM3: Adagrad with per-row/column accumulators, plus momentum.

    .. math::

        \\theta_{t+1} = \\theta_t - \\eta\\, m_t, \\qquad
        m_t = (1-\\beta)\\, \\frac{g_t}{\\sqrt{\\nu_t + \\epsilon}} + \\beta\\, m_{t-1}

    where :math:`\\nu_t` is SM3's cover-based running sum of squared
    gradients (see :func:`scale_by_sm3`, with :math:`b_2 = 1`,
    :math:`\\epsilon = 10^{-8}`). Its memory is the sum, not the product, of
    each leaf's dimensions.

    .. warning::
      0-d (scalar) leaves are supported (Optax 0.2.8 raises ``IndexError``):
      a scalar is its own cover, so it gets the Adagrad-like update, see
      :func:`scale_by_sm3`. A schedule as ``learning_rate`` is accepted too
      (Optax takes only a number).

    Args:
      learning_rate: :math:`\\eta`, a number (or a schedule).
      momentum: :math:`\\beta` in [0, 1).

    Returns:
      A gradient transformation: ``chain(scale_by_sm3, scale(-learning_rate))``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.sm3(learning_rate=0.1, momentum=0.0)
      >>> params = {"w": jnp.zeros((2, 2))}
      >>> u, _ = tx.update({"w": jnp.full((2, 2), 3.0)}, tx.init(params), params)
      >>> u["w"]
      Array([[-0.1, -0.1], [-0.1, -0.1]], dtype=float32)

    References:
      Anil et al., *Memory-Efficient Adaptive Optimization*, NeurIPS 2019,
      https://arxiv.org/abs/1901.11150
    """
    _checks.check_decay("momentum", momentum, where="sm3")
    if callable(learning_rate):
        step = scale_by_learning_rate(learning_rate)
    else:
        step = scale(-learning_rate)
    return chain(scale_by_sm3(momentum), step)


def rprop(
    learning_rate: jax.typing.ArrayLike,
    eta_minus: jax.typing.ArrayLike = 0.5,
    eta_plus: jax.typing.ArrayLike = 1.2,
    min_step_size: jax.typing.ArrayLike = 1e-6,
    max_step_size: jax.typing.ArrayLike = 50.0,
) -> GradientTransformationExtraArgs:
    """Rprop: sign-based descent with per-element adaptive step sizes.

    Each coordinate moves by its own step size :math:`\\Delta` against the
    gradient's sign; :math:`\\Delta` grows by :math:`\\eta^+` while the sign
    holds and shrinks by :math:`\\eta^-` when it flips (that step is then
    skipped), clipped to :math:`[\\Delta_{\\min}, \\Delta_{\\max}]`; see
    :func:`scale_by_rprop` for the exact recursion:

    .. math::

        \\theta_{t+1} = \\theta_t - \\Delta_t \\odot \\mathrm{sign}(g_t)
        \\odot [g_t\\, g_{t-1} \\ge 0]

    .. warning::
      Optax 0.2.8 returns the step computed at the previous call (its first
      update is zero). optjax returns the current step, as the paper and
      ``torch.optim.Rprop`` do (see :func:`scale_by_rprop`).

    Args:
      learning_rate: the initial step size :math:`\\Delta_0 > 0` (a number; it
        is not a schedule since the step sizes adapt themselves).
      eta_minus: :math:`\\eta^-` in (0, 1).
      eta_plus: :math:`\\eta^+ > 1`.
      min_step_size: :math:`\\Delta_{\\min} \\ge 0`.
      max_step_size: :math:`\\Delta_{\\max} \\ge \\Delta_{\\min}`.

    Returns:
      A gradient transformation: ``chain(scale_by_rprop, scale(-1))``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.rprop(learning_rate=0.1)
      >>> state = tx.init({"w": jnp.zeros(1)})
      >>> for g in (2.0, 2.0):  # the sign holds, so the step grows by eta_plus
      ...     u, state = tx.update({"w": jnp.array([g])}, state)
      >>> u["w"]
      Array([-0.12], dtype=float32)

    References:
      Riedmiller & Braun, *A Direct Adaptive Method for Faster Backpropagation
      Learning: The RPROP Algorithm*, ICNN 1993,
      https://doi.org/10.1109/ICNN.1993.298623
    """
    return chain(
        scale_by_rprop(
            learning_rate=learning_rate,
            eta_minus=eta_minus,
            eta_plus=eta_plus,
            min_step_size=min_step_size,
            max_step_size=max_step_size,
        ),
        scale(-1.0),
    )


def lion(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.99,
    mu_dtype: Any | None = None,
    weight_decay: ScalarOrSchedule = 1e-3,
    mask: MaskOrFn | Callable[[Any], Any] | None = None,
) -> GradientTransformationExtraArgs:
    """Lion: sign of a momentum/gradient interpolation, with decoupled weight decay.

    .. math::

        c_t = (1-\\beta_1)\\, g_t + \\beta_1\\, m_{t-1}, \\qquad
        \\theta_{t+1} = \\theta_t - \\eta_t\\big(\\mathrm{sign}(c_t) + \\lambda\\,
        \\theta_t\\big), \\qquad m_t = (1-\\beta_2)\\, g_t + \\beta_2\\, m_{t-1}

    Every step has entries of size about :math:`\\eta_t`, so Lion wants a
    learning rate 3-10x smaller than AdamW's (and a correspondingly larger
    :math:`\\lambda`).

    .. warning::
      ``weight_decay`` defaults to 1e-3 (Optax's default), not 0 as in most
      other optimizers here.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule.
      b1: :math:`\\beta_1` in [0, 1].
      b2: :math:`\\beta_2` in [0, 1).
      mu_dtype: dtype of the momentum; ``None`` uses the parameters'.
      weight_decay: :math:`\\lambda \\ge 0`, a number or a schedule.
      mask: a boolean tree (or a function of the params) selecting the leaves
        to decay.

    Returns:
      A gradient transformation: ``chain(scale_by_lion, add_decayed_weights,
      scale_by_learning_rate)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.lion(learning_rate=0.1, weight_decay=0.0)
      >>> params = {"w": jnp.zeros(2)}
      >>> u, _ = tx.update({"w": jnp.array([0.3, -7.0])}, tx.init(params), params)
      >>> u["w"]
      Array([-0.1,  0.1], dtype=float32)

    References:
      Chen et al., *Symbolic Discovery of Optimization Algorithms*, NeurIPS
      2023, https://arxiv.org/abs/2302.06675
    """
    return chain(
        scale_by_lion(b1=b1, b2=b2, mu_dtype=mu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
