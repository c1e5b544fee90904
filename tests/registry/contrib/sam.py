"""Registry entries for SAM, against ``optax.contrib.sam``.

SAM runs in its transparent mode (one adversarial or outer step per call), which
the harness loop drives like any optimizer; opaque mode needs a ``grad_fn``
keyword and is compared step by step in ``tests/contrib/test_sam.py``.
"""

import optjax
from registry import Case


def _normalized_sgd(lib, rho):
    """The paper's adversarial step: a gradient step of length ``rho``."""
    if lib is optjax:
        return lib.chain(lib.normalize_by_update_norm(eps=0.0), lib.sgd(rho))
    return lib.chain(lib.contrib.normalize(), lib.sgd(rho))


def _sam(lib, outer, adv, **kwargs):
    builder = lib.sam if lib is optjax else lib.contrib.sam
    return builder(outer, adv, **kwargs)


_SAM_VARIANTS = {
    "default": lambda lib: _sam(lib, lib.sgd(0.05), _normalized_sgd(lib, 0.05)),
    "adam,sync=3": lambda lib: _sam(lib, lib.adam(0.01), _normalized_sgd(lib, 0.02), sync_period=3),
    "momentum_adv,no_reset": lambda lib: _sam(
        lib,
        lib.sgd(0.05, momentum=0.9),
        lib.sgd(0.01, momentum=0.5),
        sync_period=3,
        reset_state=False,
    ),
    "adamw_adv,reset": lambda lib: _sam(lib, lib.adamw(0.01), lib.adam(0.01), sync_period=4),
}

CASES = [
    Case(
        name=f"sam/{label}",
        make=make,
        reference=make,
        optimizer=True,
        first_setting=index == 0,
    )
    for index, (label, make) in enumerate(_SAM_VARIANTS.items())
]
