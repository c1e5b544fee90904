"""Schedule-Free learning: interpolation and averaging in place of momentum and decay.

Schedule-Free keeps two sequences, the base optimizer's iterates :math:`z_t`
and their weighted running average :math:`x_t`, and evaluates gradients at an
interpolation :math:`y_t` of the two. The parameters the caller holds are
:math:`y_t`; :func:`schedule_free_eval_params` recovers :math:`x_t` (the point
to evaluate and ship) from ``y`` and the state.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    transformation,
    with_extra_args_support,
)
from optjax._optimizers._sgd import sgd
from optjax.schedules._warmup import warmup_constant_schedule
from optjax.transforms._basic import scale_by_learning_rate
from optjax.transforms._combinators._chain import chain
from optjax.transforms._regularization import add_decayed_weights
from optjax.transforms._rms_family import scale_by_rms
from optjax.tree import _math as _tree


def lowest_float_dtype(tree: Any) -> Any:
    """The lowest dtype among the leaves (the one every other leaf promotes from).

    Scalar state (step sizes, weight sums) is kept in this dtype so that mixing
    it with any leaf never promotes that leaf. An empty tree gives JAX's
    default float dtype.
    """
    # ``.dtype`` first, so abstract params (jax.ShapeDtypeStruct) work too.
    dtypes = [
        x.dtype if hasattr(x, "dtype") else jnp.asarray(x).dtype for x in jax.tree.leaves(tree)
    ]
    if not dtypes:
        return jnp.asarray([]).dtype

    def lower(a, b):
        if jnp.promote_types(a, b) == a:
            return b
        if jnp.promote_types(a, b) == b:
            return a
        raise ValueError(f"the parameter dtypes {a} and {b} do not promote to one another.")

    return functools.reduce(lower, dtypes)


class ScheduleFreeState(NamedTuple):
    """State of :func:`schedule_free` (field names as in Optax).

    Attributes:
      b1: the interpolation weight :math:`\\beta_1`, kept for
        :func:`schedule_free_eval_params`.
      weight_sum: :math:`\\sum_{i \\le t} w_i`, the total averaging weight.
      step_count: the step :math:`t`, starting at 1.
      max_lr: the largest learning rate seen so far.
      base_optimizer_state: the wrapped optimizer's state.
      z: the base optimizer's iterates :math:`z_t`.
    """

    b1: jax.Array
    weight_sum: jax.Array
    step_count: jax.Array
    max_lr: jax.Array
    base_optimizer_state: Any
    z: Any


def _check_b1(b1: Any, where: str) -> None:
    _checks.check_in_interval("b1", b1, 0.0, 1.0, closed_low=False, closed_high=True, where=where)


def _check_common(where: str, learning_rate: Any, b1: Any, weight_lr_power: Any) -> None:
    if not callable(learning_rate):
        _checks.check_non_negative("learning_rate", learning_rate, where=where)
    _check_b1(b1, where)
    _checks.check_non_negative("weight_lr_power", weight_lr_power, where=where)


def schedule_free(
    base_optimizer: Any,
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    weight_lr_power: jax.typing.ArrayLike = 2.0,
    state_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """Makes any base optimizer schedule-free (Defazio et al., 2024).

    With :math:`\\Delta_t` the base optimizer's update (a plain
    :math:`-\\gamma_t g_t` for SGD), :math:`y_t` the parameters passed to
    ``update`` and :math:`\\bar\\gamma_t = \\max_{i \\le t} \\gamma_i`:

    .. math::

        z_{t+1} = z_t + \\Delta_t(\\nabla f(y_t)), \\qquad
        x_t = \\frac{y_t - (1-\\beta_1) z_t}{\\beta_1}, \\\\
        c_{t+1} = \\frac{\\bar\\gamma_t^{\\,r}}{\\sum_{i \\le t} \\bar\\gamma_i^{\\,r}},
        \\qquad
        x_{t+1} = (1 - c_{t+1})\\, x_t + c_{t+1} z_{t+1}, \\\\
        y_{t+1} = \\beta_1 x_{t+1} + (1-\\beta_1) z_{t+1}, \\qquad
        u_t = y_{t+1} - y_t,

    with :math:`r` = ``weight_lr_power`` and :math:`z_0 = x_0 = y_0`. Gradients
    are taken at :math:`y`; evaluate the model at :math:`x`
    (:func:`schedule_free_eval_params`). :math:`x` is recomputed from :math:`y`
    and :math:`z` each step rather than stored, so the memory cost is one extra
    copy of the parameters. A weight of 0/0 (zero learning rate so far, as in
    a warmup's first step) counts as :math:`c = 0`.

    Switch the base optimizer's own momentum off (``b1=0`` for Adam): the
    interpolation replaces it. The learning-rate schedule is evaluated at the
    step count starting from 1 (the base optimizer evaluates its own copy from
    0), as in Optax.

    .. warning::
      ``b1`` must be in (0, 1]: :math:`x` is recovered by dividing by
      :math:`\\beta_1`. This is Optax's convention; the paper's algorithm also
      allows :math:`\\beta_1 = 0` because it stores :math:`x`.

    Args:
      base_optimizer: the optimizer producing :math:`\\Delta_t` (including its
        learning rate), e.g. ``optjax.sgd(lr)``.
      learning_rate: :math:`\\gamma_t`, a number or a schedule (use a warmup
        without decay), used for the averaging weights.
      b1: :math:`\\beta_1`, the interpolation weight of :math:`x` in :math:`y`.
      weight_lr_power: :math:`r`, the power of the learning rate in the
        averaging weights (down-weights the warmup steps).
      state_dtype: dtype in which :math:`z` is stored; ``None`` keeps each
        parameter's dtype.

    Returns:
      A gradient transformation with a :class:`ScheduleFreeState`; ``update``
      needs ``params`` and passes extra keyword arguments to the base optimizer.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.schedule_free(optjax.sgd(0.5), learning_rate=0.5, b1=0.5)
      >>> params = {"w": jnp.array([2.0])}
      >>> state = tx.init(params)
      >>> for _ in range(3):
      ...     updates, state = tx.update(params, state, params)  # f = |w|^2 / 2
      ...     params = optjax.apply_updates(params, updates)
      >>> x = optjax.schedule_free_eval_params(state, params)
      >>> print(f"y={params['w'][0]:.4f} x={x['w'][0]:.4f}")
      y=0.3750 x=0.5625

    References:
      Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, *The Road Less
      Scheduled*, NeurIPS 2024, https://arxiv.org/abs/2405.15682
    """
    _check_common("schedule_free", learning_rate, b1, weight_lr_power)
    base_optimizer = with_extra_args_support(base_optimizer)

    def init_fn(params):
        dtype = lowest_float_dtype(params)
        z = params if state_dtype is None else _tree.cast(params, state_dtype)
        # A distinct buffer, so that params and z can both be donated.
        z = jax.tree.map(jnp.copy, z)
        return ScheduleFreeState(
            b1=jnp.asarray(b1, dtype=dtype),
            weight_sum=jnp.zeros([], dtype),
            step_count=jnp.ones([], jnp.int32),
            max_lr=jnp.zeros([], dtype),
            base_optimizer_state=base_optimizer.init(params),
            z=z,
        )

    def update_fn(updates, state, params=None, **extra_args):
        lr = learning_rate(state.step_count) if callable(learning_rate) else learning_rate
        max_lr = jnp.maximum(state.max_lr, jnp.asarray(lr, dtype=state.max_lr.dtype))
        weight = max_lr**weight_lr_power
        weight_sum = state.weight_sum + weight
        undefined = jnp.isnan(weight) | jnp.isnan(weight_sum)
        ck = jnp.where(
            undefined,
            jnp.full(weight.shape, jnp.nan, weight.dtype),
            jnp.nan_to_num(weight / weight_sum, nan=0.0, posinf=jnp.inf),
        )
        base_updates, base_state = base_optimizer.update(
            updates, state.base_optimizer_state, params, **extra_args
        )
        z = _tree.map(
            lambda zi, ui: jnp.asarray(zi + ui).astype(jnp.asarray(zi).dtype),
            state.z,
            base_updates,
            where="schedule_free",
        )
        # x is recomputed from y and z instead of stored: less memory, and it
        # stays exact when another wrapper has modified y.
        x_prev = _tree.map(
            lambda y, zi: (y - (1.0 - b1) * zi) / b1,
            params,
            state.z,
            names=("params", "optimizer state"),
            where="schedule_free",
        )
        x = _tree.map(lambda xi, zi: (1.0 - ck) * xi + ck * zi, x_prev, z, where="schedule_free")
        y_new = _tree.map(lambda xi, zi: b1 * xi + (1.0 - b1) * zi, x, z, where="schedule_free")
        new_updates = _tree.map(lambda yn, y: yn - y, y_new, params, where="schedule_free")
        new_state = ScheduleFreeState(
            b1=state.b1,
            weight_sum=weight_sum,
            step_count=_tree.safe_increment(state.step_count),
            max_lr=max_lr,
            base_optimizer_state=base_state,
            z=z,
        )
        return new_updates, new_state

    return transformation(init_fn, update_fn, name="schedule_free", needs_params=True)


def _find_schedule_free_state(state: Any) -> Any:
    if hasattr(state, "b1") and hasattr(state, "z"):
        return state
    found = [
        node
        for node in jax.tree.leaves(
            state, is_leaf=lambda n: hasattr(n, "b1") and hasattr(n, "z") and hasattr(n, "_fields")
        )
        if hasattr(node, "b1") and hasattr(node, "z")
    ]
    if len(found) != 1:
        raise ValueError(
            "schedule_free_eval_params needs the state of a schedule_free optimizer "
            f"(a ScheduleFreeState, possibly nested in a chain); found {len(found)} "
            f"in a {type(state).__name__}."
        )
    return found[0]


def schedule_free_eval_params(state: Any, params: Any) -> Any:
    """The averaged point :math:`x_t` at which a schedule-free model is evaluated.

    .. math::

        x_t = \\frac{y_t - (1-\\beta_1)\\, z_t}{\\beta_1}

    where :math:`y_t` are the parameters being trained and :math:`z_t`,
    :math:`\\beta_1` come from the state.

    ``state`` may also be a container (e.g. a :func:`chain` state) holding
    exactly one :class:`ScheduleFreeState`.

    .. warning::
      Each result leaf has its parameter's dtype; Optax returns the promoted
      dtype (float32 for bfloat16 parameters with ``state_dtype=float32``).

    Args:
      state: the optimizer state of :func:`schedule_free` (or of one of its
        aliases).
      params: the current parameters :math:`y_t`.

    Returns:
      A tree like ``params`` holding :math:`x_t`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.schedule_free_sgd(learning_rate=1.0, b1=0.5)
      >>> params = jnp.array([1.0])
      >>> state = tx.init(params)
      >>> updates, state = tx.update(jnp.array([0.5]), state, params)
      >>> params = optjax.apply_updates(params, updates)
      >>> print(params, optjax.schedule_free_eval_params(state, params))
      [0.5] [0.5]
    """
    sf_state = _find_schedule_free_state(state)
    b1 = sf_state.b1

    def leaf(y, z):
        x = (y - (1.0 - b1) * z) / b1
        return x.astype(jnp.asarray(y).dtype)

    return _tree.map(
        leaf,
        params,
        sf_state.z,
        names=("params", "optimizer state z"),
        where="schedule_free_eval_params",
    )


def _warmup(learning_rate: Any, warmup_steps: int | None, where: str) -> Any:
    if warmup_steps is None:
        return learning_rate
    _checks.check_positive_int("warmup_steps", warmup_steps, where=where)
    return warmup_constant_schedule(
        init_value=0.0, peak_value=learning_rate, warmup_steps=warmup_steps
    )


def schedule_free_sgd(
    learning_rate: jax.typing.ArrayLike = 1.0,
    warmup_steps: int | None = None,
    b1: jax.typing.ArrayLike = 0.9,
    weight_decay: jax.typing.ArrayLike | None = None,
    weight_lr_power: jax.typing.ArrayLike = 2.0,
    state_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """Schedule-Free SGD: :func:`schedule_free` around plain SGD.

    .. math::

        z_{t+1} = z_t - \\gamma_t (\\nabla f(y_t) + \\lambda y_t), \\qquad
        x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1}, \\qquad
        y_{t+1} = \\beta_1 x_{t+1} + (1-\\beta_1) z_{t+1},

    with :math:`c_{t+1}` as in :func:`schedule_free` and :math:`\\gamma_t` a
    linear warmup from 0 over ``warmup_steps`` followed by a constant.

    .. warning::
      The weight decay :math:`\\lambda` is applied to the gradient point
      :math:`y_t` and multiplied by the learning rate (PyTorch's convention,
      as in Optax), not only by a schedule multiplier as in Loshchilov & Hutter.

    Args:
      learning_rate: the peak SGD step size :math:`\\gamma`.
      warmup_steps: length of the linear warmup (an integer >= 1), or ``None``
        for no warmup.
      b1: :math:`\\beta_1` in (0, 1], the interpolation weight.
      weight_decay: :math:`\\lambda \\ge 0`, or ``None`` for none.
      weight_lr_power: power of the learning rate in the averaging weights.
      state_dtype: dtype of the :math:`z` sequence; ``None`` keeps the params'.

    Returns:
      A gradient transformation with a :class:`ScheduleFreeState`.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum(x**2)
      >>> tx = optjax.schedule_free_sgd(learning_rate=0.1)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = tx.init(params)
      >>> for _ in range(20):
      ...     updates, state = tx.update(jax.grad(f)(params), state, params)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(f"{f(optjax.schedule_free_eval_params(state, params)):.4f}")
      0.0002

    References:
      Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, *The Road Less
      Scheduled*, NeurIPS 2024, https://arxiv.org/abs/2405.15682
    """
    where = "schedule_free_sgd"
    _check_common(where, learning_rate, b1, weight_lr_power)
    if weight_decay is not None:
        _checks.check_non_negative("weight_decay", weight_decay, where=where)
    learning_rate = _warmup(learning_rate, warmup_steps, where)
    optimizer = sgd(learning_rate)
    if weight_decay is not None:
        optimizer = chain(add_decayed_weights(weight_decay), optimizer)
    return schedule_free(
        optimizer,
        learning_rate=learning_rate,
        b1=b1,
        weight_lr_power=weight_lr_power,
        state_dtype=state_dtype,
    )


def schedule_free_adamw(
    learning_rate: jax.typing.ArrayLike = 0.0025,
    warmup_steps: int | None = None,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    weight_decay: jax.typing.ArrayLike = 0.0,
    weight_lr_power: jax.typing.ArrayLike = 2.0,
    state_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """Schedule-Free AdamW: :func:`schedule_free` around momentum-free AdamW.

    .. math::

        v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2, \\qquad
        z_{t+1} = z_t - \\gamma_t \\left(\\frac{g_t}{\\sqrt{v_t/(1-\\beta_2^t)}
        + \\epsilon} + \\lambda y_t\\right), \\\\
        x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1}, \\qquad
        y_{t+1} = \\beta_1 x_{t+1} + (1-\\beta_1) z_{t+1},

    with :math:`g_t = \\nabla f(y_t)`, :math:`c_{t+1}` as in
    :func:`schedule_free` and :math:`\\gamma_t` a linear warmup from 0 over
    ``warmup_steps`` followed by a constant. The base optimizer is
    :func:`scale_by_rms` with bias correction (Adam with
    :math:`\\beta_1 = 0`, without storing a zero first moment).

    .. warning::
      This follows Optax's formulation (weight decay applied at the gradient
      point :math:`y_t` inside the base step, averaging weights from the
      learning rate alone); the authors' PyTorch implementation differs in
      such details, so trajectories match Optax's rather than PyTorch's.

    Args:
      learning_rate: the peak step size :math:`\\gamma`.
      warmup_steps: length of the linear warmup (an integer >= 1), or ``None``.
      b1: :math:`\\beta_1` in (0, 1], the interpolation weight.
      b2: :math:`\\beta_2` in [0, 1), decay of the squared-gradient average.
      eps: :math:`\\epsilon`, added to the root of the second moment.
      weight_decay: :math:`\\lambda \\ge 0`, decoupled weight decay.
      weight_lr_power: power of the learning rate in the averaging weights.
      state_dtype: dtype of the :math:`z` sequence; ``None`` keeps the params'.

    Returns:
      A gradient transformation with a :class:`ScheduleFreeState`.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum(x**2)
      >>> tx = optjax.schedule_free_adamw(1.0)
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = tx.init(params)
      >>> for _ in range(5):
      ...     updates, state = tx.update(jax.grad(f)(params), state, params)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(f"{f(optjax.schedule_free_eval_params(state, params)):.2f}")
      0.41

    References:
      Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, *The Road Less
      Scheduled*, NeurIPS 2024, https://arxiv.org/abs/2405.15682
    """
    where = "schedule_free_adamw"
    _check_common(where, learning_rate, b1, weight_lr_power)
    _checks.check_decay("b2", b2, where=where)
    _checks.check_non_negative("eps", eps, where=where)
    _checks.check_non_negative("weight_decay", weight_decay, where=where)
    learning_rate = _warmup(learning_rate, warmup_steps, where)
    optimizer = chain(
        scale_by_rms(decay=b2, eps=eps, eps_in_sqrt=False, bias_correction=True),
        add_decayed_weights(weight_decay),
        scale_by_learning_rate(learning_rate),
    )
    return schedule_free(
        optimizer,
        learning_rate=learning_rate,
        b1=b1,
        weight_lr_power=weight_lr_power,
        state_dtype=state_dtype,
    )
