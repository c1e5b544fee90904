"""``optjax bench fit``: epoch time of ``optjax.training.fit`` against per-step loops.

Each tutorial workload trains the same model, with the same optimizer and
batch size, four ways:

* ``optjax_fit``: :func:`optjax.training.fit` (resident data, compiled
  ``lax.scan`` chunks of steps);
* ``nnx_loop``: the Flax NNX tutorial loop, an ``@nnx.jit`` step taking
  ``(model, optimizer, batch)`` with an ``nnx.Optimizer`` over ``optax``, called
  once per batch from Python;
* ``jit_loop``: the functional per-step loop, ``jax.jit`` over
  ``(params, opt_state, x, y)`` with ``optax`` and the parameters as a plain
  dict, also called once per batch;
* ``torch``: the same model, initial weights, data order and Adam in a
  PyTorch CPU loop (:mod:`optjax.bench._torch_baseline`), when ``import
  torch`` works (``pip install "optjax[bench-torch]"``); otherwise the output
  says "torch not installed". It runs with every core and with one thread,
  each with the default and the fused Adam, and the fastest of the four
  settings is the one compared.

The methods take turns: each trains for ``--epochs`` epochs in a round, and
a run has ``ROUNDS`` rounds (one with ``--quick``), so that a burst of load
on a shared machine hits every method rather than one. Epoch time is the
median over every round's epochs after its first (the first round's first
epoch holds the compile). ``optjax fit`` and PyTorch also report each
epoch's mean training loss: starting from the same weights on the same
batches, the two should fall together, which checks that the PyTorch model
is the same network and learns.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import jax
import numpy as np
import optax
from flax import nnx

import optjax
from optjax import data
from optjax.bench import _common, _torch_baseline
from optjax.training import TrainState, default_loss, fit, make_model

WORKLOADS: dict[str, dict[str, Any]] = {
    "linear": {"dataset": "linear", "model": "linear", "lr": 0.05, "standardize": False},
    "logistic": {"dataset": "breast_cancer", "model": "logistic", "lr": 0.01, "standardize": True},
    "mlp": {"dataset": "digits", "model": "mlp", "lr": 1e-3, "standardize": False},
    "cnn": {"dataset": "digits", "model": "cnn", "lr": 1e-3, "standardize": False},
}
BATCH_SIZE = 32
ROUNDS = 3


def _split(spec: dict[str, Any]):
    train, test = data.train_test_split(data.load(spec["dataset"], seed=0), 0.2, seed=0)
    if spec["standardize"]:
        (train, test), _ = data.standardize(train, test)
    return train


def _model(spec: dict[str, Any], train: Any) -> Any:
    return make_model(spec["model"], input_shape=train.x.shape[1:],
                      num_classes=train.num_classes, seed=0)  # fmt: skip


def _epochs_of(seconds: list[float]) -> dict[str, Any]:
    later = seconds[1:] or seconds
    return {"epoch_s": statistics.median(later), "first_epoch_s": seconds[0], "seconds": seconds}


def _combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One method's rounds as one result: the median over each round's epochs after its first."""
    later = [t for run in runs for t in (run["seconds"][1:] or run["seconds"])]
    out = {**runs[0], "epoch_s": statistics.median(later), "rounds": len(runs)}
    out["seconds"] = [run["seconds"] for run in runs]
    return out


def time_fit(spec: dict[str, Any], train: Any, epochs: int) -> dict[str, float]:
    """``optjax.training.fit`` with ``optjax.adam``; per-epoch seconds from its history."""
    loss_fn = default_loss(train.task)
    state = TrainState.from_nnx(_model(spec, train), optjax.adam(spec["lr"]), rng=0)
    _, history = fit(state, train, loss_fn=loss_fn, epochs=epochs, batch_size=BATCH_SIZE,
                     seed=0, progress=False)  # fmt: skip
    out = _epochs_of([e["seconds"] for e in history.epochs])
    out["epoch_losses"] = [float(e["loss"]) for e in history.epochs]
    out["final_loss"] = out["epoch_losses"][-1]
    return out


def _epoch_batches(train: Any, epoch: int):
    order = np.random.default_rng((0, epoch)).permutation(len(train.y))
    for start in range(0, len(order), BATCH_SIZE):
        idx = order[start : start + BATCH_SIZE]
        yield train.x[idx], train.y[idx]


