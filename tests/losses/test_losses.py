"""Every ``optax.losses`` name in ``optjax.losses``: values and gradients against Optax.

One table drives the checks: each case builds inputs for a dtype, and optjax
must match ``optax.losses`` on the values, the output shape and dtype, and the
gradient with respect to the first argument. Inputs include extreme logits,
zero probabilities and masked entries, so the stable forms are pinned too.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.scipy.special import logsumexp

import optjax
from optjax import losses

K = 5
F32, BF16 = jnp.float32, jnp.bfloat16


def _normal(seed, shape, dtype, scale=1.0):
    return (jax.random.normal(jax.random.key(seed), shape) * scale).astype(dtype)


def _logits(seed, dtype, shape=(4, K)):
    # +-1e4 would overflow a naive exp: it pins the stable forms.
    x = _normal(seed, shape, F32, 3.0).at[0, 0].set(1e4).at[1, 1].set(-1e4)
    return x.astype(dtype)


def _probs(seed, dtype, shape=(4, K)):
    return jax.nn.softmax(_normal(seed, shape, F32), axis=-1).astype(dtype)


def _int_labels(seed, shape=(4,), num=K):
    return jax.random.randint(jax.random.key(seed), shape, 0, num)


def _regression(dtype, shape=(3, 4)):
    return _normal(0, shape, dtype, 2.0), _normal(1, shape, dtype)


def _vectors(dtype):
    p, t = _normal(0, (2, 3, 4), dtype), _normal(1, (2, 3, 4), dtype)
    return p.at[0, 0].set(0.0), t  # a zero vector, with epsilon > 0


def _sparse_targets(dtype):
    # Zero probabilities exercise the 0 log 0 = 0 convention.
    return _probs(1, F32).at[:, 0].set(0.0).astype(dtype)


def _ctc_inputs(dtype):
    logits = _normal(0, (3, 6, 4), dtype)
    labels = jnp.array([[1, 2, 2], [3, 1, 0], [2, 0, 0]])  # a repeat, then right padding
    label_paddings = jnp.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    logit_paddings = jnp.zeros((3, 6)).at[1, 5:].set(1.0).at[2, 3:].set(1.0)
    return logits, logit_paddings, labels, label_paddings


def _segmentation_inputs(dtype, classes=3):
    logits = _normal(0, (2, 4, 4, classes), dtype)
    targets = jax.nn.one_hot(_int_labels(1, (2, 4, 4), classes), classes, dtype=dtype)
    return logits, targets


def _ranking_inputs(dtype):
    scores = _normal(0, (3, 4), dtype)
    labels = jnp.array([[1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 1.0], [1.0, 1.0, 0.0, 0.0]])
    return scores, labels.astype(dtype)


_WHERE = jnp.array([[True, True, False, True], [False, False, False, False], [True] * 4])
_WEIGHTS = jnp.array([[1.0, 2.0, 0.5, 1.0]] * 3)


def _same(fn_name, **kwargs):
    """The optjax and Optax versions of one loss, with the same keyword arguments."""
    ours = functools.partial(getattr(losses, fn_name), **kwargs)
    reference = functools.partial(getattr(optax.losses, fn_name), **kwargs)
    return ours, reference


def _case(case_id, fn_name, inputs, *, kwargs=None, dtypes=(F32,), grad=True):
    ours, reference = _same(fn_name, **(kwargs or {}))
    return [
        pytest.param(ours, reference, inputs, dtype, grad, id=f"{case_id}-{jnp.dtype(dtype).name}")
        for dtype in dtypes
    ]


_fy_ours = losses.make_fenchel_young_loss(logsumexp)
_fy_reference = optax.losses.make_fenchel_young_loss(logsumexp)

CASES = [
    *_case("squared_error", "squared_error", _regression),
    *_case("squared_error_no_targets", "squared_error", lambda d: _regression(d)[:1]),
    *_case("l2_loss", "l2_loss", _regression),
    *_case("huber_loss", "huber_loss", _regression, dtypes=(F32, BF16)),
    *_case("huber_loss_delta", "huber_loss", _regression, kwargs={"delta": 0.3}),
    *_case("log_cosh", "log_cosh", _regression),
    *_case("cosine_similarity", "cosine_similarity", _regression, dtypes=(F32, BF16)),
    *_case("cosine_similarity_eps", "cosine_similarity", _vectors, kwargs={"epsilon": 1e-3}),
    *_case("cosine_distance_axis0", "cosine_distance", _vectors, kwargs={"axis": 0}),
    *_case("cosine_distance_axes", "cosine_distance", _vectors, kwargs={"axis": (1, 2)}),
    *_case(
        "cosine_distance_where",
        "cosine_distance",
        _regression,
        kwargs={"where": jnp.array([True, False, True, True])},
    ),
    *_case(
        "softmax_ce",
        "softmax_cross_entropy",
        lambda d: (_logits(0, d), _probs(1, F32)),
        dtypes=(F32, BF16),
    ),
    *_case(
        "softmax_ce_3d_axis1",
        "softmax_cross_entropy",
        lambda d: (_logits(0, d, (2, K, 3)), _probs(1, F32, (2, K, 3))),
        kwargs={"axis": 1},
    ),
    *_case(
        "softmax_ce_where_rows",
        "softmax_cross_entropy",
        lambda d: (_logits(0, d), _probs(1, F32)),
        kwargs={"where": jnp.array([[True, False, True, True, True]] * 4)},
    ),
    *_case(
        "safe_softmax_ce_neg_inf",
        "safe_softmax_cross_entropy",
        lambda d: (
            _logits(0, d).at[:, 2].set(-jnp.inf),
            _probs(1, F32).at[:, 2].set(0.0),
        ),
    ),
    *_case(
        "integer_ce",
        "softmax_cross_entropy_with_integer_labels",
        lambda d: (_logits(0, d), _int_labels(1)),
        dtypes=(F32, BF16),
    ),
    *_case(
        "integer_ce_axis0",
        "softmax_cross_entropy_with_integer_labels",
        lambda d: (_logits(0, d, (K, 3)), _int_labels(1, (3,))),
        kwargs={"axis": 0},
    ),
    *_case(
        "integer_ce_axes",
        "softmax_cross_entropy_with_integer_labels",
        lambda d: (_normal(0, (2, 3, 4), d), _int_labels(1, (2,), 12)),
        kwargs={"axis": (1, 2)},
    ),
    *_case(
        "integer_ce_where",
        "softmax_cross_entropy_with_integer_labels",
        lambda d: (_logits(0, d), jnp.array([0, 1, 3, 4])),
        kwargs={"where": jnp.array([[True, True, False, True, True]] * 3 + [[False] * K])},
    ),
    *_case(
        "poly_loss",
        "poly_loss_cross_entropy",
        lambda d: (_logits(0, d), _probs(1, d)),
        dtypes=(F32, BF16),
    ),
    *_case(
        "poly_loss_eps_where",
        "poly_loss_cross_entropy",
        lambda d: (_logits(0, d), _probs(1, d)),
        kwargs={"epsilon": -1.0, "where": jnp.array([[True, True, True, False, True]] * 4)},
    ),
    *_case(
        "sigmoid_bce",
        "sigmoid_binary_cross_entropy",
        lambda d: (_logits(0, d), jax.random.uniform(jax.random.key(1), (4, K))),
        dtypes=(F32, BF16),
    ),
    *_case(
        "sigmoid_focal",
        "sigmoid_focal_loss",
        lambda d: (_logits(0, d), jax.random.bernoulli(jax.random.key(1), 0.3, (4, K))),
    ),
    *_case(
        "sigmoid_focal_alpha_gamma",
        "sigmoid_focal_loss",
        lambda d: (_logits(0, d), jax.random.uniform(jax.random.key(1), (4, K))),
        kwargs={"alpha": 0.25, "gamma": 0.5},
        dtypes=(F32, BF16),
    ),
    *_case(
        "hinge",
        "hinge_loss",
        lambda d: (_normal(0, (4, K), d), jnp.sign(_normal(1, (4, K), d))),
    ),
    *_case(
        "perceptron",
        "perceptron_loss",
        lambda d: (_normal(0, (4, K), d), jnp.sign(_normal(1, (4, K), d))),
    ),
    *_case(
        "multiclass_hinge",
        "multiclass_hinge_loss",
        lambda d: (_logits(0, d), _int_labels(1)),
    ),
    *_case(
        "multiclass_perceptron",
        "multiclass_perceptron_loss",
        lambda d: (_logits(0, d), _int_labels(1)),
    ),
    *_case(
        "sparsemax",
        "sparsemax_loss",
        lambda d: (
            _normal(0, (4, K), d, 2.0),
            jax.random.bernoulli(jax.random.key(1), 0.5, (4, K)),
        ),
    ),
    *_case(
        "multiclass_sparsemax",
        "multiclass_sparsemax_loss",
        lambda d: (_normal(0, (4, K), d, 2.0), _int_labels(1)),
        dtypes=(F32,),
    ),
    # Optax's simplex projection has no bfloat16 gradient: values only.
    *_case(
        "multiclass_sparsemax_values",
        "multiclass_sparsemax_loss",
        lambda d: (_normal(0, (4, K), d, 2.0), _int_labels(1)),
        dtypes=(BF16,),
        grad=False,
    ),
    *_case(
        "kl",
        "kl_divergence",
        lambda d: (jax.nn.log_softmax(_logits(0, d)), _sparse_targets(d)),
        dtypes=(F32, BF16),
    ),
    *_case(
        "kl_where_axis0",
        "kl_divergence",
        lambda d: (jax.nn.log_softmax(_logits(0, d), axis=0), _sparse_targets(d)),
        kwargs={"axis": 0, "where": jnp.array([[True] * K, [True] * K, [False] * K, [True] * K])},
    ),
    *_case(
        "kl_log_targets",
        "kl_divergence_with_log_targets",
        lambda d: (jax.nn.log_softmax(_logits(0, d)), jnp.log(_probs(1, d))),
    ),
    *_case(
        "generalized_kl",
        "generalized_kl_divergence",
        lambda d: (_normal(0, (4, K), d), jnp.exp(_normal(1, (4, K), d))),
    ),
    *_case(
        "generalized_kl_none",
        "generalized_kl_divergence",
        lambda d: (_normal(0, (4, K), d), jnp.exp(_normal(1, (4, K), d))),
        kwargs={"axis": None},
    ),
    *_case("smooth_labels", "smooth_labels", lambda d: (_probs(0, d), 0.2), dtypes=(F32, BF16)),
    *_case(
        "smooth_labels_where",
        "smooth_labels",
        lambda d: (_probs(0, d), 0.3),
        kwargs={"where": jnp.array([[True, True, False, True, True]] * 4)},
    ),
    *_case("smooth_labels_alpha1", "smooth_labels", lambda d: (_probs(0, d), 1.0)),
    *_case("ctc", "ctc_loss", _ctc_inputs, dtypes=(F32,)),
    *_case("ranking", "ranking_softmax_loss", _ranking_inputs),
    *_case(
        "ranking_where_weights_sum",
        "ranking_softmax_loss",
        _ranking_inputs,
        kwargs={"where": _WHERE, "weights": _WEIGHTS, "reduce_fn": jnp.sum},
    ),
    *_case(
        "ranking_where_mean",
        "ranking_softmax_loss",
        _ranking_inputs,
        kwargs={"where": _WHERE},
    ),
    *_case(
        "ranking_unreduced",
        "ranking_softmax_loss",
        _ranking_inputs,
        kwargs={"where": _WHERE, "reduce_fn": None},
    ),
    *_case("dice", "dice_loss", _segmentation_inputs, dtypes=(F32, BF16)),
    *_case(
        "dice_tversky_weights",
        "dice_loss",
        _segmentation_inputs,
        kwargs={"alpha": 0.3, "beta": 0.7, "class_weights": jnp.array([0.2, 1.0, 2.0])},
    ),
    *_case(
        "dice_none_background",
        "dice_loss",
        _segmentation_inputs,
        kwargs={"reduction": "none", "ignore_background": True, "smooth": 0.1},
    ),
    *_case(
        "dice_sum_axis",
        "dice_loss",
        _segmentation_inputs,
        kwargs={"reduction": "sum", "axis": (1,)},
    ),
    *_case(
        "dice_binary_channel",
        "dice_loss",
        lambda d: _segmentation_inputs(d, 1),
    ),
    *_case("generalized_dice", "multiclass_generalized_dice_loss", _segmentation_inputs),
    *_case(
        "binary_dice",
        "binary_dice_loss",
        lambda d: (
            _normal(0, (2, 6), d),
            jax.random.bernoulli(jax.random.key(1), 0.5, (2, 6)).astype(d),
        ),
    ),
    *_case(
        "ntxent",
        "ntxent",
        lambda d: (_normal(0, (6, 3), d), jnp.array([0, 0, 1, 1, 2, 2])),
    ),
    *_case(
        "triplet",
        "triplet_margin_loss",
        lambda d: tuple(_normal(s, (4, 3), d) for s in range(3)),
    ),
    *_case(
        "triplet_axis0_margin",
        "triplet_margin_loss",
        lambda d: tuple(_normal(s, (3, 4), d) for s in range(3)),
        kwargs={"axis": 0, "margin": 0.2, "norm_degree": 4},
    ),
    pytest.param(
        _fy_ours,
        _fy_reference,
        lambda d: (_logits(0, d), _probs(1, d)),
        F32,
        True,
        id="fenchel_young_logsumexp-float32",
    ),
]


def _tolerance(dtype):
    if jnp.dtype(dtype) == jnp.dtype(BF16):
        return {"rtol": 2e-2, "atol": 2e-2}
    return {"rtol": 1e-5, "atol": 1e-5}


def _value_and_grad(fn, grad):
    def run(first, *rest):
        value = fn(first, *rest)
        if not grad:
            return value, None
        return value, jax.grad(lambda x: jnp.sum(fn(x, *rest)).astype(F32))(first)

    return run


@pytest.mark.parametrize(("ours", "reference", "inputs", "dtype", "grad"), CASES)
def test_matches_optax(ours, reference, inputs, dtype, grad):
    args = inputs(jnp.dtype(dtype))

    # Both sides in one jit (one compilation per case). Some Optax losses
    # broadcast implicitly, which conftest's rank-promotion setting would
    # reject: Optax is traced with it allowed, optjax with it raising.
    def both(*a):
        got = _value_and_grad(ours, grad)(*a)
        with jax.numpy_rank_promotion("allow"):
            want = _value_and_grad(reference, grad)(*a)
        return got, want

    (got, got_grad), (want, want_grad) = jax.jit(both)(*args)
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    np.testing.assert_allclose(
        np.asarray(got, np.float32), np.asarray(want, np.float32), **_tolerance(dtype)
    )
    if grad:
        assert got_grad.dtype == want_grad.dtype
        np.testing.assert_allclose(
            np.asarray(got_grad, np.float32),
            np.asarray(want_grad, np.float32),
            **_tolerance(dtype),
        )


def test_ctc_forward_probs_match_optax():
    args = _ctc_inputs(F32)
    for got, want in zip(
        losses.ctc_loss_with_forward_probs(*args, blank_id=2, log_epsilon=-1e4),
        optax.losses.ctc_loss_with_forward_probs(*args, blank_id=2, log_epsilon=-1e4),
        strict=True,
    ):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_every_optax_loss_is_exported_here_and_at_top_level():
    public = {name for name in dir(optax.losses) if not name.startswith("_")}
    assert not sorted(public - set(losses.__all__))
    for name in losses.__all__:
        assert getattr(optjax, name) is getattr(losses, name)
