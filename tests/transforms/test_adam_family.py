"""Unit tests for the Adam family and the layer-wise optimizers.

Trajectory parity with Optax lives in the registry (``registry/adam_family.py``);
these tests cover what the registry cannot: build-time validation, signatures,
scalar-only trees and the optjax-only ``nu_dtype`` option.
"""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optjax

ADAM_TRANSFORMS = [
    "scale_by_adam",
    "scale_by_amsgrad",
    "scale_by_adamax",
    "scale_by_radam",
    "scale_by_belief",
    "scale_by_yogi",
    "scale_by_adan",
    "scale_by_novograd",
    "scale_by_optimistic_gradient",
    "scale_by_trust_ratio",
    "scale_by_param_block_norm",
    "scale_by_param_block_rms",
]
ALIASES = [
    "adam",
    "adamw",
    "adamax",
    "adamaxw",
    "amsgrad",
    "nadam",
    "nadamw",
    "radam",
    "adabelief",
    "yogi",
    "adan",
    "novograd",
    "lamb",
    "lars",
    "fromage",
    "optimistic_gradient_descent",
    "optimistic_adam_v2",
]
# Public names that take the optjax-only keyword ``nu_dtype``.
WITH_NU_DTYPE = {
    "scale_by_adam",
    "scale_by_amsgrad",
    "scale_by_novograd",
    "adam",
    "adamw",
    "amsgrad",
    "nadam",
    "nadamw",
    "optimistic_adam_v2",
}


def _trajectory(tx, params, steps, apply_updates):
    """``steps`` updates on ``sum((x - 1)^2 + 0.1 cos(3x))``; returns params, state, updates."""

    def loss(p):
        return sum(jnp.sum((x - 1.0) ** 2 + 0.1 * jnp.cos(3.0 * x)) for x in jax.tree.leaves(p))

    # Jitted, because Optax jits its bias correction even when called eagerly and
    # an eager `decay**count` rounds differently from the fused one.
    update = jax.jit(tx.update)
    state = tx.init(params)
    history = []
    for _ in range(steps):
        grads = jax.grad(loss)(params)
        updates, state = update(grads, state, params)
        params = apply_updates(params, updates)
        history.append(updates)
    return params, state, history


# ----------------------------------------------------------------------------
# Signatures: Optax's parameters, plus only the keyword-only ``nu_dtype``.


@pytest.mark.parametrize("name", ADAM_TRANSFORMS + ALIASES)
def test_signature_matches_optax(name):
    ours = inspect.signature(getattr(optjax, name)).parameters
    theirs = inspect.signature(getattr(optax, name)).parameters
    extra = [n for n in ours if n not in theirs]
    assert extra == (["nu_dtype"] if name in WITH_NU_DTYPE else [])
    if extra:
        assert ours["nu_dtype"].kind is inspect.Parameter.KEYWORD_ONLY
        assert ours["nu_dtype"].default is None
    common = [n for n in ours if n in theirs]
    assert common == list(theirs), f"{name}: parameter order differs"
    for n in common:
        assert ours[n].kind == theirs[n].kind, f"{name}({n}): kind differs"
        assert ours[n].default == theirs[n].default, f"{name}({n}): default differs"


# ----------------------------------------------------------------------------
# Build-time validation.

