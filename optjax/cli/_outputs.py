"""What the commands write: the final table, .npz parameters, JSON and PNG curves."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optjax.cli._args import UsageError


def params_to_npz(params: Any, path: str | os.PathLike) -> None:
    """Writes a tree of arrays as .npz, keyed by '/'-joined tree paths (no pickle)."""
    import jax
    import numpy as np

    flat = {}
    for key_path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        parts = []
        for key in key_path:
            for attr in ("key", "idx", "name"):
                if hasattr(key, attr):
                    parts.append(str(getattr(key, attr)))
                    break
        flat["/".join(parts)] = np.asarray(leaf)
    np.savez(path, **flat)


def format_table(train: dict[str, float], test: dict[str, float], timing: dict[str, float]) -> str:
    """The final table: one row per split, one column per metric, then the timings."""
    columns = [k for k in ("loss", "accuracy", "precision", "recall", "f1", "mse", "mae", "r2")
               if k in train or k in test]  # fmt: skip
    header = f"{'':<6}" + "".join(f"{c:>11}" for c in columns)
    rows = [header]
    for label, logs in (("train", train), ("test", test)):
        rows.append(f"{label:<6}" + "".join(f"{logs.get(c, float('nan')):>11.4f}" for c in columns))
    rows.append(
        f"seconds/epoch {timing['seconds_per_epoch']:.4f} (first epoch, with compilation: "
        f"{timing['first_epoch_seconds']:.2f})   steps/s {timing['steps_per_second']:.0f}"
    )
    return "\n".join(rows)


def plot_history(history: Any, path: str | os.PathLike, title: str = "") -> None:
    """Saves loss curves (train and validation) and validation-metric curves as a PNG."""
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone

    epochs = history["epoch"]
    metric_names = [k for k in ("val_accuracy", "val_f1", "val_r2") if history[k]]
    fig = Figure(figsize=(10 if metric_names else 5, 4))
    axes = fig.subplots(1, 2 if metric_names else 1)
    axes = list(axes) if metric_names else [axes]
    axes[0].plot(epochs, history["loss"], label="train loss")
    if history["val_loss"]:
        axes[0].plot(epochs, history["val_loss"], label="validation loss")
    axes[0].set(xlabel="epoch", ylabel="loss", yscale="log", title=title or "loss")
    axes[0].legend()
    if metric_names:
        for name in metric_names:
            axes[1].plot(epochs, history[name], label=name)
        axes[1].set(xlabel="epoch", title="validation metrics")
        axes[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def _check_output_path(flag: str, path: str | None) -> None:
    if path is None:
        return
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise UsageError(f"{flag}: directory {str(parent)!r} does not exist.")


def format_sweep_table(members: Sequence[dict[str, Any]]) -> str:
    """One row per member, in the order given: its settings, then test (and train) metrics."""
    names = list(members[0]["hyperparams"])
    test = members[0]["test"] or members[0]["train"]
    metrics = [k for k in ("loss", "accuracy", "f1", "mse", "mae", "r2") if k in test]
    header = f"{'#':>3}" + "".join(f"{n:>14}" for n in names)
    header += "".join(f"{'test ' + k:>15}" for k in metrics) + f"{'train loss':>12}"
    rows = [header]
    for i, m in enumerate(members):
        row = f"{i:>3}" + "".join(f"{m['hyperparams'][n]:>14g}" for n in names)
        logs = m["test"] or m["train"]
        row += "".join(f"{logs.get(k, float('nan')):>15.4f}" for k in metrics)
        row += f"{m['train'].get('loss', float('nan')):>12.4f}"
        if m["diverged_at"] is not None:
            row += f"  diverged at step {m['diverged_at']}"
        rows.append(row)
    return "\n".join(rows)


def plot_sweep(members: Sequence[dict[str, Any]], path: str | os.PathLike, title: str = "") -> None:
    """Saves every member's validation (or training) loss curve on one axis as a PNG."""
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for i, m in enumerate(members):
        history = m["history"]
        key = "val_loss" if history["val_loss"] else "loss"
        label = f"{i}: " + ", ".join(f"{n}={v:g}" for n, v in m["hyperparams"].items())
        ax.plot(history["epoch"], history[key], label=label)
    ax.set(xlabel="epoch", ylabel="validation loss", yscale="log", title=title or "sweep")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
