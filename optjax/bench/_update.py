"""``optjax bench update``: one jitted optimizer step, optjax against Optax, with a roofline.

For every (chain, tree) pair both libraries' ``update + apply_updates`` steps
(params and state donated) are traced, lowered and compiled with JAX's AOT API
(each phase timed separately), then their runs alternate with the roofline
kernel (see :mod:`optjax.bench._roofline`) after a warm-up, and the medians are
reported. Two more measurements separate the runtime's cost per call from the
arithmetic of the update:

- *no-op call*: a jitted function with the step's signature (params and state
  donated and returned as they are, grads passed but unused) that does no
  arithmetic: what one call costs the runtime with that many buffers;
- *in-loop*: the same step run ``K`` times inside one compiled loop (donated
  carry; ``K`` chosen so that a call lasts at least ``max(10 ms, 20 x the
  no-op call)``), as ``optjax.training.fit`` runs steps; the roofline kernel
  is looped the same way. Per step, ``1/K`` of one call's overhead remains.

Within each repeat the runs go step, roofline, no-op, loop, looped roofline,
each for both libraries, whose order alternates between repeats (the call
after a long one tends to be slower).
"""

from __future__ import annotations

import math
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


LOOP_MIN_CALL_S = 0.01  # a looped call lasts at least this long...
LOOP_OVERHEAD_CALLS = 20  # ...and at least this many no-op calls
LOOP_MAX_STEPS = 100_000


def _step_fn(tx: Any, apply_updates: Callable[..., Any]):
    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return apply_updates(params, updates), state

    return jax.jit(step, donate_argnums=(0, 1))


def _noop_fn():
    """The step's signature without its arithmetic: a call's cost to the runtime.

    Params and state are donated and returned unchanged, so their output
    buffers alias the inputs (no copy); the grads are passed (``keep_unused``)
    but not returned, as in the step.
    """

    def noop(params, state, grads):
        del grads
        return params, state

    return jax.jit(noop, donate_argnums=(0, 1), keep_unused=True)


def _loop_fn(tx: Any, apply_updates: Callable[..., Any]):
    """``steps`` optimizer steps inside one compiled loop (``steps`` is a runtime value).

    The gradients are the same at every step. Each step first passes them, with
    the carried params and state, through ``lax.optimization_barrier`` (a no-op
    at run time): XLA cannot see through it, so nothing computed from the
    gradients looks loop-invariant and none of the step's work (the global
    norm, say) is hoisted out of the loop, and no extra pass is added.
    """

    def many(params, state, grads, steps):
        def body(_, carry):
            params, state, grads_now = jax.lax.optimization_barrier((*carry, grads))
            updates, state = tx.update(grads_now, state, params)
            return apply_updates(params, updates), state

        return jax.lax.fori_loop(0, steps, body, (params, state))

    return jax.jit(many, donate_argnums=(0, 1))


def _timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """``fn(*args)`` and its wall time, waiting for the result."""
    start = time.perf_counter()
    out = fn(*args)
    jax.block_until_ready(out)
    return out, time.perf_counter() - start


def _calibrate(call: Callable[[Any, jax.Array], Any], carry: Any, min_call_s: float):
    """The smallest loop length (>= 2) whose call lasts at least ``min_call_s``, by doubling.

    ``call(carry, steps)`` runs the loop and returns the new carry. One warm-up
    call first; each length is timed twice and the faster call counts.
    Returns ``(carry, steps)``.
    """
    steps = 2
    carry = call(carry, jnp.int32(steps))
    for _ in range(40):
        elapsed = math.inf
        for _ in range(2):
            carry, seconds = _timed(call, carry, jnp.int32(steps))
            elapsed = min(elapsed, seconds)
        if elapsed >= min_call_s or steps >= LOOP_MAX_STEPS:
            break
        grow = min_call_s / max(elapsed, 1e-9) * 1.2
        steps = min(LOOP_MAX_STEPS, max(2 * steps, math.ceil(steps * grow)))
    return carry, steps


