"""Registry entries for schedules: each drives SGD with momentum for 100 steps.

Optax's schedules are compared with Optax's; the PyTorch-style schedules,
which Optax lacks, with closed forms written here from PyTorch's documented
formulas (``test_schedules.py`` checks them value by value as well).
"""

import jax.numpy as jnp

from registry import settings as _settings

# Schedules return float32 values under x64 too (as Optax's do), so a float64
# trajectory agrees with its reference only up to float32 rounding of the
# learning rate when the two compute the schedule by different formulas.
_FLOAT32_SCHEDULE = dict(
    float64_rtol=1e-6,
    note="float32 schedule values bound float64 agreement to float32 rounding",
)


def settings(name, variants, **options):
    return _settings(name, variants, **{**_FLOAT32_SCHEDULE, **options})


def _sgd(lib, schedule):
    return lib.sgd(schedule, momentum=0.5)


def _reference(schedule_fn):
    return lambda optax: _sgd(optax, schedule_fn)


def _step_decay(t):  # torch.optim.lr_scheduler.StepLR(step_size=30, gamma=0.5)
    return 0.05 * 0.5 ** (t // 30)


def _multistep_decay(t):  # MultiStepLR(milestones=[20, 50, 70], gamma=0.3)
    passed = (t >= 20).astype(jnp.int32) + (t >= 50) + (t >= 70)
    return 0.05 * 0.3**passed


def _cyclic_triangular2(
    t,
):  # CyclicLR(0.001, 0.05, step_size_up=10, step_size_down=15, 'triangular2')
    cycle_length = 25
    cycle = jnp.floor(1 + t / cycle_length)
    x = 1.0 + t / cycle_length - cycle
    ratio = 10 / cycle_length
    scale = jnp.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
    return 0.001 + (0.05 - 0.001) * scale / 2.0 ** (cycle - 1)


def _cyclic_exp_range(t):  # CyclicLR(0.001, 0.05, step_size_up=10, mode='exp_range', gamma=0.99)
    cycle = jnp.floor(1 + t / 20)
    x = 1.0 + t / 20 - cycle
    scale = jnp.where(x <= 0.5, x / 0.5, (x - 1) / (0.5 - 1))
    return 0.001 + (0.05 - 0.001) * scale * 0.99**t


def _inverse_sqrt(t):  # linear warmup over 10 steps, then 0.05 * sqrt(10 / t)
    t = jnp.asarray(t, jnp.float32)
    return jnp.where(t < 10, 0.05 * t / 10, 0.05 * jnp.sqrt(10 / jnp.maximum(t, 1.0)))


CASES = [
    *settings("constant_schedule", {"0.05": lambda lib: _sgd(lib, lib.constant_schedule(0.05))}),
    *settings(
        "linear_schedule",
        {"begin": lambda lib: _sgd(lib, lib.linear_schedule(0.1, 0.01, 60, transition_begin=10))},
    ),
    *settings(
        "polynomial_schedule",
        {"power2": lambda lib: _sgd(lib, lib.polynomial_schedule(0.1, 0.001, 2.0, 150, 5))},
    ),
    *settings(
        "exponential_decay",
        {
            "staircase": lambda lib: _sgd(
                lib, lib.exponential_decay(0.1, 15, 0.6, transition_begin=5, staircase=True)
            ),
            "end_value": lambda lib: _sgd(lib, lib.exponential_decay(0.1, 10, 0.5, end_value=0.02)),
        },
    ),
    *settings(
        "cosine_decay_schedule",
        {
            "alpha": lambda lib: _sgd(
                lib, lib.cosine_decay_schedule(0.1, 80, alpha=0.1, exponent=2.0)
            )
        },
    ),
    *settings(
        "warmup_cosine_decay_schedule",
        {
            "default": lambda lib: _sgd(
                lib, lib.warmup_cosine_decay_schedule(0.0, 0.1, 10, 90, 0.001)
            )
        },
    ),
    *settings(
        "warmup_exponential_decay_schedule",
        {
            "default": lambda lib: _sgd(
                lib, lib.warmup_exponential_decay_schedule(0.0, 0.1, 10, 20, 0.5, end_value=0.01)
            )
        },
    ),
    *settings(
        "warmup_constant_schedule",
        {"default": lambda lib: _sgd(lib, lib.warmup_constant_schedule(0.0, 0.08, 15))},
    ),
    *settings(
        "piecewise_constant_schedule",
        {
            "default": lambda lib: _sgd(
                lib, lib.piecewise_constant_schedule(0.1, {20: 0.5, 60: 0.2})
            )
        },
    ),
    *settings(
        "piecewise_interpolate_schedule",
        {
            "cosine": lambda lib: _sgd(
                lib, lib.piecewise_interpolate_schedule("cosine", 0.1, {30: 0.5, 70: 0.1})
            ),
            "linear": lambda lib: _sgd(
                lib, lib.piecewise_interpolate_schedule("linear", 0.1, {30: 0.5, 70: 0.1})
            ),
        },
    ),
    *settings(
        "cosine_onecycle_schedule",
        {"default": lambda lib: _sgd(lib, lib.cosine_onecycle_schedule(100, 0.1))},
    ),
    *settings(
        "linear_onecycle_schedule",
        {"default": lambda lib: _sgd(lib, lib.linear_onecycle_schedule(100, 0.1))},
    ),
    *settings(
        "sgdr_schedule",
        {
            "two_cycles": lambda lib: _sgd(
                lib,
                lib.sgdr_schedule(
                    [
                        dict(init_value=0.0, peak_value=0.1, warmup_steps=5, decay_steps=40),
                        dict(init_value=0.0, peak_value=0.05, warmup_steps=5, decay_steps=60),
                    ]
                ),
            )
        },
    ),
    *settings(
        "join_schedules",
        {
            "warmup_then_decay": lambda lib: _sgd(
                lib,
                lib.join_schedules(
                    [lib.linear_schedule(0.0, 0.1, 20), lib.exponential_decay(0.1, 10, 0.7)], [20]
                ),
            )
        },
    ),
    *settings(
        "step_decay_schedule",
        {"torch_steplr": lambda lib: _sgd(lib, lib.step_decay_schedule(0.05, 30, gamma=0.5))},
        reference=_reference(_step_decay),
    ),
    *settings(
        "multistep_decay_schedule",
        {
            "torch_multisteplr": lambda lib: _sgd(
                lib, lib.multistep_decay_schedule(0.05, [20, 50, 70], gamma=0.3)
            )
        },
        reference=_reference(_multistep_decay),
    ),
    *settings(
        "cyclic_schedule",
        {
            "triangular2": lambda lib: _sgd(
                lib, lib.cyclic_schedule(0.001, 0.05, 10, 15, mode="triangular2")
            ),
        },
        reference=_reference(_cyclic_triangular2),
        float64_rtol=1e-5,
    ),
    *settings(
        "cyclic_schedule_exp_range",
        {
            "exp_range": lambda lib: _sgd(
                lib, lib.cyclic_schedule(0.001, 0.05, 10, mode="exp_range", gamma=0.99)
            ),
        },
        reference=_reference(_cyclic_exp_range),
        float64_rtol=1e-5,
    ),
    *settings(
        "inverse_sqrt_schedule",
        {"warmup10": lambda lib: _sgd(lib, lib.inverse_sqrt_schedule(0.05, 10))},
        reference=_reference(_inverse_sqrt),
    ),
]
