"""DP-SGD (``dpsgd``, ``differentially_private_aggregate``) against ``optax.contrib``.

These take per-example gradients, which the registry's harness does not make,
so they are compared here step by step with fixed keys: same clipping, same
noise bits, same key stream in the state. Closed forms pin the clipping, and
bad input is checked for its message.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optjax

BATCH = 5
SHAPES = {"w": (3, 2), "b": (2,), "s": ()}


def _per_example(seed, dtype=jnp.float32, batch=BATCH):
    rng = np.random.default_rng(seed)
    # Examples of very different norms, one of them exactly zero.
    scales = np.array([0.0, 0.3, 1.0, 4.0, 20.0][:batch], np.float32)
    return {
        k: jnp.asarray(
            scales.reshape((batch,) + (1,) * len(s)) * rng.normal(size=(batch, *s)), dtype
        )
        for k, s in SHAPES.items()
    }


def _params(dtype=jnp.float32):
    return {k: jnp.zeros(s, dtype) for k, s in SHAPES.items()}


def _optax(build):
    """Builds an Optax transform that warns about its deprecated ``seed``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return build()


def _run(tx, steps, dtype=jnp.float32):
    params = _params(dtype)
    state = tx.init(params)
    # Eager: a few tiny steps cost less than compiling each transform.
    update = tx.update
    history = []
    for t in range(steps):
        updates, state = update(_per_example(t, dtype), state, params)
        params = jax.tree.map(lambda p, u: p + u, params, updates)
        history.append(updates)
    return history, state


def _assert_same(ours, theirs, rtol=1e-6, atol=1e-7):
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs)):
        if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            np.testing.assert_array_equal(jax.random.key_data(a), jax.random.key_data(b))
        else:
            assert a.dtype == b.dtype
            np.testing.assert_allclose(
                np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=rtol, atol=atol
            )


DPSGD_SETTINGS = [
    dict(learning_rate=0.1, l2_norm_clip=1.0, noise_multiplier=1.1, seed=0),
    dict(learning_rate=0.05, l2_norm_clip=0.5, noise_multiplier=0.0, seed=3, momentum=0.9),
    dict(
        learning_rate=optax.linear_schedule(0.1, 0.01, 4),
        l2_norm_clip=2.0,
        noise_multiplier=0.3,
        seed=7,
        momentum=0.5,
        nesterov=True,
    ),
]


@pytest.mark.parametrize("kwargs", DPSGD_SETTINGS, ids=["plain", "momentum", "nesterov,schedule"])
def test_dpsgd_matches_optax_step_by_step(kwargs):
    ours = _run(optjax.contrib.dpsgd(**kwargs), steps=4)
    theirs = _run(_optax(lambda: optax.contrib.dpsgd(**kwargs)), steps=4)
    _assert_same(ours, theirs)


@pytest.mark.parametrize(
    "key, dtype",
    [
        (1234, jnp.float32),
        (jax.random.key(5), jnp.float32),
        (np.int64(9), jnp.float32),
        (0, jnp.bfloat16),
    ],
    ids=["int", "typed_key", "numpy_int", "bfloat16"],
)
def test_aggregate_matches_optax_for_every_key_form(key, dtype):
    ours = _run(optjax.contrib.differentially_private_aggregate(1.5, 0.7, key), 3, dtype)
    theirs = _run(optax.contrib.differentially_private_aggregate(1.5, 0.7, key), 3, dtype)
    tol = 1e-2 if dtype == jnp.bfloat16 else 1e-6
    _assert_same(ours, theirs, rtol=tol, atol=tol)
    for u in jax.tree.leaves(ours[0][-1]):
        assert u.dtype == dtype


