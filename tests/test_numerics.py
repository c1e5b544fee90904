"""Top-level numerics and linear algebra (``optjax.safe_norm``, ``optjax.nnls``...).

Values and gradients against Optax, and the iterative solvers against SciPy /
NumPy closed forms; bad inputs against their messages.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.linalg
import scipy.optimize
import scipy.stats

import optjax

NAMES = [
    "bias_correction",
    "global_norm",
    "matrix_inverse_pth_root",
    "multi_normal",
    "nnls",
    "power_iteration",
    "safe_increment",
    "safe_int32_increment",
    "safe_norm",
    "safe_root_mean_squares",
    "scale_gradient",
    "tree_map_params",
    "update_infinity_moment",
    "update_moment",
    "update_moment_per_elem_norm",
]


def test_names_are_exported_and_shared_with_tree():
    for name in NAMES:
        assert hasattr(optax, name) and name in optjax.__all__
    for name in ("bias_correction", "update_moment", "update_moment_per_elem_norm"):
        assert getattr(optjax, name) is getattr(optjax.tree, name)
    assert optjax.update_infinity_moment is optjax.tree.update_infinity_moment
    assert optjax.safe_int32_increment is optjax.safe_increment is optjax.tree.safe_increment
    assert optjax.tree_map_params is optjax.tree_utils.tree_map_params


@pytest.mark.parametrize(
    "ord_, axis, keepdims",
    [(None, None, False), (1, 1, True), ("fro", None, True)],
)
def test_safe_norm_values_and_gradients_match_optax(ord_, axis, keepdims):
    x = jnp.array([[1.0, -2.0, 0.5], [0.0, 0.0, 0.0]])
    if ord_ == 2:
        x = x[0]
    for min_norm in (0.0, 10.0):
        for fn in (jnp.sum, lambda v: v):

            def ours(v, fn=fn, m=min_norm):
                return fn(optjax.safe_norm(v, m, ord=ord_, axis=axis, keepdims=keepdims))

            def theirs(v, fn=fn, m=min_norm):
                return fn(optax.safe_norm(v, m, ord=ord_, axis=axis, keepdims=keepdims))

            np.testing.assert_array_equal(ours(x), theirs(x))
        grad_ours = jax.grad(lambda v, m=min_norm: jnp.sum(optjax.safe_norm(v, m, ord_, axis)))
        grad_theirs = jax.grad(lambda v, m=min_norm: jnp.sum(optax.safe_norm(v, m, ord_, axis)))
        for point in (x, jnp.zeros_like(x)):
            g = grad_ours(point)
            np.testing.assert_array_equal(g, grad_theirs(point))
            assert np.isfinite(g).all()


def test_safe_root_mean_squares_matches_optax():
    for x in (jnp.array([3.0, 4.0]), jnp.zeros(3), jnp.array([1 + 1j, 2j])):
        for min_rms in (0.0, 0.5, 5.0):
            np.testing.assert_array_equal(
                optjax.safe_root_mean_squares(x, min_rms), optax.safe_root_mean_squares(x, min_rms)
            )
    grad = jax.grad(lambda v: optjax.safe_root_mean_squares(v, 0.0))(jnp.zeros(3))
    np.testing.assert_array_equal(grad, jnp.zeros(3))


@pytest.mark.parametrize("dtype", [jnp.int8, jnp.uint16, jnp.int32, jnp.bfloat16, jnp.float32])
def test_safe_increment(dtype):
    info = jnp.iinfo(dtype) if jnp.issubdtype(dtype, jnp.integer) else jnp.finfo(dtype)
    for start in (3, info.max):
        count = jnp.asarray(start, dtype)
        ours = optjax.safe_increment(count)
        assert ours.dtype == dtype
        np.testing.assert_array_equal(ours, optax.safe_increment(count))


def test_safe_increment_rejects_bool_and_complex():
    for dtype in (jnp.bool_, jnp.complex64):
        with pytest.raises(ValueError, match="must be an integer or floating-point dtype"):
            optjax.safe_increment(jnp.asarray(1, dtype))


def test_global_norm_is_deprecated_and_equals_tree_norm():
    tree = {"a": jnp.array([3.0]), "b": [jnp.array([[4.0]])]}
    with pytest.warns(DeprecationWarning, match="use optjax.tree.norm"):
        value = optjax.global_norm(tree)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        np.testing.assert_array_equal(value, optax.global_norm(tree))


@pytest.mark.parametrize("scale", [0.0, 0.5, 1.0, -2.0])
def test_scale_gradient_matches_optax(scale):
    tree = {"a": jnp.array([1.0, 2.0]), "b": jnp.array(3.0)}

    def loss(lib, t):
        scaled = lib.scale_gradient(t, scale)
        return jnp.sum(scaled["a"] ** 2) + scaled["b"] ** 3

    ours, theirs = (
        jax.grad(lambda t: loss(optjax, t))(tree),
        jax.grad(lambda t: loss(optax, t))(tree),
    )
    jax.tree.map(np.testing.assert_array_equal, ours, theirs)
    np.testing.assert_allclose(ours["b"], scale * 27.0)
    assert optjax.scale_gradient(tree, 1.0) is tree


def test_multi_normal_matches_optax_and_scipy():
    loc = jnp.array([[0.5, -1.0, 2.0], [0.0, 0.0, 1.0]])
    log_scale = jnp.log(jnp.array([[1.0, 2.0, 0.5], [2.0, 2.0, 3.0]]))
    ours, theirs = optjax.multi_normal(loc, log_scale), optax.multi_normal(loc, log_scale)
    key = jax.random.key(3)
    with jax.numpy_rank_promotion("allow"):  # Optax's sample relies on rank promotion.
        theirs_sample = theirs.sample((4,), key)
    np.testing.assert_array_equal(ours.sample([4], key), theirs_sample)
    assert ours.sample((4, 5), key).shape == (4, 5, 2, 3)
    x = jnp.array([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]])
    expected = scipy.stats.norm.logpdf(
        np.asarray(x), np.asarray(loc), np.exp(np.asarray(log_scale))
    ).sum()
    np.testing.assert_allclose(ours.log_prob(x), expected, rtol=1e-6)
    np.testing.assert_array_equal(ours.log_prob(x), theirs.log_prob(x))
    assert ours.params[0] is ours.params[0] and ours.log_scale.shape == (2, 3)
    with pytest.raises(
        ValueError, match=r"Incompatible shapes for broadcasting: loc has shape \(2,\)"
    ):
        optjax.multi_normal(jnp.zeros(2), jnp.zeros(3))


def _spd(n, seed, condition=10.0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return (q * np.geomspace(1.0, condition, n)) @ q.T


def test_power_iteration_matches_eigh_and_optax():
    a = jnp.asarray(_spd(5, 0), jnp.float32)
    value, vector = optjax.power_iteration(a, num_iters=300)
    eigenvalues, eigenvectors = np.linalg.eigh(np.asarray(a, np.float64))
    np.testing.assert_allclose(value, eigenvalues[-1], rtol=1e-4)
    np.testing.assert_allclose(np.abs(vector), np.abs(eigenvectors[:, -1]), atol=1e-3)
    theirs = optax.power_iteration(a, num_iters=300)
    np.testing.assert_array_equal(value, theirs[0])
    np.testing.assert_array_equal(vector, theirs[1])
    # A matrix-free operator on a pytree.
    tree_v0 = {"x": jnp.ones(2), "y": jnp.ones(3)}

    def matvec(v):
        flat = a @ jnp.concatenate([v["x"], v["y"]])
        return {"x": flat[:2], "y": flat[2:]}

    tree_value, tree_vector = optjax.power_iteration(matvec, v0=tree_v0, num_iters=300)
    np.testing.assert_allclose(tree_value, eigenvalues[-1], rtol=1e-4)
    assert jax.tree.structure(tree_vector) == jax.tree.structure(tree_v0)
    with pytest.raises(ValueError, match="v0 must be given when matrix is a function"):
        optjax.power_iteration(matvec)
    with pytest.raises(ValueError, match=r"matrix must be square \(n, n\), got shape \(2, 3\)"):
        optjax.power_iteration(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match=r"v0 must have shape \(5,\)"):
        optjax.power_iteration(a, v0=jnp.ones(4))


@pytest.mark.parametrize("p", [2, 8])
def test_matrix_inverse_pth_root_matches_scipy_and_optax(p):
    a = _spd(4, p, condition=20.0)
    root, error = optjax.matrix_inverse_pth_root(jnp.asarray(a, jnp.float32), p)
    expected = scipy.linalg.fractional_matrix_power(a, -1.0 / p).real
    np.testing.assert_allclose(root, expected, atol=1e-4)
    assert error < 1e-5
    theirs = optax.matrix_inverse_pth_root(jnp.asarray(a, jnp.float32), p)
    np.testing.assert_array_equal(root, theirs[0])
    np.testing.assert_array_equal(error, theirs[1])


def test_matrix_inverse_pth_root_other_powers_and_edge_cases():
    # Deliberate difference: Optax uses X**4 for p = 3 and returns a wrong root.
    a = _spd(4, 9, condition=20.0)
    root, _ = optjax.matrix_inverse_pth_root(jnp.asarray(a, jnp.float32), 3)
    expected = scipy.linalg.fractional_matrix_power(a, -1.0 / 3).real
    np.testing.assert_allclose(root, expected, atol=1e-4)
    wrong, _ = optax.matrix_inverse_pth_root(jnp.asarray(a, jnp.float32), 3)
    assert np.abs(np.asarray(wrong) - expected).max() > 1e-2
    one = jnp.array([[4.0]])
    np.testing.assert_array_equal(
        optjax.matrix_inverse_pth_root(one, 2)[0], optax.matrix_inverse_pth_root(one, 2)[0]
    )
    with pytest.raises(ValueError, match=r"matrix must be square \(n, n\), got shape \(3,\)"):
        optjax.matrix_inverse_pth_root(jnp.ones(3), 2)
    with pytest.raises(ValueError, match="p must be a positive integer, got 0.5"):
        optjax.matrix_inverse_pth_root(jnp.eye(2), 0.5)


@pytest.mark.parametrize("k", [(), (2,)])
def test_nnls_matches_scipy_and_optax(k):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 4)).astype(np.float32)
    b = rng.normal(size=(6, *k)).astype(np.float32)
    x = optjax.nnls(jnp.asarray(a), jnp.asarray(b), 2000)
    columns = b.reshape(6, -1).T
    expected = np.stack([scipy.optimize.nnls(a, col)[0] for col in columns], axis=-1)
    np.testing.assert_allclose(x, expected.reshape(4, *k), atol=1e-4)
    for iters, lipschitz in ((3, None), (5, 50.0)):
        np.testing.assert_array_equal(
            optjax.nnls(jnp.asarray(a), jnp.asarray(b), iters, L=lipschitz),
            optax.nnls(jnp.asarray(a), jnp.asarray(b), iters, L=lipschitz),
        )
    np.testing.assert_array_equal(optjax.nnls(jnp.zeros((3, 2)), jnp.ones(3), 4), jnp.zeros(2))


def test_nnls_bad_shapes():
    with pytest.raises(ValueError, match=r"A must be a 2-D \(M, N\) matrix, got shape \(3,\)"):
        optjax.nnls(jnp.ones(3), jnp.ones(3), 2)
    with pytest.raises(ValueError, match=r"b must have shape \(M,\) or \(M, K\)"):
        optjax.nnls(jnp.ones((3, 2)), jnp.ones((3, 1, 1)), 2)
    with pytest.raises(ValueError, match=r"same number of rows, got A \(3, 2\) and b \(4,\)"):
        optjax.nnls(jnp.ones((3, 2)), jnp.ones(4), 2)
