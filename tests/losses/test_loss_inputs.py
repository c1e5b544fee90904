"""Loss options, edge cases, deliberate differences from Optax, and bad inputs.

Values are checked against ``optax.losses`` or a closed form; bad inputs must
raise one clear line naming the argument (and both shapes where two disagree).
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from optjax import losses

K = 4


def _normal(seed, shape):
    return jax.random.normal(jax.random.key(seed), shape)


@pytest.mark.parametrize("shape", [(K,), (2, 3, K)], ids=["1d", "3d"])
def test_class_axis_losses_match_optax_over_shapes(shape):
    logits, labels = _normal(0, shape), jax.nn.softmax(_normal(1, shape))
    log_p = jax.nn.log_softmax(logits)
    pairs = [
        (
            losses.softmax_cross_entropy(logits, labels),
            optax.losses.softmax_cross_entropy(logits, labels),
        ),
        (losses.kl_divergence(log_p, labels), optax.losses.kl_divergence(log_p, labels)),
        (losses.cosine_similarity(logits, labels), optax.losses.cosine_similarity(logits, labels)),
        (losses.smooth_labels(labels, 0.1), optax.losses.smooth_labels(labels, 0.1)),
    ]
    for got, want in pairs:
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_fully_masked_rows_give_zero_like_optax():
    logits = _normal(0, (2, K))
    labels = jax.nn.softmax(_normal(1, (2, K)))
    row_mask = jnp.array([True, False])  # the result's shape: one flag per row
    got = losses.softmax_cross_entropy(logits, labels, where=row_mask)
    np.testing.assert_allclose(
        got, optax.losses.softmax_cross_entropy(logits, labels, where=row_mask)
    )
    assert got[1] == 0.0
    int_labels = jnp.array([1, 2])
    got = losses.softmax_cross_entropy_with_integer_labels(logits, int_labels, where=row_mask)
    want = optax.losses.softmax_cross_entropy_with_integer_labels(
        logits, int_labels, where=row_mask
    )
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert got[1] == 0.0
    nothing = jnp.zeros((2, K), bool)
    assert losses.ranking_softmax_loss(logits, labels, where=nothing) == 0.0
    assert losses.ranking_softmax_loss(logits, labels, where=nothing, reduce_fn=jnp.sum) == 0.0


def test_cosine_zero_vector_nan_without_epsilon_like_optax():
    zero, other = jnp.zeros(3), jnp.ones(3)
    assert np.isnan(losses.cosine_similarity(zero, other))
    assert np.isnan(optax.losses.cosine_similarity(zero, other))
    assert losses.cosine_distance(zero, other, epsilon=1e-6) == 1.0


def test_label_smoothing_extremes():
    labels = jax.nn.one_hot(jnp.array([0, 3]), K)
    np.testing.assert_array_equal(losses.smooth_labels(labels, 0.0), labels)
    np.testing.assert_allclose(losses.smooth_labels(labels, 1.0), jnp.full((2, K), 1 / K))
    logits = _normal(0, (2, K))
    uniform = losses.softmax_cross_entropy(logits, jnp.full((2, K), 1 / K))
    got = losses.cross_entropy(logits, jnp.array([0, 3]), label_smoothing=1.0)
    np.testing.assert_allclose(got, uniform, rtol=1e-6)


def test_cross_entropy_smoothing_as_traced_array():
    logits, labels = _normal(0, (3, K)), jnp.array([0, 3, 1])
    got = jax.jit(lambda a: losses.cross_entropy(logits, labels, label_smoothing=a))(0.2)
    want = optax.losses.softmax_cross_entropy(
        logits, optax.losses.smooth_labels(jax.nn.one_hot(labels, K), 0.2)
    )
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_safe_softmax_cross_entropy_at_minus_inf():
    logits = jnp.array([0.5, -jnp.inf, 1.0])
    labels = jnp.array([0.3, 0.0, 0.7])
    value, grad = jax.value_and_grad(losses.safe_softmax_cross_entropy)(logits, labels)
    want = -(0.3 * jax.nn.log_softmax(logits)[0] + 0.7 * jax.nn.log_softmax(logits)[2])
    np.testing.assert_allclose(value, want, rtol=1e-6)
    np.testing.assert_allclose(grad, jax.nn.softmax(logits) - labels, atol=1e-6)
    assert np.isnan(losses.softmax_cross_entropy(logits, labels))  # 0 * -inf


def test_multiclass_sparsemax_gradient_is_projection_minus_one_hot():
    scores, labels = jnp.array([[1.0, 0.8, -1.0, 0.2]]), jnp.array([2])
    grad = jax.grad(lambda s: losses.multiclass_sparsemax_loss(s, labels).sum())(scores)
    # sparsemax([1, .8, -1, .2]) = [.6, .4, 0, 0] (threshold 0.4).
    np.testing.assert_allclose(grad, [[0.6, 0.4, -1.0, 0.0]], atol=1e-6)
    assert losses.multiclass_sparsemax_loss(jnp.array([[5.0, 0.0, 0.0, 0.0]]), jnp.array([0])) == 0


def test_ctc_padding_frames_do_not_change_the_loss():
    logits = _normal(0, (1, 4, 3))
    labels, label_paddings = jnp.array([[1, 2]]), jnp.zeros((1, 2))
    short = losses.ctc_loss(logits, jnp.zeros((1, 4)), labels, label_paddings)
    padded_logits = jnp.concatenate([logits, 100.0 * _normal(1, (1, 3, 3))], axis=1)
    padded = losses.ctc_loss(
        padded_logits, jnp.zeros((1, 7)).at[:, 4:].set(1.0), labels, label_paddings
    )
    np.testing.assert_allclose(padded, short, rtol=1e-6)


def test_kl_divergence_target_gradient_is_finite_at_zero():
    # Deliberate difference: Optax's gradient in the targets is NaN at 0.
    log_p = jax.nn.log_softmax(_normal(0, (2, K)))
    targets = jax.nn.softmax(_normal(1, (2, K))).at[:, 0].set(0.0)
    grad = jax.grad(lambda t: losses.kl_divergence(log_p, t).sum())(targets)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad[:, 1:], jnp.log(targets[:, 1:]) + 1 - log_p[:, 1:], rtol=1e-5)
    reference = jax.grad(lambda t: optax.losses.kl_divergence(log_p, t).sum())(targets)
    assert np.isnan(reference[:, 0]).all()


def test_dice_probability_check_is_skipped_under_jit_and_for_one_channel():
    # Deliberate difference: Optax raises a concretization error under jit and
    # rejects binary probabilities (they do not sum to 1 over one channel).
    probs = jax.nn.softmax(_normal(0, (2, 3, 3)))
    targets = jax.nn.one_hot(jnp.array([[0, 1, 2], [2, 2, 0]]), 3)
    eager = losses.dice_loss(probs, targets, apply_softmax=False)
    jitted = jax.jit(lambda p: losses.dice_loss(p, targets, apply_softmax=False))(probs)
    np.testing.assert_allclose(jitted, eager, rtol=1e-6)
    np.testing.assert_allclose(
        eager, optax.losses.dice_loss(probs, targets, apply_softmax=False), rtol=1e-6
    )
    binary = jax.nn.sigmoid(_normal(1, (2, 5)))
    binary_targets = (binary > 0.5).astype(jnp.float32)
    got = losses.binary_dice_loss(binary, binary_targets, apply_sigmoid=False)
    want = losses.binary_dice_loss(jnp.log(binary / (1 - binary)), binary_targets)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    with pytest.raises(ValueError, match="valid probability"):
        optax.losses.binary_dice_loss(binary, binary_targets, apply_sigmoid=False)


def test_convex_kl_divergence_warns_and_matches_generalized():
    log_p, targets = _normal(0, (2, K)), jnp.exp(_normal(1, (2, K)))
    with pytest.warns(DeprecationWarning, match="generalized_kl_divergence"):
        got = losses.convex_kl_divergence(log_p, targets)
    np.testing.assert_allclose(got, losses.generalized_kl_divergence(log_p, targets))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        np.testing.assert_allclose(
            got, optax.losses.convex_kl_divergence(log_p, targets), rtol=1e-6
        )


def test_broadcast_labels_under_rank_promotion_raise():
    # conftest sets jax_numpy_rank_promotion="raise"; optjax broadcasts explicitly.
    logits, labels = _normal(0, (3, K)), jax.nn.softmax(_normal(1, (K,)))
    got = losses.softmax_cross_entropy(logits, labels)
    with jax.numpy_rank_promotion("allow"):
        want = optax.losses.softmax_cross_entropy(logits, labels)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_fenchel_young_loss_passes_extra_arguments():
    # Deliberate difference: Optax drops keyword arguments (jnp.vectorize).
    def scaled_logsumexp(scores, scale, *, shift=0.0):
        return jax.nn.logsumexp(scores * scale) + shift

    loss = losses.make_fenchel_young_loss(scaled_logsumexp)
    scores, targets = _normal(0, (2, K)), jax.nn.softmax(_normal(1, (2, K)))
    want = jax.nn.logsumexp(scores * 2.0, axis=-1) + 1.0 - jnp.sum(targets * scores, axis=-1)
    np.testing.assert_allclose(loss(scores, targets, 2.0, shift=1.0), want, rtol=1e-6)
    dropped = optax.losses.make_fenchel_young_loss(lambda s, shift=0.0: jax.nn.logsumexp(s) + shift)
    no_shift = jax.nn.logsumexp(scores, axis=-1) - jnp.sum(targets * scores, axis=-1)
    np.testing.assert_allclose(dropped(scores, targets, shift=1.0), no_shift, rtol=1e-6)


Z23, Z24 = jnp.zeros((2, 3)), jnp.zeros((2, 4))
I2, I3 = jnp.zeros(2, jnp.int32), jnp.zeros(3, jnp.int32)
CTC = (jnp.zeros((2, 5, 3)), jnp.zeros((2, 5)), jnp.zeros((2, 2), jnp.int32), jnp.zeros((2, 2)))

BAD_INPUTS = [
    (
        "squared_error_shapes",
        lambda: losses.squared_error(Z23, jnp.zeros(3)),
        ValueError,
        r"\(2, 3\).*\(3,\)",
    ),
    ("squared_error_int", lambda: losses.squared_error(I3), TypeError, "predictions.*floating"),
    ("l2_loss_shapes", lambda: losses.l2_loss(Z23, Z24), ValueError, r"\(2, 3\).*\(2, 4\)"),
    (
        "huber_shapes",
        lambda: losses.huber_loss(Z23, Z24),
        ValueError,
        r"broadcastable.*\(2, 3\).*\(2, 4\)",
    ),
    ("huber_delta", lambda: losses.huber_loss(Z23, delta=0.0), ValueError, "delta"),
    (
        "ce_shapes",
        lambda: losses.softmax_cross_entropy(Z23, Z24),
        ValueError,
        r"\(2, 3\).*\(2, 4\)",
    ),
    (
        "ce_axis",
        lambda: losses.softmax_cross_entropy(Z23, Z23, axis=2),
        ValueError,
        "axis 2 is out of range.*rank 2",
    ),
    (
        "ce_int_logits",
        lambda: losses.softmax_cross_entropy(Z23.astype(int), Z23),
        TypeError,
        "logits.*floating",
    ),
    (
        "ce_where_shape",
        lambda: losses.softmax_cross_entropy(Z23, Z23, where=jnp.ones((3, 2), bool)),
        ValueError,
        "where",
    ),
    (
        "int_ce_float_labels",
        lambda: losses.softmax_cross_entropy_with_integer_labels(Z23, jnp.zeros(2)),
        TypeError,
        "labels.*integer",
    ),
    (
        "int_ce_shapes",
        lambda: losses.softmax_cross_entropy_with_integer_labels(Z23, I3),
        ValueError,
        r"\(2, 3\).*\(3,\)",
    ),
    (
        "int_ce_axis_none",
        lambda: losses.softmax_cross_entropy_with_integer_labels(Z23, I2, axis=None),
        ValueError,
        "axis",
    ),
    (
        "int_ce_axis_range",
        lambda: losses.softmax_cross_entropy_with_integer_labels(Z23, I2, axis=-3),
        ValueError,
        "axis -3",
    ),
    (
        "poly_int_labels",
        lambda: losses.poly_loss_cross_entropy(Z23, Z23.astype(int)),
        TypeError,
        "labels.*floating",
    ),
    (
        "cross_entropy_float_shapes",
        lambda: losses.cross_entropy(Z23, jnp.zeros((2,))),
        ValueError,
        r"\(2, 3\).*\(2,\)",
    ),
    (
        "cross_entropy_int_shapes",
        lambda: losses.cross_entropy(Z23, jnp.zeros((2, 3), jnp.int32)),
        ValueError,
        r"\(2, 3\).*\(2, 3\)",
    ),
    (
        "label_smoothing",
        lambda: losses.cross_entropy(Z23, I2, label_smoothing=-0.1),
        ValueError,
        "label_smoothing",
    ),
    ("smooth_alpha", lambda: losses.smooth_labels(jnp.zeros(3), 1.5), ValueError, "alpha"),
    ("smooth_axis", lambda: losses.smooth_labels(jnp.zeros(3), 0.1, axis=1), ValueError, "axis 1"),
    (
        "sigmoid_shapes",
        lambda: losses.sigmoid_binary_cross_entropy(Z23, Z24),
        ValueError,
        r"\(2, 3\).*\(2, 4\)",
    ),
    ("focal_alpha", lambda: losses.sigmoid_focal_loss(Z23, Z23, alpha=1.5), ValueError, "alpha"),
    ("focal_gamma", lambda: losses.sigmoid_focal_loss(Z23, Z23, gamma=-1.0), ValueError, "gamma"),
    (
        "perceptron_shapes",
        lambda: losses.perceptron_loss(Z23, jnp.zeros(3)),
        ValueError,
        r"\(2, 3\).*\(3,\)",
    ),
    (
        "multiclass_hinge_shapes",
        lambda: losses.multiclass_hinge_loss(Z23, jnp.zeros((2, 3), jnp.int32)),
        ValueError,
        r"\(2, 3\).*\(2,\)",
    ),
    (
        "multiclass_perceptron_float",
        lambda: losses.multiclass_perceptron_loss(Z23, jnp.zeros(2)),
        TypeError,
        "labels.*integer",
    ),
    (
        "sparsemax_scalar",
        lambda: losses.multiclass_sparsemax_loss(jnp.zeros(()), I2),
        ValueError,
        "class axis",
    ),
    ("kl_axis", lambda: losses.kl_divergence(Z23, Z23, axis=5), ValueError, "axis 5"),
    (
        "kl_shapes",
        lambda: losses.kl_divergence(Z23, Z24),
        ValueError,
        r"log_predictions.*\(2, 3\).*\(2, 4\)",
    ),
    (
        "kl_log_targets_int",
        lambda: losses.kl_divergence_with_log_targets(Z23, Z23.astype(int)),
        TypeError,
        "log_targets",
    ),
    (
        "cosine_where",
        lambda: losses.cosine_similarity(Z23, Z23, where=jnp.ones(2, bool)),
        ValueError,
        "where",
    ),
    ("ctc_rank", lambda: losses.ctc_loss(Z23, *CTC[1:]), ValueError, "logits must have rank 3"),
    (
        "ctc_logit_paddings",
        lambda: losses.ctc_loss(CTC[0], Z23, *CTC[2:]),
        ValueError,
        r"logit_paddings.*\(2, 5, 3\).*\(2, 3\)",
    ),
    (
        "ctc_label_paddings",
        lambda: losses.ctc_loss(*CTC[:3], Z23),
        ValueError,
        r"label_paddings.*\(2, 2\).*\(2, 3\)",
    ),
    (
        "ctc_batch",
        lambda: losses.ctc_loss(*CTC[:2], jnp.zeros((3, 2), int), jnp.zeros((3, 2))),
        ValueError,
        "batch size",
    ),
    ("ctc_blank_id", lambda: losses.ctc_loss(*CTC, blank_id=3), ValueError, "blank_id"),
    (
        "ranking_where",
        lambda: losses.ranking_softmax_loss(Z23, Z23, where=jnp.ones(2, bool)),
        ValueError,
        r"where.*\(2,\).*\(2, 3\)",
    ),
    (
        "dice_reduction",
        lambda: losses.dice_loss(Z23, Z23, reduction="max"),
        ValueError,
        "'mean', 'sum', 'none'",
    ),
    ("dice_shapes", lambda: losses.dice_loss(Z23, Z24), ValueError, r"\(2, 3\).*\(2, 4\)"),
    (
        "dice_class_weights",
        lambda: losses.dice_loss(Z23, Z23, class_weights=Z23),
        ValueError,
        "class_weights must have rank 1",
    ),
    (
        "dice_not_probs",
        lambda: losses.dice_loss(jnp.ones((2, 3, 3)), jnp.zeros((2, 3, 3)), apply_softmax=False),
        ValueError,
        "valid probability",
    ),
    (
        "ntxent_sizes",
        lambda: losses.ntxent(Z23, jnp.zeros(3, int)),
        ValueError,
        r"\(3,\).*\(2, 3\)",
    ),
    (
        "triplet_shapes",
        lambda: losses.triplet_margin_loss(Z23, Z24, Z23),
        ValueError,
        r"positives.*\(2, 4\)",
    ),
    ("fenchel_young_not_callable", lambda: losses.make_fenchel_young_loss(3), TypeError, "max_fun"),
]


@pytest.mark.parametrize(
    ("call", "error", "match"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_raises_one_clear_line(call, error, match):
    with pytest.raises(error, match=match) as info:
        call()
    assert "\n" not in str(info.value)
