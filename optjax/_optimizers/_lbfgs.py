"""L-BFGS: a limited-memory quasi-Newton direction, and the full L-BFGS solver.

:func:`scale_by_lbfgs` multiplies the gradient by an approximation of the
inverse Hessian built from the last ``memory_size`` pairs of parameter and
gradient differences (the two-loop recursion of Nocedal & Wright, Algorithm
7.4). :func:`lbfgs` chains that direction with a sign flip (or a learning rate)
and a line search, by default :func:`optjax.scale_by_zoom_linesearch`.

The memory is a circular buffer: every leaf of the parameter tree gets a stacked
copy of shape ``(memory_size, *leaf.shape)``, so that a traced index can select
the ``i``-th stored difference and the whole update compiles once.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    transformation,
)
from optjax.transforms._basic import identity, scale, scale_by_learning_rate
from optjax.transforms._combinators._chain import chain
from optjax.transforms._linesearch import scale_by_zoom_linesearch
from optjax.tree import _math as _tree

_NAME = "scale_by_lbfgs"


class ScaleByLBFGSState(NamedTuple):
    """State of :func:`scale_by_lbfgs` (Optax's field names).

    Attributes:
      count: number of updates done so far (int32).
      params: the parameters seen at the previous update.
      updates: the gradients seen at the previous update.
      diff_params_memory: stacked parameter differences
        :math:`s_j = w_{j+1} - w_j`, one slot per memory entry.
      diff_updates_memory: stacked gradient differences
        :math:`y_j = g_{j+1} - g_j`.
      weights_memory: :math:`\\rho_j = 1 / \\langle y_j, s_j \\rangle`
        (0 for empty slots or a zero curvature pair), shape ``(memory_size,)``.
    """

    count: jax.Array
    params: Any
    updates: Any
    diff_params_memory: Any
    diff_updates_memory: Any
    weights_memory: jax.Array


def _inner(tree_x: Any, tree_y: Any) -> jax.Array:
    """Real part of :math:`\\langle x, y \\rangle` over a tree (conjugating ``x``)."""
    return jnp.real(_tree.vdot(tree_x, tree_y))


def _slot(stacked: Any, index: jax.Array) -> Any:
    return jax.tree.map(lambda leaf: leaf[index], stacked)


# Compiled once per shape (and inlined into an enclosing jit), so that eager
# calls do not re-trace the two scans at every step.
@functools.partial(jax.jit, inline=True)
def _two_loop(
    grad: Any,
    diff_params: Any,
    diff_grads: Any,
    rhos: jax.Array,
    gamma: jax.Array,
    newest: jax.Array,
) -> Any:
    """The two-loop recursion (Nocedal & Wright, Algorithm 7.4): returns :math:`H_k g`.

    ``newest`` is the slot written last; slots are visited newest-to-oldest in
    the first loop and oldest-to-newest in the second. Empty slots have
    :math:`\\rho = 0` and leave the vector unchanged.
    """
    memory_size = rhos.shape[0]
    # Oldest first: the slot after the newest one, wrapping around.
    order = (newest + 1 + jnp.arange(memory_size)) % memory_size

    def backward(q, j):
        s_j, y_j = _slot(diff_params, j), _slot(diff_grads, j)
        alpha = rhos[j] * _inner(s_j, q)
        return _tree.cast_like(_tree.add_scale(q, -alpha, y_j), q), alpha

    q, alphas = jax.lax.scan(backward, grad, order, reverse=True)
    r = _tree.scale(gamma, q)

    def forward(r, j_alpha):
        j, alpha = j_alpha
        s_j, y_j = _slot(diff_params, j), _slot(diff_grads, j)
        beta = rhos[j] * _inner(y_j, r)
        return _tree.cast_like(_tree.add_scale(r, alpha - beta, s_j), r), None

    r, _ = jax.lax.scan(forward, r, (order, alphas))
    return r


def scale_by_lbfgs(
    memory_size: int = 10,
    scale_init_precond: bool = True,
) -> GradientTransformationExtraArgs:
    """Multiplies the gradient by the L-BFGS inverse-Hessian approximation.

    With :math:`s_j = w_{j+1} - w_j`, :math:`y_j = g_{j+1} - g_j` and
    :math:`\\rho_j = 1/\\langle y_j, s_j\\rangle` for the last :math:`m`
    (``memory_size``) iterations, the inverse Hessian approximation is

    .. math::

        H_k^{(k-m)} = \\gamma_k I, \\qquad
        H_k^{(j+1)} = (I - \\rho_j s_j y_j^\\top) H_k^{(j)} (I - \\rho_j y_j s_j^\\top)
        + \\rho_j s_j s_j^\\top, \\\\
        \\gamma_k = \\frac{\\langle s_{k-1}, y_{k-1}\\rangle}{\\|y_{k-1}\\|^2}
        \\ (\\texttt{scale\\_init\\_precond}), \\qquad
        \\gamma_0 = \\min(1, 1/\\|g_0\\|), \\qquad u_k = H_k g_k .

    The product :math:`H_k g_k` is computed with the two-loop recursion, in
    :math:`O(m\\,p)` for :math:`p` parameters, without forming any matrix. The
    memory is updated *before* preconditioning, from the parameters and
    gradient given to this call and those of the previous call, so that a
    line search chained after this transform decides the step that the next
    memory pair measures. The output points uphill (it preconditions the
    gradient): chain a negative scale or a line search, as :func:`lbfgs` does.

    Every leaf kind is treated alike: the inner products run over the whole
    tree, so matrices, biases, scalars and higher-dimensional leaves all share
    one quasi-Newton model. A pair with :math:`\\langle y_j, s_j\\rangle = 0`
    gets :math:`\\rho_j = 0` (it is skipped).

    Args:
      memory_size: number :math:`m` of past difference pairs kept (>= 1).
      scale_init_precond: use :math:`\\gamma_k` above for the initial inverse
        Hessian; otherwise :math:`\\gamma_k = 1`.

    Returns:
      A gradient transformation that needs ``params`` in ``update``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_lbfgs(memory_size=3)
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> state = tx.init(params)
      >>> direction, state = tx.update({"w": jnp.array([3.0, 4.0])}, state, params)
      >>> print(direction["w"].round(3))  # first step: g / ||g||
      [0.6 0.8]

    References:
      Nocedal & Wright, `Numerical Optimization
      <https://doi.org/10.1007/978-0-387-40065-5>`_, 2006, Algorithms 7.4 and 7.5.

      Liu & Nocedal, `On the limited memory BFGS method for large scale
      optimization <https://doi.org/10.1007/BF01589116>`_, 1989.

    .. warning::
      :math:`\\gamma_0 = \\min(1, 1/\\|g_0\\|)` on the first step is Optax's
      heuristic (the papers leave it open): the first step stays in the unit
      ball.
    """
    _checks.check_positive_int("memory_size", memory_size, where=_NAME)

    def init_fn(params):
        def stacked_zeros(leaf):
            # Shape and dtype only, so abstract params (jax.ShapeDtypeStruct) work too.
            if not hasattr(leaf, "dtype"):
                leaf = jnp.asarray(leaf)
            return jnp.zeros((memory_size, *jnp.shape(leaf)), dtype=leaf.dtype)

        stacked = jax.tree.map(stacked_zeros, params)
        return ScaleByLBFGSState(
            count=jnp.zeros([], jnp.int32),
            params=_tree.zeros_like(params),
            updates=_tree.zeros_like(params),
            diff_params_memory=stacked,
            diff_updates_memory=stacked,
            weights_memory=jnp.zeros(memory_size),
        )

    def update_fn(updates, state, params, **extra_args):
        del extra_args
        count = state.count
        started = count > 0
        newest = (count - 1) % memory_size

        # 1. Store the newest pair (s, y, rho); nothing is stored on the first call.
        s = _tree.sub(params, state.params)
        y = _tree.sub(updates, state.updates)
        curvature = _inner(y, s)
        rho = jnp.where(curvature == 0.0, 0.0, 1.0 / curvature)
        s, y, rho = jax.tree.map(lambda x: jnp.where(started, x, jnp.zeros_like(x)), (s, y, rho))
        diff_params, diff_grads, rhos = jax.tree.map(
            lambda memory, new: memory.at[newest].set(new),
            (state.diff_params_memory, state.diff_updates_memory, state.weights_memory),
            (s, y, rho),
        )

        # 2. Initial inverse Hessian gamma * I.
        if scale_init_precond:
            y_sq = _tree.l2_norm(y, squared=True)
            gamma = jnp.where(y_sq > 0.0, _inner(y, s) / y_sq, 1.0)
            first = jnp.minimum(1.0, 1.0 / _tree.l2_norm(jax.lax.stop_gradient(updates)))
            gamma = jnp.where(started, gamma, first)
        else:
            gamma = jnp.asarray(1.0)

        # 3. Two-loop recursion.
        direction = _two_loop(updates, diff_params, diff_grads, rhos, gamma, newest)
        return direction, ScaleByLBFGSState(
            count=_tree.safe_increment(count),
            params=params,
            updates=updates,
            diff_params_memory=diff_params,
            diff_updates_memory=diff_grads,
            weights_memory=rhos,
        )

    return transformation(init_fn, update_fn, name=_NAME, needs_params=True)


# Optax's default: a zoom search starting every search from a unit step.
_DEFAULT_LINESEARCH = scale_by_zoom_linesearch(
    max_linesearch_steps=20, initial_guess_strategy="one"
)


def lbfgs(
    learning_rate: ScalarOrSchedule | None = None,
    memory_size: int = 10,
    scale_init_precond: bool = True,
    linesearch: GradientTransformationExtraArgs | GradientTransformation | None = (
        _DEFAULT_LINESEARCH
    ),
) -> GradientTransformationExtraArgs:
    """L-BFGS: a limited-memory quasi-Newton direction scaled by a line search.

    .. math::

        d_k = -H_k \\nabla f(w_k), \\qquad w_{k+1} = w_k + \\eta_k d_k,

    where :math:`H_k` is the L-BFGS inverse-Hessian approximation of
    :func:`optjax.scale_by_lbfgs` and :math:`\\eta_k` comes from the line
    search (by default a zoom line search satisfying the strong Wolfe
    conditions, starting every search from :math:`\\eta = 1`). With a
    ``learning_rate``, :math:`d_k` is scaled by it before the line search; with
    ``linesearch=None``, :math:`\\eta_k` is the learning rate alone.

    The line search needs the objective: call
    ``update(grad, state, params, value=f(w), grad=grad, value_fn=f)``. The
    value and gradient at the accepted point are kept in the state; fetch them
    for the next iteration with :func:`optjax.value_and_grad_from_state`
    instead of evaluating ``f`` again.

    Args:
      learning_rate: optional fixed or scheduled step size multiplying the
        direction; ``None`` leaves the step size to the line search.
      memory_size: number of past difference pairs kept (>= 1).
      scale_init_precond: scale the initial inverse Hessian by
        :math:`\\langle s, y\\rangle / \\|y\\|^2`.
      linesearch: a line search such as :func:`optjax.scale_by_zoom_linesearch`
        or :func:`optjax.scale_by_backtracking_linesearch`; ``None`` for none.

    Returns:
      A gradient transformation whose ``update`` takes ``value``, ``grad`` and
      ``value_fn`` keyword arguments (unless ``linesearch`` is ``None``).

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> def f(w):
      ...     return jnp.sum(jnp.array([1.0, 10.0]) * (w - 1.0) ** 2)
      >>> solver = optjax.lbfgs()
      >>> params = jnp.zeros(2)
      >>> state = solver.init(params)
      >>> value_and_grad = optjax.value_and_grad_from_state(f)
      >>> for _ in range(4):
      ...     value, grad = value_and_grad(params, state=state)
      ...     updates, state = solver.update(
      ...         grad, state, params, value=value, grad=grad, value_fn=f)
      ...     params = optjax.apply_updates(params, updates)
      >>> print(params.round(4), bool(f(params) < 1e-6))
      [1. 1.] True

    References:
      Liu & Nocedal, `On the limited memory BFGS method for large scale
      optimization <https://doi.org/10.1007/BF01589116>`_, 1989.

      Nocedal & Wright, `Numerical Optimization
      <https://doi.org/10.1007/978-0-387-40065-5>`_, 2006, Algorithms 7.4, 7.5,
      3.5 and 3.6.

    .. warning::
      The memory holds ``2 * memory_size`` copies of the parameters: L-BFGS is
      meant for small and medium problems and deterministic objectives.
    """
    if learning_rate is None:
        base_scaling = scale(-1.0)
    else:
        base_scaling = scale_by_learning_rate(learning_rate)
    if linesearch is None:
        linesearch = identity()
    return chain(
        scale_by_lbfgs(memory_size=memory_size, scale_init_precond=scale_init_precond),
        base_scaling,
        linesearch,
    )
