"""Smoke tests of ``optjax bench``: the commands run and write their documented JSON keys.

No timing is asserted anywhere: the figures are for benchmarks/README.md.
"""

from __future__ import annotations

import json

import pytest

from optjax.bench import _roofline
from optjax.bench.cli import main

ROW_KEYS = {"step_ms", "trace_s", "lower_s", "compile_s", "state_bytes", "bytes_read",
            "bytes_written", "roofline_ms", "roofline_fraction"}  # fmt: skip
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
            assert ROW_KEYS <= set(row[lib])
            assert row[lib]["step_ms"] > 0 and row[lib]["roofline_fraction"] > 0
        assert {"step_ratio", "compile_ratio"} <= set(row)
    # adamw keeps two moments: state = 2x params (plus a count), for both libraries.
    adam = rows[0]
    assert adam["optjax"]["state_bytes"] == adam["optax"]["state_bytes"]
    assert adam["optjax"]["state_bytes"] >= 2 * 4 * adam["params"]
    assert "| clip_adamw | leaves10 |" in capsys.readouterr().out


def test_fit_writes_epoch_times(tmp_path, capsys):
    path = tmp_path / "fit.json"
    assert main(["fit", "--workloads", "linear", "--epochs", "2", "--json", str(path)]) == 0
    payload = json.loads(path.read_text())
    (row,) = payload["rows"]
    assert row["workload"] == "linear" and row["examples"] == 160
    for method in ("optjax_fit", "nnx_loop", "jit_loop"):
        assert {"epoch_s", "first_epoch_s", "final_loss"} <= set(row[method])
    assert {"speedup_vs_nnx_loop", "speedup_vs_jit_loop", "torch"} <= set(row)
    assert payload["meta"]["torch"] in ("available", "torch not installed")


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
