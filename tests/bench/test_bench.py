"""Smoke tests of ``optjax bench``: the commands run and write their documented JSON keys.

No timing is asserted anywhere: the figures are for benchmarks/README.md.
"""

from __future__ import annotations

import json
import math
import sys

import pytest

from optjax.bench import _roofline
from optjax.bench.cli import main

ROW_KEYS = {"step_ms", "trace_s", "lower_s", "compile_s", "state_bytes", "bytes_read",
            "bytes_written", "roofline_ms", "roofline_fraction"}  # fmt: skip
# Per-call runtime cost (a no-op with the step's buffers) and the step inside a compiled loop.
POSITIVE_KEYS = {"call_overhead_ms", "loop_ms_per_step", "loop_steps", "loop_compile_s",
                 "loop_roofline_ms_per_step", "loop_roofline_steps", "loop_roofline_fraction",
                 "buffers_in", "buffers_out"}  # fmt: skip
META_KEYS = {"date", "device", "jax", "optax", "loadavg_start", "loadavg_end"}


def test_update_writes_rows_for_both_libraries(tmp_path, capsys):
    path = tmp_path / "update.json"
    argv = ["update", "--quick", "--chains", "clip_adamw,sgd_momentum", "--trees", "leaves10",
            "--repeats", "2", "--json", str(path)]  # fmt: skip
    assert main(argv) == 0
    payload = json.loads(path.read_text())
    assert META_KEYS <= set(payload["meta"])
    rows = payload["rows"]
    assert [(r["chain"], r["tree"]) for r in rows] == [
        ("clip_adamw", "leaves10"), ("sgd_momentum", "leaves10")]  # fmt: skip
    for row in rows:
        assert row["leaves"] == 10 and row["params"] == 10 * 16 * 16
        for lib in ("optjax", "optax"):
            assert ROW_KEYS | POSITIVE_KEYS <= set(row[lib])
            assert row[lib]["step_ms"] > 0 and row[lib]["roofline_fraction"] > 0
            for key in POSITIVE_KEYS:
                assert math.isfinite(row[lib][key]) and row[lib][key] > 0, key
            assert row[lib]["loop_steps"] >= 2
            # 10 params + state + 10 grads in; the donated params and state come back out.
            assert row[lib]["buffers_in"] == row[lib]["buffers_out"] + 10
        assert {"step_ratio", "compile_ratio"} <= set(row)
        assert math.isfinite(row["loop_step_ratio"]) and row["loop_step_ratio"] > 0
    # adamw keeps two moments: state = 2x params (plus a count), for both libraries.
    adam = rows[0]
    assert adam["optjax"]["state_bytes"] == adam["optax"]["state_bytes"]
    assert adam["optjax"]["state_bytes"] >= 2 * 4 * adam["params"]
    assert "| clip_adamw | leaves10 |" in capsys.readouterr().out


def test_fit_writes_epoch_times(tmp_path, capsys):
    path = tmp_path / "fit.json"
    argv = ["fit", "--quick", "--workloads", "linear", "--epochs", "2", "--json", str(path)]
    assert main(argv) == 0
    payload = json.loads(path.read_text())
    (row,) = payload["rows"]
    assert row["workload"] == "linear" and row["examples"] == 160
    for method in ("optjax_fit", "nnx_loop", "jit_loop"):
        assert {"epoch_s", "first_epoch_s", "final_loss"} <= set(row[method])
    assert {"speedup_vs_nnx_loop", "speedup_vs_jit_loop", "torch"} <= set(row)
    assert payload["meta"]["torch"] in ("available", "torch not installed")
    if payload["meta"]["torch"] == "available":
        # Same weights, batches and Adam: PyTorch's epoch losses follow fit's, and fall.
        ours, theirs = row["optjax_fit"]["epoch_losses"], row["torch"]["epoch_losses"]
        assert theirs[1] < theirs[0]
        assert theirs == pytest.approx(ours, rel=1e-3)
        assert row["speedup_vs_torch"] > 0 and row["torch"]["setting"] in row["torch"]["by_setting"]


