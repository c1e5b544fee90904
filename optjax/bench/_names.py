"""Benchmark, chain, tree, workload, problem and optimizer names (light: no JAX imports).

``optjax --help`` builds the ``bench`` parser from these without importing
Flax, Optax or scikit-learn; the modules that run the benchmarks use the same
names (``tests/test_bench.py`` checks that they agree).
"""

from __future__ import annotations

from typing import Any

BENCHMARKS = ("update", "fit", "suite", "adamw-large")
CHAINS = ("sgd_momentum", "clip_adamw", "adamw", "lion", "adafactor", "muon")
TREES = ("leaf16m", "leaves10", "leaves100", "leaves1000", "transformer")
WORKLOADS = ("linear", "logistic", "mlp", "cnn")
PROBLEMS = ("rosenbrock", "quadratic", "logistic", "mlp", "cnn", "char_lm")

# Suite optimizer name -> (optjax.training.make_optimizer name, default learning rate, options).
OPTIMIZERS: dict[str, tuple[str, float, dict[str, Any]]] = {
    "sgd": ("sgd", 0.1, {}),
    "momentum": ("sgd", 0.03, {"momentum": 0.9}),
    "nesterov": ("sgd", 0.03, {"momentum": 0.9, "nesterov": True}),
    "adam": ("adam", 1e-3, {}),
    "adamw": ("adamw", 1e-3, {}),
    "nadam": ("nadam", 1e-3, {}),
    "lion": ("lion", 1e-4, {}),
    "adafactor": ("adafactor", 1e-2, {}),
    "muon": ("muon", 0.02, {}),
    "soap": ("soap", 3e-3, {}),
    "shampoo": ("shampoo", 1e-3, {}),
    "mars_adamw": ("mars_adamw", 1e-3, {}),
    "schedule_free_adamw": ("schedule_free_adamw", 3e-3, {}),
    "prodigy": ("prodigy", 1.0, {}),
    "rmsprop": ("rmsprop", 1e-3, {}),
    "adagrad": ("adagrad", 0.1, {}),
    "adabelief": ("adabelief", 1e-3, {}),
}
DEFAULT_OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "lion", "adafactor", "muon", "soap",
                      "shampoo", "mars_adamw", "schedule_free_adamw", "prodigy")  # fmt: skip
