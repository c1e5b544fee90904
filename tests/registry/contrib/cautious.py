"""Registry entries for the cautious wrapper (which Optax lacks).

The NumPy references in ``tests/contrib/test_cautious.py`` cover the masking
itself; here only the case with an Optax twin runs the golden trajectory.
"""

from registry import settings

CASES = [
    # A gradient step never disagrees with its own gradient: the mask keeps
    # every entry and cautious(sgd) is sgd (the NumPy references in
    # test_cautious.py cover the masking itself).
    *settings(
        "cautious",
        {"sgd_no_momentum": lambda lib: lib.cautious(lib.sgd(0.05))},
        reference=lambda optax: optax.sgd(0.05),
        compare_state=False,
        note="CautiousState wraps the inner state; the reference is the bare optimizer.",
    ),
]