def test_fit_says_when_torch_is_not_installed(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    path = tmp_path / "fit.json"
    argv = ["fit", "--quick", "--workloads", "linear", "--epochs", "2", "--json", str(path)]
    assert main(argv) == 0
    payload = json.loads(path.read_text())
    assert payload["meta"]["torch"] == "torch not installed"
    assert payload["rows"][0]["torch"] is None and payload["rows"][0]["speedup_vs_torch"] is None
    assert "torch not installed" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_torch_twin_computes_the_flax_model(name):
    torch = pytest.importorskip("torch")
    import numpy as np
    from flax import nnx

    from optjax import data
    from optjax.bench._torch_baseline import torch_model
    from optjax.training import make_model

    options = {"mlp": {"hidden_sizes": (8, 4)}, "cnn": {"features": (2, 3)}}[name]
    model = make_model(name, input_shape=(8, 8, 1), num_classes=10, **options)
    twin = torch_model(name, nnx.to_pure_dict(nnx.state(model, nnx.Param)), (8, 8, 1))
    x = data.load("digits").x[:6]
    images = torch.from_numpy(x).permute(0, 3, 1, 2) if name == "cnn" else torch.from_numpy(x)
    expected = np.asarray(model(x))
    np.testing.assert_allclose(twin(images).detach().numpy(), expected, rtol=1e-5, atol=1e-5)


def test_suite_writes_json_and_profiles(tmp_path, capsys):
    out = tmp_path / "suite"
    argv = ["suite", "--quick", "--optimizers", "adam,sgd", "--problems", "rosenbrock",
            "--seeds", "1", "--max-steps", "100", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    payload = json.loads((out / "results.json").read_text())
    assert {"meta", "results", "skipped", "profiles"} <= set(payload)
    assert [r["optimizer"] for r in payload["results"]] == ["adam", "sgd"]
    for result in payload["results"]:
        assert result["problem"] == "rosenbrock" and result["steps_run"] <= 100
        assert len(result["runs"]) == 3  # quick grid of 3 learning rates x 1 seed
        assert {"learning_rate", "seed", "steps_to_target", "time_to_target_s"} <= set(
            result["runs"][0]
        )
        assert {"best_lr", "best", "default", "per_lr"} <= set(result["summary"])
    assert set(payload["profiles"]) == {"tuned", "default"}
    for kind in ("tuned", "default"):
        assert (out / f"profile_{kind}.png").stat().st_size > 0


def test_run_suite_takes_a_selection_and_custom_optimizers():
    import optjax
    from optjax.bench import _suite
    from optjax.training import make_optimizer

    cautious = _suite.SuiteOptimizer(
        "cautious_adam", optjax.cautious(make_optimizer("adam", 0.1)), default_lr=0.1
    )
    events = []
    payload = _suite.run_suite(["quadratic"], ["prodigy", cautious], grid=(1.0, 3.0), seeds=2,
                               max_steps={"quadratic": 300},
                               progress=lambda event, data: events.append(event))  # fmt: skip
    assert events == ["start", "result", "result"] and payload["skipped"] == []
    prodigy, custom = payload["results"]
    assert custom["optimizer"] == "cautious_adam" and custom["default_lr"] == 0.1
    assert [(r["learning_rate"], r["seed"]) for r in prodigy["runs"]] == [
        (1.0, 0), (1.0, 1), (3.0, 0), (3.0, 1)]  # fmt: skip
    assert prodigy["budget"] == 300 and prodigy["steps_run"] <= 300
    # Prodigy needs no learning rate: it solves the quadratic within 300 steps (100-200 seen).
    assert prodigy["summary"]["best"]["steps"] <= 300
    profile = payload["profiles"]["tuned"]
    assert profile["problems"] == ["quadratic"] and profile["profile"]["prodigy"][-1] == 1.0


def test_one_learning_rate_at_a_time_matches_the_vmapped_runs():
    from optjax.bench import _problems, _suite

    problem, adam = _problems.PROBLEMS["rosenbrock"](), _suite.suite_optimizer("adam")
    together = _suite.run_problem(problem, adam, [0.03, 0.1], 2, 1000)
    apart = _suite.run_problem(problem, adam._replace(one_lr_at_a_time=True), [0.03, 0.1], 2, 1000)
    steps = [r["steps_to_target"] for r in apart["runs"]]
    assert steps == [r["steps_to_target"] for r in together["runs"]]
    assert None in steps and set(steps) != {None}  # some runs meet the target, some miss
    for g, curve in enumerate(apart["metric_curve"]):  # one curve per rate, the seeds side by side
        for row, joint in zip(curve, together["metric_curve"], strict=False):
            assert row == pytest.approx(joint[2 * g : 2 * g + 2], rel=1e-3, abs=1e-6)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"optimizers": ["plain"]}, "learning rate must be an injected hyperparameter"),
        ({"max_steps": {"mnist": 10}}, "unknown problem mnist; choose from: rosenbrock"),
        ({"max_steps": 0}, "must be an integer >= 1"),
        ({"grid": ()}, "grid must hold factors > 0"),
        ({"seeds": 0}, "seeds must be >= 1"),
        ({"optimizers": ["adamx"]}, "unknown optimizer adamx; choose from: sgd"),
    ],
)
def test_run_suite_rejects_bad_input_before_training(kwargs, expected):
    import optjax
    from optjax.bench import _suite

    if kwargs.get("optimizers") == ["plain"]:  # no inject_hyperparams: the rate cannot be set
        kwargs["optimizers"] = [_suite.SuiteOptimizer("plain", optjax.adam(1e-3), 1e-3)]
    with pytest.raises(ValueError, match=expected):
        _suite.run_suite(["rosenbrock"], **kwargs)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["update", "--chains", "adamw,nope"], "unknown chain nope; choose from: sgd_momentum"),
        (["update", "--trees", "huge"], "unknown tree huge; choose from: leaf16m"),
        (["fit", "--workloads", "resnet"], "unknown workload resnet; choose from: linear"),
        (["suite", "--optimizers", "adamx"], "unknown optimizer adamx; choose from: sgd"),
        (["suite", "--problems", "mnist"], "unknown problem mnist; choose from: rosenbrock"),
        (["update", "--repeats", "0"], "--repeats must be >= 1"),
        (["fit", "--epochs", "1"], "--epochs must be >= 2"),
    ],
)
def test_bad_names_list_the_choices(argv, expected, capsys, tmp_path):
    assert main(argv) == 2
    assert expected in capsys.readouterr().err