BAD_HYPERPARAMETERS = [
    ("scale_by_adam", {"b1": 1.0}, "b1"),
    ("scale_by_adam", {"b1": -0.1}, "b1"),
    ("scale_by_adam", {"b2": 1.5}, "b2"),
    ("scale_by_adam", {"eps": -1e-8}, "eps"),
    ("scale_by_adam", {"eps_root": -1.0}, "eps_root"),
    ("scale_by_amsgrad", {"b2": 1.0}, "b2"),
    ("scale_by_adamax", {"b1": 2.0}, "b1"),
    ("scale_by_radam", {"b2": -0.5}, "b2"),
    ("scale_by_belief", {"eps_root": -1e-16}, "eps_root"),
    ("scale_by_yogi", {"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
    ("scale_by_adan", {"b3": 1.0}, "b3"),
    ("scale_by_novograd", {"weight_decay": -0.1}, "weight_decay"),
    ("scale_by_trust_ratio", {"min_norm": -1.0}, "min_norm"),
    ("scale_by_trust_ratio", {"trust_coefficient": -1.0}, "trust_coefficient"),
    ("scale_by_param_block_norm", {"min_scale": -1.0}, "min_scale"),
    ("scale_by_param_block_rms", {"min_scale": -1.0}, "min_scale"),
    ("adam", {"learning_rate": 1e-3, "b1": 1.0}, "b1"),
    ("adam", {"learning_rate": 1e-3, "eps": -1.0}, "eps"),
    ("adamw", {"learning_rate": 1e-3, "weight_decay": -1e-4}, "weight_decay"),
    ("nadam", {"learning_rate": 1e-3, "b2": 1.0}, "b2"),
    ("nadamw", {"learning_rate": 1e-3, "b1": -0.9}, "b1"),
    ("amsgrad", {"learning_rate": 1e-3, "eps_root": -1.0}, "eps_root"),
    ("adamax", {"learning_rate": 1e-3, "b2": 1.0}, "b2"),
    ("adamaxw", {"learning_rate": 1e-3, "eps": -1.0}, "eps"),
    ("radam", {"learning_rate": 1e-3, "b1": 1.0}, "b1"),
    ("adabelief", {"learning_rate": 1e-3, "eps": -1.0}, "eps"),
    ("yogi", {"learning_rate": 1e-3, "b1": 1.1}, "b1"),
    ("adan", {"learning_rate": 1e-3, "b2": 1.0}, "b2"),
    ("novograd", {"learning_rate": 1e-3, "b2": -0.25}, "b2"),
    ("lamb", {"learning_rate": 1e-3, "b1": 1.0}, "b1"),
    ("lars", {"learning_rate": 1e-3, "momentum": 1.0}, "momentum"),
    ("lars", {"learning_rate": 1e-3, "trust_coefficient": -1.0}, "trust_coefficient"),
    ("fromage", {"learning_rate": 1e-3, "min_norm": -1.0}, "min_norm"),
    ("optimistic_adam_v2", {"learning_rate": 1e-3, "b2": 1.0}, "b2"),
]


@pytest.mark.parametrize(
    "name, kwargs, mentioned",
    BAD_HYPERPARAMETERS,
    ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw, _ in BAD_HYPERPARAMETERS],
)
def test_bad_hyperparameters_raise_at_build_time(name, kwargs, mentioned):
    with pytest.raises(ValueError, match=mentioned):
        getattr(optjax, name)(**kwargs)


@pytest.mark.parametrize(
    "build",
    [
        lambda lib: lib.adam(1e-2, b1=0.0),
        lambda lib: lib.scale_by_adam(b1=0.0, eps=0.0, eps_root=0.0),
        lambda lib: lib.adan(1e-2, b1=0.0, b2=0.0, b3=0.0),
        lambda lib: lib.lars(1e-2, momentum=0.0),
    ],
    ids=["adam-b1=0", "scale_by_adam-zero_eps", "adan-zero_betas", "lars-momentum=0"],
)
def test_boundary_values_are_accepted_and_match_optax(build):
    params = {"w": jnp.array([0.5, -1.5]), "b": jnp.array(0.25)}
    ours = _trajectory(build(optjax), params, 5, optjax.apply_updates)[0]
    theirs = _trajectory(build(optax), params, 5, optax.apply_updates)[0]
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), ours, theirs)


def test_array_hyperparameters_are_not_range_checked_at_build_time():
    # inject_hyperparams and vmap sweeps pass arrays; those must not be checked eagerly.
    tx = optjax.adam(1e-2, b1=jnp.asarray(0.9), eps=jnp.asarray(1e-8))
    params = {"w": jnp.ones(3)}
    updates, _ = tx.update({"w": jnp.ones(3)}, tx.init(params), params)
    np.testing.assert_allclose(updates["w"], -1e-2 * np.ones(3), rtol=1e-5)


def test_fromage_accepts_its_negative_weight_decay():
    # Fromage's shrink factor is a negative decay; the alias must build and match Optax.
    params = {"w": jnp.array([3.0, -4.0])}
    ours = _trajectory(optjax.fromage(0.5), params, 3, optjax.apply_updates)[0]
    theirs = _trajectory(optax.fromage(0.5), params, 3, optax.apply_updates)[0]
    np.testing.assert_allclose(ours["w"], theirs["w"], rtol=1e-6)


# ----------------------------------------------------------------------------
# Scalar leaves.


def _alias(lib, name):
    if name == "lars":
        return lib.lars(0.1, trust_coefficient=0.1)
    return getattr(lib, name)(1e-2)


