"""optjax.training.fit and its callbacks.

The compiled loop is checked against the plainest possible loop (one
``make_train_step`` call per batch of ``optjax.data.batches``), against the
closed-form least-squares solution, and against Keras's documented callback
semantics replayed on fixed metric sequences.
"""

import functools
import io
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import optjax
from optjax import data
from optjax.training import (
    Callback,
    EarlyStopping,
    History,
    ReduceLROnPlateau,
    Run,
    TrainingDiverged,
    TrainState,
    _fit,
    classification_metrics,
    default_loss,
    evaluate,
    fit,
    make_model,
    make_train_step,
)

CE = default_loss("classification")
MSE = default_loss("regression")
IRIS_TRAIN, IRIS_TEST = data.standardize(*data.train_test_split(data.load("iris"), seed=0))[0]
LINEAR_TRAIN, LINEAR_TEST = data.train_test_split(data.load("linear"), seed=0)


def iris_state(tx=None, dropout=0.0, kind="nnx", seed=0):
    tx = tx or optjax.adam(1e-2)
    if kind == "linen":
        model = make_model("mlp", kind="linen", input_shape=(4,), num_classes=3,
                           hidden_sizes=(16,), dropout_rate=dropout)  # fmt: skip
        return TrainState.from_linen(model, tx, rng=seed, sample_input=IRIS_TRAIN.x[:2])
    model = make_model("mlp", input_shape=(4,), num_classes=3, hidden_sizes=(16,),
                       dropout_rate=dropout, seed=seed)  # fmt: skip
    return TrainState.from_nnx(model, tx, rng=seed)


def host(tree):
    return jax.tree.map(np.asarray, tree)


def assert_close(a, b, rtol=1e-6, atol=1e-7):
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=rtol, atol=atol), a, b)


# ----------------------------------------------------------------------------
# The compiled loop equals the plain loop.

PLAIN_STEP = make_train_step(CE, donate=False)


def plain_loop(state, dataset, epochs, batch_size, seed, drop_last=False):
    for epoch in range(epochs):
        for batch in data.batches(dataset, batch_size, seed=seed, epoch=epoch, drop_last=drop_last):
            state, _ = PLAIN_STEP(state, batch)
    return state


@pytest.mark.parametrize(
    "kind, dropout, batch_size, steps_per_execution, drop_last",
    [
        ("nnx", 0.0, 16, None, False),  # 120 examples: 7 full batches + a short one
        ("nnx", 0.3, 16, 3, False),  # dropout rngs; chunks of 3, padded
        ("linen", 0.3, 32, None, True),
        ("linen", 0.0, 120, 1000, False),  # one batch per epoch; chunk longer than the epoch
        ("nnx", 0.3, 16, 1, False),  # one compiled step per batch (no scan), short last batch
    ],
)
def test_compiled_chunks_equal_the_plain_step_loop(
    kind, dropout, batch_size, steps_per_execution, drop_last
):
    state = iris_state(dropout=dropout, kind=kind)
    expected = plain_loop(state, IRIS_TRAIN, 3, batch_size, seed=5, drop_last=drop_last)
    trained, history = fit(
        state, IRIS_TRAIN, loss_fn=CE, epochs=3, batch_size=batch_size, seed=5,
        steps_per_execution=steps_per_execution, drop_last=drop_last, progress=False,
    )  # fmt: skip
    steps = 3 * data.num_batches(len(IRIS_TRAIN), batch_size, drop_last)
    assert int(trained.step) == steps
    assert_close(host(trained.params), host(expected.params), rtol=2e-6, atol=2e-7)
    assert len(history) == 3 and history.epochs[0]["epoch"] == 1


def test_streaming_iterable_equals_resident():
    state = iris_state()
    resident, _ = fit(
        state, IRIS_TRAIN, loss_fn=CE, epochs=2, batch_size=16, seed=1, progress=False
    )
    batches = lambda epoch: data.batches(IRIS_TRAIN, 16, seed=1, epoch=epoch)  # noqa: E731
    streamed, history = fit(state, batches, loss_fn=CE, epochs=2, progress=False)
    assert_close(host(streamed.params), host(resident.params), rtol=2e-6, atol=2e-7)
    assert len(history) == 2
    # A re-iterable (a list of batches) is read once per epoch.
    listed, _ = fit(state, list(batches(0)), loss_fn=CE, epochs=1, progress=False)
    once, _ = fit(state, batches, loss_fn=CE, epochs=1, progress=False)
    assert_close(host(listed.params), host(once.params), rtol=2e-6, atol=2e-7)


