"""Registry entries for DoG and DoWG, against ``optax.contrib``.

Optax does not export ``scale_by_dog``/``scale_by_dowg`` from ``optax.contrib``
(they live in its private ``optax.contrib._dog`` module); optjax does. ``_dog``
picks the module that holds them for either library.
"""

import importlib

import jax

from registry import settings


def _dog(lib):
    """``optjax.contrib``, or Optax's ``optax.contrib._dog`` for the primitives."""
    if hasattr(lib.contrib, "scale_by_dog"):
        return lib.contrib
    return importlib.import_module(f"{lib.__name__}.contrib._dog")


def _decay(lib):
    return lib.exponential_decay(1.0, transition_steps=10, decay_rate=0.5)


def _mask(params):
    return jax.tree.map(lambda x: x.ndim > 1, params)


def _descend(lib, tx):
    return lib.chain(tx, lib.scale(-1.0))


CASES = [
    *settings(
        "dog",
        {
            "default": lambda lib: lib.contrib.dog(),
            "distance,eps": lambda lib: lib.contrib.dog(init_step=("distance", 0.1), eps=1e-4),
            "learning_rate": lambda lib: lib.contrib.dog(init_step=("learning_rate", 1e-3)),
            "weight_decay,mask,schedule": lambda lib: lib.contrib.dog(
                _decay(lib), init_step=("heuristic", 1e-4), weight_decay=1e-2, mask=_mask
            ),
        },
        optimizer=True,
    ),
    *settings(
        "scale_by_dog",
        {
            "heuristic": lambda lib: _descend(lib, _dog(lib).scale_by_dog(("heuristic", 1e-4))),
            "learning_rate,eps": lambda lib: _descend(
                lib, _dog(lib).scale_by_dog(("learning_rate", 1e-2), eps=1e-6)
            ),
        },
    ),
    *settings(
        "dowg",
        {
            "default": lambda lib: lib.contrib.dowg(),
            "init_estim_sq_dist,eps": lambda lib: lib.contrib.dowg(
                init_estim_sq_dist=1e-2, eps=1e-6
            ),
            "weight_decay,mask,schedule": lambda lib: lib.contrib.dowg(
                _decay(lib), weight_decay=1e-2, mask=_mask
            ),
        },
        optimizer=True,
    ),
    *settings(
        "scale_by_dowg",
        {
            "default": lambda lib: _descend(lib, _dog(lib).scale_by_dowg()),
            "init_estim_sq_dist": lambda lib: _descend(
                lib, _dog(lib).scale_by_dowg(init_estim_sq_dist=0.5, eps=1e-6)
            ),
        },
    ),
]
