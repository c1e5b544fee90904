"""``optjax bench update``: one jitted optimizer step, optjax against Optax, with a roofline.

For every (chain, tree) pair both libraries' ``update + apply_updates`` steps
(params and state donated) are traced, lowered and compiled with JAX's AOT API
(each phase timed separately), then their runs alternate with the roofline
kernel (see :mod:`optjax.bench._roofline`) after a warm-up, and the medians are
reported.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

import optjax
from optjax.bench import _common, _roofline, _transformer


def _muon(lib: Any) -> Any:
    return lib.muon(1e-3) if lib is optjax else optax.contrib.muon(1e-3)


CHAINS: dict[str, Callable[[Any], Any]] = {
    "sgd_momentum": lambda lib: lib.sgd(1e-2, momentum=0.9),
    "clip_adamw": lambda lib: lib.chain(lib.clip_by_global_norm(1.0), lib.adamw(1e-3)),
    "adamw": lambda lib: lib.adamw(1e-3),
    "lion": lambda lib: lib.lion(1e-4),
    "adafactor": lambda lib: lib.adafactor(1e-3),
    "muon": _muon,
}
DEFAULT_CHAINS = ("sgd_momentum", "clip_adamw", "adamw", "lion", "adafactor", "muon")


def _leaves(n: int, side: int) -> dict[str, jax.Array]:
    return {f"w{i:04d}": jnp.ones((side, side), jnp.float32) for i in range(n)}


def _transformer_tree(quick: bool) -> Any:
    # 12 pre-norm blocks at width 128 (2.45M params, 198 leaves); --quick: 2 blocks at width 32.
    layers, width = (2, 32) if quick else (12, 128)
    _, params = _transformer.build(vocab=256, width=width, layers=layers, heads=4, context=64)
    return params


TREES: dict[str, Callable[[bool], Any]] = {
    "leaf16m": lambda quick: {"w": jnp.ones(((1 << 16) if quick else (1 << 24),), jnp.float32)},
    "leaves10": lambda quick: _leaves(10, 16 if quick else 64),
    "leaves100": lambda quick: _leaves(100, 16 if quick else 64),
    "leaves1000": lambda quick: _leaves(1000, 16 if quick else 64),
    "transformer": _transformer_tree,
}
DEFAULT_TREES = ("leaf16m", "leaves10", "leaves100", "leaves1000", "transformer")
QUICK_TREES = ("leaf16m", "leaves10", "leaves100", "transformer")


def _step_fn(tx: Any, apply_updates: Callable[..., Any]):
    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return apply_updates(params, updates), state

    return jax.jit(step, donate_argnums=(0, 1))


def _prepare(lib: Any, chain: str, params: Any, grads: Any) -> dict[str, Any]:
    tx = CHAINS[chain](lib)
    p = jax.tree.map(jnp.copy, params)
    s = tx.init(p)
    state_bytes = _roofline.tree_bytes(s)
    step = _step_fn(tx, lib.apply_updates)
    t0 = time.perf_counter()
    traced = step.trace(p, s, grads)
    t1 = time.perf_counter()
    lowered = traced.lower()
    t2 = time.perf_counter()
    compiled = lowered.compile()
    t3 = time.perf_counter()
    p, s = compiled(p, s, grads)  # warm-up
    jax.block_until_ready((p, s))
    param_bytes = _roofline.tree_bytes(p)
    grad_bytes = _roofline.tree_bytes(grads)
    return {
        "fn": compiled,
        "carry": (p, s),
        "times": [],
        "trace_s": t1 - t0,
        "lower_s": t2 - t1,
        "compile_s": t3 - t2,
        "state_bytes": state_bytes,
        "bytes_read": param_bytes + grad_bytes + state_bytes,
        "bytes_written": param_bytes + state_bytes,
    }


def _roofline_run(bytes_read: int, bytes_written: int) -> dict[str, Any]:
    fn, x, out = _roofline.roofline_kernel(bytes_read, bytes_written)
    out = fn(x, out)
    jax.block_until_ready(out)
    return {"fn": fn, "x": x, "carry": out, "times": [], "bytes": (x.nbytes, out.nbytes)}


def bench_pair(chain: str, tree: str, params: Any, repeats: int) -> dict[str, Any]:
    """Measures one (chain, tree) pair: both libraries and their rooflines, runs alternated."""
    grads = jax.tree.map(lambda x: jnp.full_like(x, 1e-3), params)
    libs = {"optjax": optjax, "optax": optax}
    runs = {name: _prepare(lib, chain, params, grads) for name, lib in libs.items()}
    rooflines: dict[tuple[int, int], dict[str, Any]] = {}
    for run in runs.values():
        key = (run["bytes_read"], run["bytes_written"])
        run["roofline_key"] = key
        if key not in rooflines:
            rooflines[key] = _roofline_run(*key)
    for _ in range(repeats):
        for run in runs.values():
            p, s = run["carry"]
            start = time.perf_counter()
            run["carry"] = run["fn"](p, s, grads)
            jax.block_until_ready(run["carry"])
            run["times"].append(time.perf_counter() - start)
        for roof in rooflines.values():
            start = time.perf_counter()
            roof["carry"] = roof["fn"](roof["x"], roof["carry"])
            jax.block_until_ready(roof["carry"])
            roof["times"].append(time.perf_counter() - start)
    leaves = jax.tree.leaves(params)
    row: dict[str, Any] = {
        "chain": chain,
        "tree": tree,
        "leaves": len(leaves),
        "params": int(sum(x.size for x in leaves)),
    }
    for name, run in runs.items():
        step_ms = statistics.median(run["times"]) * 1e3
        roof_ms = statistics.median(rooflines[run["roofline_key"]]["times"]) * 1e3
        row[name] = {
            "step_ms": step_ms,
            "trace_s": run["trace_s"],
            "lower_s": run["lower_s"],
            "compile_s": run["compile_s"],
            "state_bytes": run["state_bytes"],
            "bytes_read": run["bytes_read"],
            "bytes_written": run["bytes_written"],
            "roofline_ms": roof_ms,
            "roofline_bytes_read_written": list(rooflines[run["roofline_key"]]["bytes"]),
            "roofline_fraction": roof_ms / step_ms,
        }
    row["step_ratio"] = row["optjax"]["step_ms"] / row["optax"]["step_ms"]
    row["compile_ratio"] = (row["optjax"]["trace_s"] + row["optjax"]["lower_s"]
                            + row["optjax"]["compile_s"]) / (
        row["optax"]["trace_s"] + row["optax"]["lower_s"] + row["optax"]["compile_s"])  # fmt: skip
    return row


HEADERS = (
    "chain", "tree", "optjax ms", "optax ms", "ratio", "optjax roofline", "optax roofline",
    "optjax trace/lower/compile s", "optax trace/lower/compile s", "state MB (optjax/optax)",
)  # fmt: skip


def format_row(row: dict[str, Any]) -> list[str]:
    """One markdown-table row of :data:`HEADERS` for a result row."""
    a, b = row["optjax"], row["optax"]

    def phases(r):
        return f"{r['trace_s']:.2f}/{r['lower_s']:.2f}/{r['compile_s']:.2f}"

    return [
        row["chain"], row["tree"], f"{a['step_ms']:.3f}", f"{b['step_ms']:.3f}",
        f"{row['step_ratio']:.2f}", f"{a['roofline_fraction']:.2f}",
        f"{b['roofline_fraction']:.2f}", phases(a), phases(b),
        f"{a['state_bytes'] / 1e6:.2f}/{b['state_bytes'] / 1e6:.2f}",
    ]  # fmt: skip


def run(args: Any) -> int:
    """Runs the update benchmark for the parsed ``args`` and prints a markdown table."""
    chains = _common.pick("chain", args.chains, tuple(CHAINS), DEFAULT_CHAINS)
    default_trees = QUICK_TREES if args.quick else DEFAULT_TREES
    trees = _common.pick("tree", args.trees, tuple(TREES), default_trees)
    if args.repeats is not None and args.repeats < 1:
        raise _common.BenchUsageError(f"--repeats must be >= 1, got {args.repeats}")
    repeats = args.repeats or (5 if args.quick else 30)
    meta = _common.meta(benchmark="update", quick=args.quick, repeats=repeats)
    print(f"# optjax bench update | {meta['date']} | {meta['device']} | jax {meta['jax']} | "
          f"optax {meta['optax']} | load {meta['loadavg_start']}")  # fmt: skip
    print(_common.markdown_table(HEADERS, []), flush=True)
    rows = []
    for tree in trees:
        params = TREES[tree](args.quick)
        for chain in chains:
            row = bench_pair(chain, tree, params, repeats)
            rows.append(row)
            print("| " + " | ".join(format_row(row)) + " |", flush=True)
    _common.write_json(args.json, {"meta": meta, "rows": rows})
    return 0
