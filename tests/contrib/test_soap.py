"""SOAP against a plain-NumPy version of its algorithm box.

Optax has no SOAP, so the reference is written here from the paper (Vyas et
al. 2024, Algorithm 3, with the official implementation's first-step and
refresh conventions). Both sides get the same gradient sequence and their
updates are compared step by step; updates (not eigenvectors) are compared, so
the sign and order ambiguity of eigenvectors does not matter.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from preconditioner_helpers import (
    SHAPES,
    assert_reaches_least_squares_solution,
    check_abstract_init_and_state_stable_under_scan,
    check_float64_under_x64,
    check_jit_equals_eager_and_compiles_once,
    check_update_is_differentiable,
    check_updates_keep_the_gradient_dtype,
    check_vmap_over_independent_trees_equals_loop,
    gradients,
    gram_along,
    leaf_updates,
    lr_sweep_matches_loop,
    mode_product,
    run_optjax,
)

import optjax


class NumpySoap:
    """One leaf. ``view``/``unview`` give the (merged) shape it is preconditioned in."""

    def __init__(self, shape, b1, b2, beta, eps, freq, max_dim, view=None, unview=None):
        self.b1, self.b2, self.beta, self.eps, self.freq = b1, b2, beta, eps, freq
        self.view = view or (lambda x: x)
        self.unview = unview or (lambda x: x)
        vshape = self.view(np.zeros(shape)).shape
        self.dims = [d if (len(shape) >= 2 and d <= max_dim) else None for d in vshape]
        self.L = [None if d is None else np.zeros((d, d)) for d in self.dims]
        self.Q = [None if d is None else np.eye(d) for d in self.dims]
        self.M = np.zeros(vshape)
        self.V = np.zeros(vshape)
        self.calls = 0
        self.t = 0

    def rotate(self, x, back=False):
        for i, q in enumerate(self.Q):
            if q is not None:
                x = mode_product(x, q, i, transpose=not back)
        return x

    def step(self, g):
        g = self.view(np.asarray(g, np.float64))
        if self.calls == 0:
            # First call: statistics and eigenbasis only, no step.
            self.calls += 1
            for i, d in enumerate(self.dims):
                if d is not None:
                    self.L[i] = (1 - self.beta) * gram_along(g, i)
                    vals, vecs = np.linalg.eigh(self.L[i])
                    self.Q[i] = vecs[:, np.argsort(-vals)]
            return self.unview(np.zeros_like(g))
        self.calls += 1
        self.t += 1
        g_rot = self.rotate(g)
        self.M = self.b1 * self.M + (1 - self.b1) * g
        self.V = self.b2 * self.V + (1 - self.b2) * g_rot**2
        n = self.rotate(self.rotate(self.M) / (np.sqrt(self.V) + self.eps), back=True)
        n = n * np.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        for i, d in enumerate(self.dims):
            if d is not None:
                self.L[i] = self.beta * self.L[i] + (1 - self.beta) * gram_along(g, i)
        if self.t % self.freq == 0:
            for i, d in enumerate(self.dims):
                if d is None:
                    continue
                q = self.Q[i]
                order = np.argsort(-np.diag(q.T @ self.L[i] @ q))
                self.V = np.take(self.V, order, axis=i)
                self.Q[i] = np.linalg.qr(self.L[i] @ q[:, order])[0]
        return self.unview(n)


def _numpy_soap(kwargs, views=None):
    views = views or {}
    b2 = kwargs.get("b2", 0.95)
    beta = kwargs.get("shampoo_beta", -1)
    out = {}
    for name, seq in gradients().items():
        view, unview = views.get(name, (None, None))
        ref = NumpySoap(
            SHAPES[name],
            kwargs.get("b1", 0.95),
            b2,
            b2 if beta < 0 else beta,
            kwargs.get("eps", 1e-8),
            kwargs.get("precondition_frequency", 10),
            kwargs.get("max_precond_dim", 10000),
            view,
            unview,
        )
        out[name] = np.stack([ref.step(g) for g in seq])
    return out


def _channels_last_view(merged):
    """The reference's NHWC handling: move the last axis to position 1, then merge."""

    def view(x):
        return np.transpose(x, (0, 3, 1, 2)).reshape(merged)

    def unview(y):
        return np.transpose(y.reshape(2, 2, 3, 3), (0, 2, 3, 1))

    return view, unview


SOAP_SETTINGS = {
    "defaults": ({}, {}),
    "freq3": ({"b1": 0.9, "b2": 0.99, "shampoo_beta": 0.9, "precondition_frequency": 3}, {}),
    # Dimension 4 of the matrix exceeds 3: only its rows are rotated.
    "max_dim3": ({"precondition_frequency": 4, "max_precond_dim": 3}, {}),
    # (2, 2, 3) -> (4, 3); (2, 3, 3, 2) -> NCHW (2, 2, 3, 3) -> (4, 3, 3); (3, 4) stays.
    # (Shapes chosen so that the first statistics have no repeated zero eigenvalue,
    # whose eigenbasis would be arbitrary.)
    "merge": (
        {"precondition_frequency": 5, "max_precond_dim": 4, "merge_dims": True},
        {
            "t3": (lambda x: x.reshape(4, 3), lambda y: y.reshape(2, 2, 3)),
            "t4": _channels_last_view((4, 3, 3)),
        },
    ),
}


@pytest.mark.parametrize("setting", sorted(SOAP_SETTINGS))
def test_soap_matches_numpy_reference_float64(setting):
    kwargs, views = SOAP_SETTINGS[setting]
    with jax.enable_x64(True):
        ours = run_optjax(lambda: optjax.scale_by_soap(**kwargs), jnp.float64)
    expected = _numpy_soap(kwargs, views)
    for name in SHAPES:
        np.testing.assert_allclose(ours[name], expected[name], rtol=1e-7, atol=1e-9, err_msg=name)
    assert all(np.all(ours[name][0] == 0) for name in SHAPES)  # first call: basis only


