"""SAM (``sam``): opaque mode against ``optax.contrib.sam`` step by step, and its rules.

The registry (``registry/contrib/sam.py``) covers the transparent mode against
Optax's 100-step trajectories.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest
from contrib_helpers import STEPS, initial_params, jax_grad, jax_trajectory

import optjax


def _sam_pair(**kwargs):
    ours = optjax.sam(
        optjax.adam(0.05),
        optjax.chain(optjax.normalize_by_update_norm(eps=0.0), optjax.sgd(0.05)),
        **kwargs,
    )
    theirs = optax.contrib.sam(
        optax.adam(0.05), optax.chain(optax.contrib.normalize(), optax.sgd(0.05)), **kwargs
    )
    return ours, theirs


@pytest.mark.parametrize("sync_period, reset_state", [(2, True), (3, False)])
def test_sam_opaque_mode_matches_optax_step_by_step(sync_period, reset_state):
    ours, theirs = _sam_pair(opaque_mode=True, sync_period=sync_period, reset_state=reset_state)
    grad_fn = lambda params, i: jax_grad(params)  # noqa: E731

    def run(tx, apply_updates):
        params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), initial_params())
        state = tx.init(params)
        step = jax.jit(lambda g, s, p: tx.update(g, s, p, grad_fn=grad_fn))
        history = []
        for _ in range(STEPS):
            updates, state = step(jax_grad(params), state, params)
            params = apply_updates(params, updates)
            history.append(params)
        return history, state

    mine, my_state = run(ours, optjax.apply_updates)
    ref, ref_state = run(theirs, optax.apply_updates)
    for a, b in zip(mine, ref):
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6)
    assert my_state.cache is None and ref_state.cache is None
    for a, b in zip(jax.tree.leaves(my_state), jax.tree.leaves(ref_state)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_sam_opaque_mode_needs_grad_fn():
    tx = optjax.sam(optjax.sgd(0.1), optjax.sgd(0.1), opaque_mode=True)
    params = {"w": jnp.ones(2)}
    with pytest.raises(ValueError, match="grad_fn"):
        tx.update(params, tx.init(params), params)


def test_sam_update_needs_params():
    tx = optjax.sam(optjax.sgd(0.1), optjax.sgd(0.1))
    params = {"w": jnp.ones(2)}
    with pytest.raises(ValueError, match="params"):
        tx.update(params, tx.init(params))


def test_sam_sync_period_one_is_the_outer_optimizer():
    sam = optjax.sam(optjax.adam(0.05), optjax.sgd(0.1), sync_period=1)
    np.testing.assert_allclose(
        jax_trajectory(sam)["w"], jax_trajectory(optjax.adam(0.05))["w"], rtol=1e-12
    )


def test_sam_adversarial_step_ascends_by_rho():
    """The paper's first half-step: theta + rho * g / ||g||."""
    sam, _ = _sam_pair()
    params = {"w": jnp.array([3.0, 4.0])}
    grads = {"w": jnp.array([3.0, 4.0])}
    updates, _ = sam.update(grads, sam.init(params), params)
    np.testing.assert_allclose(updates["w"], [0.03, 0.04], rtol=1e-6)


BAD_HYPERPARAMETERS = [
    (lambda: optjax.sam(optjax.sgd(0.1), optjax.sgd(0.1), sync_period=0), "sync_period"),
    (lambda: optjax.sam(optjax.sgd(0.1), optjax.sgd(0.1), sync_period=1.5), "sync_period"),
]


@pytest.mark.parametrize("build, argument", BAD_HYPERPARAMETERS)
def test_bad_hyperparameters_raise_naming_the_argument(build, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        build()
