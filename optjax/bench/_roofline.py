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


def roofline_kernel(bytes_read: int, bytes_written: int):
    """A jitted kernel reading ``bytes_read`` from one buffer and writing ``bytes_written``.

    With :math:`n = W/4` output floats, :math:`q = \\lfloor R/W \\rfloor` and
    remainder :math:`r`, it computes, in one XLA loop fusion,

    .. math::

        s = \\sum_{j<q} x[jn:(j+1)n], \\qquad
        o = \\tfrac12\\,\\mathrm{concat}(s[:r] + x[qn:],\\ s[r:]).

    Args:
      bytes_read: bytes read from the single float32 input buffer.
      bytes_written: bytes written to the single float32 output buffer.

    Returns:
      ``(fn, x, out)``: call ``out = fn(x, out)`` repeatedly; ``out`` is
      donated, so the output reuses its buffer (as a donated optimizer step does).
    """
    n_out = max(1, bytes_written // 4)
    n_in = max(n_out, bytes_read // 4)
    q, r = divmod(n_in, n_out)

    def kernel(x, out):
        del out  # only its buffer is reused
        total = x[:n_out]
        for j in range(1, q):
            total = total + x[j * n_out : (j + 1) * n_out]
        if r:
            total = jnp.concatenate([total[:r] + x[q * n_out :], total[r:]])
        return total * 0.5

    fn = jax.jit(kernel, donate_argnums=(1,), keep_unused=True)
    x = jnp.ones((n_in,), jnp.float32)
    out = jnp.zeros((n_out,), jnp.float32)
    return fn, x, out
