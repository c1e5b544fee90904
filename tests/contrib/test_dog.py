"""DoG and DoWG: the ``init_step`` rules, step sizes in closed form, and bad input.

Parity with ``optax.contrib`` over 100 steps is in ``registry/contrib/dog.py``.
(The ``reps_rel_to`` option of the authors' PyTorch code is not part of Optax's
API, so optjax does not have it either: ``"heuristic"`` is that rule relative
to the initial parameters.)
"""

import jax.numpy as jnp
import numpy as np
import pytest

import optjax

PARAMS = {"a": jnp.array([1.0, 2.0]), "b": jnp.array(2.0)}
GRADS = {"a": jnp.array([0.5, -1.0]), "b": jnp.array(2.0)}
GRAD_SQ_NORM = 0.25 + 1.0 + 4.0
PARAMS_NORM = 3.0


def _first_step_size(tx, params=PARAMS):
    updates, state = tx.update(GRADS, tx.init(params), params)
    return float(updates["b"] / GRADS["b"]), state


@pytest.mark.parametrize(
    "init_step, expected",
    [
        (("distance", 0.5), 0.5 / np.sqrt(GRAD_SQ_NORM + 1e-8)),
        (("heuristic", 1e-3), 1e-3 * (1 + PARAMS_NORM) / np.sqrt(GRAD_SQ_NORM + 1e-8)),
        (("learning_rate", 0.25), 0.25),
    ],
)
def test_init_step_sets_the_first_step_size(init_step, expected):
    step, state = _first_step_size(optjax.contrib.scale_by_dog(init_step))
    assert step == pytest.approx(expected, rel=1e-5)
    assert not bool(state.is_init_step)


def test_heuristic_uses_the_params_seen_by_init():
    small, _ = _first_step_size(optjax.contrib.scale_by_dog(("heuristic", 1e-3)))
    scaled = {k: 3 * v for k, v in PARAMS.items()}
    tx = optjax.contrib.scale_by_dog(("heuristic", 1e-3))
    state = tx.init(scaled)
    updates, _ = tx.update(GRADS, state, scaled)
    assert float(updates["b"] / GRADS["b"]) == pytest.approx(small * 10 / 4, rel=1e-5)


def test_dog_step_grows_with_the_distance_travelled():
    # Second step: r = ||x_1 - x_0|| replaces r_eps, G accumulates both gradients.
    tx = optjax.contrib.dog(init_step=("learning_rate", 0.1))
    state = tx.init(PARAMS)
    updates, state = tx.update(GRADS, state, PARAMS)
    params = optjax.apply_updates(PARAMS, updates)
    moved = 0.1 * np.sqrt(GRAD_SQ_NORM)
    updates, _ = tx.update(GRADS, state, params)
    expected = moved / np.sqrt(2 * GRAD_SQ_NORM + 1e-8)
    assert float(-updates["b"] / GRADS["b"]) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    "init_estim_sq_dist, eps, expected_sq_dist", [(None, 1e-4, 1e-4), (0.5, 1e-6, 0.5)]
)
def test_dowg_first_step_size(init_estim_sq_dist, eps, expected_sq_dist):
    tx = optjax.contrib.scale_by_dowg(init_estim_sq_dist, eps)
    step, state = _first_step_size(tx)
    weighted = expected_sq_dist * GRAD_SQ_NORM
    assert step == pytest.approx(expected_sq_dist / (np.sqrt(weighted) + eps), rel=1e-5)
    assert float(state.weighted_sq_norm_grads) == pytest.approx(weighted, rel=1e-6)


@pytest.mark.parametrize(
    "init_step, error, match",
    [
        (("distances", 1.0), ValueError, r"init_step\[0\] must be one of 'distance', "),
        (("distance", 0.0), ValueError, r"init_step\[1\] must be > 0"),
        (1e-6, TypeError, r"init_step must be a pair \(tag, value\)"),
    ],
)
def test_bad_init_step_is_a_clear_error(init_step, error, match):
    with pytest.raises(error, match=rf"scale_by_dog: {match}"):
        optjax.contrib.dog(init_step=init_step)


@pytest.mark.parametrize(
    "factory, kwargs, match",
    [
        (optjax.contrib.dog, {"eps": -1.0}, "scale_by_dog: eps must be >= 0"),
        (optjax.contrib.dog, {"weight_decay": -1.0}, "weight_decay must be >= 0"),
        (optjax.contrib.dowg, {"init_estim_sq_dist": 0.0}, "init_estim_sq_dist must be > 0"),
        (optjax.contrib.dowg, {"eps": 0.0}, r"eps \(the initial squared distance\) must be > 0"),
    ],
)
def test_bad_hyperparameters_name_the_argument(factory, kwargs, match):
    with pytest.raises(ValueError, match=match):
        factory(**kwargs)


@pytest.mark.parametrize("factory", [optjax.contrib.dog, optjax.contrib.dowg])
def test_update_without_params_is_a_clear_error(factory):
    tx = factory()
    with pytest.raises(ValueError, match="needs the current parameters"):
        tx.update(GRADS, tx.init(PARAMS))
