"""conditionally_transform and conditionally_mask: values and states against Optax, bad predicates."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optjax

PARAMS = {"w": jnp.array([1.0, -2.0, 3.0]), "b": jnp.array(0.5)}


def _run(lib, wrapper, condition, steps=3, forward=False, **extra_args):
    tx = getattr(lib, wrapper)(lib.sgd(0.1, momentum=0.9), condition, forward_extra_args=forward)
    state = tx.init(PARAMS)
    outputs = []
    for i in range(steps):
        grads = jax.tree.map(lambda p, i=i: p * (i + 1), PARAMS)
        updates, state = tx.update(grads, state, PARAMS, **extra_args)
        outputs.append(updates)
    return outputs, state


@pytest.mark.parametrize("wrapper", ["conditionally_transform", "conditionally_mask"])
@pytest.mark.parametrize(
    "condition",
    [
        lambda step: step % 2 == 0,
        lambda step: jnp.int32(step > 1),  # a number is read as != 0, as by lax.cond
    ],
    ids=["even", "int"],
)
def test_matches_optax(wrapper, condition):
    ours, our_state = _run(optjax, wrapper, condition)
    ref, ref_state = _run(optax, wrapper, condition)
    for a, b in zip(ours, ref, strict=True):
        jax.tree.map(np.testing.assert_allclose, a, b)
    assert type(our_state).__name__ == type(ref_state).__name__
    assert our_state._fields == ref_state._fields
    for a, b in zip(jax.tree.leaves(our_state), jax.tree.leaves(ref_state), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b)


@pytest.mark.parametrize("wrapper", ["conditionally_transform", "conditionally_mask"])
def test_forwarded_extra_args_reach_the_condition(wrapper):
    def condition(step, *, gate, **extra_args):
        del step, extra_args
        return gate > 0

    ours, _ = _run(optjax, wrapper, condition, steps=2, forward=True, gate=1.0)
    ref, _ = _run(optax, wrapper, condition, steps=2, forward=True, gate=1.0)
    jax.tree.map(np.testing.assert_allclose, ours, ref)
    # Without forwarding, the extra args go to the inner transform only.
    ours, _ = _run(optjax, wrapper, lambda step: step < 1, steps=2, gate=1.0)
    ref, _ = _run(optax, wrapper, lambda step: step < 1, steps=2, gate=1.0)
    jax.tree.map(np.testing.assert_allclose, ours, ref)


def test_rejected_steps_pass_or_zero_the_updates_and_keep_the_inner_state():
    grads = {"w": jnp.ones(2, jnp.bfloat16)}
    for wrapper, expected in [
        (optjax.conditionally_transform, jnp.ones(2)),
        (optjax.conditionally_mask, jnp.zeros(2)),
    ]:
        tx = wrapper(optjax.adam(0.1), lambda step: step > 0)
        state = tx.init(grads)
        updates, new_state = jax.jit(tx.update)(grads, state)
        assert updates["w"].dtype == jnp.bfloat16
        np.testing.assert_array_equal(updates["w"].astype(jnp.float32), expected)
        assert int(new_state.step) == 1
        jax.tree.map(np.testing.assert_array_equal, new_state.inner_state, state.inner_state)


@pytest.mark.parametrize(
    "condition, message",
    [
        (lambda step: jnp.array([True, False]), r"shape \(\)"),
        (lambda step: jnp.ones((1,), bool), r"got an array of shape \(1,\)"),
        (lambda step: "yes", "got str"),
        (lambda step: None, "got NoneType"),
        (lambda step: jnp.array(1 + 0j), "complex64"),
    ],
)
@pytest.mark.parametrize("wrapper", [optjax.conditionally_transform, optjax.conditionally_mask])
def test_bad_condition_output_is_a_clear_type_error(wrapper, condition, message):
    tx = wrapper(optjax.sgd(0.1), condition)
    with pytest.raises(TypeError, match=rf"{wrapper.__name__}: should_transform_fn.*{message}"):
        jax.jit(tx.update)(PARAMS, tx.init(PARAMS))


def test_bad_updates_name_the_wrapper():
    tx = optjax.conditionally_mask(optjax.sgd(0.1), lambda step: True)
    with pytest.raises(ValueError, match=r"conditionally_mask.*\['b'\]"):
        tx.update({"w": PARAMS["w"]}, tx.init(PARAMS), PARAMS)
