"""snapshot, monitor and measure_with_ema: recorded values against Optax and closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optjax

PARAMS = {"w": jnp.array([1.0, 2.0, 3.0]), "b": jnp.array([[0.5, -0.5]])}


def _grads(params):
    return jax.tree.map(lambda p: 2 * p, params)


def _run(lib, measures, steps=3):
    tx = lib.chain(lib.sgd(0.1, momentum=0.9), lib.monitor(measures), lib.clip_by_global_norm(0.5))
    params, state = PARAMS, tx.init(PARAMS)
    for _ in range(steps):
        updates, state = tx.update(_grads(params), state, params)
        params = lib.apply_updates(params, updates)
    return params, state


def _measures(lib):
    return {
        "norm": lib.tree.norm,
        "leaf": lambda u: u["b"],
        "norm_ema": lib.measure_with_ema(lib.tree.norm, 0.9),
        "clipped_ema": lib.measure_with_ema(lambda u: lib.tree.norm(u) > 0.5, 0.5, debias=False),
        "bf16_ema": lib.measure_with_ema(lib.tree.norm, 0.8, accumulator_dtype=jnp.bfloat16),
    }


def test_monitor_matches_optax_after_updates():
    ours, our_state = _run(optjax, _measures(optjax))
    ref, ref_state = _run(optax, _measures(optax))
    jax.tree.map(np.testing.assert_allclose, ours, ref)
    assert our_state[1]._fields == ref_state[1]._fields == ("measurements", "measure_states")
    for name in _measures(optax):
        np.testing.assert_allclose(
            optax.tree.get(our_state, name), optax.tree.get(ref_state, name), rtol=1e-6
        )
    ours_leaves = jax.tree.leaves(our_state[1].measure_states)
    ref_leaves = jax.tree.leaves(ref_state[1].measure_states)
    for a, b in zip(ours_leaves, ref_leaves, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=1e-6)


def test_monitor_state_keeps_its_structure_under_scan():
    # Deliberate difference from Optax: init already holds zero measurements,
    # and a boolean measure's average is a float from the start.
    tx = optjax.monitor(_measures(optjax))
    state = tx.init(PARAMS)
    assert state.measurements["norm"].shape == () and float(state.measurements["norm"]) == 0.0
    assert state.measure_states[3][1].ema.dtype == jnp.float32
    assert optax.monitor(_measures(optax)).init(PARAMS).measurements == {}

    def step(state, grads):
        _, state = tx.update(grads, state)
        return state, None

    grads = jax.tree.map(lambda p: jnp.stack([p, 2 * p]), PARAMS)
    final, _ = jax.lax.scan(step, state, grads)
    np.testing.assert_allclose(final.measurements["norm"], optjax.tree.norm(_grads(PARAMS)))


def test_measure_with_ema_closed_form():
    decay = 0.7
    tx = optjax.measure_with_ema(lambda u: jnp.sum(u), decay)
    state = tx.init(jnp.zeros(2))
    assert isinstance(state[0], optjax.EmptyState) and isinstance(state[1], optjax.EmaState)
    average = 0.0
    for t, value in enumerate([1.0, 4.0, -2.0], start=1):
        out, state = tx.update(jnp.array([value, 0.0]), state)
        average = decay * average + (1 - decay) * value
        np.testing.assert_allclose(out, average / (1 - decay**t), rtol=1e-6)


def test_snapshot_matches_optax_and_stores_the_init_measurement():
    for lib in (optjax, optax):
        tx = lib.chain(lib.sgd(0.1), lib.snapshot("norm", lib.tree.norm), lib.clip(0.01))
        state = tx.init(PARAMS)
        np.testing.assert_allclose(lib.tree.get(state, "norm"), optax.tree.norm(PARAMS))
        updates, state = tx.update(_grads(PARAMS), state)
        np.testing.assert_allclose(
            lib.tree.get(state, "norm"), 0.1 * optax.tree.norm(_grads(PARAMS)), rtol=1e-6
        )
        np.testing.assert_allclose(updates["w"], -0.01)


def test_measure_with_ema_rejects_a_decay_it_cannot_debias():
    with pytest.raises(ValueError, match=r"measure_with_ema: decay must be in \[0, 1\)"):
        optjax.measure_with_ema(optjax.tree.norm, 1.0)
    tx = optjax.measure_with_ema(optjax.tree.norm, 1.0, debias=False)
    out, _ = tx.update(jnp.ones(2), tx.init(jnp.ones(2)))
    assert float(out) == 0.0
