"""``optjax.projections`` against ``optax.projections``, plus the defining properties.

Every projection is compared with Optax's on values and on the gradient of a
random linear functional of the output, over an array, a matrix and a nested
tree, for several radii. Property checks use the variational inequality of a
Euclidean projection onto a convex set C: ``<x - p, q - p> <= 0`` for all q in
C, with q drawn from C; together with ``p in C`` this characterizes the
closest point.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from optjax import projections as proj

TREES = {
    "matrix": jnp.array([[0.5, 2.1], [-3.5, 0.25]]),
    "tree": {"a": jnp.array([0.3, -1.2]), "b": (jnp.array(0.7), jnp.array([[-0.1, 2.0]]))},
}

# name -> (extra args builder from the tree); radius-style functions take scale.
CASES = {
    "projection_non_negative": lambda t: (),
    "projection_box": lambda t: (
        jax.tree.map(lambda x: x * 0 - 1.0, t),
        jax.tree.map(lambda x: x * 0 + 0.5, t),
    ),
    "projection_hypercube": lambda t: (0.8,),
    "projection_simplex": lambda t: (1.0,),
    "projection_simplex@2.5": lambda t: (2.5,),
    "projection_l1_sphere": lambda t: (1.5,),
    "projection_l1_ball": lambda t: (1.0,),
    "projection_l1_ball@100": lambda t: (100.0,),
    "projection_l2_sphere": lambda t: (2.0,),
    "projection_l2_ball": lambda t: (1.0,),
    "projection_l2_ball@100": lambda t: (100.0,),
    "projection_linf_ball": lambda t: (0.6,),
    "projection_vector": lambda t: (jax.tree.map(lambda x: jnp.cos(x) + 0.5, t),),
    "projection_hyperplane": lambda t: (jax.tree.map(lambda x: jnp.cos(x) + 0.5, t), 0.7),
    "projection_halfspace": lambda t: (jax.tree.map(lambda x: jnp.cos(x) + 0.5, t), 0.7),
    "projection_halfspace@inside": lambda t: (jax.tree.map(lambda x: jnp.cos(x) + 0.5, t), 50.0),
}


def _fns(case):
    name = case.split("@")[0]
    return getattr(proj, name), getattr(optax.projections, name)


def _weights(tree):
    return jax.tree.map(lambda x: jnp.sin(3.0 * x + 1.0), tree)


def _linear_loss(fn, args, tree):
    out = fn(tree, *args)
    return sum(
        jnp.vdot(o, w) for o, w in zip(jax.tree.leaves(out), jax.tree.leaves(_weights(tree)))
    )


@pytest.mark.parametrize("tree_name", list(TREES))
@pytest.mark.parametrize("case", list(CASES))
def test_matches_optax_values_and_gradients(case, tree_name):
    tree = TREES[tree_name]
    if case == "projection_hypercube" and tree_name == "tree":
        pytest.skip("Optax's hypercube takes a scalar scale only for single-array trees")
    ours, theirs = _fns(case)
    args = CASES[case](tree)
    got, want = ours(tree, *args), theirs(tree, *args)
    assert jax.tree.structure(got) == jax.tree.structure(want)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)
    if tree_name != "tree":
        return
    grad_ours = jax.grad(functools.partial(_linear_loss, ours, args))(tree)
    grad_theirs = jax.grad(functools.partial(_linear_loss, theirs, args))(tree)
    for g, w in zip(jax.tree.leaves(grad_ours), jax.tree.leaves(grad_theirs)):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def _flat(tree):
    return np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in jax.tree.leaves(tree)])


# name -> (args, membership test on the flat result, sampler of flat points in the set)
def _sample_simplex(rng, d, s):
    return s * rng.dirichlet(np.ones(d))


def _sample_l1(rng, d, s):
    return _sample_simplex(rng, d, s) * rng.choice([-1.0, 1.0], d) * rng.uniform()


def _sample_l2(rng, d, s):
    v = rng.randn(d)
    return s * rng.uniform() * v / np.linalg.norm(v)


PROPERTIES = {
    "projection_simplex": (
        (1.3,),
        lambda p: np.all(p >= 0) and np.isclose(p.sum(), 1.3, atol=1e-5),
        lambda rng, d: _sample_simplex(rng, d, 1.3),
    ),
    "projection_l1_ball": (
        (1.3,),
        lambda p: np.abs(p).sum() <= 1.3 + 1e-5,
        lambda rng, d: _sample_l1(rng, d, 1.3),
    ),
    "projection_l2_ball": (
        (1.3,),
        lambda p: np.linalg.norm(p) <= 1.3 + 1e-5,
        lambda rng, d: _sample_l2(rng, d, 1.3),
    ),
    "projection_linf_ball": (
        (0.4,),
        lambda p: np.abs(p).max() <= 0.4 + 1e-6,
        lambda rng, d: rng.uniform(-0.4, 0.4, d),
    ),
    "projection_non_negative": (
        (),
        lambda p: np.all(p >= 0),
        lambda rng, d: rng.exponential(size=d),
    ),
}


@pytest.mark.parametrize("name", list(PROPERTIES))
def test_closest_point_in_the_set(name):
    args, inside, sample = PROPERTIES[name]
    fn = getattr(proj, name)
    rng = np.random.RandomState(0)
    tree = TREES["tree"]
    x = _flat(tree)
    p_tree = fn(tree, *args)
    p = _flat(p_tree)
    assert inside(p)
    # Projecting twice changes nothing.
    np.testing.assert_allclose(_flat(fn(p_tree, *args)), p, atol=1e-6)
    for _ in range(200):
        q = sample(rng, x.size)
        assert np.dot(x - p, q - p) <= 1e-5


def test_simplex_matches_a_scipy_qp_solution():
    from scipy.optimize import minimize

    x = np.array([0.4, -0.2, 1.1, 0.9, -2.0])
    res = minimize(
        lambda p: np.sum((p - x) ** 2),
        np.full(5, 0.2),
        jac=lambda p: 2 * (p - x),
        bounds=[(0, None)] * 5,
        constraints=[{"type": "eq", "fun": lambda p: p.sum() - 1.0}],
        method="SLSQP",
        options={"ftol": 1e-12},
    )
    np.testing.assert_allclose(
        proj.projection_simplex(jnp.asarray(x, jnp.float32)), res.x, atol=1e-5
    )


def test_affine_sets():
    x, a, b = (
        {"u": jnp.array([1.0, -2.0]), "v": jnp.array(0.5)},
        {"u": jnp.array([2.0, 1.0]), "v": jnp.array(-1.0)},
        3.0,
    )
    y = proj.projection_hyperplane(x, a, b)
    np.testing.assert_allclose(float(sum(jnp.vdot(y[k], a[k]) for k in a)), b, rtol=1e-6)
    # The hyperplane's closest point: x - y is parallel to a.
    d = _flat(x) - _flat(y)
    np.testing.assert_allclose(np.linalg.matrix_rank(np.stack([d, _flat(a)]), tol=1e-5), 1)
    np.testing.assert_allclose(_flat(proj.projection_vector(a, a)), _flat(a), rtol=1e-6)


def test_box_bounds_broadcast_and_keep_dtypes():
    tree = {"w": jnp.array([-2.0, 0.5, 3.0], jnp.bfloat16), "b": jnp.array([[4.0]])}
    out = proj.projection_box(tree, -1.0, 1.0)
    assert out["w"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(out["w"].astype(jnp.float32), [-1.0, 0.5, 1.0])
    np.testing.assert_array_equal(proj.projection_hypercube(tree)["b"], [[1.0]])
    out = proj.projection_box(
        tree, {"w": jnp.array([0.0, 0.0, 0.0]), "b": -5.0}, {"w": 2.0, "b": 2.0}
    )
    np.testing.assert_array_equal(out["w"].astype(jnp.float32), [0.0, 0.5, 2.0])


def test_l1_ball_accepts_bfloat16_where_optax_raises():
    x = {
        "a": jnp.array([0.3, -1.2, 2.0], jnp.bfloat16),
        "b": jnp.array([[0.7, -0.1]], jnp.bfloat16),
    }
    with pytest.raises(TypeError):
        optax.projections.projection_l1_ball(x)
    out = proj.projection_l1_ball(x)
    assert all(leaf.dtype == jnp.bfloat16 for leaf in jax.tree.leaves(out))
    want = proj.projection_l1_sphere(jax.tree.map(lambda v: v.astype(jnp.float32), x))
    for g, w in zip(jax.tree.leaves(out), jax.tree.leaves(want)):
        np.testing.assert_allclose(g.astype(jnp.float32), w, atol=1e-2)


def test_transformations():
    x = jax.random.normal(jax.random.key(0), (3, 7))
    scales = jnp.array([0.5, 1.0, 2.0])
    batched = jax.jit(jax.vmap(proj.projection_simplex))(x, scales)
    for row, s, b in zip(x, scales, batched):
        np.testing.assert_allclose(b, proj.projection_simplex(row, s), rtol=1e-6, atol=1e-7)
    assert float(jax.grad(proj.projection_l1_ball)(0.0)) == 1.0
    assert float(jax.grad(proj.projection_l2_ball)(0.0)) == 1.0


BAD = [
    (
        lambda: proj.projection_l2_ball(jnp.ones(3), -1.0),
        ValueError,
        "projection_l2_ball: scale must be > 0, got -1.0",
    ),
    (
        lambda: proj.projection_simplex(jnp.ones(3), 0.0),
        ValueError,
        "projection_simplex: scale must be > 0",
    ),
    (
        lambda: proj.projection_l1_ball(jnp.ones(3), jnp.ones(2)),
        ValueError,
        "scale must be a scalar, got an array of shape (2,)",
    ),
    (
        lambda: proj.projection_linf_ball(jnp.ones(3), -0.5),
        ValueError,
        "projection_linf_ball: scale must be >= 0",
    ),
    (lambda: proj.projection_hypercube(jnp.ones(3), -2), ValueError, "scale must be >= 0"),
    (
        lambda: proj.projection_simplex({"a": jnp.ones(2), "n": jnp.ones(2, int)}),
        TypeError,
        "key path ['n'] has dtype int32",
    ),
    (lambda: proj.projection_simplex({}), ValueError, "has no elements"),
    (
        lambda: proj.projection_box({"a": jnp.ones(2)}, {"b": 0.0}, 1.0),
        ValueError,
        "tree structure of lower does not match",
    ),
    (lambda: proj.projection_box(jnp.ones(2), 1.0, 0.0), ValueError, "lower must not exceed upper"),
    (
        lambda: proj.projection_box(jnp.ones(2), jnp.zeros(3), 1.0),
        ValueError,
        "do not broadcast to the leaf's shape (2,)",
    ),
    (
        lambda: proj.projection_vector({"a": jnp.ones(2)}, {"a": jnp.ones(3)}),
        ValueError,
        "a leaf at key path ['a'] has shape (3,) but the x leaf has shape (2,)",
    ),
    (
        lambda: proj.projection_hyperplane({"a": jnp.ones(2)}, {"c": jnp.ones(2)}, 1.0),
        ValueError,
        "key path ['a']",
    ),
    (
        lambda: proj.projection_halfspace(jnp.ones(2), jnp.ones(2), jnp.ones(2)),
        ValueError,
        "b must be a scalar",
    ),
]


@pytest.mark.parametrize("index", range(len(BAD)))
def test_bad_input_raises_one_clear_line(index):
    call, error, message = BAD[index]
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)
    assert "\n" not in str(info.value)
