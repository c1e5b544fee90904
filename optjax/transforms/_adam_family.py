"""Adam and its close relatives: per-coordinate scaling by running moments.

Every transform here keeps an exponential moving average of the gradients (the
first moment) and a running statistic of their magnitude (the second moment, or
an infinity norm for Adamax), and divides one by the other.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, transformation
from optjax.tree import _math as _tree


def canonical_dtype(dtype: Any) -> Any:
    """The dtype JAX will actually use (``float64`` is ``float32`` without x64)."""
    return None if dtype is None else jax.dtypes.canonicalize_dtype(dtype)


def check_adam_hyperparams(where: str, **values: Any) -> None:
    """Decay rates (``b*``) must lie in [0, 1); every other value must be >= 0."""
    for name, value in values.items():
        if name.startswith("b"):
            _checks.check_decay(name, value, where=where)
        else:
            _checks.check_non_negative(name, value, where=where)


def nesterov_mu_hat(mu: Any, updates: Any, b1: Any, count: jax.Array) -> Any:
    """Dozat's look-ahead first moment, bias-corrected one step ahead.

    .. math::

        \\hat m_t = \\frac{\\beta_1 m_t}{1-\\beta_1^{t+1}}
        + \\frac{(1-\\beta_1) g_t}{1-\\beta_1^t}
    """
    return _tree.map(
        lambda m, g: b1 * m + (1 - b1) * g,
        _tree.bias_correction(mu, b1, _tree.safe_increment(count)),
        _tree.bias_correction(updates, b1, count),
        where="nesterov",
    )


def adam_ratio(mu_hat: Any, nu_hat: Any, eps: Any, eps_root: Any) -> Any:
    """The Adam direction :math:`\\hat m / (\\sqrt{\\hat v + \\bar\\epsilon} + \\epsilon)`."""
    return _tree.map(
        lambda m, v: m / (jnp.sqrt(v + eps_root) + eps), mu_hat, nu_hat, where="adam ratio"
    )


class ScaleByAdamState(NamedTuple):
    """State of :func:`scale_by_adam` (and Adamax, RAdam, Yogi): count and two moments."""

    count: jax.Array
    mu: Any
    nu: Any


def scale_by_adam(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    mu_dtype: Any | None = None,
    *,
    nesterov: bool = False,
    nu_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """Rescales updates by Adam's bias-corrected first and second moments.

    .. math::

        m_t = (1-\\beta_1) g_t + \\beta_1 m_{t-1}, \\qquad
        v_t = (1-\\beta_2) g_t^2 + \\beta_2 v_{t-1}, \\\\
        \\hat m_t = \\frac{m_t}{1-\\beta_1^t}, \\qquad
        \\hat v_t = \\frac{v_t}{1-\\beta_2^t}, \\qquad
        u_t = \\frac{\\hat m_t}{\\sqrt{\\hat v_t + \\bar\\epsilon} + \\epsilon}.

    With ``nesterov=True`` the first moment is replaced by Dozat's look-ahead
    :math:`\\hat m_t = \\beta_1 m_t/(1-\\beta_1^{t+1}) + (1-\\beta_1) g_t/(1-\\beta_1^t)`.
    Complex gradients use :math:`|g_t|^2` in the second moment.

    Args:
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-gradient average, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root (keeps
        meta-gradients through the update finite).
      mu_dtype: dtype in which the first moment is stored; ``None`` keeps the
        parameters' dtype.
      nesterov: use Nesterov momentum (NAdam).
      nu_dtype: dtype in which the second moment is stored; ``None`` keeps the
        parameters' dtype. The moment is still computed in the promoted dtype
        of the gradient and the stored value, and only rounded for storage.
        Optax has no such option.

    Returns:
      A gradient transformation with a :class:`ScaleByAdamState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_adam()
      >>> params = {"w": jnp.array([1.0, -2.0])}
      >>> u, state = tx.update({"w": jnp.array([0.5, -4.0])}, tx.init(params))
      >>> print([f"{v:.4f}" for v in u["w"]])
      ['1.0000', '-1.0000']

    References:
      Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015,
      https://arxiv.org/abs/1412.6980. Dozat, *Incorporating Nesterov Momentum
      into Adam*, ICLR 2016 workshop,
      https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ
    """
    check_adam_hyperparams("scale_by_adam", b1=b1, b2=b2, eps=eps, eps_root=eps_root)
    mu_dtype = canonical_dtype(mu_dtype)
    nu_dtype = canonical_dtype(nu_dtype)

    def init_fn(params):
        return ScaleByAdamState(
            count=jnp.zeros([], jnp.int32),
            mu=_tree.zeros_like(params, dtype=mu_dtype),
            nu=_tree.zeros_like(params, dtype=nu_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        mu = _tree.update_moment(updates, state.mu, b1, order=1)
        nu = _tree.update_moment_per_elem_norm(updates, state.nu, b2, order=2)
        count = _tree.safe_increment(state.count)
        if nesterov:
            mu_hat = nesterov_mu_hat(mu, updates, b1, count)
        else:
            mu_hat = _tree.bias_correction(mu, b1, count)
        nu_hat = _tree.bias_correction(nu, b2, count)
        updates = adam_ratio(mu_hat, nu_hat, eps, eps_root)
        new_state = ScaleByAdamState(
            count=count, mu=_tree.cast(mu, mu_dtype), nu=_tree.cast_like(nu, state.nu)
        )
        return updates, new_state

    return transformation(init_fn, update_fn, name="scale_by_adam")


class ScaleByAmsgradState(NamedTuple):
    """State of :func:`scale_by_amsgrad`: count, both moments and the running max."""

    count: jax.Array
    mu: Any
    nu: Any
    nu_max: Any


def scale_by_amsgrad(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    mu_dtype: Any | None = None,
    bias_correction_mu: bool = True,
    bias_correction_nu: bool = True,
    *,
    nu_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """Rescales updates by AMSGrad: Adam with a non-decreasing second moment.

    .. math::

        m_t = (1-\\beta_1) g_t + \\beta_1 m_{t-1}, \\qquad
        v_t = (1-\\beta_2) g_t^2 + \\beta_2 v_{t-1}, \\\\
        \\tilde v_t = \\max\\left(\\tilde v_{t-1}, \\frac{v_t}{1-\\beta_2^t}\\right),
        \\qquad u_t = \\frac{m_t/(1-\\beta_1^t)}{\\sqrt{\\tilde v_t + \\bar\\epsilon}
        + \\epsilon}.

    Either bias correction can be switched off (the original paper uses neither).

    Args:
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-gradient average, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.
      mu_dtype: storage dtype of the first moment; ``None`` keeps the params'.
      bias_correction_mu: divide the first moment by :math:`1-\\beta_1^t`.
      bias_correction_nu: divide the second moment by :math:`1-\\beta_2^t`
        before taking the running maximum.
      nu_dtype: storage dtype of ``nu`` and ``nu_max``; ``None`` keeps the
        params'. Optax has no such option.

    Returns:
      A gradient transformation with a :class:`ScaleByAmsgradState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_amsgrad()
      >>> state = tx.init({"w": jnp.zeros(2)})
      >>> u, state = tx.update({"w": jnp.array([2.0, -1.0])}, state)
      >>> u, state = tx.update({"w": jnp.array([0.1, -1.0])}, state)
      >>> print([f"{v:.4f}" for v in u["w"]])
      ['0.5000', '-1.0000']

    References:
      Reddi, Kale & Kumar, *On the Convergence of Adam and Beyond*, ICLR 2018,
      https://arxiv.org/abs/1904.09237
    """
    check_adam_hyperparams("scale_by_amsgrad", b1=b1, b2=b2, eps=eps, eps_root=eps_root)
    mu_dtype = canonical_dtype(mu_dtype)
    nu_dtype = canonical_dtype(nu_dtype)

    def init_fn(params):
        return ScaleByAmsgradState(
            count=jnp.zeros([], jnp.int32),
            mu=_tree.zeros_like(params, dtype=mu_dtype),
            nu=_tree.zeros_like(params, dtype=nu_dtype),
            nu_max=_tree.zeros_like(params, dtype=nu_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        mu = _tree.update_moment(updates, state.mu, b1, order=1)
        nu = _tree.update_moment_per_elem_norm(updates, state.nu, b2, order=2)
        count = _tree.safe_increment(state.count)
        mu_hat = _tree.bias_correction(mu, b1, count) if bias_correction_mu else mu
        nu_eff = _tree.bias_correction(nu, b2, count) if bias_correction_nu else nu
        nu_max = _tree.map(jnp.maximum, state.nu_max, nu_eff, where="scale_by_amsgrad")
        updates = adam_ratio(mu_hat, nu_max, eps, eps_root)
        new_state = ScaleByAmsgradState(
            count=count,
            mu=_tree.cast(mu, mu_dtype),
            nu=_tree.cast_like(nu, state.nu),
            nu_max=_tree.cast_like(nu_max, state.nu_max),
        )
        return updates, new_state

    return transformation(init_fn, update_fn, name="scale_by_amsgrad")


def scale_by_adamax(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
) -> GradientTransformationExtraArgs:
    """Rescales updates by Adamax: Adam with an infinity norm for the second moment.

    .. math::

        m_t = (1-\\beta_1) g_t + \\beta_1 m_{t-1}, \\qquad
        v_t = \\max(|g_t| + \\epsilon, \\beta_2 v_{t-1}), \\qquad
        u_t = \\frac{m_t}{(1-\\beta_1^t)\\, v_t}.

    The infinity norm needs no bias correction.

    Args:
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the running maximum, in [0, 1).
      eps: :math:`\\epsilon`, added to :math:`|g_t|` so the denominator is never 0.

    Returns:
      A gradient transformation with a :class:`ScaleByAdamState` (``nu`` holds
      the infinity norm).

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_adamax()
      >>> u, _ = tx.update({"w": jnp.array([0.5, -4.0])}, tx.init({"w": jnp.zeros(2)}))
      >>> print([f"{v:.4f}" for v in u["w"]])
      ['1.0000', '-1.0000']

    References:
      Kingma & Ba, *Adam: A Method for Stochastic Optimization*, Section 7.1,
      ICLR 2015, https://arxiv.org/abs/1412.6980
    """
    check_adam_hyperparams("scale_by_adamax", b1=b1, b2=b2, eps=eps)

    def init_fn(params):
        return ScaleByAdamState(
            count=jnp.zeros([], jnp.int32),
            mu=_tree.zeros_like(params),
            nu=_tree.zeros_like(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        count = _tree.safe_increment(state.count)
        mu = _tree.update_moment(updates, state.mu, b1, order=1)
        nu = _tree.update_infinity_moment(updates, state.nu, b2, eps)
        mu_hat = _tree.bias_correction(mu, b1, count)
        updates = _tree.map(lambda m, v: m / v, mu_hat, nu, where="scale_by_adamax")
        return updates, ScaleByAdamState(count=count, mu=mu, nu=nu)

    return transformation(init_fn, update_fn, name="scale_by_adamax")


def scale_by_radam(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    threshold: jax.typing.ArrayLike = 5.0,
    *,
    nesterov: bool = False,
) -> GradientTransformationExtraArgs:
    """Rescales updates by Rectified Adam (RAdam).

    While the variance of the adaptive step is intractable (early steps), the
    update is plain bias-corrected momentum; afterwards it is Adam's step times a
    rectification factor :math:`r_t`:

    .. math::

        \\rho_\\infty = \\frac{2}{1-\\beta_2} - 1, \\qquad
        \\rho_t = \\rho_\\infty - \\frac{2 t \\beta_2^t}{1-\\beta_2^t}, \\\\
        r_t = \\sqrt{\\frac{(\\rho_t-4)(\\rho_t-2)\\rho_\\infty}
        {(\\rho_\\infty-4)(\\rho_\\infty-2)\\rho_t}}, \\qquad
        u_t = \\begin{cases}
        r_t\\, \\hat m_t / (\\sqrt{\\hat v_t + \\bar\\epsilon} + \\epsilon)
        & \\rho_t \\ge \\text{threshold} \\\\ \\hat m_t & \\text{otherwise.}
        \\end{cases}

    Args:
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the squared-gradient average, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.
      threshold: the :math:`\\rho_t` above which the adaptive step is used.
      nesterov: use Dozat's look-ahead first moment.

    Returns:
      A gradient transformation with a :class:`ScaleByAdamState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_radam()
      >>> u, _ = tx.update({"w": jnp.array([0.5, -4.0])}, tx.init({"w": jnp.zeros(2)}))
      >>> print([f"{v:.4f}" for v in u["w"]])  # the first steps are plain momentum
      ['0.5000', '-4.0000']

    References:
      Liu et al., *On the Variance of the Adaptive Learning Rate and Beyond*,
      ICLR 2020, https://arxiv.org/abs/1908.03265
    """
    check_adam_hyperparams("scale_by_radam", b1=b1, b2=b2, eps=eps, eps_root=eps_root)
    rho_inf = 2.0 / (1.0 - b2) - 1.0

    def rectified(rho, mu_hat, nu_hat):
        r = jnp.sqrt(
            (rho - 4.0) * (rho - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho)
        )
        return _tree.map(
            lambda m, v: r.astype(m.dtype) * m / (jnp.sqrt(v + eps_root) + eps),
            mu_hat,
            nu_hat,
            where="scale_by_radam",
        )

    def init_fn(params):
        return ScaleByAdamState(
            count=jnp.zeros([], jnp.int32),
            mu=_tree.zeros_like(params),
            nu=_tree.zeros_like(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        mu = _tree.update_moment(updates, state.mu, b1, order=1)
        nu = _tree.update_moment_per_elem_norm(updates, state.nu, b2, order=2)
        count = _tree.safe_increment(state.count)
        b2_t = b2**count
        rho = rho_inf - 2 * count * b2_t / (1 - b2_t)
        if nesterov:
            mu_hat = nesterov_mu_hat(mu, updates, b1, count)
        else:
            mu_hat = _tree.bias_correction(mu, b1, count)
        nu_hat = _tree.bias_correction(nu, b2, count)
        updates = _tree.where(rho >= threshold, rectified(rho, mu_hat, nu_hat), mu_hat)
        return updates, ScaleByAdamState(count=count, mu=mu, nu=nu)

    return transformation(init_fn, update_fn, name="scale_by_radam")


class ScaleByBeliefState(NamedTuple):
    """State of :func:`scale_by_belief`: count, gradient average and its belief variance."""

    count: jax.Array
    mu: Any
    nu: Any


def scale_by_belief(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-16,
    eps_root: jax.typing.ArrayLike = 1e-16,
    *,
    nesterov: bool = False,
) -> GradientTransformationExtraArgs:
    """Rescales updates by AdaBelief: Adam with the variance of the prediction error.

    .. math::

        m_t = (1-\\beta_1) g_t + \\beta_1 m_{t-1}, \\qquad
        s_t = (1-\\beta_2) (g_t - m_t)^2 + \\beta_2 s_{t-1} + \\bar\\epsilon, \\\\
        u_t = \\frac{m_t / (1-\\beta_1^t)}{\\sqrt{s_t / (1-\\beta_2^t)} + \\epsilon}.

    Args:
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, decay of the belief variance, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added to the stored variance at every
        step (non-zero keeps meta-gradients finite).
      nesterov: use Dozat's look-ahead first moment.

    Returns:
      A gradient transformation with a :class:`ScaleByBeliefState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_belief()
      >>> u, _ = tx.update({"w": jnp.array([0.5, -4.0])}, tx.init({"w": jnp.zeros(2)}))
      >>> print([f"{v:.4f}" for v in u["w"]])
      ['1.1111', '-1.1111']

    References:
      Zhuang et al., *AdaBelief Optimizer: Adapting Stepsizes by the Belief in
      Observed Gradients*, NeurIPS 2020, https://arxiv.org/abs/2010.07468
    """
    check_adam_hyperparams("scale_by_belief", b1=b1, b2=b2, eps=eps, eps_root=eps_root)

    def init_fn(params):
        return ScaleByBeliefState(
            count=jnp.zeros([], jnp.int32),
            mu=_tree.zeros_like(params),
            nu=_tree.zeros_like(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        mu = _tree.update_moment(updates, state.mu, b1, order=1)
        surprise = _tree.map(lambda g, m: g - m, updates, mu, where="scale_by_belief")
        nu = _tree.update_moment_per_elem_norm(surprise, state.nu, b2, order=2)
        nu = jax.tree.map(lambda v: v + eps_root, nu)
        count = _tree.safe_increment(state.count)
        if nesterov:
            mu_hat = nesterov_mu_hat(mu, updates, b1, count)
        else:
            mu_hat = _tree.bias_correction(mu, b1, count)
        nu_hat = _tree.bias_correction(nu, b2, count)
        updates = _tree.map(
            lambda m, v: m / (jnp.sqrt(v) + eps), mu_hat, nu_hat, where="scale_by_belief"
        )
        return updates, ScaleByBeliefState(count=count, mu=mu, nu=nu)

    return transformation(init_fn, update_fn, name="scale_by_belief")


def scale_by_yogi(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-3,
    eps_root: jax.typing.ArrayLike = 0.0,
    initial_accumulator_value: jax.typing.ArrayLike = 1e-6,
) -> GradientTransformationExtraArgs:
    """Rescales updates by Yogi: Adam whose second moment moves additively.

    .. math::

        m_t = (1-\\beta_1) g_t + \\beta_1 m_{t-1}, \\qquad
        v_t = v_{t-1} - (1-\\beta_2)\\, \\mathrm{sign}(v_{t-1} - g_t^2)\\, g_t^2, \\\\
        u_t = \\frac{m_t / (1-\\beta_1^t)}{\\sqrt{v_t / (1-\\beta_2^t)
        + \\bar\\epsilon} + \\epsilon}.

    Both moments start at ``initial_accumulator_value``.

    Args:
      b1: :math:`\\beta_1`, decay of the gradient average, in [0, 1).
      b2: :math:`\\beta_2`, rate of the additive second-moment update, in [0, 1).
      eps: :math:`\\epsilon`, added to the denominator outside the square root.
      eps_root: :math:`\\bar\\epsilon`, added inside the square root.
      initial_accumulator_value: the starting value of both moments (>= 0).

    Returns:
      A gradient transformation with a :class:`ScaleByAdamState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.scale_by_yogi()
      >>> u, _ = tx.update({"w": jnp.array([0.5, -4.0])}, tx.init({"w": jnp.zeros(2)}))
      >>> print([f"{v:.4f}" for v in u["w"]])
      ['0.9960', '-0.9997']

    References:
      Zaheer et al., *Adaptive Methods for Nonconvex Optimization*, NeurIPS 2018,
      https://papers.nips.cc/paper/8186-adaptive-methods-for-nonconvex-optimization
    """
    check_adam_hyperparams(
        "scale_by_yogi",
        b1=b1,
        b2=b2,
        eps=eps,
        eps_root=eps_root,
        initial_accumulator_value=initial_accumulator_value,
    )

    def init_fn(params):
        return ScaleByAdamState(
            count=jnp.zeros([], jnp.int32),
            mu=_tree.full_like(params, initial_accumulator_value),
            nu=_tree.full_like(params, initial_accumulator_value),
        )

    def update_fn(updates, state, params=None, **extra_args):
        mu = _tree.update_moment(updates, state.mu, b1, order=1)
        nu = _tree.map(
            lambda g, v: v - (1 - b2) * jnp.sign(v - _tree.abs_sq(g)) * _tree.abs_sq(g),
            updates,
            state.nu,
            where="scale_by_yogi",
        )
        count = _tree.safe_increment(state.count)
        mu_hat = _tree.bias_correction(mu, b1, count)
        nu_hat = _tree.bias_correction(nu, b2, count)
        updates = adam_ratio(mu_hat, nu_hat, eps, eps_root)
        return updates, ScaleByAdamState(count=count, mu=mu, nu=nu)

    return transformation(init_fn, update_fn, name="scale_by_yogi")