@pytest.mark.parametrize("name", ALIASES)
@pytest.mark.parametrize("tree", ["bare_scalar", "dict_of_scalars"])
def test_scalar_leaf_trees_match_optax(name, tree):
    if tree == "bare_scalar":
        params = jnp.asarray(0.3)
    else:
        params = {"a": jnp.asarray(0.3), "b": jnp.asarray(-2.0)}
    ours, ours_state, ours_updates = _trajectory(
        _alias(optjax, name), params, 5, optjax.apply_updates
    )
    theirs, _, theirs_updates = _trajectory(_alias(optax, name), params, 5, optax.apply_updates)
    for a, b in zip(jax.tree.leaves(ours_updates), jax.tree.leaves(theirs_updates), strict=True):
        assert a.shape == () and a.dtype == jnp.float32
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), ours, theirs)
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(ours_state))


# ----------------------------------------------------------------------------
# nu_dtype (no Optax counterpart).

# Strongly typed leaves: a weakly typed float32 gradient would defer to a
# bfloat16 state and compute the moment in bfloat16.
_PARAMS = {
    "w": jnp.array([[0.5, -1.0, 2.0], [0.1, 0.0, -0.7]], dtype=jnp.float32),
    "b": jnp.array(0.25, dtype=jnp.float32),
    "n": None,
}


@pytest.mark.parametrize(
    "build",
    [
        lambda lib, **kw: lib.adam(1e-2, **kw),
        lambda lib, **kw: lib.nadam(1e-2, **kw),
        lambda lib, **kw: lib.adamw(1e-2, weight_decay=0.1, **kw),
        lambda lib, **kw: lib.nadamw(1e-2, **kw),
        lambda lib, **kw: lib.amsgrad(1e-2, **kw),
        lambda lib, **kw: lib.optimistic_adam_v2(1e-2, **kw),
        lambda lib, **kw: lib.chain(lib.scale_by_novograd(**kw), lib.scale(-1e-2)),
    ],
    ids=["adam", "nadam", "adamw", "nadamw", "amsgrad", "optimistic_adam_v2", "novograd"],
)
def test_nu_dtype_float32_equals_optax_exactly(build):
    ours = _trajectory(build(optjax, nu_dtype=jnp.float32), _PARAMS, 20, optjax.apply_updates)
    theirs = _trajectory(build(optax), _PARAMS, 20, optax.apply_updates)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "build, second_moments",
    [
        (lambda lib, **kw: lib.scale_by_adam(**kw), ("nu",)),
        (lambda lib, **kw: lib.scale_by_amsgrad(**kw), ("nu", "nu_max")),
    ],
    ids=["scale_by_adam", "scale_by_amsgrad"],
)
def test_nu_dtype_bfloat16_stores_rounded_second_moment(build, second_moments):
    tx = build(optjax, nu_dtype=jnp.bfloat16)
    reference = build(optax)
    state = tx.init(_PARAMS)
    for field in second_moments:
        assert {x.dtype for x in jax.tree.leaves(getattr(state, field))} == {jnp.dtype("bfloat16")}
    assert {x.dtype for x in jax.tree.leaves(state.mu)} == {jnp.dtype("float32")}

    grads = jax.tree.map(lambda p: 0.3 * p - 0.1, _PARAMS)
    updates, state = jax.jit(tx.update)(grads, state, _PARAMS)
    ref_updates, ref_state = jax.jit(reference.update)(grads, reference.init(_PARAMS), _PARAMS)
    # From a zero state the first step computes nu in float32 exactly as Optax
    # does and only rounds it for storage, so the updates are identical.
    jax.tree.map(np.testing.assert_array_equal, updates, ref_updates)
    jax.tree.map(np.testing.assert_array_equal, state.mu, ref_state.mu)
    for field in second_moments:
        stored, ref = getattr(state, field), getattr(ref_state, field)
        for a, b in zip(jax.tree.leaves(stored), jax.tree.leaves(ref), strict=True):
            assert a.dtype == jnp.bfloat16
            np.testing.assert_array_equal(a, b.astype(jnp.bfloat16))


