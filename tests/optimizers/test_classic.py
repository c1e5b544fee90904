"""Unit tests for the classic optimizers beyond the parity registry: build-time
validation, 0-d leaves, intentional differences from Optax and their reasons."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from harness import assert_trees_close

import optjax

# ----------------------------------------------------------------------------
# Build-time validation.

BAD_HYPERPARAMETERS = [
    ("sgd", lambda: optjax.sgd(0.1, momentum=1.0), "momentum"),
    ("sgd", lambda: optjax.sgd(0.1, momentum=-0.1), "momentum"),
    ("signum", lambda: optjax.signum(0.1, beta=1.0), "beta"),
    ("rmsprop", lambda: optjax.rmsprop(0.1, decay=1.0), "decay"),
    ("rmsprop", lambda: optjax.rmsprop(0.1, eps=-1e-8), "eps"),
    ("rmsprop", lambda: optjax.rmsprop(0.1, initial_scale=-1.0), "initial_scale"),
    ("rmsprop", lambda: optjax.rmsprop(0.1, momentum=1.5), "momentum"),
    ("rmsprop", lambda: optjax.rmsprop(0.1, centered=True, decay=-0.5), "decay"),
    ("scale_by_rms", lambda: optjax.scale_by_rms(eps=-1.0), "eps"),
    ("adagrad", lambda: optjax.adagrad(0.1, initial_accumulator_value=-0.1), "initial_acc"),
    ("adagrad", lambda: optjax.adagrad(0.1, eps=-1e-7), "eps"),
    ("adadelta", lambda: optjax.adadelta(1.0, rho=1.0), "rho"),
    ("adadelta", lambda: optjax.adadelta(1.0, eps=-1e-6), "eps"),
    ("adadelta", lambda: optjax.adadelta(1.0, weight_decay=-0.1), "weight_decay"),
    ("adafactor", lambda: optjax.adafactor(momentum=1.0), "momentum"),
    ("adafactor", lambda: optjax.adafactor(clipping_threshold=0.0), "clipping_threshold"),
    ("adafactor", lambda: optjax.adafactor(eps=-1e-30), "epsilon"),
    ("adafactor", lambda: optjax.adafactor(min_dim_size_to_factor=-1), "min_dim_size"),
    ("adafactor", lambda: optjax.adafactor(decay_rate=-0.8), "decay_rate"),
    ("sm3", lambda: optjax.sm3(0.1, momentum=1.0), "momentum"),
    ("scale_by_sm3", lambda: optjax.scale_by_sm3(b2=1.5), "b2"),
    ("scale_by_sm3", lambda: optjax.scale_by_sm3(eps=-1.0), "eps"),
    ("rprop", lambda: optjax.rprop(0.0), "learning_rate"),
    ("rprop", lambda: optjax.rprop(0.1, eta_minus=0.0), "eta_minus"),
    ("rprop", lambda: optjax.rprop(0.1, eta_minus=1.0), "eta_minus"),
    ("rprop", lambda: optjax.rprop(0.1, eta_plus=1.0), "eta_plus"),
    ("rprop", lambda: optjax.rprop(0.1, eta_plus=0.5), "eta_plus"),
    ("rprop", lambda: optjax.rprop(0.1, min_step_size=-1e-6), "min_step_size"),
    ("rprop", lambda: optjax.rprop(0.1, min_step_size=1.0, max_step_size=0.5), "max_step_size"),
    ("lion", lambda: optjax.lion(0.1, b1=1.5), "b1"),
    ("lion", lambda: optjax.lion(0.1, b2=1.0), "b2"),
    ("lion", lambda: optjax.lion(0.1, weight_decay=-1e-3), "weight_decay"),
    ("scale_by_lion", lambda: optjax.scale_by_lion(mode="soft"), "mode"),
    ("scale_by_lion", lambda: optjax.scale_by_lion(mode="smooth", smooth_beta=0.0), "smooth_beta"),
    ("polyak_sgd", lambda: optjax.polyak_sgd(variant="sps-"), "variant"),
    ("polyak_sgd", lambda: optjax.polyak_sgd(eps=-1.0), "eps"),
    ("polyak_sgd", lambda: optjax.polyak_sgd(max_learning_rate=-1.0), "max_learning_rate"),
    ("dog", lambda: optjax.scale_by_distance_over_gradients(reps_rel=0.0), "reps_rel"),
    ("dog", lambda: optjax.scale_by_distance_over_gradients(eps=-1.0), "eps"),
]


@pytest.mark.parametrize(
    "build, name",
    [
        pytest.param(build, name, id=f"{where}-{name}-{i}")
        for i, (where, build, name) in enumerate(BAD_HYPERPARAMETERS)
    ],
)
def test_bad_hyperparameters_raise_at_build_time(build, name):
    with pytest.raises(ValueError, match=name):
        build()


GOOD_BOUNDARIES = [
    lambda: optjax.sgd(0.1, momentum=0.0),
    lambda: optjax.lion(0.1, b1=0.0),
    lambda: optjax.lion(0.1, b1=1.0),
    lambda: optjax.scale_by_sm3(b1=0.0, b2=1.0, eps=0.0),
    lambda: optjax.scale_by_sm3(b2=0.0),
    lambda: optjax.rprop(0.1, min_step_size=0.0, max_step_size=0.0),
    lambda: optjax.adagrad(0.1, initial_accumulator_value=0.0, eps=0.0),
    lambda: optjax.adafactor(clipping_threshold=None, min_dim_size_to_factor=0),
    lambda: optjax.scale_by_factored_rms(step_offset=-3),
    # Arrays and schedules are not range-checked (inject_hyperparams, vmap sweeps).
    lambda: optjax.rmsprop(0.1, decay=jnp.array(1.5)),
    lambda: optjax.lion(optax.constant_schedule(0.1), weight_decay=lambda count: 1e-3),
]


@pytest.mark.parametrize(
    "build", GOOD_BOUNDARIES, ids=[str(i) for i in range(len(GOOD_BOUNDARIES))]
)
def test_boundary_hyperparameters_are_accepted(build):
    tx = build()
    params = {"w": jnp.ones((2, 3))}
    updates, _ = tx.update({"w": jnp.ones((2, 3))}, tx.init(params), params)
    assert updates["w"].shape == (2, 3)


# ----------------------------------------------------------------------------
# 0-d leaves.


def _run(tx, grads_seq, params, **kwargs):
    state = tx.init(params)
    out = []
    for grads in grads_seq:
        updates, state = tx.update(grads, state, params, **kwargs)
        out.append(updates)
    return out, state


SCALAR_GRADS = [jnp.float32(g) for g in (0.5, -2.0, 1.5, 0.0, 3.0)]


def test_optax_sm3_fails_on_a_scalar_leaf():
    # The reason optjax's scalar handling cannot be compared to Optax directly.
    tx = optax.scale_by_sm3()
    with pytest.raises(IndexError):
        tx.update(jnp.float32(1.0), tx.init(jnp.float32(0.0)))


def test_sm3_scalar_leaf_is_adagrad_with_zero_start():
    # A scalar's only cover is itself: accumulate g^2 and divide by its root,
    # i.e. Optax's scale_by_rss with initial_accumulator_value=0.
    eps = 1e-8
    ours, state = _run(optjax.scale_by_sm3(b1=0.0, eps=eps), SCALAR_GRADS, jnp.float32(0.0))
    ref, _ = _run(optax.scale_by_rss(0.0, eps=eps), SCALAR_GRADS, jnp.float32(0.0))
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    expected_sum = sum(float(g) ** 2 for g in SCALAR_GRADS)
    assert state.mu[0].shape == () and float(state.mu[0]) == pytest.approx(expected_sum)


def test_sm3_scalar_leaf_equals_a_length_one_vector_in_optax():
    tx = optjax.scale_by_sm3(b1=0.7)
    ours, state = _run(tx, SCALAR_GRADS, jnp.float32(0.0))
    vector_grads = [g.reshape(1) for g in SCALAR_GRADS]
    ref, ref_state = _run(optax.scale_by_sm3(b1=0.7), vector_grads, jnp.zeros(1))
    for u, r in zip(ours, ref, strict=True):
        assert u.shape == ()
        np.testing.assert_allclose(u, r[0], rtol=1e-6)
    np.testing.assert_allclose(state.nu, ref_state.nu[0], rtol=1e-6)


def test_sm3_alias_on_a_tree_with_scalar_leaves_matches_optax_elsewhere():
    params = {"s": jnp.float32(1.0), "m": jnp.ones((3, 4))}
    grads = [
        {"s": g, "m": jnp.full((3, 4), g) + jnp.arange(12.0).reshape(3, 4) / 12}
        for g in SCALAR_GRADS
    ]
    ours, _ = _run(optjax.sm3(0.1), grads, params)
    ref, _ = _run(optax.sm3(0.1), [{"m": g["m"]} for g in grads], {"m": params["m"]})
    for u, r in zip(ours, ref, strict=True):
        np.testing.assert_allclose(u["m"], r["m"], rtol=1e-6)
        assert u["s"].shape == () and np.isfinite(u["s"])


def test_adafactor_on_scalar_and_factored_leaves_matches_optax():
    params = {"s": jnp.float32(0.5), "v": jnp.linspace(-1, 1, 3), "m": jnp.ones((3, 4))}
    key = jax.random.key(1)
    grads = [
        jax.tree.map(lambda p, k=k: jax.random.normal(k, p.shape), params)
        for k in jax.random.split(key, 4)
    ]
    kwargs = dict(learning_rate=0.1, min_dim_size_to_factor=2, momentum=0.5)
    ours, state = _run(optjax.adafactor(**kwargs), grads, params)
    ref, ref_state = _run(optax.adafactor(**kwargs), grads, params)
    for u, r in zip(ours, ref, strict=True):
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), u, r)
    factored = state[0]
    assert factored.v["s"].shape == () and factored.v_row["s"].shape == (1,)
    assert factored.v_row["m"].shape == (3,) and factored.v_col["m"].shape == (4,)
    assert_trees_close(state, ref_state, rtol=1e-6, atol=0, what="adafactor state")


# ----------------------------------------------------------------------------
# Hyperparameters as arrays and tracers.


def test_sm3_b2_as_array_and_under_vmap_matches_python_number():
    params = {"m": jnp.ones((3, 4)), "s": jnp.float32(1.0)}
    grads = [jax.tree.map(lambda p, g=g: p * g, params) for g in SCALAR_GRADS]
    for b2 in (0.9, 1.0):
        expected, _ = _run(optjax.scale_by_sm3(b2=b2), grads, params)
        as_array, _ = _run(optjax.scale_by_sm3(b2=jnp.float32(b2)), grads, params)
        # A Python b2 is folded into the program as a constant, an array b2 is not:
        # XLA may then round one step differently (seen: 1.3e-6 relative on float32).
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5), as_array, expected)

    def first_update(b2):
        tx = optjax.scale_by_sm3(b2=b2)
        return tx.update(grads[0], tx.init(params))[0]

    swept = jax.vmap(first_update)(jnp.array([0.9, 1.0]))
    for i, b2 in enumerate((0.9, 1.0)):
        expected = first_update(b2)
        jax.tree.map(
            lambda a, b, i=i: np.testing.assert_allclose(a[i], b, rtol=1e-6), swept, expected
        )


def test_lion_mu_dtype_is_canonicalized():
    # float64 without x64 would warn (an error in this suite) if not canonicalized.
    tx = optjax.lion(0.1, mu_dtype=jnp.float64)
    state = tx.init({"w": jnp.ones(2)})
    assert state[0].mu["w"].dtype == jnp.dtype(jax.dtypes.canonicalize_dtype(jnp.float64))


# ----------------------------------------------------------------------------
# Optax's conventions, pinned.


def test_rprop_emits_the_current_step_unlike_optax():
    # torch.optim.Rprop (and the paper) step by 0.1, 0.12, 0.144, then skip
    # the step after the sign flip, then 0.072. Optax 0.2.8 lags one call
    # behind (upstream PR google-deepmind/optax#1725): 0, 0.1, 0.12, 0, 0.
    grads = [jnp.array([g]) for g in (1.0, 1.0, 1.0, -1.0, 1.0)]
    params = jnp.zeros(1)
    tx_kwargs = dict(learning_rate=0.1, eta_minus=0.5, eta_plus=1.2)
    ours, _ = _run(optjax.scale_by_rprop(**tx_kwargs), grads, params)
    ref, _ = _run(optax.scale_by_rprop(**tx_kwargs), grads, params)
    np.testing.assert_allclose(np.concatenate(ours), [0.1, 0.12, 0.144, 0.0, 0.072], rtol=1e-6)
    np.testing.assert_allclose(np.concatenate(ref), [0.0, 0.1, 0.12, 0.0, 0.0], rtol=1e-6)


def test_adadelta_without_learning_rate_descends_unlike_optax():
    params = {"w": jnp.ones(3)}
    grads = [{"w": jnp.array([1.0, -2.0, 0.5])}] * 3
    ours, _ = _run(optjax.adadelta(), grads, params)
    unit, _ = _run(optjax.adadelta(1.0), grads, params)
    optax_default, _ = _run(optax.adadelta(), grads, params)
    # Ours descends (updates oppose the gradient) and equals learning_rate=1;
    # Optax 0.2.8's default returns +d_t, which ascends.
    assert np.all(np.sign(ours[0]["w"]) == -np.sign(grads[0]["w"]))
    for u, v, r in zip(ours, unit, optax_default, strict=True):
        np.testing.assert_array_equal(u["w"], v["w"])
        np.testing.assert_allclose(u["w"], -r["w"], rtol=1e-6)


def test_rmsprop_eps_outside_sqrt_is_torch_first_step():
    lr, decay, eps = 0.01, 0.99, 1e-3
    g = jnp.array([0.5, -2.0])
    tx = optjax.rmsprop(lr, decay=decay, eps=eps, eps_in_sqrt=False)
    u, _ = tx.update(g, tx.init(jnp.zeros(2)))
    expected = -lr * g / (np.sqrt((1 - decay) * np.square(g)) + eps)
    np.testing.assert_allclose(u, expected, rtol=1e-5)


def test_adagrad_starts_from_initial_accumulator_value():
    g = jnp.array([0.5, -2.0])
    tx = optjax.adagrad(1.0)
    u, _ = tx.update(g, tx.init(jnp.zeros(2)))
    np.testing.assert_allclose(u, -g / np.sqrt(0.1 + np.square(g) + 1e-7), rtol=1e-6)


def test_polyak_without_value_raises():
    tx = optjax.polyak_sgd()
    params = {"w": jnp.ones(2)}
    with pytest.raises(ValueError, match="value"):
        tx.update(params, tx.init(params), params)


@pytest.mark.parametrize(
    "tx",
    [
        optjax.scale_by_factored_rms(),
        optjax.scale_by_distance_over_gradients(),
        optjax.adafactor(),
    ],
    ids=["factored_rms", "dog", "adafactor"],
)
def test_transforms_that_need_params_say_so(tx):
    params = {"w": jnp.ones((2, 2))}
    with pytest.raises(ValueError, match="params"):
        tx.update(params, tx.init(params))


def test_sm3_rejects_complex_params():
    with pytest.raises(ValueError, match="complex"):
        optjax.scale_by_sm3().init({"w": jnp.ones(2, jnp.complex64)})


def test_sm3_accepts_a_learning_rate_schedule():
    params = {"w": jnp.ones((2, 3))}
    grads = [{"w": jnp.full((2, 3), g)} for g in (1.0, -0.5, 2.0)]
    constant, _ = _run(optjax.sm3(0.1), grads, params)
    scheduled, _ = _run(optjax.sm3(optjax.constant_schedule(0.1)), grads, params)
    for a, b in zip(constant, scheduled, strict=True):
        np.testing.assert_allclose(a["w"], b["w"], rtol=1e-6)


# ----------------------------------------------------------------------------
# DoG: dtype-stable state and 0-d leaves.


def test_dog_state_dtype_is_stable_for_bfloat16_params():
    params = {"w": jnp.ones((2, 3), jnp.bfloat16)}
    grads = {"w": jnp.full((2, 3), 0.5, jnp.bfloat16)}
    tx = optjax.scale_by_distance_over_gradients()
    state = tx.init(params)
    _, new_state = tx.update(grads, state, params)
    assert state.max_dist["w"].dtype == new_state.max_dist["w"].dtype == jnp.float32
    # Optax promotes max_dist at the first update (why lax.scan rejects it);
    # the values agree.
    ref = optax.scale_by_distance_over_gradients()
    ref_state = ref.init(params)
    with jax.numpy_rank_promotion("allow"):
        _, ref_new = ref.update(grads, ref_state, params)
    assert ref_state.max_dist["w"].dtype == jnp.bfloat16
    assert ref_new.max_dist["w"].dtype == jnp.float32
    np.testing.assert_allclose(new_state.max_dist["w"], ref_new.max_dist["w"], rtol=0)


def test_dog_keeps_the_shape_of_scalar_leaves():
    params = {"s": jnp.float32(2.0), "m": jnp.ones((2, 2))}
    grads = {"s": jnp.float32(0.5), "m": jnp.full((2, 2), 0.25)}
    tx = optjax.scale_by_distance_over_gradients(reps_rel=0.1)
    updates, _ = tx.update(grads, tx.init(params), params)
    ref = optax.scale_by_distance_over_gradients(reps_rel=0.1)
    with jax.numpy_rank_promotion("allow"):
        ref_updates, _ = ref.update(grads, ref.init(params), params)
    assert updates["s"].shape == () and ref_updates["s"].shape == (1,)
    np.testing.assert_allclose(updates["s"], ref_updates["s"][0], rtol=1e-6)
    np.testing.assert_allclose(updates["m"], ref_updates["m"], rtol=1e-6)
    # Closed form: reps_rel * (1 + |2|) / sqrt(0.5^2 + eps) * 0.5.
    np.testing.assert_allclose(updates["s"], 0.1 * 3.0 / np.sqrt(0.25 + 1e-8) * 0.5, rtol=1e-6)


def test_rprop_rejects_a_schedule():
    # Rprop's learning_rate is the initial per-element step size.
    with pytest.raises(TypeError, match="initial step size"):
        optjax.rprop(optjax.constant_schedule(0.1))
