"""Registry entries for ACProp, against ``optax.contrib``."""

import jax

from registry import settings


def _lib(lib):
    """The module holding ACProp: ``optjax.contrib`` or ``optax.contrib``."""
    return lib.contrib


def _decay(lib, init=1e-2):
    return lib.exponential_decay(init, transition_steps=10, decay_rate=0.5)


CASES = [
    *settings(
        "acprop",
        {
            "default": lambda lib: _lib(lib).acprop(1e-2),
            "b1=0.5,b2=0.9,eps": lambda lib: _lib(lib).acprop(
                1e-2, b1=0.5, b2=0.9, eps=1e-6, eps_root=1e-10
            ),
            "weight_decay,mask": lambda lib: _lib(lib).acprop(
                1e-2, weight_decay=0.1, mask=lambda p: jax.tree.map(lambda x: x.ndim > 1, p)
            ),
            "schedule": lambda lib: _lib(lib).acprop(_decay(lib)),
        },
        optimizer=True,
    ),
    *settings(
        "scale_by_acprop",
        {
            "default": lambda lib: lib.chain(_lib(lib).scale_by_acprop(), lib.scale(-1e-2)),
            "b1=0.0,b2=0.5": lambda lib: lib.chain(
                _lib(lib).scale_by_acprop(b1=0.0, b2=0.5, eps=1e-8), lib.scale(-1e-2)
            ),
        },
    ),
]
