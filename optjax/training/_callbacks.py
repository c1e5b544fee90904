"""Callbacks for :func:`~optjax.training.fit`: history, early stopping, plateau decay, progress.

A callback sees the run at three moments (train begin, each epoch's end, train
end) through a :class:`Run`, whose ``state`` it may replace (to restore the best
parameters, or to change an injected learning rate) and whose ``stop_training``
it may set. Callbacks that carry state across epochs implement ``state_dict`` /
``load_state_dict`` with JSON values, so a resumed run continues them exactly.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from optjax import schedules
from optjax.training._state import TrainState


@dataclasses.dataclass
class Run:
    """What callbacks see of a :func:`~optjax.training.fit` run (mutable).

    Attributes:
      state: the current train state; a callback may replace it.
      history: the per-epoch logs so far (a list of dicts).
      epochs: the number of epochs asked for.
      steps_per_epoch: optimizer steps in one epoch.
      stop_training: set it to ``True`` to stop after the current epoch.
      checkpointer: the run's :class:`~optjax.training.Checkpointer`, or ``None``.

    Examples:
      >>> from optjax.training import Callback
      >>> class StopAtHalf(Callback):  # stops once the loss is below 0.5
      ...     def on_epoch_end(self, run, epoch, logs):
      ...         run.stop_training = logs["loss"] < 0.5
    """

    state: TrainState
    history: list[dict[str, float]]
    epochs: int
    steps_per_epoch: int
    stop_training: bool = False
    checkpointer: Any = None


class Callback:
    """Base class: override the hooks you need; each does nothing by default.

    .. math::

        \\text{hooks: } \\mathrm{on\\_train\\_begin}(r),\\;
        \\mathrm{on\\_epoch\\_end}(r, e, \\ell_e),\\; \\mathrm{on\\_train\\_end}(r)

    Examples:
      >>> from optjax.training import Callback
      >>> class PrintLoss(Callback):
      ...     def on_epoch_end(self, run, epoch, logs):
      ...         print(f"epoch {epoch}: {logs['loss']:.3f}")
    """

    def on_train_begin(self, run: Run) -> None:
        """Called once before the first step (after a resume's restore)."""

    def on_epoch_end(self, run: Run, epoch: int, logs: Mapping[str, float]) -> None:
        """Called after each epoch with that epoch's logs (train and validation)."""

    def on_train_end(self, run: Run) -> None:
        """Called once after the last epoch, or after an early stop."""

    def state_dict(self) -> dict[str, Any]:
        """JSON-serializable state saved in checkpoints (empty by default)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores what :meth:`state_dict` returned."""


def _check_mode(where: str, mode: str, monitor: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{where}: mode must be one of ['auto', 'min', 'max'], got {mode!r}.")
    if mode == "auto":
        lowered = monitor.lower()
        better_high = any(k in lowered for k in ("acc", "precision", "recall", "f1", "auc", "r2"))
        return "max" if better_high else "min"
    return mode


def _monitored(where: str, logs: Mapping[str, float], monitor: str) -> float:
    if monitor not in logs:
        raise KeyError(
            f"{where}: monitor {monitor!r} is not among the epoch's logs {sorted(logs)}. "
            f"Pass validation data for 'val_*' metrics, or monitor one of those."
        )
    return float(logs[monitor])


class _Plateau:
    """Tracks the best value of a monitored quantity and epochs since it improved."""

    def __init__(self, mode: str, min_delta: float):
        self.mode, self.min_delta = mode, abs(min_delta)
        self.best: float | None = None
        self.wait = 0

    def improved(self, value: float) -> bool:
        if not math.isfinite(value):
            better = False
        elif self.best is None:
            better = True
        elif self.mode == "min":
            better = value < self.best - self.min_delta
        else:
            better = value > self.best + self.min_delta
        if better:
            self.best, self.wait = value, 0
        else:
            self.wait += 1
        return better


class History(Callback):
    """Records every epoch's logs; ``history["val_loss"]`` is a list, as in Keras.

    :func:`~optjax.training.fit` always returns one; you rarely build it.

    .. math::

        \\mathrm{history}[k] = [\\ell_1[k], \\ell_2[k], \\dots]

    Attributes:
      epochs: a list with one dict of logs per epoch.
      timing: after :func:`~optjax.training.fit`, ``seconds_per_epoch``,
        ``first_epoch_seconds``, ``steps_per_second`` and ``total_seconds``.

    Examples:
      >>> from optjax.training import History
      >>> h = History([{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}])
      >>> h["loss"]
      [0.5, 0.25]
    """

    def __init__(self, epochs: list[dict[str, float]] | None = None):
        self.epochs = list(epochs or [])
        self.timing: dict[str, float] = {}

    def __getitem__(self, key: str) -> list[float]:
        return [logs[key] for logs in self.epochs if key in logs]

    def __len__(self) -> int:
        return len(self.epochs)

    def keys(self) -> list[str]:
        """The names logged in any epoch, in first-seen order."""
        return list(dict.fromkeys(k for logs in self.epochs for k in logs))

    @property
    def history(self) -> dict[str, list[float]]:
        """Keras's layout: a dict from name to the list of per-epoch values."""
        return {key: self[key] for key in self.keys()}

    def on_epoch_end(self, run: Run, epoch: int, logs: Mapping[str, float]) -> None:
        self.epochs.append(dict(logs))


class EarlyStopping(Callback):
    """Stops training when a monitored metric has stopped improving.

    After each epoch the monitored value :math:`v_e` is compared with the best so
    far; training stops after ``patience`` epochs without an improvement larger
    than ``min_delta``:

    .. math::

        \\text{improved} \\iff v_e < v^\\star - \\delta \\text{ (mode min)}, \\qquad
        \\text{stop} \\iff e - e^\\star \\ge \\text{patience}

    A non-finite value never counts as an improvement.

    Args:
      monitor: a key of the epoch logs, e.g. ``"val_loss"`` or ``"val_accuracy"``.
      patience: epochs without improvement before stopping.
      min_delta: the smallest change that counts as an improvement.
      mode: ``"min"``, ``"max"`` or ``"auto"`` (``max`` for accuracy-like names).
      restore_best_weights: at the end, put back the parameters (and model
        state) of the best epoch. After a resume, the best epoch's weights come
        from the run's best checkpoint when it tracks the same metric.
      start_from_epoch: epochs to wait before monitoring starts.

    Examples:
      >>> from optjax.training import EarlyStopping
      >>> stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
      >>> stop.patience, stop.mode
      (3, 'min')
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}.")
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.mode = _check_mode("EarlyStopping", mode, monitor)
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self._tracker = _Plateau(self.mode, min_delta)
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._best_weights: tuple[Any, Any] | None = None

    @property
    def best(self) -> float | None:
        """The best monitored value so far."""
        return self._tracker.best

    def on_epoch_end(self, run: Run, epoch: int, logs: Mapping[str, float]) -> None:
        if epoch <= self.start_from_epoch:
            return
        value = _monitored("EarlyStopping", logs, self.monitor)
        if self._tracker.improved(value):
            self.best_epoch = epoch
            if self.restore_best_weights:
                # Copies: fit donates the state's buffers to the next step.
                copy = lambda tree: jax.tree.map(jnp.copy, tree)  # noqa: E731
                self._best_weights = (copy(run.state.params), copy(run.state.model_state))
        elif self._tracker.wait >= self.patience and epoch > 1:  # Keras: never on epoch 1
            self.stopped_epoch = epoch
            run.stop_training = True

    def on_train_end(self, run: Run) -> None:
        if not self.restore_best_weights or self.best_epoch is None:
            return
        if self._best_weights is None and run.checkpointer is not None:
            self._best_weights = _best_from_checkpoint(run, self.monitor)
        if self._best_weights is not None:
            params, model_state = self._best_weights
            run.state = run.state.replace(params=params, model_state=model_state)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self._tracker.best,
            "wait": self._tracker.wait,
            "best_epoch": self.best_epoch,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._tracker.best = state.get("best")
        self._tracker.wait = int(state.get("wait", 0))
        self.best_epoch = state.get("best_epoch")
        self._best_weights = None


def _best_from_checkpoint(run: Run, monitor: str) -> tuple[Any, Any] | None:
    checkpointer = run.checkpointer
    if getattr(checkpointer, "best_monitor", None) != monitor or checkpointer.best_metric() is None:
        return None
    best, _ = checkpointer.restore(run.state, best=True)
    return best.params, best.model_state


def _injected_learning_rate_owner(opt_state: Any, name: str) -> Any:
    owners = [s for s in schedules.find_injected_states(opt_state) if name in s.hyperparams]
    if not owners:
        raise ValueError(
            f"ReduceLROnPlateau: the optimizer has no injected hyperparameter {name!r}. Build "
            f"it with optjax.inject_hyperparams, e.g. "
            f"optjax.inject_hyperparams(optjax.adam)(learning_rate=1e-3)."
        )
    owner = owners[0]
    if name in getattr(owner, "hyperparams_states", {}):
        raise ValueError(
            f"ReduceLROnPlateau: {name!r} follows a schedule, which would overwrite any change "
            f"at the next step. Use a constant {name!r}, or chain "
            f"optjax.inject_hyperparams(optjax.scale)(step_size=1.0) after the optimizer and "
            f"pass hyperparam='step_size'."
        )
    return owner


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by ``factor`` when a metric stops improving.

    The learning rate lives in the optimizer state as an injected
    hyperparameter (:func:`optjax.inject_hyperparams`), so changing it is a new
    array value, not a new program: the compiled step is reused.

    .. math::

        \\eta \\leftarrow \\max(\\eta \\cdot \\text{factor},\\ \\eta_{\\min})
        \\quad \\text{after } \\text{patience} \\text{ epochs without improvement}

    Args:
      monitor: a key of the epoch logs.
      factor: the multiplier, in (0, 1).
      patience: epochs without improvement before reducing.
      min_delta: the smallest change that counts as an improvement.
      cooldown: epochs to wait after a reduction before counting again.
      min_lr: the floor.
      mode: ``"min"``, ``"max"`` or ``"auto"``.
      hyperparam: the injected hyperparameter to scale.

    Raises:
      ValueError: at the start of training, when the optimizer has no constant
        injected hyperparameter named ``hyperparam``.

    Examples:
      >>> from optjax.training import ReduceLROnPlateau
      >>> cb = ReduceLROnPlateau(factor=0.5, patience=2)
      >>> cb.factor, cb.mode
      (0.5, 'min')
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        mode: str = "auto",
        hyperparam: str = "learning_rate",
    ):
        if not 0.0 < factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor!r}.")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"ReduceLROnPlateau: patience must be an int >= 0, got {patience!r}.")
        self.monitor, self.factor, self.patience = monitor, factor, patience
        self.cooldown, self.min_lr, self.hyperparam = cooldown, min_lr, hyperparam
        self.mode = _check_mode("ReduceLROnPlateau", mode, monitor)
        self._tracker = _Plateau(self.mode, min_delta)
        self._cooldown_left = 0

    def on_train_begin(self, run: Run) -> None:
        _injected_learning_rate_owner(run.state.opt_state, self.hyperparam)

    def on_epoch_end(self, run: Run, epoch: int, logs: Mapping[str, float]) -> None:
        value = _monitored("ReduceLROnPlateau", logs, self.monitor)
        tracker = self._tracker
        if self._cooldown_left > 0:
            self._cooldown_left -= 1
            tracker.wait = 0
        waited = tracker.wait
        if tracker.improved(value):
            return
        if self._cooldown_left > 0:
            tracker.wait = waited  # no counting while cooling down
            return
        if tracker.wait < self.patience:
            return
        opt_state = run.state.opt_state
        current = float(schedules.get_hyperparams(opt_state)[self.hyperparam])
        new = max(current * self.factor, self.min_lr)
        if new < current:
            opt_state = schedules.set_hyperparams(opt_state, **{self.hyperparam: new})
            run.state = run.state.replace(opt_state=opt_state)
        tracker.wait = 0
        self._cooldown_left = self.cooldown

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self._tracker.best,
            "wait": self._tracker.wait,
            "cooldown": self._cooldown_left,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._tracker.best = state.get("best")
        self._tracker.wait = int(state.get("wait", 0))
        self._cooldown_left = int(state.get("cooldown", 0))


def progress_enabled(progress: bool | None) -> bool:
    """``progress=None`` means on only when standard error is a terminal."""
    if progress is None:
        return sys.stderr.isatty()
    return bool(progress)
