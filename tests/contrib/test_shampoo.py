"""Blocked Shampoo against a plain-NumPy version of its algorithm box.

Optax has no Shampoo, so the reference is written here from the papers (Gupta
et al. 2018 / Anil et al. 2020 for blocked Shampoo with per-block Adam
grafting). Both sides get the same gradient sequence and their updates are
compared step by step.
"""

from __future__ import annotations

import itertools

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


class NumpyShampoo:
    """One leaf, with explicit loops over its blocks (no padding)."""

    def __init__(self, shape, b1, b2, eps, meps, block, freq, start, decay):
        self.b1, self.b2, self.eps, self.meps = b1, b2, eps, meps
        self.freq, self.start, self.decay = freq, start, decay
        self.shape = shape
        self.m = np.zeros(shape)
        self.v = np.zeros(shape)
        self.t = 0
        self.blocks = []
        if len(shape) >= 2:
            ranges = [[slice(lo, min(lo + block, d)) for lo in range(0, d, block)] for d in shape]
            self.blocks = list(itertools.product(*ranges))
        sizes = [[s.stop - s.start for s in blk] for blk in self.blocks]
        self.L = [[np.zeros((b, b)) for b in bs] for bs in sizes]
        self.P = [[np.eye(b) for b in bs] for bs in sizes]

    def step(self, g):
        g = np.asarray(g, np.float64)
        self.t += 1
        t = self.t
        self.v = self.b2 * self.v + (1 - self.b2) * g**2
        adam = g / (np.sqrt(self.v / (1 - self.b2**t)) + self.eps)
        direction = adam.copy()
        k = len(self.shape)
        for j, blk in enumerate(self.blocks):
            gb = g[blk]
            for i in range(k):
                gram = gram_along(gb, i)
                if self.decay is None:
                    self.L[j][i] = self.L[j][i] + gram
                else:
                    self.L[j][i] = self.decay * self.L[j][i] + (1 - self.decay) * gram
            if t % self.freq == 0 or t == self.start:
                for i in range(k):
                    vals, vecs = np.linalg.eigh(self.L[j][i])
                    vals = np.maximum(vals, 0) + self.meps
                    self.P[j][i] = (vecs * vals ** (-1 / (2 * k))) @ vecs.T
            if t >= self.start:
                s = gb
                for i in range(k):
                    s = mode_product(s, self.P[j][i], i, transpose=False)
                direction[blk] = s * np.linalg.norm(adam[blk]) / np.linalg.norm(s)
        self.m = self.b1 * self.m + (1 - self.b1) * direction
        return self.m / (1 - self.b1**t)


SHAMPOO_DEFAULTS = {
    "b1": 0.9,
    "b2": 0.999,
    "eps": 1e-8,
    "matrix_epsilon": 1e-6,
    "block_size": 128,
    "precondition_frequency": 10,
    "start_preconditioning_step": 10,
    "stats_decay": None,
}


def _numpy_shampoo(kwargs):
    p = {**SHAMPOO_DEFAULTS, **kwargs}
    out = {}
    for name, seq in gradients().items():
        ref = NumpyShampoo(
            SHAPES[name],
            p["b1"],
            p["b2"],
            p["eps"],
            p["matrix_epsilon"],
            p["block_size"],
            p["precondition_frequency"],
            p["start_preconditioning_step"],
            p["stats_decay"],
        )
        out[name] = np.stack([ref.step(g) for g in seq])
    return out


SHAMPOO_SETTINGS = {
    "defaults": {},
    # Uneven blocks: 3 -> [2, 1], 4 -> [2, 2]; refresh every 3 steps from step 2.
    "blocks2": {"block_size": 2, "precondition_frequency": 3, "start_preconditioning_step": 2},
    "decay": {
        "block_size": 3,
        "precondition_frequency": 4,
        "start_preconditioning_step": 1,
        "stats_decay": 0.9,
        "b1": 0.5,
        "matrix_epsilon": 1e-3,
    },
}


@pytest.mark.parametrize("setting", sorted(SHAMPOO_SETTINGS))
def test_shampoo_matches_numpy_reference_float64(setting):
    kwargs = SHAMPOO_SETTINGS[setting]
    with jax.enable_x64(True):
        ours = run_optjax(lambda: optjax.scale_by_shampoo(**kwargs), jnp.float64)
    expected = _numpy_shampoo(kwargs)
    for name in SHAPES:
        np.testing.assert_allclose(ours[name], expected[name], rtol=1e-7, atol=1e-9, err_msg=name)


