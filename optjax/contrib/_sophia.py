"""Sophia: momentum divided by a clipped, periodically refreshed Hessian-diagonal estimate.

The Hessian diagonal comes from a separate gradient transformation
(``hessian_diagonal_fn``), by default Hutchinson's estimator
(:func:`hutchinson_estimator_diag_hessian`), which needs the objective itself:
call ``update(grads, state, params, obj_fn=lambda p: loss(p, batch))``. Sophia
forwards its extra keyword arguments to that transformation.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import (
    GradientTransformationExtraArgs,
    MaskOrFn,
    ScalarOrSchedule,
    transformation,
    with_extra_args_support,
)
from optjax.transforms._adam_family import canonical_dtype
from optjax.transforms._basic import scale_by_learning_rate
from optjax.transforms._combinators._chain import chain
from optjax.transforms._regularization import add_decayed_weights
from optjax.tree import _math as _tree

MISSING_OBJ_FN_MSG = (
    "hutchinson_estimator_diag_hessian (the Hessian estimator sophia uses by "
    "default) needs the objective function: call "
    "`update(grads, state, params, obj_fn=f)` where `f(params)` returns the scalar "
    "loss of the current batch, e.g. `obj_fn=lambda p: loss_fn(p, batch)`."
)


class HutchinsonState(NamedTuple):
    """State of :func:`hutchinson_estimator_diag_hessian`: the PRNG key."""

    key: jax.Array


def _rademacher_like(key: jax.Array, params: Any) -> Any:
    """Random signs shaped like ``params``, one key per leaf in flattening order."""
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    signs = [
        jax.random.rademacher(k, jnp.shape(x), jnp.float32).astype(jnp.asarray(x).dtype)
        for k, x in zip(keys, leaves, strict=True)
    ]
    return jax.tree.unflatten(treedef, signs)


def hutchinson_estimator_diag_hessian(
    random_seed: jax.Array | None = None,
) -> GradientTransformationExtraArgs:
    """Estimates the Hessian diagonal with Hutchinson's estimator.

    With :math:`z` a fresh vector of independent random signs each call and
    :math:`H` the Hessian of ``obj_fn`` at the current parameters:

    .. math::

        \\widehat{\\mathrm{diag}}(H) = z \\odot (H z), \\qquad
        \\mathbb{E}\\left[z \\odot H z\\right] = \\mathrm{diag}(H).

    :math:`Hz` is one forward-over-reverse Hessian-vector product. The incoming
    updates are ignored; the output replaces them.

    Args:
      random_seed: the PRNG key the signs are drawn from (split once per call);
        ``None`` uses ``jax.random.PRNGKey(0)``.

    Returns:
      A gradient transformation with a :class:`HutchinsonState`. Its ``update``
      needs ``params`` and the keyword argument ``obj_fn``, a function of the
      params returning the scalar loss; without it, it raises ``TypeError``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: 0.5 * jnp.sum(jnp.array([1.0, 4.0]) * x**2)
      >>> est = optjax.hutchinson_estimator_diag_hessian()
      >>> params = jnp.array([1.0, 1.0])
      >>> diag, _ = est.update(params, est.init(params), params, obj_fn=f)
      >>> print(diag)  # exact here: the Hessian is diagonal
      [1. 4.]

    References:
      Hutchinson, *A stochastic estimator of the trace of the influence matrix
      for Laplacian smoothing splines*, 1990,
      https://doi.org/10.1080/03610919008812866
    """

    def init_fn(params):
        del params
        return HutchinsonState(
            key=random_seed if random_seed is not None else jax.random.PRNGKey(0)
        )

    def update_fn(updates, state, params=None, obj_fn=None, **extra_args):
        del updates, extra_args
        if obj_fn is None:
            raise TypeError(MISSING_OBJ_FN_MSG)
        if not callable(obj_fn):
            raise TypeError(
                f"hutchinson_estimator_diag_hessian: obj_fn must be a function of the "
                f"params returning the scalar loss, got {type(obj_fn).__name__}."
            )
        key, subkey = jax.random.split(state.key)
        signs = _rademacher_like(subkey, params)
        hvp = jax.jvp(jax.grad(obj_fn), (params,), (signs,))[1]
        diag = _tree.map(
            lambda h, z: h * z,
            hvp,
            signs,
            names=("Hessian-vector product", "random signs"),
            where="hutchinson_estimator_diag_hessian",
        )
        return diag, HutchinsonState(key=key)

    return transformation(
        init_fn, update_fn, name="hutchinson_estimator_diag_hessian", needs_params=True
    )


# One shared default estimator, created once (as Optax's default argument is).
_DEFAULT_HESSIAN_FN = hutchinson_estimator_diag_hessian()


class SophiaState(NamedTuple):
    """State of :func:`scale_by_sophia` (field names as in Optax).

    Attributes:
      count: the number of updates so far.
      mu: the momentum :math:`m_t`.
      nu: :math:`h_t`, the EMA of the Hessian-diagonal estimates.
      hessian_fn_state: the state of ``hessian_diagonal_fn``.
    """

    count: jax.Array
    mu: Any
    nu: Any
    hessian_fn_state: Any


def _check_sophia(where: str, **values: Any) -> None:
    _checks.check_decay("b1", values["b1"], where=where)
    _checks.check_decay("b2", values["b2"], where=where)
    _checks.check_non_negative("eps", values["eps"], where=where)
    _checks.check_non_negative("gamma", values["gamma"], where=where)
    if values["clip_threshold"] is not None:
        _checks.check_positive("clip_threshold", values["clip_threshold"], where=where)
    interval = values["update_interval"]
    if not isinstance(interval, jax.Array):
        _checks.check_positive_int("update_interval", interval, where=where)
    if values["verbose"]:
        _checks.check_positive_int(
            "print_win_rate_every_n_steps (needed when verbose=True)",
            values["print_win_rate_every_n_steps"],
            where=where,
        )
    fn = values["hessian_diagonal_fn"]
    if not (hasattr(fn, "init") and hasattr(fn, "update")):
        raise TypeError(
            f"{where}: hessian_diagonal_fn must be a gradient transformation "
            f"(with init and update), e.g. optjax.hutchinson_estimator_diag_hessian(); "
            f"got {type(fn).__name__}."
        )


def scale_by_sophia(
    b1: jax.typing.ArrayLike = 0.965,
    b2: jax.typing.ArrayLike = 0.99,
    eps: jax.typing.ArrayLike = 1e-8,
    gamma: jax.typing.ArrayLike = 0.01,
    clip_threshold: jax.typing.ArrayLike | None = 1.0,
    update_interval: jax.typing.ArrayLike = 10,
    hessian_diagonal_fn: Any = _DEFAULT_HESSIAN_FN,
    mu_dtype: Any | None = None,
    verbose: bool = False,
    print_win_rate_every_n_steps: jax.typing.ArrayLike = 0,
) -> GradientTransformationExtraArgs:
    """Rescales updates by Sophia's clipped momentum over a Hessian-diagonal EMA.

    With :math:`\\hat h_t` the output of ``hessian_diagonal_fn`` and :math:`k`
    = ``update_interval``:

    .. math::

        m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t, \\qquad
        u_t = \\mathrm{clip}\\left(\\frac{m_t / (1-\\beta_1^t)}
        {\\max(\\gamma h_{t-1}, \\epsilon)}, -\\rho, \\rho\\right), \\\\
        h_t = \\begin{cases} \\beta_2 h_{t-1} + (1-\\beta_2) \\hat h_t
        & t - 1 \\equiv 0 \\pmod k \\\\ h_{t-1} & \\text{otherwise,}
        \\end{cases}

    counting steps from :math:`t = 1` (so the estimate is refreshed on steps
    1, k+1, 2k+1, ... and used from the following step), with :math:`\\rho` =
    ``clip_threshold`` (``None``: no clipping). Extra keyword arguments of
    ``update`` (such as ``obj_fn``) are forwarded to ``hessian_diagonal_fn``.

    .. warning::
      Like Optax, the first moment is bias-corrected and the Hessian EMA is
      not; the paper uses neither correction and clips :math:`m_t /
      \\max(\\gamma h_t, \\epsilon)` to :math:`[-1, 1]` before the learning rate.

    Args:
      b1: :math:`\\beta_1` in [0, 1), decay of the momentum.
      b2: :math:`\\beta_2` in [0, 1), decay of the Hessian EMA (per refresh,
        so its effective per-step rate is :math:`1 - (1-\\beta_2)/k`).
      eps: :math:`\\epsilon \\ge 0`, floor of the denominator.
      gamma: :math:`\\gamma \\ge 0`, scale of the Hessian in the denominator.
      clip_threshold: :math:`\\rho > 0`, or ``None`` for no clipping.
      update_interval: :math:`k`, refresh the Hessian estimate every k steps.
      hessian_diagonal_fn: a gradient transformation returning a Hessian-
        diagonal estimate; the default is Hutchinson's (needs ``obj_fn``).
      mu_dtype: storage dtype of the momentum; ``None`` keeps the params'.
      verbose: print the fraction of unclipped coordinates ("win rate").
      print_win_rate_every_n_steps: print it every n steps (n >= 1 when
        ``verbose``).

    Returns:
      A gradient transformation with a :class:`SophiaState`; ``update`` needs
      ``params``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum(x**2)
      >>> from optjax.contrib._sophia import scale_by_sophia
      >>> tx = scale_by_sophia(update_interval=1)
      >>> params = jnp.array([0.5, -2.0])
      >>> state = tx.init(params)
      >>> u, state = tx.update(jax.grad(f)(params), state, params, obj_fn=f)
      >>> print(u, state.nu)  # first step: h = 0, so the update is clipped
      [ 1. -1.] [0.02 0.02]

    References:
      Liu, Li, Hall, Liang & Ma, *Sophia: A Scalable Stochastic Second-order
      Optimizer for Language Model Pre-training*, ICLR 2024,
      https://arxiv.org/abs/2305.14342
    """
    _check_sophia("scale_by_sophia", **locals())
    where = "scale_by_sophia"
    mu_dtype = canonical_dtype(mu_dtype)
    hessian_fn = with_extra_args_support(hessian_diagonal_fn)

    def init_fn(params):
        return SophiaState(
            count=jnp.zeros([], jnp.int32),
            mu=_tree.zeros_like(params, dtype=mu_dtype),
            nu=_tree.zeros_like(params),
            hessian_fn_state=hessian_fn.init(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        grads = updates
        count = _tree.safe_increment(state.count)
        mu = _tree.update_moment(grads, state.mu, b1, order=1)
        mu_hat = _tree.bias_correction(mu, b1, count)
        new_updates = _tree.map(
            lambda m, h: m / jnp.maximum(gamma * h, eps), mu_hat, state.nu, where=where
        )
        if clip_threshold is not None:
            if verbose:
                unclipped = _tree.sum(
                    jax.tree.map(lambda u: jnp.sum(jnp.abs(u) < clip_threshold), new_updates)
                )
                win_rate = unclipped / _tree.size(new_updates)
                jax.lax.cond(
                    count % print_win_rate_every_n_steps == 0,
                    lambda: jax.debug.print("Sophia optimizer win rate: {}", win_rate),
                    lambda: None,
                )
            new_updates = jax.tree.map(
                lambda u: jnp.clip(u, -clip_threshold, clip_threshold), new_updates
            )

        def refresh(hessian_state, nu):
            diag, hessian_state = hessian_fn.update(grads, hessian_state, params, **extra_args)
            nu_new = _tree.update_moment(diag, nu, b2, order=1)
            return hessian_state, _tree.cast_like(nu_new, nu)

        hessian_state, nu = jax.lax.cond(
            state.count % update_interval == 0,
            refresh,
            lambda hessian_state, nu: (hessian_state, nu),
            state.hessian_fn_state,
            state.nu,
        )
        new_state = SophiaState(
            count=count, mu=_tree.cast(mu, mu_dtype), nu=nu, hessian_fn_state=hessian_state
        )
        return new_updates, new_state

    return transformation(init_fn, update_fn, name=where, needs_params=True)


def sophia(
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.965,
    b2: jax.typing.ArrayLike = 0.99,
    eps: jax.typing.ArrayLike = 1e-8,
    weight_decay: jax.typing.ArrayLike = 1e-4,
    weight_decay_mask: MaskOrFn | None = None,
    gamma: jax.typing.ArrayLike = 0.01,
    clip_threshold: jax.typing.ArrayLike | None = 1.0,
    update_interval: jax.typing.ArrayLike = 10,
    hessian_diagonal_fn: Any = _DEFAULT_HESSIAN_FN,
    mu_dtype: Any | None = None,
    verbose: bool = False,
    print_win_rate_every_n_steps: jax.typing.ArrayLike = 0,
) -> GradientTransformationExtraArgs:
    """Sophia: clipped momentum preconditioned by a Hessian-diagonal estimate.

    .. math::

        m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t, \\qquad
        h_t = \\beta_2 h_{t-k} + (1-\\beta_2) \\hat h_t
        \\ \\text{every } k \\text{ steps}, \\\\
        u_t = -\\eta_t \\left(\\mathrm{clip}\\left(\\frac{m_t/(1-\\beta_1^t)}
        {\\max(\\gamma h_{t-1}, \\epsilon)}, -\\rho, \\rho\\right)
        + \\lambda \\theta_t\\right),

    i.e. :func:`scale_by_sophia`, then :func:`add_decayed_weights` (masked by
    ``weight_decay_mask``), then the learning rate. The default Hessian
    estimator (:func:`hutchinson_estimator_diag_hessian`, "Sophia-H") needs the
    objective: call ``update(grads, state, params, obj_fn=f)`` with
    ``f(params) -> loss`` for the current batch; without it ``update`` raises
    ``TypeError`` saying so. A custom ``hessian_diagonal_fn`` receives every
    extra keyword argument of ``update``. The estimator is traced every step (it
    sits in a ``lax.cond``), so ``obj_fn`` must be passed on every step.

    .. warning::
      The default estimator draws Rademacher signs, not the paper's Gaussian
      vectors (as in Optax), and the first moment is bias-corrected (the paper
      does not correct it).

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      b1: :math:`\\beta_1` in [0, 1), decay of the momentum.
      b2: :math:`\\beta_2` in [0, 1), decay of the Hessian EMA per refresh.
      eps: :math:`\\epsilon \\ge 0`, floor of the denominator.
      weight_decay: :math:`\\lambda`, decoupled weight decay.
      weight_decay_mask: a boolean tree (or function of the params returning
        one) selecting the leaves to decay.
      gamma: :math:`\\gamma \\ge 0`, scale of the Hessian in the denominator.
      clip_threshold: :math:`\\rho > 0`, or ``None`` for no clipping.
      update_interval: :math:`k \\ge 1`, refresh the Hessian every k steps.
      hessian_diagonal_fn: a gradient transformation returning a Hessian-
        diagonal estimate.
      mu_dtype: storage dtype of the momentum; ``None`` keeps the params'.
      verbose: print the fraction of unclipped coordinates.
      print_win_rate_every_n_steps: print it every n steps (n >= 1 when
        ``verbose``).

    Returns:
      A gradient transformation whose state is ``(SophiaState, EmptyState,
      ScaleByScheduleState | EmptyState)``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> f = lambda x: jnp.sum(jnp.array([1.0, 10.0]) * x**2)
      >>> # b1 = b2 = 0, gamma = 1: a damped Newton step once h is known.
      >>> tx = optjax.sophia(0.5, b1=0.0, b2=0.0, weight_decay=0.0, gamma=1.0,
      ...                    update_interval=1)
      >>> params = jnp.array([1.0, 1.0])
      >>> state = tx.init(params)
      >>> for _ in range(4):
      ...     updates, state = tx.update(jax.grad(f)(params), state, params, obj_fn=f)
      ...     params = optjax.apply_updates(params, updates)
      ...     print(params)
      [0.5 0.5]
      [0.25 0.25]
      [0.125 0.125]
      [0.0625 0.0625]

    References:
      Liu, Li, Hall, Liang & Ma, *Sophia: A Scalable Stochastic Second-order
      Optimizer for Language Model Pre-training*, ICLR 2024,
      https://arxiv.org/abs/2305.14342
    """
    if not callable(weight_decay):
        _checks.check_non_negative("weight_decay", weight_decay, where="sophia")
    if not callable(learning_rate):
        _checks.check_non_negative("learning_rate", learning_rate, where="sophia")
    _check_sophia(
        "sophia",
        b1=b1,
        b2=b2,
        eps=eps,
        gamma=gamma,
        clip_threshold=clip_threshold,
        update_interval=update_interval,
        verbose=verbose,
        print_win_rate_every_n_steps=print_win_rate_every_n_steps,
        hessian_diagonal_fn=hessian_diagonal_fn,
    )
    return chain(
        scale_by_sophia(
            b1=b1,
            b2=b2,
            eps=eps,
            gamma=gamma,
            clip_threshold=clip_threshold,
            update_interval=update_interval,
            hessian_diagonal_fn=hessian_diagonal_fn,
            mu_dtype=mu_dtype,
            verbose=verbose,
            print_win_rate_every_n_steps=print_win_rate_every_n_steps,
        ),
        add_decayed_weights(weight_decay, mask=weight_decay_mask),
        scale_by_learning_rate(learning_rate),
    )
