"""optjax.training.sweep: K vmapped members equal K separate fit runs; bad grids fail clearly."""

import json

import jax
import numpy as np
import pytest

import optjax
from optjax import data
from optjax.training import (
    TrainState,
    classification_metrics,
    default_loss,
    fit,
    make_model,
    make_optimizer,
)
from optjax.training._sweep import sweep

LOSS = default_loss("classification")
METRICS = classification_metrics(3)
TX = make_optimizer("adamw", 1e-3)  # one optimizer object: every member shares the static tx


@pytest.fixture(scope="module")
def iris():
    train, test = data.train_test_split(data.load("iris", seed=0), 0.2, seed=0)
    (train, test), _ = data.standardize(train, test)
    return train, test


def make_state(seed):
    model = make_model("mlp", input_shape=(4,), num_classes=3, seed=seed)
    return TrainState.from_nnx(model, TX, rng=seed)


def separate_fit(train, test, settings, *, epochs, batch_size, seed):
    state = make_state(settings.get("seed", seed))
    injected = {k: v for k, v in settings.items() if k != "seed"}
    state = state.replace(opt_state=optjax.set_hyperparams(state.opt_state, **injected))
    return fit(state, train, loss_fn=LOSS, epochs=epochs, batch_size=batch_size,
               validation_data=test, metrics_fn=METRICS, seed=seed, progress=False)  # fmt: skip


# batch 16 leaves a short last batch of 8 (120 examples): both the scan chunk and the extra
# step are checked. The second grid varies only the optimizer, from one shared init.
GRIDS = [
    {"learning_rate": [1e-3, 1e-2, 3e-2], "weight_decay": [0.0, 1e-3, 1e-2],
     "b1": [0.9, 0.8, 0.95], "b2": [0.999, 0.99, 0.9], "seed": [0, 1, 2]},
    {"learning_rate": [3e-3, 3e-2, 1e-1]},
]  # fmt: skip


@pytest.mark.parametrize("grid", GRIDS, ids=["all-settings-and-seeds", "learning-rate-only"])
def test_members_equal_separate_fit_runs(iris, grid):
    train, test = iris
    result = sweep(make_state, train, loss_fn=LOSS, hyperparams=grid, epochs=3, batch_size=16,
                   validation_data=test, metrics_fn=METRICS, seed=5, progress=False)  # fmt: skip
    assert len(result) == 3
    for k, member in enumerate(result.members):
        settings = {name: values[k] for name, values in grid.items()}
        assert member["hyperparams"] == settings
        state, history = separate_fit(*iris, settings, epochs=3, batch_size=16, seed=5)
        for got, want in zip(jax.tree.leaves(result.state(k).params),
                             jax.tree.leaves(state.params), strict=True):  # fmt: skip
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        hp = optjax.get_hyperparams(result.state(k).opt_state)
        for name, value in settings.items():
            if name != "seed":
                np.testing.assert_allclose(hp[name], value, rtol=1e-7)
        np.testing.assert_allclose(member["history"]["loss"], history["loss"], rtol=1e-5)
        np.testing.assert_allclose(member["history"]["val_loss"], history["val_loss"], rtol=1e-5)
        np.testing.assert_allclose(
            member["history"]["learning_rate"], [settings["learning_rate"]] * 3, rtol=1e-7
        )
        assert member["test"]["loss"] == pytest.approx(history["val_loss"][-1], rel=1e-5)
        assert set(member["train"]) == {"loss", "accuracy", "precision", "recall", "f1"}
        assert member["diverged_at"] is None
    # Members really differ (the learning rates matter).
    assert len({round(m["test"]["loss"], 6) for m in result.members}) == 3


