"""``optjax bench fit``: epoch time of ``optjax.training.fit`` against per-step loops.

Each tutorial workload trains the same model, with the same optimizer and
batch size, three ways:

* ``optjax_fit``: :func:`optjax.training.fit` (resident data, compiled
  ``lax.scan`` chunks of steps);
* ``nnx_loop``: the Flax NNX tutorial loop, an ``@nnx.jit`` step taking
  ``(model, optimizer, batch)`` with an ``nnx.Optimizer`` over ``optax``, called
  once per batch from Python;
* ``jit_loop``: the functional per-step loop, ``jax.jit`` over
  ``(params, opt_state, x, y)`` with ``optax``, also called once per batch;
* ``torch``: a PyTorch CPU loop, when ``import torch`` works.

Epoch time is the median over epochs after the first (which holds the compile).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import optjax
from optjax import data
from optjax.bench import _common
from optjax.training import TrainState, default_loss, fit, make_model

WORKLOADS: dict[str, dict[str, Any]] = {
    "linear": {"dataset": "linear", "model": "linear", "lr": 0.05, "standardize": False},
    "logistic": {"dataset": "breast_cancer", "model": "logistic", "lr": 0.01, "standardize": True},
    "mlp": {"dataset": "digits", "model": "mlp", "lr": 1e-3, "standardize": False},
    "cnn": {"dataset": "digits", "model": "cnn", "lr": 1e-3, "standardize": False},
}
BATCH_SIZE = 32


def _split(spec: dict[str, Any]):
    train, test = data.train_test_split(data.load(spec["dataset"], seed=0), 0.2, seed=0)
    if spec["standardize"]:
        (train, test), _ = data.standardize(train, test)
    return train


def _model(spec: dict[str, Any], train: Any) -> Any:
    return make_model(spec["model"], input_shape=train.x.shape[1:],
                      num_classes=train.num_classes, seed=0)  # fmt: skip


def _epochs_of(seconds: list[float]) -> dict[str, float]:
    later = seconds[1:] or seconds
    return {"epoch_s": statistics.median(later), "first_epoch_s": seconds[0]}


def time_fit(spec: dict[str, Any], train: Any, epochs: int) -> dict[str, float]:
    """``optjax.training.fit`` with ``optjax.adam``; per-epoch seconds from its history."""
    loss_fn = default_loss(train.task)
    state = TrainState.from_nnx(_model(spec, train), optjax.adam(spec["lr"]), rng=0)
    _, history = fit(state, train, loss_fn=loss_fn, epochs=epochs, batch_size=BATCH_SIZE,
                     seed=0, progress=False)  # fmt: skip
    out = _epochs_of([e["seconds"] for e in history.epochs])
    out["final_loss"] = float(history.epochs[-1]["loss"])
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
    """The functional loop: ``jax.jit`` step on (params, opt_state, x, y), per batch."""
    loss_fn = default_loss(train.task)
    graphdef, params = nnx.split(_model(spec, train), nnx.Param)
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
            params, opt_state, value = train_step(params, opt_state, jnp.asarray(x), jnp.asarray(y))
        jax.block_until_ready(value)
        seconds.append(time.perf_counter() - start)
    out = _epochs_of(seconds)
    out["final_loss"] = float(value)
    return out


def torch_status() -> str | None:
    """``None`` if PyTorch imports, else why it is skipped."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return "torch not installed"
    return None


def run(args: Any) -> int:
    """Runs the fit benchmark for the parsed ``args`` and prints a markdown table."""
    names = _common.pick("workload", args.workloads, tuple(WORKLOADS), tuple(WORKLOADS))
    epochs = args.epochs if args.epochs is not None else (3 if args.quick else 6)
    if epochs < 2:
        raise _common.BenchUsageError(f"--epochs must be >= 2 (the first is dropped), got {epochs}")
    torch_note = torch_status()
    meta = _common.meta(benchmark="fit", quick=args.quick, epochs=epochs, batch_size=BATCH_SIZE,
                        torch=torch_note or "available")  # fmt: skip
    print(f"# optjax bench fit | {meta['date']} | {meta['device']} | jax {meta['jax']} | "
          f"load {meta['loadavg_start']} | batch {BATCH_SIZE}, adam, {epochs} epochs "
          f"(first dropped) | {torch_note or 'torch available (not yet benchmarked)'}")  # fmt: skip
    headers = ("workload", "examples", "optjax fit ms/epoch", "nnx loop ms/epoch",
               "jit loop ms/epoch", "speedup vs nnx loop", "speedup vs jit loop")  # fmt: skip
    print(_common.markdown_table(headers, []), flush=True)
    rows = []
    for name in names:
        spec = WORKLOADS[name]
        train = _split(spec)
        row = {"workload": name, "examples": len(train.y), "batch_size": BATCH_SIZE,
               "optjax_fit": time_fit(spec, train, epochs),
               "nnx_loop": time_nnx_loop(spec, train, epochs),
               "jit_loop": time_jit_loop(spec, train, epochs),
               "torch": None}  # fmt: skip
        ours = row["optjax_fit"]["epoch_s"]
        row["speedup_vs_nnx_loop"] = row["nnx_loop"]["epoch_s"] / ours
        row["speedup_vs_jit_loop"] = row["jit_loop"]["epoch_s"] / ours
        rows.append(row)
        print(f"| {name} | {row['examples']} | {ours * 1e3:.2f} | "
              f"{row['nnx_loop']['epoch_s'] * 1e3:.2f} | {row['jit_loop']['epoch_s'] * 1e3:.2f} | "
              f"{row['speedup_vs_nnx_loop']:.1f}x | {row['speedup_vs_jit_loop']:.1f}x |",
              flush=True)  # fmt: skip
    _common.write_json(args.json, {"meta": meta, "rows": rows})
    return 0
