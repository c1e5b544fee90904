"""Further adaptive-moment transforms: Adan, NovoGrad and optimistic gradients."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax._base import GradientTransformationExtraArgs, transformation
from optjax.transforms._adam_family import canonical_dtype, check_adam_hyperparams
from optjax.tree import _math as _tree


class ScaleByAdanState(NamedTuple):
    """State of :func:`scale_by_adan`: three moments, the last gradient and the count."""

    m: Any
    v: Any
    n: Any
    g: Any
    t: jax.Array


def scale_by_adan(
    b1: jax.typing.ArrayLike = 0.98,
    b2: jax.typing.ArrayLike = 0.92,
    b3: jax.typing.ArrayLike = 0.99,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
) -> GradientTransformationExtraArgs:
    """Rescales updates by Adan (adaptive Nesterov momentum).

    With :math:`\\Delta_t = g_t - g_{t-1}` (zero at the first step):

    .. math::

        m_t = (1-\\beta_1) g_t + \\beta_1 m_{t-1}, \\qquad
        v_t = (1-\\beta_2) \\Delta_t + \\beta_2 v_{t-1}, \\\\
        n_t = (1-\\beta_3) \\left(g_t + (1-\\beta_2)\\Delta_t\\right)^2 + \\beta_3 n_{t-1},
        \\\\
        u_t = \\frac{\\hat m_t + (1-\\beta_2) \\hat v_t}{\\sqrt{\\hat n_t + \\bar\\epsilon}
        + \\epsilon},

    where hats denote division by :math:`1-\\beta_i^t`.

    Args:
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the gradient-difference average, in [0, 1).
      b3: :math:`\\beta_3`, decay of the squared look-ahead term, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.

    Returns:
      A gradient transformation with a :class:`ScaleByAdanState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_adan()
      >>> u, _ = tx.update({"w": jnp.array([0.5, -4.0])}, tx.init({"w": jnp.zeros(2)}))
      >>> print([f"{v:.4f}" for v in u["w"]])
      ['1.0000', '-1.0000']

    References:
      Xie et al., *Adan: Adaptive Nesterov Momentum Algorithm for Faster
      Optimizing Deep Models*, IEEE TPAMI 2024, https://arxiv.org/abs/2208.06677
    """
    check_adam_hyperparams("scale_by_adan", b1=b1, b2=b2, b3=b3, eps=eps, eps_root=eps_root)

    def init_fn(params):
        return ScaleByAdanState(
            m=_tree.zeros_like(params),
            v=_tree.zeros_like(params),
            n=_tree.zeros_like(params),
            g=_tree.zeros_like(params),
            t=jnp.zeros([], jnp.int32),
        )

    def update_fn(updates, state, params=None, **extra_args):
        g = updates
        # Matches the reference's weakly typed array scalar, so the coefficient is
        # rounded to the leaf dtype exactly as there.
        one_minus_b2 = jnp.asarray(1 - b2)
        diff = _tree.where(
            state.t == 0,
            _tree.zeros_like(g),
            _tree.map(lambda x, y: x - y, g, state.g, where="scale_by_adan"),
        )
        m = _tree.update_moment(g, state.m, b1, order=1)
        v = _tree.update_moment(diff, state.v, b2, order=1)
        look_ahead = _tree.map(lambda x, d: x + one_minus_b2 * d, g, diff, where="scale_by_adan")
        n = _tree.update_moment_per_elem_norm(look_ahead, state.n, b3, order=2)
        t = _tree.safe_increment(state.t)
        m_hat = _tree.bias_correction(m, b1, t)
        v_hat = _tree.bias_correction(v, b2, t)
        n_hat = _tree.bias_correction(n, b3, t)
        updates = _tree.map(
            lambda mh, vh, nh: (mh + one_minus_b2 * vh) / (jnp.sqrt(nh + eps_root) + eps),
            m_hat,
            v_hat,
            n_hat,
            where="scale_by_adan",
        )
        return updates, ScaleByAdanState(m=m, v=v, n=n, g=g, t=t)

    return transformation(init_fn, update_fn, name="scale_by_adan")


class ScaleByNovogradState(NamedTuple):
    """State of :func:`scale_by_novograd`: count, momentum and per-leaf squared norms."""

    count: jax.Array
    mu: Any
    nu: Any


def scale_by_novograd(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.25,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    weight_decay: jax.typing.ArrayLike = 0.0,
    mu_dtype: Any | None = None,
    *,
    nu_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """Computes NovoGrad's layer-wise normalized momentum.

    The second moment is one scalar per leaf (per layer): the running average of
    the squared gradient norm. The first step initializes it directly:

    .. math::

        v_1 = \\|g_1\\|^2, \\qquad
        v_t = (1-\\beta_2) \\|g_t\\|^2 + \\beta_2 v_{t-1}, \\\\
        d_t = \\frac{g_t}{\\sqrt{v_t + \\bar\\epsilon} + \\epsilon} + \\lambda \\theta_t,
        \\qquad m_1 = d_1, \\qquad m_t = \\beta_1 m_{t-1} + d_t, \\qquad u_t = m_t.

    .. warning::
      With ``mu_dtype`` set, Optax returns the momentum itself (in
      ``mu_dtype``) as the update; optjax returns it cast back to the
      gradients' dtype, like every optjax transform. The values are the same.

    Args:
      b1: :math:`\\beta_1`, the momentum, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-norm average, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.
      weight_decay: :math:`\\lambda`, a constant added inside the momentum.
      mu_dtype: storage dtype of the momentum; ``None`` keeps the params'.
      nu_dtype: storage dtype of the per-leaf squared norms; ``None`` keeps the
        params'. Optax has no such option.

    Returns:
      A gradient transformation with a :class:`ScaleByNovogradState`; it needs
      ``params`` in ``update``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_novograd()
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> u, _ = tx.update({"w": jnp.array([3.0, 4.0])}, tx.init(params), params)
      >>> print([f"{v:.4f}" for v in u["w"]])
      ['0.6000', '0.8000']

    References:
      Ginsburg et al., *Stochastic Gradient Methods with Layer-wise Adaptive
      Moments for Training of Deep Networks*, 2019, https://arxiv.org/abs/1905.11286
    """
    check_adam_hyperparams(
        "scale_by_novograd", b1=b1, b2=b2, eps=eps, eps_root=eps_root, weight_decay=weight_decay
    )
    mu_dtype = canonical_dtype(mu_dtype)
    nu_dtype = canonical_dtype(nu_dtype)

    def init_fn(params):
        return ScaleByNovogradState(
            count=jnp.zeros([], jnp.int32),
            mu=_tree.zeros_like(params, dtype=mu_dtype),
            nu=jax.tree.map(lambda p: jnp.asarray(0.0, dtype=nu_dtype or p.dtype), params),
        )

    def squared_norm(g):
        return jnp.linalg.norm(g) ** 2

    def direction(g, p, v):
        return g / (jnp.sqrt(v + eps_root) + eps) + weight_decay * p

    def first_nu(grads, nu):
        return _tree.map(lambda g, v: squared_norm(g).astype(v.dtype), grads, nu)

    def later_nu(grads, nu):
        new_nu = _tree.update_moment(jax.tree.map(squared_norm, grads), nu, b2, order=1)
        # Both branches of the cond must agree; with the default dtypes this is a no-op.
        return _tree.cast_like(new_nu, nu)

    def later_mu(grads, params, mu, nu):
        directions = jax.tree.map(direction, grads, params, nu)
        return _tree.map(lambda m, d: b1 * m + d, mu, directions, where="scale_by_novograd")

    def first_mu(grads, params, mu, nu):
        directions = jax.tree.map(direction, grads, params, nu)
        # Same dtype as the later steps' ``b1 * m + d``, which the cond requires.
        return _tree.map(lambda m, d: d.astype(jnp.result_type(m, d)), mu, directions)

    def update_fn(updates, state, params=None, **extra_args):
        count = _tree.safe_increment(state.count)
        is_first = count == 1
        nu = jax.lax.cond(is_first, first_nu, later_nu, updates, state.nu)
        mu = jax.lax.cond(is_first, first_mu, later_mu, updates, params, state.mu, nu)
        mu = _tree.cast(mu, mu_dtype)
        return mu, ScaleByNovogradState(count=count, mu=mu, nu=nu)

    return transformation(init_fn, update_fn, name="scale_by_novograd", needs_params=True)


class ScaleByOptimisticGradientState(NamedTuple):
    """State of :func:`scale_by_optimistic_gradient`: first-step flag and last gradient."""

    is_initial_step: jax.Array
    previous_gradient: Any


def scale_by_optimistic_gradient(
    alpha: jax.typing.ArrayLike = 1.0,
    beta: jax.typing.ArrayLike = 1.0,
) -> GradientTransformationExtraArgs:
    """Computes generalized optimistic gradients (negative momentum on the last gradient).

    .. math::

        u_t = (\\alpha + \\beta)\\, g_t - \\beta\\, g_{t-1}, \\qquad g_0 := g_1,

    so the first update is :math:`\\alpha g_1`.

    Args:
      alpha: :math:`\\alpha`, the weight of the current gradient.
      beta: :math:`\\beta`, the optimism (negative momentum) coefficient.

    Returns:
      A gradient transformation with a :class:`ScaleByOptimisticGradientState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_optimistic_gradient()
      >>> state = tx.init({"w": jnp.zeros(())})
      >>> u, state = tx.update({"w": jnp.array(1.0)}, state)
      >>> u, state = tx.update({"w": jnp.array(3.0)}, state)
      >>> print(f"{u['w']:.4f}")
      5.0000

    References:
      Mokhtari, Ozdaglar & Pattathil, *A Unified Analysis of Extra-gradient and
      Optimistic Gradient Methods for Saddle Point Problems: Proximal Point
      Approach*, AISTATS 2020, https://arxiv.org/abs/1901.08511
    """
    # alpha and beta may take any real value: no range check.

    def init_fn(params):
        return ScaleByOptimisticGradientState(
            is_initial_step=jnp.array(True),
            previous_gradient=_tree.zeros_like(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        def optimistic(g, previous):
            previous = jnp.where(state.is_initial_step, g, previous)
            return (alpha + beta) * g - beta * previous

        new_updates = _tree.map(
            optimistic, updates, state.previous_gradient, where="scale_by_optimistic_gradient"
        )
        new_state = ScaleByOptimisticGradientState(
            is_initial_step=jnp.array(False), previous_gradient=updates
        )
        return new_updates, new_state

    return transformation(init_fn, update_fn, name="scale_by_optimistic_gradient")