def test_a_diverging_member_freezes_and_the_others_go_on():
    ds = data.load("diabetes")  # raw targets in the hundreds: lr 50 overflows within an epoch
    make = lambda s: TrainState.from_nnx(  # noqa: E731
        make_model("linear", input_shape=(10,), seed=s), make_optimizer("sgd", 1e-3), rng=s
    )
    result = sweep(make, ds, loss_fn=default_loss("regression"), epochs=2, batch_size=64,
                   hyperparams={"learning_rate": [1e-3, 50.0]}, progress=False)  # fmt: skip
    slow, fast = result.members
    assert slow["diverged_at"] is None and np.isfinite(slow["history"]["loss"]).all()
    assert fast["diverged_at"] is not None and np.isnan(fast["history"]["loss"][-1])
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(result.state(1).params))


BAD = [
    ({"learning_rate": [1e-3, 1e-2], "b1": [0.9]}, "'learning_rate': 2, 'b1': 1"),
    ({"momentum": [0.9, 0.8]}, "accepts are ['b1', 'b2', 'eps', 'eps_root', 'learning_rate'"),
    ({"learning_rate": []}, "empty"),
    ({}, "non-empty"),
    ({"seed": [0.5, 1]}, "seeds must be ints"),
]


@pytest.mark.parametrize(("grid", "message"), BAD, ids=["lengths", "unknown", "empty", "none",
                                                         "seed-type"])  # fmt: skip
def test_bad_grids_are_value_errors(iris, grid, message):
    with pytest.raises(ValueError, match=None) as error:
        sweep(make_state, iris[0], loss_fn=LOSS, hyperparams=grid, progress=False)
    assert message in str(error.value)
    if "accepts" in message:
        assert "'seed'" in str(error.value) and "'weight_decay'" in str(error.value)


def test_bad_sizes_are_value_errors(iris):
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        sweep(make_state, iris[0], loss_fn=LOSS, hyperparams={"b1": [0.9]}, epochs=0)


# ------------------------------------------------------------------------------------------
# optjax sweep


SWEEP = ["sweep", "--dataset", "iris", "--epochs", "2", "--batch-size", "30", "--no-progress"]


def test_cli_sweep_prints_a_row_per_member_and_writes_json_and_plot(capsys, tmp_path):
    from optjax.cli import main

    metrics, plot = tmp_path / "sweep.json", tmp_path / "sweep.png"
    code = main([*SWEEP, "--lr", "1e-3,1e-2,3e-2", "--seeds", "0,1,2", "--b1", "0.9",
                 "--metrics-json", str(metrics), "--plot", str(plot)])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].split()[:4] == ["#", "learning_rate", "b1", "seed"]
    assert [line.split()[0] for line in lines[2:]] == ["0", "1", "2"]
    report = json.loads(metrics.read_text())
    members = report["members"]
    assert [m["hyperparams"] for m in members] == [
        {"learning_rate": lr, "seed": s, "b1": 0.9} for lr, s in ((1e-3, 0), (1e-2, 1), (3e-2, 2))
    ]
    for m in members:
        assert set(m["test"]) == {"loss", "accuracy", "precision", "recall", "f1"}
        assert len(m["history"]) == 2 and "val_loss" in m["history"][0]
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lr", "1e-3,1e-2", "--b1", "0.9,0.8,0.7"], "{'--lr': 2, '--b1': 3}"),
        (["--weight-decay", "1e-3,1e-2"], "--optimizer adamw"),
        ([], "give at least one list"),
        (["--lr", "1e-3,1e-2", "--schedule", "cosine"], "--schedule constant"),
        (["--lr", "1e-3", "--model", "nope"], "unknown model"),
    ],
    ids=["lengths", "weight-decay-on-adam", "nothing-swept", "schedule", "model"],
)
def test_cli_sweep_bad_input_exits_2(capsys, argv, message):
    from optjax.cli import EXIT_BAD_INPUT, main

    code = main([*SWEEP, *argv])
    _, err = capsys.readouterr()
    assert code == EXIT_BAD_INPUT and message in err and "Traceback" not in err
