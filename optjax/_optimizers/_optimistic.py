"""Optax's first Optimistic Adam, kept for drop-in use (deprecated in favour of v2)."""

from __future__ import annotations

import warnings
from typing import Any

import jax

from optjax._base import GradientTransformationExtraArgs
from optjax.transforms._adam_family import scale_by_adam
from optjax.transforms._adam_variants import scale_by_optimistic_gradient
from optjax.transforms._basic import scale_by_learning_rate
from optjax.transforms._combinators._chain import chain


def optimistic_adam(
    learning_rate: jax.typing.ArrayLike,
    optimism: jax.typing.ArrayLike | None = None,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-08,
    eps_root: jax.typing.ArrayLike = 0.0,
    mu_dtype: Any | None = None,
    *,
    nesterov: bool = True,
) -> GradientTransformationExtraArgs:
    """Optimistic Adam with a fixed learning rate (deprecated: use ``optimistic_adam_v2``).

    With :math:`r_t` the (by default Nesterov) Adam direction of
    :func:`optjax.adam`, :math:`\\alpha` the learning rate and :math:`o` the
    optimism:

    .. math::

        r_t = \\frac{\\hat m_t}{\\sqrt{\\hat v_t + \\bar\\epsilon} + \\epsilon}, \\qquad
        u_t = -\\left((\\alpha + o)\\, r_t - o\\, r_{t-1}\\right), \\qquad r_0 := r_1 .

    As in Optax, calling it emits a ``DeprecationWarning``, and a schedule for
    ``learning_rate`` is refused (:func:`optjax.optimistic_adam_v2` takes
    one, with ``optimistic_adam(lr, o)`` equal to
    ``optimistic_adam_v2(1.0, alpha=lr, beta=o)``).

    Args:
      learning_rate: :math:`\\alpha`, a number (not a schedule).
      optimism: :math:`o`; ``None`` uses the learning rate, as in the paper.
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-gradient average, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.
      mu_dtype: storage dtype of the first moment; ``None`` keeps the params'.
      nesterov: use Nesterov momentum in the Adam direction.

    Returns:
      A gradient transformation with
      ``(ScaleByAdamState, ScaleByOptimisticGradientState, ScaleState)`` state.

    Raises:
      ValueError: if ``learning_rate`` is a schedule.

    Examples:
      >>> import warnings
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> with warnings.catch_warnings():
      ...     warnings.simplefilter("ignore", DeprecationWarning)
      ...     solver = optjax.optimistic_adam(0.1)
      >>> params = jnp.array([1.0, -2.0])
      >>> updates, _ = solver.update(2 * params, solver.init(params), params)
      >>> print([f"{v:.4f}" for v in updates])
      ['-0.1474', '0.1474']

    References:
      Daskalakis et al., *Training GANs with Optimism*, ICLR 2018,
      https://arxiv.org/abs/1711.00141
    """
    warnings.warn(
        "`optimistic_adam` is deprecated; use `optimistic_adam_v2`, which also takes "
        "learning-rate schedules.",
        category=DeprecationWarning,
        stacklevel=2,
    )
    if callable(learning_rate):
        raise ValueError(
            "optimistic_adam: learning_rate must be a number, not a schedule; "
            "optimistic_adam_v2 takes schedules."
        )
    if optimism is None:
        optimism = learning_rate
    return chain(
        scale_by_adam(
            b1=b1, b2=b2, eps=eps, eps_root=eps_root, mu_dtype=mu_dtype, nesterov=nesterov
        ),
        scale_by_optimistic_gradient(alpha=learning_rate, beta=optimism),
        scale_by_learning_rate(1.0),
    )
