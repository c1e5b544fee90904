"""Layer-wise adaptive optimizers: LAMB, LARS, Fromage and NovoGrad.

Each leaf of the parameter tree is treated as one layer: its step is scaled by
a per-leaf statistic (a trust ratio or a gradient norm).
"""

from __future__ import annotations

import jax

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, MaskOrFn, ScalarOrSchedule
from optjax.transforms._adam_family import scale_by_adam
from optjax.transforms._adam_variants import scale_by_novograd
from optjax.transforms._basic import scale_by_learning_rate, trace
from optjax.transforms._combinators._chain import chain
from optjax.transforms._combinators._masking import masked
from optjax.transforms._layerwise import scale_by_trust_ratio
from optjax.transforms._regularization import add_decayed_weights, decayed_weights_unchecked


def lamb(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-6,
    eps_root: jax.typing.ArrayLike = 0.0,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: MaskOrFn | None = None,
) -> GradientTransformationExtraArgs:
    """The LAMB optimizer: AdamW's direction rescaled per layer by a trust ratio.

    For each leaf :math:`\\ell`, with :math:`\\hat m, \\hat v` as in :func:`adam`:

    .. math::

        d_\\ell = \\frac{\\hat m_\\ell}{\\sqrt{\\hat v_\\ell + \\bar\\epsilon} + \\epsilon}
        + \\lambda\\, \\theta_\\ell, \\qquad
        u_\\ell = -\\eta_t\\, \\frac{\\|\\theta_\\ell\\|}{\\|d_\\ell\\|}\\, d_\\ell

    (the ratio is 1 when either norm is zero).

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-gradient average, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.
      weight_decay: :math:`\\lambda`, a number or a schedule.
      mask: a boolean tree (or function of the params) selecting decayed leaves.

    Returns:
      A gradient transformation; ``update`` needs ``params``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> solver = optjax.lamb(learning_rate=0.1)
      >>> params = jnp.array([3.0, -4.0])
      >>> updates, _ = solver.update(2 * params, solver.init(params), params)
      >>> print([f"{v:.4f}" for v in updates])  # a step of length 0.1 * ||params||
      ['-0.3536', '0.3536']

    References:
      You et al., *Large Batch Optimization for Deep Learning: Training BERT in
      76 minutes*, ICLR 2020, https://arxiv.org/abs/1904.00962
    """
    return chain(
        scale_by_adam(b1=b1, b2=b2, eps=eps, eps_root=eps_root),
        add_decayed_weights(weight_decay=weight_decay, mask=mask),
        scale_by_trust_ratio(),
        scale_by_learning_rate(learning_rate),
    )


def lars(
    learning_rate: ScalarOrSchedule,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_decay_mask: MaskOrFn = True,
    trust_coefficient: jax.typing.ArrayLike = 0.001,
    eps: jax.typing.ArrayLike = 0.0,
    trust_ratio_mask: MaskOrFn = True,
    momentum: jax.typing.ArrayLike = 0.9,
    nesterov: bool = False,
) -> GradientTransformationExtraArgs:
    """The LARS optimizer: momentum SGD with a per-layer trust ratio.

    For each leaf :math:`\\ell`:

    .. math::

        d_\\ell = g_\\ell + \\lambda\\, \\theta_\\ell, \\qquad
        s_\\ell = -\\eta_t\\, \\frac{c\\, \\|\\theta_\\ell\\|}{\\|d_\\ell\\| + \\epsilon}\\, d_\\ell,
        \\qquad m_\\ell \\leftarrow s_\\ell + \\mu\\, m_\\ell, \\qquad u_\\ell = m_\\ell

    (the ratio is 1 when either norm is zero; Nesterov uses
    :math:`u_\\ell = s_\\ell + \\mu m_\\ell`).

    .. warning::
      The momentum buffer accumulates steps already multiplied by the
      learning rate (as in Optax), so changing the learning rate mid-training
      does not rescale the momentum already accumulated. Implementations that
      apply the learning rate after the momentum differ under schedules.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      weight_decay: :math:`\\lambda`, a number or a schedule.
      weight_decay_mask: a boolean tree (or function of the params) selecting
        the decayed leaves; ``True`` decays all of them.
      trust_coefficient: :math:`c`, a multiplier for the trust ratio.
      eps: :math:`\\epsilon`, added to the update norm.
      trust_ratio_mask: a boolean tree (or function of the params) selecting
        the leaves that get a trust ratio; ``True`` selects all of them.
      momentum: :math:`\\mu`, the momentum decay, in [0, 1).
      nesterov: use Nesterov momentum.

    Returns:
      A gradient transformation; ``update`` needs ``params``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> solver = optjax.lars(learning_rate=1.0, trust_coefficient=0.1)
      >>> params = jnp.array([3.0, -4.0])
      >>> updates, _ = solver.update(2 * params, solver.init(params), params)
      >>> print([f"{v:.4f}" for v in updates])  # a step of length 0.1 * ||params||
      ['-0.3000', '0.4000']

    References:
      You, Gitman & Ginsburg, *Large Batch Training of Convolutional Networks*,
      2017, https://arxiv.org/abs/1708.03888
    """
    # Checked here so that the message names lars's own argument, not trace's.
    _checks.check_decay("momentum", momentum, where="lars")
    return chain(
        add_decayed_weights(weight_decay, mask=weight_decay_mask),
        masked(
            scale_by_trust_ratio(trust_coefficient=trust_coefficient, eps=eps),
            trust_ratio_mask,
        ),
        scale_by_learning_rate(learning_rate),
        trace(decay=momentum, nesterov=nesterov),
    )


