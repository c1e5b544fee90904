"""Parameter averaging kept in the optimizer state: EMA and SWA (Polyak) averages.

Both transforms sit last in a chain, leave the updates untouched, and track an
average of the parameters the step produces, ``params + updates``. The average
is read with :func:`averaged_params`.
"""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, transformation
from optjax._flax_adapter import strip_variables
from optjax.tree import _math as _tree


class EmaParamsState(NamedTuple):
    """State of :func:`ema_params`: the step count and the averaged parameters."""

    count: jax.Array
    ema: Any


class SwaParamsState(NamedTuple):
    """State of :func:`swa_params`: the step count, how many iterates are averaged, and their mean."""

    count: jax.Array
    n_averaged: jax.Array
    mean: Any


def _new_params(params: Any, updates: Any, dtype: Any) -> Any:
    """The parameters after this step, rounded as ``apply_updates`` rounds them."""

    def leaf(p, u):
        p = jnp.asarray(p)
        new = (p + u).astype(p.dtype)
        if dtype is None or jnp.dtype(dtype) == p.dtype:
            return new
        wide = new.astype(dtype)
        if jnp.issubdtype(p.dtype, jnp.floating) and jnp.dtype(dtype).itemsize > p.dtype.itemsize:
            # Under jit XLA may drop a narrow-then-wide cast pair and keep the
            # unrounded sum; reduce_precision keeps the rounding apply_updates does.
            info = jnp.finfo(p.dtype)
            wide = jax.lax.reduce_precision(wide, exponent_bits=info.nexp, mantissa_bits=info.nmant)
        return wide

    return _tree.map(leaf, params, updates, names=("params", "updates"), where="averaging")


def _copy(params: Any, dtype: Any) -> Any:
    return jax.tree.map(lambda p: jnp.array(p, dtype=dtype), params)


def ema_params(
    decay: jax.typing.ArrayLike,
    debias: bool = True,
    accumulator_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """Keeps an exponential moving average of the parameters in the state.

    .. math::

        \\theta_t = \\theta_{t-1} + u_t, \\qquad
        \\bar\\theta_t = \\begin{cases}
          w_t\\,\\theta_t + (1 - w_t)\\,\\bar\\theta_{t-1},\\quad
          w_t = \\frac{1-\\beta}{1-\\beta^t} & \\texttt{debias} \\\\
          (1-\\beta)\\,\\theta_t + \\beta\\,\\bar\\theta_{t-1} & \\text{otherwise}
        \\end{cases}, \\qquad \\bar\\theta_0 = \\theta_0

    The updates pass through unchanged. Without ``debias`` the average starts
    at the initial parameters (Polyak-Ruppert with exponential weights, as
    in Flax and timm): :math:`\\bar\\theta_t = \\beta^t\\theta_0 + (1-\\beta)
    \\sum_{k=1}^t \\beta^{t-k}\\theta_k`. With ``debias`` the initial
    parameters get no weight once a step is taken: the state holds the
    bias-corrected average :math:`\\frac{1-\\beta}{1-\\beta^t}\\sum_{k=1}^t
    \\beta^{t-k}\\theta_k` directly (so :math:`\\bar\\theta_1 = \\theta_1`),
    the same quantity as :func:`optjax.ema` with ``debias=True`` applied to the
    parameter sequence.

    .. warning::
       Place it **last** in the chain, after the learning rate, and apply its
       updates unchanged with :func:`optjax.apply_updates`: it assumes that
       the updates it sees are exactly what is added to the parameters. Placed
       earlier, it averages points the parameters never visit (a gradient
       step, not a parameter step). Its ``update`` needs ``params``.

    Args:
      decay: :math:`\\beta`, in [0, 1).
      debias: weight the steps so that the average is unbiased from the first
        step (see above); ``False`` starts from the initial parameters.
      accumulator_dtype: dtype of the average (float32 is a good choice for
        bfloat16 parameters); ``None`` uses each parameter's dtype.

    Returns:
      A gradient transformation with an :class:`EmaParamsState`; read the
      average with :func:`averaged_params`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.chain(optjax.sgd(1.0), optjax.ema_params(0.5, debias=False))
      >>> params = {"w": jnp.array([0.0])}
      >>> state = tx.init(params)
      >>> for grad in (-2.0, -2.0):
      ...     updates, state = tx.update({"w": jnp.array([grad])}, state, params)
      ...     params = optjax.apply_updates(params, updates)
      >>> params["w"], optjax.averaged_params(state)["w"]  # 0.25*0 + 0.25*2 + 0.5*4
      (Array([4.], dtype=float32), Array([2.5], dtype=float32))

    References:
      Polyak & Juditsky, *Acceleration of Stochastic Approximation by
      Averaging*, SIAM J. Control Optim. 1992, https://doi.org/10.1137/0330046
    """
    _checks.check_decay("decay", decay, where="ema_params")

    def init_fn(params):
        return EmaParamsState(count=jnp.zeros([], jnp.int32), ema=_copy(params, accumulator_dtype))

    def update_fn(updates, state, params=None, **extra_args):
        count = _tree.safe_increment(state.count)
        current = _new_params(params, updates, accumulator_dtype)
        if debias:
            weight = (1 - decay) / (1 - decay**count)

            def average(new, old):
                w = weight.astype(jnp.asarray(old).dtype)
                return (w * new + (1 - w) * old).astype(jnp.asarray(old).dtype)

        else:

            def average(new, old):
                return ((1 - decay) * new + decay * old).astype(jnp.asarray(old).dtype)

        ema = _tree.map(average, current, state.ema, where="ema_params")
        return updates, EmaParamsState(count=count, ema=ema)

    return transformation(init_fn, update_fn, name="ema_params", needs_params=True)


def _check_step(name: str, value: Any, *, minimum: int) -> None:
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Integral)
        or value < minimum
    ):
        raise ValueError(f"swa_params: {name} must be an integer >= {minimum}, got {value!r}.")


