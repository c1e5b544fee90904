"""optjax.metrics against scikit-learn on random and degenerate data, plus jit/vmap checks."""

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

from optjax import metrics

SIZES = (1, 7, 64, 1000)
CLASS_COUNTS = (2, 3, 7)
AVERAGES = ("binary", "macro", "micro")
OURS_PRF = {"precision": metrics.precision, "recall": metrics.recall, "f1": metrics.f1_score}
SKLEARN_PRF = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}


def _labels(seed, n, k, classes=None):
    rng = np.random.default_rng(seed)
    return rng.choice(np.arange(k) if classes is None else np.asarray(classes), size=n)


def _close(actual, expected, rtol=1e-6, atol=1e-7):
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------
# Accuracy and confusion matrix.


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("k", CLASS_COUNTS)
def test_accuracy_class_ids_and_logits(n, k):
    y = _labels(0, n, k)
    logits = np.random.default_rng(1).normal(size=(n, k)).astype(np.float32)
    ids = logits.argmax(-1)
    _close(metrics.accuracy(ids, y), skm.accuracy_score(y, ids))
    _close(metrics.accuracy(logits, y), skm.accuracy_score(y, ids))
    probs = jax.nn.softmax(logits, axis=-1)
    _close(metrics.accuracy(probs, y), skm.accuracy_score(y, ids))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("threshold", (0.5, 0.2))
def test_accuracy_binary_threshold(n, threshold):
    y = _labels(2, n, 2)
    p = np.random.default_rng(3).uniform(size=n).astype(np.float32)
    expected = skm.accuracy_score(y, (p > threshold).astype(int))
    _close(metrics.accuracy(p, y, threshold=threshold), expected)


def test_accuracy_multidim_batch_with_class_axis():
    y = _labels(4, 24, 5).reshape(4, 6)
    logits = np.random.default_rng(5).normal(size=(4, 6, 5))
    expected = skm.accuracy_score(y.ravel(), logits.argmax(-1).ravel())
    _close(metrics.accuracy(logits, y), expected)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("k", CLASS_COUNTS)
def test_confusion_matrix(n, k):
    y, p = _labels(6, n, k), _labels(7, n, k)
    expected = skm.confusion_matrix(y, p, labels=np.arange(k))
    actual = metrics.confusion_matrix(y, p, k)
    assert actual.dtype == jnp.int32
    np.testing.assert_array_equal(actual, expected)


def test_confusion_matrix_orientation_and_out_of_range():
    # One true-0 predicted as 1: sklearn puts it in row 0, column 1.
    np.testing.assert_array_equal(metrics.confusion_matrix([0], [1], 2), [[0, 1], [0, 0]])
    # Ids outside [0, num_classes) (including negative ones) are dropped.
    cm = metrics.confusion_matrix(jnp.array([0, 3, -1, 1]), jnp.array([0, 0, 1, 1]), 2)
    np.testing.assert_array_equal(cm, [[1, 0], [0, 1]])


# ----------------------------------------------------------------------------
# Precision, recall, F1.


def _prf_cases():
    for name in OURS_PRF:
        for n in SIZES:
            for k in CLASS_COUNTS:
                for average in AVERAGES:
                    if average == "binary" and k != 2:
                        continue
                    yield pytest.param(name, n, k, average, id=f"{name}-n{n}-k{k}-{average}")


@pytest.mark.parametrize("name,n,k,average", list(_prf_cases()))
def test_prf_against_sklearn(name, n, k, average):
    y, p = _labels(10 + n, n, k), _labels(20 + n, n, k)
    expected = SKLEARN_PRF[name](y, p, average=average, zero_division=0)
    _close(OURS_PRF[name](y, p, average=average), expected)
    if average == "macro":
        # A larger static num_classes adds absent classes, which sklearn ignores too.
        _close(OURS_PRF[name](y, p, average=average, num_classes=k + 3), expected)


@pytest.mark.parametrize("name", OURS_PRF)
@pytest.mark.parametrize("pos_label", (0, 1))
def test_prf_binary_pos_label(name, pos_label):
    y, p = _labels(30, 50, 2), _labels(31, 50, 2)
    expected = SKLEARN_PRF[name](y, p, pos_label=pos_label, zero_division=0)
    _close(OURS_PRF[name](y, p, pos_label=pos_label), expected)


DEGENERATE = [
    # A class that is never predicted (precision for it divides by zero -> 0).
    ("never_predicted", [0, 1, 2, 2, 1, 0], [0, 0, 2, 2, 0, 0]),
    # Nothing predicted positive and nothing positive for binary.
    ("all_negative", [0, 0, 0, 0], [0, 0, 0, 0]),
    # Positives exist but none is predicted.
    ("no_positive_predictions", [1, 0, 1, 0], [0, 0, 0, 0]),
    # Predicted positives but no true positives at all.
    ("no_true_positives", [0, 0, 0, 0], [1, 0, 1, 0]),
    # A class only in predictions, another only in labels.
    ("disjoint_classes", [0, 0, 3, 3], [0, 2, 2, 0]),
    ("single_example", [1], [1]),
]


