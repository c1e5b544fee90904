"""Assembling a run from the flags: data splits, model, optimizer, metrics."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from optjax.cli._args import _TABULAR, DATASET_NAMES, UsageError


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