def test_soap_matches_numpy_reference_float32():
    # float32 eigendecompositions and QR: compare at rtol 1e-4 on the update scale.
    ours = run_optjax(lambda: optjax.scale_by_soap(precondition_frequency=3), jnp.float32)
    expected = _numpy_soap({"precondition_frequency": 3})
    for name in SHAPES:
        scale = np.abs(expected[name]).max()
        np.testing.assert_allclose(
            ours[name], expected[name], rtol=1e-4, atol=1e-4 * scale, err_msg=name
        )


def test_soap_merge_dims_two_d_leaf_becomes_one_full_preconditioner():
    # (3, 4) with max_precond_dim 12 merges into one 12-vector: one 12 x 12 statistic.
    state = optjax.scale_by_soap(merge_dims=True, max_precond_dim=12).init(jnp.zeros((3, 4)))
    assert [s.shape for s in state.stats] == [(12, 12)]
    state = optjax.scale_by_soap(max_precond_dim=3).init(jnp.zeros((3, 4)))
    assert state.stats[0].shape == (3, 3) and state.stats[1] is None


def test_soap_bias_and_scalar_follow_adam_one_step_late():
    grads = gradients()
    ours = leaf_updates(optjax.scale_by_soap(b1=0.9, b2=0.99, eps=0.0), grads)
    # eps = 0 makes the reference's sqrt(1 - b2^t) / (1 - b1^t) scaling exactly Adam's.
    late = {k: v[1:] for k, v in grads.items()}
    adam = leaf_updates(optjax.scale_by_adam(b1=0.9, b2=0.99, eps=0.0), late)
    for name in ("b", "s"):
        np.testing.assert_array_equal(ours[name][0], 0.0)
        np.testing.assert_allclose(ours[name][1:], adam[name], rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("name", ["scale_by_soap", "soap"])
def test_trees_without_matrices_need_no_special_setting(name):
    tx = getattr(optjax, name)() if name != "soap" else optjax.soap(0.1)
    params = {"b": jnp.ones(3), "s": jnp.asarray(2.0), "none": None}
    updates, _ = tx.update(params, tx.init(params), params)
    assert jax.tree.structure(updates) == jax.tree.structure(params)


BAD_INPUT = [
    (optjax.scale_by_soap, {"precondition_frequency": 0}, "precondition_frequency"),
    (optjax.scale_by_soap, {"precondition_frequency": -2}, "precondition_frequency"),
    (optjax.scale_by_soap, {"precondition_frequency": 2.5}, "precondition_frequency"),
    (optjax.scale_by_soap, {"max_precond_dim": 0}, "max_precond_dim"),
    (optjax.scale_by_soap, {"data_format": "NCHW"}, "data_format"),
    (optjax.scale_by_soap, {"b1": 1.0}, "b1"),
    (optjax.scale_by_soap, {"b2": -0.1}, "b2"),
    (optjax.scale_by_soap, {"shampoo_beta": 1.5}, "shampoo_beta"),
    (optjax.scale_by_soap, {"eps": -1e-8}, "eps"),
    (optjax.soap, {"precondition_frequency": 0}, "precondition_frequency"),
]


@pytest.mark.parametrize(
    "fn, kwargs, argument", BAD_INPUT, ids=[f"{f.__name__}-{k}" for f, k, _ in BAD_INPUT]
)
def test_bad_hyperparameters_raise_naming_the_argument(fn, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        fn(**kwargs)


@pytest.mark.parametrize("make", [lambda lr: optjax.soap(lr, weight_decay=0.0)], ids=["soap"])
def test_reaches_least_squares_solution(make):
    assert_reaches_least_squares_solution(make)


@pytest.mark.parametrize(
    "make", [lambda lr: optjax.soap(lr, precondition_frequency=2)], ids=["soap"]
)
def test_vmap_over_learning_rate(make):
    lr_sweep_matches_loop(make)


# The contract checks: Optax has no reference for this optimizer.
CONTRACT_CASES = {
    "scale_by_soap": lambda: optjax.scale_by_soap(precondition_frequency=2),
    "soap/merge": lambda: optjax.soap(
        0.01, precondition_frequency=2, merge_dims=True, max_precond_dim=4
    ),
}
CONTRACT_IDS = sorted(CONTRACT_CASES)


@pytest.mark.parametrize("name", CONTRACT_IDS)
def test_jit_equals_eager_and_compiles_once(name):
    check_jit_equals_eager_and_compiles_once(CONTRACT_CASES[name])


@pytest.mark.parametrize("name", CONTRACT_IDS)
def test_vmap_over_independent_trees_equals_loop(name):
    check_vmap_over_independent_trees_equals_loop(CONTRACT_CASES[name])


@pytest.mark.parametrize("name", CONTRACT_IDS)
def test_abstract_init_and_state_stable_under_scan(name):
    check_abstract_init_and_state_stable_under_scan(CONTRACT_CASES[name])


@pytest.mark.parametrize("name", CONTRACT_IDS)
@pytest.mark.parametrize("dtype", [jnp.bfloat16])
def test_updates_keep_the_gradient_dtype(name, dtype):
    check_updates_keep_the_gradient_dtype(CONTRACT_CASES[name], dtype)


@pytest.mark.parametrize("name", CONTRACT_IDS)
def test_float64_under_x64(name):
    check_float64_under_x64(CONTRACT_CASES[name])


@pytest.mark.parametrize("name", CONTRACT_IDS)
def test_update_is_differentiable(name):
    check_update_is_differentiable(CONTRACT_CASES[name])
