"""``optjax.perturbations`` against ``optax.perturbations`` with fixed keys, and in expectation."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from optjax import perturbations

X_TREE = {"a": jnp.array([0.3, -0.4, 1.2]), "b": (jnp.array([[0.1, 0.0]]),)}


def _argmax_tree(tree):
    def one_hot(x):
        flat = x.reshape(-1)
        return jax.nn.one_hot(jnp.argmax(flat), flat.shape[0]).reshape(x.shape)

    return jax.tree.map(one_hot, tree)


def _score(tree):
    return sum(jnp.sum(jnp.cos(3.0 * leaf) * leaf) for leaf in jax.tree.leaves(_argmax_tree(tree)))


@pytest.mark.parametrize(
    "noise, use_baseline, sigma",
    [("Gumbel", True, 0.5), ("Normal", False, 1.0)],
)
def test_matches_optax_with_fixed_keys(noise, use_baseline, sigma):
    key = jax.random.key(3)
    ours = perturbations.make_perturbed_fun(
        _score, 64, sigma, getattr(perturbations, noise)(), use_baseline
    )
    theirs = optax.perturbations.make_perturbed_fun(
        _score, 64, sigma, getattr(optax.perturbations, noise)(), use_baseline
    )
    np.testing.assert_allclose(ours(key, X_TREE), theirs(key, X_TREE), rtol=1e-6)
    got = jax.grad(ours, argnums=1)(key, X_TREE)
    want = jax.grad(theirs, argnums=1)(key, X_TREE)
    jax.tree.map(lambda g, w: np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6), got, want)
    if noise != "Gumbel":
        return
    # Tree outputs too (the argmax itself).
    tree_ours = perturbations.make_perturbed_fun(_argmax_tree, 16, sigma)(key, X_TREE)
    tree_theirs = optax.perturbations.make_perturbed_fun(_argmax_tree, 16, sigma)(key, X_TREE)
    jax.tree.map(np.testing.assert_array_equal, tree_ours, tree_theirs)


def test_gumbel_argmax_is_softmax_in_expectation():
    x = jnp.array([0.2, -0.3, 0.5])
    soft = perturbations.make_perturbed_fun(_argmax_tree, 20_000, 1.0)
    np.testing.assert_allclose(jax.jit(soft)(jax.random.key(0), x), jax.nn.softmax(x), atol=2e-2)


def test_noise_distributions_match_optax():
    key = jax.random.key(5)
    z = jnp.linspace(-2.0, 2.0, 5)
    for name in ("Normal", "Gumbel"):
        ours, theirs = getattr(perturbations, name)(), getattr(optax.perturbations, name)()
        np.testing.assert_array_equal(ours.sample(key, (3, 2)), theirs.sample(key, (3, 2)))
        np.testing.assert_allclose(ours.log_prob(z), theirs.log_prob(z), rtol=1e-6)


BAD = [
    (
        lambda: perturbations.make_perturbed_fun(_score, 0),
        ValueError,
        "num_samples must be an integer >= 1, got 0",
    ),
    (
        lambda: perturbations.make_perturbed_fun(_score, 10.5),
        ValueError,
        "num_samples must be an integer >= 1",
    ),
    (
        lambda: perturbations.make_perturbed_fun(_score, 10, -0.1),
        ValueError,
        "sigma must be > 0, got -0.1",
    ),
    (
        lambda: perturbations.make_perturbed_fun(_score, 10, 0.1, object()),
        TypeError,
        "object lacks sample and log_prob",
    ),
    (lambda: perturbations.make_perturbed_fun(3.0), TypeError, "fun must be callable"),
    (
        lambda: perturbations.make_perturbed_fun(_score, 4)(
            jax.random.key(0), {"a": jnp.ones(2, int)}
        ),
        TypeError,
        "input leaf at key path ['a'] is int32",
    ),
]


@pytest.mark.parametrize("index", range(len(BAD)))
def test_bad_input_raises_one_clear_line(index):
    call, error, message = BAD[index]
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)
    assert "\n" not in str(info.value)
