"""``optjax.experimental.aggregating`` against ``optax.experimental.aggregating``.

A few steps of each optimizer run on per-example gradients of a small linear
regression; updates and every state leaf must match Optax's. Closed forms pin
the mean/variance statistics, and bad input must fail with a clear message.
"""

import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optjax
from optjax.experimental import aggregating

OX = optax.experimental.aggregating
RNG = np.random.default_rng(3)
STEPS, BATCH = 4, 4
XS = jnp.asarray(RNG.normal(size=(STEPS, BATCH, 3)), jnp.float32)
YS = jnp.asarray(RNG.normal(size=(STEPS, BATCH, 2)), jnp.float32)
PARAMS = {"w": jnp.asarray(RNG.normal(size=(3, 2)), jnp.float32), "b": jnp.zeros((2,))}


def loss(params, x, y):
    pred = x @ params["w"] + params["b"]
    return jnp.sum((pred - y) ** 2)


per_example_grads = jax.vmap(jax.grad(loss), (None, 0, 0))


def run(opt, lib):
    """``STEPS`` jitted steps; returns the updates of each step and the final state."""

    @jax.jit
    def step(params, state, x, y):
        updates, state = opt.update(per_example_grads(params, x, y), state, params)
        return lib.apply_updates(params, updates), state, updates

    params, state, history = PARAMS, opt.init(PARAMS), []
    for x, y in zip(XS, YS):
        params, state, updates = step(params, state, x, y)
        history.append(updates)
    return history, state


def assert_same_run(make, rtol=0.0):
    ours_updates, ours_state = run(make(optjax, aggregating), optjax)
    theirs_updates, theirs_state = run(make(optax, OX), optax)
    close = chex.assert_trees_all_equal if rtol == 0 else chex.assert_trees_all_close
    kwargs = {} if rtol == 0 else {"rtol": rtol}
    close(ours_updates, theirs_updates, **kwargs)
    close(jax.tree.leaves(ours_state), jax.tree.leaves(theirs_state), **kwargs)
    return ours_state, theirs_state


PROCESS_CASES = {
    "average/adam": lambda lib, agg: agg.process(
        lib.identity(), agg.average_per_element_updates(), lib.adam(0.1)
    ),
    "accumulate_2/sgd": lambda lib, agg: agg.process(
        lib.identity(), agg.average_incrementally_updates(0, 2), lib.sgd(0.1, momentum=0.5)
    ),
    "clip_each_example": lambda lib, agg: agg.process(
        lib.stateless(
            lambda gs, _: jax.vmap(lambda g: lib.projections.projection_l2_ball(g, 1.0))(gs)
        ),
        agg.average_per_element_updates(),
        lib.sgd(0.1),
    ),
    "mean_variance/ema=0.9": lambda lib, agg: agg.add_mean_variance_to_opt(lib.adam(0.1), 0.9),
    "mean_variance/accumulate_2": lambda lib, agg: agg.add_mean_variance_to_opt(
        lib.sgd(0.1), 0.5, accumulation_steps=2
    ),
}


@pytest.mark.parametrize("name", list(PROCESS_CASES))
def test_process_matches_optax(name):
    if name == "clip_each_example" and not hasattr(optjax.projections, "projection_l2_ball"):
        pytest.skip("optjax.projections.projection_l2_ball is not in this tree yet")
    ours_state, theirs_state = assert_same_run(PROCESS_CASES[name])
    assert isinstance(ours_state, tuple) and len(ours_state) == 3
    if name.startswith("mean_variance"):
        chex.assert_trees_all_equal(
            aggregating.get_unbiased_mean_and_variance_ema(ours_state),
            OX.get_unbiased_mean_and_variance_ema(theirs_state),
        )


def test_unbiased_mean_and_variance_closed_form():
    opt = aggregating.add_mean_variance_to_opt(optjax.sgd(0.0), ema_decay=0.0)
    grads = per_example_grads(PARAMS, XS[0], YS[0])
    _, state = jax.jit(opt.update)(grads, opt.init(PARAMS), PARAMS)
    mean, var = aggregating.get_unbiased_mean_and_variance_ema(state)
    chex.assert_trees_all_close(mean, jax.tree.map(lambda g: g.mean(0), grads), rtol=1e-5)
    chex.assert_trees_all_close(var, jax.tree.map(lambda g: g.var(0, ddof=1), grads), rtol=1e-4)


