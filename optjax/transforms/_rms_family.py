"""Second-moment scalings without a first moment: RMSProp, Adagrad, Adadelta, SM3."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, transformation
from optjax.tree import _math as _tree


def _reject_complex(tree: Any, *, where: str) -> None:
    if any(jnp.iscomplexobj(x) for x in jax.tree.leaves(tree)):
        raise ValueError(f"{where}: complex parameters are not supported.")


# ----------------------------------------------------------------------------
# RMSProp: uncentered and centered.


class ScaleByRmsState(NamedTuple):
    """State of :func:`scale_by_rms` without bias correction: the second moment."""

    nu: Any


class ScaleByRmsWithCountState(NamedTuple):
    """State of :func:`scale_by_rms` with bias correction: step count and second moment."""

    count: jax.Array
    nu: Any


def _inverse_root(eps: Any, eps_in_sqrt: bool):
    if eps_in_sqrt:
        return lambda v: jax.lax.rsqrt(v + eps)
    return lambda v: 1 / (jnp.sqrt(v) + eps)


def scale_by_rms(
    decay: jax.typing.ArrayLike = 0.9,
    eps: jax.typing.ArrayLike = 1e-8,
    initial_scale: jax.typing.ArrayLike = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
) -> GradientTransformationExtraArgs:
    """Divides the updates by the root of an EMA of their squared magnitude.

    .. math::

        \\nu_t = (1-\\rho)\\, |g_t|^2 + \\rho\\, \\nu_{t-1}, \\qquad
        \\hat\\nu_t = \\nu_t / (1-\\rho^t) \\ (\\texttt{bias\\_correction}), \\qquad
        u_t = \\frac{g_t}{\\sqrt{\\hat\\nu_t + \\epsilon}}
        \\ \\text{ or } \\ \\frac{g_t}{\\sqrt{\\hat\\nu_t} + \\epsilon}

    with :math:`\\nu_0` = ``initial_scale``. ``scale_by_rms(b2, eps_in_sqrt=False,
    bias_correction=True)`` computes Adam with :math:`\\beta_1 = 0` without
    storing a first moment.

    .. warning::
      By default ``eps`` goes *inside* the square root (``eps_in_sqrt=True``),
      as in Optax; ``torch.optim.RMSprop`` adds it outside. Pass
      ``eps_in_sqrt=False`` for PyTorch's denominator.

    Args:
      decay: :math:`\\rho`, the decay of the squared-gradient average, in [0, 1).
      eps: :math:`\\epsilon`, keeps the denominator away from zero.
      initial_scale: :math:`\\nu_0`, the initial value of the average.
      eps_in_sqrt: add :math:`\\epsilon` inside (True) or outside the root.
      bias_correction: divide :math:`\\nu_t` by :math:`1-\\rho^t`; the state
        then also holds a step count (:class:`ScaleByRmsWithCountState`).

    Returns:
      A gradient transformation with a :class:`ScaleByRmsState` (or a
      :class:`ScaleByRmsWithCountState` with ``bias_correction``).

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_rms(decay=0.75, eps=0.0)
      >>> u, _ = tx.update({"w": jnp.array([2.0, -4.0])}, tx.init({"w": jnp.zeros(2)}))
      >>> u["w"]
      Array([ 2., -2.], dtype=float32)

    References:
      Hinton, *Neural Networks for Machine Learning*, lecture 6e, 2012,
      https://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf
    """
    where = "scale_by_rms"
    _checks.check_decay("decay", decay, where=where)
    _checks.check_non_negative("eps", eps, where=where)
    _checks.check_non_negative("initial_scale", initial_scale, where=where)
    inverse_root = _inverse_root(eps, eps_in_sqrt)

    def init_fn(params):
        nu = _tree.full_like(params, initial_scale)
        if bias_correction:
            return ScaleByRmsWithCountState(count=jnp.zeros([], jnp.int32), nu=nu)
        return ScaleByRmsState(nu=nu)

    def update_fn(updates, state, params=None, **extra_args):
        nu = _tree.update_moment_per_elem_norm(updates, state.nu, decay, 2)
        if bias_correction:
            count = _tree.safe_increment(state.count)
            nu_hat = _tree.bias_correction(nu, decay, count)
            new_state = ScaleByRmsWithCountState(count=count, nu=nu)
        else:
            nu_hat = nu
            new_state = ScaleByRmsState(nu=nu)
        updates = jax.tree.map(lambda n, g: inverse_root(n) * g, nu_hat, updates)
        return updates, new_state

    return transformation(init_fn, update_fn, name=where)


class ScaleByRStdDevState(NamedTuple):
    """State of :func:`scale_by_stddev` without bias correction: first and second moments."""

    mu: Any
    nu: Any


class ScaleByRStdDevWithCountState(NamedTuple):
    """State of :func:`scale_by_stddev` with bias correction: count and both moments."""

    count: jax.Array
    mu: Any
    nu: Any


def scale_by_stddev(
    decay: jax.typing.ArrayLike = 0.9,
    eps: jax.typing.ArrayLike = 1e-8,
    initial_scale: jax.typing.ArrayLike = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
) -> GradientTransformationExtraArgs:
    """Divides the updates by a running estimate of their standard deviation.

    The centered variant of :func:`scale_by_rms`: the squared mean is
    subtracted from the mean square before taking the root.

    .. math::

        \\mu_t = (1-\\rho)\\, g_t + \\rho\\, \\mu_{t-1}, \\qquad
        \\nu_t = (1-\\rho)\\, |g_t|^2 + \\rho\\, \\nu_{t-1}, \\qquad
        u_t = \\frac{g_t}{\\sqrt{\\hat\\nu_t - |\\hat\\mu_t|^2 + \\epsilon}}

    where the hats denote division by :math:`1-\\rho^t` when
    ``bias_correction`` is set, and :math:`\\epsilon` moves outside the root
    with ``eps_in_sqrt=False``.

    .. warning::
      ``eps`` goes inside the square root by default, unlike
      ``torch.optim.RMSprop(centered=True)``; see :func:`scale_by_rms`.

    Args:
      decay: :math:`\\rho`, the decay of both averages, in [0, 1).
      eps: :math:`\\epsilon`, keeps the denominator away from zero.
      initial_scale: :math:`\\nu_0`, the initial value of the mean square.
      eps_in_sqrt: add :math:`\\epsilon` inside (True) or outside the root.
      bias_correction: divide both averages by :math:`1-\\rho^t`.

    Returns:
      A gradient transformation with a :class:`ScaleByRStdDevState` (or a
      :class:`ScaleByRStdDevWithCountState` with ``bias_correction``).

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_stddev(decay=0.5, eps=0.0)
      >>> u, _ = tx.update({"w": jnp.array([2.0])}, tx.init({"w": jnp.zeros(1)}))
      >>> u["w"]
      Array([2.], dtype=float32)

    References:
      Graves, *Generating Sequences With Recurrent Neural Networks*, 2013,
      https://arxiv.org/abs/1308.0850
    """
    where = "scale_by_stddev"
    _checks.check_decay("decay", decay, where=where)
    _checks.check_non_negative("eps", eps, where=where)
    _checks.check_non_negative("initial_scale", initial_scale, where=where)

    if eps_in_sqrt:

        def inverse_std(m, n):
            return jax.lax.rsqrt(n - _tree.abs_sq(m) + eps)

    else:

        def inverse_std(m, n):
            return 1 / (jnp.sqrt(n - _tree.abs_sq(m)) + eps)

    def init_fn(params):
        mu = _tree.zeros_like(params)
        nu = _tree.full_like(params, initial_scale)
        if bias_correction:
            return ScaleByRStdDevWithCountState(count=jnp.zeros([], jnp.int32), mu=mu, nu=nu)
        return ScaleByRStdDevState(mu=mu, nu=nu)

    def update_fn(updates, state, params=None, **extra_args):
        mu = _tree.update_moment(updates, state.mu, decay, 1)
        nu = _tree.update_moment_per_elem_norm(updates, state.nu, decay, 2)
        if bias_correction:
            count = _tree.safe_increment(state.count)
            mu_hat = _tree.bias_correction(mu, decay, count)
            nu_hat = _tree.bias_correction(nu, decay, count)
            new_state = ScaleByRStdDevWithCountState(count=count, mu=mu, nu=nu)
        else:
            mu_hat, nu_hat = mu, nu
            new_state = ScaleByRStdDevState(mu=mu, nu=nu)
        scaling = jax.tree.map(inverse_std, mu_hat, nu_hat)
        updates = jax.tree.map(lambda s, g: s * g, scaling, updates)
        return updates, new_state

    return transformation(init_fn, update_fn, name=where)


# ----------------------------------------------------------------------------
# Adagrad and Adadelta.


class ScaleByRssState(NamedTuple):
    """State of :func:`scale_by_rss`: the running sum of squared gradients."""

    sum_of_squares: Any


def scale_by_rss(
    initial_accumulator_value: jax.typing.ArrayLike = 0.1,
    eps: jax.typing.ArrayLike = 1e-7,
) -> GradientTransformationExtraArgs:
    """Divides the updates by the root of the sum of all squared gradients so far.

    .. math::

        s_t = s_{t-1} + |g_t|^2, \\qquad
        u_t = \\begin{cases} g_t / \\sqrt{s_t + \\epsilon} & s_t > 0 \\\\
        0 & s_t = 0 \\end{cases}

    with :math:`s_0` = ``initial_accumulator_value``.

    .. warning::
      ``initial_accumulator_value`` defaults to 0.1 (as in Optax and the
      original TensorFlow Adagrad); ``torch.optim.Adagrad`` starts from 0 and
      adds ``eps`` (1e-10) outside the root.

    Args:
      initial_accumulator_value: :math:`s_0`, at least 0.
      eps: :math:`\\epsilon`, added inside the root.

    Returns:
      A gradient transformation with a :class:`ScaleByRssState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_rss(initial_accumulator_value=0.0, eps=0.0)
      >>> u, _ = tx.update({"w": jnp.array([3.0, 0.0])}, tx.init({"w": jnp.zeros(2)}))
      >>> u["w"]
      Array([1., 0.], dtype=float32)

    References:
      Duchi et al., *Adaptive Subgradient Methods for Online Learning and
      Stochastic Optimization*, JMLR 2011,
      https://jmlr.org/papers/v12/duchi11a.html
    """
    where = "scale_by_rss"
    _checks.check_non_negative("initial_accumulator_value", initial_accumulator_value, where=where)
    _checks.check_non_negative("eps", eps, where=where)

    def init_fn(params):
        return ScaleByRssState(sum_of_squares=_tree.full_like(params, initial_accumulator_value))

    def update_fn(updates, state, params=None, **extra_args):
        sum_of_squares = _tree.map(
            lambda g, s: _tree.abs_sq(g) + s, updates, state.sum_of_squares, where=where
        )
        # A zero accumulator means every gradient so far was zero: step 0, not NaN.
        inverse_root = jax.tree.map(
            lambda s: jnp.where(s > 0, jax.lax.rsqrt(s + eps), 0.0), sum_of_squares
        )
        updates = _tree.mul(inverse_root, updates)
        return updates, ScaleByRssState(sum_of_squares=sum_of_squares)

    return transformation(init_fn, update_fn, name=where)


class ScaleByAdaDeltaState(NamedTuple):
    """State of :func:`scale_by_adadelta`: EMAs of squared gradients and squared updates."""

    e_g: Any
    e_x: Any


def scale_by_adadelta(
    rho: jax.typing.ArrayLike = 0.9,
    eps: jax.typing.ArrayLike = 1e-6,
) -> GradientTransformationExtraArgs:
    """Adadelta's unit-corrected scaling: RMS of past updates over RMS of gradients.

    .. math::

        E[g^2]_t = (1-\\rho)\\, g_t^2 + \\rho\\, E[g^2]_{t-1}, \\qquad
        u_t = \\frac{\\sqrt{E[u^2]_{t-1} + \\epsilon}}{\\sqrt{E[g^2]_t + \\epsilon}}\\, g_t,
        \\qquad E[u^2]_t = (1-\\rho)\\, u_t^2 + \\rho\\, E[u^2]_{t-1}

    Args:
      rho: :math:`\\rho`, the decay of both averages, in [0, 1).
      eps: :math:`\\epsilon`; it also sets the size of the first steps, since
        :math:`E[u^2]_0 = 0`.

    Returns:
      A gradient transformation with a :class:`ScaleByAdaDeltaState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_adadelta(rho=0.0, eps=1.0)
      >>> u, _ = tx.update({"w": jnp.array([3.0])}, tx.init({"w": jnp.zeros(1)}))
      >>> print(f"{u['w'][0]:.4f}")  # sqrt(0 + 1) / sqrt(9 + 1) * 3
      0.9487

    References:
      Zeiler, *ADADELTA: An Adaptive Learning Rate Method*, 2012,
      https://arxiv.org/abs/1212.5701
    """
    where = "scale_by_adadelta"
    _checks.check_decay("rho", rho, where=where)
    _checks.check_non_negative("eps", eps, where=where)

    def init_fn(params):
        return ScaleByAdaDeltaState(e_g=_tree.zeros_like(params), e_x=_tree.zeros_like(params))

    def update_fn(updates, state, params=None, **extra_args):
        e_g = _tree.update_moment(updates, state.e_g, rho, 2)
        updates = _tree.map(
            lambda g, eg, ex: (jnp.sqrt(ex + eps) / jnp.sqrt(eg + eps)) * g,
            updates,
            e_g,
            state.e_x,
            where=where,
        )
        e_x = _tree.update_moment(updates, state.e_x, rho, 2)
        return updates, ScaleByAdaDeltaState(e_g=e_g, e_x=e_x)

    return transformation(init_fn, update_fn, name=where)


# ----------------------------------------------------------------------------
# SM3.


class ScaleBySM3State(NamedTuple):
    """State of :func:`scale_by_sm3`: per-axis accumulators ``mu`` and the momentum ``nu``."""

    mu: Any
    nu: Any


def _sm3_accumulators(p: jax.Array) -> list[jax.Array]:
    # One accumulator per axis; leaves of rank <= 1 keep a full-shape one.
    if p.ndim <= 1:
        return [jnp.zeros_like(p)]
    return [jnp.zeros_like(p, shape=(size,)) for size in p.shape]


def _broadcastable(acc: jax.Array, shape: tuple[int, ...], axis: int) -> jax.Array:
    target = [1] * len(shape)
    target[axis] = shape[axis]
    return jnp.reshape(acc, target)


def scale_by_sm3(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 1.0,
    eps: jax.typing.ArrayLike = 1e-8,
) -> GradientTransformationExtraArgs:
    """SM3: Adagrad with one accumulator per row, column, ... instead of per element.

    For a leaf of rank :math:`k \\ge 2` the state keeps, for every axis
    :math:`r`, a vector :math:`\\mu^{(r)}` with one entry per index along that
    axis (a *cover* of the tensor by slices). Each step

    .. math::

        \\nu_t[i] = c\\, g_t[i]^2 + b_2 \\min_r \\mu^{(r)}_{t-1}[i_r], \\qquad
        \\mu^{(r)}_t[j] = \\max_{i:\\, i_r = j} \\nu_t[i],

    .. math::

        \\tilde g_t = \\begin{cases} g_t / \\sqrt{\\nu_t + \\epsilon} & \\nu_t > 0 \\\\
        0 & \\nu_t = 0 \\end{cases}, \\qquad
        m_t = (1-b_1)\\, \\tilde g_t + b_1\\, m_{t-1}, \\qquad u_t = m_t,

    with :math:`c = 1 - b_2`, except :math:`c = 1` when :math:`b_2 = 1` (the
    default, a pure running sum as in Adagrad). Leaves of rank 1 keep one
    accumulator per element (their only cover), so SM3 is Adagrad there.

    .. warning::
      0-d (scalar) leaves: Optax 0.2.8 raises ``IndexError`` on them. Here a
      scalar is its own (single-element) cover, so it is treated exactly like
      a length-1 vector: ``mu`` holds one 0-d accumulator and the update is the
      Adagrad-like :math:`g / \\sqrt{\\nu_t + \\epsilon}` followed by the
      momentum. Every other leaf matches Optax number for number.

    Args:
      b1: :math:`b_1`, the momentum applied to the scaled gradient, in [0, 1).
      b2: :math:`b_2`, the decay of the accumulators, in [0, 1]; 1 keeps a
        running sum.
      eps: :math:`\\epsilon`, added inside the root.

    Returns:
      A gradient transformation with a :class:`ScaleBySM3State`; ``mu`` holds
      a list of accumulators for every leaf.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_sm3(b1=0.0, eps=0.0)
      >>> params = {"w": jnp.zeros((2, 2)), "s": jnp.array(0.0)}
      >>> grads = {"w": jnp.array([[3.0, 0.0], [0.0, 4.0]]), "s": jnp.array(-2.0)}
      >>> u, state = tx.update(grads, tx.init(params))
      >>> u["w"].tolist(), u["s"].tolist()
      ([[1.0, 0.0], [0.0, 1.0]], -1.0)
      >>> [a.tolist() for a in state.mu["w"]]
      [[9.0, 16.0], [9.0, 16.0]]

    References:
      Anil et al., *Memory-Efficient Adaptive Optimization*, NeurIPS 2019,
      https://arxiv.org/abs/1901.11150
    """
    where = "scale_by_sm3"
    _checks.check_decay("b1", b1, where=where)
    _checks.check_in_interval("b2", b2, 0.0, 1.0, closed_high=True, where=where)
    _checks.check_non_negative("eps", eps, where=where)

    if isinstance(b2, jax.Array):
        # Traced or array b2: choose the coefficient without Python control flow.
        grad_coeff = jnp.where(b2 != 1.0, 1.0 - b2, 1.0)
    else:
        grad_coeff = (1.0 - b2) if b2 != 1.0 else 1.0

    def init_fn(params):
        _reject_complex(params, where=where)
        return ScaleBySM3State(
            mu=jax.tree.map(_sm3_accumulators, params), nu=_tree.zeros_like(params)
        )

    def accumulate(g, accs):
        if g.ndim <= 1:
            previous = accs[0]
        else:
            previous = functools.reduce(
                jnp.minimum, [_broadcastable(a, g.shape, r) for r, a in enumerate(accs)]
            )
        return grad_coeff * g**2 + b2 * previous

    def new_accumulators(acc):
        if acc.ndim <= 1:
            return [acc]
        axes = range(acc.ndim)
        return [jnp.max(acc, axis=tuple(a for a in axes if a != r)) for r in axes]

    def update_fn(updates, state, params=None, **extra_args):
        _tree.check_same_structure(state.nu, updates, "optimizer state", "updates", where=where)
        # mu has a list of accumulators under every leaf, so updates is its prefix.
        accumulated = jax.tree.map(accumulate, updates, state.mu)
        scaled = jax.tree.map(
            lambda g, a: g * jnp.where(a > 0, jax.lax.rsqrt(a + eps), 0.0),
            updates,
            accumulated,
        )
        nu = _tree.update_moment(scaled, state.nu, b1, 1)
        mu = jax.tree.map(new_accumulators, accumulated)
        return nu, ScaleBySM3State(mu=mu, nu=nu)

    return transformation(init_fn, update_fn, name=where)
