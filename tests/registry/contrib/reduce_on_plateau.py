"""Registry entries for ``reduce_on_plateau`` against ``optax.contrib``.

The harness passes the loss as ``value=`` (``needs_value``). The tolerances are
set so that the learning-rate scale drops several times within the 100 steps.
"""

from registry import settings


def _rop(lib, **kwargs):
    return lib.contrib.reduce_on_plateau(**kwargs)


CASES = settings(
    "reduce_on_plateau",
    {
        "sgd,patience=3,atol=0.01,cooldown=2": lambda lib: lib.chain(
            lib.sgd(0.1), _rop(lib, patience=3, atol=0.01, cooldown=2)
        ),
        "adam,accumulation=4,atol,min_scale": lambda lib: lib.chain(
            lib.adam(0.05),
            _rop(
                lib, factor=0.5, patience=1, rtol=0.0, atol=0.05, accumulation_size=4, min_scale=0.1
            ),
        ),
        "alone,patience=0": lambda lib: lib.chain(
            _rop(lib, factor=0.9, patience=0, rtol=0.2), lib.scale(-0.05)
        ),
    },
    needs_value=True,
)
