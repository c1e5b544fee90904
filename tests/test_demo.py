"""`make demo` (``optjax train`` with its defaults) and `make demo-regression`."""

import json

import numpy as np

from optjax import demo
from optjax.cli import main


def test_make_demo_reaches_95_percent_on_digits(capsys, tmp_path):
    """The defaults: digits, an MLP, Adam; the issue asks for >= 95% test accuracy."""
    metrics = tmp_path / "metrics.json"
    assert main(["train", "--no-progress", "--metrics-json", str(metrics)]) == 0
    report = json.loads(metrics.read_text())
    assert report["config"]["dataset"] == "digits" and report["config"]["optimizer"] == "adam"
    assert report["test"]["accuracy"] >= 0.95
    assert len(report["history"]) == 30
    assert "test" in capsys.readouterr().out


def test_demo_optimizers_reach_the_least_squares_solution(capsys):
    rows = demo.main(["--steps", "500"])
    x_train, y_train, _, _ = demo.make_data()
    w_star, b_star = demo.least_squares(x_train, y_train)
    # The data were generated with w = 2, b = 1: least squares recovers them.
    assert abs(w_star - 2.0) < 0.05 and abs(b_star - 1.0) < 0.05
    assert [r["optimizer"] for r in rows] == list(demo.OPTIMIZERS)
    for row in rows:
        assert abs(row["w"] - w_star) < 2e-2, row
        assert abs(row["b"] - b_star) < 2e-2, row
        assert np.isfinite(row["test_mse"])
    printed = capsys.readouterr().out
    assert "closed form" in printed and "adafactor" in printed
