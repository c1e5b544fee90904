"""Registry entries for gradient accumulation, non-finite guards and loss scaling."""

import dataclasses
import functools

import jax.numpy as jnp

from registry import settings


def _growing_k(step):
    # 1, 1, 2, 2, 3, 3, 3, ...: a batch size that grows over training.
    return jnp.minimum(step // 2 + 1, 3)


CASES = [
    *settings(
        "MultiSteps",
        {
            "adam/k=3": lambda lib: lib.MultiSteps(lib.adam(1e-2), 3).gradient_transformation(),
            "adam/k=1": lambda lib: lib.MultiSteps(lib.adam(1e-2), 1).gradient_transformation(),
            "adam/schedule": lambda lib: lib.MultiSteps(
                lib.adam(1e-2), _growing_k
            ).gradient_transformation(),
            "sgd/sum": lambda lib: lib.MultiSteps(
                lib.sgd(1e-2, momentum=0.9), 4, use_grad_mean=False
            ).gradient_transformation(),
            "adam/skip_not_finite": lambda lib: lib.MultiSteps(
                lib.adam(1e-2), 2, should_skip_update_fn=lib.skip_not_finite
            ).gradient_transformation(),
            # Never triggers: the skip_state (squared norms) is still compared.
            "adam/skip_large_never": lambda lib: lib.MultiSteps(
                lib.adam(1e-2),
                2,
                should_skip_update_fn=functools.partial(
                    lib.skip_large_updates, max_squared_norm=1e3
                ),
            ).gradient_transformation(),
            # Always triggers (the squared gradient norm starts near 100):
            # zero updates, frozen state, recorded norms.
            "adam/skip_large_always": lambda lib: lib.MultiSteps(
                lib.adam(1e-2),
                2,
                should_skip_update_fn=functools.partial(
                    lib.skip_large_updates, max_squared_norm=10.0
                ),
            ).gradient_transformation(),
            "adam/bf16_acc": lambda lib: lib.MultiSteps(
                lib.adam(1e-2), 3, accumulator_dtype=jnp.bfloat16
            ).gradient_transformation(),
        },
    ),
    *settings(
        "apply_if_finite",
        {
            "adam/3": lambda lib: lib.apply_if_finite(lib.adam(1e-2), 3),
            "sgd/0": lambda lib: lib.apply_if_finite(
                lib.sgd(5e-2, momentum=0.9), max_consecutive_errors=0
            ),
        },
    ),
]


def _unscaled_by_schedule(optax, inner, initial_scale, growth_steps):
    # The harness passes unscaled gradients, so the wrapper divides them by
    # S_t = initial_scale * 2**(t // growth_steps); the reference multiplies by
    # 1 / S_t with a schedule (powers of two: both are exact).
    return optax.chain(
        optax.scale_by_schedule(lambda t: 1.0 / (initial_scale * 2.0 ** (t // growth_steps))),
        inner,
    )


_LOSS_SCALE_NOTE = "Optax has no loss-scaling wrapper: the reference unscales with a schedule."
_loss_scale_cases = settings(
    "dynamic_loss_scale",
    {
        "sgd/grow25": lambda lib: lib.dynamic_loss_scale(
            lib.sgd(5e-2), initial_scale=1.0, dynamic_growth_steps=25
        ),
        "adam/4.0": lambda lib: lib.dynamic_loss_scale(
            lib.adam(1e-2), initial_scale=4.0, dynamic_growth_steps=1000
        ),
    },
    compare_state=False,
    note=_LOSS_SCALE_NOTE,
)
CASES += [
    dataclasses.replace(
        _loss_scale_cases[0],
        reference=lambda optax: _unscaled_by_schedule(optax, optax.sgd(5e-2), 1.0, 25),
    ),
    dataclasses.replace(
        _loss_scale_cases[1],
        reference=lambda optax: _unscaled_by_schedule(optax, optax.adam(1e-2), 4.0, 1000),
    ),
]
