"""Registry entries for ``optjax.experimental.aggregating``, against Optax's.

Only the transforms that take updates shaped like the parameters fit the
harness: gradient accumulation on its own, and ``process`` with an
accumulating (not per-element) aggregator in front of an optimizer.
Per-element aggregators are tested in ``tests/experimental/``.
"""

from registry import settings


def _agg(lib):
    return lib.experimental.aggregating


CASES = [
    *settings(
        "accumulate_avg_updates",
        {
            "steps=3": lambda lib: lib.chain(_agg(lib).accumulate_avg_updates(3), lib.scale(-0.1)),
            "steps=1": lambda lib: lib.chain(_agg(lib).accumulate_avg_updates(1), lib.scale(-0.1)),
        },
    ),
    *settings(
        "aggregating.process",
        {
            "accumulate=2/adam": lambda lib: _agg(lib).process(
                lib.identity(),
                _agg(lib).average_incrementally_updates(None, accumulation_steps=2),
                lib.adam(1e-2),
            ),
            "accumulate=1/sgd": lambda lib: _agg(lib).process(
                lib.identity(),
                _agg(lib).average_incrementally_updates(None, accumulation_steps=1),
                lib.sgd(0.05, momentum=0.9),
            ),
        },
    ),
]
