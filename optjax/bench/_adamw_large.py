"""``optjax bench adamw-large``: AdamW over one very large float32 tensor.

The issue's accelerator benchmark: AdamW over :math:`N` float32 parameters
(:math:`N = 10^9` by default on a GPU or TPU, :math:`2^{25}` on a CPU), one
donated jitted step per call, against

- the memory roofline: a plain fused kernel that reads and writes the same
  bytes (:mod:`optjax.bench._roofline`), so ``roofline frac`` is the fraction
  of the bandwidth a single streaming kernel reaches on this device;
- Optax's ``adamw`` in the same process;
- PyTorch's fused AdamW (``torch.optim.AdamW(fused=True)``) on the same
  device type, when ``torch`` is installed (``pip install "optjax[bench-torch]"``).

Per step AdamW reads the parameters, the gradients and both moments and
writes the parameters and both moments: :math:`16N` bytes read and
:math:`12N` written; ``GB/s`` is :math:`28N` bytes over the step time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from optjax.bench._common import BenchUsageError, markdown_table, meta, write_json
from optjax.bench._roofline import roofline_kernel

LEARNING_RATE = 1e-3
WEIGHT_DECAY = 1e-2
CPU_DEFAULT_PARAMS = 2**25
ACCELERATOR_DEFAULT_PARAMS = 10**9


def default_params() -> int:
    """``10**9`` on a GPU or TPU, ``2**25`` on a CPU."""
    return CPU_DEFAULT_PARAMS if jax.default_backend() == "cpu" else ACCELERATOR_DEFAULT_PARAMS


def _median_ms(step: Callable[[], None], repeats: int) -> float:
    """Median wall time of ``step()`` (which waits for its own result), after one warm-up."""
    step()  # warm-up (and compile)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def _jax_median_ms(fn: Callable[[Any], Any], carry: Any, repeats: int) -> float:
    """Median time of ``carry = fn(carry)``, the carry donated call after call."""
    cell = [carry]

    def step():
        cell[0] = jax.block_until_ready(fn(cell[0]))

    return _median_ms(step, repeats)


def _jax_adamw_ms(tx: Any, n: int, repeats: int) -> float:
    params = jnp.zeros((n,), jnp.float32)
    grads = jnp.full((n,), 1e-3, jnp.float32)
    opt_state = tx.init(params)

    def _apply(p, s, g):
        updates, s = tx.update(g, s, p)
        return p + updates, s

    compiled = jax.jit(_apply, donate_argnums=(0, 1)).lower(params, opt_state, grads).compile()
    return _jax_median_ms(lambda ps: compiled(*ps, grads), (params, opt_state), repeats)


def _roofline_ms(n: int, repeats: int) -> float:
    fn, x, out = roofline_kernel(16 * n, 12 * n)
    return _jax_median_ms(lambda o: fn(x, o), out, repeats)


def _torch_fused_adamw_ms(n: int, repeats: int) -> tuple[float | None, str]:
    """Median step of ``torch.optim.AdamW(fused=True)``; ``(None, why)`` without torch."""
    try:
        import torch
    except ImportError:
        return None, "torch not installed"
    device = "cuda" if jax.default_backend() == "gpu" and torch.cuda.is_available() else "cpu"
    if jax.default_backend() not in ("cpu", "gpu"):
        return None, f"no PyTorch fused AdamW for {jax.default_backend()}"
    param = torch.zeros(n, dtype=torch.float32, device=device, requires_grad=True)
    param.grad = torch.full((n,), 1e-3, dtype=torch.float32, device=device)
    try:
        opt = torch.optim.AdamW([param], lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY, fused=True)
    except (RuntimeError, ValueError) as error:  # an old torch without fused on this device
        return None, f"torch {torch.__version__}: {error}"
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def step():
        opt.step()
        sync()

    return _median_ms(step, repeats), f"torch {torch.__version__} fused AdamW on {device}"


def measure(n: int, repeats: int = 20, *, with_torch: bool = True) -> dict[str, Any]:
    """Times optjax, Optax and (optionally) PyTorch AdamW over ``n`` float32 parameters.

    Returns a dict of median milliseconds per step (``roofline_ms``,
    ``optjax_ms``, ``optax_ms``, ``torch_ms`` or ``None``), the bytes moved per
    step, and the derived fractions and bandwidths.
    """
    if n < 1024:
        raise BenchUsageError(f"--params must be at least 1024, got {n}")
    if repeats < 1:
        raise BenchUsageError(f"--repeats must be positive, got {repeats}")
    import optax

    import optjax

    moved = 28 * n
    roof = _roofline_ms(n, repeats)
    ours = _jax_adamw_ms(optjax.adamw(LEARNING_RATE, weight_decay=WEIGHT_DECAY), n, repeats)
    theirs = _jax_adamw_ms(optax.adamw(LEARNING_RATE, weight_decay=WEIGHT_DECAY), n, repeats)
    torch_ms, torch_note = (None, "skipped (--no-torch)")
    if with_torch:
        torch_ms, torch_note = _torch_fused_adamw_ms(n, repeats)
    return {
        "params": n,
        "bytes_per_step": moved,
        "roofline_ms": roof,
        "optjax_ms": ours,
        "optax_ms": theirs,
        "torch_ms": torch_ms,
        "torch": torch_note,
        "optjax_roofline_frac": roof / ours,
        "optax_roofline_frac": roof / theirs,
        "optjax_gb_per_s": moved / ours / 1e6,
        "roofline_gb_per_s": moved / roof / 1e6,
        "optjax_vs_torch": None if torch_ms is None else ours / torch_ms,
    }


def _table(result: dict[str, Any]) -> str:
    def ms(x):
        return "-" if x is None else f"{x:.3f}"

    ratio = result["optjax_vs_torch"]
    row = [
        f"{result['params']:,}",
        ms(result["roofline_ms"]),
        ms(result["optjax_ms"]),
        ms(result["optax_ms"]),
        ms(result["torch_ms"]),
        f"{result['optjax_roofline_frac']:.2f}",
        f"{result['optjax_gb_per_s']:.0f}",
        "-" if ratio is None else f"{ratio:.2f}",
    ]
    headers = ["params", "roofline ms", "optjax ms", "optax ms", "torch fused ms",
               "optjax roofline frac", "optjax GB/s", "optjax / torch"]  # fmt: skip
    return markdown_table(headers, [row]) + f"\n\n({result['torch']})"


def run(args: argparse.Namespace) -> int:
    """Entry point of ``optjax bench adamw-large``."""
    n = args.params if args.params is not None else default_params()
    result = measure(n, args.repeats, with_torch=not args.no_torch)
    info = meta()
    print(f"# optjax bench adamw-large | {info['date']} | {info['device']} | jax {info['jax']}")
    print(_table(result))
    write_json(args.json, {"meta": info, "result": result})
    return 0
