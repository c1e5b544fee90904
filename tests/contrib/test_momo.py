"""MoMo and MoMo-Adam: the Polyak step in closed form, the lower bound, bad input.

Parity with ``optax.contrib`` over 100 steps is in ``registry/contrib/momo.py``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optjax

PARAMS = jnp.array([1.0, -2.0, 0.5])


def _loss(x):
    return jnp.sum(x**2) + 1.0


def _step(tx, params, state):
    value, grads = jax.value_and_grad(_loss)(params)
    updates, state = tx.update(grads, state, params, value=value)
    return optjax.apply_updates(params, updates), state


@pytest.mark.parametrize("learning_rate", [10.0, 0.05])
def test_first_momo_step_is_the_capped_polyak_step(learning_rate):
    # On the first step every average is the current value: tau = min(lr,
    # (f - f*) / ||g||^2), the Polyak step size.
    tx = optjax.contrib.momo(learning_rate, lower_bound=0.0)
    new_params, _ = _step(tx, PARAMS, tx.init(PARAMS))
    grads = 2 * np.asarray(PARAMS)
    tau = min(learning_rate, float(_loss(PARAMS)) / np.sum(grads**2))
    np.testing.assert_allclose(new_params, PARAMS - tau * grads, rtol=1e-6)


def test_first_momo_adam_step_is_the_capped_preconditioned_polyak_step():
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 10.0
    tx = optjax.contrib.momo_adam(lr, b1=b1, b2=b2, eps=eps)
    new_params, _ = _step(tx, PARAMS, tx.init(PARAMS))
    g = 2 * np.asarray(PARAMS, np.float64)
    d = (1 - b1) * g
    precond = eps + np.sqrt((1 - b2) * g**2 / (1 - b2))
    barf, gamma = (1 - b1) * float(_loss(PARAMS)), (1 - b1) * g @ np.asarray(PARAMS)
    t1 = max(barf - gamma + d @ np.asarray(PARAMS), 0.0) / (d @ (d / precond))
    tau = min(lr / (1 - b1), t1)
    np.testing.assert_allclose(new_params, PARAMS - tau * d / precond, rtol=1e-5)


@pytest.mark.parametrize("factory", [optjax.contrib.momo, optjax.contrib.momo_adam])
def test_adapted_lower_bound_never_goes_below_lower_bound(factory):
    tx = factory(weight_decay=0.01, lower_bound=0.5, adapt_lower_bound=True)
    params, state = PARAMS, tx.init(PARAMS)
    bounds = []
    for _ in range(5):
        params, state = _step(tx, params, state)
        bounds.append(float(state.lb))
    assert min(bounds) >= 0.5
    assert max(bounds) > 0.5  # the bound does adapt on this loss (minimum 1.0)


@pytest.mark.parametrize("factory", [optjax.contrib.momo, optjax.contrib.momo_adam])
def test_missing_value_is_a_clear_error(factory):
    tx = factory()
    with pytest.raises(ValueError, match=r"needs the current loss value: call .*value=loss"):
        tx.update(PARAMS, tx.init(PARAMS), PARAMS)


@pytest.mark.parametrize("factory", [optjax.contrib.momo, optjax.contrib.momo_adam])
def test_update_without_params_is_a_clear_error(factory):
    tx = factory()
    with pytest.raises(ValueError, match="needs the current parameters"):
        tx.update(PARAMS, tx.init(PARAMS), value=1.0)


@pytest.mark.parametrize(
    "factory, kwargs, match",
    [
        (optjax.contrib.momo, {"beta": 1.0}, r"momo: beta must be in \[0, 1\)"),
        (optjax.contrib.momo, {"learning_rate": -1.0}, "momo: learning_rate must be >= 0"),
        (optjax.contrib.momo, {"weight_decay": -1.0}, "momo: weight_decay must be >= 0"),
        (optjax.contrib.momo_adam, {"b2": 1.5}, r"momo_adam: b2 must be in \[0, 1\)"),
        (optjax.contrib.momo_adam, {"eps": -1.0}, "momo_adam: eps must be >= 0"),
    ],
)
def test_bad_hyperparameters_name_the_argument(factory, kwargs, match):
    with pytest.raises(ValueError, match=match):
        factory(**kwargs)
