"""``optjax bench suite``: steps and time to target over a grid of learning rates and seeds.

For each (problem, optimizer) every learning rate of the grid and every seed
trains at once: one ``jax.vmap`` over runs of a ``lax.scan`` of ``eval_every``
steps, compiled once (AOT) and timed without the compile. The learning rate
lives in the optimizer state (``optjax.training.make_optimizer`` wraps it in
``inject_hyperparams``), so the grid is data, not recompiles.

Steps-to-target is the first evaluation at which a run meets the target;
time-to-target is that many steps times the measured time per step per run
(the vmapped chunk time divided by the number of runs). The AlgoPerf-style
performance profile plots, per optimizer, the fraction of problems it solves
within a factor :math:`\\tau` of the fastest optimizer on that problem.

From Python, :func:`run_suite` runs any selection (problems, optimizers, grid,
seeds, step caps) and returns what ``optjax bench suite`` writes to
``results.json``; :func:`draw_profile` draws a profile on a matplotlib axes.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import optjax
from optjax.bench import _common, _names, _problems
from optjax.training import make_optimizer, optimizer_names

SPECS = _names.OPTIMIZERS
DEFAULT_OPTIMIZERS = _names.DEFAULT_OPTIMIZERS
# Left out of --quick (10-minute budget on 2 CPU cores): on the transformer, SOAP
# did not finish within 5 minutes (before ONE_LR_AT_A_TIME; possibly that hang).
QUICK_SKIP = {("char_lm", "soap"), ("char_lm", "shampoo")}
# jnp.linalg.eigh (LAPACK) vmapped over 9 runs inside lax.scan hung XLA:CPU
# (every thread in a futex wait, reproducible on jax 0.10.2 with 2 cores): these
# run one learning rate at a time (the seeds still vmapped), through one compile.
ONE_LR_AT_A_TIME = {"soap", "shampoo"}
GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
QUICK_GRID = (0.3, 1.0, 3.0)


class SuiteOptimizer(NamedTuple):
    """An optimizer as the suite runs it.

    Attributes:
      name: the label in tables, results and profiles.
      tx: a gradient transformation whose learning rate is an injected
        hyperparameter (:func:`optjax.inject_hyperparams`, anywhere in the
        state), so the suite can set it per run.
      default_lr: the rate the grid's factors multiply.
      one_lr_at_a_time: train the grid's rates one after another instead of
        vmapped together (see :data:`ONE_LR_AT_A_TIME`).
    """

    name: str
    tx: Any
    default_lr: float
    one_lr_at_a_time: bool = False


def choices() -> tuple[str, ...]:
    """Optimizer names the suite accepts."""
    return tuple(n for n, spec in SPECS.items() if spec[0] in optimizer_names())


def suite_optimizer(name: str) -> SuiteOptimizer:
    """The suite's optimizer ``name`` (one of :func:`choices`), built by ``make_optimizer``."""
    if name not in SPECS:
        raise _common.BenchUsageError(
            f"unknown optimizer {name}; choose from: {', '.join(choices())}"
        )
    base, default_lr, options = SPECS[name]
    return SuiteOptimizer(name, make_optimizer(base, default_lr, **options), default_lr,
                          name in ONE_LR_AT_A_TIME)  # fmt: skip


