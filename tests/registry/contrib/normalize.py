"""Registry entries for ``normalize`` (SAM's unit-norm step) against ``optax.contrib``."""

from registry import settings

CASES = settings(
    "contrib_normalize",
    {
        "then_scale": lambda lib: lib.chain(lib.contrib.normalize(), lib.scale(-0.05)),
        "then_sgd_momentum": lambda lib: lib.chain(
            lib.contrib.normalize(), lib.sgd(0.02, momentum=0.9)
        ),
    },
)
