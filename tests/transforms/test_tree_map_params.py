"""tree_map_params (Optax's and optjax's) over optjax states: masks, partitions, muon, layouts.

As in Optax's ``_state_utils_test``: map parameter sharding specs onto an
optimizer state. ``tree_map_params`` calls ``init`` with a leafless
placeholder, which masks and labels must let through.
"""

import dataclasses

import jax
import jax.numpy as jnp
import optax
import pytest

import optjax


@dataclasses.dataclass(frozen=True)
class Spec:
    axis: int | None


PARAMS = {
    "dense": {"w": jnp.ones((3, 4)), "b": jnp.ones(4)},
    "head": {"w": jnp.ones((4, 2)), "b": jnp.ones(2)},
}
SPECS = {"dense": {"w": Spec(0), "b": Spec(1)}, "head": {"w": Spec(2), "b": Spec(3)}}
MASK = {"dense": {"w": True, "b": False}, "head": True}
LABELS = {"dense": {"w": "adam", "b": "sgd"}, "head": "adam"}


def _labels_fn(params):
    return jax.tree_util.tree_map_with_path(
        lambda path, _: "adam" if path[0].key == "dense" else "sgd", params
    )


BUILDERS = {
    "masked": lambda lib: lib.masked(lib.adam(0.1), MASK),
    "masked_fn": lambda lib: lib.masked(
        lib.adam(0.1), lambda p: jax.tree.map(lambda x: x.ndim > 1, p)
    ),
    "adamw_mask": lambda lib: lib.chain(lib.clip_by_global_norm(1.0), lib.adamw(0.1, mask=MASK)),
    "partition": lambda lib: lib.partition(
        {"adam": lib.adam(0.1), "sgd": lib.sgd(0.1, 0.9)}, LABELS
    ),
    "partition_fn": lambda lib: lib.partition(
        {"adam": lib.adam(0.1), "sgd": lib.sgd(0.1, 0.9)}, _labels_fn
    ),
    "freeze": lambda lib: lib.chain(lib.freeze(MASK), lib.sgd(0.1, 0.9)),
    "muon": lambda lib: lib.contrib.muon(0.1),
    "inject_adamw": lambda lib: lib.inject_hyperparams(lib.adamw)(learning_rate=0.1, mask=MASK),
}


def _is_masked(x):
    return isinstance(x, (optax.MaskedNode, optjax.MaskedNode))


def _spec_leaves(map_params, opt):
    state = opt.init(PARAMS)
    mapped = map_params(
        opt,
        lambda _, spec: spec,
        state,
        SPECS,
        transform_non_params=lambda _: Spec(None),
        is_leaf=_is_masked,
    )
    return [str(x) for x in jax.tree.leaves(mapped, is_leaf=_is_masked)]


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("source", ["optax", "optjax"])
def test_sharding_specs_map_onto_the_state_as_in_optax(name, source):
    map_params = (optax if source == "optax" else optjax).tree_utils.tree_map_params
    ours = _spec_leaves(map_params, BUILDERS[name](optjax))
    ref = _spec_leaves(optax.tree_utils.tree_map_params, BUILDERS[name](optax))
    assert ours == ref
    assert any("axis=0" in leaf for leaf in ours)


@pytest.mark.parametrize(
    "wrap, expected",
    [(optjax.grouped, {"float32": (26,)}), (optjax.flatten, (26,))],
)
def test_grouped_and_flatten_map_the_flat_vectors(wrap, expected):
    # Optax's flatten cannot: its init concatenates the placeholder's leaves.
    tx = wrap(optjax.adam(0.1))
    for map_params in (optax.tree_utils.tree_map_params, optjax.tree_utils.tree_map_params):
        mapped = map_params(
            tx, lambda x: x.shape, tx.init(PARAMS), transform_non_params=lambda _: None
        )
        assert mapped[0].count is None
        assert mapped[0].mu == expected and mapped[0].nu == expected