# A CNN small enough to compile in a second: 32 digits, two 3x3 convolutions of 2 and 4 channels.
DIGITS_SMALL = data.load("digits").take(np.arange(32))


@functools.cache
def small_cnn_state():  # linen: its init runs faster than an NNX module's eager one
    model = make_model("cnn", kind="linen", input_shape=(8, 8, 1), num_classes=10,
                       features=(2, 4))  # fmt: skip
    return TrainState.from_linen(model, optjax.adam(1e-2), rng=0, sample_input=DIGITS_SMALL.x)


def test_models_with_convolutions_step_one_by_one_on_cpu(monkeypatch):
    # XLA:CPU leaves a scanned convolution on its slow path, so by default fit runs a CNN
    # one compiled step per batch; the result equals the plain loop and the scanned chunks.
    state = small_cnn_state()
    expected = plain_loop(state, DIGITS_SMALL, 2, 16, seed=3)
    scanned, _ = fit(state, DIGITS_SMALL, loss_fn=CE, epochs=2, batch_size=16, seed=3,
                     steps_per_execution=2, progress=False)  # fmt: skip

    def no_scan(loss_fn):
        raise AssertionError("fit built a scanned chunk for a CNN on the CPU")

    monkeypatch.setattr(_fit, "_chunk_runner", no_scan)
    stepped, history = fit(state, DIGITS_SMALL, loss_fn=CE, epochs=2, batch_size=16, seed=3,
                           progress=False)  # fmt: skip
    assert int(stepped.step) == int(scanned.step) == 4
    assert_close(host(stepped.params), host(expected.params), rtol=2e-6, atol=2e-7)
    assert_close(host(stepped.params), host(scanned.params), rtol=1e-5, atol=1e-6)
    assert history["loss"][1] < history["loss"][0]


def test_which_models_have_convolutions():
    x = np.ones((2, 8, 8, 1), np.float32)
    cnn = _fit._check_model_accepts(small_cnn_state(), x, "test")
    mlp = _fit._check_model_accepts(iris_state(), np.ones((2, 4), np.float32), "test")
    assert _fit._has_convolution(cnn) and not _fit._has_convolution(mlp)
    # An NNX CNN, traced without building its weights; the convolutions sit in nested jaxprs.
    abstract = nnx.eval_shape(lambda: make_model("cnn", input_shape=(8, 8, 1), num_classes=10))
    graphdef, weights = nnx.split(abstract)
    nested = jax.make_jaxpr(lambda w, x: jax.jit(lambda w: nnx.merge(graphdef, w)(x))(w))
    assert _fit._has_convolution(nested(weights, x))
    cpu_x = jnp.ones((2, 8, 8, 1))
    assert _fit._steps_one_by_one(None, cnn, cpu_x)
    assert not _fit._steps_one_by_one(None, mlp, cpu_x)
    assert _fit._steps_one_by_one(1, mlp, cpu_x)  # asked for explicitly
    assert not _fit._steps_one_by_one(8, cnn, cpu_x)  # a chunk size keeps the scan


def test_linear_regression_reaches_the_least_squares_solution():
    model = make_model("linear", input_shape=(1,))
    state = TrainState.from_nnx(model, optjax.sgd(0.1, momentum=0.9))
    state, history = fit(state, LINEAR_TRAIN, loss_fn=MSE, epochs=300, batch_size=160,
                         validation_data=LINEAR_TEST, progress=False)  # fmt: skip
    design = np.hstack([LINEAR_TRAIN.x, np.ones((len(LINEAR_TRAIN), 1))])
    (slope, intercept), *_ = np.linalg.lstsq(design, LINEAR_TRAIN.y, rcond=None)
    params = host(state.params)
    np.testing.assert_allclose(params["out"]["kernel"][0, 0], slope, atol=1e-4)
    np.testing.assert_allclose(params["out"]["bias"][0], intercept, atol=1e-4)
    closed_form_loss = np.mean((LINEAR_TEST.x[:, 0] * slope + intercept - LINEAR_TEST.y) ** 2)
    np.testing.assert_allclose(history["val_loss"][-1], closed_form_loss, rtol=1e-3)


