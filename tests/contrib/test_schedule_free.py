"""Schedule-Free beyond the registry: eval params against Optax, the paper in NumPy.

The registry (``registry/contrib/schedule_free.py``) compares 100-step
trajectories with ``optax.contrib``. Here: ``schedule_free_eval_params`` against
Optax's, a NumPy transcription of the paper's Schedule-Free SGD, traced
hyperparameters, bad hyperparameters and convergence.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest
from contrib_helpers import QUADRATIC_OPT, converge_on_quadratic, small_loss
from harness import assert_trees_close, loss, make_params

import optjax


def _trajectory_with_state(tx, apply_updates, params, steps=40):
    def step(carry, _):
        params, state = carry
        grads = jax.grad(loss)(params)
        updates, state = tx.update(grads, state, params)
        return (apply_updates(params, updates), state), None

    (params, state), _ = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
    return params, state


EVAL_SETTINGS = {
    "sgd_warmup_wd": lambda m: m.schedule_free_sgd(0.2, warmup_steps=5, weight_decay=1e-2),
    "adamw_b1=0.95": lambda m: m.schedule_free_adamw(0.02, b1=0.95),
    "wrap_adam_b1=0.5": lambda m: m.schedule_free(optax.adam(0.01, b1=0.0), 0.01, b1=0.5),
}


@pytest.mark.parametrize("name", sorted(EVAL_SETTINGS))
def test_schedule_free_eval_params_match_optax(name):
    make = EVAL_SETTINGS[name]

    @jax.jit
    def both(params):
        ours = _trajectory_with_state(make(optjax), optjax.apply_updates, params)
        ref = _trajectory_with_state(make(optax.contrib), optax.apply_updates, params)
        return (
            optjax.schedule_free_eval_params(ours[1], ours[0]),
            optax.contrib.schedule_free_eval_params(ref[1], ref[0]),
            # Ours also reads Optax's state (same field names).
            optjax.schedule_free_eval_params(ref[1], ref[0]),
        )

    ours, ref, ours_on_ref = both(make_params())
    assert_trees_close(ours, ref, rtol=1e-5, atol=1e-6, what=f"{name} eval params")
    assert_trees_close(ours_on_ref, ref, rtol=0, atol=0, what=f"{name} eval of Optax state")


def test_schedule_free_eval_params_finds_the_state_in_a_chain_and_keeps_dtype():
    tx = optjax.chain(
        optjax.clip_by_global_norm(1.0),
        optjax.schedule_free_sgd(0.1, state_dtype=jnp.float32),
    )
    params = {"w": jnp.ones(3, jnp.bfloat16), "b": jnp.zeros([], jnp.bfloat16)}
    state = tx.init(params)
    updates, state = tx.update(params, state, params)
    params = optjax.apply_updates(params, updates)
    x = optjax.schedule_free_eval_params(state, params)
    assert x["w"].dtype == jnp.bfloat16 and x["b"].dtype == jnp.bfloat16
    np.testing.assert_allclose(
        np.asarray(x["w"], np.float32),
        np.asarray(optjax.schedule_free_eval_params(state[1], params)["w"], np.float32),
    )
    with pytest.raises(ValueError, match="ScheduleFreeState"):
        optjax.schedule_free_eval_params(optjax.adam(0.1).init(params), params)


def _numpy_schedule_free_sgd(grad_fn, params, lr, b1, steps, weight_decay=0.0, power=2.0):
    """Algorithm 1 of Defazio et al. (2024), storing x and z, for constant lr."""
    x = {k: v.copy() for k, v in params.items()}
    z = {k: v.copy() for k, v in params.items()}
    weight_sum = 0.0
    ys, xs = [], []
    for _ in range(steps):
        y = {k: (1 - b1) * z[k] + b1 * x[k] for k in x}
        g = grad_fn(y)
        z = {k: z[k] - lr * (g[k] + weight_decay * y[k]) for k in z}
        weight = lr**power
        weight_sum += weight
        c = weight / weight_sum
        x = {k: (1 - c) * x[k] + c * z[k] for k in x}
        ys.append({k: (1 - b1) * z[k] + b1 * x[k] for k in x})
        xs.append(x)
    return ys, xs


_TARGETS = {"w": np.linspace(-1.0, 1.0, 6).reshape(3, 2), "b": np.array([0.5, -0.5]), "s": 2.0}


_CURV = {"w": np.linspace(0.5, 3.0, 6).reshape(3, 2), "b": np.array([1.0, 4.0]), "s": 0.3}


def _np_grad(p):
    return {k: _CURV[k] * (np.asarray(p[k], np.float64) - _TARGETS[k]) for k in p}


def _jax_loss(p):
    return sum(0.5 * jnp.sum(_CURV[k] * (p[k] - _TARGETS[k]) ** 2) for k in p)


@pytest.mark.parametrize("b1, weight_decay", [(0.9, None), (0.5, 0.1)])
def test_schedule_free_sgd_matches_numpy_transcription_of_the_paper(b1, weight_decay):
    params = {
        "w": np.arange(6.0).reshape(3, 2) / 3,
        "b": np.array([1.0, 2.0]),
        "s": np.array(-1.0),
    }
    lr, steps = 0.3, 25
    ys_ref, xs_ref = _numpy_schedule_free_sgd(
        _np_grad, params, lr, b1, steps, weight_decay=weight_decay or 0.0
    )
    tx = optjax.schedule_free_sgd(lr, b1=b1, weight_decay=weight_decay)
    p = jax.tree.map(lambda v: jnp.asarray(v, jnp.float32), params)
    state = tx.init(p)
    step = jax.jit(lambda g, s, p: tx.update(g, s, p))
    for t in range(steps):
        updates, state = step(jax.grad(_jax_loss)(p), state, p)
        p = optjax.apply_updates(p, updates)
        x = optjax.schedule_free_eval_params(state, p)
        for k in params:
            np.testing.assert_allclose(p[k], ys_ref[t][k], rtol=2e-5, atol=2e-6, err_msg=k)
            np.testing.assert_allclose(x[k], xs_ref[t][k], rtol=2e-5, atol=2e-6, err_msg=k)


def test_schedule_free_x_is_the_uniform_average_of_z_for_constant_lr():
    tx = optjax.schedule_free(optjax.sgd(0.2), 0.2, b1=0.7)
    p = {"w": jnp.array([1.0, -2.0]), "b": jnp.array(3.0)}
    state = tx.init(p)
    zs = []
    for _ in range(10):
        updates, state = tx.update(jax.grad(small_loss)(p), state, p)
        p = optjax.apply_updates(p, updates)
        zs.append(state.z)
    mean_z = jax.tree.map(lambda *z: jnp.mean(jnp.stack(z), 0), *zs)
    x = optjax.schedule_free_eval_params(state, p)
    assert_trees_close(x, mean_z, rtol=1e-5, atol=1e-6, what="x vs mean z")


def _jax_loss_w(p):
    return jnp.sum((p["w"] - 1.0) ** 2)


def test_hyperparameters_may_be_traced_for_vmapped_sweeps():
    params = {"w": jnp.array([1.0, -2.0])}

    def final_loss(lr):
        tx = optjax.schedule_free_adamw(lr, b1=0.9)
        state = tx.init(params)

        def step(carry, _):
            p, s = carry
            u, s = tx.update(jax.grad(_jax_loss_w)(p), s, p)
            return (optjax.apply_updates(p, u), s), None

        (p, s), _ = jax.lax.scan(step, (params, state), None, length=5)
        return _jax_loss_w(optjax.schedule_free_eval_params(s, p))

    losses = jax.vmap(final_loss)(jnp.array([0.01, 0.1]))
    assert np.all(np.isfinite(losses)) and losses[1] < losses[0]


CONVERGENCE = {
    "schedule_free_adamw": (lambda: optjax.schedule_free_adamw(0.05), True),
    "schedule_free_adam_wrapper": (
        lambda: optjax.schedule_free(optjax.adam(0.05, b1=0.0), 0.05, b1=0.9),
        True,
    ),
}


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_reaches_the_minimum_of_an_ill_conditioned_quadratic(name):
    build, eval_params = CONVERGENCE[name]
    final = converge_on_quadratic(build(), eval_params)
    np.testing.assert_allclose(final, QUADRATIC_OPT, atol=1e-3, err_msg=name)


BAD = [
    (lambda: optjax.schedule_free_sgd(b1=0.0), "b1"),
    (lambda: optjax.schedule_free_sgd(b1=1.5), "b1"),
    (lambda: optjax.schedule_free_sgd(warmup_steps=0), "warmup_steps"),
    (lambda: optjax.schedule_free_sgd(warmup_steps=2.5), "warmup_steps"),
    (lambda: optjax.schedule_free_sgd(weight_decay=-1.0), "weight_decay"),
    (lambda: optjax.schedule_free_sgd(learning_rate=-0.1), "learning_rate"),
    (lambda: optjax.schedule_free_sgd(weight_lr_power=-1.0), "weight_lr_power"),
    (lambda: optjax.schedule_free_adamw(b2=1.0), "b2"),
    (lambda: optjax.schedule_free_adamw(eps=-1e-8), "eps"),
    (lambda: optjax.schedule_free_adamw(weight_decay=-0.1), "weight_decay"),
    (lambda: optjax.schedule_free(optjax.sgd(0.1), 0.1, b1=-0.5), "b1"),
]


@pytest.mark.parametrize("build, name", BAD, ids=[f"{i}-{b[1]}" for i, b in enumerate(BAD)])
def test_bad_hyperparameters_raise_value_error_naming_the_argument(build, name):
    with pytest.raises(ValueError, match=name):
        build()
