"""Unit tests for the helper transforms: clipping, noise, regularization,
accumulation, normalization and constraints (trajectories are in the registry)."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from harness import assert_trees_close

import optjax


def _tree(seed=0, scale=1.0):
    keys = jax.random.split(jax.random.key(seed), 4)
    return {
        "w": scale * jax.random.normal(keys[0], (3, 4)),
        "b": scale * jax.random.normal(keys[1], (4,)),
        "s": scale * jax.random.normal(keys[2], ()),
        "conv": scale * jax.random.normal(keys[3], (2, 2, 3, 2)),
        "none": None,
    }


def _update(tx, grads, params=None, state=None):
    state = tx.init(params if params is not None else grads) if state is None else state
    return tx.update(grads, state, params)


def _close(actual, expected, what="", rtol=1e-6, atol=1e-7):
    assert_trees_close(actual, expected, rtol=rtol, atol=atol, what=what)


# ----------------------------------------------------------------------------
# Build-time validation.

BAD_HYPERPARAMETERS = [
    ("clip", lambda: optjax.clip(-0.1), "max_delta"),
    ("clip_by_global_norm zero", lambda: optjax.clip_by_global_norm(0.0), "max_norm"),
    ("clip_by_global_norm negative", lambda: optjax.clip_by_global_norm(-1.0), "max_norm"),
    ("clip_by_block_rms", lambda: optjax.clip_by_block_rms(0.0), "threshold"),
    ("adaptive_grad_clip clipping", lambda: optjax.adaptive_grad_clip(-0.1), "clipping"),
    ("adaptive_grad_clip eps", lambda: optjax.adaptive_grad_clip(0.1, eps=-1e-3), "eps"),
    ("add_noise eta", lambda: optjax.add_noise(-0.1, 0.55, key=0), "eta"),
    ("normalize eps", lambda: optjax.normalize_by_update_norm(eps=-1.0), "eps"),
    ("apply_every 0", lambda: optjax.apply_every(0), "k"),
    ("apply_every negative", lambda: optjax.apply_every(-2), "k"),
    ("apply_every float", lambda: optjax.apply_every(2.0), "k"),
    ("apply_every bool", lambda: optjax.apply_every(True), "k"),
    ("apply_every float array", lambda: optjax.apply_every(jnp.array(2.0)), "k"),
    ("add_l2_penalty", lambda: optjax.add_l2_penalty(-0.01), "l2"),
    ("add_l1_penalty", lambda: optjax.add_l1_penalty(-0.01), "l1"),
]


@pytest.mark.parametrize(
    "build, match", [c[1:] for c in BAD_HYPERPARAMETERS], ids=[c[0] for c in BAD_HYPERPARAMETERS]
)
def test_bad_hyperparameters_raise_at_build_time(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize(
    "build",
    [
        lambda: optjax.clip(0.0),
        lambda: optjax.apply_every(1),
        lambda: optjax.apply_every(jnp.array(3)),
        lambda: optjax.clip_by_global_norm(jnp.array(1.0)),
        lambda: optjax.add_l2_penalty(0.0),
        lambda: optjax.add_noise(0.0, 0.55, key=0),
    ],
)
def test_boundary_and_array_hyperparameters_are_accepted(build):
    tx = build()
    params = _tree()
    updates, _ = _update(tx, params, params)
    assert jax.tree.structure(updates) == jax.tree.structure(params)


# ----------------------------------------------------------------------------
# Clipping.


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 1e3])
def test_clip_by_global_norm_matches_optax(max_norm):
    grads = _tree()
    ours, _ = _update(optjax.clip_by_global_norm(max_norm), grads)
    ref, _ = _update(optax.clip_by_global_norm(max_norm), grads)
    _close(ours, ref)
    expected_norm = min(max_norm, float(optax.tree.norm(grads)))
    np.testing.assert_allclose(optjax.tree.l2_norm(ours), expected_norm, rtol=1e-6)


def test_clip_by_global_norm_at_exact_norm_and_zero():
    # Norm exactly 25 = max_norm: both take the scaling branch. optjax multiplies
    # by the one factor 25 / 25 = 1 (so the gradient comes back unchanged);
    # Optax computes 15 / 25 * 25 per element, which rounds to 1 ulp below 15.
    grads = {"a": jnp.array([12.0, 15.0]), "b": jnp.array([16.0])}
    ours, _ = _update(optjax.clip_by_global_norm(25.0), grads)
    ref, _ = _update(optax.clip_by_global_norm(25.0), grads)
    _close(ours, grads, rtol=0, atol=0)
    _close(ours, ref, rtol=2e-7, atol=0)
    assert float(ref["a"][1]) != 15.0
    zeros = jax.tree.map(jnp.zeros_like, grads)
    ours, _ = _update(optjax.clip_by_global_norm(1.0), zeros)
    _close(ours, zeros)


def test_clip_by_global_norm_is_differentiable_at_zero():
    tx = optjax.clip_by_global_norm(1.0)
    state = tx.init({"a": jnp.zeros(3)})

    def total(g):
        return jnp.sum(tx.update({"a": g}, state)[0]["a"])

    grad = jax.grad(total)(jnp.zeros(3))
    np.testing.assert_array_equal(grad, np.ones(3))


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.clip(0.3),
        lambda lib: lib.clip_by_block_rms(0.5),
        lambda lib: lib.adaptive_grad_clip(0.05),
        lambda lib: lib.centralize(),
        lambda lib: lib.normalize_by_update_norm(scale_factor=-2.0),
        lambda lib: lib.zero_nans(),
        lambda lib: lib.keep_params_nonnegative(),
    ],
    ids=["clip", "block_rms", "agc", "centralize", "normalize", "zero_nans", "nonneg"],
)
def test_stateless_transforms_match_optax_with_scalar_and_none_leaves(make):
    params, grads = _tree(0), _tree(1, scale=2.0)
    ours, our_state = _update(make(optjax), grads, params)
    ref, ref_state = _update(make(optax), grads, params)
    _close(ours, ref)
    _close(our_state, ref_state)


def test_adaptive_grad_clip_handles_a_scalar_leaf_with_axis():
    params = {"s": jnp.array(2.0), "v": jnp.array([[1.0, 2.0], [3.0, 4.0]])}
    grads = {"s": jnp.array(-5.0), "v": jnp.array([[4.0, 0.1], [3.0, 0.1]])}
    ours, _ = _update(optjax.adaptive_grad_clip(0.1, axis=0), grads, params)
    # A scalar is one unit: clipped to 0.1 * |2| with its sign.
    np.testing.assert_allclose(ours["s"], -0.2, rtol=1e-6)
    with pytest.raises(ValueError):  # Optax cannot reduce axis 0 of a 0-d leaf.
        _update(optax.adaptive_grad_clip(0.1, axis=0), grads, params)
    # The non-scalar leaf matches Optax.
    ref, _ = _update(optax.adaptive_grad_clip(0.1, axis=0), {"v": grads["v"]}, {"v": params["v"]})
    _close(ours["v"], ref["v"])


def test_adaptive_grad_clip_ranks_five_and_six():
    params = {"k": jnp.ones((2, 2, 2, 2, 3))}
    grads = {"k": jnp.arange(48.0).reshape((2, 2, 2, 2, 3))}
    ours, _ = _update(optjax.adaptive_grad_clip(0.5), grads, params)
    ref, _ = _update(optax.adaptive_grad_clip(0.5), grads, params)
    _close(ours, ref)
    six = {"k": jnp.ones((1, 2, 1, 2, 1, 2))}
    with pytest.raises(ValueError, match="axis"):
        _update(optjax.adaptive_grad_clip(0.5), six, six)


def test_adaptive_grad_clip_needs_params():
    tx = optjax.adaptive_grad_clip(0.1)
    with pytest.raises(ValueError, match="params"):
        tx.update(_tree(), tx.init(_tree()))


def test_zero_nans_keeps_infinities_and_flags_each_leaf():
    grads = {
        "a": jnp.array([jnp.nan, 1.0, jnp.inf, -jnp.inf]),
        "b": jnp.array(jnp.inf),
        "c": (jnp.array([2.0]), None),
    }
    ours, state = _update(optjax.zero_nans(), grads)
    ref, ref_state = _update(optax.zero_nans(), grads)
    _close(ours, ref)
    np.testing.assert_array_equal(ours["a"], [0.0, 1.0, np.inf, -np.inf])
    assert jax.tree.leaves(state.found_nan) == [True, False, False]
    assert jax.tree.leaves(ref_state.found_nan) == [True, False, False]
    # The flag describes the last call only.
    clean = jax.tree.map(jnp.nan_to_num, grads)
    _, state = optjax.zero_nans().update(clean, state)
    assert not any(jax.tree.leaves(state.found_nan))


def _batched(seed, batch=5):
    keys = jax.random.split(jax.random.key(seed), 3)
    grads = {
        "w": jax.random.normal(keys[0], (batch, 3, 2)),
        "b": jax.random.normal(keys[1], (batch, 2)),
        "e": (jax.random.normal(keys[2], (batch,)), None),
    }
    # Example 0 is all zeros: its norm is 0 and it must not become NaN.
    return jax.tree.map(lambda g: g.at[0].set(0.0), grads)


@pytest.mark.parametrize("clip_norm", [0.0, 0.5, 2.0, jnp.inf])
def test_per_example_global_norm_clip_matches_optax(clip_norm):
    grads = _batched(0)
    ours = optjax.per_example_global_norm_clip(grads, clip_norm)
    ref = optax.per_example_global_norm_clip(grads, clip_norm)
    _close(ours, ref, rtol=1e-5, atol=1e-6)
    assert ours[1].dtype == ref[1].dtype


@pytest.mark.parametrize("uniform", [True, False])
@pytest.mark.parametrize("clip_norm", [0.3, 3.0])
def test_per_example_layer_norm_clip_matches_optax(uniform, clip_norm):
    grads = _batched(1)
    ours = optjax.per_example_layer_norm_clip(grads, clip_norm, uniform=uniform)
    ref = optax.per_example_layer_norm_clip(grads, clip_norm, uniform=uniform)
    _close(ours, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "grads",
    [
        {"a": jnp.ones((3, 2)), "b": jnp.ones((4, 2))},
        {"a": jnp.ones((3, 2)), "s": jnp.array(1.0)},
        {"s": jnp.array(1.0)},
    ],
    ids=["batch_mismatch", "scalar_leaf", "only_scalar"],
)
@pytest.mark.parametrize(
    "fn", [optjax.per_example_global_norm_clip, optjax.per_example_layer_norm_clip]
)
def test_per_example_clipping_requires_a_batch_axis(fn, grads):
    with pytest.raises(ValueError, match="batch axis"):
        fn(grads, 1.0)


def test_per_example_global_norm_clip_closed_form():
    grads = [jnp.array([[0.0, 0.0], [3.0, 4.0], [0.3, 0.4]])]
    summed, num_clipped = optjax.per_example_global_norm_clip(grads, 1.0)
    np.testing.assert_allclose(summed[0], [0.6 + 0.3, 0.8 + 0.4], rtol=1e-6)
    assert int(num_clipped) == 1


# ----------------------------------------------------------------------------
# Noise.


def _noise_updates(tx, steps=3):
    params = _tree()
    state = tx.init(params)
    history = []
    for _ in range(steps):
        updates, state = tx.update(params, state, params)
        history.append(updates)
    return history, state


@pytest.mark.parametrize(
    "our_key, their_key",
    [
        (jax.random.key(3), jax.random.key(3)),
        (3, 3),
        (jax.random.PRNGKey(3), jax.random.key(3)),
        (jax.random.PRNGKey(3), 3),
    ],
    ids=["typed", "int", "legacy_vs_typed", "legacy_vs_int"],
)
def test_add_noise_matches_optax_for_every_key_kind(our_key, their_key):
    ours, our_state = _noise_updates(optjax.add_noise(0.5, 0.55, our_key))
    ref, ref_state = _noise_updates(optax.add_noise(0.5, 0.55, their_key))
    _close(ours, ref)
    _close(our_state, ref_state)
    assert jax.dtypes.issubdtype(our_state.rng_key.dtype, jax.dtypes.prng_key)


def test_add_noise_changes_updates_and_decays():
    grads = {"w": jnp.zeros(20000)}
    tx = optjax.add_noise(0.25, 1.0, key=jax.random.key(0))
    state = tx.init(grads)
    first, state = tx.update(grads, state)
    second, state = tx.update(grads, state)
    # Standard deviations sqrt(eta / t**gamma): 0.5 at t=1, sqrt(0.125) at t=2.
    np.testing.assert_allclose(jnp.std(first["w"]), 0.5, rtol=3e-2)
    np.testing.assert_allclose(jnp.std(second["w"]), np.sqrt(0.125), rtol=3e-2)
    assert not np.allclose(first["w"][:100] / 0.5, second["w"][:100] / np.sqrt(0.125))


def test_add_noise_seed_is_deprecated_but_equivalent():
    with pytest.warns(DeprecationWarning, match="seed"):
        deprecated = optjax.add_noise(0.5, 0.55, seed=4)
    ours, _ = _noise_updates(deprecated)
    ref, _ = _noise_updates(optjax.add_noise(0.5, 0.55, key=4))
    _close(ours, ref)
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="not both"):
        optjax.add_noise(0.5, 0.55, key=1, seed=1)


def test_add_noise_without_key_warns_and_uses_seed_zero():
    with pytest.warns(UserWarning, match="key"):
        tx = optjax.add_noise(0.5, 0.55)
    ours, _ = _noise_updates(tx)
    ref, _ = _noise_updates(optax.add_noise(0.5, 0.55, key=0))
    _close(ours, ref)


def test_add_noise_rejects_a_float_array_key():
    with pytest.raises(TypeError, match="key"):
        optjax.add_noise(0.5, 0.55, key=jnp.zeros(2)).init(_tree())


def test_add_noise_vmaps_over_keys():
    keys = jax.random.split(jax.random.key(0), 3)
    grads = {"w": jnp.zeros(4)}

    def noisy(key):
        tx = optjax.add_noise(1.0, 0.55, key=key)
        return tx.update(grads, tx.init(grads))[0]["w"]

    batch = jax.vmap(noisy)(keys)
    for i in range(3):
        np.testing.assert_array_equal(batch[i], noisy(keys[i]))
    assert not np.allclose(batch[0], batch[1])


@pytest.mark.parametrize("key", [jax.random.key(2), 2, jax.random.PRNGKey(2)])
def test_noisy_sgd_matches_optax(key):
    ours, our_state = _noise_updates(optjax.noisy_sgd(0.1, eta=0.2, key=key))
    ref, ref_state = _noise_updates(optax.noisy_sgd(0.1, eta=0.2, key=2))
    _close(ours, ref)
    _close(our_state, ref_state)


def test_noisy_sgd_seed_warning_points_at_the_caller():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optjax.noisy_sgd(0.1, seed=0)
    assert [w.category for w in caught] == [DeprecationWarning]
    assert caught[0].filename == __file__


# ----------------------------------------------------------------------------
# Accumulation.


def test_apply_every_emits_sums_every_k_steps():
    k = 3
    tx = optjax.apply_every(k)
    params = {"w": jnp.zeros(2), "s": jnp.array(0.0)}
    state = tx.init(params)
    grads = [{"w": jnp.full(2, float(t + 1)), "s": jnp.array(-(t + 1.0))} for t in range(7)]
    emitted = []
    for g in grads:
        u, state = tx.update(g, state)
        emitted.append(u)
    for t, u in enumerate(emitted):
        if t % k == k - 1:
            expected = jax.tree.map(lambda *xs: sum(xs), *grads[t - k + 1 : t + 1])
        else:
            expected = jax.tree.map(jnp.zeros_like, grads[t])
        _close(u, expected, what=f"step {t}")
    assert int(state.count) == 7 % k


@pytest.mark.parametrize("k", [1, 2, jnp.array(3)])
def test_apply_every_matches_optax(k):
    ours, our_state = _noise_updates(optjax.apply_every(k), steps=5)
    ref, ref_state = _noise_updates(optax.apply_every(k), steps=5)
    _close(ours, ref)
    _close(our_state, ref_state)


# ----------------------------------------------------------------------------
# Constraints and normalization.


def test_keep_params_nonnegative_keeps_a_descent_nonnegative():
    params = {"w": jnp.array([0.1, 1.0, 3.0]), "s": jnp.array(0.05)}
    tx = optjax.chain(optjax.scale_by_learning_rate(1.0), optjax.keep_params_nonnegative())
    state = tx.init(params)
    for _ in range(3):
        grads = jax.tree.map(lambda p: jnp.ones_like(p) * 0.5, params)
        updates, state = tx.update(grads, state, params)
        params = optjax.apply_updates(params, updates)
        assert all(bool(jnp.all(p >= 0)) for p in jax.tree.leaves(params))
    np.testing.assert_array_equal(params["w"], [0.0, 0.0, 1.5])


def test_centralize_closed_form():
    grads = {
        "m": jnp.array([[1.0, 3.0], [2.0, 8.0]]),
        "v": jnp.array([1.0, 2.0]),
        "s": jnp.array(3.0),
    }
    updates, _ = _update(optjax.centralize(), grads)
    np.testing.assert_array_equal(updates["m"], [[-1.0, 1.0], [-3.0, 3.0]])
    np.testing.assert_array_equal(updates["v"], grads["v"])
    np.testing.assert_array_equal(updates["s"], grads["s"])


def test_normalize_by_update_norm_has_the_requested_norm():
    grads = _tree(scale=5.0)
    updates, _ = _update(optjax.normalize_by_update_norm(scale_factor=0.3, eps=0.0), grads)
    np.testing.assert_allclose(optjax.tree.l2_norm(updates), 0.3, rtol=1e-6)


# ----------------------------------------------------------------------------
# Keras-style penalties.


def _keras_penalty(params, mask, coefficient, kind):
    total = 0.0
    for p, m in zip(jax.tree.leaves(params), jax.tree.leaves(mask), strict=True):
        if m:
            total = total + coefficient * jnp.sum(p**2 if kind == "l2" else jnp.abs(p))
    return total


@pytest.mark.parametrize("kind", ["l2", "l1"])
@pytest.mark.parametrize("use_mask", [False, True])
def test_penalty_adds_the_gradient_of_the_keras_term(kind, use_mask):
    params, grads = _tree(0), _tree(1)
    coefficient = 0.07
    mask = jax.tree.map(lambda p: p.ndim > 1, params) if use_mask else None
    full_mask = mask if use_mask else jax.tree.map(lambda p: True, params)
    make = optjax.add_l2_penalty if kind == "l2" else optjax.add_l1_penalty
    updates, _ = _update(make(coefficient, mask=mask), grads, params)
    penalty_grad = jax.grad(_keras_penalty)(params, full_mask, coefficient, kind)
    _close(updates, optjax.tree.add(grads, penalty_grad), rtol=1e-6, atol=1e-6)
    if use_mask:  # Masked-out leaves are untouched.
        np.testing.assert_array_equal(updates["b"], grads["b"])


def test_l2_penalty_equals_decayed_weights_of_twice_the_coefficient():
    params, grads = _tree(0), _tree(1)
    ours, _ = _update(optjax.add_l2_penalty(0.03), grads, params)
    ref, _ = _update(optax.add_decayed_weights(2 * 0.03), grads, params)
    _close(ours, ref, rtol=0, atol=0)


def test_l1_penalty_adds_zero_at_zero_parameters():
    # Documented: the least-norm subgradient at 0, where jax.grad(jnp.abs) says 1.
    params = {"w": jnp.array([0.0, 2.0, -2.0])}
    grads = {"w": jnp.array([1.0, 1.0, 1.0])}
    updates, _ = _update(optjax.add_l1_penalty(0.5), grads, params)
    np.testing.assert_array_equal(updates["w"], [1.0, 1.5, 0.5])
    assert float(jax.grad(jnp.abs)(0.0)) == 1.0


@pytest.mark.parametrize("make", [optjax.add_l2_penalty, optjax.add_l1_penalty])
def test_penalties_need_params(make):
    tx = make(0.1)
    with pytest.raises(ValueError, match="params"):
        tx.update(_tree(), tx.init(_tree()))
