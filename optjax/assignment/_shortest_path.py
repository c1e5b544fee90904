"""``base_hungarian_algorithm``: Crouse's shortest augmenting path solver."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from optjax.assignment import _common


def _choose(candidates: jax.Array, costs: jax.Array, row_of_col: jax.Array) -> jax.Array:
    """Position of the next column to scan, with the reference tie-breaking.

    Among the cheapest candidate columns, the last free one wins; if none is
    free, the first cheapest one does. (This is what a scan that keeps the
    strictly cheaper, or equally cheap and free, column would pick.)
    """
    lowest = jnp.min(jnp.where(candidates, costs, jnp.inf))
    tied = candidates & (costs == lowest)
    tied_free = tied & (row_of_col == -1)
    last_free = tied.shape[0] - 1 - jnp.argmax(tied_free[::-1])
    return jnp.where(tied_free.any(), last_free, jnp.argmax(tied)), lowest


def _augmenting_path(cost, u, v, row4col, current_row):
    """Dijkstra over reduced costs from ``current_row`` to the nearest free column."""
    rows, cols = cost.shape
    positions = jnp.arange(cols)

    def searching(state):
        *_, sink, failed = state
        return (sink == -1) & ~failed

    def step(state):
        row, min_value, remaining, n_remaining, seen_rows, seen_cols, dist, path, _, _ = state
        seen_rows = seen_rows.at[row].set(True)
        active = positions < n_remaining
        # ``remaining`` is a permutation of the columns: its first
        # ``n_remaining`` entries are the columns not yet scanned.
        reduced = min_value + cost[row, remaining] - u[row] - v[remaining]
        old = dist[remaining]
        path = path.at[remaining].set(jnp.where(active & (reduced < old), row, path[remaining]))
        new = jnp.where(active, jnp.minimum(old, reduced), old)
        dist = dist.at[remaining].set(new)
        index, lowest = _choose(active, new, row4col[remaining])
        # Every reachable column costs +inf (or NaN): the row cannot be placed.
        failed = ~(lowest < jnp.inf)
        col = remaining[index]
        is_free = row4col[col] == -1
        sink = jnp.where(is_free & ~failed, col, -1)
        row = jnp.where(is_free, row, row4col[col])
        seen_cols = seen_cols.at[col].set(True)
        n_remaining = n_remaining - 1
        # Swap rather than overwrite, so ``remaining`` stays a permutation and
        # the scatters above never see a column twice.
        remaining = remaining.at[index].set(remaining[n_remaining]).at[n_remaining].set(col)
        return (
            row,
            lowest,
            remaining,
            n_remaining,
            seen_rows,
            seen_cols,
            dist,
            path,
            sink,
            failed,
        )

    start = (
        current_row,
        jnp.zeros((), cost.dtype),
        positions[::-1],
        jnp.int32(cols),
        jnp.zeros(rows, bool),
        jnp.zeros(cols, bool),
        jnp.full(cols, jnp.inf, cost.dtype),
        jnp.full(cols, -1, jnp.int32),
        jnp.int32(-1),
        jnp.bool_(False),
    )
    _, min_value, _, _, seen_rows, seen_cols, dist, path, sink, failed = jax.lax.while_loop(
        searching, step, start
    )
    return sink, failed, min_value, seen_rows, seen_cols, dist, path


# Compiled once per shape and dtype, so repeated eager calls are fast.
@jax.jit
def _solve_wide(cost: jax.Array) -> jax.Array:
    """Solves a ``rows <= cols`` problem; returns the column of each row."""
    rows, cols = cost.shape

    def add_row(current_row, carry):
        u, v, row4col, col4row = carry
        sink, failed, min_value, seen_rows, seen_cols, dist, path = _augmenting_path(
            cost, u, v, row4col, current_row
        )
        # Update the potentials so that reduced costs stay non-negative and the
        # path is tight.
        new_u = u.at[current_row].add(min_value)
        others = seen_rows & (jnp.arange(rows) != current_row)
        new_u = jnp.where(others, new_u + min_value - dist[col4row], new_u)
        new_v = jnp.where(seen_cols, v + dist - min_value, v)
        u = jnp.where(failed, u, new_u)
        v = jnp.where(failed, v, new_v)

        def flip(state):
            col, row4col, col4row, _ = state
            row = path[col]
            row4col = row4col.at[col].set(row)
            previous_col = col4row[row]
            col4row = col4row.at[row].set(col)
            return previous_col, row4col, col4row, row == current_row

        _, row4col, col4row, _ = jax.lax.while_loop(
            lambda s: ~s[3], flip, (sink, row4col, col4row, failed)
        )
        return u, v, row4col, col4row

    start = (
        jnp.zeros(rows, cost.dtype),
        jnp.zeros(cols, cost.dtype),
        jnp.full(cols, -1, jnp.int32),
        jnp.full(rows, -1, jnp.int32),
    )
    return jax.lax.fori_loop(0, rows, add_row, start)[3]


def base_hungarian_algorithm(cost_matrix: Any) -> tuple[jax.Array, jax.Array]:
    r"""Solves the linear assignment problem by shortest augmenting paths.

    Given an :math:`n \times m` cost matrix :math:`C`, find :math:`\min(n, m)`
    (row, column) pairs, no row or column used twice, of least total cost:

    .. math::

        \min_{X \in \{0, 1\}^{n \times m}} \sum_{i, j} C_{ij} X_{ij}
        \quad \text{s.t.} \quad \sum_j X_{ij} \le 1,\ \sum_i X_{ij} \le 1,\
        \sum_{i, j} X_{ij} = \min(n, m)

    Each row is added along a shortest augmenting path (Dijkstra over reduced
    costs :math:`C_{ij} - u_i - v_j`), following Crouse's pseudocode, the one
    SciPy's ``linear_sum_assignment`` implements: :math:`O(n^2 m)` time, in
    ``jax.lax`` loops, so it runs under ``jit`` and ``vmap``. Each scan step
    is vectorized over the columns. :func:`hungarian_algorithm` solves the
    same problem and is usually faster.

    Entries equal to ``+inf`` forbid a pair. The returned rows are sorted;
    the choice among equally cheap assignments is Optax's (and SciPy's).

    .. warning::
      optjax checks the cost matrix where Optax does not: a matrix that is not
      2-D or not real raises; when its values are known (outside ``jit`` and
      ``vmap``), NaN or ``-inf`` entries raise, and so does a matrix whose
      ``+inf`` entries leave no full assignment (Optax's loop never ends
      there). Under ``jit`` such a matrix gives unspecified indices (possibly
      -1) but always terminates.

    Args:
      cost_matrix: an :math:`n \times m` array of real costs.

    Returns:
      A pair ``(i, j)`` of integer arrays of length :math:`\min(n, m)`, ``i``
      increasing: row ``i[k]`` is assigned to column ``j[k]``, and the total
      cost is ``cost_matrix[i, j].sum()``.

    Raises:
      ValueError: for a matrix that is not 2-D, holds NaN or ``-inf``, or is
        infeasible (the last two only when the values are known).
      TypeError: for a matrix that does not hold real numbers.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import assignment
      >>> cost = jnp.array([[4, 1, 3], [2, 0, 5], [3, 2, 2]])
      >>> i, j = assignment.base_hungarian_algorithm(cost)
      >>> print(i, j, cost[i, j].sum())
      [0 1 2] [1 0 2] 5
      >>> tall = jnp.array([[7.0, 2.0], [3.0, 8.0], [1.0, 6.0]])
      >>> i, j = assignment.base_hungarian_algorithm(tall)
      >>> print(i, j, tall[i, j].sum())
      [0 2] [1 0] 3.0

    References:
      Crouse, `On implementing 2D rectangular assignment algorithms
      <https://doi.org/10.1109/TAES.2016.140952>`_, 2016
    """
    where = "base_hungarian_algorithm"
    cost = _common.prepare(cost_matrix, where=where)
    if 0 in cost.shape:
        return _common.empty_result()
    if cost.shape[1] < cost.shape[0]:
        col4row = _solve_wide(cost.T)  # the row of each original column
        order = jnp.argsort(col4row)
        rows, cols = col4row[order], order.astype(col4row.dtype)
    else:
        rows, cols = jnp.arange(cost.shape[0]), _solve_wide(cost)
    _common.check_feasible(cost, rows, cols, where=where)
    return rows, cols