def test_legacy_prngkey_gives_the_same_noise_as_its_typed_key():
    legacy = jax.random.PRNGKey(11)
    typed = jax.random.wrap_key_data(legacy)
    a = _run(optjax.contrib.differentially_private_aggregate(1.0, 1.0, legacy), 2)
    b = _run(optjax.contrib.differentially_private_aggregate(1.0, 1.0, typed), 2)
    _assert_same(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("clip", [0.5, 3.0, 1e6])
def test_clipping_without_noise_is_the_mean_of_clipped_examples(clip):
    grads = _per_example(1)
    tx = optjax.contrib.differentially_private_aggregate(clip, 0.0, key=0)
    updates, _ = tx.update(grads, tx.init(_params()), _params())
    flat = np.concatenate([np.asarray(g).reshape(BATCH, -1) for g in jax.tree.leaves(grads)], 1)
    norms = np.linalg.norm(flat, axis=1)
    factors = np.where(norms > 0, np.minimum(1.0, clip / np.where(norms > 0, norms, 1.0)), 1.0)
    for k, g in grads.items():
        expected = np.tensordot(factors, np.asarray(g), axes=1) / BATCH
        np.testing.assert_allclose(updates[k], expected, rtol=1e-5, atol=1e-7)


def test_noise_std_is_clip_times_multiplier():
    tx = optjax.contrib.differentially_private_aggregate(2.0, 3.0, key=jax.random.key(1))
    grads = [jnp.zeros((1, 100, 100))]
    updates, _ = tx.update(grads, tx.init([jnp.zeros((100, 100))]))
    assert abs(float(jnp.std(updates[0])) - 6.0) < 0.15


def test_key_advances_and_init_state():
    tx = optjax.contrib.differentially_private_aggregate(1.0, 1.0, key=jax.random.key(2))
    state = tx.init(_params())
    assert isinstance(state, optjax.contrib.DifferentiallyPrivateAggregateState)
    assert state._fields == optax.contrib.DifferentiallyPrivateAggregateState._fields
    u1, state = tx.update(_per_example(0), state)
    u2, _ = tx.update(_per_example(0), state)
    assert not np.allclose(u1["w"], u2["w"])


def test_empty_tree_passes_through():
    tx = optjax.contrib.differentially_private_aggregate(1.0, 1.0, key=0)
    updates, _ = tx.update({}, tx.init({}))
    assert updates == {}


def test_seed_is_deprecated_and_a_missing_key_warns_like_optax():
    with pytest.warns(DeprecationWarning, match="seed"):
        a = optjax.contrib.differentially_private_aggregate(1.0, 1.0, seed=4)
    b = optjax.contrib.differentially_private_aggregate(1.0, 1.0, key=4)
    _assert_same(_run(a, 2), _run(b, 2), rtol=0, atol=0)
    with pytest.warns(UserWarning, match="key"):
        optjax.contrib.differentially_private_aggregate(1.0, 1.0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            dict(l2_norm_clip=0.0, noise_multiplier=1.0, key=0),
            ValueError,
            "l2_norm_clip must be > 0",
        ),
        (dict(l2_norm_clip=-1.0, noise_multiplier=1.0, key=0), ValueError, "l2_norm_clip"),
        (dict(l2_norm_clip=1.0, noise_multiplier=-0.1, key=0), ValueError, "noise_multiplier"),
        (dict(l2_norm_clip=1.0, noise_multiplier=1.0, key=0, seed=1), ValueError, "not both"),
        (dict(l2_norm_clip=1.0, noise_multiplier=1.0, key="a"), TypeError, "key must be"),
        (
            dict(l2_norm_clip=1.0, noise_multiplier=1.0, key=jnp.zeros(2)),
            TypeError,
            "dtype float32",
        ),
    ],
)
def test_bad_hyperparameters_raise_clearly(kwargs, error, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(error, match=match):
            optjax.contrib.differentially_private_aggregate(**kwargs)


def test_dpsgd_seed_must_be_an_int():
    with pytest.raises(TypeError, match="seed must be an int"):
        optjax.contrib.dpsgd(0.1, 1.0, 1.0, seed=jax.random.key(0))


def test_aggregated_gradients_are_rejected_naming_the_leaf():
    tx = optjax.contrib.differentially_private_aggregate(1.0, 1.0, key=0)
    state = tx.init(_params())
    mean = jax.tree.map(lambda g: g.mean(0), _per_example(0))
    with pytest.raises(ValueError, match=r"key path \['s'\] has shape \(\)"):
        tx.update(mean, state, _params())
    uneven = {**_per_example(0), "w": jnp.ones((BATCH + 1, 3, 2))}
    with pytest.raises(
        ValueError, match=r"\['w'\] has shape \(6, 3, 2\) \(expected leading size 5\)"
    ):
        tx.update(uneven, state)


def test_dpsgd_does_not_warn_unlike_optax():
    """Pins the documented difference: Optax's dpsgd warns about its own ``seed``."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optjax.contrib.dpsgd(0.1, 1.0, 1.0, seed=0)
    with pytest.warns(DeprecationWarning):
        optax.contrib.dpsgd(0.1, 1.0, 1.0, seed=0)