def _degenerate_cases():
    for case, y, p in DEGENERATE:
        for average in AVERAGES:
            # sklearn rejects multiclass data with average='binary'.
            if average != "binary" or len(set(y) | set(p)) <= 2:
                yield pytest.param(average, y, p, id=f"{case}-{average}")


@pytest.mark.parametrize("name", OURS_PRF)
@pytest.mark.parametrize("average,y,p", list(_degenerate_cases()))
def test_prf_degenerate_zero_division(name, average, y, p):
    y, p = np.array(y), np.array(p)
    expected = SKLEARN_PRF[name](y, p, average=average, zero_division=0)
    _close(OURS_PRF[name](y, p, average=average), expected)


def test_micro_equals_accuracy():
    y, p = _labels(40, 100, 5), _labels(41, 100, 5)
    for fn in OURS_PRF.values():
        _close(fn(y, p, average="micro"), skm.accuracy_score(y, p))


# ----------------------------------------------------------------------------
# ROC AUC.


def _auc_cases():
    for n in (2, 9, 100, 2000):
        yield pytest.param(n, "continuous", id=f"n{n}-continuous")
        yield pytest.param(n, "ties", id=f"n{n}-ties")
        yield pytest.param(n, "all_tied", id=f"n{n}-all_tied")


@pytest.mark.parametrize("n,kind", list(_auc_cases()))
def test_roc_auc_against_sklearn(n, kind):
    rng = np.random.default_rng(n)
    y = rng.integers(0, 2, size=n)
    y[:2] = [0, 1]  # both classes present
    if kind == "continuous":
        s = rng.normal(size=n) + y
    elif kind == "ties":
        s = rng.integers(0, 4, size=n).astype(float)
    else:
        s = np.full(n, 0.3)
    s = s.astype(np.float32)
    _close(metrics.roc_auc(y, s), skm.roc_auc_score(y, s), rtol=1e-5)


@pytest.mark.parametrize(
    "y,s",
    [
        ([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]),
        ([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]),
        ([1, 0], [0.0, 1.0]),  # perfectly wrong
        ([0, 1], [0.0, 1.0]),  # perfectly right
        ([-1, 1, -1, 1, 1], [2.0, 2.0, 2.0, 1.0, 3.0]),  # {-1, 1} labels
        ([False, True, True], [0.2, 0.2, 0.1]),  # boolean labels
    ],
)
def test_roc_auc_small_cases(y, s):
    _close(metrics.roc_auc(jnp.array(y), jnp.array(s)), skm.roc_auc_score(y, s))


@pytest.mark.parametrize("label", (0, 1))
def test_roc_auc_single_class_is_nan(label):
    y, s = np.full(5, label), np.linspace(0.0, 1.0, 5)
    # scikit-learn 1.9 warns and returns NaN; older releases raise ValueError.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        try:
            expected = skm.roc_auc_score(y, s)
        except ValueError as error:
            assert "one class" in str(error)
        else:
            assert np.isnan(expected)
    assert np.isnan(metrics.roc_auc(y, s))
    assert np.isnan(jax.jit(metrics.roc_auc)(y, s))


# ----------------------------------------------------------------------------
# Regression.


def _regression_data(seed, shape):
    rng = np.random.default_rng(seed)
    t = rng.normal(size=shape).astype(np.float32)
    return t, (t + 0.5 * rng.normal(size=shape)).astype(np.float32)


REGRESSION = [
    ("mse", metrics.mean_squared_error, skm.mean_squared_error),
    ("mae", metrics.mean_absolute_error, skm.mean_absolute_error),
    ("r2", metrics.r2_score, skm.r2_score),
]


