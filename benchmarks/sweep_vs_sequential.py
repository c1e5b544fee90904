"""A vmapped sweep of 16 learning rates against 16 sequential runs (issue 6's benchmark).

Digits MLP (64-128-10), Adam, batch 32, 80/20 split. Reports wall-clock seconds,
compilation included (that is what a user waits for: every run builds its own
optimizer, so every sequential run compiles its own step), for one run, 16
sequential runs and one 16-member sweep. Timings are reported, never asserted.

    .venv/bin/python benchmarks/sweep_vs_sequential.py [--epochs 10] [--members 16]
"""

from __future__ import annotations

import argparse
import platform
import time

import jax
import numpy as np

from optjax import data
from optjax.training import TrainState, default_loss, fit, make_model, make_optimizer, sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--members", type=int, default=16)
    args = parser.parse_args()

    train, test = data.train_test_split(data.load("digits"), 0.2, seed=0)
    loss_fn = default_loss("classification")
    rates = list(np.logspace(-4, -1.5, args.members))

    def make_state(seed: int, lr: float = 1e-3) -> TrainState:
        model = make_model("mlp", input_shape=train.x.shape[1:], num_classes=10, seed=seed)
        return TrainState.from_nnx(model, make_optimizer("adam", lr), rng=seed)

    def one_run(lr: float) -> None:
        state, _ = fit(make_state(0, lr), train, loss_fn=loss_fn, epochs=args.epochs,
                       batch_size=32, progress=False)  # fmt: skip
        jax.block_until_ready(state.params)

    def sequential() -> None:
        for lr in rates:
            one_run(lr)

    def swept() -> None:
        result = sweep(make_state, train, loss_fn=loss_fn, hyperparams={"learning_rate": rates},
                       epochs=args.epochs, batch_size=32, progress=False)  # fmt: skip
        jax.block_until_ready(result.states.params)

    def timed(fn) -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    one = timed(lambda: one_run(1e-3))
    swept_seconds = timed(swept)
    sequential_seconds = timed(sequential)
    print(f"{platform.processor() or platform.machine()}, jax {jax.__version__}, "
          f"{jax.devices()[0].platform}, {args.members} members, {args.epochs} epochs")  # fmt: skip
    for name, seconds in (("one run", one), (f"{args.members} sequential", sequential_seconds),
                          (f"sweep of {args.members}", swept_seconds)):  # fmt: skip
        print(f"{name:<16}{seconds:>8.2f} s {seconds / one:>6.2f}x one run")


if __name__ == "__main__":
    main()
