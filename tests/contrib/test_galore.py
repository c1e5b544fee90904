"""GaLore beyond the registry: ``None`` leaves, the forms of ``weight_dimension_numbers``,
Optax parity with 3-d attention kernels, the projector's properties, and bad input.

The 100-step trajectories against ``optax.contrib.galore`` are in
``registry/contrib/galore.py``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optjax

Dims = optjax.contrib.GaLoreDimensionNumbers


def _tree():
    keys = jax.random.split(jax.random.key(0), 4)
    return {
        "attn": jax.random.normal(keys[0], (6, 2, 3)),  # (embed, heads, head_dim)
        "wide": jax.random.normal(keys[1], (3, 7)),
        "tall": jax.random.normal(keys[2], (8, 2)),
        "bias": jax.random.normal(keys[3], (3,)),
    }


def _loss(params):
    return sum(jnp.sum(jnp.sin(x) * x + 0.1 * x**2) for x in jax.tree.leaves(params))


def _run(lib, tx, params, steps=4):
    state = tx.init(params)
    # One compilation per transform is cheaper than GaLore's many eager ops.
    update = jax.jit(tx.update)
    history = []
    for _ in range(steps):
        updates, state = update(jax.grad(_loss)(params), state, params)
        params = lib.apply_updates(params, updates)
        history.append(updates)
    return history, state


def _assert_same(ours, theirs, rtol=1e-5, atol=1e-6):
    a_flat = jax.tree_util.tree_flatten_with_path(ours)[0]
    b_flat = jax.tree_util.tree_flatten_with_path(theirs)[0]
    assert [jax.tree_util.keystr(p) for p, _ in a_flat] == [
        jax.tree_util.keystr(p) for p, _ in b_flat
    ]
    for (path, a), (_, b) in zip(a_flat, b_flat):
        assert a.shape == b.shape and a.dtype == b.dtype, jax.tree_util.keystr(path)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=jax.tree_util.keystr(path))


def _attention_dims(lib):
    dims = lib.contrib.GaLoreDimensionNumbers
    return {"attn": dims(0, (1, 2)), "wide": dims(), "tall": dims(), "bias": None}


def test_attention_kernels_match_optax_updates_and_state():
    kwargs = dict(learning_rate=0.05, rank=2, update_proj_gap=2, weight_decay=0.01)
    ours = _run(
        optjax,
        optjax.contrib.galore(**kwargs, weight_dimension_numbers=_attention_dims(optjax)),
        _tree(),
    )
    theirs = _run(
        optax,
        optax.contrib.galore(**kwargs, weight_dimension_numbers=_attention_dims(optax)),
        _tree(),
    )
    _assert_same(ours, theirs)
    projector = ours[1][0].projector
    # attn is a 6 x (2*3) matrix: square, so projected on the left.
    assert projector["attn"].shape == (6, 2)
    assert projector["wide"].shape == (7, 2) and projector["tall"].shape == (8, 2)
    assert projector["bias"].shape == (0, 0)


def test_the_forms_of_weight_dimension_numbers_agree():
    """One spec for every leaf, a tree of specs, and a function of the params."""
    params = {"wide": _tree()["wide"], "tall": _tree()["tall"]}
    make = lambda dims: optjax.contrib.scale_by_galore(rank=1, weight_dimension_numbers=dims)  # noqa: E731
    single = _run(optjax, make(Dims(1, 0)), params)
    as_tree = _run(optjax, make({"wide": Dims(1, 0), "tall": Dims(-1, (0,))}), params)
    as_function = _run(optjax, make(lambda p: jax.tree.map(lambda _: Dims(1, 0), p)), params)
    _assert_same(as_tree, single, rtol=0, atol=0)
    _assert_same(as_function, single, rtol=0, atol=0)
    # Rows = axis 1 is the transposed matrix: the projection switches sides
    # but the update is the same (up to the SVD's rounding).
    default = _run(optjax, make(None), params)
    _assert_same(default[0], single[0], rtol=1e-4, atol=1e-5)
    assert single[1].projector["wide"].shape == (7, 1)
    assert single[1].projector["tall"].shape == (8, 1)


def test_none_leaves_are_skipped():
    """optjax accepts None subtrees (Optax's galore does not); they change nothing."""
    params = _tree()
    with_none = {**params, "frozen": None, "nested": (None, params["wide"])}
    without = {**params, "nested": (params["wide"],)}
    tx = optjax.contrib.galore(0.05, rank=2, update_proj_gap=3)
    ours, _ = _run(optjax, tx, with_none, steps=4)
    ref, _ = _run(optjax, tx, without, steps=4)
    for a, b in zip(ours, ref):
        assert a["frozen"] is None and a["nested"][0] is None
        _assert_same({k: a[k] for k in params}, {k: b[k] for k in params})
        np.testing.assert_allclose(a["nested"][1], b["nested"][0], rtol=1e-6)


def test_projector_is_orthonormal_refreshes_on_schedule_and_rank_is_clipped():
    tx = optjax.contrib.scale_by_galore(rank=50, update_proj_gap=3)
    params = {"tall": _tree()["tall"]}
    state = tx.init(params)
    assert state.projector["tall"].shape == (8, 2)  # rank clipped to min(8, 2)
    seen = []
    for step in range(5):
        grads = jax.tree.map(lambda x, s=step: x * (1.0 + s) + s, params)
        _, state = tx.update(grads, state)
        seen.append(np.asarray(state.projector["tall"]))
        np.testing.assert_allclose(seen[-1].T @ seen[-1], np.eye(2), atol=1e-5)
    np.testing.assert_array_equal(seen[1], seen[0])
    np.testing.assert_array_equal(seen[2], seen[0])
    assert not np.allclose(np.abs(seen[3]), np.abs(seen[0]))
    assert int(state.count) == 5


def test_bfloat16_matches_optax_and_keeps_dtype():
    params = {"w": _tree()["wide"].astype(jnp.bfloat16), "b": jnp.ones(3, jnp.bfloat16)}
    ours = _run(optjax, optjax.contrib.galore(0.05, rank=2), params, steps=3)
    theirs = _run(optax, optax.contrib.galore(0.05, rank=2), params, steps=3)
    _assert_same(ours, theirs, rtol=2e-2, atol=2e-2)
    assert ours[0][0]["w"].dtype == jnp.bfloat16


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(rank=2.0), TypeError, "rank must be an int"),
        (dict(rank=0), ValueError, "rank must be > 0"),
        (dict(update_proj_gap=0), ValueError, "update_proj_gap must be an integer >= 1"),
    ],
)
def test_bad_hyperparameters_raise_at_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        optjax.contrib.scale_by_galore(**kwargs)


@pytest.mark.parametrize(
    "dims, match",
    [
        (Dims(0, 3), r"output_axis 3 at key path \['attn'\] is not an axis of a rank-3 array"),
        (Dims(0, 1), r"\['attn'\].*must together name every axis exactly once"),
        (Dims((0, 1), (1, 2)), r"every axis exactly once"),
        ({"attn": Dims(0, (1, 2)), "bias": Dims()}, r"\['bias'\] has shape \(3,\)"),
        ({"attn": Dims(0, (1, 2))}, "weight_dimension_numbers must have the structure"),
    ],
)
def test_bad_dimension_numbers_name_the_leaf(dims, match):
    params = {"attn": _tree()["attn"], "bias": _tree()["bias"]}
    tx = optjax.contrib.scale_by_galore(rank=1, weight_dimension_numbers=dims)
    with pytest.raises(ValueError, match=match):
        tx.init(params)


def test_a_dimension_numbers_leaf_of_the_wrong_type_is_rejected():
    tx = optjax.contrib.scale_by_galore(weight_dimension_numbers={"w": (0, 1)})
    with pytest.raises(TypeError, match="GaLoreDimensionNumbers or None, got tuple"):
        tx.init({"w": jnp.ones((2, 2))})
