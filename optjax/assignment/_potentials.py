"""``hungarian_algorithm``: the Hungarian method with row and column potentials."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from optjax.assignment import _common


# Compiled once per shape and dtype, so repeated eager calls are fast.
@jax.jit
def _solve_wide(cost: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Solves a ``rows <= cols`` problem; returns (row, column) index pairs.

    Rows enter one at a time. For each, a Dijkstra-like search over columns
    (with reduced costs ``cost - u - v``) grows a tree of tight edges until it
    reaches a free column, adjusting the potentials by the smallest slack at
    each step; the path found is then flipped. Columns and rows are 1-based
    inside, so that column 0 can stand for the row being inserted and match
    value 0 for "free".
    """
    rows, cols = cost.shape
    inf = jnp.asarray(jnp.inf, cost.dtype)
    # u has a spare slot at rows + 1 that absorbs the updates of free columns.
    u = jnp.zeros(rows + 2, cost.dtype)
    v = jnp.zeros(cols + 1, cost.dtype)
    match = jnp.zeros(cols + 1, jnp.int32)  # match[j]: 1-based row of column j, 0 if free.

    def insert_row(carry, row):
        u, v, match = carry
        match = match.at[0].set(row + 1)

        def searching(state):
            *_, col, stuck = state
            return (match[col] != 0) & ~stuck

        def grow(state):
            u, v, used, slack, via, col, _ = state
            used = used.at[col].set(True)
            free = ~used[1:]
            reached_row = match[col]
            reduced = cost[reached_row - 1, :] - u[reached_row] - v[1:]
            reduced = jnp.where(free, reduced, inf)
            closer = reduced < slack
            via = jnp.where(closer, col, via)
            slack = jnp.where(closer, reduced, slack)
            free_slack = jnp.where(free, slack, inf)
            next_col = jnp.argmin(free_slack) + 1
            delta = jnp.min(free_slack)
            # No finite slack left: the row cannot be placed (forbidden pairs).
            stuck = ~jnp.isfinite(delta)
            delta = jnp.where(stuck, 0, delta)
            u = u.at[jnp.where(used, match, rows + 1)].add(delta)
            v = jnp.where(used, v - delta, v)
            slack = jnp.where(free, slack - delta, slack)
            return u, v, used, slack, via, next_col, stuck

        start = (
            u,
            v,
            jnp.zeros(cols + 1, bool),
            jnp.full(cols, inf),
            jnp.zeros(cols, jnp.int32),
            jnp.int32(0),
            jnp.bool_(False),
        )
        u, v, _, _, via, col, stuck = jax.lax.while_loop(searching, grow, start)

        def flip(state):
            match, col = state
            previous = via[col - 1]
            return match.at[col].set(match[previous]), previous

        col = jnp.where(stuck, 0, col)
        match, _ = jax.lax.while_loop(lambda s: s[1] != 0, flip, (match, col))
        return (u, v, match), None

    (_, _, match), _ = jax.lax.scan(insert_row, (u, v, match), jnp.arange(rows))
    if rows == cols:
        return match[1:] - 1, jnp.arange(rows)
    # Keep the assigned columns, in decreasing order of their row.
    row_plus_one, columns = jax.lax.top_k(match[1:], rows)
    return row_plus_one - 1, columns


def hungarian_algorithm(cost_matrix: Any) -> tuple[jax.Array, jax.Array]:
    r"""Solves the linear assignment problem with the Hungarian method.

    Given an :math:`n \times m` cost matrix :math:`C`, find :math:`\min(n, m)`
    (row, column) pairs, no row or column used twice, of least total cost:

    .. math::

        \min_{X \in \{0, 1\}^{n \times m}} \sum_{i, j} C_{ij} X_{ij}
        \quad \text{s.t.} \quad \sum_j X_{ij} \le 1,\ \sum_i X_{ij} \le 1,\
        \sum_{i, j} X_{ij} = \min(n, m)

    The method keeps dual potentials :math:`u, v` with
    :math:`C_{ij} - u_i - v_j \ge 0` and adds one row at a time along a
    shortest augmenting path: :math:`O(n^2 m)` time, as ``jax.lax`` loops, so
    it runs under ``jit`` and ``vmap``. Usually faster than
    :func:`base_hungarian_algorithm`, which solves the same problem.

    Entries equal to ``+inf`` forbid a pair. The order of the returned pairs
    and the choice among equally cheap assignments are Optax's.

    .. warning::
      optjax checks the cost matrix where Optax does not: a matrix that is not
      2-D or not real raises; when its values are known (outside ``jit`` and
      ``vmap``), NaN or ``-inf`` entries raise, and so does a matrix whose
      ``+inf`` entries leave no full assignment. Under ``jit`` such a matrix
      gives unspecified indices (possibly -1) but always terminates.

    Args:
      cost_matrix: an :math:`n \times m` array of real costs.

    Returns:
      A pair ``(i, j)`` of integer arrays of length :math:`\min(n, m)`: row
      ``i[k]`` is assigned to column ``j[k]``, and the total cost is
      ``cost_matrix[i, j].sum()``.

    Raises:
      ValueError: for a matrix that is not 2-D, holds NaN or ``-inf``, or is
        infeasible (the last two only when the values are known).
      TypeError: for a matrix that does not hold real numbers.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import assignment
      >>> cost = jnp.array([[4, 1, 3], [2, 0, 5], [3, 2, 2]])
      >>> i, j = assignment.hungarian_algorithm(cost)
      >>> print(i, j, cost[i, j].sum())
      [1 0 2] [0 1 2] 5
      >>> wide = jnp.array([[7.0, 2.0, 9.0, 1.0], [3.0, 8.0, 4.0, 6.0]])
      >>> i, j = assignment.hungarian_algorithm(wide)
      >>> print(i, j, wide[i, j].sum())
      [1 0] [0 3] 4.0

    References:
      Kuhn, `The Hungarian method for the assignment problem
      <https://doi.org/10.1002/nav.3800020109>`_, 1955

      Dehghani et al., `Scenic: A JAX Library for Computer Vision Research and
      Beyond <https://arxiv.org/abs/2110.11403>`_, 2022
    """
    where = "hungarian_algorithm"
    cost = _common.prepare(cost_matrix, where=where)
    if 0 in cost.shape:
        return _common.empty_result()
    if cost.shape[0] > cost.shape[1]:
        cols, rows = _solve_wide(cost.T)
    else:
        rows, cols = _solve_wide(cost)
    _common.check_feasible(cost, rows, cols, where=where)
    return rows, cols
