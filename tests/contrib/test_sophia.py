"""Sophia beyond the registry: ``obj_fn`` through ``update``, Hutchinson, the refresh cadence.

The registry (``registry/contrib/sophia.py``) compares 100-step trajectories
with ``optax.contrib.sophia`` with the loss bound into the estimator. Here:
Sophia with ``obj_fn`` passed through ``update`` (as users call it) against
Optax step by step, the error when it is missing, Hutchinson's estimator, the
Hessian-refresh cadence, clipping, bad hyperparameters and convergence.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest
from contrib_helpers import QUADRATIC_OPT, converge_on_quadratic
from harness import assert_trees_close, loss, make_params

import optjax
from optjax.contrib._sophia import scale_by_sophia


def _sophia_run(tx, apply_updates, params, scales):
    """Scan over steps; step t's objective is ``scales[t] * loss`` (a changing batch)."""

    def step(carry, scale):
        params, state = carry
        obj_fn = lambda p: scale * loss(p)  # noqa: E731
        grads = jax.grad(obj_fn)(params)
        updates, state = tx.update(grads, state, params, obj_fn=obj_fn)
        return (apply_updates(params, updates), state), updates

    (params, state), updates = jax.lax.scan(step, (params, tx.init(params)), scales)
    return params, state, updates


SOPHIA_SETTINGS = {
    "default_key": dict(learning_rate=0.05),
    "interval=3,typed_key": dict(
        learning_rate=0.05,
        update_interval=3,
        b2=0.9,
        key=jax.random.key(5),
    ),
    "interval=1,gamma=1,clip=0.3": dict(
        learning_rate=0.1,
        update_interval=1,
        gamma=1.0,
        clip_threshold=0.3,
        key=jax.random.PRNGKey(11),
    ),
}


def _make_sophia(lib, kwargs):
    kwargs = dict(kwargs)
    key = kwargs.pop("key", None)
    module = lib.contrib if lib is optax else lib
    if key is None:
        return module.sophia(**kwargs)
    return module.sophia(
        **kwargs, hessian_diagonal_fn=module.hutchinson_estimator_diag_hessian(key)
    )


@pytest.mark.parametrize("name", sorted(SOPHIA_SETTINGS))
def test_sophia_with_obj_fn_matches_optax_step_by_step(name):
    kwargs = SOPHIA_SETTINGS[name]
    scales = jnp.linspace(1.0, 0.5, 25)

    @jax.jit
    def both(params):
        ours = _sophia_run(_make_sophia(optjax, kwargs), optjax.apply_updates, params, scales)
        ref = _sophia_run(_make_sophia(optax, kwargs), optax.apply_updates, params, scales)
        return ours, ref

    (params, state, updates), (ref_params, ref_state, ref_updates) = both(make_params())
    assert_trees_close(updates, ref_updates, rtol=1e-5, atol=1e-6, what=f"{name} updates")
    assert_trees_close(params, ref_params, rtol=1e-5, atol=1e-6, what=f"{name} params")
    assert_trees_close(state, ref_state, rtol=1e-5, atol=1e-6, what=f"{name} state")


@pytest.mark.parametrize(
    "call",
    [
        lambda tx, g, s, p: tx.update(g, s, p),
        lambda tx, g, s, p: tx.update(g, s, p, value=1.0),
        lambda tx, g, s, p: jax.jit(tx.update)(g, s, p),
    ],
    ids=["no_extra_args", "value_only", "jitted"],
)
def test_sophia_without_obj_fn_raises_type_error_saying_what_to_pass(call):
    tx = optjax.sophia(0.1)
    params = {"w": jnp.ones(3)}
    with pytest.raises(TypeError, match=r"obj_fn=") as info:
        call(tx, params, tx.init(params), params)
    assert "f(params)" in str(info.value) and "scalar loss" in str(info.value)


def test_hutchinson_rejects_missing_or_non_callable_obj_fn():
    est = optjax.hutchinson_estimator_diag_hessian()
    params = jnp.ones(2)
    with pytest.raises(TypeError, match="obj_fn"):
        est.update(params, est.init(params), params)
    with pytest.raises(TypeError, match="obj_fn must be a function"):
        est.update(params, est.init(params), params, obj_fn=3.0)
    with pytest.raises(ValueError, match="needs the current parameters"):
        est.update(params, est.init(params), obj_fn=jnp.sum)


