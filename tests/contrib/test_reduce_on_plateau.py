"""``reduce_on_plateau`` beyond the registry: dtypes of the state, Optax's own
state-driven scenarios, and bad input.

The 100-step trajectories against ``optax.contrib.reduce_on_plateau`` (with
``value=loss``) are in ``registry/contrib/reduce_on_plateau.py``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optjax

rop = optjax.contrib.reduce_on_plateau


def _states(lib, values, params, **kwargs):
    tx = lib.contrib.reduce_on_plateau(**kwargs)
    state = tx.init(params)
    update = jax.jit(tx.update)
    out = []
    for v in values:
        updates, state = update(params, state, value=jnp.float32(v))
        out.append((updates, state))
    return out


def test_state_dtypes_follow_the_params_like_optax():
    """scale takes the lowest dtype (no promotion of updates), the values the highest."""
    params = {"a": jnp.ones(2, jnp.bfloat16), "b": jnp.ones(3, jnp.float32)}
    ours = rop().init(params)
    theirs = optax.contrib.reduce_on_plateau().init(params)
    assert ours._fields == theirs._fields
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    assert ours.scale.dtype == jnp.bfloat16 and ours.best_value.dtype == jnp.float32


VALUES = [5.0, 4.0, 4.0, 4.0, 4.0, 3.999, 4.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(patience=2, factor=0.5, cooldown=1),
        dict(patience=1, factor=0.3, accumulation_size=3, min_scale=0.2, rtol=0.0, atol=0.5),
    ],
    ids=["cooldown", "accumulation,min_scale"],
)
def test_value_sequence_matches_optax_with_mixed_dtypes(kwargs):
    params = {"a": jnp.ones(2, jnp.bfloat16), "b": jnp.ones(3, jnp.float32)}
    ours = _states(optjax, VALUES, params, **kwargs)
    theirs = _states(optax, VALUES, params, **kwargs)
    for (u, s), (ru, rs) in zip(ours, theirs):
        for a, b in zip(jax.tree.leaves((u, s)), jax.tree.leaves((ru, rs))):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(np.asarray(a, np.float32), np.asarray(b, np.float32))
    assert float(ours[-1][1].scale) < 1.0


def test_cooldown_counts_down_and_ignores_bad_values():
    state = optjax.contrib.ReduceLROnPlateauState(
        scale=jnp.array(0.1),
        best_value=jnp.array(1.0),
        plateau_count=jnp.array(0, jnp.int32),
        cooldown_count=jnp.array(3, jnp.int32),
        count=jnp.array(0, jnp.int32),
        avg_value=jnp.array(0.0),
    )
    _, new = rop(patience=1, cooldown=5).update({"w": jnp.ones(1)}, state, value=2.0)
    assert int(new.cooldown_count) == 2 and int(new.plateau_count) == 0
    assert float(new.scale) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(factor=0.0), r"factor must be in \(0, 1\)"),
        (dict(factor=1.0), r"factor must be in \(0, 1\)"),
        (dict(rtol=1.5), r"rtol must be in \[0, 1\]"),
        (dict(rtol=-0.1), "rtol"),
        (dict(atol=-1.0), "atol must be >= 0"),
        (dict(rtol=0.0, atol=0.0), "at least one of rtol and atol"),
        (dict(patience=-1), "patience must be >= 0"),
        (dict(cooldown=-2), "cooldown must be >= 0"),
        (dict(accumulation_size=0), "accumulation_size must be an integer >= 1"),
        (dict(min_scale=-0.5), "min_scale must be >= 0"),
    ],
)
def test_bad_hyperparameters_raise_clearly(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rop(**kwargs)


def test_update_needs_a_scalar_value():
    tx = rop()
    params = {"w": jnp.ones(2)}
    state = tx.init(params)
    with pytest.raises(TypeError, match="needs the monitored value"):
        tx.update(params, state)
    with pytest.raises(ValueError, match=r"value must be a scalar, got shape \(2,\)"):
        tx.update(params, state, value=jnp.ones(2))
