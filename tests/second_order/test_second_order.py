"""``optjax.second_order`` against dense ``jax.hessian`` / ``jax.grad`` and against Optax."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax import flatten_util

from optjax import second_order

PARAMS = {"w": jnp.array([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]]), "b": jnp.array([0.05, -0.1])}
INPUTS = jax.random.normal(jax.random.key(1), (4, 3))
TARGETS = jnp.array([0, 1, 1, 0])


def nll(params, inputs, targets):
    logits = jnp.tanh(inputs @ params["w"]) * 2.0 + params["b"][None, :]
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), targets[:, None], axis=1))


def _dense_hessian():
    flat, unravel = flatten_util.ravel_pytree(PARAMS)
    return jax.hessian(lambda f: nll(unravel(f), INPUTS, TARGETS))(flat)


def _optax(name, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(optax.second_order, name)(*args)


def test_hvp_and_hessian_diag_match_the_dense_hessian_and_optax():
    hessian = _dense_hessian()
    v = jnp.linspace(-1.0, 1.0, hessian.shape[0])
    got = second_order.hvp(nll, v, PARAMS, INPUTS, TARGETS)
    assert jax.tree.structure(got) == jax.tree.structure(PARAMS)
    np.testing.assert_allclose(flatten_util.ravel_pytree(got)[0], hessian @ v, rtol=1e-4, atol=1e-6)
    want = _optax("hvp", nll, v, PARAMS, INPUTS, TARGETS)
    jax.tree.map(np.testing.assert_array_equal, got, want)

    diag = second_order.hessian_diag(nll, PARAMS, INPUTS, TARGETS)
    np.testing.assert_allclose(diag, jnp.diag(hessian), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(diag, _optax("hessian_diag", nll, PARAMS, INPUTS, TARGETS))


def test_fisher_diag_is_the_squared_gradient_and_matches_optax():
    grad = flatten_util.ravel_pytree(jax.grad(nll)(PARAMS, INPUTS, TARGETS))[0]
    got = second_order.fisher_diag(nll, PARAMS, INPUTS, TARGETS)
    np.testing.assert_allclose(got, grad**2, rtol=1e-6)
    np.testing.assert_array_equal(got, _optax("fisher_diag", nll, PARAMS, INPUTS, TARGETS))


def test_no_deprecation_warning():
    # optjax keeps these functions supported: unlike Optax 0.2.8, no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second_order.fisher_diag(nll, PARAMS, INPUTS, TARGETS)
        second_order.hvp(nll, jnp.ones(8), PARAMS, INPUTS, TARGETS)


def test_bad_vector_size_names_both_sizes():
    with pytest.raises(
        ValueError, match=r"hvp: v must be a vector .* shape \(8,\), got shape \(5,\)"
    ):
        second_order.hvp(nll, jnp.ones(5), PARAMS, INPUTS, TARGETS)
