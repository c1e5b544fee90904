"""``optjax.tree.get/set/get_all_with_path/map_params`` against ``optax.tree``.

The same hand-built trees (nested dicts and NamedTuples, repeated keys, a key
that names a NamedTuple class) go through both libraries; key paths are
compared through ``jax.tree_util.keystr`` and values exactly. Optimizer states
are built by each library from the same parameters.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optjax


class Inner(NamedTuple):
    count: object
    mu: object


class Outer(NamedTuple):
    count: object
    inner: object
    extra: object


def _state():
    return {
        "opt": Outer(
            count=jnp.asarray(1),
            inner=Inner(count=jnp.asarray(2), mu={"w": jnp.ones(2), "count": jnp.asarray(3)}),
            extra=[{"mu": 4.0}, (Inner(5, None),)],
        ),
        "mu": {"mu": jnp.asarray(6.0)},
    }


def _described(found):
    return [(jax.tree_util.keystr(path), jax.tree.map(np.asarray, value)) for path, value in found]


def _assert_same_found(ours, theirs):
    ours, theirs = _described(ours), _described(theirs)
    assert [p for p, _ in ours] == [p for p, _ in theirs]
    for (_, a), (_, b) in zip(ours, theirs):
        assert jax.tree.structure(a) == jax.tree.structure(b)
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
            np.testing.assert_array_equal(x, y)


def _is_array(path, value):
    return isinstance(value, jax.Array)


def _in_inner(path, value):
    return any(getattr(k, "tuple_name", None) == "Inner" for k in path)


@pytest.mark.parametrize("key", ["count", "mu", "Inner", "w", "missing"])
@pytest.mark.parametrize("filtering", [None, _is_array, _in_inner])
def test_get_all_with_path_matches_optax(key, filtering):
    state = _state()
    ours = optjax.tree.get_all_with_path(state, key, filtering)
    theirs = optax.tree.get_all_with_path(state, key, filtering)
    _assert_same_found(ours, theirs)
    for path, _ in ours:
        for entry in path:
            if type(entry).__name__ == "NamedTupleKey":
                assert isinstance(entry, optjax.tree_utils.NamedTupleKey)


def test_get_matches_optax_and_raises_on_several():
    state = _state()
    assert optjax.tree.get(state, "w") is state["opt"].inner.mu["w"]
    assert optjax.tree.get(state, "nothing", default=7) == 7
    assert optjax.tree.get(state, "Outer") is state["opt"]
    filtered = optjax.tree.get(state, "count", filtering=lambda p, v: jnp.ndim(v) == 0 and v == 3)
    assert filtered is optax.tree.get(state, "count", filtering=lambda p, v: v is filtered)
    with pytest.raises(KeyError, match=r"found 4 values for 'count', at key paths .*Outer\.count"):
        optjax.tree.get(state, "count")


@pytest.mark.parametrize(
    "filtering, kwargs",
    [
        (None, {"count": 10}),
        (None, {"mu": 0.5, "w": jnp.zeros(2)}),
        (None, {"Inner": "replaced"}),
        (_in_inner, {"count": -1}),
        (_is_array, {"mu": 9.0}),
    ],
)
def test_set_matches_optax(filtering, kwargs):
    state = _state()
    args = (state,) if filtering is None else (state, filtering)
    ours = optjax.tree.set(*args, **kwargs)
    theirs = optax.tree.set(*args, **kwargs)
    assert jax.tree.structure(ours) == jax.tree.structure(theirs)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        assert type(a) is type(b)
        np.testing.assert_array_equal(a, b)


def test_set_raises_for_missing_keys():
    with pytest.raises(KeyError, match="found no value for 'nope' in the tree"):
        optjax.tree.set(_state(), nope=1)
    with pytest.raises(KeyError, match="'w' that passes the filtering"):
        optjax.tree.set(_state(), lambda p, v: False, w=1)


def test_get_and_set_on_optimizer_states():
    params = {"a": jnp.ones(3)}
    for lib in (optjax, optax):
        opt = lib.inject_hyperparams(lib.sgd)(learning_rate=lambda c: 1 / (c + 1))
        state = opt.init(params)
        lr = lib.tree.get(state, "learning_rate", filtering=_is_array)
        assert float(lr) == 1.0
        state = lib.tree.set(state, _is_array, learning_rate=jnp.asarray(0.1))
        assert float(lib.tree.get(state, "learning_rate", filtering=_is_array)) == pytest.approx(
            0.1
        )
        noisy = lib.chain(lib.add_noise(1.0, 0.9, key=0), lib.scale_by_adam()).init(params)
        assert type(lib.tree.get(noisy, "AddNoiseState")).__name__ == "AddNoiseState"
        count_paths = [
            jax.tree_util.keystr(p) for p, _ in lib.tree.get_all_with_path(noisy, "count")
        ]
        assert count_paths == ["[0]AddNoiseState.count", "[1]ScaleByAdamState.count"]


@pytest.mark.parametrize(
    "make", [lambda lib: lib.adam(1e-3), lambda lib: lib.sgd(0.1, momentum=0.9)]
)
def test_map_params_matches_optax(make):
    params = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}
    specs = {"w": "model", "b": "data"}
    results = []
    for lib in (optjax, optax):
        opt = make(lib)
        state = opt.init(params)
        mapped = lib.tree.map_params(
            opt, lambda _, spec: spec, state, specs, transform_non_params=lambda _: "other"
        )
        by_init = lib.tree_utils.tree_map_params(opt.init, lambda p: p.shape, state)
        results.append((jax.tree.leaves_with_path(mapped), jax.tree.leaves_with_path(by_init)))
    (ours, ours_init), (theirs, theirs_init) = results
    assert [(jax.tree_util.keystr(p), v) for p, v in ours] == [
        (jax.tree_util.keystr(p), v) for p, v in theirs
    ]
    assert "model" in [v for _, v in ours]
    assert [v for _, v in ours_init] == [v for _, v in theirs_init]
    assert optjax.tree_map_params is optjax.tree.map_params
