"""Registry entries for Mechanic (``mechanize``), against ``optax.contrib``.

The base optimizer is built from the same library as the wrapper, so the
comparison covers the wrapper and not a mix of libraries.
"""

from registry import settings


def _decay(lib):
    return lib.exponential_decay(1.0, transition_steps=10, decay_rate=0.5)


CASES = [
    *settings(
        "mechanize",
        {
            "sgd": lambda lib: lib.contrib.mechanize(lib.sgd(1.0)),
            "adam,weight_decay=0": lambda lib: lib.contrib.mechanize(
                lib.adam(1.0), weight_decay=0.0
            ),
            "momentum,num_betas=3,s_init": lambda lib: lib.contrib.mechanize(
                lib.sgd(1.0, momentum=0.9), num_betas=3, s_init=1e-4, eps=1e-6
            ),
            "schedule": lambda lib: lib.contrib.mechanize(lib.adam(_decay(lib))),
        },
        optimizer=True,
    ),
]
