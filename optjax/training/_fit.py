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

One exception, chosen automatically: a model with convolutions on the CPU runs
one compiled step per batch (still gathering its batch from the resident
arrays on the device), because XLA:CPU
rewrites convolutions into the layout its fast kernels need only in the
entry computation of a program (``ConvCanonicalization`` visits nothing
else). Inside a ``scan`` (a while loop) the backward convolutions that
autodiff produces keep their transposed dimension numbers and fall back to
XLA's generic loop-nest convolution: the tutorial CNN on digits trains 3-5x
slower per epoch that way than one step per call. ``steps_per_execution=1``
asks for the per-step path explicitly; any other value keeps the scan.

With a device ``mesh``, every step is one data-parallel step over the mesh
(the batch split along its axis, the state replicated or the optimizer state
partitioned), and the run may span several processes (``jax.distributed``):
every process holds the whole resident dataset, draws the same shuffle from
``(seed, epoch)``, and contributes its share ``[p B/P, (p+1) B/P)`` of every
global batch of ``B`` (:func:`~optjax.training.process_batch_slice`).

The host reads the losses once per epoch (and before each mid-epoch
checkpoint): chunks and single steps are dispatched back to back, without
waiting for the previous one. Every step checks its loss: a non-finite loss
skips that update and every later one (a flag on the device carries it from
chunk to chunk), and :class:`TrainingDiverged` names the step. The state it
carries is the last good one, and no checkpoint is written after the
divergence.
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

from optjax import data as _data
from optjax import schedules
from optjax.training._callbacks import Callback, History, Run, progress_enabled
from optjax.training._evaluate import _arrays, evaluate
from optjax.training._parallel import _axis, _check_divisible, state_shardings
from optjax.training._state import TrainState
from optjax.training._steps import LossFn, MetricsFn, checked_train_step_fn, train_step_fn


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
def _indexed_step_runner(loss_fn: LossFn) -> Callable[..., Any]:
    """``(state, ok, x_all, y_all, index_B) -> (state, ok, loss)``: one step on resident data."""
    checked = checked_train_step_fn(loss_fn)

    def run_step(state, ok, x_all, y_all, index_B):
        batch = {"x": x_all[index_B], "y": y_all[index_B]}
        state, loss, ok = checked(state, batch, ok)
        return state, ok, loss

    return jax.jit(run_step, donate_argnums=(0,))


def _run_indexed_steps(
    loss_fn: LossFn, state: TrainState, ok: Any, x_all: Any, y_all: Any, index_KxB: np.ndarray
) -> tuple[TrainState, Any, list[jax.Array]]:
    """Dispatches one compiled step per row of ``index_KxB``, without waiting for any.

    Returns the state, the ``ok`` flag and the steps' losses, all still on
    the device. Once a loss is not finite ``ok`` turns false and the later
    steps keep the last good state, as inside a scanned chunk.
    """
    runner = _indexed_step_runner(loss_fn)
    losses = []
    for index_B in index_KxB:
        state, ok, loss = runner(state, ok, x_all, y_all, index_B)
        losses.append(loss)
    return state, ok, losses


