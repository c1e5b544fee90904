"""The ``optjax train`` command: outputs, reproducibility, and every bad-input path.

Runs go through ``optjax.cli.main`` in-process (compiled steps are shared
between tests); one test runs the installed console script to check the entry
point and the exit code.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from optjax import data
from optjax.cli import EXIT_BAD_INPUT, EXIT_DIVERGED, main
from optjax.training import optimizer_names

SMALL = [
    "--dataset",
    "iris",
    "--epochs",
    "3",
    "--batch-size",
    "30",
    "--lr",
    "1e-2",
    "--no-progress",
]


def run(capsys, *argv):
    code = main(["train", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_train_writes_table_metrics_params_and_plot(capsys, tmp_path):
    metrics, params, plot = tmp_path / "m.json", tmp_path / "p.npz", tmp_path / "curves.png"
    code, out, err = run(capsys, *SMALL, "--metrics-json", str(metrics), "--save-params",
                         str(params), "--plot", str(plot))  # fmt: skip
    assert code == 0, err
    header = out.splitlines()[1].split()
    assert header == ["loss", "accuracy", "precision", "recall", "f1"]
    assert out.splitlines()[2].startswith("train") and out.splitlines()[3].startswith("test")
    assert "seconds/epoch" in out and "steps/s" in out

    report = json.loads(metrics.read_text())
    assert set(report) >= {"train", "test", "history", "seconds_per_epoch"}
    assert set(report["test"]) == {"loss", "accuracy", "precision", "recall", "f1"}
    assert [h["epoch"] for h in report["history"]] == [1, 2, 3]
    assert report["config"]["dataset"] == "iris"

    with np.load(params) as saved:  # no pickle: plain arrays only
        assert sorted(saved) == ["hidden_0/bias", "hidden_0/kernel", "out/bias", "out/kernel"]
        assert saved["hidden_0/kernel"].shape == (4, 128)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_same_arguments_same_parameters(capsys, tmp_path):
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    assert run(capsys, *SMALL, "--save-params", str(first))[0] == 0
    assert run(capsys, *SMALL, "--save-params", str(second))[0] == 0
    with np.load(first) as a, np.load(second) as b:
        assert sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)


def test_regression_dataset_reports_regression_metrics(capsys, tmp_path):
    metrics = tmp_path / "m.json"
    code, out, err = run(capsys, "--dataset", "linear", "--optimizer", "sgd", "--lr", "0.1",
                         "--epochs", "30", "--no-progress", "--metrics-json", str(metrics))  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[1].split() == ["loss", "mse", "mae", "r2"]
    report = json.loads(metrics.read_text())
    assert report["test"]["r2"] > 0.99  # y = 2x + 1 + N(0, 0.1^2) on U(-2, 2)


@pytest.mark.parametrize(
    "flags",
    [
        ["--optimizer", "sgd", "--lr", "0.1", "--schedule", "cosine", "--warmup", "3"],
        ["--optimizer", "adamw", "--weight-decay", "1e-2", "--clip", "1.0"],
        ["--optimizer", "rmsprop", "--weight-decay", "1e-3", "--schedule", "step"],
        ["--optimizer", "lion", "--lr", "1e-3", "--schedule", "onecycle"],
        ["--model", "logistic", "--patience", "2"],
    ],
)
def test_optimizer_schedule_and_regularization_flags(capsys, flags):
    code, out, err = run(capsys, *SMALL, *flags)
    assert code == 0, err
    assert "test" in out


def test_every_listed_optimizer_builds_and_steps():
    import jax.numpy as jnp

    from optjax.training import make_optimizer

    params = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}
    for name in optimizer_names():
        tx = make_optimizer(name, 1e-3, weight_decay=1e-4, clip=1.0)
        updates, _ = tx.update(params, tx.init(params), params, value=jnp.float32(1.0))
        assert all(bool(jnp.isfinite(u).all()) for u in jax_leaves(updates)), name


def jax_leaves(tree):
    import jax

    return jax.tree.leaves(tree)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--dataset", "mnist_fake"], "unknown dataset 'mnist_fake'; choose one of: digits, iris"),
        (
            ["--model", "transformer"],
            "unknown model 'transformer'; choose one of: linear, logistic",
        ),
        (["--optimizer", "adamm"], "unknown optimizer 'adamm'; choose one of: .*adam, "),
        (["--schedule", "zigzag"], "unknown schedule 'zigzag'; choose one of: constant, cosine"),
        (["--optimizer", "lbfgs"], "lbfgs needs a line search"),
        (["--dataset", "/nonexistent/mnist"], "/nonexistent/mnist"),
        (["--model", "cnn"], r"input shape \(4,\) does not fit a CNN.*dataset 'iris'"),
        (["--model", "linear"], "'linear' is a regression model, but dataset 'iris' has 3 classes"),
        (
            ["--dataset", "diabetes", "--model", "logistic"],
            "is a classifier, but dataset 'diabetes'",
        ),
        (["--warmup", "1000"], "warmup must be .* shorter than the run's 12 steps"),
        (["--weight-decay", "-1"], "weight_decay must be >= 0"),
        (["--test-fraction", "1.5"], r"--test-fraction must be in \(0, 1\)"),
        (["--resume"], "--resume needs --checkpoint-dir"),
        (["--metrics-json", "/nonexistent/dir/m.json"], "--metrics-json: directory"),
    ],
)
def test_bad_input_exits_2_with_a_message_naming_the_problem(capsys, flags, message):
    code, out, err = run(capsys, *SMALL, *flags)
    assert code == EXIT_BAD_INPUT
    assert err.startswith("optjax train: error:")
    assert __import__("re").search(message, err), err
    assert "Traceback" not in err


def test_divergence_exits_1_naming_the_step(capsys):
    code, out, err = run(capsys, *SMALL, "--optimizer", "sgd", "--lr", "1e7")
    assert code == EXIT_DIVERGED
    assert __import__("re").search(r"Training diverged: the loss was \w+ at step \d+", err), err


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--epochs", "0"])
    assert info.value.code == 2
    assert "must be a positive integer" in capsys.readouterr().err


def test_console_script_and_module_entry_point(tmp_path):
    metrics = tmp_path / "m.json"
    result = subprocess.run(
        [sys.executable, "-m", "optjax", "train", *SMALL, "--metrics-json", str(metrics)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(metrics.read_text())["test"]["accuracy"] > 0.5
    bad = subprocess.run([sys.executable, "-m", "optjax", "train", "--dataset", "nope"],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert bad.returncode == EXIT_BAD_INPUT and "unknown dataset" in bad.stderr


def test_mnist_style_npz_path_trains(capsys, tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny-mnist.npz"
    np.savez(path, x_train=rng.integers(0, 256, (64, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, 64), x_test=rng.integers(0, 256, (16, 28, 28), dtype=np.uint8),
             y_test=rng.integers(0, 10, 16))  # fmt: skip
    code, out, err = run(capsys, "--dataset", str(path), "--epochs", "1", "--no-progress")
    assert code == 0, err
    assert len(data.load(str(path), split="test")) == 16
