"""D-Adaptation AdamW beyond the registry: the zero-denominator fallback, bad input.

The registry (``registry/contrib/dadapt.py``) compares 100-step trajectories
with ``optax.contrib.dadapt_adamw``.
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
        lambda: optjax.dadapt_adamw(),
        lambda: optjax.dadapt_adamw(lambda t: jnp.minimum(t / 5.0, 1.0)),
    ],
    ids=["dadapt_zero_grads", "dadapt_warmup"],
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


CONVERGENCE = {
    "dadapt_adamw": (lambda: optjax.dadapt_adamw(cosine_multiplier), False),
}


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_reaches_the_minimum_of_an_ill_conditioned_quadratic(name):
    build, eval_params = CONVERGENCE[name]
    final = converge_on_quadratic(build(), eval_params)
    np.testing.assert_allclose(final, QUADRATIC_OPT, atol=1e-3, err_msg=name)


BAD = [
    (lambda: optjax.dadapt_adamw(betas=(0.9, 1.0)), r"betas\[1\]"),
    (lambda: optjax.dadapt_adamw(estim_lr0=-1.0), "estim_lr0"),
    (lambda: optjax.dadapt_adamw(weight_decay=-1.0), "weight_decay"),
]


@pytest.mark.parametrize("build, name", BAD, ids=[f"{i}-{b[1]}" for i, b in enumerate(BAD)])
def test_bad_hyperparameters_raise_value_error_naming_the_argument(build, name):
    with pytest.raises(ValueError, match=name):
        build()