def _has_convolution(jaxpr: Any) -> bool:
    """Whether a (closed) jaxpr, or any jaxpr nested in it, has a ``conv_general_dilated``."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "conv_general_dilated":
            return True
        for value in eqn.params.values():
            for item in value if isinstance(value, (tuple, list)) else (value,):
                inner = getattr(item, "jaxpr", item)
                if hasattr(inner, "eqns") and _has_convolution(inner):
                    return True
    return False


def _steps_one_by_one(steps_per_execution: int | None, model_jaxpr: Any, x: jax.Array) -> bool:
    """Whether resident data runs one compiled step per batch instead of scanned chunks.

    Explicitly with ``steps_per_execution=1``; by default (``None``) for a
    model with convolutions on the CPU (see the module notes).
    """
    if steps_per_execution is not None:
        return steps_per_execution == 1
    on_cpu = all(device.platform == "cpu" for device in x.devices())
    return on_cpu and _has_convolution(model_jaxpr)


@functools.lru_cache(maxsize=32)
def _chunk_runner(loss_fn: LossFn) -> Callable[..., Any]:
    guarded = _guarded_step(loss_fn)

    def run_chunk(state, ok, x_all, y_all, index_KxB, active_K):
        def body(carry, inputs):
            state, ok = carry
            index_B, active = inputs
            batch = {"x": x_all[index_B], "y": y_all[index_B]}
            state, loss, finite = guarded(state, batch, active & ok)
            return (state, ok & finite), loss

        (state, ok), losses_K = jax.lax.scan(body, (state, ok), (index_KxB, active_K))
        return state, ok, losses_K

    return jax.jit(run_chunk, donate_argnums=(0,))


@functools.lru_cache(maxsize=32)
def _step_runner(loss_fn: LossFn) -> Callable[..., Any]:
    guarded = _guarded_step(loss_fn)

    def run_step(state, batch):
        state, loss, _ = guarded(state, batch, jnp.bool_(True))
        return state, loss

    return jax.jit(run_step, donate_argnums=(0,))


class _MeshSteps:
    """Guarded train steps over a one-axis mesh, fed with this process's share of each batch."""

    def __init__(self, mesh: Any, loss_fn: LossFn, shard_opt_state: bool) -> None:
        from jax.sharding import NamedSharding
        from jax.sharding import PartitionSpec as P

        self.axis = _axis(mesh, None, "fit")
        self.mesh, self.shard_opt_state = mesh, bool(shard_opt_state)
        self.num_devices = int(mesh.shape[self.axis])
        self.batch_sharding = NamedSharding(mesh, P(self.axis))
        self.replicated = NamedSharding(mesh, P())
        self.guarded = _guarded_step(loss_fn)
        self.compiled: dict[Any, Any] = {}

    def check_global_batch(self, size: int, what: str) -> None:
        # The same check and message as make_sharded_train_step, before any compile.
        _check_divisible({what: np.empty((size, 0), np.float32)}, self.num_devices, "fit")

    def shardings(self, state: TrainState, *, replicated: bool = False) -> TrainState:
        shard = self.shard_opt_state and not replicated
        return state_shardings(state, self.mesh, shard_opt_state=shard, axis_name=self.axis)

    def place(self, state: TrainState, *, replicated: bool = False) -> TrainState:
        """Replicates a host state on the mesh, or moves a placed one to the step's placement."""
        if replicated:
            # jax.device_put cannot send one process's arrays to other processes' devices;
            # every process builds its devices' copies from its own (identical) values.
            return jax.tree.map(self._replicated_from_host, state)
        return self._jitted(state, move=True)(state)

    def _replicated_from_host(self, x: Any) -> jax.Array:
        key = isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)
        host = np.asarray(jax.random.key_data(x) if key else x)
        out = jax.make_array_from_callback(host.shape, self.replicated, lambda index: host[index])
        return jax.random.wrap_key_data(out, impl=jax.random.key_impl(x)) if key else out

    def _jitted(self, state: TrainState, *, gather: bool = False, move: bool = False) -> Any:
        shardings = self.shardings(state)
        key = gather, move, jax.tree.structure(shardings), tuple(jax.tree.leaves(shardings))
        fn = self.compiled.get(key)
        if fn is None:
            if gather:
                out = self.shardings(state, replicated=True)
                fn = jax.jit(lambda s: s, in_shardings=(shardings,), out_shardings=out)
            elif move:
                fn = jax.jit(lambda s: s, out_shardings=shardings)
            else:

                def run_step(state, batch):
                    state, loss, _ = self.guarded(state, batch, jnp.bool_(True))
                    return state, loss

                fn = jax.jit(
                    run_step,
                    in_shardings=(shardings, self.batch_sharding),
                    out_shardings=(shardings, self.replicated),
                    donate_argnums=(0,),
                )
            self.compiled[key] = fn
        return fn

    def step(self, state: TrainState, local_batch: Mapping[str, Any]) -> tuple[TrainState, Any]:
        batch = {
            k: jax.make_array_from_process_local_data(self.batch_sharding, np.asarray(v))
            for k, v in local_batch.items()
        }
        return self._jitted(state)(state, batch)

    def gathered(self, state: TrainState) -> TrainState:
        """The state with every leaf replicated (what checkpoints store)."""
        return self._jitted(state, gather=True)(state) if self.shard_opt_state else state

    def local(self, state: TrainState) -> TrainState:
        """A copy of the (replicated) state on this process's first device, for evaluation."""
        return jax.tree.map(lambda x: x.addressable_data(0), self.gathered(state))


