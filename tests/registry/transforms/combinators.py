"""Registry entries for partition, freeze, flatten/grouped and maximize.

The harness's parameter tree is
``{"dense": [(3, 4), (4,)], "scalar": (), "conv": ((2, 3, 3, 2),), "frozen": None,
"nested": {"w": (5,), "pair": ((2, 2), None)}}``.
"""

import jax

from registry import Case, settings

# One label per leaf (None where the params hold None).
_LABELS = {
    "dense": ["adam", "sgd"],
    "scalar": "sgd",
    "conv": ("adam",),
    "frozen": None,
    "nested": {"w": "sgd", "pair": ("adam", None)},
}
# A prefix: the whole "nested" subtree carries one label.
_PREFIX_LABELS = {
    "dense": "adam",
    "scalar": "sgd",
    "conv": "adam",
    "frozen": None,
    "nested": "rms",
}
_FREEZE_MASK = {
    "dense": [True, False],
    "scalar": False,
    "conv": (True,),
    "frozen": None,
    "nested": {"w": False, "pair": True},
}
_FREEZE_PREFIX = {"dense": False, "scalar": True, "conv": False, "frozen": None, "nested": True}


def _by_rank(params):
    return jax.tree.map(lambda x: "adam" if x.ndim >= 2 else "sgd", params)


def _by_path(params):
    # Leaves under "nested" go to rmsprop, the rest by rank.
    def label(path, x):
        if path[0].key == "nested":
            return "rms"
        return "adam" if x.ndim >= 2 else "sgd"

    return jax.tree_util.tree_map_with_path(label, params)


def _transforms(lib, unused=False):
    transforms = {
        "adam": lib.adam(1e-2),
        "sgd": lib.sgd(5e-2, momentum=0.9),
        "rms": lib.rmsprop(1e-2),
    }
    if unused:
        transforms["never"] = lib.adamw(1e-2)
    return transforms


_INNER = {
    "adam": lambda lib: lib.adam(1e-2),
    "adamw": lambda lib: lib.adamw(1e-2, weight_decay=0.1),
    "sgd_momentum": lambda lib: lib.sgd(1e-3, momentum=0.9),
}


def _wrapper_cases(wrapper, reference, **options):
    """``lib.<wrapper>(inner)`` against ``reference(optax, inner)`` for each inner optimizer."""
    return [
        Case(
            name=f"{wrapper}/{label}",
            make=lambda lib, inner=inner: getattr(lib, wrapper)(inner(lib)),
            reference=lambda optax, inner=inner: reference(optax, inner(optax)),
            first_setting=index == 0,
            **options,
        )
        for index, (label, inner) in enumerate(_INNER.items())
    ]


CASES = [
    *settings(
        "partition",
        {
            "labels_tree": lambda lib: lib.partition(_transforms(lib, unused=True), _LABELS),
            "prefix_tree": lambda lib: lib.partition(_transforms(lib), _PREFIX_LABELS),
            "callable_rank": lambda lib: lib.partition(_transforms(lib), _by_rank),
            "callable_path": lambda lib: lib.partition(
                _transforms(lib), _by_path, mask_compatible_extra_args=True
            ),
            "one_label": lambda lib: lib.partition({"all": lib.adam(1e-2)}, "all"),
        },
    ),
    *settings(
        "multi_transform",
        {"callable": lambda lib: lib.multi_transform(_transforms(lib, unused=True), _by_rank)},
    ),
    *settings(
        "freeze",
        {
            "tree": lambda lib: lib.chain(lib.freeze(_FREEZE_MASK), lib.adam(1e-2)),
            "prefix": lambda lib: lib.chain(lib.freeze(_FREEZE_PREFIX), lib.sgd(5e-2)),
            "none_frozen": lambda lib: lib.chain(lib.freeze(False), lib.sgd(5e-2)),
        },
    ),
    *settings(
        "selective_transform",
        {
            "tree": lambda lib: lib.selective_transform(lib.adam(1e-2), freeze_mask=_FREEZE_MASK),
            "prefix": lambda lib: lib.selective_transform(
                lib.sgd(5e-2, momentum=0.9), freeze_mask=_FREEZE_PREFIX
            ),
        },
    ),
    *settings(
        "flatten",
        {
            "adam": lambda lib: lib.flatten(lib.adam(1e-2)),
            "sgd_nesterov": lambda lib: lib.flatten(lib.sgd(5e-2, momentum=0.9, nesterov=True)),
            "clip_adamw": lambda lib: lib.flatten(
                lib.chain(lib.clip_by_global_norm(1.0), lib.adamw(1e-2, weight_decay=0.1))
            ),
            # Per-leaf norms become one norm over the vector, in both libraries.
            "lamb": lambda lib: lib.flatten(lib.lamb(1e-2)),
        },
    ),
    *_wrapper_cases(
        "maximize",
        lambda optax, inner: optax.chain(optax.scale(-1.0), inner),
        compare_state=False,
        note="maximize's state is the inner state itself; the chain reference nests it in "
        "state[1] (test_combinators compares the two).",
    ),
    *_wrapper_cases(
        "grouped",
        lambda optax, inner: inner,
        compare_state=False,
        note="grouped has no Optax counterpart: the reference is the per-leaf optimizer, whose "
        "state is per leaf while grouped's holds one flat vector per dtype (test_combinators "
        "checks the state and bit-for-bit equality).",
    ),
]