def run_problem(problem: _problems.Problem, optimizer: str | SuiteOptimizer, lrs: list[float],
                seeds: int, max_steps: int) -> dict[str, Any]:  # fmt: skip
    """Trains ``len(lrs) * seeds`` runs and records when each meets the target.

    All runs train at once, or one learning rate at a time (the seeds together)
    when ``optimizer.one_lr_at_a_time``; either way the step compiles once.
    """
    opt = suite_optimizer(optimizer) if isinstance(optimizer, str) else optimizer
    tx = opt.tx
    groups = [[lr] for lr in lrs] if opt.one_lr_at_a_time else [list(lrs)]

    def init(seed, lr):
        params = problem.init(seed)
        opt_state = optjax.set_hyperparams(tx.init(params), learning_rate=lr)
        return params, opt_state, jax.random.key(1000 + seed)

    def chunk(params, opt_state, key, start):
        def body(carry, i):
            params, opt_state = carry
            loss, grads = jax.value_and_grad(problem.loss)(params, jax.random.fold_in(key, i))
            updates, opt_state = tx.update(grads, opt_state, params, value=loss)
            return (optjax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), losses = jax.lax.scan(
            body, (params, opt_state), start + jnp.arange(problem.eval_every)
        )
        return params, opt_state, losses[-1], problem.metric(_eval_params(opt_state, params))

    # Eager: a jitted init would compile the problem's random init again for
    # every optimizer (about half a second each on XLA:CPU); eager ops are cached.
    make_carry = jax.vmap(init)
    step = jax.jit(jax.vmap(chunk, in_axes=(0, 0, 0, None)), donate_argnums=(0, 1))
    compiled, compile_s, runs, curves, done_max, per_step = None, 0.0, [], [], 0, []
    for group in groups:
        # Host copies: the donated carry may alias the device arrays given to init.
        lr_vec = np.repeat(np.asarray(group, np.float32), seeds)
        seed_vec = np.tile(np.arange(seeds, dtype=np.int32), len(group))
        carry = make_carry(jnp.asarray(seed_vec), jnp.asarray(lr_vec))
        # Eager ops may hand back one buffer for several leaves; donation needs distinct ones.
        carry = jax.tree.map(jnp.copy, carry)
        if compiled is None:
            t0 = time.perf_counter()
            compiled = step.trace(*carry, 0).lower().compile()
            compile_s = time.perf_counter() - t0
        hit, metrics, per_step_run, done = _train(problem, compiled, carry, max_steps)
        curves.append(metrics)
        done_max = max(done_max, done)
        per_step.append(per_step_run)
        for r in range(len(hit)):
            steps = int(hit[r]) if hit[r] >= 0 else None
            runs.append({"learning_rate": float(lr_vec[r]), "seed": int(seed_vec[r]),
                         "steps_to_target": steps,
                         "time_to_target_s": None if steps is None else steps * per_step_run,
                         "final_metric": float(metrics[-1][r])})  # fmt: skip
    return {"problem": problem.name, "optimizer": opt.name, "default_lr": opt.default_lr,
            "compile_s": compile_s, "steps_run": done_max,
            "seconds_per_step_per_run": statistics.mean(per_step), "runs": runs,
            "metric_curve": curves if opt.one_lr_at_a_time else curves[0]}  # fmt: skip


def _train(problem: _problems.Problem, compiled: Any, carry: Any, max_steps: int):
    """Runs chunks until every run met the target or the budget is spent."""
    params, opt_state, key = carry
    n_runs = int(key.shape[0])
    hit = np.full(n_runs, -1)
    metrics, seconds, done = [], 0.0, 0
    while done < max_steps and (hit < 0).any():
        start = time.perf_counter()
        params, opt_state, _, metric = compiled(params, opt_state, key, done)
        metric = np.asarray(metric)
        seconds += time.perf_counter() - start
        done += problem.eval_every
        metric = np.where(
            np.isfinite(metric), metric, -np.inf if problem.higher_is_better else np.inf
        )
        metrics.append(metric.tolist())
        hit = np.where((hit < 0) & problem.reached(metric), done, hit)
    return hit, metrics, seconds / done / n_runs, done


def _eval_params(opt_state: Any, params: Any) -> Any:
    # Schedule-free methods evaluate at their averaged point x, not at y.
    try:
        return optjax.schedule_free_eval_params(opt_state, params)
    except Exception:  # noqa: BLE001 - not a schedule-free state
        return params


def summarize(result: dict[str, Any], default_lr: float) -> dict[str, Any]:
    """Median over seeds per learning rate; the best rate; the default rate's figures."""
    per_lr: dict[float, list[dict[str, Any]]] = {}
    for r in result["runs"]:
        per_lr.setdefault(r["learning_rate"], []).append(r)

    def med(runs, key):
        # Misses count as infinitely slow; None when the median run missed.
        value = statistics.median([math.inf if r[key] is None else r[key] for r in runs])
        return None if math.isinf(value) else value

    table = {lr: {"steps": med(rs, "steps_to_target"), "time_s": med(rs, "time_to_target_s"),
                  "solved_seeds": sum(r["steps_to_target"] is not None for r in rs)}
             for lr, rs in per_lr.items()}  # fmt: skip
    solved = {lr: v for lr, v in table.items() if v["time_s"] is not None}
    best = min(solved, key=lambda lr: solved[lr]["time_s"]) if solved else None
    default = min(table, key=lambda lr: abs(math.log(lr / default_lr)))
    return {"per_lr": {str(k): v for k, v in table.items()}, "best_lr": best,
            "best": table[best] if best is not None else None,
            "default": table[default]}  # fmt: skip


def performance_profile(times: dict[str, dict[str, float | None]]) -> dict[str, Any]:
    """AlgoPerf-style profile: for each optimizer, tau -> fraction of problems within tau * best."""
    problems = sorted({p for per in times.values() for p in per})
    ratios: dict[str, list[float]] = {o: [] for o in times}
    for p in problems:
        vals = {o: times[o].get(p) for o in times}
        best = min((v for v in vals.values() if v is not None), default=None)
        for o, v in vals.items():
            ratios[o].append(math.inf if v is None or best is None else v / best)
    taus = np.logspace(0, 1.5, 60)
    return {"taus": taus.tolist(), "problems": problems,
            "ratios": {o: r for o, r in ratios.items()},
            "profile": {o: [float(np.mean(np.asarray(r) <= t)) if r else 0.0 for t in taus]
                        for o, r in ratios.items()}}  # fmt: skip