def test_unknown_benchmark_lists_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bogus"])
    assert exit_info.value.code == 2
    assert "choose from 'update', 'fit', 'suite'" in capsys.readouterr().err


def test_missing_benchmark_lists_the_choices(capsys):
    assert main([]) == 2
    assert "choose from: update, fit, suite" in capsys.readouterr().err


@pytest.mark.parametrize(
    "read, written, rows",
    [(7 * 4096, 3 * 4096, (7, 3)), (4096, 4096, (1, 1)), (2 * 4096 + 8, 4096 + 4, (2, 1))],
)
def test_roofline_kernel_moves_the_requested_bytes(read, written, rows):
    fn, x, out = _roofline.roofline_kernel(read, written)
    assert (x.shape[1], out.shape[1]) == rows
    assert abs(x.nbytes - read) <= 64 * 16 and abs(out.nbytes - written) <= 64 * 16
    out = fn(x, out)  # x is all ones: each output row is (1 + number of extra rows) / 2
    assert float(out.min()) == float(out.max()) == 0.5 * (1 + rows[0] - rows[1])


def test_roofline_loop_repeats_the_kernel():
    import jax.numpy as jnp

    fn, x, out = _roofline.roofline_loop(7 * 4096, 3 * 4096)
    assert (x.shape[1], out.shape[1]) == (7, 3)
    out = fn(x, out, jnp.int32(3))  # every step writes the kernel's value: (1 + 4) / 2
    assert float(out.min()) == float(out.max()) == 2.5


def test_parser_names_match_the_benchmarks():
    from optjax.bench import _fit, _names, _problems, _suite, _update

    assert tuple(_update.CHAINS) == _names.CHAINS and tuple(_update.TREES) == _names.TREES
    assert tuple(_fit.WORKLOADS) == _names.WORKLOADS
    assert tuple(_problems.PROBLEMS) == _names.PROBLEMS
    assert set(_suite.choices()) == set(_names.OPTIMIZERS)  # all buildable by make_optimizer
    assert set(_names.DEFAULT_OPTIMIZERS) <= set(_names.OPTIMIZERS)


def test_adamw_large_reports_roofline_and_says_when_torch_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "torch", None)  # as if not installed
    path = tmp_path / "large.json"
    assert main(["adamw-large", "--params", "8192", "--repeats", "2", "--json", str(path)]) == 0
    result = json.loads(path.read_text())["result"]
    assert result["params"] == 8192 and result["bytes_per_step"] == 28 * 8192
    for key in ("roofline_ms", "optjax_ms", "optax_ms", "optjax_roofline_frac", "optjax_gb_per_s"):
        assert result[key] > 0
    assert result["torch_ms"] is None and result["torch"] == "torch not installed"
    assert "torch not installed" in capsys.readouterr().out


def test_adamw_large_rejects_a_tiny_size(capsys):
    assert main(["adamw-large", "--params", "10"]) == 2
    assert "--params must be at least 1024, got 10" in capsys.readouterr().err
