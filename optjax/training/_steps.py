"""Compiled train and eval steps over a :class:`~optjax.training.TrainState`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from optjax.training._state import TrainState

LossFn = Callable[[Any, Mapping[str, Any]], jax.Array]
MetricsFn = Callable[[Any, Mapping[str, Any]], Mapping[str, jax.Array]]


def _check_batch(batch: Any, where: str) -> None:
    if not isinstance(batch, Mapping) or "x" not in batch:
        got = sorted(batch) if isinstance(batch, Mapping) else type(batch).__name__
        raise TypeError(
            f"{where}: batch must be a dict with the model input under 'x' (and the "
            f"targets under 'y'), got {got}."
        )


def _check_loss(loss: Any, where: str) -> jax.Array:
    # Checked while tracing, so a loss that forgot its mean fails before any
    # compile, with a message naming the shape (value_and_grad's is vaguer).
    shape = jnp.shape(loss)
    if shape != ():
        raise ValueError(
            f"{where}: loss_fn must return a scalar, got an array of shape {shape}; "
            f"reduce it (jnp.mean, say) over the batch."
        )
    return loss


def make_train_step(
    loss_fn: LossFn, *, donate: bool = True
) -> Callable[[TrainState, Mapping[str, Any]], tuple[TrainState, dict[str, jax.Array]]]:
    """Returns a compiled step ``(state, batch) -> (state, {"loss": loss})``.

    With :math:`\\ell` = ``loss_fn(model(x; \\theta_t), batch)`` computed in
    training mode (dropout on, with key ``fold_in(state.rng, t)``; batch
    statistics updated):

    .. math::

        g_t = \\nabla_\\theta \\ell(\\theta_t), \\qquad
        u_t, s_{t+1} = \\mathrm{tx.update}(g_t, s_t, \\theta_t, value=\\ell), \\qquad
        \\theta_{t+1} = \\theta_t + u_t

    The new model collections (BatchNorm statistics, NNX rng counters) are
    stored in the returned state. The loss reaches the optimizer as the extra
    argument ``value`` (used by Polyak step sizes; ignored by the rest).

    Args:
      loss_fn: ``loss_fn(outputs, batch) -> scalar``, where ``outputs`` is the
        model's output on ``batch["x"]`` and ``batch`` is the dict passed to
        the step (targets under ``"y"`` by convention).
      donate: donate the input state's buffers to the output (``jax.jit``'s
        ``donate_argnums=0``), so parameters and optimizer state are updated
        in place on accelerators. The state passed in must not be used again.

    Returns:
      A ``jax.jit`` function. It traces once per batch shape and model, not
      once per step.

    Raises:
      ValueError: at the first call, when ``loss_fn`` does not return a scalar.
      TypeError: at the first call, when ``batch`` is not a dict with ``"x"``.

    Examples:
      >>> import flax.linen as nn
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> from optjax.training import TrainState, make_train_step
      >>> batch = {"x": jnp.ones((4, 2)), "y": jnp.full((4, 1), 3.0)}
      >>> mse = lambda outputs, batch: jnp.mean((outputs - batch["y"]) ** 2)
      >>> state = TrainState.from_linen(
      ...     nn.Dense(1), optjax.sgd(0.1), rng=0, sample_input=batch["x"])
      >>> train_step = make_train_step(mse)
      >>> state, logs = train_step(state, batch)
      >>> state, logs = train_step(state, batch)
      >>> int(state.step), round(float(logs["loss"]), 4)
      (2, 0.2132)
    """

    return jax.jit(train_step_fn(loss_fn), donate_argnums=(0,) if donate else ())


def train_step_fn(
    loss_fn: LossFn,
) -> Callable[[TrainState, Mapping[str, Any]], tuple[TrainState, dict[str, jax.Array]]]:
    """The uncompiled body of :func:`make_train_step`, for use inside ``scan``/``vmap``."""

    def train_step(state: TrainState, batch: Mapping[str, Any]):
        _check_batch(batch, "train_step")
        rng = state.step_rng()

        def objective(params):
            outputs, model_state = state.apply_model(params, batch["x"], train=True, rng=rng)
            return _check_loss(loss_fn(outputs, batch), "train_step"), model_state

        (loss, model_state), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
        state = state.apply_gradients(grads, value=loss)
        return state.replace(model_state=model_state), {"loss": loss}

    return train_step


def checked_train_step_fn(loss_fn: LossFn) -> Callable[..., Any]:
    """:func:`train_step_fn` that keeps its update only while ``ok`` holds and the loss is finite.

    ``(state, batch, ok) -> (state, loss, kept)``. The step itself is always
    computed, outside any ``lax.cond``; only the choice of the returned state is
    conditional, so a step compiled alone keeps its operations in the program's
    entry computation (see ``optjax/training/_fit.py`` on convolutions). Both
    ``fit`` and ``sweep`` (vmapped over members) run it.
    """
    step = train_step_fn(loss_fn)

    def checked(state, batch, ok):
        new_state, logs = step(state, batch)
        loss = logs["loss"].astype(jnp.float32)
        keep = ok & jnp.isfinite(loss)
        state = jax.lax.cond(keep, lambda: new_state, lambda: state)
        return state, loss, keep

    return checked


def make_eval_step(
    loss_fn: LossFn | None = None, metrics_fn: MetricsFn | None = None
) -> Callable[[TrainState, Mapping[str, Any]], dict[str, jax.Array]]:
    """Returns a compiled step ``(state, batch) -> {"loss": loss, **metrics}``.

    The model runs in evaluation mode: dropout off, running BatchNorm
    statistics used and left unchanged, no rng. The state is not donated
    (it is read, not replaced).

    Args:
      loss_fn: ``loss_fn(outputs, batch) -> scalar``, as in
        :func:`make_train_step`; its value is reported as ``"loss"``.
      metrics_fn: ``metrics_fn(outputs, batch) -> dict`` of arrays, merged
        into the result.

    Returns:
      A ``jax.jit`` function.

    Raises:
      ValueError: when neither function is given, or (at the first call)
        when ``loss_fn`` does not return a scalar or ``metrics_fn`` also
        returns a ``"loss"``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> import optjax
      >>> from optjax.training import TrainState, make_eval_step, make_train_step
      >>> batch = {"x": jnp.ones((4, 2)), "y": jnp.full((4, 1), 3.0)}
      >>> mse = lambda outputs, batch: jnp.mean((outputs - batch["y"]) ** 2)
      >>> mae = lambda outputs, batch: {"mae": jnp.mean(jnp.abs(outputs - batch["y"]))}
      >>> state = TrainState.from_nnx(nnx.Linear(2, 1, rngs=nnx.Rngs(0)), optjax.sgd(0.1))
      >>> state, _ = make_train_step(mse)(state, batch)
      >>> logs = make_eval_step(mse, mae)(state, batch)
      >>> round(float(logs["loss"]), 4), round(float(logs["mae"]), 4)
      (1.3726, 1.1716)
    """
    if loss_fn is None and metrics_fn is None:
        raise ValueError("make_eval_step: give a loss_fn, a metrics_fn or both.")

    def eval_step(state: TrainState, batch: Mapping[str, Any]):
        _check_batch(batch, "eval_step")
        outputs, _ = state.apply_model(state.params, batch["x"], train=False)
        logs = {}
        if loss_fn is not None:
            logs["loss"] = _check_loss(loss_fn(outputs, batch), "eval_step")
        if metrics_fn is not None:
            metrics = dict(metrics_fn(outputs, batch))
            if loss_fn is not None and "loss" in metrics:
                raise ValueError(
                    "eval_step: metrics_fn returned a 'loss', which would hide loss_fn's."
                )
            logs.update(metrics)
        return logs

    return jax.jit(eval_step)
