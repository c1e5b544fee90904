"""The memory roofline: a plain fused elementwise kernel that moves a given number of bytes.

An optimizer step that reads :math:`R` bytes (parameters, gradients, state) and
writes :math:`W` bytes (parameters, state) cannot beat one kernel that reads
:math:`R` bytes from one buffer and writes :math:`W` bytes to another. This
module builds that kernel; the benchmark times it in the same run as the step
and reports ``roofline time / step time``.
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
    a, b = _ratio(bytes_read, bytes_written)
    # Rows sit in the middle axis: XLA:CPU splits a loop fusion over its outer
    # axis across threads, so that axis must be long, and the inner one contiguous.
    blocks = 64
    k = max(1, round(bytes_written / 4 / b / blocks))

    def kernel(x, out):
        del out  # only its buffer is reused
        extra = None
        for j in range(b, a):
            extra = x[:, j] if extra is None else extra + x[:, j]
        body = x[:, :b] if extra is None else x[:, :b] + extra[:, None]
        return body * 0.5

    fn = jax.jit(kernel, donate_argnums=(1,), keep_unused=True)
    x = jnp.ones((blocks, a, k), jnp.float32)
    out = jnp.zeros((blocks, b, k), jnp.float32)
    return fn, x, out