def test_shampoo_matches_numpy_reference_float32():
    kwargs = SHAMPOO_SETTINGS["blocks2"]
    ours = run_optjax(lambda: optjax.scale_by_shampoo(**kwargs), jnp.float32)
    expected = _numpy_shampoo(kwargs)
    for name in SHAPES:
        scale = np.abs(expected[name]).max()
        np.testing.assert_allclose(
            ours[name], expected[name], rtol=1e-4, atol=1e-4 * scale, err_msg=name
        )


def test_shampoo_bias_and_scalar_take_the_adam_graft_with_momentum():
    grads = gradients()
    ours = leaf_updates(optjax.scale_by_shampoo(start_preconditioning_step=1), grads)
    graft = optjax.chain(optjax.scale_by_adam(b1=0.0, b2=0.999, eps=1e-8), optjax.ema(0.9))
    expected = leaf_updates(graft, grads)
    for name in ("b", "s"):
        np.testing.assert_allclose(ours[name], expected[name], rtol=1e-5, err_msg=name)


def test_shampoo_before_start_is_the_adam_graft_for_every_leaf():
    grads = {"w": jnp.asarray(gradients()["w"][:8], jnp.float32)}
    params = {"w": grads["w"][0]}

    def run(tx):
        def step(state, g):
            updates, state = tx.update(g, state, params)
            return state, updates

        return jax.lax.scan(step, tx.init(params), grads)[1]["w"]

    ours = run(optjax.scale_by_shampoo(start_preconditioning_step=9))
    graft = run(optjax.chain(optjax.scale_by_adam(b1=0.0), optjax.ema(0.9)))
    np.testing.assert_allclose(ours, graft, rtol=1e-5)


@pytest.mark.parametrize("name", ["scale_by_shampoo"])
def test_trees_without_matrices_need_no_special_setting(name):
    tx = getattr(optjax, name)() if name != "soap" else optjax.soap(0.1)
    params = {"b": jnp.ones(3), "s": jnp.asarray(2.0), "none": None}
    updates, _ = tx.update(params, tx.init(params), params)
    assert jax.tree.structure(updates) == jax.tree.structure(params)


BAD_INPUT = [
    (optjax.scale_by_shampoo, {"block_size": 0}, "block_size"),
    (optjax.scale_by_shampoo, {"block_size": -4}, "block_size"),
    (optjax.scale_by_shampoo, {"block_size": 2.0}, "block_size"),
    (optjax.scale_by_shampoo, {"precondition_frequency": 0}, "precondition_frequency"),
    (optjax.scale_by_shampoo, {"precondition_frequency": -1}, "precondition_frequency"),
    (optjax.scale_by_shampoo, {"start_preconditioning_step": 0}, "start_preconditioning_step"),
    (optjax.scale_by_shampoo, {"matrix_epsilon": -1.0}, "matrix_epsilon"),
    (optjax.scale_by_shampoo, {"stats_decay": 1.0}, "stats_decay"),
    (optjax.scale_by_shampoo, {"b1": 1.0}, "b1"),
    (optjax.shampoo, {"learning_rate": 0.1, "block_size": 0}, "block_size"),
]


@pytest.mark.parametrize(
    "fn, kwargs, argument", BAD_INPUT, ids=[f"{f.__name__}-{k}" for f, k, _ in BAD_INPUT]
)
def test_bad_hyperparameters_raise_naming_the_argument(fn, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        fn(**kwargs)


@pytest.mark.parametrize("make", [lambda lr: optjax.shampoo(lr)], ids=["shampoo"])
def test_reaches_least_squares_solution(make):
    assert_reaches_least_squares_solution(make)


@pytest.mark.parametrize("make", [lambda lr: optjax.shampoo(lr)], ids=["shampoo"])
def test_vmap_over_learning_rate(make):
    lr_sweep_matches_loop(make)


# The contract checks: Optax has no reference for this optimizer.
CONTRACT_CASES = {
    "shampoo/blocks3": lambda: optjax.shampoo(
        0.01, block_size=3, precondition_frequency=2, start_preconditioning_step=1
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
