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


# Drop-in behaviour that Optax defines and its users rely on.


def test_apply_updates_and_incremental_update_keep_none_params():
    x = jnp.array([1.0, 2.0])
    for lib in (optjax, optax):
        assert lib.apply_updates(None, x) is None
        assert lib.incremental_update(None, x, 1) is None
    params = {"a": None, "b": jnp.ones(2)}
    new = optjax.apply_updates(params, {"a": {"any": x}, "b": x})
    assert new["a"] is None
    np.testing.assert_allclose(new["b"], [2.0, 3.0])
    averaged = optjax.incremental_update(params, {"a": x, "b": jnp.zeros(2)}, 0.25)
    assert averaged["a"] is None
    np.testing.assert_allclose(averaged["b"], 0.25)
    with pytest.raises(TypeError, match=r"apply_updates: updates at key path \['b'\] is None"):
        optjax.apply_updates(params, {"a": None, "b": None})
    with pytest.raises(ValueError, match=r"apply_updates.*\['c'\]"):
        optjax.apply_updates(params, {"a": None, "b": x, "c": x})


def test_none_updates_match_any_params_subtree():
    # Optax's add_decayed_weights test: a None update stays None.
    weights = (jnp.ones(2), {"a": jnp.ones(2), "b": jnp.ones(2)})
    tx = optjax.add_decayed_weights(0.1)
    assert tx.update(None, tx.init(weights), weights)[0] is None
    updates, _ = tx.update((None, {"a": jnp.ones(2), "b": None}), tx.init(weights), weights)
    assert updates[0] is None and updates[1]["b"] is None
    np.testing.assert_allclose(updates[1]["a"], 1.1)
    with pytest.raises(ValueError, match=r"\['c'\]"):
        tx.update((None, {"a": jnp.ones(2), "c": None}), tx.init(weights), weights)


def test_trace_with_decay_one_is_a_running_sum():
    grads = [jnp.array([1.0, -2.0]), jnp.array([0.5, 0.5]), jnp.array([2.0, 1.0])]
    for nesterov in (False, True):
        outputs = {}
        for lib in (optjax, optax):
            tx = lib.trace(decay=1.0, nesterov=nesterov)
            state = tx.init(grads[0])
            for g in grads:
                outputs[lib], state = tx.update(g, state)
        np.testing.assert_allclose(outputs[optjax], outputs[optax])
    np.testing.assert_allclose(state.trace, sum(grads))


def test_python_int_leaves_are_accepted_as_in_optax():
    # From Optax's combine test: plain Python ints as parameters.
    params = {"a": 1, "b": 2}
    results = []
    for lib in (optjax, optax):
        tx = lib.adam(1e-3)
        updates, state = tx.update(params, tx.init(params))
        results.append((updates, state))
    jax.tree.map(np.testing.assert_allclose, results[0][0], results[1][0])
    with pytest.raises(TypeError, match=r"\['a'\].*int32"):
        optjax.adam(1e-3).init({"a": jnp.ones((), jnp.int32)})


def test_a_missing_required_keyword_argument_is_a_type_error_naming_it():
    tx = optjax.scale_by_polyak()
    params = jnp.array([1.0, -1.0])
    # Checked before the structure check: Optax raises TypeError here too.
    grads = (jnp.ones(2), jnp.ones(2))
    for error in (TypeError, ValueError):
        with pytest.raises(error, match=r"scale_by_polyak: .*\['value'\]"):
            tx.update(grads, tx.init(params), params)
    with pytest.raises(TypeError):
        optax.scale_by_polyak().update(grads, (), params)


def test_init_empty_state_and_protocols_are_exported():
    assert optjax.init_empty_state({"w": jnp.ones(2)}) == optjax.EmptyState()
    assert optjax.TransformUpdateExtraArgsFn.__name__ == "TransformUpdateExtraArgsFn"
    tx = optjax.GradientTransformation(optjax.init_empty_state, lambda u, s, p=None: (u, s))
    assert optjax.chain(tx).init(None) == (optax.EmptyState(),)


@pytest.mark.parametrize("empty", [{}, [], ()])
@pytest.mark.parametrize("callable_mask", [False, True])
def test_masked_on_an_empty_container_returns_it(empty, callable_mask):
    mask = (lambda p: p) if callable_mask else empty
    tx = optjax.masked(optjax.adam(0.1), mask)
    state = tx.init(empty)
    updates, state = tx.update(empty, state, empty)
    assert updates == empty and type(updates) is type(empty)
    ref = optax.masked(optax.adam(0.1), mask)
    ref_state = ref.update(empty, ref.init(empty), empty)[1]
    assert str(jax.tree.structure(state)) == str(jax.tree.structure(ref_state))


def test_mask_with_missing_dict_keys_says_dict_key_mismatch():
    params = {"layer1": {"w": jnp.ones(2), "b": jnp.ones(1)}, "misc": jnp.ones(1)}
    with pytest.raises(ValueError, match=r"freeze|masked: Dict key mismatch.*\['layer1'\]"):
        optjax.freeze({"layer1": True}).init(params)


def test_chain_forwards_only_the_extra_arguments_an_update_names():
    seen = []

    def update(updates, state, params=None, *, value):
        seen.append(value)
        return updates, state

    named = optjax.GradientTransformation(lambda params: (), update)
    tx = optjax.chain(named, optjax.scale(2.0))
    out, _ = tx.update({"w": jnp.ones(2)}, tx.init({"w": jnp.ones(2)}), value=3.0, other=1)
    assert seen == [3.0]
    np.testing.assert_array_equal(out["w"], 2.0 * np.ones(2))


def test_optax_extra_args_transform_inside_optjax_chain_gets_the_loss():
    tx = optjax.chain(optax.polyak_sgd(max_learning_rate=1.0), optjax.scale(1.0))
    params = {"w": jnp.array([3.0])}
    grads = {"w": jnp.array([2.0])}
    ours, _ = tx.update(grads, tx.init(params), params, value=jnp.array(4.0))
    theirs, _ = optax.polyak_sgd(max_learning_rate=1.0).update(
        grads, optax.polyak_sgd(max_learning_rate=1.0).init(params), params, value=jnp.array(4.0)
    )
    np.testing.assert_allclose(ours["w"], theirs["w"])
