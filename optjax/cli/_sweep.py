"""``optjax sweep`` and ``optjax lr-find``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from optjax.cli._args import UsageError
from optjax.cli._assemble import build_model, build_optimizer, load_splits, metrics_for
from optjax.cli._outputs import _check_output_path, format_sweep_table, plot_sweep

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
