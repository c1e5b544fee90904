"""Prodigy beyond the registry: the zero-denominator fallback, the estimate's growth.

The registry (``registry/contrib/prodigy.py``) compares 100-step trajectories
with ``optax.contrib.prodigy``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from contrib_helpers import QUADRATIC_OPT, converge_on_quadratic, cosine_multiplier, small_loss

import optjax


@pytest.mark.parametrize(
    "make",
    [
        lambda: optjax.prodigy(),
        lambda: optjax.prodigy(lambda t: jnp.minimum(t / 5.0, 1.0)),  # warmup from 0,
    ],
    ids=["prodigy_zero_grads", "prodigy_warmup_from_0"],
)
def test_distance_estimate_stays_finite_when_the_denominator_is_zero(make):
    tx = make()
    params = {"w": jnp.array([1.0, -1.0]), "b": jnp.array(0.5)}
    state = tx.init(params)
    zero = jax.tree.map(jnp.zeros_like, params)
    for grads in [zero, zero, jax.grad(small_loss)(params)]:
        updates, state = tx.update(grads, state, params)
        params = optjax.apply_updates(params, updates)
    assert np.isfinite(state.estim_lr) and state.estim_lr >= np.float32(1e-6)
    assert all(np.all(np.isfinite(u)) for u in jax.tree.leaves(updates))


def test_prodigy_estimate_grows_to_the_distance_scale():
    tx = optjax.prodigy()
    params = {"x": jnp.zeros(4)}
    f = lambda p: jnp.sum((p["x"] - 5.0) ** 2)  # noqa: E731
    state = tx.init(params)
    step = jax.jit(lambda p, s: tx.update(jax.grad(f)(p), s, p))
    for _ in range(100):
        updates, state = step(params, state)
        params = optjax.apply_updates(params, updates)
    # d starts at 1e-6 and must grow to the order of the distance (5) to the solution.
    assert 0.5 < float(state.estim_lr) < 50.0


CONVERGENCE = {
    "prodigy": (lambda: optjax.prodigy(cosine_multiplier), False),
}


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_reaches_the_minimum_of_an_ill_conditioned_quadratic(name):
    build, eval_params = CONVERGENCE[name]
    final = converge_on_quadratic(build(), eval_params)
    np.testing.assert_allclose(final, QUADRATIC_OPT, atol=1e-3, err_msg=name)


BAD = [
    (lambda: optjax.prodigy(betas=(1.0, 0.9)), r"betas\[0\]"),
    (lambda: optjax.prodigy(betas=(0.9, -0.1)), r"betas\[1\]"),
    (lambda: optjax.prodigy(betas=(0.9,)), "betas"),
    (lambda: optjax.prodigy(beta3=1.0), "beta3"),
    (lambda: optjax.prodigy(estim_lr0=0.0), "estim_lr0"),
    (lambda: optjax.prodigy(estim_lr_coef=-1.0), "estim_lr_coef"),
    (lambda: optjax.prodigy(weight_decay=-1.0), "weight_decay"),
    (lambda: optjax.prodigy(eps=-1.0), "eps"),
    (lambda: optjax.prodigy(learning_rate=-1.0), "learning_rate"),
]


@pytest.mark.parametrize("build, name", BAD, ids=[f"{i}-{b[1]}" for i, b in enumerate(BAD)])
def test_bad_hyperparameters_raise_value_error_naming_the_argument(build, name):
    with pytest.raises(ValueError, match=name):
        build()
