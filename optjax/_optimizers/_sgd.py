"""Stochastic gradient descent and its sign and Polyak-step variants."""

from __future__ import annotations

from typing import Any

import jax

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, ScalarOrSchedule
from optjax.transforms._basic import ema, identity, scale_by_learning_rate, trace
from optjax.transforms._combinators._chain import chain
from optjax.transforms._sign import scale_by_sign
from optjax.transforms._step_size import scale_by_polyak


def sgd(
    learning_rate: ScalarOrSchedule,
    momentum: jax.typing.ArrayLike | None = None,
    nesterov: bool = False,
    accumulator_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """Stochastic gradient descent, optionally with heavy-ball or Nesterov momentum.

    .. math::

        m_t = g_t + \\beta\\, m_{t-1}, \\qquad
        \\theta_{t+1} = \\theta_t - \\eta_t \\begin{cases}
        g_t + \\beta\\, m_t & \\text{Nesterov} \\\\ m_t & \\text{otherwise}
        \\end{cases}

    and plain :math:`\\theta_{t+1} = \\theta_t - \\eta_t g_t` when ``momentum``
    is ``None``. This is ``torch.optim.SGD`` with ``dampening=0``.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      momentum: :math:`\\beta` in [0, 1), or ``None`` for no momentum buffer.
      nesterov: use Nesterov's look-ahead momentum.
      accumulator_dtype: dtype of the momentum buffer; ``None`` uses the
        parameters' dtype.

    Returns:
      A gradient transformation: ``chain(trace or identity,
      scale_by_learning_rate)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.sgd(learning_rate=0.1, momentum=0.9)
      >>> params = {"w": jnp.array([1.0])}
      >>> state = tx.init(params)
      >>> for _ in range(2):
      ...     updates, state = tx.update({"w": jnp.array([1.0])}, state, params)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(f"{params['w'][0]:.2f}")  # 1 - 0.1 - 0.19
      0.71

    References:
      Robbins & Monro, *A Stochastic Approximation Method*, 1951.
      Sutskever et al., *On the importance of initialization and momentum in
      deep learning*, ICML 2013,
      https://proceedings.mlr.press/v28/sutskever13.html
    """
    if momentum is not None:
        _checks.check_decay("momentum", momentum, where="sgd")
        first = trace(decay=momentum, nesterov=nesterov, accumulator_dtype=accumulator_dtype)
    else:
        first = identity()
    return chain(first, scale_by_learning_rate(learning_rate))


def sign_sgd(learning_rate: ScalarOrSchedule) -> GradientTransformationExtraArgs:
    """signSGD: steps of fixed size along the sign of each gradient entry.

    .. math::

        \\theta_{t+1} = \\theta_t - \\eta_t\\, \\mathrm{sign}(g_t)

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule.

    Returns:
      A gradient transformation: ``chain(scale_by_sign, scale_by_learning_rate)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.sign_sgd(learning_rate=0.1)
      >>> tx.update({"w": jnp.array([-5.0, 0.01])}, tx.init(None))[0]["w"]
      Array([ 0.1, -0.1], dtype=float32)

    References:
      Bernstein et al., *signSGD: Compressed Optimisation for Non-Convex
      Problems*, ICML 2018, https://arxiv.org/abs/1802.04434
    """
    return chain(scale_by_sign(), scale_by_learning_rate(learning_rate))


def signum(
    learning_rate: ScalarOrSchedule,
    beta: jax.typing.ArrayLike = 0.9,
    accumulator_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """Signum: signSGD applied to an exponential moving average of the gradients.

    .. math::

        m_t = (1-\\beta)\\, g_t + \\beta\\, m_{t-1}, \\qquad
        \\theta_{t+1} = \\theta_t - \\eta_t\\, \\mathrm{sign}(m_t)

    The average is not bias-corrected: dividing by :math:`1-\\beta^t` would
    not change its sign.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule.
      beta: :math:`\\beta` in [0, 1), the decay of the average.
      accumulator_dtype: dtype of the average; ``None`` uses the parameters'.

    Returns:
      A gradient transformation: ``chain(ema, scale_by_sign,
      scale_by_learning_rate)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.signum(learning_rate=0.1, beta=0.5)
      >>> state = tx.init({"w": jnp.zeros(1)})
      >>> u, state = tx.update({"w": jnp.array([4.0])}, state)
      >>> u, state = tx.update({"w": jnp.array([-1.0])}, state)
      >>> u["w"]  # the average 0.5 * -1 + 0.5 * 2 is still positive
      Array([-0.1], dtype=float32)

    References:
      Bernstein et al., *signSGD: Compressed Optimisation for Non-Convex
      Problems*, ICML 2018, https://arxiv.org/abs/1802.04434
    """
    _checks.check_decay("beta", beta, where="signum")
    return chain(
        ema(beta, debias=False, accumulator_dtype=accumulator_dtype),
        scale_by_sign(),
        scale_by_learning_rate(learning_rate),
    )


def polyak_sgd(
    max_learning_rate: jax.typing.ArrayLike = 1.0,
    scaling: ScalarOrSchedule = 1.0,
    f_min: jax.typing.ArrayLike = 0.0,
    eps: jax.typing.ArrayLike = 0.0,
    variant: str = "sps",
) -> GradientTransformationExtraArgs:
    """SGD with Polyak's step size, computed from the current loss value.

    .. math::

        \\theta_{t+1} = \\theta_t - \\min\\left\\{
        \\frac{f(\\theta_t) - f^\\star}{s_t^2 \\|g_t\\|^2 + \\epsilon},
        \\ \\gamma_{\\max}\\right\\} s_t\\, g_t

    where :math:`s_t` = ``scaling``; ``variant="sps+"`` uses the positive
    part of :math:`f(\\theta_t) - f^\\star`. Call
    ``update(grads, state, params, value=loss)``.

    Args:
      max_learning_rate: :math:`\\gamma_{\\max}`, the largest step size.
      scaling: :math:`s_t`, a number or a schedule applied before the Polyak
        step (so the squared norm in the denominator includes it).
      f_min: :math:`f^\\star`, a lower bound on the loss.
      eps: :math:`\\epsilon \\ge 0`, added to the squared norm.
      variant: ``"sps"`` or ``"sps+"``.

    Returns:
      A gradient transformation: ``chain(sgd(scaling), scale_by_polyak)``; its
      ``update`` needs ``value=``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum(x**2)
      >>> tx = optjax.polyak_sgd()
      >>> params = jnp.array([1.0, 2.0])
      >>> state = tx.init(params)
      >>> value, grad = jax.value_and_grad(f)(params)
      >>> updates, state = tx.update(grad, state, params, value=value)
      >>> optjax.apply_updates(params, updates)  # the step 5 / 20 halves x
      Array([0.5, 1. ], dtype=float32)

    References:
      Loizou et al., *Stochastic Polyak Step-size for SGD: An Adaptive Learning
      Rate for Fast Convergence*, AISTATS 2021, https://arxiv.org/abs/2002.10542

      Garrigos et al., *Function Value Learning: Adaptive Learning Rates Based
      on the Polyak Stepsize and Function Splitting in ERM*, 2023,
      https://arxiv.org/abs/2307.14528
    """
    return chain(
        sgd(learning_rate=scaling),
        scale_by_polyak(max_learning_rate=max_learning_rate, f_min=f_min, eps=eps, variant=variant),
    )
