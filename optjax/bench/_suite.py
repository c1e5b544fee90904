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
"""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path
from typing import Any

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
# run one learning rate at a time (the seeds still vmapped).
ONE_LR_AT_A_TIME = {"soap", "shampoo"}
GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
QUICK_GRID = (0.3, 1.0, 3.0)


def choices() -> tuple[str, ...]:
    """Optimizer names the suite accepts."""
    return tuple(n for n, spec in SPECS.items() if spec[0] in optimizer_names())


def run_problem(problem: _problems.Problem, optimizer: str, lrs: list[float], seeds: int,
                max_steps: int) -> dict[str, Any]:  # fmt: skip
    """Trains ``len(lrs) * seeds`` runs at once and records when each meets the target."""
    base, default_lr, options = SPECS[optimizer]
    tx = make_optimizer(base, default_lr, **options)
    lr_vec = jnp.repeat(jnp.asarray(lrs, jnp.float32), seeds)
    seed_vec = jnp.tile(jnp.arange(seeds), len(lrs))

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

    carry = jax.jit(jax.vmap(init))(seed_vec, lr_vec)
    step = jax.jit(jax.vmap(chunk, in_axes=(0, 0, 0, None)), donate_argnums=(0, 1))
    t0 = time.perf_counter()
    compiled = step.trace(*carry, 0).lower().compile()
    compile_s = time.perf_counter() - t0
    params, opt_state, key = carry
    n_runs = int(lr_vec.shape[0])
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
    per_step_run = seconds / done / n_runs
    runs = []
    for r in range(n_runs):
        steps = int(hit[r]) if hit[r] >= 0 else None
        runs.append({"learning_rate": float(lr_vec[r]), "seed": int(seed_vec[r]),
                     "steps_to_target": steps,
                     "time_to_target_s": None if steps is None else steps * per_step_run,
                     "final_metric": float(metrics[-1][r])})  # fmt: skip
    return {"problem": problem.name, "optimizer": optimizer, "default_lr": default_lr,
            "compile_s": compile_s, "steps_run": done, "seconds_per_step_per_run": per_step_run,
            "runs": runs, "metric_curve": metrics}  # fmt: skip


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


def plot_profile(profile: dict[str, Any], path: Path, title: str) -> None:
    """Writes the performance-profile step plot to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (name, values) in enumerate(profile["profile"].items()):
        style = ("-", "--", ":")[(i // 10) % 3]  # the default cycle has 10 colours
        ax.step(profile["taus"], values, where="post", label=name, linestyle=style)
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("tau (time to target / best time to target)")
    ax.set_ylabel("fraction of problems")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
    grid = QUICK_GRID if args.quick else GRID
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = _common.meta(benchmark="suite", quick=args.quick, seeds=args.seeds,
                        lr_grid_factors=list(grid))  # fmt: skip
    print(
        f"# optjax bench suite | {meta['date']} | {meta['device']} | jax {meta['jax']} | "
        f"load {meta['loadavg_start']} | lr grid x{list(grid)} | {args.seeds} seeds"
    )
    headers = ("problem", "optimizer", "best lr", "steps (best)", "time s (best)",
               "steps (default lr)", "solved seeds (best)", "compile s")  # fmt: skip
    print(_common.markdown_table(headers, []), flush=True)
    results, tuned, default = [], {o: {} for o in optimizers}, {o: {} for o in optimizers}
    skipped: list[dict[str, str]] = []
    for pname in names:
        problem = _problems.PROBLEMS[pname]()
        budget = problem.quick_steps if args.quick else problem.max_steps
        if args.max_steps is not None:
            budget = min(budget, args.max_steps)
        for opt in optimizers:
            if args.quick and (pname, opt) in QUICK_SKIP:
                skipped.append({"problem": pname, "optimizer": opt, "reason": "--quick"})
                tuned[opt][pname] = default[opt][pname] = None
                print(f"| {pname} | {opt} | skipped in --quick |", flush=True)
                continue
            lrs = [SPECS[opt][1] * f for f in grid]
            if opt in ONE_LR_AT_A_TIME:
                parts = [run_problem(problem, opt, [lr], args.seeds, budget) for lr in lrs]
                result = parts[0]
                for part in parts[1:]:
                    result["runs"] += part["runs"]
                    result["compile_s"] += part["compile_s"]
                    result["steps_run"] = max(result["steps_run"], part["steps_run"])
                result["metric_curve"] = [p["metric_curve"] for p in parts]
            else:
                result = run_problem(problem, opt, lrs, args.seeds, budget)
            result["summary"] = summarize(result, SPECS[opt][1])
            result["target"] = problem.target
            result["describe"] = problem.describe
            results.append(result)
            s = result["summary"]
            tuned[opt][pname] = s["best"]["time_s"] if s["best"] else None
            default[opt][pname] = s["default"]["time_s"]
            # Partial results survive an interrupted run.
            partial = {"meta": meta, "results": results, "skipped": skipped, "profiles": None}
            _common.write_json(out / "results.json", partial)
            best = s["best"] or {}
            print(f"| {pname} | {opt} | {_g(s['best_lr'])} | {_g(best.get('steps'))} | "
                  f"{_g(best.get('time_s'))} | {_g(s['default']['steps'])} | "
                  f"{best.get('solved_seeds', 0)}/{args.seeds} | {result['compile_s']:.1f} |",
                  flush=True)  # fmt: skip
    profiles = {"tuned": performance_profile(tuned), "default": performance_profile(default)}
    for kind, profile in profiles.items():
        plot_profile(profile, out / f"profile_{kind}.png",
                     f"Performance profile ({kind} learning rate), time to target")  # fmt: skip
    _common.write_json(out / "results.json",
                       {"meta": meta, "results": results, "skipped": skipped,
                        "profiles": profiles})  # fmt: skip
    print(
        f"wrote {out / 'results.json'}, {out / 'profile_tuned.png'}, {out / 'profile_default.png'}"
    )
    return 0
