"""Benchmarks behind ``optjax bench``: update step, training throughput, convergence suite.

Nothing here is a test and nothing asserts a time. Run ``optjax bench --help``;
results and how to reproduce them are in ``benchmarks/README.md``.

From Python (a notebook, say), the convergence suite is
:func:`run_suite` (with :class:`SuiteOptimizer` for a transform of your own),
:func:`performance_profile` and :func:`draw_profile`, with the learning-rate
grids ``GRID``/``QUICK_GRID`` and the named optimizers ``SUITE_OPTIMIZERS``
(name -> (``make_optimizer`` name, default learning rate, options));
``CHAIN_BUILDERS`` maps each update-benchmark chain to a function of the
library (``optjax`` or ``optax``) that builds it. Every benchmark also
runs through :func:`main`, the command line without the leading ``optjax
bench`` (``main(["update", "--quick", "--json", "u.json"])``). The names are
imported on first use, so ``import optjax.bench`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from optjax.bench._names import BENCHMARKS, CHAINS, PROBLEMS, TREES, WORKLOADS
from optjax.bench._names import OPTIMIZERS as SUITE_OPTIMIZERS

# public name -> (module, attribute), imported on first use
_LAZY = {
    "run_suite": ("optjax.bench._suite", "run_suite"),
    "SuiteOptimizer": ("optjax.bench._suite", "SuiteOptimizer"),
    "performance_profile": ("optjax.bench._suite", "performance_profile"),
    "draw_profile": ("optjax.bench._suite", "draw_profile"),
    "GRID": ("optjax.bench._suite", "GRID"),
    "QUICK_GRID": ("optjax.bench._suite", "QUICK_GRID"),
    "CHAIN_BUILDERS": ("optjax.bench._update", "CHAINS"),  # name -> (library -> transform)
    "main": ("optjax.bench.cli", "main"),
}

__all__ = ["BENCHMARKS", "CHAINS", "PROBLEMS", "SUITE_OPTIMIZERS", "TREES", "WORKLOADS", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'optjax.bench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
