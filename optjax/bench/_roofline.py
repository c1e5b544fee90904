"""The memory roofline: a plain fused elementwise kernel that moves a given number of bytes.

An optimizer step that reads :math:`R` bytes (parameters, gradients, state) and
writes :math:`W` bytes (parameters, state) cannot beat one kernel that reads
:math:`R` bytes from one buffer and writes :math:`W` bytes to another. This
module builds that kernel, called once per step (:func:`roofline_kernel`) or
``K`` times inside one compiled loop (:func:`roofline_loop`); the benchmark
times it in the same run as the step and reports ``roofline time / step time``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def tree_bytes(tree: Any) -> int:
    """Total bytes of the array leaves of ``tree``."""
    return int(sum(np.dtype(x.dtype).itemsize * np.size(x) for x in jax.tree.leaves(tree)))


def _ratio(bytes_read: int, bytes_written: int, largest: int = 16) -> tuple[int, int]:
    """Small integers ``(a, b)``, ``a >= b``, with ``a / b`` closest to ``R / W``."""
    target = bytes_read / max(bytes_written, 1)
    pairs = [(a, b) for b in range(1, largest + 1) for a in range(b, largest * 4 + 1)]
    return min(pairs, key=lambda ab: (abs(ab[0] / ab[1] - target), ab[1]))


# Rows sit in the middle axis: XLA:CPU splits a loop fusion over its outer
# axis across threads, so that axis must be long, and the inner one contiguous.
_BLOCKS = 64


def _buffers(bytes_read: int, bytes_written: int) -> tuple[int, jax.Array, jax.Array]:
    """``(b, x, out)``: ``x`` has ``a`` rows, ``out`` has ``b`` (``a/b ~ R/W``)."""
    a, b = _ratio(bytes_read, bytes_written)
    k = max(1, round(bytes_written / 4 / b / _BLOCKS))
    return b, jnp.ones((_BLOCKS, a, k), jnp.float32), jnp.zeros((_BLOCKS, b, k), jnp.float32)


def _combine(x: jax.Array, b: int) -> jax.Array:
    """:math:`x_{:,i} + \\sum_{j \\ge b} x_{:,j}` for the ``b`` output rows ``i`` (unscaled)."""
    extra = None
    for j in range(b, x.shape[1]):
        extra = x[:, j] if extra is None else extra + x[:, j]
    return x[:, :b] if extra is None else x[:, :b] + extra[:, None]


def roofline_kernel(bytes_read: int, bytes_written: int):
    """A jitted kernel reading about ``bytes_read`` from one buffer and writing ``bytes_written``.

    With :math:`a/b \\approx R/W` (small integers) and :math:`m = W/(4b)`,
    the input is :math:`x \\in \\mathbb{R}^{64 \\times a \\times m/64}`, the output
    :math:`o \\in \\mathbb{R}^{64 \\times b \\times m/64}`, and one XLA loop fusion computes

    .. math::

        o_{:,i} = \\tfrac12 \\Big(x_{:,i} + \\sum_{j \\ge b} x_{:,j}\\Big), \\qquad i < b.

    Bytes that do not fit the ratio (step counters, small factored
    statistics) are rounded away; the kernel's exact bytes are ``x.nbytes``
    and ``out.nbytes``.

    Args:
      bytes_read: bytes the optimizer step reads (params, grads, state).
      bytes_written: bytes it writes (params, state).

    Returns:
      ``(fn, x, out)``: call ``out = fn(x, out)`` repeatedly; ``out`` is
      donated, so the output reuses its buffer (as a donated optimizer step does).
    """
    b, x, out = _buffers(bytes_read, bytes_written)

    def kernel(x, out):
        del out  # only its buffer is reused
        return _combine(x, b) * 0.5

    return jax.jit(kernel, donate_argnums=(1,), keep_unused=True), x, out


def roofline_loop(bytes_read: int, bytes_written: int):
    """The kernel of :func:`roofline_kernel`, run ``steps`` times inside one compiled loop.

    Each step passes ``x`` and a carried scalar :math:`c = 1` through
    ``lax.optimization_barrier`` (a no-op at run time) and computes
    :math:`c \\cdot` the kernel: XLA cannot see through the barrier, so the
    kernel does not look loop-invariant and is not hoisted out of the loop; the
    multiply by :math:`c` is fused into the same single pass, which reads ``x``
    and writes the output once per step.

    Args:
      bytes_read: bytes one optimizer step reads.
      bytes_written: bytes it writes.

    Returns:
      ``(fn, x, out)``: call ``out = fn(x, out, steps)`` with an ``int32``
      ``steps`` (a runtime value: one compilation serves every loop length);
      ``out`` is donated.
    """
    b, x, out = _buffers(bytes_read, bytes_written)

    def many(x, out, steps):
        def step(_, carry):
            _, c = carry  # only the output's buffer is reused
            x_now, c = jax.lax.optimization_barrier((x, c))
            return _combine(x_now, b) * (0.5 * c), c

        return jax.lax.fori_loop(0, steps, step, (out, jnp.float32(1.0)))[0]

    return jax.jit(many, donate_argnums=(1,)), x, out
