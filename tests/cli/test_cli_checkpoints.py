"""``optjax train`` with checkpoints: SIGKILL mid-save, --resume, corruption, divergence.

The kill test runs the real command in a subprocess whose orbax commit step is
patched to SIGKILL the process while step N's checkpoint is being written; the
resumed run must end with exactly (bit for bit) the parameters of an
uninterrupted run with the same arguments.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from optjax.cli import EXIT_BAD_INPUT, EXIT_DIVERGED, main

REPO = pathlib.Path(__file__).resolve().parent.parent
# digits has 1437 training examples: 45 steps per epoch at batch size 32 (the
# last one short), so checkpoints every 20 steps fall inside epochs.
ARGS = ["--dataset", "digits", "--epochs", "3", "--batch-size", "32", "--lr", "3e-3",
        "--checkpoint-every", "20", "--no-progress"]  # fmt: skip

_KILL_DURING_SAVE = """
import os, signal, sys
import orbax.checkpoint._src.path.atomicity as atomicity
from optjax.cli import main

kill_at = sys.argv[1]
finalize = atomicity.AtomicRenameTemporaryPath.finalize

async def finalize_or_die(self, *args, **kwargs):
    # Every file of this step is written; the commit (rename) has not happened.
    if self.get_final().name == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return await finalize(self, *args, **kwargs)

atomicity.AtomicRenameTemporaryPath.finalize = finalize_or_die
sys.exit(main(sys.argv[2:]))
"""


def run(capsys, *argv):
    code = main(["train", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def load(path):
    with np.load(path) as saved:
        return {k: saved[k] for k in saved}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """Final params and metrics of the run every resumed run must reproduce."""
    directory = tmp_path_factory.mktemp("uninterrupted")
    params, metrics = directory / "params.npz", directory / "metrics.json"
    code = main(["train", *ARGS, "--checkpoint-dir", str(directory / "ckpt"),
                 "--save-params", str(params), "--metrics-json", str(metrics)])  # fmt: skip
    assert code == 0
    return load(params), json.loads(metrics.read_text())


@pytest.mark.parametrize("kill_at", [60, 135])  # inside epoch 2; the final save
def test_sigkill_during_checkpointing_then_resume_gives_identical_params(
    tmp_path, capsys, uninterrupted, kill_at
):
    checkpoints = tmp_path / "ckpt"
    driver = tmp_path / "kill_during_save.py"
    driver.write_text(textwrap.dedent(_KILL_DURING_SAVE))
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}
    killed = subprocess.run(
        [sys.executable, str(driver), str(kill_at), "train", *ARGS,
         "--checkpoint-dir", str(checkpoints)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    steps = sorted(p.name for p in (checkpoints / "steps").iterdir())
    assert any(name.startswith(f"{kill_at}.") and not name.isdigit() for name in steps), steps

    params, metrics = tmp_path / "params.npz", tmp_path / "metrics.json"
    code, out, err = run(capsys, *ARGS, "--checkpoint-dir", str(checkpoints), "--resume",
                         "--save-params", str(params), "--metrics-json", str(metrics))  # fmt: skip
    assert code == 0, err
    expected_params, expected_metrics = uninterrupted
    resumed = load(params)
    assert sorted(resumed) == sorted(expected_params)
    for key in resumed:
        assert np.array_equal(resumed[key], expected_params[key]), key
    report = json.loads(metrics.read_text())
    assert report["test"] == expected_metrics["test"]
    # The history continues across the kill: same epochs, same losses.
    strip = lambda history: [{k: v for k, v in h.items() if k != "seconds"} for h in history]  # noqa: E731
    assert strip(report["history"]) == strip(expected_metrics["history"])


def test_resuming_a_finished_run_changes_nothing(tmp_path, capsys):
    flags = ["--dataset", "iris", "--epochs", "2", "--lr", "1e-2", "--no-progress",
             "--checkpoint-dir", str(tmp_path / "ckpt")]  # fmt: skip
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    assert run(capsys, *flags, "--save-params", str(first))[0] == 0
    assert run(capsys, *flags, "--resume", "--save-params", str(second))[0] == 0
    a, b = load(first), load(second)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def _corrupt_array_file(step_dir):
    files = [p for p in (step_dir / "state").rglob("*") if p.is_file() and p.stat().st_size > 64]
    target = max(files, key=lambda p: p.stat().st_size)
    target.write_bytes(b"\x00garbage" * 16)
    return "state"


def _corrupt_metadata(step_dir):
    (step_dir / "metadata" / "metadata").write_text("{not json")
    return "metadata"


@pytest.mark.parametrize("corrupt", [_corrupt_array_file, _corrupt_metadata])
def test_corrupted_checkpoint_is_an_error_naming_the_file(tmp_path, capsys, corrupt):
    directory = tmp_path / "ckpt"
    flags = [
        "--dataset",
        "iris",
        "--epochs",
        "1",
        "--no-progress",
        "--checkpoint-dir",
        str(directory),
    ]
    assert run(capsys, *flags)[0] == 0
    step_dir = max((directory / "steps").iterdir(), key=lambda p: int(p.name))
    name = corrupt(step_dir)
    code, out, err = run(capsys, *flags, "--resume")
    assert code == EXIT_BAD_INPUT
    assert str(step_dir) in err and name in err, err
    assert "Traceback" not in err


def test_checkpoint_of_another_model_is_an_error_naming_the_key_path(tmp_path, capsys):
    flags = [
        "--dataset",
        "iris",
        "--epochs",
        "1",
        "--no-progress",
        "--checkpoint-dir",
        str(tmp_path),
    ]
    assert run(capsys, *flags)[0] == 0
    code, out, err = run(capsys, *flags, "--model", "logistic", "--resume")
    assert code == EXIT_BAD_INPUT
    assert "hidden_0" in err or "['out']" in err, err


def test_divergence_keeps_the_last_good_checkpoint(tmp_path, capsys):
    directory = tmp_path / "ckpt"
    # Plain SGD at lr 1 on diabetes's raw targets blows up within the first epoch.
    flags = ["--dataset", "diabetes", "--epochs", "5", "--batch-size", "8", "--no-progress",
             "--optimizer", "sgd", "--lr", "1.0", "--checkpoint-dir", str(directory),
             "--checkpoint-every", "2"]  # fmt: skip
    code, out, err = run(capsys, *flags)
    assert code == EXIT_DIVERGED, err
    assert "last checkpoint is step" in err
    from optjax.training import Checkpointer

    with Checkpointer(directory) as checkpoints:
        latest = checkpoints.latest_step()
    step = int(err.split(" at step ")[1].split()[0])
    assert latest is not None and latest <= step
