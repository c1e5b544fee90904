"""DoG and DoWG: parameter-free step sizes from the distance travelled.

Both scale the gradient by a global step size built from how far the iterates
have moved from the starting point, divided by an accumulated gradient norm;
DoWG weights that accumulation by the distance itself.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import (
    GradientTransformationExtraArgs,
    MaskOrFn,
    ScalarOrSchedule,
    transformation,
)
from optjax.contrib._schedule_free import lowest_float_dtype
from optjax.transforms._basic import identity, scale_by_learning_rate
from optjax.transforms._combinators._chain import chain
from optjax.transforms._regularization import add_decayed_weights
from optjax.tree import _math as _tree

InitStep = tuple[Literal["distance", "learning_rate", "heuristic"], jax.typing.ArrayLike]
_INIT_STEP_TAGS = ("distance", "learning_rate", "heuristic")


class DoGState(NamedTuple):
    """State of :func:`dog` (field names as in Optax).

    Attributes:
      is_init_step: whether the next update is the first one (boolean scalar).
      init_params: the starting point :math:`x_0`.
      max_dist: :math:`\\bar r_t`, the largest distance from :math:`x_0` so far.
      sum_sq_norm_grads: :math:`G_t`, the sum of squared gradient norms.
    """

    is_init_step: jax.Array
    init_params: Any
    max_dist: jax.Array
    sum_sq_norm_grads: jax.Array


class DoWGState(NamedTuple):
    """State of :func:`dowg` (field names as in Optax).

    Attributes:
      init_params: the starting point :math:`x_0`.
      weighted_sq_norm_grads: :math:`v_t`, squared gradient norms weighted by
        the squared distance estimate.
      estim_sq_dist: :math:`\\bar r_t^2`, the largest squared distance so far.
    """

    init_params: Any
    weighted_sq_norm_grads: jax.Array
    estim_sq_dist: jax.Array


def _check_init_step(init_step: Any, where: str) -> tuple[str, Any]:
    if not isinstance(init_step, (tuple, list)) or len(init_step) != 2:
        raise TypeError(
            f"{where}: init_step must be a pair (tag, value) with tag one of "
            f"{', '.join(repr(t) for t in _INIT_STEP_TAGS)}; got {init_step!r}."
        )
    tag, value = init_step
    _checks.check_choice("init_step[0]", tag, _INIT_STEP_TAGS, where=where)
    _checks.check_positive("init_step[1]", value, where=where)
    return tag, value


def scale_by_dog(
    init_step: InitStep,
    eps: jax.typing.ArrayLike = 1e-8,
) -> GradientTransformationExtraArgs:
    r"""Scales updates by the DoG step size, the distance over the gradient norms.

    .. math::

        \bar r_t = \max\big(\bar r_{t-1}, \|x_t - x_0\|\big), \qquad
        G_t = G_{t-1} + \|g_t\|^2, \qquad
        u_t = \frac{\bar r_t}{\sqrt{G_t + \epsilon}}\, g_t ,

    with norms over the whole tree. ``init_step = (tag, value)`` sets the start:
    ``"distance"`` gives :math:`\bar r_{-1} = \text{value}`, ``"heuristic"``
    gives :math:`\bar r_{-1} = \text{value}\,(1 + \|x_0\|)`, and
    ``"learning_rate"`` gives :math:`\bar r_{-1} = 0` and a first step size of
    ``value`` instead of the formula.

    Args:
      init_step: ``(tag, value)`` with tag ``"distance"``, ``"learning_rate"``
        or ``"heuristic"`` and ``value > 0``.
      eps: :math:`\epsilon \ge 0`, added to :math:`G_t` under the square root.

    Returns:
      A gradient transformation with a :class:`DoGState`; its ``update`` needs
      ``params``. The updates are not negated (chain a negative learning rate).

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.contrib.scale_by_dog(("distance", 0.5))
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> u, state = tx.update({"w": jnp.array([3.0, 4.0])}, tx.init(params), params)
      >>> print(jnp.round(u["w"], 3))
      [0.3 0.4]

    References:
      Ivgi et al., *DoG is SGD's Best Friend: A Parameter-Free Dynamic Step
      Size Schedule*, ICML 2023, https://arxiv.org/abs/2302.12022
    """
    tag, value = _check_init_step(init_step, "scale_by_dog")
    _checks.check_non_negative("eps", eps, where="scale_by_dog")

    def init_fn(params):
        # Scalars in the lowest leaf dtype, so that they never promote a leaf.
        dtype = lowest_float_dtype(params)
        if tag == "distance":
            r_epsilon = value
        elif tag == "heuristic":
            r_epsilon = value * (1 + _tree.l2_norm(params))
        else:
            r_epsilon = 0.0
        return DoGState(
            is_init_step=jnp.asarray(True),
            init_params=params,
            max_dist=jnp.asarray(r_epsilon, dtype=dtype),
            sum_sq_norm_grads=jnp.asarray(0.0, dtype=dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        dist = _tree.l2_norm(_tree.sub(state.init_params, params))
        max_dist = jnp.maximum(state.max_dist, dist)
        sum_sq_norm_grads = state.sum_sq_norm_grads + _tree.l2_norm(updates, squared=True)
        step_size = max_dist / jnp.sqrt(sum_sq_norm_grads + eps)
        if tag == "learning_rate":
            step_size = jnp.where(state.is_init_step, value, step_size)
        new_state = DoGState(
            is_init_step=jnp.asarray(False),
            init_params=state.init_params,
            max_dist=max_dist,
            sum_sq_norm_grads=sum_sq_norm_grads,
        )
        return _tree.scale(step_size, updates), new_state

    return transformation(init_fn, update_fn, name="scale_by_dog", needs_params=True)


def _decay_or_identity(weight_decay: Any, mask: Any) -> GradientTransformationExtraArgs:
    # Optax chains an identity when weight_decay is None, and keeps that slot
    # in the state; so does optjax.
    if weight_decay is None:
        return identity()
    return add_decayed_weights(weight_decay, mask)


def dog(
    learning_rate: ScalarOrSchedule = 1.0,
    init_step: InitStep = ("heuristic", 1e-6),
    eps: jax.typing.ArrayLike = 1e-8,
    weight_decay: jax.typing.ArrayLike | None = None,
    mask: MaskOrFn | None = None,
) -> GradientTransformationExtraArgs:
    r"""The DoG optimizer (Distance over Gradients): SGD with a parameter-free step size.

    .. math::

        \bar r_t = \max_{k \le t} \|x_k - x_0\|, \qquad
        G_t = \sum_{k \le t} \|g_k\|^2, \qquad
        x_{t+1} = x_t - \eta_t \frac{\bar r_t}{\sqrt{G_t + \epsilon}}\, g_t ,

    where :math:`\eta_t` is ``learning_rate`` (a multiplier, 1 by default) and
    ``init_step`` sets :math:`\bar r` before the first step; see
    :func:`scale_by_dog`. It is ``chain(add_decayed_weights(weight_decay, mask)
    or identity(), scale_by_dog(init_step, eps),
    scale_by_learning_rate(learning_rate))``.

    .. warning::
      With the default ``("heuristic", value)``, ``init`` must see the real
      initial parameters, not placeholders: :math:`\bar r` starts at
      ``value * (1 + ||x_0||)``. The authors recommend averaging the iterates
      (for example with :func:`optjax.ema` on the parameters).

    Args:
      learning_rate: :math:`\eta_t`, a multiplier of the DoG step, a number or
        a schedule of the step count.
      init_step: ``(tag, value)``: ``("distance", r)`` starts :math:`\bar r` at
        ``r``; ``("heuristic", a)`` at ``a * (1 + ||x_0||)`` (the paper suggests
        ``a = 1e-6``, or ``1e-4`` with batch normalization);
        ``("learning_rate", eta0)`` makes the first step size ``eta0``. The
        value must be > 0.
      eps: :math:`\epsilon \ge 0`, added to :math:`G_t` under the square root.
      weight_decay: :math:`\lambda \ge 0` added as :math:`g + \lambda x` before
        DoG; ``None`` (the default) adds nothing.
      mask: a boolean tree (or a function of the params returning one)
        selecting the leaves to decay.

    Returns:
      A gradient transformation whose ``update`` needs ``params``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum(x**2)
      >>> solver = optjax.contrib.dog(init_step=("distance", 1.0))
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = solver.init(params)
      >>> for _ in range(5):
      ...     updates, state = solver.update(jax.grad(f)(params), state, params)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(f"{f(params):.4f}")
      0.1565

    References:
      Ivgi et al., *DoG is SGD's Best Friend: A Parameter-Free Dynamic Step
      Size Schedule*, ICML 2023, https://arxiv.org/abs/2302.12022
    """
    return chain(
        _decay_or_identity(weight_decay, mask),
        scale_by_dog(init_step, eps),
        scale_by_learning_rate(learning_rate),
    )


def scale_by_dowg(
    init_estim_sq_dist: jax.typing.ArrayLike | None = None,
    eps: jax.typing.ArrayLike = 1e-4,
) -> GradientTransformationExtraArgs:
    r"""Scales updates by the DoWG step size, distance over weighted gradients.

    .. math::

        \bar r_t^2 = \max\big(\bar r_{t-1}^2, \|x_t - x_0\|^2\big), \qquad
        v_t = v_{t-1} + \bar r_t^2 \|g_t\|^2, \qquad
        u_t = \frac{\bar r_t^2}{\sqrt{v_t} + \epsilon}\, g_t ,

    with norms over the whole tree, :math:`v_{-1} = 0` and
    :math:`\bar r_{-1}^2` = ``init_estim_sq_dist`` (``eps`` when ``None``).

    Args:
      init_estim_sq_dist: the initial guess of the squared distance to the
        solution (> 0); ``None`` uses ``eps``.
      eps: :math:`\epsilon`, added to the denominator (>= 0, and > 0 when it is
        also the initial squared distance).

    Returns:
      A gradient transformation with a :class:`DoWGState`; its ``update`` needs
      ``params``. The updates are not negated (chain a negative learning rate).

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.contrib.scale_by_dowg(init_estim_sq_dist=1.0, eps=0.0)
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> u, state = tx.update({"w": jnp.array([3.0, 4.0])}, tx.init(params), params)
      >>> print(jnp.round(u["w"], 3))
      [0.6 0.8]

    References:
      Khaled et al., *DoWG Unleashed: An Efficient Universal Parameter-Free
      Gradient Descent Method*, NeurIPS 2023, https://arxiv.org/abs/2305.16284
    """
    where = "scale_by_dowg"
    _checks.check_non_negative("eps", eps, where=where)
    if init_estim_sq_dist is None:
        _checks.check_positive("eps (the initial squared distance)", eps, where=where)
    else:
        _checks.check_positive("init_estim_sq_dist", init_estim_sq_dist, where=where)

    def init_fn(params):
        dtype = lowest_float_dtype(params)
        initial = eps if init_estim_sq_dist is None else init_estim_sq_dist
        return DoWGState(
            init_params=params,
            weighted_sq_norm_grads=jnp.asarray(0.0, dtype=dtype),
            estim_sq_dist=jnp.asarray(initial, dtype=dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        sq_dist = _tree.l2_norm(_tree.sub(state.init_params, params), squared=True)
        estim_sq_dist = jnp.maximum(state.estim_sq_dist, sq_dist)
        weighted = estim_sq_dist * _tree.l2_norm(updates, squared=True)
        weighted_sq_norm_grads = weighted + state.weighted_sq_norm_grads
        step_size = estim_sq_dist / (jnp.sqrt(weighted_sq_norm_grads) + eps)
        new_state = state._replace(
            estim_sq_dist=estim_sq_dist, weighted_sq_norm_grads=weighted_sq_norm_grads
        )
        return _tree.scale(step_size, updates), new_state

    return transformation(init_fn, update_fn, name="scale_by_dowg", needs_params=True)


def dowg(
    learning_rate: ScalarOrSchedule = 1.0,
    init_estim_sq_dist: jax.typing.ArrayLike | None = None,
    eps: jax.typing.ArrayLike = 1e-4,
    weight_decay: jax.typing.ArrayLike | None = None,
    mask: MaskOrFn | None = None,
) -> GradientTransformationExtraArgs:
    r"""The DoWG optimizer (Distance over Weighted Gradients): parameter-free SGD.

    .. math::

        \bar r_t^2 = \max_{k \le t} \|x_k - x_0\|^2, \qquad
        v_t = \sum_{k \le t} \bar r_k^2 \|g_k\|^2, \qquad
        x_{t+1} = x_t - \eta_t \frac{\bar r_t^2}{\sqrt{v_t} + \epsilon}\, g_t ,

    where :math:`\eta_t` is ``learning_rate`` (a multiplier, 1 by default); see
    :func:`scale_by_dowg`. It is ``chain(add_decayed_weights(weight_decay,
    mask) or identity(), scale_by_dowg(init_estim_sq_dist, eps),
    scale_by_learning_rate(learning_rate))``.

    Args:
      learning_rate: :math:`\eta_t`, a multiplier of the DoWG step, a number
        or a schedule of the step count.
      init_estim_sq_dist: the initial guess of the squared distance to the
        solution (> 0); ``None`` uses ``eps``.
      eps: :math:`\epsilon`, added to the denominator; also the initial squared
        distance when ``init_estim_sq_dist`` is ``None``.
      weight_decay: :math:`\lambda \ge 0` added as :math:`g + \lambda x` before
        DoWG; ``None`` (the default) adds nothing.
      mask: a boolean tree (or a function of the params returning one)
        selecting the leaves to decay.

    Returns:
      A gradient transformation whose ``update`` needs ``params``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum(x**2)
      >>> solver = optjax.contrib.dowg()
      >>> params = jnp.array([1.0, 2.0, 3.0])
      >>> state = solver.init(params)
      >>> for _ in range(5):
      ...     updates, state = solver.update(jax.grad(f)(params), state, params)
      ...     params = optjax.apply_updates(params, updates)
      ...     print(f"{f(params):.6f}")
      13.925367
      13.872763
      13.775433
      13.596172
      13.268837

    References:
      Khaled et al., *DoWG Unleashed: An Efficient Universal Parameter-Free
      Gradient Descent Method*, NeurIPS 2023, https://arxiv.org/abs/2305.16284
    """
    return chain(
        _decay_or_identity(weight_decay, mask),
        scale_by_dowg(init_estim_sq_dist, eps),
        scale_by_learning_rate(learning_rate),
    )