def test_nu_dtype_bfloat16_equals_optax_run_from_a_bfloat16_nu_state():
    # Optax casts its new nu like the stored one, so an Optax state whose nu was
    # initialized in bfloat16 follows exactly the rule nu_dtype implements.
    def loss(p):
        return jnp.sum((p["w"] - 1.0) ** 2 + 0.1 * jnp.cos(3 * p["w"])) + (p["b"] + 2.0) ** 2

    def run(tx, state, apply_updates):
        def step(carry, _):
            params, state = carry
            updates, state = tx.update(jax.grad(loss)(params), state, params)
            return (apply_updates(params, updates), state), None

        return jax.lax.scan(step, (_PARAMS, state), None, length=100)[0]

    tx = optjax.adam(5e-2, nu_dtype=jnp.bfloat16)
    params, state = run(tx, tx.init(_PARAMS), optjax.apply_updates)
    reference = optax.adam(5e-2)
    adam_state, lr_state = reference.init(_PARAMS)
    bf16_state = (adam_state._replace(nu=optax.tree.cast(adam_state.nu, jnp.bfloat16)), lr_state)
    ref_params, ref_state = run(reference, bf16_state, optax.apply_updates)
    f32_params, _ = run(reference, reference.init(_PARAMS), optax.apply_updates)

    assert {x.dtype for x in jax.tree.leaves(state[0].nu)} == {jnp.dtype("bfloat16")}
    assert {x.dtype for x in jax.tree.leaves(params)} == {jnp.dtype("float32")}
    for ours, theirs in ((params, ref_params), (state, ref_state)):
        for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    # ...and the storage dtype matters: the float32 run differs.
    assert not np.array_equal(params["w"], f32_params["w"])


def test_novograd_nu_dtype_keeps_per_leaf_norms_in_that_dtype():
    tx = optjax.scale_by_novograd(nu_dtype=jnp.bfloat16)
    params, state, _ = _trajectory(
        optjax.chain(tx, optjax.scale(-1e-2)), _PARAMS, 4, optjax.apply_updates
    )
    nu = state[0].nu
    assert [x.shape for x in jax.tree.leaves(nu)] == [(), ()]
    assert {x.dtype for x in jax.tree.leaves(nu)} == {jnp.dtype("bfloat16")}
    assert {x.dtype for x in jax.tree.leaves(state[0].mu)} == {jnp.dtype("float32")}


def test_dtypes_are_canonicalized_like_optax():
    # Without x64, float64 storage means float32 (as Optax's mu_dtype does).
    state = optjax.scale_by_adam(mu_dtype=jnp.float64, nu_dtype=jnp.float64).init(_PARAMS)
    ref = optax.scale_by_adam(mu_dtype=jnp.float64).init(_PARAMS)
    assert [x.dtype for x in jax.tree.leaves(state.mu)] == [
        x.dtype for x in jax.tree.leaves(ref.mu)
    ]
    assert {x.dtype for x in jax.tree.leaves(state.nu)} == {jnp.dtype("float32")}


# ----------------------------------------------------------------------------
# Intentional difference: NovoGrad's updates keep the gradients' dtype.


def test_novograd_with_mu_dtype_returns_updates_in_gradient_dtype():
    params = {"w": jnp.array([1.0, -2.0, 0.5])}
    grads = {"w": jnp.array([0.3, 0.1, -0.2])}
    tx = optjax.scale_by_novograd(mu_dtype=jnp.bfloat16)
    ref = optax.scale_by_novograd(mu_dtype=jnp.bfloat16)
    updates, state = tx.update(grads, tx.init(params), params)
    ref_updates, _ = ref.update(grads, ref.init(params), params)
    assert ref_updates["w"].dtype == jnp.bfloat16  # Optax leaks mu_dtype into the updates.
    assert updates["w"].dtype == jnp.float32
    assert state.mu["w"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(updates["w"], ref_updates["w"].astype(jnp.float32))


# ----------------------------------------------------------------------------
# Closed forms.


def test_trust_ratio_closed_form_and_zero_norm_guard():
    params = {"w": jnp.array([3.0, 4.0]), "z": jnp.zeros(2), "s": jnp.asarray(-2.0)}
    grads = {"w": jnp.array([0.0, 0.5]), "z": jnp.array([1.0, 1.0]), "s": jnp.asarray(0.5)}
    tx = optjax.scale_by_trust_ratio(trust_coefficient=0.5, eps=0.5)
    updates, _ = tx.update(grads, tx.init(params), params)
    # ratio = 0.5 * ||w|| / (||g|| + 0.5) = 0.5 * 5 / 1 = 2.5
    np.testing.assert_allclose(updates["w"], [0.0, 1.25], rtol=1e-6)
    # Zero parameter norm: the update passes through unchanged.
    np.testing.assert_array_equal(updates["z"], grads["z"])
    # Scalar leaf: ratio = 0.5 * 2 / (0.5 + 0.5) = 1.
    np.testing.assert_allclose(updates["s"], 0.5, rtol=1e-6)


def test_layerwise_transforms_need_params():
    for tx in (
        optjax.scale_by_trust_ratio(),
        optjax.scale_by_param_block_norm(),
        optjax.scale_by_param_block_rms(),
        optjax.scale_by_novograd(),
    ):
        with pytest.raises(ValueError, match="params"):
            tx.update({"w": jnp.ones(2)}, tx.init({"w": jnp.ones(2)}))
