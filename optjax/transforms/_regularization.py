"""Weight decay and regularization penalties, expressed on the gradient."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import (
    EmptyState,
    GradientTransformationExtraArgs,
    MaskOrFn,
    ScalarOrSchedule,
    transformation,
)
from optjax.transforms._combinators._masking import masked
from optjax.tree import _math as _tree

AddDecayedWeightsState = EmptyState


class WeightDecayScheduleState(NamedTuple):
    """State of :func:`add_decayed_weights` with a scheduled decay: the step count."""

    count: jax.Array


def add_decayed_weights(
    weight_decay: ScalarOrSchedule = 0.0,
    mask: MaskOrFn | None = None,
) -> GradientTransformationExtraArgs:
    """Adds decoupled weight decay: the parameters times a rate.

    .. math::

        u = g + \\lambda_t\\, \\theta

    Placed after an adaptive scaling and before the learning rate, this is
    AdamW's decoupled decay; placed first, it is the gradient of the L2 penalty
    :math:`\\tfrac{\\lambda}{2}\\|\\theta\\|^2` (PyTorch's ``weight_decay``).

    Args:
      weight_decay: :math:`\\lambda \\ge 0`, a number or a schedule of the step count.
      mask: a boolean tree (or a function of the params returning one) selecting
        the leaves to decay; typically kernels but not biases or norms.

    Returns:
      A gradient transformation that needs ``params`` in ``update``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.add_decayed_weights(0.1)
      >>> params = {"w": jnp.array([2.0])}
      >>> tx.update({"w": jnp.array([1.0])}, tx.init(params), params)[0]
      {'w': Array([1.2], dtype=float32)}

    References:
      Loshchilov & Hutter, *Decoupled Weight Decay Regularization*, ICLR 2019,
      https://arxiv.org/abs/1711.05101
    """
    if not callable(weight_decay):
        _checks.check_non_negative("weight_decay", weight_decay, where="add_decayed_weights")
    return decayed_weights_unchecked(weight_decay, mask)


def decayed_weights_unchecked(
    weight_decay: ScalarOrSchedule, mask: MaskOrFn | None = None
) -> GradientTransformationExtraArgs:
    """:func:`add_decayed_weights` without the sign check, for internal use.

    :func:`optjax.fromage` decays by a *negative* rate to pull the parameters
    back after each step; users asking for a negative decay are almost always
    mistaken, so only the public constructor rejects it.
    """
    scheduled = callable(weight_decay)

    def init_fn(params):
        del params
        if scheduled:
            return WeightDecayScheduleState(count=jnp.zeros([], jnp.int32))
        return EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        if scheduled:
            rate = weight_decay(state.count)
            state = WeightDecayScheduleState(count=_tree.safe_increment(state.count))
        else:
            rate = weight_decay
            if isinstance(rate, (int, float)) and rate == 0.0:
                return updates, state
        updates = _tree.map(
            lambda g, p: g + rate * p,
            updates,
            params,
            names=("updates", "params"),
            where="add_decayed_weights",
        )
        return updates, state

    tx = transformation(init_fn, update_fn, name="add_decayed_weights", needs_params=True)
    return masked(tx, mask) if mask is not None else tx


def _penalty(
    name: str, coefficient: Any, leaf_fn: Any, mask: MaskOrFn | None
) -> GradientTransformationExtraArgs:
    def update_fn(updates, state, params=None, **extra_args):
        updates = _tree.map(
            lambda g, p: g + coefficient * leaf_fn(p),
            updates,
            params,
            names=("updates", "params"),
            where=name,
        )
        return updates, state

    tx = transformation(lambda params: EmptyState(), update_fn, name=name, needs_params=True)
    return masked(tx, mask) if mask is not None else tx


def add_l2_penalty(
    l2: jax.typing.ArrayLike,
    mask: MaskOrFn | None = None,
) -> GradientTransformationExtraArgs:
    """Adds the gradient of a Keras-style L2 penalty :math:`\\lambda \\sum \\theta^2`.

    The penalty added to the loss is :math:`\\lambda \\sum_i \\theta_i^2` (Keras's
    ``regularizers.L2(l2)``, no factor :math:`\\tfrac12`), so its gradient is
    added to the updates:

    .. math::

        u = g + 2 \\lambda\\, \\theta

    Put it first in a chain, before the optimizer, so that the penalty's
    gradient goes through the optimizer like the loss's.

    .. warning::
      ``add_l2_penalty(l2)`` equals :func:`add_decayed_weights` with
      ``weight_decay=2 * l2`` placed before the optimizer (PyTorch's
      ``weight_decay=2 * l2``): mind the factor 2 when porting a
      hyperparameter. It is *not* AdamW's decoupled weight decay, which is
      :func:`add_decayed_weights` placed after the adaptive scaling; under an
      adaptive optimizer the two regularize differently.

    Args:
      l2: the penalty coefficient :math:`\\lambda \\ge 0`.
      mask: a boolean tree (or a function of the params returning one)
        selecting the leaves to penalize; typically kernels but not biases.

    Returns:
      A stateless gradient transformation that needs ``params`` in ``update``.

    Raises:
      ValueError: if ``l2`` is a negative number.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.chain(optjax.add_l2_penalty(0.1), optjax.scale_by_learning_rate(1.0))
      >>> params = {"w": jnp.array([1.0, -2.0])}
      >>> tx.update({"w": jnp.array([0.0, 0.0])}, tx.init(params), params)[0]["w"]
      Array([-0.2,  0.4], dtype=float32)

    References:
      Krogh & Hertz, *A Simple Weight Decay Can Improve Generalization*,
      NeurIPS 1991. Keras regularizers: https://keras.io/api/layers/regularizers/
    """
    _checks.check_non_negative("l2", l2, where="add_l2_penalty")
    return _penalty("add_l2_penalty", 2 * l2, lambda p: p, mask)


def add_l1_penalty(
    l1: jax.typing.ArrayLike,
    mask: MaskOrFn | None = None,
) -> GradientTransformationExtraArgs:
    """Adds the (sub)gradient of a Keras-style L1 penalty :math:`\\lambda \\sum |\\theta|`.

    The penalty added to the loss is :math:`\\lambda \\sum_i |\\theta_i|` (Keras's
    ``regularizers.L1(l1)``), so its subgradient is added to the updates:

    .. math::

        u = g + \\lambda\\, \\operatorname{sign}(\\theta)

    Put it first in a chain, before the optimizer. The L1 penalty pushes
    small weights towards exactly zero (sparsity), unlike the L2 penalty.

    .. warning::
      At :math:`\\theta_i = 0` the added term is 0 (the subgradient of least
      norm), whereas ``jax.grad`` of ``jnp.abs`` returns 1 there. Away from
      zero the two agree.

    Args:
      l1: the penalty coefficient :math:`\\lambda \\ge 0`.
      mask: a boolean tree (or a function of the params returning one)
        selecting the leaves to penalize.

    Returns:
      A stateless gradient transformation that needs ``params`` in ``update``.

    Raises:
      ValueError: if ``l1`` is a negative number.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.add_l1_penalty(0.1)
      >>> params = {"w": jnp.array([3.0, 0.0, -2.0])}
      >>> tx.update({"w": jnp.array([1.0, 1.0, 1.0])}, tx.init(params), params)[0]["w"]
      Array([1.1, 1. , 0.9], dtype=float32)

    References:
      Tibshirani, *Regression Shrinkage and Selection via the Lasso*, 1996.
      Keras regularizers: https://keras.io/api/layers/regularizers/
    """
    _checks.check_non_negative("l1", l1, where="add_l1_penalty")
    return _penalty("add_l1_penalty", l1, jnp.sign, mask)