def _compile_step(tx: Any, lib: Any, p: Any, s: Any, grads: Any) -> tuple[Any, dict[str, float]]:
    """The AOT-compiled step and the seconds of its trace, lower and compile phases."""
    step = _step_fn(tx, lib.apply_updates)
    t0 = time.perf_counter()
    traced = step.trace(p, s, grads)
    t1 = time.perf_counter()
    lowered = traced.lower()
    t2 = time.perf_counter()
    compiled = lowered.compile()
    t3 = time.perf_counter()
    return compiled, {"trace_s": t1 - t0, "lower_s": t2 - t1, "compile_s": t3 - t2}


def _prepare(lib: Any, chain: str, params: Any, grads: Any) -> dict[str, Any]:
    tx = CHAINS[chain](lib)
    p = jax.tree.map(jnp.copy, params)
    s = tx.init(p)
    state_bytes = _roofline.tree_bytes(s)
    compiled, phases = _compile_step(tx, lib, p, s, grads)
    p, s = compiled(p, s, grads)  # warm-up
    jax.block_until_ready((p, s))
    noop = _noop_fn().lower(p, s, grads).compile()
    noop_s = math.inf
    for _ in range(3):
        (p, s), elapsed = _timed(noop, p, s, grads)
        noop_s = min(noop_s, elapsed)
    start = time.perf_counter()
    loop = _loop_fn(tx, lib.apply_updates).lower(p, s, grads, jnp.int32(2)).compile()
    loop_compile_s = time.perf_counter() - start
    (p, s), steps = _calibrate(
        lambda carry, steps: loop(*carry, grads, steps),
        (p, s),
        max(LOOP_MIN_CALL_S, LOOP_OVERHEAD_CALLS * noop_s),
    )
    param_bytes = _roofline.tree_bytes(p)
    grad_bytes = _roofline.tree_bytes(grads)
    return {
        "fn": compiled,
        "noop": noop,
        "loop": loop,
        "loop_steps": steps,
        "loop_compile_s": loop_compile_s,
        "carry": (p, s),
        "times": [],
        "noop_times": [],
        "loop_times": [],
        "buffers_in": len(jax.tree.leaves((p, s, grads))),
        "buffers_out": len(jax.tree.leaves((p, s))),
        **phases,
        "state_bytes": state_bytes,
        "bytes_read": param_bytes + grad_bytes + state_bytes,
        "bytes_written": param_bytes + state_bytes,
    }


