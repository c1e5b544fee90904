"""Mechanic: wraps any base optimizer, re-anchors x0, its first step, bad input.

Parity with ``optax.contrib`` over 100 steps is in ``registry/contrib/mechanic.py``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optjax

PARAMS = {"x": jnp.array([3.0, -1.0]), "y": jnp.array(-3.0)}
GRADS = {"x": jnp.array([2.0, 0.5]), "y": jnp.array(-2.0)}


def _loss(params):
    return jnp.sum(params["x"] ** 2) + params["y"] ** 2


def _trajectory(tx, steps=3, value=False):
    params, state = PARAMS, tx.init(PARAMS)
    for _ in range(steps):
        loss, grads = jax.value_and_grad(_loss)(params)
        updates, state = tx.update(grads, state, params, **({"value": loss} if value else {}))
        params = optax.apply_updates(params, updates)
    return params, state


@pytest.mark.parametrize(
    "base, value",
    [
        (lambda lib: lib.lion(1.0, b1=0.5), False),
        (lambda lib: lib.chain(lib.clip_by_global_norm(1.0), lib.sgd(1.0, momentum=0.9)), False),
        (lambda lib: lib.polyak_sgd(max_learning_rate=1.0), True),
    ],
    ids=["lion", "chain", "polyak_sgd(value=)"],
)
def test_wraps_any_base_optimizer_like_optax(base, value):
    ours = _trajectory(optjax.contrib.mechanize(base(optjax)), value=value)
    theirs = _trajectory(optax.contrib.mechanize(base(optax)), value=value)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_wraps_an_optax_transform():
    ours = _trajectory(optjax.contrib.mechanize(optax.adam(1.0)))
    theirs = _trajectory(optax.contrib.mechanize(optax.adam(1.0)))
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_first_step_matches_the_papers_closed_form():
    # Optax's own test case (from the origin, so that the tiny first step is
    # representable). On the first step x = x0, so h = 0: m = eps,
    # v = r = 0 and each bettor's scale is (s_init / n) * eps / eps = s_init / n.
    tx = optjax.contrib.mechanize(
        optjax.sgd(0.1), weight_decay=1e-2, eps=1e-10, s_init=1e-8, num_betas=6
    )
    params = {"x": jnp.array(0.0), "y": jnp.array(0.0)}
    updates, state = tx.update({"x": jnp.array(2.0), "y": jnp.array(-2.0)}, tx.init(params), params)
    np.testing.assert_allclose(state.m, np.full(6, 1e-10), rtol=1e-6)
    np.testing.assert_allclose(state.v, np.zeros(6))
    np.testing.assert_allclose(state.s, np.full(6, 1e-8 / 6), rtol=1e-5)
    # The first step moves by sum(s) times the base step, tiny but not zero.
    np.testing.assert_allclose(updates["x"], -0.1 * 2.0 * 1e-8, rtol=1e-4)


def test_x0_is_the_params_of_the_first_update_not_of_init():
    tx = optjax.contrib.mechanize(optjax.sgd(1.0))
    state = tx.init(jax.tree.map(jnp.zeros_like, PARAMS))
    _, state = tx.update(GRADS, state, PARAMS)
    for a, b in zip(jax.tree.leaves(state.x0), jax.tree.leaves(PARAMS)):
        np.testing.assert_array_equal(a, b)


def test_derivative_through_the_first_update_is_finite():
    # Deliberate difference: Optax's sqrt(v) at v = 0 makes this NaN.
    tx = optjax.contrib.mechanize(optjax.sgd(1.0))
    state = tx.init(PARAMS)

    def total_update(grads):
        updates, _ = tx.update(grads, state, PARAMS)
        return sum(jnp.sum(u) for u in jax.tree.leaves(updates))

    sensitivity = jax.grad(total_update)(GRADS)
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(sensitivity))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"base_optimizer": 0.1}, TypeError, "mechanize: base_optimizer must be a gradient"),
        ({"num_betas": 0}, ValueError, "mechanize: num_betas must be an integer >= 1"),
        ({"num_betas": 2.5}, ValueError, "mechanize: num_betas must be an integer >= 1"),
        ({"s_init": 0.0}, ValueError, "mechanize: s_init must be > 0"),
        ({"weight_decay": -1.0}, ValueError, "mechanize: weight_decay must be >= 0"),
        ({"eps": -1.0}, ValueError, "mechanize: eps must be >= 0"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, error, match):
    kwargs = {"base_optimizer": optjax.sgd(1.0), **kwargs}
    with pytest.raises(error, match=match):
        optjax.contrib.mechanize(**kwargs)


def test_update_without_params_is_a_clear_error():
    tx = optjax.contrib.mechanize(optjax.sgd(1.0))
    with pytest.raises(ValueError, match="mechanize needs the current parameters"):
        tx.update(GRADS, tx.init(PARAMS))
