"""Registry entries for L-BFGS (issue 5).

Only what the harness can drive: the harness passes ``value=`` but no
``value_fn``, so the line searches (and ``lbfgs`` with its default zoom search)
are compared against Optax in ``tests/test_lbfgs.py`` with their own compiled
loop. Here: the bare L-BFGS direction followed by a small negative ``scale``
(so that the 100 steps descend instead of taking unit steps uphill), and
``lbfgs`` with a learning rate and no line search.
"""

from registry import Case, settings


def _descend(lib, tx, step=0.1):
    return lib.chain(tx, lib.scale(-step))


CASES: list[Case] = [
    *settings(
        "scale_by_lbfgs",
        {
            "default": lambda lib: _descend(lib, lib.scale_by_lbfgs()),
            "memory_size=3": lambda lib: _descend(lib, lib.scale_by_lbfgs(memory_size=3)),
            "no_scale_init_precond": lambda lib: _descend(
                lib, lib.scale_by_lbfgs(memory_size=5, scale_init_precond=False), step=0.02
            ),
        },
    ),
    *settings(
        "lbfgs",
        {
            "schedule,memory_size=4,no_linesearch": lambda lib: lib.lbfgs(
                learning_rate=lib.linear_schedule(0.2, 0.05, 50), memory_size=4, linesearch=None
            ),
        },
        optimizer=True,
    ),
]
