"""Losses and penalties in ``optjax.losses``, checked against ``optax.losses``."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optjax
from optjax import losses

K = 5


def _logits(seed, shape=(4, K), extreme=True):
    x = jax.random.normal(jax.random.key(seed), shape) * 3.0
    if extreme:
        # Logits of +-1e4 would overflow a naive exp: they pin the stable forms.
        x = x.at[0, 0].set(1e4).at[1, 1].set(-1e4).at[2].set(1e4)
    return x


def _probs(seed, shape=(4, K)):
    return jax.nn.softmax(jax.random.normal(jax.random.key(seed), shape), axis=-1)


def _int_labels(seed, shape=(4,)):
    return jax.random.randint(jax.random.key(seed), shape, 0, K)


def _regression_inputs(seed):
    p = jax.random.normal(jax.random.key(seed), (3, 4)) * 2.0
    t = jax.random.normal(jax.random.key(seed + 1), (3, 4))
    return p.at[0, 0].set(1e4).at[1, 1].set(-1e4), t


def _sparse_targets(seed):
    # Zero probabilities exercise the 0 log 0 = 0 convention.
    return _probs(seed).at[:, 0].set(0.0)


# (name, optjax loss, reference, inputs); references are optax.losses functions
# or, where optax has none, the closed form.
CASES = [
    ("squared_error", losses.squared_error, optax.losses.squared_error, _regression_inputs),
    (
        "squared_error_no_targets",
        losses.squared_error,
        optax.losses.squared_error,
        lambda s: _regression_inputs(s)[:1],
    ),
    (
        "mean_squared_error",
        losses.mean_squared_error,
        lambda p, t: optax.losses.squared_error(p, t).mean(),
        _regression_inputs,
    ),
    ("absolute_error", losses.absolute_error, lambda p, t: jnp.abs(p - t), _regression_inputs),
    (
        "mean_absolute_error",
        losses.mean_absolute_error,
        lambda p, t: jnp.mean(jnp.abs(p - t)),
        _regression_inputs,
    ),
    ("huber_loss", losses.huber_loss, optax.losses.huber_loss, _regression_inputs),
    (
        "huber_loss_delta",
        lambda p, t: losses.huber_loss(p, t, delta=0.3),
        lambda p, t: optax.losses.huber_loss(p, t, delta=0.3),
        _regression_inputs,
    ),
    ("log_cosh", losses.log_cosh, optax.losses.log_cosh, _regression_inputs),
    (
        "log_cosh_no_targets",
        losses.log_cosh,
        optax.losses.log_cosh,
        lambda s: _regression_inputs(s)[:1],
    ),
    (
        "cosine_distance",
        losses.cosine_distance,
        optax.losses.cosine_distance,
        _regression_inputs,
    ),
    (
        "cosine_distance_eps",
        lambda p, t: losses.cosine_distance(p * 1e-4, t, epsilon=0.1),
        lambda p, t: optax.losses.cosine_distance(p * 1e-4, t, epsilon=0.1),
        _regression_inputs,
    ),
    (
        "softmax_cross_entropy",
        losses.softmax_cross_entropy,
        optax.losses.softmax_cross_entropy,
        lambda s: (_logits(s), _probs(s + 1)),
    ),
    (
        "softmax_cross_entropy_with_integer_labels",
        losses.softmax_cross_entropy_with_integer_labels,
        optax.losses.softmax_cross_entropy_with_integer_labels,
        lambda s: (_logits(s), _int_labels(s + 1)),
    ),
    (
        "cross_entropy_integer",
        losses.cross_entropy,
        optax.losses.softmax_cross_entropy_with_integer_labels,
        lambda s: (_logits(s), _int_labels(s + 1)),
    ),
    (
        "cross_entropy_probabilities",
        losses.cross_entropy,
        optax.losses.softmax_cross_entropy,
        lambda s: (_logits(s), _probs(s + 1)),
    ),
    (
        "sigmoid_binary_cross_entropy",
        losses.sigmoid_binary_cross_entropy,
        optax.losses.sigmoid_binary_cross_entropy,
        lambda s: (_logits(s), jax.random.uniform(jax.random.key(s + 1), (4, K))),
    ),
    (
        "hinge_loss",
        losses.hinge_loss,
        optax.losses.hinge_loss,
        lambda s: (_logits(s, extreme=False), jnp.sign(_logits(s + 1, extreme=False))),
    ),
    (
        "multiclass_hinge_loss",
        losses.multiclass_hinge_loss,
        optax.losses.multiclass_hinge_loss,
        lambda s: (_logits(s), _int_labels(s + 1)),
    ),
    (
        "kl_divergence",
        losses.kl_divergence,
        optax.losses.kl_divergence,
        lambda s: (jax.nn.log_softmax(_logits(s)), _sparse_targets(s + 1)),
    ),
    ("smooth_labels", losses.smooth_labels, optax.smooth_labels, lambda s: (_probs(s), 0.2)),
]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("name", "ours", "reference", "inputs"), CASES, ids=[c[0] for c in CASES])
def test_matches_reference(name, ours, reference, inputs, seed):
    args = inputs(seed)
    got, want = ours(*args), reference(*args)
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


GRAD_CASES = [
    ("huber_loss", losses.huber_loss, optax.losses.huber_loss, _regression_inputs),
    ("log_cosh", losses.log_cosh, optax.losses.log_cosh, _regression_inputs),
    CASES[11],  # softmax_cross_entropy
    CASES[12],  # softmax_cross_entropy_with_integer_labels
    CASES[15],  # sigmoid_binary_cross_entropy
    CASES[18],  # kl_divergence
]


@pytest.mark.parametrize(
    ("name", "ours", "reference", "inputs"), GRAD_CASES, ids=[c[0] for c in GRAD_CASES]
)
def test_gradient_matches_reference(name, ours, reference, inputs):
    args = inputs(0)

    def grad(fn):
        return jax.grad(lambda first: jnp.sum(fn(first, *args[1:])))(args[0])

    got, want = grad(ours), grad(reference)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_kl_divergence_gradient_is_finite_at_zero_targets():
    log_p = jax.nn.log_softmax(_logits(0, extreme=False))
    targets = _sparse_targets(1)
    grad = jax.grad(lambda t: jnp.sum(losses.kl_divergence(log_p, t)))(targets)
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("alpha", [0.1, 0.5, 1.0])
def test_cross_entropy_label_smoothing_matches_optax(alpha):
    logits, labels = _logits(0), _int_labels(1)
    one_hot = jax.nn.one_hot(labels, K)
    want = optax.losses.softmax_cross_entropy(logits, optax.smooth_labels(one_hot, alpha))
    np.testing.assert_allclose(
        losses.cross_entropy(logits, labels, label_smoothing=alpha), want, rtol=1e-6
    )
    np.testing.assert_allclose(
        losses.cross_entropy(logits, one_hot, label_smoothing=alpha), want, rtol=1e-6
    )


def test_cross_entropy_smoothing_as_traced_array():
    logits, labels = _logits(0), _int_labels(1)
    got = jax.jit(lambda a: losses.cross_entropy(logits, labels, label_smoothing=a))(0.2)
    want = losses.cross_entropy(logits, labels, label_smoothing=0.2)
    np.testing.assert_allclose(got, want, rtol=1e-6)


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


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: losses.softmax_cross_entropy(jnp.zeros((2, 3)), jnp.zeros((2, 4))),
            ValueError,
            r"\(2, 3\).*\(2, 4\)",
        ),
        (
            lambda: losses.softmax_cross_entropy_with_integer_labels(
                jnp.zeros((2, 3)), jnp.zeros((3,), jnp.int32)
            ),
            ValueError,
            r"\(2, 3\).*\(3,\)",
        ),
        (
            lambda: losses.softmax_cross_entropy_with_integer_labels(
                jnp.zeros((2, 3)), jnp.zeros((2,))
            ),
            ValueError,
            "integer dtype",
        ),
        (
            lambda: losses.multiclass_hinge_loss(jnp.zeros((2, 3)), jnp.zeros((2, 3), jnp.int32)),
            ValueError,
            r"\(2, 3\).*\(2, 3\)",
        ),
        (
            lambda: losses.cross_entropy(jnp.zeros((2, 3)), jnp.zeros((2,))),
            ValueError,
            r"\(2, 3\).*\(2,\)",
        ),
        (
            lambda: losses.cross_entropy(jnp.zeros((2, 3)), jnp.zeros((2, 3), jnp.int32)),
            ValueError,
            r"\(2, 3\).*\(2, 3\)",
        ),
        (
            lambda: losses.squared_error(jnp.zeros((2, 3)), jnp.zeros((3,))),
            ValueError,
            r"\(2, 3\).*\(3,\)",
        ),
        (lambda: losses.squared_error(jnp.zeros(3, jnp.int32)), ValueError, "floating"),
        (lambda: losses.smooth_labels(jnp.zeros(3), 1.5), ValueError, "alpha"),
        (
            lambda: losses.cross_entropy(
                jnp.zeros((2, 3)), jnp.zeros(2, jnp.int32), label_smoothing=-0.1
            ),
            ValueError,
            "label_smoothing",
        ),
        (lambda: losses.huber_loss(jnp.zeros(3), delta=0.0), ValueError, "delta"),
        (lambda: losses.l2_penalty(_params(), -1.0), ValueError, "strength"),
        (lambda: losses.l1_penalty(_params(), -1.0), ValueError, "strength"),
    ],
    ids=[
        "ce_shapes",
        "int_ce_shapes",
        "int_ce_float_labels",
        "multiclass_hinge_shapes",
        "cross_entropy_float_shapes",
        "cross_entropy_int_shapes",
        "squared_error_shapes",
        "squared_error_int",
        "smooth_alpha",
        "label_smoothing",
        "huber_delta",
        "l2_strength",
        "l1_strength",
    ],
)
def test_bad_input_raises(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_penalty_keeps_low_precision_dtype():
    params = {"w": jnp.ones(3, jnp.bfloat16)}
    assert losses.l2_penalty(params, 0.1).dtype == jnp.bfloat16