def test_history_logs_and_metrics_match_evaluate():
    tx = optjax.inject_hyperparams(optjax.adam)(learning_rate=1e-2)
    state, history = fit(iris_state(tx), IRIS_TRAIN, loss_fn=CE, epochs=2, batch_size=32,
                         validation_data=IRIS_TEST, metrics_fn=classification_metrics(3),
                         progress=False)  # fmt: skip
    last = history.epochs[-1]
    assert set(last) >= {"epoch", "loss", "val_loss", "val_accuracy", "val_precision",
                         "val_recall", "val_f1", "learning_rate", "seconds"}  # fmt: skip
    again = evaluate(state, IRIS_TEST, loss_fn=CE, metrics_fn=classification_metrics(3))
    assert again == {k[4:]: v for k, v in last.items() if k.startswith("val_")}
    assert history["learning_rate"] == [pytest.approx(1e-2)] * 2
    assert history.history["epoch"] == [1, 2]
    assert set(history.timing) == {"seconds_per_epoch", "first_epoch_seconds",
                                   "steps_per_second", "total_seconds"}  # fmt: skip


def test_epoch_loss_is_the_example_weighted_mean_of_step_losses():
    state = iris_state(optjax.sgd(0.0))  # lr 0: every step sees the same params
    _, history = fit(state, IRIS_TRAIN, loss_fn=CE, epochs=1, batch_size=50, progress=False)
    full = evaluate(state, IRIS_TRAIN, loss_fn=CE)["loss"]
    np.testing.assert_allclose(history["loss"][0], full, rtol=1e-5)


# ----------------------------------------------------------------------------
# Divergence.


def test_divergence_names_the_step_and_keeps_the_last_good_state():
    state = iris_state(optjax.sgd(1e6))
    with pytest.raises(TrainingDiverged, match=r"at step \d+ \(epoch 1\)") as info:
        fit(state, IRIS_TRAIN, loss_fn=CE, epochs=3, batch_size=16, progress=False)
    error = info.value
    assert int(error.state.step) == error.step  # the bad step's update is not applied
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(host(error.state.params)))
    assert error.step >= 1 and len(error.history) == 0
    # Single steps, or short chunks dispatched after the bad one, stop at the same step and state.
    for steps_per_execution in (1, 2):
        with pytest.raises(TrainingDiverged) as other:
            fit(state, IRIS_TRAIN, loss_fn=CE, epochs=3, batch_size=16,
                steps_per_execution=steps_per_execution, progress=False)  # fmt: skip
        assert other.value.step == error.step
        assert_close(host(other.value.state.params), host(error.state.params), rtol=2e-6, atol=2e-7)


# ----------------------------------------------------------------------------
# Bad input.


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(epochs=0), ValueError, "epochs must be a positive int"),
        (dict(batch_size=0), ValueError, "batch_size must be a positive int"),
        (dict(steps_per_execution=-1), ValueError, "steps_per_execution"),
        (dict(checkpoint_every=0), ValueError, "checkpoint_every"),
        (dict(resume=True), ValueError, "resume=True needs a checkpointer"),
        (dict(batch_size=500, drop_last=True), ValueError, "leaves no batch"),
        (dict(train_data=42), TypeError, "train_data must be"),
        (dict(train_data={"x": np.ones((3, 4))}), TypeError, "'x' and 'y'"),
        (dict(train_data={"x": np.ones((8, 5)), "y": np.zeros(8, np.int32)}), ValueError,
         r"cannot take inputs of shape \(5,\)"),
        (dict(validation_data={"x": np.ones((8, 7)), "y": np.zeros(8, np.int32)}), ValueError,
         r"validation_data.*shape \(7,\)"),
    ],
)  # fmt: skip
def test_bad_arguments_fail_before_training(kwargs, error, match):
    kwargs = {"train_data": IRIS_TRAIN, **kwargs}
    train_data = kwargs.pop("train_data")
    with pytest.raises(error, match=match):
        fit(iris_state(), train_data, loss_fn=CE, progress=False, **kwargs)


# ----------------------------------------------------------------------------
# Callbacks, replayed on fixed metric sequences (Keras's semantics).