def fromage(
    learning_rate: ScalarOrSchedule,
    min_norm: jax.typing.ArrayLike = 1e-6,
) -> GradientTransformationExtraArgs:
    """The Fromage optimizer: trust-ratio steps with a shrink that keeps norms stable.

    For each leaf :math:`\\ell`, with norms clipped below at ``min_norm``:

    .. math::

        \\theta_\\ell \\leftarrow \\frac{1}{\\sqrt{1 + \\eta_t^2}}
        \\left(\\theta_\\ell - \\eta_t\\, \\frac{\\|\\theta_\\ell\\|}{\\|g_\\ell\\|}\\, g_\\ell\\right),

    implemented as a trust ratio, the scaled learning rate and a negative
    weight decay :math:`1/\\sqrt{1+\\eta_t^2} - 1`.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      min_norm: lower bound for the parameter and gradient norms.

    Returns:
      A gradient transformation; ``update`` needs ``params``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> solver = optjax.fromage(learning_rate=0.1)
      >>> params = jnp.array([3.0, -4.0])
      >>> updates, _ = solver.update(2 * params, solver.init(params), params)
      >>> print([f"{v:.4f}" for v in optjax.apply_updates(params, updates)])
      ['2.6866', '-3.5821']

    References:
      Bernstein et al., *On the distance between two neural networks and the
      stability of learning*, NeurIPS 2020, https://arxiv.org/abs/2002.03432
    """
    _checks.check_non_negative("min_norm", min_norm, where="fromage")
    if callable(learning_rate):

        def shrink(count):
            return 1 / (1 + learning_rate(count) ** 2) ** 0.5

        return chain(
            scale_by_trust_ratio(min_norm),
            scale_by_learning_rate(lambda count: shrink(count) * learning_rate(count)),
            decayed_weights_unchecked(lambda count: shrink(count) - 1),
        )
    factor = 1 / (1 + learning_rate**2) ** 0.5
    # The decay is negative by design: it pulls the parameters back in.
    return chain(
        scale_by_trust_ratio(min_norm),
        scale_by_learning_rate(learning_rate * factor),
        decayed_weights_unchecked(factor - 1),
    )


def novograd(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.25,
    eps: jax.typing.ArrayLike = 1e-6,
    eps_root: jax.typing.ArrayLike = 0.0,
    weight_decay: ScalarOrSchedule = 0.0,
) -> GradientTransformationExtraArgs:
    """The NovoGrad optimizer: momentum on gradients normalized by per-layer norms.

    For each leaf :math:`\\ell`:

    .. math::

        v_\\ell = \\beta_2 v_\\ell + (1-\\beta_2) \\|g_\\ell\\|^2 \\ (v_\\ell = \\|g_\\ell\\|^2
        \\text{ at the first step}), \\\\
        m_\\ell = \\beta_1 m_\\ell + \\frac{g_\\ell}{\\sqrt{v_\\ell + \\bar\\epsilon}
        + \\epsilon} + \\lambda\\, \\theta_\\ell, \\qquad u_\\ell = -\\eta_t\\, m_\\ell.

    The second moment is one scalar per leaf, so NovoGrad needs about half of
    Adam's memory.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: :math:`\\beta_1`, the momentum, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-norm average, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.
      weight_decay: :math:`\\lambda`, a constant (not a schedule) added inside
        the momentum.

    Returns:
      A gradient transformation; ``update`` needs ``params``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> solver = optjax.novograd(learning_rate=0.1)
      >>> params = jnp.array([3.0, -4.0])
      >>> updates, _ = solver.update(2 * params, solver.init(params), params)
      >>> print([f"{v:.4f}" for v in updates])
      ['-0.0600', '0.0800']

    References:
      Ginsburg et al., *Stochastic Gradient Methods with Layer-wise Adaptive
      Moments for Training of Deep Networks*, 2019,
      https://arxiv.org/abs/1905.11286
    """
    return chain(
        scale_by_novograd(b1=b1, b2=b2, eps=eps, eps_root=eps_root, weight_decay=weight_decay),
        scale_by_learning_rate(learning_rate),
    )
