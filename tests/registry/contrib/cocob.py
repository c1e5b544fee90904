"""Registry entries for COCOB-Backprop, against ``optax.contrib``."""

import jax

from registry import settings


def _decay(lib):
    return lib.exponential_decay(1.0, transition_steps=10, decay_rate=0.5)


CASES = [
    *settings(
        "cocob",
        {
            "default": lambda lib: lib.contrib.cocob(),
            "alpha=10,eps=1e-4": lambda lib: lib.contrib.cocob(alpha=10.0, eps=1e-4),
            "weight_decay,mask": lambda lib: lib.contrib.cocob(
                weight_decay=1e-2, mask=lambda p: jax.tree.map(lambda x: x.ndim > 1, p)
            ),
            "schedule": lambda lib: lib.contrib.cocob(learning_rate=_decay(lib)),
        },
        optimizer=True,
    ),
    *settings(
        "scale_by_cocob",
        {
            "default": lambda lib: lib.contrib.scale_by_cocob(),
            "alpha=2": lambda lib: lib.contrib.scale_by_cocob(alpha=2.0, eps=1e-3),
        },
    ),
]
