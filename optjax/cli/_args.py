"""Flag types and the flags shared by ``train``, ``sweep`` and ``lr-find``."""

from __future__ import annotations

import argparse

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