def _check_positive_int(name: str, value: Any, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"fit: {name} must be a positive int, got {value!r}.")


def _check_model_accepts(state: TrainState, x: Any, where: str) -> Any:
    """Traces (does not compile) the model on one example to catch shape errors early.

    Returns the model's jaxpr (its operations, for :func:`_steps_one_by_one`).
    """
    sample = jax.ShapeDtypeStruct((1,) + tuple(np.shape(x)[1:]), jnp.asarray(x[:1]).dtype)
    try:
        return jax.make_jaxpr(lambda s, x: s.apply_model(s.params, x, train=False)[0])(
            state, sample
        )
    except Exception as error:  # flax raises several types; rewrap with the shape
        raise ValueError(
            f"{where}: the model cannot take inputs of shape {tuple(np.shape(x)[1:])} "
            f"(per example): {type(error).__name__}: {error}"
        ) from error


def _learning_rate(opt_state: Any) -> float | None:
    if not schedules.find_injected_states(opt_state):
        return None
    try:
        value = schedules.get_hyperparams(opt_state).get("learning_rate")
    except ValueError:
        return None
    return None if value is None else float(value)


class _Resident:
    """A dataset on the device, cut into shuffled fixed-size batches by index."""

    def __init__(self, x, y, batch_size, *, seed, shuffle, drop_last, host=False):
        # On a mesh, batches are cut on the host and sent to the devices step by step.
        self.x, self.y = (
            (np.asarray(x), np.asarray(y)) if host else (jnp.asarray(x), jnp.asarray(y))
        )
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
    mesh: Any = None,
    shard_opt_state: bool = False,
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
      steps_per_execution: steps per compiled chunk (Keras's name). ``None``
        runs a whole epoch per chunk, except for a model with convolutions on
        the CPU, which runs one compiled step per batch (faster there: see the
        module notes). ``1`` always runs one compiled step per batch; the
        host still waits for the losses only once per epoch.
      checkpointer: a :class:`Checkpointer`; the best ``val_loss`` (``loss``
        without validation data) is also kept.
      checkpoint_every: save every this many steps; ``None`` saves after every
        epoch. A save due at an epoch's last step happens after that epoch's
        evaluation, so it includes the epoch's logs.
      resume: continue from ``checkpointer``'s latest checkpoint, when there is
        one (the history, the callbacks' state and the data order continue).
      progress: a tqdm progress bar; ``None`` shows one only on a terminal.
      eval_batch_size: examples per compiled evaluation batch.
      mesh: a one-axis ``jax.sharding.Mesh`` (e.g.
        :func:`~optjax.training.make_mesh`) to train data-parallel on: one
        compiled step per batch, the global batch of ``batch_size`` examples
        split across the mesh's devices (which may belong to several
        processes, see the module notes), the parameters replicated. The
        result equals the single-device run up to float32 rounding. Every
        batch size (``batch_size``, and the short last batch unless
        ``drop_last``) must be a multiple of the device count: it is an error,
        not padded. Streaming batches are this process's share of each global
        batch. Evaluation and checkpoints use the replicated state, and the
        returned state is a full copy on this process's first device (so
        :func:`~optjax.training.evaluate` and ``np.asarray`` work on it in
        every process).
      shard_opt_state: with ``mesh``, partition the optimizer state across
        the devices (ZeRO-1, :func:`~optjax.training.state_shardings`).

    Returns:
      ``(state, history)``: the trained state and a :class:`History` whose
      ``timing`` dict holds ``seconds_per_epoch`` (the mean over epochs after
      the first, which includes compilation; the first epoch alone when there
      is one), ``first_epoch_seconds``, ``steps_per_second`` (train steps
      only, over the same epochs) and ``total_seconds``.

    Raises:
      TrainingDiverged: when a training loss is not finite.
      ValueError: for bad arguments, data the model cannot take, or (with
        ``mesh``) a batch size that does not divide across the devices (before
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
    if shard_opt_state and mesh is None:
        raise ValueError("fit: shard_opt_state=True needs a mesh.")
    mesh_steps = None if mesh is None else _MeshSteps(mesh, loss_fn, shard_opt_state)

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
        model_jaxpr = _check_model_accepts(state, x, "fit")
        data = _Resident(x, y, batch_size, seed=seed, shuffle=shuffle, drop_last=drop_last,
                         host=mesh_steps is not None)  # fmt: skip
        one_by_one = mesh_steps is None and _steps_one_by_one(
            steps_per_execution, model_jaxpr, data.x
        )
        steps_per_epoch: int | None = data.steps_per_epoch
        if mesh_steps is not None:
            if data.full:
                mesh_steps.check_global_batch(batch_size, "batch_size")
            if data.steps_per_epoch > data.full:
                mesh_steps.check_global_batch(data.batch_size_at(data.full), "last_batch")
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
    if mesh_steps is not None:
        # Restored checkpoints and evaluation use the replicated placement.
        state = mesh_steps.place(state, replicated=True)
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
    if mesh_steps is not None:
        state = mesh_steps.place(state)
    run.state = state

    def to_save() -> TrainState:
        return run.state if mesh_steps is None else mesh_steps.gathered(run.state)

    def to_evaluate() -> TrainState:
        return run.state if mesh_steps is None else mesh_steps.local(run.state)

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
            step=start_step + step_in_fit, epoch=epoch, state=to_evaluate(),
            history=history,
        )  # fmt: skip

    def save_if_due(step_in_fit: int, at_epoch_end: bool) -> None:
        if checkpointer is None:
            return
        due = checkpoint_every is None and at_epoch_end
        due = due or (checkpoint_every is not None and step_in_fit % checkpoint_every == 0)
        if due:
            checkpointer.save(to_save(), metadata=metadata())

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
            # One-by-one steps are dispatched in groups as long as the epoch.
            chunk = max(data.full, 1) if one_by_one else (steps_per_execution or max(data.full, 1))
            j = position
            # Dispatched steps whose losses are not read yet: (losses, steps). They are read at
            # the end of the epoch, before a checkpoint and after every mesh step, so the host
            # does not wait between the chunks (or single steps) of an epoch. `ok` turns false
            # on the device at a non-finite loss, and every later step keeps the state.
            pending: list[tuple[Any, int]] = []
            ok: Any = np.bool_(True)
            t0 = time.perf_counter()
            while j < data.steps_per_epoch:
                dispatched = steps_done + sum(count for _, count in pending)
                if mesh_steps is not None:  # one data-parallel step; this process's share
                    size = data.batch_size_at(j)
                    share = order[j * batch_size : j * batch_size + size]
                    share = share[_process_slice(size)]
                    batch = {"x": data.x[share], "y": data.y[share]}
                    run.state, loss = mesh_steps.step(run.state, batch)
                    losses, count = np.asarray(loss)[None], 1
                elif j < data.full:
                    end = min(j + chunk, data.full)
                    if checkpoint_every is not None:
                        next_save = (dispatched // checkpoint_every + 1) * checkpoint_every
                        end = min(end, j + next_save - dispatched)
                    count = end - j
                    steps = order[j * batch_size : end * batch_size].reshape(count, batch_size)
                    steps = steps.astype(np.int32)
                    if one_by_one:
                        run.state, ok, losses = _run_indexed_steps(
                            loss_fn, run.state, ok, data.x, data.y, steps
                        )
                    else:
                        index = np.zeros((chunk, batch_size), np.int32)
                        index[:count] = steps
                        active = np.arange(chunk) < count
                        run.state, ok, losses = _chunk_runner(loss_fn)(
                            run.state, ok, data.x, data.y, index, active
                        )
                else:  # the short last batch
                    index = order[data.full * batch_size :].astype(np.int32)
                    run.state, ok, losses = _run_indexed_steps(
                        loss_fn, run.state, ok, data.x, data.y, index[None]
                    )
                    count = 1
                pending.append((losses, count))
                j += count
                save_due = (
                    checkpoint_every is not None and (dispatched + count) % checkpoint_every == 0
                )
                if mesh_steps is None and j < data.steps_per_epoch and not save_due:
                    continue
                for losses, count in pending:
                    losses = np.asarray(jax.device_get(losses), np.float32).reshape(-1)[:count]
                    bad = np.flatnonzero(~np.isfinite(losses))
                    if bad.size:
                        raise diverged(steps_done + int(bad[0]), epoch + 1, float(losses[bad[0]]))
                    in_epoch = steps_done - epoch_first_step  # the group's first step
                    for k in range(count):
                        size = data.batch_size_at(in_epoch + k)
                        loss_sum += float(losses[k]) * size
                        examples += size
                    steps_done += count
                    train_steps += count
                    bar.update(count)
                pending.clear()
                train_seconds += time.perf_counter() - t0
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / max(examples, 1):.4g}")
                if j < data.steps_per_epoch:
                    save_if_due(steps_done, at_epoch_end=False)
                t0 = time.perf_counter()
        else:
            batches = train_data(epoch) if callable(train_data) else train_data
            for j, batch in enumerate(batches):
                if j < position:
                    continue  # resuming inside this epoch
                t0 = time.perf_counter()
                if mesh_steps is None:
                    run.state, loss = _step_runner(loss_fn)(run.state, dict(batch))
                else:
                    local = dict(batch)
                    first = jax.tree.leaves(local)[0]
                    mesh_steps.check_global_batch(len(first) * jax.process_count(), "batch")
                    run.state, loss = mesh_steps.step(run.state, local)
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
        current = to_evaluate()
        if validation_data is not None:
            val = evaluate(current, validation_data, loss_fn=loss_fn, metrics_fn=metrics_fn,
                           batch_size=eval_batch_size)  # fmt: skip
            logs.update({f"val_{k}": v for k, v in val.items()})
        lr = _learning_rate(current.opt_state)
        if lr is not None:
            logs["learning_rate"] = lr
        logs["seconds"] = time.perf_counter() - epoch_start
        epoch_seconds.append(logs["seconds"])
        for callback in callbacks:
            callback.on_epoch_end(run, epoch, logs)
        stopped = run.stop_training or epoch >= epochs
        epoch_first_step = steps_done
        if checkpointer is not None:
            checkpointer.save_best(to_save(), metric=logs[best_monitor], metadata=metadata())
            if stopped or checkpoint_every is None or steps_done % checkpoint_every == 0:
                checkpointer.save(to_save(), metadata=metadata())
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
    return to_evaluate(), history


def _process_slice(global_size: int) -> slice:
    share = global_size // jax.process_count()
    return slice(jax.process_index() * share, (jax.process_index() + 1) * share)


class _NoBar:
    def update(self, n: int) -> None: ...

    def set_postfix(self, **kwargs: Any) -> None: ...

    def close(self) -> None: ...


def _progress_bar(progress: bool | None, *, total: int | None, initial: int) -> Any:
    if not progress_enabled(progress):
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, leave=False)