@pytest.mark.parametrize("steps", [1, 3])
def test_mean_and_sum_sq_diff_over_several_axes(steps):
    grads = jnp.asarray(RNG.normal(size=(steps, 2, 3, 4)), jnp.float32)
    ours, theirs = (
        agg.get_per_element_mean_and_sum_sq_diff_grads(
            per_elt_axis=(0, 1), accumulation_steps=steps
        )
        for agg in (aggregating, OX)
    )
    ours_state, theirs_state = ours.init(jnp.zeros(4)), theirs.init(jnp.zeros(4))
    for g in grads:
        (ours_out, ours_state), (theirs_out, theirs_state) = (
            ours.update(g, ours_state),
            theirs.update(g, theirs_state, None),
        )
        chex.assert_trees_all_equal(ours_out, theirs_out)
    mean, aux = ours_out
    flat = np.asarray(grads).reshape(-1, 4)
    np.testing.assert_allclose(mean, flat.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(aux["sum_sq_diff_grads"], flat.var(0) * len(flat), rtol=1e-4)
    assert int(aux["sample_size"]) == len(flat)


def test_accumulate_avg_updates_cycle():
    tx = aggregating.accumulate_avg_updates(2)
    state = tx.init(jnp.zeros(2))
    assert state == type(state)(state.micro_step, state.ready, state.avg_grad)
    assert type(state).__name__ == "AccumulateAvgUpdatesState"
    emitted = []
    for g in ([1.0, 2.0], [3.0, 6.0], [5.0, 5.0], [7.0, 7.0]):
        updates, state = tx.update(jnp.array(g), state)
        emitted.append((np.asarray(updates).tolist(), bool(state.ready)))
    assert emitted == [([0, 0], False), ([2, 4], True), ([0, 0], False), ([6, 6], True)]


def test_ready_flag_in_a_custom_aggregator_state_gates_the_postprocessor():
    skip_odd = aggregating.Aggregator(
        init=lambda params: {"ready": jnp.asarray(False)},
        update=lambda gs, state, params=None: (gs.mean(0), {"ready": ~state["ready"]}),
    )
    opt = aggregating.process(optjax.identity(), skip_odd, optjax.sgd(1.0))
    assert isinstance(opt, aggregating.Aggregator)
    state = opt.init(jnp.zeros(1))
    first, state = opt.update(jnp.ones((2, 1)), state)
    second, state = opt.update(jnp.ones((2, 1)), state)
    np.testing.assert_array_equal(first, [-1.0])
    np.testing.assert_array_equal(second, [0.0])


def test_process_returns_a_plain_transform_for_a_plain_aggregator():
    opt = aggregating.process(
        optjax.identity(), aggregating.accumulate_avg_updates(2), optjax.sgd(1.0)
    )
    assert not isinstance(opt, aggregating.Aggregator)
    assert isinstance(opt, optjax.GradientTransformationExtraArgs)


def test_same_public_names_as_optax_at_both_paths():
    from optjax.experimental import _aggregating

    imported = {"Any", "NamedTuple", "Protocol", "Sequence", "base", "jax", "jnp", "math", "tree"}
    optax_names = {n for n in dir(OX) if not n.startswith("_")} - imported - {"utils"}
    assert optax_names == set(aggregating.__all__)
    assert all(getattr(_aggregating, n) is getattr(aggregating, n) for n in optax_names)


def test_bad_inputs():
    with pytest.raises(ValueError, match=re.escape("accumulation_steps must be an integer >= 1")):
        aggregating.accumulate_avg_updates(0)
    with pytest.raises(ValueError, match=re.escape("must have the same batch size")):
        aggregating.get_batch_size_from_per_elt_updates([jnp.zeros((2, 1)), jnp.zeros((3, 1))], 0)
    with pytest.raises(ValueError, match="holds no PerElementMeanAndVarianceEMAState"):
        aggregating.get_unbiased_mean_and_variance_ema(optjax.sgd(0.1).init(PARAMS))
    tx = aggregating.track_per_element_mean_and_variance_with_ema()
    with pytest.raises(
        TypeError, match="needs the extra arguments sum_sq_diff_grads and sample_size"
    ):
        tx.update(PARAMS, tx.init(PARAMS))
    with pytest.raises(ValueError, match=re.escape("ema_decay must be in [0, 1)")):
        aggregating.track_per_element_mean_and_variance_with_ema(1.5)
    with pytest.raises(TypeError, match="Expected a gradient transformation"):
        aggregating.process(optjax.identity(), "mean", optjax.sgd(0.1))
