"""Registry entries for MoMo and MoMo-Adam, against ``optax.contrib``.

Both need the loss value (``value=``), which the harness passes to each.
"""

from registry import settings


def _decay(lib, init):
    return lib.exponential_decay(init, transition_steps=10, decay_rate=0.5)


CASES = [
    *settings(
        "momo",
        {
            "default": lambda lib: lib.contrib.momo(),
            "beta=0.5,lr=0.1": lambda lib: lib.contrib.momo(0.1, beta=0.5),
            "adapt_lower_bound,weight_decay": lambda lib: lib.contrib.momo(
                weight_decay=0.01, lower_bound=-1.0, adapt_lower_bound=True
            ),
            "schedule,lower_bound": lambda lib: lib.contrib.momo(_decay(lib, 1.0), lower_bound=0.5),
        },
        needs_value=True,
        optimizer=True,
    ),
    *settings(
        "momo_adam",
        {
            "default": lambda lib: lib.contrib.momo_adam(),
            "b1,b2,eps,lr": lambda lib: lib.contrib.momo_adam(0.1, b1=0.5, b2=0.9, eps=1e-4),
            "adapt_lower_bound,weight_decay": lambda lib: lib.contrib.momo_adam(
                weight_decay=0.01, lower_bound=-1.0, adapt_lower_bound=True
            ),
            "schedule,lower_bound": lambda lib: lib.contrib.momo_adam(
                _decay(lib, 0.1), lower_bound=0.5
            ),
        },
        needs_value=True,
        optimizer=True,
    ),
]
