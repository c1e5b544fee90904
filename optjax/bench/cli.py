"""The ``optjax bench`` command: ``update``, ``fit``, ``suite`` and ``adamw-large``.

``optjax/cli.py`` registers it with :func:`add_bench_parser` and
:func:`bench_command`; :func:`main` runs it standalone
(``python -m optjax.bench.cli update --quick``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from optjax.bench import _names
from optjax.bench._common import BenchUsageError

BENCHMARKS = _names.BENCHMARKS


def _add_update(sub: Any) -> None:
    p = sub.add_parser("update", help="optimizer update step vs Optax and the memory roofline")
    p.add_argument("--quick", action="store_true", help="small trees and few repeats (smoke run)")
    p.add_argument("--chains", help=f"comma-separated, from: {', '.join(_names.CHAINS)}")
    p.add_argument("--trees", help=f"comma-separated, from: {', '.join(_names.TREES)}")
    p.add_argument("--repeats", type=int, help="alternated timed runs (default 30, --quick 5)")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")


def _add_fit(sub: Any) -> None:
    p = sub.add_parser("fit", help="epoch time of optjax.training.fit vs per-step loops")
    p.add_argument("--quick", action="store_true", help="fewer epochs (smoke run)")
    p.add_argument("--workloads", help=f"comma-separated, from: {', '.join(_names.WORKLOADS)}")
    p.add_argument("--epochs", type=int, help="epochs per run, the first is dropped (default 6)")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")


def _add_suite(sub: Any) -> None:
    p = sub.add_parser("suite", help="convergence suite: steps/time to target, performance profile")
    p.add_argument("--quick", action="store_true", help="short budgets (< 10 min on 2 CPU cores)")
    p.add_argument("--optimizers", help=f"comma-separated, from: {', '.join(_names.OPTIMIZERS)}")
    p.add_argument("--problems", help=f"comma-separated, from: {', '.join(_names.PROBLEMS)}")
    p.add_argument("--seeds", type=int, default=3, help="seeds per learning rate (default 3)")
    p.add_argument("--max-steps", type=int, help="cap every problem's step budget")
    p.add_argument("--out", metavar="DIR", default="bench-suite",
                   help="directory for results.json and the PNG plots")  # fmt: skip


def _add_adamw_large(sub: Any) -> None:
    p = sub.add_parser(
        "adamw-large", help="adamw over one huge float32 tensor vs roofline, PyTorch"
    )
    p.add_argument("--params", type=int,
                   help="number of float32 parameters (default 1e9 on GPU/TPU, 2^25 on CPU)")  # fmt: skip
    p.add_argument("--repeats", type=int, default=20, help="timed steps (default 20)")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch's fused AdamW")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")


def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Adds ``bench`` (with ``update``, ``fit``, ``suite``, ``adamw-large``) to an argparse ``subparsers``."""
    parser = subparsers.add_parser(
        "bench", help="benchmarks: update step, training throughput, convergence suite",
        description="Benchmarks (never tests). Results: benchmarks/README.md.",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="benchmark", metavar="{" + ",".join(BENCHMARKS) + "}")
    _add_update(sub)
    _add_fit(sub)
    _add_suite(sub)
    _add_adamw_large(sub)
    return parser


def bench_command(args: argparse.Namespace) -> int:
    """Runs the benchmark named by ``args.benchmark``; bad input prints the choices, exit 2."""
    name = getattr(args, "benchmark", None)
    try:
        if name == "update":
            from optjax.bench import _update

            return _update.run(args)
        if name == "fit":
            from optjax.bench import _fit

            return _fit.run(args)
        if name == "suite":
            from optjax.bench import _suite

            return _suite.run(args)
        if name == "adamw-large":
            from optjax.bench import _adamw_large

            return _adamw_large.run(args)
        raise BenchUsageError(f"unknown benchmark {name!r}; choose from: {', '.join(BENCHMARKS)}")
    except BenchUsageError as error:
        print(f"optjax bench: error: {error}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """``optjax bench`` without the top-level ``optjax`` parser: ``main(["update", "--quick"])``."""
    parser = argparse.ArgumentParser(prog="optjax")
    add_bench_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bench", *(argv if argv is not None else sys.argv[1:])])
    return bench_command(args)


if __name__ == "__main__":
    sys.exit(main())
