"""``optjax.assignment`` against SciPy's ``linear_sum_assignment`` and ``optax.assignment``.

Costs must equal SciPy's optimum; the indices themselves (their order and the
choice among ties) must equal Optax's. Tie-heavy integer and 0/1 matrices pin
the tie-breaking; one compiled, vmapped solver per shape keeps this fast.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy.optimize import linear_sum_assignment

from optjax import assignment

SOLVERS = ["hungarian_algorithm", "base_hungarian_algorithm"]


def _batch(shape, seed):
    rng = np.random.RandomState(seed)
    ties = rng.randint(0, 3, (8, *shape))
    binary = rng.rand(8, *shape) < 0.3
    dense = rng.randn(8, *shape)
    return np.concatenate([ties, binary, dense]).astype(np.float32)


@pytest.mark.parametrize("name", SOLVERS)
@pytest.mark.parametrize("shape", [(3, 6), (5, 5), (6, 2)])
def test_optimal_and_identical_to_optax(name, shape):
    costs = _batch(shape, seed=sum(shape))
    i, j = jax.jit(jax.vmap(getattr(assignment, name)))(costs)
    i_ref, j_ref = jax.jit(jax.vmap(getattr(optax.assignment, name)))(costs)
    np.testing.assert_array_equal(i, i_ref)
    np.testing.assert_array_equal(j, j_ref)
    r = min(shape)
    assert i.shape == j.shape == (len(costs), r)
    assert jnp.issubdtype(i.dtype, jnp.integer) and jnp.issubdtype(j.dtype, jnp.integer)
    for cost, rows, cols in zip(costs, np.asarray(i), np.asarray(j)):
        assert len(set(rows)) == len(set(cols)) == r
        s_rows, s_cols = linear_sum_assignment(cost)
        np.testing.assert_allclose(
            cost[rows, cols].sum(), cost[s_rows, s_cols].sum(), rtol=1e-5, atol=1e-6
        )


@pytest.mark.parametrize("name", SOLVERS)
def test_eager_integer_empty_and_forbidden_pairs(name):
    solve = getattr(assignment, name)
    cost = np.array([[4, 1, 3], [2, 0, 5], [3, 2, 2], [9, 9, 0]])
    rows, cols = solve(cost)
    s_rows, s_cols = linear_sum_assignment(cost)
    assert cost[rows, cols].sum() == cost[s_rows, s_cols].sum()
    for shape in [(0, 3), (3, 0), (0, 0)]:
        rows, cols = solve(jnp.zeros(shape))
        assert rows.shape == cols.shape == (0,)
    # +inf forbids a pair; a feasible matrix is still solved optimally.
    forbidden = np.array([[np.inf, 1.0, 5.0], [2.0, np.inf, np.inf], [3.0, 4.0, np.inf]])
    rows, cols = solve(forbidden)
    s_rows, s_cols = linear_sum_assignment(forbidden)
    assert forbidden[rows, cols].sum() == forbidden[s_rows, s_cols].sum() == 11.0


@pytest.mark.parametrize("name", SOLVERS)
def test_infeasible_and_nan_terminate_under_jit(name):
    solve = jax.jit(getattr(assignment, name))
    infeasible = jnp.array([[1.0, jnp.inf], [2.0, jnp.inf]])
    rows, cols = solve(infeasible)  # Optax's base solver never returns here.
    assert rows.shape == cols.shape == (2,)
    rows, cols = solve(jnp.array([[1.0, jnp.nan], [2.0, 3.0]]))
    assert rows.shape == (2,)


BAD = [
    (jnp.ones(3), ValueError, "cost_matrix must be 2-D, got shape (3,)"),
    (jnp.ones((2, 2, 2)), ValueError, "must be 2-D"),
    (
        jnp.ones((2, 2), jnp.complex64),
        TypeError,
        "must hold real numbers (bool, int or float), got dtype complex64",
    ),
    (jnp.array([[1.0, jnp.nan], [0.0, 1.0]]), ValueError, "contains NaN or -inf"),
    (jnp.array([[1.0, -jnp.inf], [0.0, 1.0]]), ValueError, "contains NaN or -inf"),
    (jnp.array([[1.0, jnp.inf], [2.0, jnp.inf]]), ValueError, "cost_matrix is infeasible"),
]


@pytest.mark.parametrize("name", SOLVERS)
@pytest.mark.parametrize("index", range(len(BAD)))
def test_bad_input_raises_one_clear_line(name, index):
    cost, error, message = BAD[index]
    with pytest.raises(error) as info:
        getattr(assignment, name)(cost)
    assert str(info.value).startswith(f"{name}: ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)