class _Scripted(Callback):
    """Feeds a fixed val_loss sequence to the callbacks after it, one per epoch."""

    def __init__(self, values):
        self.values = values

    def on_epoch_end(self, run, epoch, logs):
        logs["val_loss"] = self.values[epoch - 1]


def replay(callback, values, lr=1.0):
    tx = optjax.inject_hyperparams(optjax.sgd)(learning_rate=lr)
    state = TrainState.from_nnx(nnx.Linear(1, 1, rngs=nnx.Rngs(0)), tx)
    run = Run(state=state, history=[], epochs=len(values), steps_per_epoch=1)
    callback.on_train_begin(run)
    lrs, stopped_at = [], None
    for epoch, value in enumerate(values, start=1):
        callback.on_epoch_end(run, epoch, {"val_loss": value})
        lrs.append(float(optjax.get_hyperparams(run.state.opt_state)["learning_rate"]))
        if run.stop_training:
            stopped_at = epoch
            break
    return lrs, stopped_at


@pytest.mark.parametrize(
    "patience, min_delta, values, stops_at",
    [
        (0, 0.0, [3, 2, 2, 1], 3),
        (2, 0.0, [3, 2, 2.5, 2.1, 1], 4),
        (2, 0.0, [3, 2, 2.5, 1.9, 2, 2], 6),
        (1, 0.5, [3, 2.8, 2.6, 2.4], 2),  # improvements smaller than min_delta do not count
        (1, 0.0, [np.nan, np.nan, 1.0], 2),  # NaN never improves; epoch 1 never stops
        (3, 0.0, [5, 4, 3, 2], None),
    ],
)
def test_early_stopping_patience(patience, min_delta, values, stops_at):
    _, stopped = replay(EarlyStopping(patience=patience, min_delta=min_delta), values)
    assert stopped == stops_at


@pytest.mark.parametrize(
    "options, values, expected_lrs",
    [
        (dict(patience=1, factor=0.5), [3, 3, 3, 3], [1, 0.5, 0.25, 0.125]),
        (dict(patience=0, factor=0.5, min_lr=0.2), [3, 4, 4, 4], [1, 0.5, 0.25, 0.2]),
        (dict(patience=1, factor=0.1, cooldown=2), [3, 3, 3, 3, 3, 3], [1, 0.1, 0.1, 0.01, 0.01, 0.001]),
        (dict(patience=2, factor=0.5), [3, 2, 1, 0.5], [1, 1, 1, 1]),
    ],
)  # fmt: skip
def test_reduce_lr_on_plateau_schedule_of_reductions(options, values, expected_lrs):
    lrs, _ = replay(ReduceLROnPlateau(min_delta=0.0, **options), values)
    np.testing.assert_allclose(lrs, expected_lrs, rtol=1e-6)


def test_reduce_lr_on_plateau_does_not_recompile():
    tx = optjax.inject_hyperparams(optjax.adam)(learning_rate=1e-2)
    state = iris_state(tx)
    runner = _fit._chunk_runner(CE)
    before = runner._cache_size()
    state, history = fit(state, IRIS_TRAIN, loss_fn=CE, epochs=4, batch_size=120,
                         callbacks=[_Scripted([1, 1, 1, 1]), ReduceLROnPlateau(patience=0, factor=0.5)],
                         progress=False)  # fmt: skip
    # Logged is the rate each epoch ran with; epoch 1 sets the best value.
    assert history["learning_rate"] == pytest.approx([1e-2, 1e-2, 5e-3, 2.5e-3])
    assert runner._cache_size() - before <= 1


@pytest.mark.parametrize(
    "tx, match",
    [
        (optjax.adam(1e-2), "no injected hyperparameter 'learning_rate'"),
        (
            optjax.inject_hyperparams(optjax.adam)(learning_rate=lambda t: 1e-2 / (1 + t)),
            "schedule",
        ),
    ],
)
def test_reduce_lr_on_plateau_explains_what_it_needs(tx, match):
    with pytest.raises(ValueError, match=match):
        fit(iris_state(tx), IRIS_TRAIN, loss_fn=CE, callbacks=[ReduceLROnPlateau()], progress=False)