def draw_profile(ax: Any, profile: dict[str, Any], title: str, *,
                 xlabel: str = "tau (time to target / best time to target)") -> None:  # fmt: skip
    """Draws a :func:`performance_profile` as step curves on a matplotlib ``ax``."""
    for i, (name, values) in enumerate(profile["profile"].items()):
        style = ("-", "--", ":")[(i // 10) % 3]  # the default cycle has 10 colours
        ax.step(profile["taus"], values, where="post", label=name, linestyle=style)
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of problems")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)


def plot_profile(profile: dict[str, Any], path: Path, title: str) -> None:
    """Writes the performance-profile step plot to ``path`` (PNG)."""
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone

    fig = Figure(figsize=(7, 4.5))
    draw_profile(fig.subplots(), profile, title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _problem_names(problems: Sequence[str] | None) -> list[str]:
    names = list(_problems.PROBLEMS) if problems is None else list(problems)
    unknown = [n for n in names if n not in _problems.PROBLEMS]
    if unknown or not names:
        what = ", ".join(unknown) if unknown else "(none)"
        raise _common.BenchUsageError(
            f"unknown problem {what}; choose from: {', '.join(_problems.PROBLEMS)}"
        )
    return names


def _check_cap(where: str, cap: Any) -> int:
    if isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or cap < 1:
        raise _common.BenchUsageError(f"{where} must be an integer >= 1, got {cap!r}")
    return int(cap)


def run_suite(problems: Sequence[str] | None = None,
              optimizers: Sequence[str | SuiteOptimizer] | None = None, *, quick: bool = False,
              grid: Sequence[float] | None = None, seeds: int = 3,
              max_steps: int | Mapping[str, int] | None = None,
              progress: Callable[[str, dict[str, Any]], None] | None = None) -> dict[str, Any]:  # fmt: skip
    """Runs the convergence suite on a selection; returns the ``results.json`` payload.

    For every problem and optimizer the learning rates
    :math:`\\eta_0 \\cdot f` (:math:`f` in ``grid``, :math:`\\eta_0` the default
    rate) each train ``seeds`` runs; see :func:`summarize` and
    :func:`performance_profile` for what is kept.

    Args:
      problems: names from ``optjax.bench._problems.PROBLEMS`` (default: all).
      optimizers: suite names (:func:`choices`) or :class:`SuiteOptimizer`
        entries for any other transform (default: the CLI's default list).
      quick: the ``--quick`` budgets, default grid and skips.
      grid: learning-rate factors (default :data:`QUICK_GRID` or :data:`GRID`).
      seeds: seeds per learning rate.
      max_steps: a cap on every problem's budget, or a per-problem mapping of caps.
      progress: called as ``progress(event, data)`` with ``("start", meta)``,
        ``("result", result)`` after each (problem, optimizer) and
        ``("skip", entry)`` for pairs left out of ``--quick``.

    Returns:
      ``{"meta", "results", "skipped", "profiles"}``; ``profiles`` has the
      ``"tuned"`` (best rate) and ``"default"`` (default rate) profiles.

    Raises:
      BenchUsageError: an unknown name, ``seeds < 1``, a cap < 1, an empty
        grid, or an optimizer whose learning rate is not injected.
    """
    names = _problem_names(problems)
    opts = [suite_optimizer(o) if isinstance(o, str) else o
            for o in (DEFAULT_OPTIMIZERS if optimizers is None else optimizers)]  # fmt: skip
    if not opts or len({o.name for o in opts}) != len(opts):
        raise _common.BenchUsageError(f"optimizers must be distinct and non-empty, got {opts!r}")
    if seeds < 1:
        raise _common.BenchUsageError(f"seeds must be >= 1, got {seeds}")
    caps = max_steps if isinstance(max_steps, Mapping) else dict.fromkeys(names, max_steps)
    _problem_names(list(caps) or names)  # a cap for an unknown problem is a typo
    caps = {p: None if caps.get(p) is None else _check_cap(f"max_steps[{p!r}]", caps[p])
            for p in names}  # fmt: skip
    grid = tuple(grid) if grid is not None else (QUICK_GRID if quick else GRID)
    if not grid or any(not f > 0 for f in grid):
        raise _common.BenchUsageError(f"grid must hold factors > 0, got {grid!r}")
    for opt in opts:
        _check_injected(opt)
    meta = _common.meta(benchmark="suite", quick=quick, seeds=seeds, lr_grid_factors=list(grid))
    if progress:
        progress("start", meta)
    results: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    tuned: dict[str, dict[str, Any]] = {o.name: {} for o in opts}
    default: dict[str, dict[str, Any]] = {o.name: {} for o in opts}
    for pname in names:
        problem = _problems.PROBLEMS[pname]()
        budget = problem.quick_steps if quick else problem.max_steps
        budget = budget if caps[pname] is None else min(budget, caps[pname])
        for opt in opts:
            if quick and (pname, opt.name) in QUICK_SKIP:
                entry = {"problem": pname, "optimizer": opt.name, "reason": "--quick"}
                skipped.append(entry)
                tuned[opt.name][pname] = default[opt.name][pname] = None
                if progress:
                    progress("skip", entry)
                continue
            result = run_problem(problem, opt, [opt.default_lr * f for f in grid], seeds, budget)
            result["summary"] = s = summarize(result, opt.default_lr)
            result["target"] = problem.target
            result["budget"] = budget
            result["describe"] = problem.describe
            results.append(result)
            tuned[opt.name][pname] = s["best"]["time_s"] if s["best"] else None
            default[opt.name][pname] = s["default"]["time_s"]
            if progress:
                progress("result", result)
    profiles = {"tuned": performance_profile(tuned), "default": performance_profile(default)}
    return {"meta": meta, "results": results, "skipped": skipped, "profiles": profiles}


def _check_injected(opt: SuiteOptimizer) -> None:
    state = jax.eval_shape(opt.tx.init, {"w": jax.ShapeDtypeStruct((2, 2), jnp.float32)})
    try:
        ok = "learning_rate" in optjax.get_hyperparams(state)
    except ValueError:
        ok = False
    if not ok:
        raise _common.BenchUsageError(
            f"optimizer {opt.name}: its learning rate must be an injected hyperparameter "
            "(build it with optjax.training.make_optimizer or optjax.inject_hyperparams)"
        )


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def run(args: Any) -> int:
    """Runs the suite for the parsed ``args``; prints a table, writes JSON and PNGs to ``--out``."""
    optimizers = _common.pick("optimizer", args.optimizers, choices(), DEFAULT_OPTIMIZERS)
    names = _common.pick("problem", args.problems, tuple(_problems.PROBLEMS),
                         tuple(_problems.PROBLEMS))  # fmt: skip
    if args.seeds < 1:
        raise _common.BenchUsageError(f"--seeds must be >= 1, got {args.seeds}")
    if args.max_steps is not None and args.max_steps < 1:
        raise _common.BenchUsageError(f"--max-steps must be >= 1, got {args.max_steps}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {"results": [], "skipped": []}

    def progress(event: str, data: dict[str, Any]) -> None:
        if event == "start":
            state["meta"] = data
            print(f"# optjax bench suite | {data['date']} | {data['device']} | "
                  f"jax {data['jax']} | load {data['loadavg_start']} | "
                  f"lr grid x{data['lr_grid_factors']} | {args.seeds} seeds")  # fmt: skip
            headers = ("problem", "optimizer", "best lr", "steps (best)", "time s (best)",
                       "steps (default lr)", "solved seeds (best)", "compile s")  # fmt: skip
            print(_common.markdown_table(headers, []), flush=True)
        elif event == "skip":
            state["skipped"].append(data)
            print(f"| {data['problem']} | {data['optimizer']} | skipped in --quick |", flush=True)
        else:
            state["results"].append(data)
            # Partial results survive an interrupted run.
            _common.write_json(out / "results.json", {"meta": state["meta"],
                               "results": state["results"], "skipped": state["skipped"],
                               "profiles": None})  # fmt: skip
            s = data["summary"]
            best = s["best"] or {}
            print(f"| {data['problem']} | {data['optimizer']} | {_g(s['best_lr'])} | "
                  f"{_g(best.get('steps'))} | {_g(best.get('time_s'))} | "
                  f"{_g(s['default']['steps'])} | {best.get('solved_seeds', 0)}/{args.seeds} | "
                  f"{data['compile_s']:.1f} |", flush=True)  # fmt: skip

    payload = run_suite(names, optimizers, quick=args.quick, seeds=args.seeds,
                        max_steps=args.max_steps, progress=progress)  # fmt: skip
    for kind, profile in payload["profiles"].items():
        plot_profile(profile, out / f"profile_{kind}.png",
                     f"Performance profile ({kind} learning rate), time to target")  # fmt: skip
    _common.write_json(out / "results.json", payload)
    print(
        f"wrote {out / 'results.json'}, {out / 'profile_tuned.png'}, {out / 'profile_default.png'}"
    )
    return 0
