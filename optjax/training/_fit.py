"""The fit loop: compiled chunks of steps, evaluation, callbacks, checkpoints, divergence.

When the training set is resident (an :class:`optjax.data.Dataset` or a dict of
arrays), it is copied to the device once, and each chunk of up to
``steps_per_execution`` steps (by default a whole epoch) runs inside one
compiled ``lax.scan`` that gathers its batches from the resident arrays by
index. Only the shuffled indices cross from the host. Chunks always have the
same length (a short chunk is padded with steps that do nothing), so a run
compiles the chunk once. A final short batch, when ``batch_size`` does not
divide the dataset, runs as one extra compiled step. A streaming iterable of
batches runs one compiled step per batch instead.

Every step checks its loss: a non-finite loss skips the update and the rest of
the chunk, and :class:`TrainingDiverged` names the step. The state it carries
is the last good one, and no checkpoint is written after the divergence.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from optjax import _data, _inject
from optjax.training._callbacks import Callback, History, Run, progress_enabled
from optjax.training._evaluate import _arrays, evaluate
from optjax.training._state import TrainState
from optjax.training._steps import LossFn, MetricsFn, train_step_fn


class TrainingDiverged(RuntimeError):
    """Raised by :func:`fit` when the training loss stops being finite.

    Attributes:
      step: the step whose loss was not finite (the number of updates applied
        before it).
      epoch: its epoch (1-based).
      state: the last good train state (the update of ``step`` is not applied).
      history: the epochs completed before the divergence.

    Examples:
      >>> import optjax
      >>> from optjax import data
      >>> from optjax.training import TrainState, TrainingDiverged, default_loss, fit, make_model
      >>> ds = data.load("diabetes")  # raw targets in the hundreds
      >>> state = TrainState.from_nnx(make_model("linear", input_shape=(10,)), optjax.sgd(5.0))
      >>> try:
      ...     _ = fit(state, ds, loss_fn=default_loss("regression"), epochs=5, progress=False)
      ... except TrainingDiverged as error:
      ...     print(error.step == int(error.state.step), error.epoch)
      True 2
    """

    def __init__(self, message: str, *, step: int, epoch: int, state: TrainState, history: History):
        super().__init__(message)
        self.step, self.epoch, self.state, self.history = step, epoch, state, history


def _guarded_step(loss_fn: LossFn) -> Callable[..., Any]:
    """One train step that keeps the old state when the loss is not finite."""
    step = train_step_fn(loss_fn)

    def guarded(state, batch, run):
        def take(state):
            new_state, logs = step(state, batch)
            loss = logs["loss"].astype(jnp.float32)
            finite = jnp.isfinite(loss)
            state = jax.lax.cond(finite, lambda: new_state, lambda: state)
            return state, loss, finite

        def skip(state):
            return state, jnp.float32(jnp.nan), jnp.bool_(True)

        return jax.lax.cond(run, take, skip, state)

    return guarded


@functools.lru_cache(maxsize=32)
def _chunk_runner(loss_fn: LossFn) -> Callable[..., Any]:
    guarded = _guarded_step(loss_fn)

    def run_chunk(state, x_all, y_all, index_KxB, active_K):
        def body(carry, inputs):
            state, ok = carry
            index_B, active = inputs
            batch = {"x": x_all[index_B], "y": y_all[index_B]}
            state, loss, finite = guarded(state, batch, active & ok)
            return (state, ok & finite), loss

        (state, _), losses_K = jax.lax.scan(body, (state, jnp.bool_(True)), (index_KxB, active_K))
        return state, losses_K

    return jax.jit(run_chunk, donate_argnums=(0,))


@functools.lru_cache(maxsize=32)
def _step_runner(loss_fn: LossFn) -> Callable[..., Any]:
    guarded = _guarded_step(loss_fn)

    def run_step(state, batch):
        state, loss, _ = guarded(state, batch, jnp.bool_(True))
        return state, loss

    return jax.jit(run_step, donate_argnums=(0,))


def _check_positive_int(name: str, value: Any, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"fit: {name} must be a positive int, got {value!r}.")


def _check_model_accepts(state: TrainState, x: Any, where: str) -> None:
    """Traces (does not compile) the model on one example to catch shape errors early."""
    sample = jax.ShapeDtypeStruct((1,) + tuple(np.shape(x)[1:]), jnp.asarray(x[:1]).dtype)
    try:
        jax.eval_shape(lambda s, x: s.apply_model(s.params, x, train=False)[0], state, sample)
    except Exception as error:  # flax raises several types; rewrap with the shape
        raise ValueError(
            f"{where}: the model cannot take inputs of shape {tuple(np.shape(x)[1:])} "
            f"(per example): {type(error).__name__}: {error}"
        ) from error


def _learning_rate(opt_state: Any) -> float | None:
    if not _inject._find_inject_states(opt_state):
        return None
    try:
        value = _inject.get_hyperparams(opt_state).get("learning_rate")
    except ValueError:
        return None
    return None if value is None else float(value)


class _Resident:
    """A dataset on the device, cut into shuffled fixed-size batches by index."""

    def __init__(self, x, y, batch_size, *, seed, shuffle, drop_last):
        self.x, self.y = jnp.asarray(x), jnp.asarray(y)
        self.n = int(self.x.shape[0])
        self.batch_size, self.seed, self.shuffle = batch_size, seed, shuffle
        self.full = self.n // batch_size
        self.steps_per_epoch = _data.num_batches(self.n, batch_size, drop_last)

    def order(self, epoch: int) -> np.ndarray:
        # The same permutation as optjax.data.batches(seed=seed, epoch=epoch).
        if self.shuffle:
            return np.random.default_rng((self.seed, epoch)).permutation(self.n)
        return np.arange(self.n)

    def batch_size_at(self, j: int) -> int:
        return self.batch_size if j < self.full else self.n - self.full * self.batch_size


def fit(
    state: TrainState,
    train_data: Any,
    *,
    loss_fn: LossFn,
    epochs: int = 1,
    batch_size: int = 32,
    validation_data: Any = None,
    metrics_fn: MetricsFn | None = None,
    callbacks: Sequence[Callback] = (),
    seed: int = 0,
    shuffle: bool = True,
    drop_last: bool = False,
    steps_per_execution: int | None = None,
    checkpointer: Any = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    progress: bool | None = None,
    eval_batch_size: int = 1024,
) -> tuple[TrainState, History]:
    """Trains ``state`` for ``epochs`` passes over ``train_data``; returns it and a History.

    Each step is :func:`make_train_step`'s:

    .. math::

        g_t = \\nabla_\\theta\\, \\ell(f(x_{B_t}; \\theta_t), y_{B_t}), \\qquad
        \\theta_{t+1} = \\theta_t + \\mathrm{tx.update}(g_t, s_t, \\theta_t)

    where :math:`B_t` is the :math:`t`-th batch of a permutation drawn from
    ``(seed, epoch)`` (the order of :func:`optjax.data.batches`), and the
    dropout key of step :math:`t` is ``fold_in(state.rng, t)``. A run is
    therefore a function of its arguments: resuming from a checkpoint gives
    the same final parameters, bit for bit on CPU, as an uninterrupted run.

    After each epoch the model is evaluated (dropout off) on
    ``validation_data``, and the epoch's logs (``loss``, the mean training loss
    over the epoch's examples; ``val_loss`` and ``val_<metric>``;
    ``learning_rate`` when it is an injected hyperparameter; ``seconds``) go to
    the callbacks, then to the returned :class:`History`.

    Args:
      state: the initial :class:`TrainState` (copied: it stays usable).
      train_data: an :class:`optjax.data.Dataset` or a dict of arrays with
        ``"x"`` and ``"y"`` (resident: compiled ``scan`` chunks), or a
        re-iterable of batch dicts, or a function ``epoch -> iterable of batch
        dicts`` (streaming: one compiled step per batch).
      loss_fn: ``loss_fn(outputs, batch) -> scalar``.
      epochs: passes over the data.
      batch_size: examples per step (resident data).
      validation_data: a Dataset or dict evaluated after every epoch.
      metrics_fn: ``metrics_fn(outputs, batch) -> dict`` for the validation
        data (e.g. :func:`classification_metrics`).
      callbacks: :class:`Callback` objects, called in order.
      seed: seed of the per-epoch shuffles.
      shuffle: shuffle every epoch (resident data).
      drop_last: drop the final short batch of each epoch.
      steps_per_execution: steps per compiled chunk (Keras's name); ``None``
        runs a whole epoch per chunk.
      checkpointer: a :class:`Checkpointer`; the best ``val_loss`` (``loss``
        without validation data) is also kept.
      checkpoint_every: save every this many steps; ``None`` saves after every
        epoch. A save due at an epoch's last step happens after that epoch's
        evaluation, so it includes the epoch's logs.
      resume: continue from ``checkpointer``'s latest checkpoint, when there is
        one (the history, the callbacks' state and the data order continue).
      progress: a tqdm progress bar; ``None`` shows one only on a terminal.
      eval_batch_size: examples per compiled evaluation batch.

    Returns:
      ``(state, history)``: the trained state and a :class:`History` whose
      ``timing`` dict holds ``seconds_per_epoch`` (the mean over epochs after
      the first, which includes compilation; the first epoch alone when there
      is one), ``first_epoch_seconds``, ``steps_per_second`` (train steps
      only, over the same epochs) and ``total_seconds``.

    Raises:
      TrainingDiverged: when a training loss is not finite.
      ValueError: for bad arguments, or data the model cannot take (before
        any compile).

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> from optjax import data, losses
      >>> from optjax.training import TrainState, fit, make_model
      >>> train, test = data.train_test_split(data.load("linear"), seed=0)
      >>> model = make_model("linear", input_shape=(1,))
      >>> state = TrainState.from_nnx(model, optjax.sgd(0.1))
      >>> mse = lambda out, batch: losses.mean_squared_error(out[:, 0], batch["y"])
      >>> state, history = fit(state, train, loss_fn=mse, epochs=20, batch_size=32,
      ...                      validation_data=test, progress=False)
      >>> len(history), history["val_loss"][-1] < 0.02
      (20, True)
    """
    _check_positive_int("epochs", epochs)
    _check_positive_int("batch_size", batch_size)
    _check_positive_int("steps_per_execution", steps_per_execution, allow_none=True)
    _check_positive_int("checkpoint_every", checkpoint_every, allow_none=True)
    if resume and checkpointer is None:
        raise ValueError("fit: resume=True needs a checkpointer to resume from.")

    resident = isinstance(train_data, Mapping) or (
        hasattr(train_data, "x") and hasattr(train_data, "y")
    )
    if resident:
        x, y = _arrays(train_data, "fit")
        if len(x) == 0:
            raise ValueError("fit: train_data has no examples.")
        if drop_last and len(x) < batch_size:
            raise ValueError(
                f"fit: batch_size {batch_size} is larger than the {len(x)} training examples "
                f"and drop_last=True leaves no batch."
            )
        _check_model_accepts(state, x, "fit")
        data = _Resident(x, y, batch_size, seed=seed, shuffle=shuffle, drop_last=drop_last)
        steps_per_epoch: int | None = data.steps_per_epoch
    elif callable(train_data) or isinstance(train_data, Iterable):
        data = None
        steps_per_epoch = len(train_data) if hasattr(train_data, "__len__") else None
    else:
        raise TypeError(
            "fit: train_data must be an optjax.data.Dataset, a dict with 'x' and 'y', an "
            f"iterable of batch dicts or a function epoch -> batches; got {type(train_data).__name__}."
        )
    if validation_data is not None:
        val_x, _ = _arrays(validation_data, "fit (validation_data)")
        _check_model_accepts(state, val_x, "fit (validation_data)")

    # The loop donates its buffers step after step; the caller's state is left intact.
    state = jax.tree.map(jnp.copy, state)
    history = History()
    run = Run(state=state, history=history.epochs, epochs=epochs,
              steps_per_epoch=steps_per_epoch or 0, checkpointer=checkpointer)  # fmt: skip
    callbacks = [history, *callbacks]
    best_monitor = "val_loss" if validation_data is not None else "loss"
    if checkpointer is not None:
        checkpointer.best_monitor = best_monitor

    # Where the run starts: step 0, or a checkpoint.
    steps_done, loss_sum, examples, stopped, epoch_first_step = 0, 0.0, 0, False, 0
    start_step = int(state.step)
    if resume and checkpointer.latest_step() is not None:
        state, meta = checkpointer.restore(state)
        start_step = int(meta["fit"]["start_step"])
        steps_done = int(state.step) - start_step
        history.epochs[:] = meta["fit"]["history"]
        loss_sum, examples = float(meta["fit"]["loss_sum"]), int(meta["fit"]["examples"])
        stopped = bool(meta["fit"]["stopped_early"])
        epoch_first_step = int(meta["fit"]["epoch_first_step"])
        for callback, saved in zip(callbacks[1:], meta["fit"]["callbacks"]):
            callback.load_state_dict(saved)
        run.state = state

    def metadata() -> dict[str, Any]:
        return {
            "fit": {
                "start_step": start_step,
                "history": history.epochs,
                "loss_sum": loss_sum,
                "examples": examples,
                "stopped_early": run.stop_training,
                "epoch_first_step": epoch_first_step,
                "callbacks": [c.state_dict() for c in callbacks[1:]],
            }
        }

    for callback in callbacks:
        callback.on_train_begin(run)

    bar = _progress_bar(progress, total=None if steps_per_epoch is None else epochs * steps_per_epoch,
                        initial=steps_done)  # fmt: skip
    epoch_seconds: list[float] = []
    # Per epoch: (seconds spent in train steps, steps); compile time lands in the first.
    epoch_train: list[tuple[float, int]] = []
    train_seconds, train_steps = 0.0, 0
    started = time.perf_counter()

    def diverged(step_in_fit: int, epoch: int, loss: float) -> TrainingDiverged:
        bar.close()
        last = checkpointer.latest_step() if checkpointer is not None else None
        where = (
            f"; the last checkpoint is step {last} in {checkpointer.directory}"
            if last is not None
            else ""
        )
        return TrainingDiverged(
            f"Training diverged: the loss was {loss} at step {start_step + step_in_fit} "
            f"(epoch {epoch}). Stopped; the returned state is the one before that step{where}. "
            f"Try a smaller learning rate, gradient clipping (--clip) or a warmup.",
            step=start_step + step_in_fit, epoch=epoch, state=run.state,
            history=history,
        )  # fmt: skip

    def save_if_due(step_in_fit: int, at_epoch_end: bool) -> None:
        if checkpointer is None:
            return
        due = checkpoint_every is None and at_epoch_end
        due = due or (checkpoint_every is not None and step_in_fit % checkpoint_every == 0)
        if due:
            checkpointer.save(run.state, metadata=metadata())

    run.stop_training = stopped
    epoch = len(history.epochs)
    while epoch < epochs and not stopped:
        epoch_start = time.perf_counter()
        seconds_before, steps_before = train_seconds, train_steps
        position = steps_done - epoch_first_step
        if position == 0:
            loss_sum, examples = 0.0, 0
        if data is not None:
            order = data.order(epoch)
            chunk = steps_per_execution or max(data.full, 1)
            j = position
            while j < data.steps_per_epoch:
                t0 = time.perf_counter()
                if j < data.full:
                    end = min(j + chunk, data.full)
                    if checkpoint_every is not None:
                        next_save = (steps_done // checkpoint_every + 1) * checkpoint_every
                        end = min(end, j + next_save - steps_done)
                    count = end - j
                    index = np.zeros((chunk, batch_size), np.int32)
                    index[:count] = order[j * batch_size : end * batch_size].reshape(
                        count, batch_size
                    )
                    active = np.arange(chunk) < count
                    run.state, losses = _chunk_runner(loss_fn)(
                        run.state, data.x, data.y, index, active
                    )
                    losses = np.asarray(losses)[:count]
                else:  # the short last batch
                    index = order[data.full * batch_size :]
                    batch = {"x": data.x[index], "y": data.y[index]}
                    run.state, loss = _step_runner(loss_fn)(run.state, batch)
                    losses, count = np.asarray(loss)[None], 1
                train_seconds += time.perf_counter() - t0
                bad = np.flatnonzero(~np.isfinite(losses))
                if bad.size:
                    raise diverged(steps_done + int(bad[0]), epoch + 1, float(losses[bad[0]]))
                for k in range(count):
                    size = data.batch_size_at(j + k)
                    loss_sum += float(losses[k]) * size
                    examples += size
                steps_done += count
                train_steps += count
                j += count
                bar.update(count)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / max(examples, 1):.4g}")
                if j < data.steps_per_epoch:
                    save_if_due(steps_done, at_epoch_end=False)
        else:
            batches = train_data(epoch) if callable(train_data) else train_data
            for j, batch in enumerate(batches):
                if j < position:
                    continue  # resuming inside this epoch
                t0 = time.perf_counter()
                run.state, loss = _step_runner(loss_fn)(run.state, dict(batch))
                loss = float(loss)
                train_seconds += time.perf_counter() - t0
                if not math.isfinite(loss):
                    raise diverged(steps_done, epoch + 1, loss)
                size = int(np.shape(batch["y"])[0]) if "y" in batch else 1
                loss_sum, examples = loss_sum + loss * size, examples + size
                steps_done += 1
                train_steps += 1
                bar.update(1)
                save_if_due(steps_done, at_epoch_end=False)
        epoch += 1
        epoch_train.append((train_seconds - seconds_before, train_steps - steps_before))
        logs: dict[str, float] = {"epoch": epoch, "loss": loss_sum / max(examples, 1)}
        if validation_data is not None:
            val = evaluate(run.state, validation_data, loss_fn=loss_fn, metrics_fn=metrics_fn,
                           batch_size=eval_batch_size)  # fmt: skip
            logs.update({f"val_{k}": v for k, v in val.items()})
        lr = _learning_rate(run.state.opt_state)
        if lr is not None:
            logs["learning_rate"] = lr
        logs["seconds"] = time.perf_counter() - epoch_start
        epoch_seconds.append(logs["seconds"])
        for callback in callbacks:
            callback.on_epoch_end(run, epoch, logs)
        stopped = run.stop_training or epoch >= epochs
        epoch_first_step = steps_done
        if checkpointer is not None:
            checkpointer.save_best(run.state, metric=logs[best_monitor], metadata=metadata())
            if stopped or checkpoint_every is None or steps_done % checkpoint_every == 0:
                checkpointer.save(run.state, metadata=metadata())
    bar.close()
    for callback in callbacks:
        callback.on_train_end(run)

    later = epoch_seconds[1:] or epoch_seconds
    seconds, steps = np.sum(epoch_train[1:] or epoch_train or [(0.0, 0)], axis=0)
    history.timing = {
        "seconds_per_epoch": float(np.mean(later)) if later else 0.0,
        "first_epoch_seconds": epoch_seconds[0] if epoch_seconds else 0.0,
        "steps_per_second": float(steps / seconds) if seconds > 0 else 0.0,
        "total_seconds": time.perf_counter() - started,
    }
    return run.state, history


class _NoBar:
    def update(self, n: int) -> None: ...

    def set_postfix(self, **kwargs: Any) -> None: ...

    def close(self) -> None: ...


def _progress_bar(progress: bool | None, *, total: int | None, initial: int) -> Any:
    if not progress_enabled(progress):
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, leave=False)