def test_hutchinson_is_exact_for_diagonal_and_unbiased_for_coupled_hessians():
    curvature = jnp.array([1.0, 3.0, -2.0])
    diag_fn = lambda x: 0.5 * jnp.sum(curvature * x**2)  # noqa: E731
    est = optjax.hutchinson_estimator_diag_hessian(jax.random.key(0))
    x = jnp.array([0.3, -1.0, 2.0])
    out, _ = est.update(x, est.init(x), x, obj_fn=diag_fn)
    np.testing.assert_allclose(out, curvature)

    hessian = jnp.array([[2.0, 0.5, -0.3], [0.5, 1.0, 0.8], [-0.3, 0.8, 3.0]])
    coupled = lambda x: 0.5 * x @ hessian @ x  # noqa: E731

    def sample(key):
        e = optjax.hutchinson_estimator_diag_hessian(key)
        return e.update(x, e.init(x), x, obj_fn=coupled)[0]

    samples = jax.jit(jax.vmap(sample))(jax.random.split(jax.random.key(1), 4000))
    np.testing.assert_allclose(samples.mean(0), jnp.diag(hessian), atol=0.05)


def test_sophia_refreshes_the_hessian_on_steps_0_k_2k():
    calls = []

    def counting_estimator():
        def update(updates, state, params=None, **extra_args):
            # Runs inside lax.cond: report the step from the state.
            jax.debug.callback(lambda c: calls.append(int(c)), state)
            return jax.tree.map(jnp.ones_like, updates), state + 1

        return optjax.GradientTransformation(lambda p: jnp.zeros([], jnp.int32), update)

    tx = scale_by_sophia(update_interval=3, b2=0.5, hessian_diagonal_fn=counting_estimator())
    params = jnp.ones(2)
    state = tx.init(params)
    nus = []
    for _ in range(8):
        _, state = tx.update(params, state, params)
        nus.append(float(state.nu[0]))
    jax.effects_barrier()
    # Refreshed before steps 1, 4, 7 (state.count 0, 3, 6); h halves its gap to 1 each time.
    assert calls == [0, 1, 2]
    assert nus == [0.5, 0.5, 0.5, 0.75, 0.75, 0.75, 0.875, 0.875]
    assert int(state.hessian_fn_state) == 3


def test_sophia_clips_updates_and_first_step_is_sign_like():
    tx = optjax.sophia(0.1, weight_decay=0.0, clip_threshold=0.5)
    params = {"w": jnp.array([[1.0, -2.0], [0.0, 3.0]]), "b": jnp.array(0.5)}
    grads = {"w": jnp.array([[1e-3, -2.0], [0.0, 5.0]]), "b": jnp.array(-1e-12)}
    updates, _ = tx.update(grads, tx.init(params), params, obj_fn=loss)
    # h = 0 at step 1: m / eps saturates the clip except for (near-)zero gradients.
    np.testing.assert_allclose(updates["w"], [[-0.05, 0.05], [0.0, -0.05]])
    np.testing.assert_allclose(updates["b"], 1e-12 / 1e-8 * 0.1, rtol=1e-4)


def test_sophia_rejects_a_hessian_fn_that_is_not_a_transformation():
    with pytest.raises(TypeError, match="hessian_diagonal_fn"):
        optjax.sophia(0.1, hessian_diagonal_fn=lambda p: p)


CONVERGENCE = {
    "sophia": (lambda: optjax.sophia(0.05, weight_decay=0.0, gamma=1.0, update_interval=5), False),
}


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_reaches_the_minimum_of_an_ill_conditioned_quadratic(name):
    build, eval_params = CONVERGENCE[name]
    final = converge_on_quadratic(build(), eval_params)
    np.testing.assert_allclose(final, QUADRATIC_OPT, atol=1e-3, err_msg=name)


BAD = [
    (lambda: optjax.sophia(0.1, b1=1.0), "b1"),
    (lambda: optjax.sophia(0.1, b2=-0.1), "b2"),
    (lambda: optjax.sophia(0.1, gamma=-1.0), "gamma"),
    (lambda: optjax.sophia(0.1, eps=-1.0), "eps"),
    (lambda: optjax.sophia(0.1, clip_threshold=0.0), "clip_threshold"),
    (lambda: optjax.sophia(0.1, update_interval=0), "update_interval"),
    (lambda: optjax.sophia(0.1, update_interval=2.5), "update_interval"),
    (lambda: optjax.sophia(0.1, weight_decay=-1.0), "weight_decay"),
    (lambda: optjax.sophia(-0.1), "learning_rate"),
    (lambda: optjax.sophia(0.1, verbose=True), "print_win_rate_every_n_steps"),
]


@pytest.mark.parametrize("build, name", BAD, ids=[f"{i}-{b[1]}" for i, b in enumerate(BAD)])
def test_bad_hyperparameters_raise_value_error_naming_the_argument(build, name):
    with pytest.raises(ValueError, match=name):
        build()
