"""Multi-device and multi-process training: ``fit(mesh=...)`` and ``jax.distributed``.

The runs happen in fresh interpreters (the device count and the distributed
runtime are fixed when JAX starts its backends), each running DRIVER, which
does what ``optjax train`` does with the distributed flags: parse them with
``add_distributed_arguments``, call ``setup_distributed`` before any JAX work,
then ``fit`` an MLP on iris and print one JSON line. The references are
separate runs: single-device ``fit`` in the same interpreter, and a run split
across 2 processes compared with one process holding 2 host devices.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import jax.numpy as jnp
import numpy as np
import pytest

from optjax.cli import UsageError
from optjax.cli._distributed import add_distributed_arguments, setup_distributed
from optjax.training import _distributed

DRIVER = textwrap.dedent(
    """
    import argparse
    import json
    import sys
    import warnings

    from optjax.cli._distributed import add_distributed_arguments, setup_distributed
    from optjax.cli import UsageError

    warnings.simplefilter("error")
    parser = argparse.ArgumentParser()
    add_distributed_arguments(parser)
    parser.add_argument("--mode", default="train", choices=["train", "reference"])
    parser.add_argument("--checkpoint-dir", default=None)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    try:
        mesh = setup_distributed(args)  # before any JAX computation
    except UsageError as error:
        print(f"driver: error: {error}", file=sys.stderr)
        sys.exit(2)

    import jax
    import numpy as np

    import optjax
    from optjax import data
    from optjax.training import Checkpointer, TrainState, default_loss, evaluate, fit, make_model

    jax.config.update("jax_numpy_rank_promotion", "raise")
    train, test = data.train_test_split(data.load("iris", seed=0), 0.2, seed=0)
    (train, test), _ = data.standardize(train, test)  # 120 train examples
    CE = default_loss("classification")


    def new_state():
        model = make_model("mlp", input_shape=(4,), num_classes=3, hidden_sizes=(16,), seed=0)
        return TrainState.from_nnx(model, optjax.adam(1e-2), rng=0)


    def run(epochs, mesh, shard_opt_state=False, checkpointer=None, resume=False):
        state, history = fit(new_state(), train, loss_fn=CE, epochs=epochs, batch_size=24,
                             validation_data=test, seed=0, progress=False, mesh=mesh,
                             shard_opt_state=shard_opt_state, checkpointer=checkpointer,
                             resume=resume)
        return {
            "test_loss": evaluate(state, test, loss_fn=CE)["loss"],
            "losses": history["loss"],
            "step": int(state.step),
            "params": [np.asarray(x).ravel().tolist() for x in jax.tree.leaves(state.params)],
        }


    out = {"processes": jax.process_count(), "devices": jax.device_count(),
           "mesh_size": None if mesh is None else int(mesh.size)}
    if args.mode == "reference":
        out["single"] = run(args.epochs, None)
        out["single_longer"] = run(args.epochs + 2, None)
        out["mesh"] = run(args.epochs, mesh)
        out["zero1"] = run(args.epochs, mesh, shard_opt_state=True)
        traced = []

        def recording_loss(outputs, batch):
            traced.append(1)
            return CE(outputs, batch)

        try:
            fit(new_state(), train, loss_fn=recording_loss, batch_size=25, mesh=mesh,
                progress=False)
        except ValueError as error:
            out["indivisible"] = {"error": str(error), "traced": len(traced)}
    else:
        ckpt = Checkpointer(args.checkpoint_dir) if args.checkpoint_dir else None
        if ckpt is not None and args.resume:
            restored, _ = ckpt.restore(new_state())
            out["restored_params"] = [
                np.asarray(x).ravel().tolist() for x in jax.tree.leaves(restored.params)
            ]
        out["run"] = run(args.epochs, mesh, args.shard_opt_state, ckpt, args.resume)
        if ckpt is not None:
            ckpt.close()
    print("RESULTS " + json.dumps(out))
    """
)

EPOCHS = 4
PROCESS_TIMEOUT = 240


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    path = tmp_path_factory.mktemp("distributed") / "driver.py"
    path.write_text(DRIVER)
    return path


def env() -> dict[str, str]:
    out = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1")
    out.pop("XLA_FLAGS", None)  # devices come from --host-devices
    return out


def start(driver, *flags):
    return subprocess.Popen(
        [sys.executable, str(driver), *map(str, flags)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )


def results(proc) -> dict:
    stdout, stderr = proc.communicate(timeout=PROCESS_TIMEOUT)
    assert proc.returncode == 0, stderr[-4000:]
    line = [x for x in stdout.splitlines() if x.startswith("RESULTS ")][-1]
    return json.loads(line[len("RESULTS ") :])


def assert_params_close(a, b, **tolerance):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, **tolerance)


@pytest.fixture(scope="module")
def reference(driver):
    """One process, 2 host devices: single-device fit, mesh fit, ZeRO-1 fit, a bad batch."""
    return results(start(driver, "--mode", "reference", "--host-devices", 2, "--epochs", EPOCHS))


@pytest.fixture(scope="module")
def two_processes(driver, tmp_path_factory):
    """Two processes on 127.0.0.1 (one CPU device each), writing checkpoints together."""
    directory = tmp_path_factory.mktemp("two_processes") / "checkpoints"
    port = free_port()
    procs = [
        start(driver, "--coordinator", f"127.0.0.1:{port}", "--num-processes", 2,
              "--process-id", i, "--distributed-timeout", 60, "--epochs", EPOCHS,
              "--checkpoint-dir", directory)
        for i in range(2)
    ]  # fmt: skip
    try:
        return [results(proc) for proc in procs], directory
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


# -- one process, several devices -------------------------------------------------------------


@pytest.mark.parametrize("run", ["mesh", "zero1"])
def test_fit_on_two_host_devices_equals_single_device_fit(reference, run):
    assert reference["devices"] == 2 and reference["mesh_size"] == 2
    single, parallel = reference["single"], reference[run]
    assert parallel["step"] == single["step"] == EPOCHS * 5
    # Float32 rounding only: the gradient sums are split across the devices.
    np.testing.assert_allclose(parallel["losses"], single["losses"], rtol=1e-5, atol=1e-6)
    assert_params_close(parallel["params"], single["params"], rtol=1e-5, atol=1e-5)
    assert parallel["test_loss"] == pytest.approx(single["test_loss"], abs=1e-5)


def test_a_global_batch_that_does_not_divide_is_an_error_before_any_compile(reference):
    bad = reference["indivisible"]
    assert "global batch size 25" in bad["error"] and "2 devices" in bad["error"]
    assert "24 or 26" in bad["error"]
    assert bad["traced"] == 0  # the loss was never traced, so nothing was compiled


# -- several processes ------------------------------------------------------------------------


def test_two_processes_end_with_the_test_loss_of_one_process_with_two_devices(
    reference, two_processes
):
    (first, second), _ = two_processes
    for result in (first, second):
        assert result["processes"] == 2 and result["devices"] == 2 and result["mesh_size"] == 2
        assert result["run"]["step"] == EPOCHS * 5
        assert result["run"]["test_loss"] == pytest.approx(reference["mesh"]["test_loss"], abs=1e-5)
        np.testing.assert_allclose(result["run"]["losses"], reference["mesh"]["losses"],
                                   rtol=1e-5, atol=1e-6)  # fmt: skip
    # Both processes hold the same (replicated) parameters, bit for bit.
    assert first["run"]["params"] == second["run"]["params"]


def test_a_checkpoint_written_by_two_processes_is_resumed_by_one(driver, reference, two_processes):
    (first, _), directory = two_processes
    assert (directory / "steps" / str(EPOCHS * 5)).is_dir()
    resumed = results(
        start(driver, "--checkpoint-dir", directory, "--resume", "--epochs", EPOCHS + 2)
    )
    assert resumed["processes"] == 1 and resumed["mesh_size"] is None
    # The checkpoint holds the 2-process run's final parameters exactly.
    assert resumed["restored_params"] == first["run"]["params"]
    run, uninterrupted = resumed["run"], reference["single_longer"]
    assert run["step"] == uninterrupted["step"] == (EPOCHS + 2) * 5
    # The history continues; the first epochs ran on 2 processes, hence the tolerance.
    np.testing.assert_allclose(run["losses"], uninterrupted["losses"], rtol=1e-5, atol=1e-6)
    assert_params_close(run["params"], uninterrupted["params"], rtol=1e-4, atol=1e-5)
    assert run["test_loss"] == pytest.approx(uninterrupted["test_loss"], abs=1e-5)


def test_an_unreachable_coordinator_ends_with_a_clear_error_within_the_timeout(driver):
    port = free_port()  # nothing listens there
    started = time.monotonic()
    proc = start(driver, "--coordinator", f"127.0.0.1:{port}", "--num-processes", 2,
                 "--process-id", 1, "--distributed-timeout", 3)  # fmt: skip
    _, stderr = proc.communicate(timeout=PROCESS_TIMEOUT)
    elapsed = time.monotonic() - started
    assert proc.returncode == 2
    assert f"cannot reach the coordinator at 127.0.0.1:{port}" in stderr
    assert "Start process 0 first" in stderr
    assert elapsed < 60  # bounded: the 3 s wait plus the interpreter's start


# -- bad input, checked in this process -------------------------------------------------------


def parse(*flags) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_distributed_arguments(parser)
    return parser.parse_args([str(f) for f in flags])


@pytest.mark.parametrize(
    "flags, match",
    [
        (("--num-processes", 2, "--process-id", 2, "--coordinator", "127.0.0.1:1"),
         r"--process-id must be in \[0, 2\), got 2"),
        (("--num-processes", 2, "--process-id", -1, "--coordinator", "127.0.0.1:1"),
         r"--process-id must be in \[0, 2\), got -1"),
        (("--process-id", 1), r"--process-id must be in \[0, 1\), got 1"),
        (("--num-processes", 2, "--process-id", 1), "needs --coordinator HOST:PORT"),
        (("--host-devices", 2), "already initialized"),
    ],
)  # fmt: skip
def test_setup_distributed_rejects_bad_flags(flags, match):
    jnp.zeros(1).block_until_ready()  # this process's backends are running
    with pytest.raises(UsageError, match=match):
        setup_distributed(parse(*flags))


@pytest.mark.parametrize(
    "args, match",
    [
        (("127.0.0.1:1", 2, 2), r"process_id must be in \[0, 2\), got 2"),
        (("127.0.0.1:1", 2, -1), r"process_id must be in \[0, 2\), got -1"),
        (("127.0.0.1:1", 0, 0), "num_processes must be an int >= 1"),
        (("localhost", 2, 0), "coordinator must be HOST:PORT"),
        (("127.0.0.1:1", 2, 1, 0), "timeout_s must be > 0"),
    ],
)
def test_initialize_rejects_bad_arguments(args, match):
    *positional, timeout = args if len(args) == 4 else (*args, 5.0)
    with pytest.raises(ValueError, match=match):
        _distributed.initialize(*positional, timeout_s=timeout)


def test_host_devices_after_the_backends_started_is_an_error():
    jnp.zeros(1).block_until_ready()
    with pytest.raises(RuntimeError, match="call host_devices first"):
        _distributed.host_devices(2)


def test_without_flags_setup_distributed_changes_nothing():
    assert setup_distributed(parse()) is None


def test_process_batch_slice_in_one_process():
    assert _distributed.process_batch_slice(32) == slice(0, 32)
    with pytest.raises(ValueError, match="global_batch_size must be an int >= 1"):
        _distributed.process_batch_slice(0)
