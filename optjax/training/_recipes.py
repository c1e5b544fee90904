"""Named building blocks for a run: optimizers and schedules by name, the task's loss.

These are what ``optjax train`` assembles from its flags, exposed so that a
Python run can be assembled the same way (and so that ``optjax sweep`` and
``optjax lr-find`` share them).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

import optjax
from optjax import losses

# Optimizers whose update needs more than gradients (a line search's value_fn,
# a Hessian estimate's objective): they cannot run from gradients alone.
_NEEDS_EXTRA_ARGS = {
    "lbfgs": "a line search that calls value_fn; use optjax.lbfgs from Python with a loop "
    "that passes value, grad and value_fn",
    "sophia": "an objective function for its Hessian estimate; use it from Python",
    "dpsgd": "per-example gradients, a clipping norm and a noise multiplier; use "
    "optjax.contrib.dpsgd from Python with per-example gradients",
    "optimistic_adam": "nothing more, but Optax deprecates it: use optimistic_adam_v2",
}

SCHEDULE_NAMES = ("constant", "cosine", "linear", "exponential", "step", "onecycle", "inverse_sqrt")


@functools.cache
def optimizer_names() -> tuple[str, ...]:
    """The optjax optimizers that train from gradients alone, by name (sorted).

    .. math::

        \\{\\, n \\in \\mathrm{optjax.\\_\\_all\\_\\_} : n(\\text{learning\\_rate}, \\dots)
        \\text{ is an optimizer} \\,\\}

    Returns:
      A tuple of names accepted by :func:`make_optimizer`.

    Examples:
      >>> from optjax.training import optimizer_names
      >>> {"adam", "adamw", "sgd", "lion"} <= set(optimizer_names())
      True
    """
    names = []
    for name in optjax.__all__:
        fn = getattr(optjax, name)
        if not inspect.isfunction(fn) or name.startswith("scale_by") or name in _NEEDS_EXTRA_ARGS:
            continue
        parameters = list(inspect.signature(fn).parameters)
        if parameters and parameters[0] in ("learning_rate", "max_learning_rate"):
            names.append(name)
    return tuple(sorted(names))


def _unknown(kind: str, name: str, choices: Any) -> ValueError:
    return ValueError(f"unknown {kind} {name!r}; choose one of: {', '.join(choices)}.")


def make_schedule(
    name: str, learning_rate: float, *, total_steps: int, warmup: int = 0
) -> float | Callable[[jax.Array], jax.Array]:
    """Returns a learning rate or schedule by name, with an optional linear warmup.

    ================  ================================================================
    ``name``          learning rate at step :math:`t` (after ``warmup`` steps from 0)
    ================  ================================================================
    ``constant``      :math:`\\eta`
    ``cosine``        :math:`\\eta \\cdot \\tfrac12 (1 + \\cos(\\pi t / T))`
    ``linear``        :math:`\\eta (1 - t / T)`
    ``exponential``   :math:`\\eta \\cdot 0.01^{t / T}`
    ``step``          :math:`\\eta \\cdot 0.1^{[t \\ge T/2] + [t \\ge 3T/4]}`
    ``onecycle``      cosine one-cycle peaking at 30% (warmup ignored)
    ``inverse_sqrt``  :math:`\\eta \\sqrt{w / \\max(t, w)}`
    ================  ================================================================

    .. math::

        \\eta_t = \\eta\\, t / w \\quad (t < w), \\qquad
        \\eta_t = \\mathrm{schedule}(t - w) \\quad (t \\ge w), \\; T = \\text{total} - w

    Args:
      name: one of :data:`SCHEDULE_NAMES`.
      learning_rate: the peak learning rate :math:`\\eta`.
      total_steps: the run's number of steps.
      warmup: linear warmup steps :math:`w` from 0.

    Returns:
      A float (``constant`` without warmup) or a schedule.

    Raises:
      ValueError: for an unknown name (listing the valid ones) or a warmup not
        shorter than the run.

    Examples:
      >>> from optjax.training import make_schedule
      >>> s = make_schedule("cosine", 0.1, total_steps=110, warmup=10)
      >>> [round(float(s(t)), 4) for t in (0, 5, 10, 60, 110)]
      [0.0, 0.05, 0.1, 0.05, 0.0]
    """
    if name not in SCHEDULE_NAMES:
        raise _unknown("schedule", name, SCHEDULE_NAMES)
    if warmup < 0 or (warmup and warmup >= total_steps):
        raise ValueError(
            f"warmup must be >= 0 and shorter than the run's {total_steps} steps, got {warmup}."
        )
    if name == "onecycle":
        return optjax.schedules.cosine_onecycle_schedule(total_steps, learning_rate)
    decay_steps = max(total_steps - warmup, 1)
    lr = learning_rate
    body = {
        "constant": lambda: optjax.schedules.constant_schedule(lr),
        "cosine": lambda: optjax.schedules.cosine_decay_schedule(lr, decay_steps),
        "linear": lambda: optjax.schedules.linear_schedule(lr, 0.0, decay_steps),
        "exponential": lambda: optjax.schedules.exponential_decay(lr, decay_steps, 0.01),
        "step": lambda: optjax.schedules.piecewise_constant_schedule(
            lr, {decay_steps // 2: 0.1, (3 * decay_steps) // 4: 0.1}
        ),
        "inverse_sqrt": lambda: optjax.schedules.inverse_sqrt_schedule(lr, max(warmup, 1)),
    }[name]()
    if name == "inverse_sqrt":
        return body  # its own warmup
    if warmup == 0:
        return lr if name == "constant" else body
    ramp = optjax.schedules.linear_schedule(0.0, lr, warmup)
    return optjax.schedules.join_schedules([ramp, body], [warmup])


def make_optimizer(
    name: str,
    learning_rate: Any,
    *,
    weight_decay: float = 0.0,
    clip: float | None = None,
    seed: int = 0,
    **options: Any,
) -> optjax.GradientTransformation:
    """Returns an optjax optimizer by name, with weight decay and clipping as ``optax`` chains.

    .. math::

        \\mathrm{chain}(\\mathrm{clip\\_by\\_global\\_norm}(c),\\
        [\\mathrm{add\\_decayed\\_weights}(\\lambda)],\\
        \\mathrm{inject\\_hyperparams}(\\mathrm{name})(\\eta, \\dots))

    The optimizer is wrapped in :func:`optjax.inject_hyperparams`, so its
    learning rate is part of the state (logged each epoch, and changed by
    :class:`ReduceLROnPlateau` without recompiling). ``weight_decay`` goes to
    the optimizer's own (decoupled) ``weight_decay`` argument when it has one
    (``adamw``, ``lion``, ``lamb``...); otherwise :math:`\\lambda\\theta` is added
    to the gradient first (L2 regularization, PyTorch's ``Adam(weight_decay=)``).

    Args:
      name: one of :func:`optimizer_names`.
      learning_rate: a float or a schedule.
      weight_decay: :math:`\\lambda \\ge 0`.
      clip: clip gradients to this global norm first (``None``: no clipping).
      seed: the key of optimizers that draw noise (``noisy_sgd``).
      **options: more keyword arguments for the optimizer.

    Returns:
      The gradient transformation.

    Raises:
      ValueError: for an unknown name (listing the valid ones).

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> from optjax.training import make_optimizer
      >>> tx = make_optimizer("adam", 1e-3, weight_decay=1e-4, clip=1.0)
      >>> state = tx.init({"w": jnp.zeros(2)})
      >>> round(float(optjax.get_hyperparams(state)["learning_rate"]), 6)
      0.001
    """
    if name not in optimizer_names():
        if name in _NEEDS_EXTRA_ARGS:
            raise ValueError(f"{name} needs {_NEEDS_EXTRA_ARGS[name]}.")
        raise _unknown("optimizer", name, optimizer_names())
    factory = getattr(optjax, name)
    parameters = inspect.signature(factory).parameters
    first = next(iter(parameters))
    kwargs = {first: learning_rate, **options}
    if "key" in parameters and "key" not in options:
        kwargs["key"] = jax.random.key(seed)
    pre = []
    if clip is not None:
        if clip <= 0:
            raise ValueError(f"clip must be > 0, got {clip!r}.")
        pre.append(optjax.clip_by_global_norm(clip))
    if weight_decay:
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}.")
        if "weight_decay" in parameters:
            kwargs["weight_decay"] = weight_decay
        else:
            pre.append(optjax.add_decayed_weights(weight_decay))
    # Only float hyperparameters (and the learning rate) become state. Integer
    # ones (Muon's ns_steps) stay Python ints, and functions (ADOPT's
    # clip_value_fn) are not schedules to call with the step.
    static = tuple(
        n for n, p in parameters.items() if n != first and not isinstance(p.default, float)
    )
    tx = optjax.inject_hyperparams(factory, static_args=static)(**kwargs)
    return optjax.chain(*pre, tx) if pre else tx


def default_loss(task: str) -> Callable[[jax.Array, Mapping[str, Any]], jax.Array]:
    """Returns the tutorial loss for a task: cross-entropy or mean squared error.

    .. math::

        \\ell_{\\text{classification}} = -\\tfrac1n \\sum_i \\log \\mathrm{softmax}(z_i)_{y_i},
        \\qquad \\ell_{\\text{regression}} = \\tfrac1n \\sum_i (\\hat y_i - y_i)^2

    Args:
      task: ``"classification"`` or ``"regression"``.

    Returns:
      ``loss_fn(outputs, batch) -> scalar``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax.training import default_loss
      >>> loss = default_loss("regression")
      >>> float(loss(jnp.array([[1.0], [3.0]]), {"y": jnp.array([1.0, 1.0])}))
      2.0
    """
    if task == "classification":
        return _cross_entropy
    if task == "regression":
        return _mean_squared_error
    raise _unknown("task", task, ("classification", "regression"))


def _cross_entropy(logits: jax.Array, batch: Mapping[str, Any]) -> jax.Array:
    return jnp.mean(losses.softmax_cross_entropy_with_integer_labels(logits, batch["y"]))


def _mean_squared_error(outputs: jax.Array, batch: Mapping[str, Any]) -> jax.Array:
    targets = batch["y"]
    return losses.mean_squared_error(jnp.reshape(outputs, jnp.shape(targets)), targets)