def _roofline_run(bytes_read: int, bytes_written: int) -> dict[str, Any]:
    fn, x, out = _roofline.roofline_kernel(bytes_read, bytes_written)
    out = fn(x, out)
    jax.block_until_ready(out)
    loop, loop_x, loop_out = _roofline.roofline_loop(bytes_read, bytes_written)
    loop = loop.lower(loop_x, loop_out, jnp.int32(2)).compile()
    loop_out, steps = _calibrate(
        lambda carry, steps: loop(loop_x, carry, steps), loop_out, LOOP_MIN_CALL_S
    )
    return {
        "fn": fn, "x": x, "carry": out, "times": [], "bytes": (x.nbytes, out.nbytes),
        "loop": loop, "loop_x": loop_x, "loop_carry": loop_out, "loop_steps": steps,
        "loop_times": [],
    }  # fmt: skip


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
    for repeat in range(repeats):
        # The call after a long one (a loop) runs slower: alternate which library goes first.
        order = list(runs.values())[:: 1 if repeat % 2 == 0 else -1]
        for run in order:
            run["carry"], elapsed = _timed(run["fn"], *run["carry"], grads)
            run["times"].append(elapsed)
        for roof in rooflines.values():
            roof["carry"], elapsed = _timed(roof["fn"], roof["x"], roof["carry"])
            roof["times"].append(elapsed)
        for run in order:
            run["carry"], elapsed = _timed(run["noop"], *run["carry"], grads)
            run["noop_times"].append(elapsed)
        for run in order:
            steps = jnp.int32(run["loop_steps"])
            run["carry"], elapsed = _timed(run["loop"], *run["carry"], grads, steps)
            run["loop_times"].append(elapsed / run["loop_steps"])
        for roof in rooflines.values():
            steps = jnp.int32(roof["loop_steps"])
            roof["loop_carry"], elapsed = _timed(
                roof["loop"], roof["loop_x"], roof["loop_carry"], steps
            )
            roof["loop_times"].append(elapsed / roof["loop_steps"])
    leaves = jax.tree.leaves(params)
    row: dict[str, Any] = {
        "chain": chain,
        "tree": tree,
        "leaves": len(leaves),
        "params": int(sum(x.size for x in leaves)),
    }
    for name, run in runs.items():
        roof = rooflines[run["roofline_key"]]
        step_ms = statistics.median(run["times"]) * 1e3
        roof_ms = statistics.median(roof["times"]) * 1e3
        loop_ms = statistics.median(run["loop_times"]) * 1e3
        loop_roof_ms = statistics.median(roof["loop_times"]) * 1e3
        row[name] = {
            "step_ms": step_ms,
            "call_overhead_ms": statistics.median(run["noop_times"]) * 1e3,
            "buffers_in": run["buffers_in"],
            "buffers_out": run["buffers_out"],
            "loop_ms_per_step": loop_ms,
            "loop_steps": run["loop_steps"],
            "loop_compile_s": run["loop_compile_s"],
            "loop_roofline_ms_per_step": loop_roof_ms,
            "loop_roofline_steps": roof["loop_steps"],
            "loop_roofline_fraction": loop_roof_ms / loop_ms,
            "trace_s": run["trace_s"],
            "lower_s": run["lower_s"],
            "compile_s": run["compile_s"],
            "state_bytes": run["state_bytes"],
            "bytes_read": run["bytes_read"],
            "bytes_written": run["bytes_written"],
            "roofline_ms": roof_ms,
            "roofline_bytes_read_written": list(roof["bytes"]),
            "roofline_fraction": roof_ms / step_ms,
        }
    row["step_ratio"] = row["optjax"]["step_ms"] / row["optax"]["step_ms"]
    row["loop_step_ratio"] = row["optjax"]["loop_ms_per_step"] / row["optax"]["loop_ms_per_step"]
    row["loadavg"] = _common.loadavg()
    row["compile_ratio"] = (row["optjax"]["trace_s"] + row["optjax"]["lower_s"]
                            + row["optjax"]["compile_s"]) / (
        row["optax"]["trace_s"] + row["optax"]["lower_s"] + row["optax"]["compile_s"])  # fmt: skip
    return row


HEADERS = (
    "chain", "tree", "optjax ms", "optax ms", "ratio", "no-op call ms (optjax/optax)",
    "roofline ms", "roofline frac (optjax/optax)", "in-loop optjax ms/step",
    "in-loop optax ms/step", "in-loop ratio", "in-loop roofline ms/step",
    "in-loop roofline frac (optjax/optax)", "optjax trace/lower/compile s",
    "optax trace/lower/compile s", "state MB (optjax/optax)", "load",
)  # fmt: skip


def format_row(row: dict[str, Any]) -> list[str]:
    """One markdown-table row of :data:`HEADERS` for a result row."""
    a, b = row["optjax"], row["optax"]

    def phases(r):
        return f"{r['trace_s']:.2f}/{r['lower_s']:.2f}/{r['compile_s']:.2f}"

    def pair(key, digits):
        return f"{a[key]:.{digits}f}/{b[key]:.{digits}f}"

    load = row["loadavg"]
    return [
        row["chain"], row["tree"], f"{a['step_ms']:.3f}", f"{b['step_ms']:.3f}",
        f"{row['step_ratio']:.2f}", pair("call_overhead_ms", 3), f"{a['roofline_ms']:.3f}",
        pair("roofline_fraction", 2), f"{a['loop_ms_per_step']:.3f}",
        f"{b['loop_ms_per_step']:.3f}", f"{row['loop_step_ratio']:.2f}",
        f"{a['loop_roofline_ms_per_step']:.3f}", pair("loop_roofline_fraction", 2),
        phases(a), phases(b), f"{a['state_bytes'] / 1e6:.2f}/{b['state_bytes'] / 1e6:.2f}",
        "n/a" if load is None else f"{load:.1f}",
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
