"""Registry entries for Schedule-Free (SGD, AdamW and the wrapper), against ``optax.contrib``."""

import jax.numpy as jnp

from registry import settings
from registry.contrib.common import contrib_of, kernels, warmup

SCHEDULE_FREE = [
    *settings(
        "schedule_free_sgd",
        {
            "lr=0.1": lambda lib: contrib_of(lib).schedule_free_sgd(0.1),
            "warmup,weight_decay": lambda lib: contrib_of(lib).schedule_free_sgd(
                0.2, warmup_steps=10, weight_decay=1e-2
            ),
            "b1=0.5,power=1": lambda lib: contrib_of(lib).schedule_free_sgd(
                0.1, b1=0.5, weight_lr_power=1.0
            ),
            "b1=0.98,state_f32": lambda lib: contrib_of(lib).schedule_free_sgd(
                0.1, b1=0.98, state_dtype=jnp.float32
            ),
        },
        optimizer=True,
    ),
    *settings(
        "schedule_free_adamw",
        {
            "default": lambda lib: contrib_of(lib).schedule_free_adamw(),
            "warmup,weight_decay": lambda lib: contrib_of(lib).schedule_free_adamw(
                0.02, warmup_steps=5, weight_decay=1e-2
            ),
            "b1=0.95,b2=0.99,eps=1e-3": lambda lib: contrib_of(lib).schedule_free_adamw(
                0.01, b1=0.95, b2=0.99, eps=1e-3
            ),
        },
        optimizer=True,
    ),
    *settings(
        "schedule_free",
        {
            "adam_b1=0": lambda lib: contrib_of(lib).schedule_free(lib.adam(0.01, b1=0.0), 0.01),
            "sgd_warmup_schedule": lambda lib: contrib_of(lib).schedule_free(
                lib.sgd(warmup(lib)), warmup(lib), b1=0.8
            ),
            "rmsprop,power=0": lambda lib: contrib_of(lib).schedule_free(
                lib.rmsprop(0.005), 0.005, weight_lr_power=0.0
            ),
            "lion_b1=0,masked_decay": lambda lib: contrib_of(lib).schedule_free(
                lib.chain(
                    lib.add_decayed_weights(1e-2, mask=kernels),
                    lib.lion(1e-3, b1=0.0),
                ),
                1e-3,
                b1=0.95,
            ),
        },
    ),
]

CASES = SCHEDULE_FREE
