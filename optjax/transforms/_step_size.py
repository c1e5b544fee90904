"""Step sizes computed from the run itself: Polyak's and distance over gradients (DoG)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import EmptyState, GradientTransformationExtraArgs, transformation
from optjax.tree import _math as _tree

_POLYAK_VARIANTS = ("sps", "sps+")


def scale_by_polyak(
    f_min: jax.typing.ArrayLike = 0.0,
    max_learning_rate: jax.typing.ArrayLike = 1.0,
    eps: jax.typing.ArrayLike = 0.0,
    variant: str = "sps",
) -> GradientTransformationExtraArgs:
    """Scales the updates by Polyak's step size, from the current loss value.

    .. math::

        \\gamma_t = \\min\\left\\{\\frac{f(\\theta_t) - f^\\star}{\\|g_t\\|^2 + \\epsilon},
        \\ \\gamma_{\\max}\\right\\}, \\qquad u_t = \\gamma_t\\, g_t

    and :math:`\\gamma_t = 0` when :math:`\\|g_t\\|^2 + \\epsilon` is below the
    float64 machine epsilon (a stationary point). ``variant="sps+"`` replaces
    the gap :math:`f(\\theta_t) - f^\\star` by its positive part.

    ``update`` must be called with the loss as a keyword argument:
    ``tx.update(grads, state, params, value=loss)``.

    Args:
      f_min: :math:`f^\\star`, a lower bound on the loss (0 for
        non-negative losses).
      max_learning_rate: :math:`\\gamma_{\\max}`, the largest step size.
      eps: :math:`\\epsilon \\ge 0`, added to the squared gradient norm.
      variant: ``"sps"`` or ``"sps+"``.

    Returns:
      A stateless gradient transformation whose ``update`` needs ``value=``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_polyak()
      >>> grads = {"w": jnp.array([2.0, 0.0])}
      >>> tx.update(grads, tx.init(None), value=jnp.array(2.0))[0]["w"]
      Array([1., 0.], dtype=float32)

    References:
      Loizou et al., *Stochastic Polyak Step-size for SGD: An Adaptive Learning
      Rate for Fast Convergence*, AISTATS 2021, https://arxiv.org/abs/2002.10542

      Garrigos et al., *Function Value Learning: Adaptive Learning Rates Based
      on the Polyak Stepsize and Function Splitting in ERM*, 2023,
      https://arxiv.org/abs/2307.14528
    """
    where = "scale_by_polyak"
    _checks.check_non_negative("max_learning_rate", max_learning_rate, where=where)
    _checks.check_non_negative("eps", eps, where=where)
    _checks.check_choice("variant", variant, _POLYAK_VARIANTS, where=where)

    def init_fn(params):
        del params
        return EmptyState()

    def update_fn(updates, state, params=None, *, value, **extra_args):
        # `value` is keyword-only and required: `transformation` raises a
        # MissingExtraArgError (a TypeError, as in Optax) naming it.
        sq_norm = _tree.l2_norm(updates, squared=True)
        gap = jnp.array(value - f_min).astype(sq_norm.dtype)
        if variant == "sps+":
            gap = jax.nn.relu(gap)
        # The threshold is float64's epsilon whatever the dtype, as in Optax.
        step = jnp.where(
            sq_norm + eps <= jnp.finfo(float).eps,
            jnp.array(0.0),
            jnp.minimum(gap / (sq_norm + eps), max_learning_rate),
        )
        return jax.tree.map(lambda g: step * g, updates), state

    return transformation(init_fn, update_fn, name=where)


class ScaleByDistanceOverGradientsState(NamedTuple):
    """State of :func:`scale_by_distance_over_gradients`: distance, gradient energy, start."""

    max_dist: Any
    grad_sum_of_squares: Any
    init_params: Any


def _l2_distance(x: jax.Array, y: Any = 0.0) -> jax.Array:
    return jnp.sqrt(jnp.square(x - y).sum())


def scale_by_distance_over_gradients(
    reps_rel: jax.typing.ArrayLike = 1e-6,
    eps: jax.typing.ArrayLike = 1e-8,
    param_dtype: Any = jnp.float32,
    global_scale: jax.typing.ArrayLike = 1.0,
) -> GradientTransformationExtraArgs:
    """Layer-wise DoG: step size = distance travelled over root gradient energy.

    For every leaf (layer) separately:

    .. math::

        \\bar r_t = \\max\\big(\\bar r_{t-1}, \\|\\theta_t - \\theta_0\\|\\big), \\qquad
        G_t = G_{t-1} + \\|g_t\\|^2, \\qquad
        u_t = s\\, \\frac{\\bar r_t}{\\sqrt{G_t + \\epsilon}}\\, g_t

    with :math:`\\bar r_0 = r_\\epsilon (1 + \\|\\theta_0\\|)`, :math:`G_0 = 0`
    and :math:`s` = ``global_scale``. The state keeps a copy of
    :math:`\\theta_0` in ``param_dtype``. No learning rate is needed; set
    ``global_scale=-1`` (or chain a negative scale) to descend.

    .. warning::
      With bfloat16 (or other low-precision) parameters, ``max_dist`` is
      stored in the promoted dtype of the parameters and ``param_dtype``
      from the start (float32 by default). Optax 0.2.8 initializes it in the
      parameters' dtype and promotes it at the first update, which changes the
      state's dtype and breaks ``lax.scan`` and ``jit`` donation; the values
      are the same. ``grad_sum_of_squares`` is a 1-element array per leaf, as
      in Optax; on 0-d leaves the update keeps the leaf's shape (Optax
      returns shape ``(1,)`` there).

    Args:
      reps_rel: :math:`r_\\epsilon`, the relative size of the first step
        (1e-4 for networks with batch norm, 1e-6 otherwise, per the paper).
      eps: :math:`\\epsilon`, keeps the denominator away from zero.
      param_dtype: dtype of the stored initial parameters.
      global_scale: :math:`s`, typically 1 or -1.

    Returns:
      A gradient transformation with a
      :class:`ScaleByDistanceOverGradientsState`; its ``update`` needs
      ``params``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_distance_over_gradients(reps_rel=0.1, eps=0.0, global_scale=-1.0)
      >>> params = {"w": jnp.array([3.0, 4.0])}
      >>> u, _ = tx.update({"w": jnp.array([1.5, 2.0])}, tx.init(params), params)
      >>> print(*(f"{x:.2f}" for x in u["w"]))  # -(0.1 * (1 + 5)) / 2.5 * g
      -0.36 -0.48

    References:
      Ivgi et al., *DoG is SGD's Best Friend: A Parameter-Free Dynamic Step
      Size Schedule*, ICML 2023, https://arxiv.org/abs/2302.12022
    """
    where = "scale_by_distance_over_gradients"
    _checks.check_positive("reps_rel", reps_rel, where=where)
    _checks.check_non_negative("eps", eps, where=where)
    param_dtype = jax.dtypes.canonicalize_dtype(param_dtype)

    def init_max_dist(p):
        distance = reps_rel * (1 + _l2_distance(p))
        # The dtype the first update promotes max_dist to, fixed from the start.
        return distance.astype(jnp.result_type(distance, p.dtype, param_dtype))

    def init_fn(params):
        return ScaleByDistanceOverGradientsState(
            max_dist=jax.tree.map(init_max_dist, params),
            grad_sum_of_squares=jax.tree.map(lambda p: jnp.zeros(1), params),
            init_params=_tree.cast(params, param_dtype),
        )

    def scaled(g, dist, g_sos):
        eta = global_scale * (dist / jnp.sqrt(g_sos + eps))
        # eta has shape (1,); drop it so the update keeps the leaf's own shape.
        return jnp.reshape(eta, ()) * g

    def update_fn(updates, state, params=None, **extra_args):
        max_dist = _tree.map(
            lambda d, p, p0: jnp.maximum(d, _l2_distance(p, p0)),
            state.max_dist,
            params,
            state.init_params,
            names=("state.max_dist", "params", "state.init_params"),
            where=where,
        )
        g_sos = _tree.map(
            lambda s, g: s + jnp.square(g).sum(), state.grad_sum_of_squares, updates, where=where
        )
        updates = jax.tree.map(scaled, updates, max_dist, g_sos)
        return updates, state._replace(max_dist=max_dist, grad_sum_of_squares=g_sos)

    return transformation(init_fn, update_fn, name=where, needs_params=True)