def time_nnx_loop(spec: dict[str, Any], train: Any, epochs: int) -> dict[str, float]:
    """The Flax NNX tutorial loop: ``@nnx.jit`` step on (model, optimizer), per batch."""
    loss_fn = default_loss(train.task)
    model = _model(spec, train)
    optimizer = nnx.Optimizer(model, optax.adam(spec["lr"]), wrt=nnx.Param)

    @nnx.jit
    def train_step(model, optimizer, x, y):
        def loss(model):
            return loss_fn(model(x), {"y": y})

        value, grads = nnx.value_and_grad(loss)(model)
        optimizer.update(model, grads)
        return value

    seconds, value = [], None
    for epoch in range(epochs):
        start = time.perf_counter()
        for x, y in _epoch_batches(train, epoch):
            value = train_step(model, optimizer, x, y)
        jax.block_until_ready(value)
        seconds.append(time.perf_counter() - start)
    out = _epochs_of(seconds)
    out["final_loss"] = float(value)
    return out


def time_jit_loop(spec: dict[str, Any], train: Any, epochs: int) -> dict[str, float]:
    """The functional loop: ``jax.jit`` step on (params, opt_state, x, y), per batch.

    The parameters are a plain dict (``nnx.to_pure_dict``), which ``jax.jit``
    flattens faster per call than an ``nnx.State`` (4 vs 6-7 ms per MLP
    epoch), and the batches go in as NumPy arrays.
    """
    loss_fn = default_loss(train.task)
    graphdef, params = nnx.split(_model(spec, train), nnx.Param)
    params = nnx.to_pure_dict(params)
    tx = optax.adam(spec["lr"])
    opt_state = tx.init(params)

    @jax.jit
    def train_step(params, opt_state, x, y):
        def loss(params):
            return loss_fn(nnx.merge(graphdef, params)(x), {"y": y})

        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    seconds, value = [], None
    for epoch in range(epochs):
        start = time.perf_counter()
        for x, y in _epoch_batches(train, epoch):
            params, opt_state, value = train_step(params, opt_state, x, y)
        jax.block_until_ready(value)
        seconds.append(time.perf_counter() - start)
    out = _epochs_of(seconds)
    out["final_loss"] = float(value)
    return out


def torch_status() -> str | None:
    """``None`` if PyTorch imports, else why it is skipped."""
    return _torch_baseline.status()


def time_torch(spec: dict[str, Any], train: Any, epochs: int) -> dict[str, dict[str, Any]]:
    """The PyTorch loop from the NNX model's initial weights, in each setting of ``_torch_settings``.

    Returns ``{setting: {"epoch_s", "first_epoch_s", "seconds", "epoch_losses"}}``.
    """
    params = nnx.to_pure_dict(nnx.state(_model(spec, train), nnx.Param))
    by_setting = {}
    for label, threads, fused in _torch_settings():
        try:
            run = _torch_baseline.time_torch_loop(
                spec["model"], params, train.x, train.y, task=train.task,
                learning_rate=spec["lr"], batch_size=BATCH_SIZE, epochs=epochs,
                threads=threads, fused=fused,
            )  # fmt: skip
        except (RuntimeError, TypeError):
            if not fused:
                raise
            continue  # fused Adam needs PyTorch >= 2.4 on the CPU
        by_setting[label] = {**_epochs_of(run["seconds"]), "epoch_losses": run["epoch_losses"]}
    return by_setting


def _torch_settings() -> list[tuple[str, int, bool]]:
    """(label, threads, fused Adam): every core and one thread, default and fused Adam."""
    cores = os.cpu_count() or 1
    return [(f"{threads} thr{', fused' if fused else ''}", threads, fused)
            for threads in sorted({cores, 1}, reverse=True) for fused in (False, True)]  # fmt: skip


