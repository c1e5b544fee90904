"""Evaluation metrics written in JAX: classification, ranking and regression.

Every function here is pure ``jax.numpy`` code, so it can be jitted (shapes and
the Python-level options such as ``average`` or ``num_classes`` are static) and
vmapped over a leading batch axis. Results follow scikit-learn's definitions
(``sklearn.metrics``) with ``zero_division=0``. Degenerate inputs give a value
rather than an error where a check would need concrete data (e.g. :func:`roc_auc`
on single-class labels returns NaN).
Input shapes are checked when the function is traced, so a mismatch raises
``ValueError`` before anything runs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from optjax import _checks

_AVERAGES = ("binary", "macro", "micro")


def _float_dtype():
    # float32 normally, float64 when jax_enable_x64 is on.
    return jnp.result_type(float)


def _same_shape(where: str, a: jax.Array, b: jax.Array, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{where}: {name_a} and {name_b} must have the same shape; "
            f"got {name_a}.shape={a.shape} and {name_b}.shape={b.shape}."
        )


def _safe_div(num: jax.Array, den: jax.Array) -> jax.Array:
    # scikit-learn's zero_division=0: a ratio with an empty denominator is 0.
    num = num.astype(_float_dtype())
    den = den.astype(_float_dtype())
    return jnp.where(den > 0, num / jnp.where(den > 0, den, 1), 0)


def accuracy(
    predictions: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    threshold: float | None = None,
) -> jax.Array:
    """Fraction of examples whose predicted class equals the label.

    How ``predictions`` is read depends on its shape relative to ``labels``:

    * one more trailing axis than ``labels`` (``predictions.shape[:-1] ==
      labels.shape``): logits or probabilities over classes; the predicted class
      is the ``argmax`` over the last axis (ties go to the lowest class id);
    * the same shape and ``threshold`` given: binary scores; the predicted class
      is ``1`` where ``predictions > threshold`` and ``0`` elsewhere (use
      ``threshold=0.5`` for probabilities, ``threshold=0.0`` for logits);
    * the same shape and no ``threshold``: class ids, compared with ``labels``
      directly.

    .. math::

        \\mathrm{accuracy} = \\frac{1}{n} \\sum_{i=1}^{n} [\\hat y_i = y_i]

    Args:
      predictions: class ids, binary scores, or per-class scores with a trailing
        class axis.
      labels: integer (or boolean) class ids.
      threshold: keyword-only; cut-off turning same-shape scores into ``0``/``1``
        predictions. Not allowed together with a class axis.

    Returns:
      A scalar float array in ``[0, 1]`` (NaN for empty inputs).

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import metrics
      >>> metrics.accuracy(jnp.array([0, 2, 1, 1]), jnp.array([0, 1, 1, 1]))
      Array(0.75, dtype=float32)
      >>> logits = jnp.array([[2.0, 0.1], [0.3, 0.9], [1.0, 0.0]])
      >>> metrics.accuracy(logits, jnp.array([0, 1, 1]))
      Array(0.6666667, dtype=float32)
      >>> metrics.accuracy(jnp.array([0.9, 0.2, 0.6]), jnp.array([1, 0, 0]), threshold=0.5)
      Array(0.6666667, dtype=float32)
    """
    predictions = jnp.asarray(predictions)
    labels = jnp.asarray(labels)
    if predictions.ndim == labels.ndim + 1 and predictions.shape[:-1] == labels.shape:
        if threshold is not None:
            raise ValueError(
                "accuracy: threshold applies to binary scores with the same shape as labels; "
                f"got predictions.shape={predictions.shape} with a class axis and "
                f"labels.shape={labels.shape}."
            )
        predicted = jnp.argmax(predictions, axis=-1)
    else:
        _same_shape("accuracy", predictions, labels, "predictions", "labels")
        if threshold is not None:
            predicted = (predictions > threshold).astype(jnp.int32)
        else:
            predicted = predictions
    return jnp.mean(predicted == labels, dtype=_float_dtype())


def confusion_matrix(
    labels: jax.typing.ArrayLike,
    predictions: jax.typing.ArrayLike,
    num_classes: int,
) -> jax.Array:
    """Counts of (true class, predicted class) pairs, in scikit-learn's orientation.

    .. math::

        C_{ij} = \\sum_{k=1}^{n} [y_k = i] \\, [\\hat y_k = j]

    Rows are true classes and columns predicted classes, as in
    ``sklearn.metrics.confusion_matrix(labels, predictions,
    labels=range(num_classes))``. Pairs where either id lies outside
    ``[0, num_classes)`` are not counted.

    Args:
      labels: integer class ids, any shape.
      predictions: integer class ids, the same shape as ``labels``.
      num_classes: number of classes ``K`` (a Python int, static under ``jit``).

    Returns:
      An ``int32`` array of shape ``(K, K)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import metrics
      >>> metrics.confusion_matrix(jnp.array([0, 1, 2, 2]), jnp.array([0, 2, 2, 1]), 3)
      Array([[1, 0, 0],
             [0, 0, 1],
             [0, 1, 1]], dtype=int32)
    """
    _checks.check_positive_int("num_classes", num_classes, where="confusion_matrix")
    labels = jnp.asarray(labels)
    predictions = jnp.asarray(predictions)
    _same_shape("confusion_matrix", labels, predictions, "labels", "predictions")
    # one_hot maps out-of-range (including negative) ids to an all-zero row.
    true_hot = jax.nn.one_hot(labels.reshape(-1), num_classes, dtype=jnp.int32)
    pred_hot = jax.nn.one_hot(predictions.reshape(-1), num_classes, dtype=jnp.int32)
    return jnp.einsum("ni,nj->ij", true_hot, pred_hot, preferred_element_type=jnp.int32)


def _counts(where, labels, predictions, average, pos_label, num_classes):
    """Returns (tp, fp, fn) as arrays: scalars for binary/micro, per class for macro."""
    _checks.check_choice("average", average, _AVERAGES, where=where)
    labels = jnp.asarray(labels)
    predictions = jnp.asarray(predictions)
    _same_shape(where, labels, predictions, "labels", "predictions")
    labels = labels.reshape(-1)
    predictions = predictions.reshape(-1)
    if average == "binary":
        is_pos = labels == pos_label
        said_pos = predictions == pos_label
        tp = jnp.sum(is_pos & said_pos)
        fp = jnp.sum(~is_pos & said_pos)
        fn = jnp.sum(is_pos & ~said_pos)
        return tp, fp, fn
    if average == "micro":
        # Summed over every class, each wrong prediction is one false positive
        # (for the predicted class) and one false negative (for the true class).
        tp = jnp.sum(labels == predictions)
        wrong = jnp.sum(labels != predictions)
        return tp, wrong, wrong
    if num_classes is None:
        if isinstance(labels, jax.core.Tracer) or isinstance(predictions, jax.core.Tracer):
            raise ValueError(
                f"{where}: average='macro' needs num_classes when called under a "
                "transformation such as jit or vmap."
            )
        num_classes = int(max(jnp.max(labels), jnp.max(predictions))) + 1 if labels.size else 1
    _checks.check_positive_int("num_classes", num_classes, where=where)
    cm = confusion_matrix(labels, predictions, num_classes)
    tp = jnp.diagonal(cm)
    fp = jnp.sum(cm, axis=0) - tp
    fn = jnp.sum(cm, axis=1) - tp
    return tp, fp, fn


def _macro_mean(per_class, tp, fp, fn):
    # scikit-learn averages over the classes present in labels or predictions.
    present = (tp + fp + fn) > 0
    total = jnp.sum(jnp.where(present, per_class, 0))
    return _safe_div(total, jnp.sum(present))


def _finish(per_class, tp, fp, fn, average):
    if average == "macro":
        return _macro_mean(per_class, tp, fp, fn)
    return per_class


_CLASSIFICATION_ARGS = """
    Args:
      labels: integer class ids, any shape.
      predictions: predicted class ids, the same shape as ``labels``.
      average: keyword-only; ``'binary'`` scores only ``pos_label`` (every other
        id counts as negative), ``'micro'`` pools the counts of all classes
        (equal to accuracy for single-label data), ``'macro'`` takes the
        unweighted mean over the classes that occur in ``labels`` or
        ``predictions``.
      pos_label: keyword-only; the positive class for ``average='binary'``.
      num_classes: keyword-only; number of classes for ``average='macro'``.
        Needed under ``jit``/``vmap``; inferred as ``max id + 1`` otherwise.

    Returns:
      A scalar float array in ``[0, 1]``; a ratio whose denominator is zero is
      taken as ``0`` (scikit-learn's ``zero_division=0``).

    Raises:
      ValueError: if ``average`` is not one of ``'binary'``, ``'macro'``,
        ``'micro'``, or the shapes of ``labels`` and ``predictions`` differ.
"""


def precision(
    labels: jax.typing.ArrayLike,
    predictions: jax.typing.ArrayLike,
    *,
    average: str = "binary",
    pos_label: int = 1,
    num_classes: int | None = None,
) -> jax.Array:
    """Fraction of positive predictions that are correct.

    .. math::

        P = \\frac{TP}{TP + FP}

    Matches ``sklearn.metrics.precision_score(labels, predictions,
    average=average, pos_label=pos_label, zero_division=0)``.
    {args}
    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import metrics
      >>> y, p = jnp.array([1, 0, 1, 1, 0]), jnp.array([1, 1, 0, 1, 0])
      >>> metrics.precision(y, p)
      Array(0.6666667, dtype=float32)
      >>> metrics.precision(jnp.array([0, 1, 2, 2]), jnp.array([0, 2, 2, 2]), average="macro")
      Array(0.5555556, dtype=float32)
    """
    tp, fp, fn = _counts("precision", labels, predictions, average, pos_label, num_classes)
    return _finish(_safe_div(tp, tp + fp), tp, fp, fn, average)


def recall(
    labels: jax.typing.ArrayLike,
    predictions: jax.typing.ArrayLike,
    *,
    average: str = "binary",
    pos_label: int = 1,
    num_classes: int | None = None,
) -> jax.Array:
    """Fraction of truly positive examples that are predicted positive.

    .. math::

        R = \\frac{TP}{TP + FN}

    Matches ``sklearn.metrics.recall_score(labels, predictions,
    average=average, pos_label=pos_label, zero_division=0)``.
    {args}
    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import metrics
      >>> y, p = jnp.array([1, 0, 1, 1, 0]), jnp.array([1, 1, 0, 1, 0])
      >>> metrics.recall(y, p)
      Array(0.6666667, dtype=float32)
      >>> metrics.recall(jnp.array([0, 1, 2, 2]), jnp.array([0, 2, 2, 2]), average="macro")
      Array(0.6666667, dtype=float32)
    """
    tp, fp, fn = _counts("recall", labels, predictions, average, pos_label, num_classes)
    return _finish(_safe_div(tp, tp + fn), tp, fp, fn, average)


def f1_score(
    labels: jax.typing.ArrayLike,
    predictions: jax.typing.ArrayLike,
    *,
    average: str = "binary",
    pos_label: int = 1,
    num_classes: int | None = None,
) -> jax.Array:
    """Harmonic mean of precision and recall.

    .. math::

        F_1 = \\frac{2 P R}{P + R} = \\frac{2\\,TP}{2\\,TP + FP + FN}

    With ``average='macro'`` this is the mean of the per-class F1 scores (not the
    F1 of the averaged precision and recall), as in
    ``sklearn.metrics.f1_score(labels, predictions, average=average,
    pos_label=pos_label, zero_division=0)``.
    {args}
    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import metrics
      >>> y, p = jnp.array([1, 0, 1, 1, 0]), jnp.array([1, 1, 0, 0, 0])
      >>> metrics.f1_score(y, p)
      Array(0.4, dtype=float32)
      >>> metrics.f1_score(jnp.array([0, 1, 2, 2]), jnp.array([0, 2, 2, 2]), average="micro")
      Array(0.75, dtype=float32)
    """
    tp, fp, fn = _counts("f1_score", labels, predictions, average, pos_label, num_classes)
    return _finish(_safe_div(2 * tp, 2 * tp + fp + fn), tp, fp, fn, average)


for _fn in (precision, recall, f1_score):
    _fn.__doc__ = _fn.__doc__.replace("{args}", _CLASSIFICATION_ARGS.strip("\n"))
del _fn


def roc_auc(labels: jax.typing.ArrayLike, scores: jax.typing.ArrayLike) -> jax.Array:
    """Area under the ROC curve for binary labels, exact and tie-aware.

    The area equals the Mann-Whitney statistic: the probability that a random
    positive scores above a random negative, with tied pairs counting one half.
    This is exactly the trapezoidal area under the ROC curve whose thresholds are
    the distinct scores, i.e. ``sklearn.metrics.roc_auc_score(labels, scores)``.

    .. math::

        \\mathrm{AUC} = \\frac{1}{n_+ n_-} \\sum_{i: y_i = 1} \\sum_{j: y_j \\ne 1}
            \\left([s_i > s_j] + \\tfrac{1}{2} [s_i = s_j]\\right)

    Computed in :math:`O(n \\log n)` by sorting the scores and counting, for
    each tie group, the negatives below it and within it.

    .. note::
       When ``labels`` hold only one class the area is undefined and this
       function returns NaN (silently: a warning cannot be issued under ``jit``).
       scikit-learn 1.9 also returns NaN, with an ``UndefinedMetricWarning``;
       older scikit-learn releases raised ``ValueError`` instead.

    Args:
      labels: binary labels, any shape; an entry equal to ``1`` (or ``True``) is
        positive, anything else negative.
      scores: real-valued scores (higher means more likely positive), the same
        shape as ``labels``. NaN scores give an unspecified result.

    Returns:
      A scalar float array in ``[0, 1]``, or NaN if there are no positives or no
      negatives.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import metrics
      >>> metrics.roc_auc(jnp.array([0, 0, 1, 1]), jnp.array([0.1, 0.4, 0.35, 0.8]))
      Array(0.75, dtype=float32)
      >>> metrics.roc_auc(jnp.array([0, 1, 0, 1]), jnp.array([0.5, 0.5, 0.2, 0.9]))
      Array(0.875, dtype=float32)
    """
    labels = jnp.asarray(labels)
    scores = jnp.asarray(scores)
    _same_shape("roc_auc", labels, scores, "labels", "scores")
    is_pos = labels.reshape(-1) == 1
    scores = scores.reshape(-1)
    order = jnp.argsort(scores)
    sorted_scores = scores[order]
    sorted_neg = (~is_pos[order]).astype(jnp.int32)
    # neg_before[k] = number of negatives among the k smallest scores (exact ints).
    neg_before = jnp.concatenate([jnp.zeros((1,), jnp.int32), jnp.cumsum(sorted_neg)])
    low = jnp.searchsorted(sorted_scores, scores, side="left")
    high = jnp.searchsorted(sorted_scores, scores, side="right")
    neg_below = neg_before[low]
    neg_tied = neg_before[high] - neg_below
    n_pos = jnp.sum(is_pos)
    n_neg = is_pos.size - n_pos
    dtype = _float_dtype()
    # Each positive's share, normalised before summing to keep float32 accurate.
    wins = (neg_below.astype(dtype) + 0.5 * neg_tied.astype(dtype)) / n_neg.astype(dtype)
    auc = jnp.sum(jnp.where(is_pos, wins, 0)) / n_pos.astype(dtype)
    return jnp.where((n_pos > 0) & (n_neg > 0), auc, jnp.nan).astype(dtype)


def _regression_inputs(where, targets, predictions):
    targets = jnp.asarray(targets)
    predictions = jnp.asarray(predictions)
    _same_shape(where, targets, predictions, "targets", "predictions")
    dtype = jnp.result_type(targets, predictions, _float_dtype())
    return targets.astype(dtype), predictions.astype(dtype)


def mean_squared_error(
    targets: jax.typing.ArrayLike, predictions: jax.typing.ArrayLike
) -> jax.Array:
    """Mean of the squared differences between targets and predictions.

    .. math::

        \\mathrm{MSE} = \\frac{1}{n} \\sum_{i=1}^{n} (y_i - \\hat y_i)^2

    The mean runs over every element, which equals scikit-learn's
    ``multioutput='uniform_average'`` for 2-d inputs.

    Args:
      targets: true values, any shape.
      predictions: predicted values, the same shape as ``targets``.

    Returns:
      A scalar float array.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import metrics
      >>> y, p = jnp.array([3.0, -0.5, 2.0, 7.0]), jnp.array([2.5, 0.0, 2.0, 8.0])
      >>> metrics.mean_squared_error(y, p)
      Array(0.375, dtype=float32)
    """
    targets, predictions = _regression_inputs("mean_squared_error", targets, predictions)
    return jnp.mean(jnp.square(targets - predictions))


def mean_absolute_error(
    targets: jax.typing.ArrayLike, predictions: jax.typing.ArrayLike
) -> jax.Array:
    """Mean of the absolute differences between targets and predictions.

    .. math::

        \\mathrm{MAE} = \\frac{1}{n} \\sum_{i=1}^{n} |y_i - \\hat y_i|

    The mean runs over every element, which equals scikit-learn's
    ``multioutput='uniform_average'`` for 2-d inputs.

    Args:
      targets: true values, any shape.
      predictions: predicted values, the same shape as ``targets``.

    Returns:
      A scalar float array.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import metrics
      >>> y, p = jnp.array([3.0, -0.5, 2.0, 7.0]), jnp.array([2.5, 0.0, 2.0, 8.0])
      >>> metrics.mean_absolute_error(y, p)
      Array(0.5, dtype=float32)
    """
    targets, predictions = _regression_inputs("mean_absolute_error", targets, predictions)
    return jnp.mean(jnp.abs(targets - predictions))


def r2_score(targets: jax.typing.ArrayLike, predictions: jax.typing.ArrayLike) -> jax.Array:
    """Coefficient of determination: the share of the targets' variance explained.

    .. math::

        R^2 = 1 - \\frac{\\sum_i (y_i - \\hat y_i)^2}{\\sum_i (y_i - \\bar y)^2}

    Sums run over the first axis; for 2-d inputs ``(n, outputs)`` the per-output
    scores are averaged, as scikit-learn's ``multioutput='uniform_average'``.
    Constant targets follow scikit-learn's ``force_finite=True``: the score is
    ``1`` for a perfect prediction and ``0`` otherwise.

    Args:
      targets: true values, shape ``(n,)`` or ``(n, outputs)``.
      predictions: predicted values, the same shape as ``targets``.

    Returns:
      A scalar float array (at most ``1``; it can be arbitrarily negative).

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import metrics
      >>> y, p = jnp.array([3.0, -0.5, 2.0, 7.0]), jnp.array([2.5, 0.0, 2.0, 8.0])
      >>> metrics.r2_score(y, p)
      Array(0.94860816, dtype=float32)
    """
    targets, predictions = _regression_inputs("r2_score", targets, predictions)
    if targets.ndim == 0:
        raise ValueError("r2_score: needs at least one sample axis; got 0-d inputs.")
    residual = jnp.sum(jnp.square(targets - predictions), axis=0)
    centred = targets - jnp.mean(targets, axis=0, keepdims=True)
    total = jnp.sum(jnp.square(centred), axis=0)
    safe_total = jnp.where(total > 0, total, 1)
    per_output = jnp.where(total > 0, 1 - residual / safe_total, jnp.where(residual == 0, 1.0, 0.0))
    return jnp.mean(per_output).astype(targets.dtype)
