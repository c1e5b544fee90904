"""Whole-dataset evaluation: batched predictions, then the loss and metrics on all of them.

Metrics such as precision, F1 or R² are not means over batches, so they are
computed once on the predictions for every example. Predictions are made in
fixed-size batches (the last one padded and trimmed), inside one compiled
``lax.map``, so a dataset of any length costs one compile per batch size.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from optjax import metrics as _metrics
from optjax.contrib import ScheduleFreeState, schedule_free_eval_params
from optjax.training._state import TrainState

MetricsFn = Callable[[Any, Mapping[str, Any]], Mapping[str, jax.Array]]


def classification_metrics(num_classes: int) -> MetricsFn:
    """Returns ``metrics_fn(logits, batch)``: accuracy and macro precision, recall and F1.

    .. math::

        \\hat y_i = \\arg\\max_c \\mathrm{logits}_{ic}, \\qquad
        F_1 = \\frac{1}{C} \\sum_c \\frac{2\\,TP_c}{2\\,TP_c + FP_c + FN_c}

    With two classes the binary scores (positive class 1) are reported, as
    scikit-learn's default ``average="binary"`` does.

    Args:
      num_classes: the number of classes :math:`C`.

    Returns:
      A function ``(logits, batch) -> {"accuracy", "precision", "recall", "f1"}``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax.training import classification_metrics
      >>> logits = jnp.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 2.0, 0.0]])
      >>> m = classification_metrics(3)(logits, {"y": jnp.array([0, 1, 2])})
      >>> round(float(m["accuracy"]), 4), round(float(m["f1"]), 4)
      (0.6667, 0.5556)
    """
    average = "binary" if num_classes == 2 else "macro"

    def metrics_fn(logits: jax.Array, batch: Mapping[str, Any]) -> dict[str, jax.Array]:
        labels = batch["y"]
        predicted = jnp.argmax(logits, axis=-1)
        kw = dict(average=average, num_classes=num_classes)
        return {
            "accuracy": _metrics.accuracy(predicted, labels),
            "precision": _metrics.precision(labels, predicted, **kw),
            "recall": _metrics.recall(labels, predicted, **kw),
            "f1": _metrics.f1_score(labels, predicted, **kw),
        }

    return metrics_fn


def regression_metrics(outputs: jax.Array, batch: Mapping[str, Any]) -> dict[str, jax.Array]:
    """Mean squared error, mean absolute error and R² of predictions against ``batch["y"]``.

    .. math::

        \\mathrm{MSE} = \\tfrac1n \\sum_i (\\hat y_i - y_i)^2, \\quad
        \\mathrm{MAE} = \\tfrac1n \\sum_i |\\hat y_i - y_i|, \\quad
        R^2 = 1 - \\frac{\\sum_i (y_i - \\hat y_i)^2}{\\sum_i (y_i - \\bar y)^2}

    Args:
      outputs: predictions, shape ``(n,)`` or ``(n, 1)``.
      batch: a dict with the targets under ``"y"``.

    Returns:
      ``{"mse", "mae", "r2"}``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax.training import regression_metrics
      >>> m = regression_metrics(jnp.array([[1.0], [2.0], [4.0]]), {"y": jnp.array([1.0, 2.0, 3.0])})
      >>> round(float(m["mse"]), 4), round(float(m["r2"]), 4)
      (0.3333, 0.5)
    """
    targets = batch["y"]
    predictions = jnp.reshape(outputs, jnp.shape(targets))
    return {
        "mse": _metrics.mean_squared_error(targets, predictions),
        "mae": _metrics.mean_absolute_error(targets, predictions),
        "r2": _metrics.r2_score(targets, predictions),
    }


def _is_schedule_free_state(node: Any) -> bool:
    return isinstance(node, ScheduleFreeState)


def eval_params(state: TrainState) -> Any:
    """The parameters a model is evaluated at: ``state.params``, or the schedule-free average.

    Schedule-free optimizers train at :math:`y_t` but are evaluated at the
    average :math:`x_t` (:func:`optjax.schedule_free_eval_params`); every other
    optimizer is evaluated at its parameters.

    .. math::

        \\theta_{\\text{eval}} = \\begin{cases} x_t & \\text{schedule-free} \\\\
        \\theta_t & \\text{otherwise} \\end{cases}

    Args:
      state: the train state.

    Returns:
      The parameters to evaluate the model at.

    Examples:
      >>> from flax import nnx
      >>> import optjax
      >>> from optjax.training import TrainState, eval_params
      >>> state = TrainState.from_nnx(nnx.Linear(2, 1, rngs=nnx.Rngs(0)),
      ...                             optjax.schedule_free_sgd(0.1))
      >>> sorted(eval_params(state))
      ['bias', 'kernel']
    """
    nodes = jax.tree.leaves(state.opt_state, is_leaf=_is_schedule_free_state)
    if any(_is_schedule_free_state(node) for node in nodes):
        return schedule_free_eval_params(state.opt_state, state.params)
    return state.params


@functools.lru_cache(maxsize=64)
def _predictor(batch_size: int, num_batches: int) -> Callable[..., jax.Array]:
    del num_batches  # Part of the cache key: the padded input's shape.

    @jax.jit
    def predict(state: TrainState, x_padded: jax.Array) -> jax.Array:
        batches = x_padded.reshape((-1, batch_size) + x_padded.shape[1:])
        params = eval_params(state)
        outputs = jax.lax.map(lambda x: state.apply_model(params, x, train=False)[0], batches)
        return outputs.reshape((-1,) + outputs.shape[2:])

    return predict


def predict(state: TrainState, x: Any, *, batch_size: int = 1024) -> jax.Array:
    """Returns the model's outputs in evaluation mode for every example of ``x``.

    The model runs at :func:`eval_params` (the schedule-free average for
    schedule-free optimizers).

    .. math::

        \\hat Y = [\\, f(x_i; \\theta) \\,]_{i=1}^n \\quad \\text{(dropout off,
        running batch statistics)}

    Args:
      state: the train state.
      x: inputs, first axis = examples.
      batch_size: examples per compiled batch (the last one is padded).

    Returns:
      The stacked outputs, first axis = examples.

    Examples:
      >>> import jax.numpy as jnp
      >>> import flax.linen as nn
      >>> import optjax
      >>> from optjax.training import TrainState, predict
      >>> state = TrainState.from_linen(nn.Dense(2), optjax.sgd(0.1), rng=0,
      ...                               sample_input=jnp.ones((1, 3)))
      >>> predict(state, jnp.ones((5, 3)), batch_size=2).shape
      (5, 2)
    """
    x = jnp.asarray(x)
    n = x.shape[0]
    if n == 0:
        raise ValueError("predict: x has no examples.")
    size = max(1, min(batch_size, n))
    count = -(-n // size)
    padded = jnp.concatenate([x, jnp.zeros((count * size - n,) + x.shape[1:], x.dtype)])
    return _predictor(size, count)(state, padded)[:n]


def evaluate(
    state: TrainState,
    data: Any,
    *,
    loss_fn: Callable[[Any, Mapping[str, Any]], jax.Array] | None = None,
    metrics_fn: MetricsFn | None = None,
    batch_size: int = 1024,
) -> dict[str, float]:
    """Returns the loss and metrics of the model on a whole dataset, as floats.

    .. math::

        \\mathrm{loss} = \\ell(\\hat Y, Y), \\qquad \\mathrm{metrics} = m(\\hat Y, Y)
        \\quad \\text{on all } n \\text{ examples at once}

    Args:
      state: the train state.
      data: an :class:`optjax.data.Dataset` or a dict with ``"x"`` and ``"y"``.
      loss_fn: ``loss_fn(outputs, batch) -> scalar``; reported as ``"loss"``.
      metrics_fn: ``metrics_fn(outputs, batch) -> dict``.
      batch_size: examples per compiled prediction batch.

    Returns:
      A dict of Python floats.

    Examples:
      >>> import jax.numpy as jnp
      >>> import flax.linen as nn
      >>> import optjax
      >>> from optjax.training import TrainState, evaluate
      >>> state = TrainState.from_linen(nn.Dense(1), optjax.sgd(0.1), rng=0,
      ...                               sample_input=jnp.ones((1, 2)))
      >>> data = {"x": jnp.ones((3, 2)), "y": jnp.zeros((3, 1))}
      >>> mse = lambda out, batch: jnp.mean((out - batch["y"]) ** 2)
      >>> sorted(evaluate(state, data, loss_fn=mse))
      ['loss']
    """
    x, y = _arrays(data, "evaluate")
    outputs = predict(state, x, batch_size=batch_size)
    return _score(loss_fn, metrics_fn)(outputs, jnp.asarray(y))


@functools.lru_cache(maxsize=64)
def _score(loss_fn: Any, metrics_fn: Any) -> Callable[[jax.Array, jax.Array], dict[str, float]]:
    @jax.jit
    def score(outputs, y):
        batch = {"y": y}
        logs = {} if loss_fn is None else {"loss": loss_fn(outputs, batch)}
        if metrics_fn is not None:
            logs.update(metrics_fn(outputs, batch))
        return logs

    def to_floats(outputs, y):
        return {k: float(v) for k, v in score(outputs, y).items()}

    return to_floats


def _arrays(data: Any, where: str) -> tuple[Any, Any]:
    if isinstance(data, Mapping):
        if "x" not in data or "y" not in data:
            raise TypeError(f"{where}: data must have 'x' and 'y', got keys {sorted(data)}.")
        return data["x"], data["y"]
    if hasattr(data, "x") and hasattr(data, "y"):
        return data.x, data.y
    raise TypeError(
        f"{where}: data must be an optjax.data.Dataset or a dict with 'x' and 'y', "
        f"got {type(data).__name__}."
    )