def _combine_torch(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """The fastest setting over all rounds; ``by_setting`` keeps every setting's epoch time."""
    combined = {label: _combine([r[label] for r in rounds]) for label in rounds[0]}
    setting = min(combined, key=lambda label: combined[label]["epoch_s"])
    out = {**combined[setting], "setting": setting}
    out["final_loss"] = out["epoch_losses"][-1]
    out["by_setting"] = {label: c["epoch_s"] for label, c in combined.items()}
    return out


def _loss_change(result: dict[str, Any] | None) -> str:
    if result is None:
        return "-"
    losses = result["epoch_losses"]
    return f"{losses[0]:.3g} -> {losses[-1]:.3g}"


def run(args: Any) -> int:
    """Runs the fit benchmark for the parsed ``args`` and prints a markdown table."""
    names = _common.pick("workload", args.workloads, tuple(WORKLOADS), tuple(WORKLOADS))
    epochs = args.epochs if args.epochs is not None else (3 if args.quick else 6)
    rounds = 1 if args.quick else ROUNDS
    if epochs < 2:
        raise _common.BenchUsageError(f"--epochs must be >= 2 (the first is dropped), got {epochs}")
    torch_note = torch_status()
    torch_label = torch_note or f"torch {_torch_baseline.version()} (CPU)"
    meta = _common.meta(benchmark="fit", quick=args.quick, epochs=epochs, rounds=rounds,
                        batch_size=BATCH_SIZE,
                        torch=torch_note or "available",
                        torch_version=None if torch_note else _torch_baseline.version())  # fmt: skip
    print(f"# optjax bench fit | {meta['date']} | {meta['device']} | jax {meta['jax']} | "
          f"load {meta['loadavg_start']} | batch {BATCH_SIZE}, adam | {rounds} round(s) of "
          f"{epochs} epochs per method (first of each dropped) | {torch_label}")  # fmt: skip
    headers = ("workload", "examples", "optjax fit ms/epoch", "nnx loop ms/epoch",
               "jit loop ms/epoch", "PyTorch ms/epoch (fastest setting)", "fit vs nnx loop",
               "fit vs jit loop", "fit vs PyTorch", "epoch loss, first -> last: fit / PyTorch")  # fmt: skip
    print(_common.markdown_table(headers, []), flush=True)
    rows = []
    for name in names:
        spec = WORKLOADS[name]
        train = _split(spec)
        methods = {"optjax_fit": time_fit, "nnx_loop": time_nnx_loop, "jit_loop": time_jit_loop}
        if not torch_note:
            methods["torch"] = time_torch
        runs: dict[str, list[Any]] = {method: [] for method in methods}
        for _ in range(rounds):  # the methods take turns
            for method, time_method in methods.items():
                runs[method].append(time_method(spec, train, epochs))
        row = {"workload": name, "examples": len(train.y), "batch_size": BATCH_SIZE,
               "optjax_fit": _combine(runs["optjax_fit"]),
               "nnx_loop": _combine(runs["nnx_loop"]), "jit_loop": _combine(runs["jit_loop"]),
               "torch": None if torch_note else _combine_torch(runs["torch"])}  # fmt: skip
        ours = row["optjax_fit"]["epoch_s"]
        row["speedup_vs_nnx_loop"] = row["nnx_loop"]["epoch_s"] / ours
        row["speedup_vs_jit_loop"] = row["jit_loop"]["epoch_s"] / ours
        torch_row = row["torch"]
        row["speedup_vs_torch"] = None if torch_row is None else torch_row["epoch_s"] / ours
        rows.append(row)
        if torch_row is None:
            torch_ms, vs_torch = torch_note, "-"
        else:
            torch_ms = f"{torch_row['epoch_s'] * 1e3:.2f} ({torch_row['setting']})"
            vs_torch = f"{row['speedup_vs_torch']:.1f}x"
        print(f"| {name} | {row['examples']} | {ours * 1e3:.2f} | "
              f"{row['nnx_loop']['epoch_s'] * 1e3:.2f} | {row['jit_loop']['epoch_s'] * 1e3:.2f} | "
              f"{torch_ms} | {row['speedup_vs_nnx_loop']:.1f}x | "
              f"{row['speedup_vs_jit_loop']:.1f}x | {vs_torch} | "
              f"{_loss_change(row['optjax_fit'])} / {_loss_change(torch_row)} |",
              flush=True)  # fmt: skip
    print(f"load average at the end: {_common.loadavg()}")
    _common.write_json(args.json, {"meta": meta, "rows": rows})
    return 0
