"""optjax.training.lr_find: the exact ramp, the smoothing and stopping rule, sensible suggestions."""

import numpy as np
import pytest

import optjax
from optjax.training import LRFindResult, TrainState, default_loss, make_model, make_optimizer
from optjax.training._lr_find import _runner, _suggest, lr_find

MSE = default_loss("regression")


@pytest.fixture(scope="module")
def regression():
    """y = X w + b + noise with 3 correlated features; L = largest eigenvalue of the Hessian."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 3)) @ np.array([[1.0, 0.3, 0.0], [0.0, 1.0, 0.5], [0.0, 0.0, 2.0]])
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.1 * rng.normal(size=256)
    design = np.c_[x, np.ones(len(x))]
    # Mean squared error (1/n)|Xw + b - y|^2 has the constant Hessian (2/n) [X 1]^T [X 1].
    hessian_max = np.linalg.eigvalsh(2 * design.T @ design / len(x)).max()
    return {"x": x.astype(np.float32), "y": y.astype(np.float32)}, float(hessian_max)


def linear_state(lr=1e-3, name="sgd"):
    return TrainState.from_nnx(make_model("linear", input_shape=(3,)), make_optimizer(name, lr))


def test_ramp_is_exactly_exponential_and_smoothing_matches_the_closed_form(regression):
    ds, _ = regression
    r = lr_find(linear_state(), ds, loss_fn=MSE, start_lr=1e-6, end_lr=1e-2, num_steps=40,
                batch_size=32)  # fmt: skip
    assert r.stopped_at is None and len(r) == 40  # lr <= 1e-2 << 2/L: no divergence
    i = np.arange(40)
    # The learning rate read back from the optimizer state after each step.
    np.testing.assert_allclose(r.learning_rates, 1e-6 * (1e-2 / 1e-6) ** (i / 39), rtol=1e-6)
    beta, avg, want = 0.98, 0.0, []
    for t, loss in enumerate(r.losses.astype(np.float64)):
        avg = beta * avg + (1 - beta) * loss
        want.append(avg / (1 - beta ** (t + 1)))
    np.testing.assert_allclose(r.smoothed_losses, want, rtol=1e-5)
    # The first step's loss is the loss of the initial model on the first batch.
    first = np.random.default_rng((0, 0)).permutation(256)[:32]
    state = linear_state()
    out, _ = state.apply_model(state.params, ds["x"][first], train=True)
    assert r.losses[0] == pytest.approx(float(MSE(out, {"y": ds["y"][first]})), rel=1e-6)


def test_stops_where_the_smoothed_loss_passes_four_times_its_best(regression):
    ds, hessian_max = regression
    # Full batches: gradient descent on this quadratic diverges exactly for lr > 2/L.
    r = lr_find(linear_state(), ds, loss_fn=MSE, num_steps=100, batch_size=256)
    assert r.stopped_at is not None and len(r) == r.stopped_at + 1
    best = np.minimum.accumulate(r.smoothed_losses)
    assert r.smoothed_losses[-1] > 4 * best[-1]
    assert np.all(r.smoothed_losses[:-1] <= 4 * best[:-1])
    # It stopped only after the rate passed the stability limit 2/L, not long after it.
    assert 2 / hessian_max < r.learning_rates[-1] < 100 * 2 / hessian_max


@pytest.mark.parametrize("batch_size", [256, 32])
def test_suggestions_land_near_one_over_l(regression, batch_size):
    # For gradient descent on a quadratic, 1/L is the best fixed step for the stiffest direction
    # and 2/L the stability limit. The steepest descent of the smoothed loss must come before
    # divergence (< 2/L) and not absurdly early (> 1e-3/L): with a ramp of ratio q per step, the
    # loss starts falling where the sum of past rates, about lr * q / (q - 1) ~ 6 lr here,
    # reaches 1/lambda_min, well inside that interval.
    ds, hessian_max = regression
    r = lr_find(linear_state(), ds, loss_fn=MSE, num_steps=100, batch_size=batch_size)
    for lr in (r.steepest, r.valley):
        assert 1e-3 / hessian_max < lr < 2 / hessian_max


def test_one_compile_for_any_ramp_and_threshold(regression):
    ds, _ = regression
    loss_fn = lambda out, batch: MSE(out, batch)  # noqa: E731 -- a fresh cache entry
    state = linear_state(1e-2)  # one optimizer: a new one is new static metadata
    for start, end, threshold in ((1e-7, 10.0, 4.0), (1e-5, 1.0, 3.0), (1e-4, 0.1, 10.0)):
        lr_find(state, ds, loss_fn=loss_fn, start_lr=start, end_lr=end, num_steps=30,
                batch_size=32, divergence_threshold=threshold)  # fmt: skip
    assert _runner(loss_fn)._cache_size() == 1


def test_valley_rule_on_a_hand_made_curve():
    lrs = np.logspace(-5, 0, 20)
    # Flat, a short dip (2 steps), flat, then a 9-step descent from index 10 to 19.
    smoothed = np.array([5, 5, 5, 4, 3, 3, 3, 3, 3, 3] + [3 - 0.3 * k for k in range(10)], float)
    steepest, valley = _suggest(lrs, smoothed)
    # The first 10% (2 points) are skipped; the longest strictly decreasing run goes from
    # index 10 to 19 (9 steps): valley = lrs[10 + 9 * 2 // 3].
    assert valley == lrs[16]
    # Slopes over +-h = 18 // 20 -> 1 point: the steepest is the 5 -> 4 -> 3 drop at index 3
    # (1 per step) rather than in the 0.3-per-step descent.
    assert steepest == lrs[3]


BAD = [
    (dict(tx=optjax.sgd(0.1)), "make_optimizer"),
    (dict(tx=make_optimizer("sgd", optjax.schedules.linear_schedule(0.1, 0.0, 10))), "schedule"),
    (dict(start_lr=1.0, end_lr=0.1), "start_lr < end_lr"),
    (dict(start_lr=0.0), "start_lr < end_lr"),
    (dict(num_steps=1), "num_steps"),
    (dict(smoothing=1.0), "smoothing"),
    (dict(divergence_threshold=1.0), "divergence_threshold"),
    (dict(batch_size=1000), "larger than the 256"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_input_is_a_value_error(regression, kwargs, message):
    ds, _ = regression
    kwargs = dict(kwargs)
    tx = kwargs.pop("tx", make_optimizer("sgd", 0.1))
    state = TrainState.from_nnx(make_model("linear", input_shape=(3,)), tx)
    with pytest.raises(ValueError) as error:
        lr_find(state, ds, loss_fn=MSE, **kwargs)
    assert message in str(error.value)


def test_plot_is_written(tmp_path, regression):
    ds, _ = regression
    r = lr_find(linear_state(), ds, loss_fn=MSE, num_steps=50, batch_size=32)
    r.plot(tmp_path / "lr.png")
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"


def test_plot_draws_on_a_given_axes_and_leaves_the_backend_alone():
    import matplotlib
    from matplotlib.figure import Figure

    backend = matplotlib.get_backend()
    r = LRFindResult(np.array([1e-3, 1e-2, 1e-1]), np.ones(3), np.ones(3), 1e-2, None, None)
    ax = Figure().add_subplot()
    assert r.plot(ax=ax) is ax
    assert [line.get_label() for line in ax.get_lines()] == [
        "loss",
        "smoothed loss",
        "steepest 0.01",
    ]
    assert matplotlib.get_backend() == backend


# ------------------------------------------------------------------------------------------
# optjax lr-find

FIND = ["lr-find", "--dataset", "iris", "--batch-size", "16", "--no-progress"]


def test_cli_lr_find_prints_suggestions_and_plots(capsys, tmp_path):
    from optjax.cli import main

    plot = tmp_path / "lr.png"
    code = main([*FIND, "--num-steps", "80", "--plot", str(plot)])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert "lr 1e-07 -> 10 over 80 steps" in lines[0]
    suggestions = {line.split()[0]: float(line.split()[1]) for line in lines[1:]}
    assert set(suggestions) == {"steepest", "valley"}
    assert all(1e-7 <= v <= 10 for v in suggestions.values())
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--start-lr", "1", "--end-lr", "0.1"], "must be below --end-lr"),
        (["--num-steps", "1"], "at least 2"),
        (["--optimizer", "nope"], "unknown optimizer"),
    ],
    ids=["ramp", "steps", "optimizer"],
)
def test_cli_lr_find_bad_input_exits_2(capsys, argv, message):
    from optjax.cli import EXIT_BAD_INPUT, main

    code = main([*FIND, *argv])
    _, err = capsys.readouterr()
    assert code == EXIT_BAD_INPUT and message in err and "Traceback" not in err
