"""Registry entries for MADGRAD, against ``optax.contrib``."""

from registry import settings


def _decay(lib):
    return lib.exponential_decay(1e-2, transition_steps=10, decay_rate=0.5)


CASES = [
    *settings(
        "madgrad",
        {
            "default": lambda lib: lib.contrib.madgrad(1e-2),
            "momentum=0,eps": lambda lib: lib.contrib.madgrad(1e-2, momentum=0.0, eps=1e-4),
            "weight_decay": lambda lib: lib.contrib.madgrad(1e-2, weight_decay=0.1),
            "schedule": lambda lib: lib.contrib.madgrad(_decay(lib), momentum=0.5),
        },
        optimizer=True,
    ),
    *settings(
        "scale_by_madgrad",
        {
            "default": lambda lib: lib.contrib.scale_by_madgrad(1e-2),
            "schedule,momentum=0.5": lambda lib: lib.contrib.scale_by_madgrad(
                _decay(lib), momentum=0.5, eps=1e-8
            ),
        },
    ),
]
