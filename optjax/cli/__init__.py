"""The ``optjax`` command: ``train``, ``sweep``, ``lr-find`` and ``bench`` (also ``python -m optjax``).

Every error a user can cause (an unknown name, a missing file, data the model
cannot take, a corrupted checkpoint) ends with one message on standard error
naming the problem and a non-zero exit code: 2 for bad input, 1 when training
diverges. Nothing is compiled before the input has been checked.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from optjax.bench.cli import add_bench_parser, bench_command
from optjax.cli._args import EXIT_BAD_INPUT as EXIT_BAD_INPUT
from optjax.cli._args import EXIT_DIVERGED as EXIT_DIVERGED
from optjax.cli._args import UsageError as UsageError
from optjax.cli._args import _float_list, _int_list, _positive_float, _positive_int
from optjax.cli._args import add_train_arguments as add_train_arguments
from optjax.cli._distributed import add_distributed_arguments
from optjax.cli._sweep import lr_find_command, sweep_command
from optjax.cli._train import train_command


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
    add_bench_parser(commands)
    return parser


COMMANDS = {
    "train": train_command,
    "sweep": sweep_command,
    "lr-find": lr_find_command,
    "bench": bench_command,
}


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