@pytest.mark.parametrize("name,ours,theirs", REGRESSION, ids=[r[0] for r in REGRESSION])
@pytest.mark.parametrize("shape", [(2,), (17,), (1000,), (50, 3)], ids=str)
def test_regression_against_sklearn(name, ours, theirs, shape):
    t, p = _regression_data(len(shape) * 100 + shape[0], shape)
    _close(ours(t, p), theirs(t, p), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("name,ours,theirs", REGRESSION, ids=[r[0] for r in REGRESSION])
def test_regression_integer_inputs(name, ours, theirs):
    t, p = np.array([3, 1, 4, 1, 5]), np.array([2, 7, 1, 8, 2])
    result = ours(t, p)
    assert jnp.issubdtype(result.dtype, jnp.floating)
    _close(result, theirs(t, p))


@pytest.mark.parametrize(
    "t,p",
    [
        ([2.0, 2.0, 2.0], [2.0, 2.0, 2.0]),  # constant targets, perfect -> 1
        ([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]),  # constant targets, imperfect -> 0
        ([[1.0, 5.0], [1.0, 6.0], [1.0, 7.0]], [[1.0, 5.5], [1.0, 6.0], [1.0, 6.0]]),
    ],
)
def test_r2_constant_targets_force_finite(t, p):
    _close(metrics.r2_score(jnp.array(t), jnp.array(p)), skm.r2_score(t, p))


# ----------------------------------------------------------------------------
# Errors (raised at trace time, so also under jit).

ALL_PAIRWISE = [
    ("accuracy", metrics.accuracy),
    ("confusion_matrix", functools.partial(metrics.confusion_matrix, num_classes=3)),
    ("precision", metrics.precision),
    ("recall", metrics.recall),
    ("f1_score", metrics.f1_score),
    ("roc_auc", metrics.roc_auc),
    ("mean_squared_error", metrics.mean_squared_error),
    ("mean_absolute_error", metrics.mean_absolute_error),
    ("r2_score", metrics.r2_score),
]


@pytest.mark.parametrize("name,fn", ALL_PAIRWISE, ids=[f[0] for f in ALL_PAIRWISE])
@pytest.mark.parametrize("jit", (False, True), ids=("eager", "jit"))
def test_shape_mismatch_names_both_shapes(name, fn, jit):
    a, b = jnp.zeros((4,), jnp.int32), jnp.zeros((5,), jnp.int32)
    call = jax.jit(fn) if jit else fn
    with pytest.raises(ValueError, match=r"\(4,\).*\(5,\)") as info:
        call(a, b)
    assert name in str(info.value)


@pytest.mark.parametrize("fn", OURS_PRF.values(), ids=OURS_PRF.keys())
@pytest.mark.parametrize("bad", ("weighted", "samples", "Macro", None))
def test_unknown_average_lists_choices(fn, bad):
    with pytest.raises(ValueError, match="'binary', 'macro', 'micro'"):
        fn(jnp.array([0, 1]), jnp.array([0, 1]), average=bad)


def test_macro_under_jit_needs_num_classes():
    y = jnp.array([0, 1, 2])
    with pytest.raises(ValueError, match="num_classes"):
        jax.jit(functools.partial(metrics.f1_score, average="macro"))(y, y)


@pytest.mark.parametrize("num_classes", (0, -1, 2.5))
def test_confusion_matrix_bad_num_classes(num_classes):
    with pytest.raises(ValueError, match="num_classes"):
        metrics.confusion_matrix(jnp.array([0]), jnp.array([0]), num_classes)


def test_accuracy_threshold_with_class_axis_raises():
    with pytest.raises(ValueError, match="threshold"):
        metrics.accuracy(jnp.zeros((3, 2)), jnp.zeros((3,), jnp.int32), threshold=0.5)


# ----------------------------------------------------------------------------
# jit and vmap consistency.


def _jit_cases():
    y, p = _labels(50, 300, 4), _labels(51, 300, 4)
    yb, pb = _labels(52, 300, 2), _labels(53, 300, 2)
    s = np.random.default_rng(54).integers(0, 10, size=300).astype(np.float32)
    logits = np.random.default_rng(55).normal(size=(300, 4)).astype(np.float32)
    t, r = _regression_data(56, (300,))
    return [
        ("accuracy", metrics.accuracy, (logits, y)),
        ("accuracy_threshold", functools.partial(metrics.accuracy, threshold=4.5), (s, yb)),
        ("confusion_matrix", functools.partial(metrics.confusion_matrix, num_classes=4), (y, p)),
        ("precision_binary", metrics.precision, (yb, pb)),
        ("recall_micro", functools.partial(metrics.recall, average="micro"), (y, p)),
        (
            "f1_macro",
            functools.partial(metrics.f1_score, average="macro", num_classes=4),
            (y, p),
        ),
        ("roc_auc", metrics.roc_auc, (yb, s)),
        ("mse", metrics.mean_squared_error, (t, r)),
        ("mae", metrics.mean_absolute_error, (t, r)),
        ("r2", metrics.r2_score, (t, r)),
    ]


JIT_CASES = _jit_cases()


@pytest.mark.parametrize("name,fn,args", JIT_CASES, ids=[c[0] for c in JIT_CASES])
def test_jit_matches_eager(name, fn, args):
    eager = fn(*args)
    jitted = jax.jit(fn)(*args)
    assert jitted.dtype == eager.dtype and jitted.shape == eager.shape
    _close(jitted, eager, rtol=1e-6, atol=0)


@pytest.mark.parametrize("name,fn,args", JIT_CASES, ids=[c[0] for c in JIT_CASES])
def test_vmap_matches_loop(name, fn, args):
    # Five copies of the inputs, each row shuffled differently.
    rng = np.random.default_rng(60)
    perms = [rng.permutation(len(args[0])) for _ in range(5)]
    batched = [np.stack([np.asarray(a)[perm] for perm in perms]) for a in args]
    looped = np.stack([np.asarray(fn(*(b[i] for b in batched))) for i in range(5)])
    _close(jax.vmap(fn)(*batched), looped, rtol=1e-5, atol=1e-7)