def test_early_stopping_restores_the_best_weights():
    values = [3.0, 1.0, 2.0, 2.0, 2.0]

    class Snapshot(Callback):
        def __init__(self):
            self.params = []

        def on_epoch_end(self, run, epoch, logs):
            self.params.append(host(run.state.params))

    snapshot = Snapshot()
    stop = EarlyStopping(patience=2, restore_best_weights=True)
    state, history = fit(iris_state(), IRIS_TRAIN, loss_fn=CE, epochs=10, batch_size=32,
                         callbacks=[_Scripted(values), snapshot, stop], progress=False)  # fmt: skip
    assert len(history) == 4 and stop.best_epoch == 2 and stop.stopped_epoch == 4
    assert_close(host(state.params), snapshot.params[1], rtol=0, atol=0)


def test_history_behaves_like_keras():
    h = History([{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.0, "val_loss": 1.5}])
    assert h["loss"] == [2.0, 1.0] and h["val_loss"] == [1.5]
    assert h.keys() == ["epoch", "loss", "val_loss"]
    assert h.history == {"epoch": [1, 2], "loss": [2.0, 1.0], "val_loss": [1.5]}


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: EarlyStopping(patience=-1), "patience"),
        (lambda: EarlyStopping(mode="up"), "mode must be one of"),
        (lambda: ReduceLROnPlateau(factor=1.0), "factor"),
        (lambda: ReduceLROnPlateau(patience=1.5), "patience"),
    ],
)
def test_callback_arguments_are_checked(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_monitoring_a_missing_metric_names_the_available_ones():
    with pytest.raises(KeyError, match="val_accuracy.*Pass validation data"):
        fit(iris_state(), IRIS_TRAIN, loss_fn=CE, callbacks=[EarlyStopping("val_accuracy")],
            progress=False)  # fmt: skip


# ----------------------------------------------------------------------------
# Progress bar.


def test_progress_bar_on_request_and_off_when_not_a_terminal(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    fit(iris_state(), IRIS_TRAIN, loss_fn=CE, epochs=1, batch_size=60, progress=None)
    assert stream.getvalue() == ""  # not a TTY
    fit(iris_state(), IRIS_TRAIN, loss_fn=CE, epochs=1, batch_size=60, progress=True)
    assert "step" in stream.getvalue()


def test_linen_model_with_batch_norm_trains_in_chunks():
    class Net(nn.Module):
        @nn.compact
        def __call__(self, x, train: bool = False):
            x = nn.Dense(8)(x)
            x = nn.BatchNorm(use_running_average=not train)(x)
            return nn.Dense(3)(nn.relu(x))

    state = TrainState.from_linen(Net(), optjax.adam(1e-2), rng=0, sample_input=IRIS_TRAIN.x[:2])
    before = host(state.model_state)
    state, history = fit(state, IRIS_TRAIN, loss_fn=CE, epochs=20, batch_size=32,
                         validation_data=IRIS_TEST, metrics_fn=classification_metrics(3),
                         progress=False)  # fmt: skip
    moved = jax.tree.map(lambda a, b: not np.allclose(a, b), before, host(state.model_state))
    assert all(jax.tree.leaves(moved))  # running statistics were updated
    assert history["val_accuracy"][-1] > 0.8


def test_fit_from_a_non_zero_step_keeps_counting():
    state, _ = fit(iris_state(), IRIS_TRAIN, loss_fn=CE, epochs=1, batch_size=60, progress=False)
    state, _ = fit(state, IRIS_TRAIN, loss_fn=CE, epochs=1, batch_size=60, progress=False)
    assert int(state.step) == 4
    assert jnp.issubdtype(state.step.dtype, jnp.integer)


def test_schedule_free_models_are_evaluated_at_the_averaged_point():
    state, _ = fit(iris_state(optjax.schedule_free_adamw(1e-2)), IRIS_TRAIN, loss_fn=CE,
                   epochs=2, batch_size=30, progress=False)  # fmt: skip
    x_t = optjax.schedule_free_eval_params(state.opt_state, state.params)
    assert not np.allclose(host(x_t)["out"]["kernel"], host(state.params)["out"]["kernel"])
    expected = evaluate(state.replace(params=x_t, opt_state=optjax.adam(1e-3).init(x_t)),
                        IRIS_TEST, loss_fn=CE)  # fmt: skip
    assert evaluate(state, IRIS_TEST, loss_fn=CE) == pytest.approx(expected, rel=1e-6)
