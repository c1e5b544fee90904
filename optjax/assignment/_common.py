"""Input checks and output layout shared by the two assignment solvers.

Both solvers work on a "wide" matrix (no more rows than columns): a tall
matrix is transposed first and the two index arrays are swapped back.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def prepare(cost_matrix: Any, *, where: str) -> jax.Array:
    """``cost_matrix`` as a 2-D array in the solvers' floating-point dtype.

    Raises ``ValueError``/``TypeError`` for a matrix that is not 2-D, not
    real, or (when its values are known now) holds NaN or ``-inf``.
    """
    cost = jnp.asarray(cost_matrix)
    if cost.ndim != 2:
        raise ValueError(f"{where}: cost_matrix must be 2-D, got shape {cost.shape}.")
    if not (
        jnp.issubdtype(cost.dtype, jnp.floating)
        or jnp.issubdtype(cost.dtype, jnp.integer)
        or cost.dtype == jnp.bool_
    ):
        raise TypeError(
            f"{where}: cost_matrix must hold real numbers (bool, int or float), got dtype "
            f"{cost.dtype.name}."
        )
    if not isinstance(cost, jax.core.Tracer) and cost.size:
        values = np.asarray(cost)
        if np.isnan(values).any() or np.isneginf(values).any():
            raise ValueError(
                f"{where}: cost_matrix contains NaN or -inf; only finite costs and +inf "
                f"(a forbidden pair) are allowed."
            )
    default_float = jnp.zeros(()).dtype
    return cost.astype(jnp.promote_types(cost.dtype, default_float))


def empty_result() -> tuple[jax.Array, jax.Array]:
    """The assignment of a matrix with no rows or no columns."""
    return jnp.zeros(0, int), jnp.zeros(0, int)


def check_feasible(cost: jax.Array, rows: jax.Array, cols: jax.Array, *, where: str) -> None:
    """Raises ``ValueError`` if a known result had to use a forbidden pair.

    With ``+inf`` costs a full assignment may not exist; the solvers then stop
    early. This is only detectable when the values are known (not under
    ``jit`` or ``vmap``).
    """
    if any(isinstance(a, jax.core.Tracer) for a in (cost, rows, cols)):
        return
    rows_np, cols_np = np.asarray(rows), np.asarray(cols)
    values = np.asarray(cost)
    if (
        (rows_np < 0).any()
        or (cols_np < 0).any()
        or not np.isfinite(values[rows_np, cols_np]).all()
    ):
        raise ValueError(
            f"{where}: cost_matrix is infeasible: no assignment of min(n, m) pairs avoids "
            f"the +inf entries."
        )
