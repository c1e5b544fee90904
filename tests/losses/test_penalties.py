"""Keras-style parameter penalties in ``optjax.losses._penalties``."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optjax
from optjax import losses


def _params():
    return {
        "layer": {"w": jnp.array([[1.0, -2.0], [0.5, 3.0]]), "b": jnp.array([-1.5, 2.5])},
        "scale": jnp.array(-0.7),
        "unused": None,
    }


@pytest.mark.parametrize(
    ("penalty", "transform"),
    [(losses.l2_penalty, optjax.add_l2_penalty), (losses.l1_penalty, optjax.add_l1_penalty)],
    ids=["l2", "l1"],
)
def test_penalty_gradient_equals_added_term(penalty, transform):
    params = _params()  # no zero entries, where the L1 subgradient choices differ
    zeros = jax.tree.map(jnp.zeros_like, params)
    tx = transform(0.3)
    added, _ = tx.update(zeros, tx.init(params), params)
    grad = jax.grad(lambda p: penalty(p, 0.3))(params)
    jax.tree.map(lambda g, a: np.testing.assert_allclose(g, a, rtol=1e-6), grad, added)


def test_penalty_values():
    params = _params()
    leaves = jax.tree.leaves(params)
    np.testing.assert_allclose(
        losses.l2_penalty(params, 0.1), 0.1 * sum(float(jnp.sum(x**2)) for x in leaves), rtol=1e-6
    )
    np.testing.assert_allclose(
        losses.l1_penalty(params, 0.1),
        0.1 * sum(float(jnp.sum(jnp.abs(x))) for x in leaves),
        rtol=1e-6,
    )
    assert losses.l2_penalty({}, 0.1) == 0.0


@pytest.mark.parametrize(
    "mask",
    [
        {"layer": {"w": True, "b": False}, "scale": False, "unused": None},
        {"layer": {"w": True, "b": False}, "scale": False, "unused": False},
        lambda p: jax.tree.map(lambda x: x.ndim > 1, p),
    ],
    ids=["tree", "tree_none", "callable"],
)
@pytest.mark.parametrize("penalty", [losses.l1_penalty, losses.l2_penalty], ids=["l1", "l2"])
def test_penalty_mask_selects_leaves(penalty, mask):
    params = _params()
    want = penalty({"w": params["layer"]["w"]}, 0.5)
    np.testing.assert_allclose(penalty(params, 0.5, mask=mask), want, rtol=1e-6)


def test_penalty_prefix_mask():
    params = _params()
    mask = {"layer": True, "scale": False, "unused": None}
    want = losses.l2_penalty(params["layer"], 0.5)
    np.testing.assert_allclose(losses.l2_penalty(params, 0.5, mask=mask), want, rtol=1e-6)


def test_penalty_bad_mask_names_key_path():
    mask = {"layer": {"w": True}, "scale": False, "unused": None}
    with pytest.raises(ValueError, match=r"l2_penalty.*\['layer'\]"):
        losses.l2_penalty(_params(), 0.1, mask=mask)
    with pytest.raises(TypeError, match=r"key path \['scale'\]"):
        losses.l1_penalty(_params(), 0.1, mask={"layer": True, "scale": 1.0, "unused": None})


@pytest.mark.parametrize("penalty", [losses.l1_penalty, losses.l2_penalty], ids=["l1", "l2"])
def test_penalty_negative_strength_raises(penalty):
    with pytest.raises(ValueError, match="strength"):
        penalty(_params(), -1.0)


def test_penalty_keeps_low_precision_dtype():
    params = {"w": jnp.ones(3, jnp.bfloat16)}
    assert losses.l2_penalty(params, 0.1).dtype == jnp.bfloat16
