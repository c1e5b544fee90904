"""``optjax train``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from optjax.cli._args import EXIT_DIVERGED, UsageError
from optjax.cli._assemble import build_model, build_optimizer, load_splits, metrics_for
from optjax.cli._distributed import setup_distributed
from optjax.cli._outputs import _check_output_path, format_table, params_to_npz, plot_history


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