def swa_params(
    start_step: int = 0,
    period: int = 1,
    accumulator_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """Keeps the uniform (SWA / Polyak) average of the parameters in the state.

    .. math::

        \\theta_t = \\theta_{t-1} + u_t, \\qquad
        \\bar\\theta_t = \\frac{1}{|S_t|}\\sum_{k \\in S_t} \\theta_k, \\qquad
        S_t = \\{k \\le t : k \\ge t_0,\\ (k - t_0) \\bmod p = 0\\}

    with :math:`t_0` = ``start_step`` and :math:`p` = ``period``. The mean is
    updated incrementally, as ``torch.optim.swa_utils.AveragedModel`` does:
    :math:`\\bar\\theta \\leftarrow \\bar\\theta + (\\theta_t - \\bar\\theta) / n`.
    :math:`\\theta_0` (the parameters given to ``init``) counts when
    ``start_step == 0``. Until the first averaged step the state follows the
    current parameters, so :func:`averaged_params` always returns a usable
    model. The updates pass through unchanged.

    .. warning::
       Place it **last** in the chain, after the learning rate, and apply its
       updates unchanged with :func:`optjax.apply_updates`: it assumes that
       the updates it sees are exactly what is added to the parameters. Placed
       earlier, it averages points the parameters never visit (a gradient
       step, not a parameter step). Its ``update`` needs ``params``.

    Args:
      start_step: :math:`t_0`, the first step (number of updates applied)
        whose parameters enter the average.
      period: :math:`p`, average every ``period``-th step from ``start_step``
        (1 averages every step; SWA usually averages once per epoch).
      accumulator_dtype: dtype of the mean (float32 is a good choice for
        bfloat16 parameters); ``None`` uses each parameter's dtype.

    Returns:
      A gradient transformation with a :class:`SwaParamsState`; read the
      average with :func:`averaged_params`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.chain(optjax.sgd(1.0), optjax.swa_params(start_step=1))
      >>> params = {"w": jnp.array([0.0])}
      >>> state = tx.init(params)
      >>> for grad in (-1.0, -2.0, -3.0):
      ...     updates, state = tx.update({"w": jnp.array([grad])}, state, params)
      ...     params = optjax.apply_updates(params, updates)
      >>> params["w"], optjax.averaged_params(state)["w"]  # mean of 1, 3, 6
      (Array([6.], dtype=float32), Array([3.3333335], dtype=float32))

    References:
      Izmailov, Podoprikhin, Garipov, Vetrov & Wilson, *Averaging Weights
      Leads to Wider Optima and Better Generalization*, UAI 2018,
      https://arxiv.org/abs/1803.05407
    """
    _check_step("start_step", start_step, minimum=0)
    _check_step("period", period, minimum=1)

    def init_fn(params):
        return SwaParamsState(
            count=jnp.zeros([], jnp.int32),
            n_averaged=jnp.asarray(1 if start_step == 0 else 0, jnp.int32),
            mean=_copy(params, accumulator_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        count = _tree.safe_increment(state.count)
        current = _new_params(params, updates, accumulator_dtype)
        include = (count >= start_step) & ((count - start_step) % period == 0)
        n_averaged = state.n_averaged + include.astype(jnp.int32)
        # Before the first averaged step, and at it, the mean is the current
        # parameters exactly (no rounding through the incremental formula).
        take_current = (n_averaged == 0) | (include & (n_averaged == 1))

        def average(new, old):
            dtype = jnp.asarray(old).dtype
            mean = (old + (new - old) / n_averaged.astype(dtype)).astype(dtype)
            return jnp.where(take_current, new, jnp.where(include, mean, old))

        mean = _tree.map(average, current, state.mean, where="swa_params")
        return updates, SwaParamsState(count=count, n_averaged=n_averaged, mean=mean)

    return transformation(init_fn, update_fn, name="swa_params", needs_params=True)


_AVERAGING_STATES = (EmaParamsState, SwaParamsState)


def averaged_params(state: Any) -> Any:
    """Returns the averaged parameters kept by :func:`ema_params` or :func:`swa_params`.

    .. math::

        \\mathrm{averaged\\_params}(s) = \\bar\\theta

    The averaging state is found wherever it sits in the optimizer state
    (inside :func:`~optjax.chain` tuples, :func:`~optjax.named_chain` dicts,
    masked or injected states...).

    Args:
      state: an optimizer state containing exactly one
        :class:`EmaParamsState` or :class:`SwaParamsState`.

    Returns:
      The averaged parameters, a tree shaped like the parameters, in the
      accumulator's dtype.

    Raises:
      ValueError: if there is no averaging state, or more than one.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.chain(optjax.adam(1e-3), optjax.ema_params(0.999))
      >>> state = tx.init({"w": jnp.array([1.0, 2.0])})
      >>> optjax.averaged_params(state)
      {'w': Array([1., 2.], dtype=float32)}
    """

    def is_averaging(node):
        return isinstance(node, _AVERAGING_STATES)

    found = [n for n in jax.tree.leaves(state, is_leaf=is_averaging) if is_averaging(n)]
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise ValueError(
            f"averaged_params: found {what} ema_params/swa_params states in the optimizer "
            f"state; expected exactly one{'' if not found else ' (pass the sub-state you mean)'}."
        )
    node = found[0]
    # flax.nnx.Optimizer wraps state arrays in variables; return the arrays.
    return strip_variables(node.ema if isinstance(node, EmaParamsState) else node.mean)
