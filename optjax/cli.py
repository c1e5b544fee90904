"""The ``optjax`` command: ``optjax train``, ``sweep`` and ``lr-find`` (and ``python -m optjax``).

Every error a user can cause (an unknown name, a missing file, data the model
cannot take, a corrupted checkpoint) ends with one message on standard error
naming the problem and a non-zero exit code: 2 for bad input, 1 when training
diverges. Nothing is compiled before the input has been checked.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optjax._cli_distributed import add_distributed_arguments, setup_distributed

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 1
DATASET_NAMES = ("digits", "iris", "breast_cancer", "diabetes", "linear", "classification")
_TABULAR = {"iris", "breast_cancer", "diabetes", "classification"}


class UsageError(Exception):
    """Bad input from the command line: printed without a traceback, exit code 2."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags shared by ``train``, ``sweep`` and ``lr-find``."""
    data = parser.add_argument_group("data and model")
    data.add_argument("--dataset", default="digits",
                      help=f"one of {', '.join(DATASET_NAMES)}, or a path to MNIST IDX files "
                           "(a directory) or a keras-style .npz (default: digits)")  # fmt: skip
    data.add_argument(
        "--model",
        default=None,
        help="linear, logistic, mlp or cnn (default: mlp, or linear for regression)",
    )
    data.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="held-out fraction for named datasets (default: 0.2)",
    )
    opt = parser.add_argument_group("optimizer")
    opt.add_argument("--optimizer", default="adam", help="any optjax optimizer (default: adam)")
    opt.add_argument("--lr", type=_positive_float, default=1e-3, help="peak learning rate")
    opt.add_argument("--weight-decay", type=float, default=0.0, help="weight decay (default: 0)")
    opt.add_argument(
        "--clip", type=_positive_float, default=None, help="clip gradients to this global norm"
    )
    opt.add_argument(
        "--schedule",
        default="constant",
        help="constant, cosine, linear, exponential, step, onecycle, inverse_sqrt",
    )
    opt.add_argument("--warmup", type=_non_negative_int, default=0, help="linear warmup steps")
    run = parser.add_argument_group("run")
    run.add_argument("--epochs", type=_positive_int, default=30)
    run.add_argument("--batch-size", type=_positive_int, default=32)
    run.add_argument("--seed", type=int, default=0, help="seed of the split, init and shuffles")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The ``optjax`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="optjax", description="Train and optimize JAX models with optjax."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser(
        "train", help="train a model on a dataset and report train/test metrics",
        description="Train a Flax model with an optjax optimizer; print a final table.",
    )  # fmt: skip
    add_train_arguments(train)
    add_distributed_arguments(train)
    out = train.add_argument_group("checkpoints and outputs")
    out.add_argument("--checkpoint-dir", default=None, help="directory for orbax checkpoints")
    out.add_argument("--checkpoint-every", type=_positive_int, default=None,
                     help="save every N steps (default: every epoch)")  # fmt: skip
    out.add_argument(
        "--resume",
        action="store_true",
        help="continue from the latest checkpoint in --checkpoint-dir",
    )
    out.add_argument("--patience", type=_positive_int, default=None,
                     help="early stopping on a validation split (10%% of train), restoring "
                          "the best weights")  # fmt: skip
    out.add_argument(
        "--save-params",
        default=None,
        metavar="FILE.npz",
        help="final parameters as .npz keyed by '/'-joined tree paths",
    )
    out.add_argument("--metrics-json", default=None, metavar="FILE", help="metrics as JSON")
    out.add_argument("--plot", default=None, metavar="FILE.png", help="loss and metric curves")

    # The sweep takes comma lists for the swept settings; "resolve" lets them replace the
    # single-valued --lr and --weight-decay of the shared flags.
    sweep = commands.add_parser(
        "sweep", conflict_handler="resolve",
        help="train several hyperparameter settings at once (one vmapped step)",
        description="Train K copies of a model, one per setting, in one compiled vmapped "
                    "step; print one row per member. Lists are comma-separated; lists of "
                    "one value apply to every member.",
    )  # fmt: skip
    add_train_arguments(sweep)
    grid = sweep.add_argument_group("swept settings (comma lists of equal length)")
    grid.add_argument("--lr", type=_float_list, default=None, help="learning rates")
    grid.add_argument(
        "--weight-decay",
        type=_float_list,
        default=None,
        help="weight decays (optimizers with their own weight_decay: adamw...)",
    )
    grid.add_argument("--b1", type=_float_list, default=None, help="first-moment decays")
    grid.add_argument("--b2", type=_float_list, default=None, help="second-moment decays")
    grid.add_argument(
        "--seeds",
        type=_int_list,
        default=None,
        help="model init and dropout seeds (data split and order: --seed)",
    )
    out = sweep.add_argument_group("outputs")
    out.add_argument("--metrics-json", default=None, metavar="FILE", help="metrics as JSON")
    out.add_argument("--plot", default=None, metavar="FILE.png",
                     help="validation loss curves of all members")  # fmt: skip

    find = commands.add_parser(
        "lr-find", help="learning-rate range test: suggest a learning rate",
        description="Train with an exponentially growing learning rate (Smith 2015; "
                    "fastai's lr_find) until the loss diverges; print suggested rates.",
    )  # fmt: skip
    add_train_arguments(find)
    ramp = find.add_argument_group("range test")
    ramp.add_argument("--start-lr", type=_positive_float, default=1e-7)
    ramp.add_argument("--end-lr", type=_positive_float, default=10.0)
    ramp.add_argument("--num-steps", type=_positive_int, default=100)
    ramp.add_argument("--plot", default=None, metavar="FILE.png", help="loss against lr")
    return parser


def _float_list(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


# ---------------------------------------------------------------------------------------------
# Assembling a run from the flags.


def load_splits(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(train, validation or None, test) datasets for the flags; checks names and paths."""
    from optjax import data

    name = args.dataset
    is_name = name in DATASET_NAMES
    if not is_name and not (os.sep in name or name.endswith(".npz") or Path(name).exists()):
        raise UsageError(
            f"unknown dataset {name!r}; choose one of: {', '.join(DATASET_NAMES)}, or give a "
            f"path to MNIST IDX files or a .npz."
        )
    if not 0.0 < args.test_fraction < 1.0:
        raise UsageError(f"--test-fraction must be in (0, 1), got {args.test_fraction}.")
    try:
        if is_name:
            full = data.load(name, seed=args.seed)
            train, test = data.train_test_split(full, args.test_fraction, seed=args.seed)
        else:
            train = data.load(name, split="train")
            test = data.load(name, split="test")
    except FileNotFoundError as error:
        raise UsageError(str(error)) from None
    val = None
    if getattr(args, "patience", None):
        train, val = data.train_test_split(train, 0.1, seed=args.seed + 1)
    if is_name and name in _TABULAR:
        parts = [p for p in (train, val, test) if p is not None]
        (train, *rest), _ = data.standardize(*parts)
        val, test = (rest[0], rest[1]) if val is not None else (None, rest[0])
    return train, val, test


def build_model(args: argparse.Namespace, train: Any) -> Any:
    """The NNX model for the flags and the dataset, checked against the data's shape."""
    from optjax.training import MODEL_NAMES, make_model

    regression = train.task == "regression"
    name = args.model or ("linear" if regression else "mlp")
    if name not in MODEL_NAMES:
        raise UsageError(f"unknown model {name!r}; choose one of: {', '.join(MODEL_NAMES)}.")
    if regression and name != "linear" and name not in ("mlp", "cnn"):
        raise UsageError(
            f"model {name!r} is a classifier, but dataset {train.name!r} is a regression task; "
            f"use --model linear, mlp or cnn."
        )
    if not regression and name == "linear":
        raise UsageError(
            f"model 'linear' is a regression model, but dataset {train.name!r} has "
            f"{train.num_classes} classes; use --model logistic, mlp or cnn."
        )
    classes = train.num_classes if not regression else (1 if name != "linear" else None)
    try:
        return make_model(name, input_shape=train.x.shape[1:], num_classes=classes, seed=args.seed)
    except (ValueError, TypeError) as error:
        raise UsageError(f"{error} (dataset {train.name!r} has examples of shape "
                         f"{tuple(train.x.shape[1:])})") from None  # fmt: skip


def build_optimizer(args: argparse.Namespace, steps_per_epoch: int) -> Any:
    """The optimizer (with schedule, weight decay and clipping) for the flags."""
    from optjax.training import make_optimizer, make_schedule, optimizer_names

    total = steps_per_epoch * args.epochs
    try:
        lr = make_schedule(args.schedule, args.lr, total_steps=total, warmup=args.warmup)
        return make_optimizer(
            args.optimizer, lr, weight_decay=args.weight_decay, clip=args.clip, seed=args.seed
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    except TypeError as error:
        raise UsageError(
            f"optimizer {args.optimizer!r} cannot be built from the flags: {error}. "
            f"Optimizers: {', '.join(optimizer_names())}."
        ) from None


def metrics_for(train: Any) -> Any:
    from optjax.training import classification_metrics, regression_metrics

    if train.task == "classification":
        return classification_metrics(train.num_classes)
    return regression_metrics


# ---------------------------------------------------------------------------------------------
# Outputs.


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = history["epoch"]
    metric_names = [k for k in ("val_accuracy", "val_f1", "val_r2") if history[k]]
    fig, axes = plt.subplots(1, 2 if metric_names else 1, figsize=(10 if metric_names else 5, 4))
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
    plt.close(fig)


def _check_output_path(flag: str, path: str | None) -> None:
    if path is None:
        return
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise UsageError(f"{flag}: directory {str(parent)!r} does not exist.")


# ---------------------------------------------------------------------------------------------
# Commands.


def train_command(args: argparse.Namespace) -> int:
    """``optjax train``: train, print the table, write the requested outputs."""
    for flag, path in (("--save-params", args.save_params), ("--metrics-json", args.metrics_json),
                       ("--plot", args.plot)):  # fmt: skip
        _check_output_path(flag, path)
    if args.resume and not args.checkpoint_dir:
        raise UsageError("--resume needs --checkpoint-dir.")
    mesh = setup_distributed(args)  # before any JAX computation
    train, val, test = load_splits(args)
    model = build_model(args, train)
    import jax

    from optjax import data
    from optjax.training import (
        EarlyStopping,
        TrainingDiverged,
        TrainState,
        default_loss,
        evaluate,
        fit,
    )

    steps_per_epoch = data.num_batches(len(train), args.batch_size)
    tx = build_optimizer(args, steps_per_epoch)
    state = TrainState.from_nnx(model, tx, rng=args.seed)
    loss_fn, metrics_fn = default_loss(train.task), metrics_for(train)

    checkpointer = None
    if args.checkpoint_dir:
        from optjax.training import Checkpointer, CheckpointError

        checkpointer = Checkpointer(args.checkpoint_dir)
    callbacks = []
    if args.patience:
        callbacks.append(
            EarlyStopping("val_loss", patience=args.patience, restore_best_weights=True)
        )
    try:
        state, history = fit(
            state, train, loss_fn=loss_fn, epochs=args.epochs, batch_size=args.batch_size,
            validation_data=val if val is not None else test, metrics_fn=metrics_fn,
            callbacks=callbacks, seed=args.seed, checkpointer=checkpointer,
            checkpoint_every=args.checkpoint_every, resume=args.resume,
            progress=False if args.no_progress else None,
            mesh=mesh, shard_opt_state=args.shard_opt_state, drop_last=args.drop_last,
        )  # fmt: skip
    except TrainingDiverged as error:
        print(f"optjax train: {error}", file=sys.stderr)
        return EXIT_DIVERGED
    except ValueError as error:
        raise UsageError(str(error)) from None
    except Exception as error:
        if checkpointer is not None and isinstance(error, CheckpointError):
            raise UsageError(str(error)) from None
        raise
    finally:
        if checkpointer is not None:
            checkpointer.close()

    train_logs = evaluate(state, train, loss_fn=loss_fn, metrics_fn=metrics_fn)
    test_logs = evaluate(state, test, loss_fn=loss_fn, metrics_fn=metrics_fn)
    print(f"{train.name}: {args.model or ('linear' if train.task == 'regression' else 'mlp')}, "
          f"{args.optimizer} (lr {args.lr:g}, {args.schedule}), {len(history)} epochs of "
          f"{steps_per_epoch} steps")  # fmt: skip
    print(format_table(train_logs, test_logs, history.timing))
    if jax.process_index() != 0:
        return 0  # every process trained; process 0 writes the files
    if args.save_params:
        params_to_npz(state.params, args.save_params)
    if args.metrics_json:
        report = {
            "train": train_logs,
            "test": test_logs,
            "history": history.epochs,
            "seconds_per_epoch": history.timing["seconds_per_epoch"],
            "first_epoch_seconds": history.timing["first_epoch_seconds"],
            "steps_per_second": history.timing["steps_per_second"],
            "config": {k: v for k, v in vars(args).items() if k != "command"},
        }
        Path(args.metrics_json).write_text(json.dumps(report, indent=2) + "\n")
    if args.plot:
        plot_history(history, args.plot, title=f"{train.name}, {args.optimizer}")
    return 0


_SWEPT = (("lr", "learning_rate"), ("weight_decay", "weight_decay"), ("b1", "b1"),
          ("b2", "b2"), ("seeds", "seed"))  # fmt: skip


def _sweep_grid(args: argparse.Namespace) -> dict[str, list[Any]]:
    given = {name: getattr(args, flag) for flag, name in _SWEPT if getattr(args, flag)}
    if not given:
        raise UsageError("give at least one list to sweep: --lr, --weight-decay, --b1, --b2 "
                         "or --seeds.")  # fmt: skip
    k = max(len(v) for v in given.values())
    lengths = {f"--{flag.replace('_', '-')}": len(getattr(args, flag))
               for flag, name in _SWEPT if name in given}  # fmt: skip
    if any(n not in (1, k) for n in lengths.values()):
        raise UsageError(f"the swept lists must have the same length (or one value); got "
                         f"lengths {lengths}.")  # fmt: skip
    return {name: v * k if len(v) == 1 else v for name, v in given.items()}


def sweep_command(args: argparse.Namespace) -> int:
    """``optjax sweep``: train every setting at once, print one row per member."""
    for flag, path in (("--metrics-json", args.metrics_json), ("--plot", args.plot)):
        _check_output_path(flag, path)
    grid = _sweep_grid(args)
    if "learning_rate" in grid and (args.schedule != "constant" or args.warmup):
        raise UsageError("sweeping --lr needs --schedule constant and no --warmup (a schedule "
                         "sets the learning rate at every step).")  # fmt: skip
    train, _, test = load_splits(args)
    build_model(args, train)  # checks the model name against the data before any compile
    from optjax import data
    from optjax.training import TrainState, default_loss
    from optjax.training._sweep import sweep

    steps_per_epoch = data.num_batches(len(train), args.batch_size)
    base = argparse.Namespace(**{**vars(args), "lr": (args.lr or [1e-3])[0], "weight_decay": 0.0})
    tx = build_optimizer(base, steps_per_epoch)

    def make_state(seed: int) -> Any:
        model = build_model(argparse.Namespace(**{**vars(args), "seed": seed}), train)
        return TrainState.from_nnx(model, tx, rng=seed)

    loss_fn, metrics_fn = default_loss(train.task), metrics_for(train)
    try:
        result = sweep(
            make_state, train, loss_fn=loss_fn, hyperparams=grid, epochs=args.epochs,
            batch_size=args.batch_size, validation_data=test, metrics_fn=metrics_fn,
            seed=args.seed, progress=False if args.no_progress else None,
        )  # fmt: skip
    except ValueError as error:
        hint = ""
        if "weight_decay" in grid and "['weight_decay']" in str(error):
            hint = " (use an optimizer with its own weight decay, such as --optimizer adamw)"
        raise UsageError(f"{error}{hint}") from None
    print(f"{train.name}: {args.model or ('linear' if train.task == 'regression' else 'mlp')}, "
          f"{args.optimizer}, {len(result)} members, {args.epochs} epochs of "
          f"{steps_per_epoch} steps")  # fmt: skip
    print(format_sweep_table(result.members))
    if args.metrics_json:
        members = [{"hyperparams": m["hyperparams"], "train": m["train"], "test": m["test"],
                    "diverged_at": m["diverged_at"], "history": m["history"].epochs}
                   for m in result.members]  # fmt: skip
        report = {"members": members,
                  "config": {k: v for k, v in vars(args).items() if k != "command"}}  # fmt: skip
        Path(args.metrics_json).write_text(json.dumps(report, indent=2) + "\n")
    if args.plot:
        plot_sweep(result.members, args.plot, title=f"{train.name}, {args.optimizer}")
    return 0


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, m in enumerate(members):
        history = m["history"]
        key = "val_loss" if history["val_loss"] else "loss"
        label = f"{i}: " + ", ".join(f"{n}={v:g}" for n, v in m["hyperparams"].items())
        ax.plot(history["epoch"], history[key], label=label)
    ax.set(xlabel="epoch", ylabel="validation loss", yscale="log", title=title or "sweep")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def lr_find_command(args: argparse.Namespace) -> int:
    """``optjax lr-find``: run the range test, print the suggested learning rates."""
    _check_output_path("--plot", args.plot)
    if args.start_lr >= args.end_lr:
        raise UsageError(f"--start-lr ({args.start_lr:g}) must be below --end-lr "
                         f"({args.end_lr:g}).")  # fmt: skip
    if args.num_steps < 2:
        raise UsageError("--num-steps must be at least 2.")
    train, _, _ = load_splits(args)
    model = build_model(args, train)
    from optjax.training import TrainState, default_loss
    from optjax.training._lr_find import lr_find

    constant = argparse.Namespace(**{**vars(args), "lr": args.start_lr, "schedule": "constant",
                                     "warmup": 0, "epochs": 1})  # fmt: skip
    tx = build_optimizer(constant, 1)
    state = TrainState.from_nnx(model, tx, rng=args.seed)
    try:
        result = lr_find(
            state, train, loss_fn=default_loss(train.task), start_lr=args.start_lr,
            end_lr=args.end_lr, num_steps=args.num_steps, batch_size=args.batch_size,
            seed=args.seed,
        )  # fmt: skip
    except ValueError as error:
        raise UsageError(str(error)) from None
    stop = (f"stopped at step {result.stopped_at} (lr {result.learning_rates[-1]:.3g}): the "
            f"smoothed loss passed 4x its best" if result.stopped_at is not None
            else f"ran all {len(result)} steps without diverging")  # fmt: skip
    print(f"{train.name}: {args.optimizer}, lr {args.start_lr:g} -> {args.end_lr:g} over "
          f"{args.num_steps} steps; {stop}")  # fmt: skip
    for name in ("steepest", "valley"):
        value = getattr(result, name)
        print(f"{name:<9} {value:.3g}" if value is not None else f"{name:<9} (too few steps)")
    if args.plot:
        result.plot(args.plot, title=f"{train.name}, {args.optimizer}")
    return 0


COMMANDS = {"train": train_command, "sweep": sweep_command, "lr-find": lr_find_command}


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``optjax`` command; returns its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as error:
        print(f"optjax {args.command}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
