"""The contract's own behaviour: bad input, None leaves, masks, tree helpers."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optjax


def _params():
    return {"a": {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}, "c": [jnp.ones(()), None]}


def test_structure_mismatch_names_the_key_path():
    tx = optjax.trace(0.9)
    state = tx.init(_params())
    bad = {"a": {"w": jnp.ones((2, 3)), "bias": jnp.zeros(3)}, "c": [jnp.ones(()), None]}
    with pytest.raises(ValueError, match=r"\['a'\]\['b'\]"):
        tx.update(bad, state)
    with pytest.raises(ValueError, match=r"\['a'\]\['b'\]"):
        tx.update(bad, state, _params())


def test_structure_mismatch_against_params_is_caught_at_trace_time():
    tx = optjax.add_decayed_weights(0.1)
    params = _params()
    grads = {**params, "extra": jnp.ones(1)}
    with pytest.raises(ValueError, match=r"\['extra'\]"):
        jax.jit(tx.update)(grads, tx.init(params), params)


def test_apply_updates_mismatch_names_the_key_path():
    with pytest.raises(ValueError, match=r"\[1\]"):
        optjax.apply_updates([jnp.ones(2), jnp.ones(2)], [jnp.ones(2)])


@pytest.mark.parametrize("dtype", [jnp.int32, jnp.bool_])
def test_integer_and_boolean_leaves_are_refused_with_the_key_path(dtype):
    params = {"w": jnp.ones(2), "step": jnp.zeros((), dtype)}
    with pytest.raises(TypeError, match=r"\['step'\].*dtype"):
        optjax.sgd(0.1).init(params)
    with pytest.raises(TypeError, match=r"\['step'\]"):
        optjax.scale(0.1).update(params, optjax.EmptyState())


def test_integer_leaves_can_be_masked_out():
    params = {"w": jnp.ones(2), "step": jnp.zeros((), jnp.int32)}
    tx = optjax.masked(optjax.sgd(0.1), {"w": True, "step": False})
    grads = {"w": jnp.ones(2), "step": jnp.zeros((), jnp.int32)}
    updates, _ = tx.update(grads, tx.init(params), params)
    np.testing.assert_allclose(updates["w"], -0.1 * jnp.ones(2))
    assert updates["step"].dtype == jnp.int32


def test_none_leaves_pass_through():
    tx = optjax.chain(optjax.trace(0.9), optjax.scale_by_learning_rate(0.5))
    params = _params()
    updates, _ = tx.update(params, tx.init(params), params)
    assert updates["c"][1] is None
    assert optjax.apply_updates(params, updates)["c"][1] is None


def test_apply_updates_casts_to_param_dtype():
    params = {"w": jnp.ones(3, jnp.bfloat16), "v": jnp.ones(3, jnp.float16)}
    new = optjax.apply_updates(params, {"w": jnp.full(3, 0.5), "v": jnp.full(3, 0.5)})
    assert new["w"].dtype == jnp.bfloat16 and new["v"].dtype == jnp.float16
    np.testing.assert_allclose(new["w"].astype(jnp.float32), 1.5)


def test_chain_state_mismatch_is_a_clear_error():
    tx = optjax.chain(optjax.trace(0.9), optjax.scale(0.1))
    with pytest.raises(ValueError, match="2 entries"):
        tx.update(_params(), (optjax.EmptyState(),))


def test_named_chain_rejects_duplicate_names():
    with pytest.raises(ValueError, match="duplicate"):
        optjax.named_chain(("a", optjax.scale(1.0)), ("a", optjax.scale(2.0)))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: optjax.trace(decay=1.5), r"decay must be in \[0, 1\]"),
        (lambda: optjax.ema(decay=1.0), r"decay must be in \[0, 1\)"),
        (lambda: optjax.measure_with_ema(optjax.tree.l2_norm, 1.0), r"decay must be in \[0, 1\)"),
        (lambda: optjax.trace(decay=-0.1), "decay"),
        (lambda: optjax.ema(decay=1.5), "decay"),
        (lambda: optjax.add_decayed_weights(-1e-4), "weight_decay must be >= 0"),
        (lambda: optjax.scale_by_schedule(0.1), "must be callable"),
    ],
)
def test_out_of_range_hyperparameters_raise_at_build_time(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_traced_hyperparameters_are_not_validated_eagerly():
    # vmap sweeps pass hyperparameters as arrays: no Python-level range check.
    def updates(decay):
        tx = optjax.trace(decay)
        params = {"w": jnp.ones(2)}
        return tx.update(params, tx.init(params))[0]["w"]

    out = jax.vmap(updates)(jnp.array([0.0, 0.5]))
    np.testing.assert_allclose(out, jnp.ones((2, 2)))


@pytest.mark.parametrize(
    "mask, message",
    [
        ({"a": True}, "does not match the parameters at key path <root>"),
        ({"a": {"w": True, "x": False}, "c": True}, r"key path \['a'\]"),
        ({"a": True, "c": [True, 1]}, r"\['c'\]\[1\].*booleans"),
    ],
)
def test_bad_masks_name_the_key_path(mask, message):
    with pytest.raises((ValueError, TypeError), match=message):
        optjax.masked(optjax.scale(2.0), mask).init(_params())


@pytest.mark.parametrize("use_callable", [False, True])
def test_masked_matches_optax(use_callable):
    params = _params()
    mask = {"a": {"w": True, "b": False}, "c": True}
    mask_arg = (lambda p: mask) if use_callable else mask

    def run(lib):
        tx = lib.masked(lib.chain(lib.trace(0.9), lib.scale(-0.1)), mask_arg)
        state = tx.init(params)
        for _ in range(3):
            updates, state = tx.update(params, state, params)
        return updates

    ours, ref = run(optjax), run(optax)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(ref)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_masked_inner_state_holds_nothing_for_masked_leaves():
    params = {"w": jnp.ones((100, 100)), "b": jnp.ones(3)}
    tx = optjax.masked(optjax.trace(0.9), {"w": False, "b": True})
    assert optjax.tree.size(tx.init(params)) == 3


def test_tree_norm_and_vdot_match_numpy():
    tree = {"a": jnp.arange(3.0), "b": [jnp.ones((2, 2)), None]}
    np.testing.assert_allclose(optjax.tree.l2_norm(tree), np.sqrt(5.0 + 4.0), rtol=1e-6)
    np.testing.assert_allclose(optjax.tree.vdot(tree, tree), 9.0, rtol=1e-6)
    np.testing.assert_allclose(optjax.tree.sum(tree), 7.0)
    assert optjax.tree.size(tree) == 7


def test_safe_increment_saturates():
    top = jnp.asarray(jnp.iinfo(jnp.int32).max, jnp.int32)
    assert optjax.tree.safe_increment(top) == top
    assert optjax.tree.safe_increment(jnp.asarray(3, jnp.int32)) == 4


def test_with_extra_args_support_wraps_foreign_transforms():
    tx = optjax.with_extra_args_support(optax.scale(2.0))
    updates, _ = tx.update({"w": jnp.ones(1)}, tx.init(None), None, value=1.0)
    np.testing.assert_allclose(updates["w"], 2.0)
    with pytest.raises(TypeError, match="init"):
        optjax.with_extra_args_support(object())


def test_masked_masks_compatible_extra_args():
    seen = {}

    def record(updates, state, params=None, **extra_args):
        seen.update(extra_args)
        return updates, state

    inner = optjax.GradientTransformation(lambda params: (), record)
    params = {"w": jnp.ones(2), "b": jnp.ones(1)}
    tags = {"w": jnp.zeros(2), "b": jnp.zeros(1)}
    tx = optjax.masked(inner, {"w": True, "b": False}, mask_compatible_extra_args=True)
    tx.update(params, tx.init(params), params, tags=tags, value=1.0)
    assert isinstance(seen["tags"]["b"], optjax.MaskedNode)
    assert seen["value"] == 1.0
