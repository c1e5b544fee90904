"""Registry entries for the helper transforms: clipping, noise, regularization,
accumulation, normalization and constraints.

Raw transforms that return (a function of) the gradient would ascend the loss
when added to the parameters, so most entries chain a learning rate after them.
"""

import jax
import jax.numpy as jnp

from registry import Case, settings

LR = 1e-2


def _lr(lib, tx, lr=LR):
    return lib.chain(tx, lib.scale_by_learning_rate(lr))


def _non_scalar(params):
    # Optax's adaptive_grad_clip raises on a 0-d leaf when `axis` is given.
    return jax.tree.map(lambda x: x.ndim > 0, params)


def _kernels(params):
    return jax.tree.map(lambda x: x.ndim > 1, params)


def _l1_reference(optax, l1):
    """Keras's L1 penalty gradient, written directly with Optax's primitives."""
    return optax.stateless_with_tree_map(lambda g, p: g + l1 * jnp.sign(p))


def _inject_nans(lib):
    # Turns the positive entries of the gradient into NaNs, so that zero_nans
    # has work to do and its found_nan flags change along the trajectory.
    return lib.stateless_with_tree_map(lambda g, p: jnp.where(g > 0.5, jnp.nan, g))


CASES = [
    *settings(
        "clip",
        {
            "0.05": lambda lib: lib.clip(0.05),
            "0.5+lr": lambda lib: _lr(lib, lib.clip(0.5), 0.1),
        },
    ),
    *settings(
        "clip_by_global_norm",
        {
            "clips": lambda lib: _lr(lib, lib.clip_by_global_norm(2.0), 0.1),
            "no_clip": lambda lib: _lr(lib, lib.clip_by_global_norm(100.0)),
            "array": lambda lib: _lr(lib, lib.clip_by_global_norm(jnp.float32(1.0)), 0.1),
        },
    ),
    *settings(
        "clip_by_block_rms",
        {
            "0.5+lr": lambda lib: _lr(lib, lib.clip_by_block_rms(0.5), 0.1),
            "raw_0.01": lambda lib: lib.clip_by_block_rms(0.01),
        },
    ),
    *settings(
        "adaptive_grad_clip",
        {
            "default_axis": lambda lib: _lr(lib, lib.adaptive_grad_clip(0.1), 0.1),
            "axis=0": lambda lib: _lr(
                lib, lib.masked(lib.adaptive_grad_clip(0.05, eps=0.1, axis=0), _non_scalar), 0.1
            ),
            "axis=-1": lambda lib: _lr(
                lib, lib.masked(lib.adaptive_grad_clip(0.2, axis=-1), _non_scalar), 0.1
            ),
        },
    ),
    *settings(
        "centralize",
        {
            "lr": lambda lib: _lr(lib, lib.centralize()),
            "trace+lr": lambda lib: lib.chain(
                lib.centralize(), lib.trace(0.9), lib.scale_by_learning_rate(LR)
            ),
        },
    ),
    *settings(
        "add_noise",
        {
            "typed_key": lambda lib: _lr(lib, lib.add_noise(0.01, 0.55, key=jax.random.key(0))),
            "int_key": lambda lib: _lr(lib, lib.add_noise(0.1, 0.3, 7)),
        },
    ),
    *settings(
        "noisy_sgd",
        {
            "default": lambda lib: lib.noisy_sgd(LR, key=jax.random.key(0)),
            "eta_gamma": lambda lib: lib.noisy_sgd(0.05, eta=0.1, gamma=0.3, key=jax.random.key(3)),
            "schedule": lambda lib: lib.noisy_sgd(lambda t: 0.05 / (1.0 + t), key=1),
        },
        optimizer=True,
    ),
    *settings(
        "apply_every",
        {
            "3": lambda lib: _lr(lib, lib.apply_every(3), 0.05),
            "after_lr_2": lambda lib: lib.chain(
                lib.scale_by_learning_rate(0.05), lib.apply_every(k=2)
            ),
            "1": lambda lib: _lr(lib, lib.apply_every(1)),
        },
    ),
    *settings(
        "keep_params_nonnegative",
        {
            "sgd": lambda lib: lib.chain(
                lib.scale_by_learning_rate(0.1), lib.keep_params_nonnegative()
            ),
            "momentum": lambda lib: lib.chain(
                lib.trace(0.9), lib.scale_by_learning_rate(0.05), lib.keep_params_nonnegative()
            ),
        },
    ),
    *settings(
        "zero_nans",
        {
            "lr": lambda lib: _lr(lib, lib.zero_nans()),
            "with_nans": lambda lib: _lr(lib, lib.chain(_inject_nans(lib), lib.zero_nans()), 0.1),
        },
    ),
    *settings(
        "normalize_by_update_norm",
        {
            "descend": lambda lib: lib.normalize_by_update_norm(scale_factor=-0.1),
            "default+lr": lambda lib: _lr(lib, lib.normalize_by_update_norm(), 0.1),
            "eps": lambda lib: lib.normalize_by_update_norm(scale_factor=-0.05, eps=1.0),
        },
    ),
    # Keras-style penalties: optjax-only, so the references are written with
    # Optax's primitives (the L2 one is add_decayed_weights(2 * l2) placed
    # before the optimizer).
    Case(
        name="add_l2_penalty/0.01",
        make=lambda lib: _lr(lib, lib.add_l2_penalty(0.01), 0.1),
        reference=lambda optax: _lr(optax, optax.add_decayed_weights(2 * 0.01), 0.1),
    ),
    Case(
        name="add_l2_penalty/mask",
        make=lambda lib: _lr(lib, lib.add_l2_penalty(0.05, mask=_kernels), 0.1),
        reference=lambda optax: _lr(optax, optax.add_decayed_weights(2 * 0.05, mask=_kernels), 0.1),
        first_setting=False,
    ),
    Case(
        name="add_l1_penalty/0.01",
        make=lambda lib: _lr(lib, lib.add_l1_penalty(0.01), 0.1),
        reference=lambda optax: _lr(optax, _l1_reference(optax, 0.01), 0.1),
    ),
    Case(
        name="add_l1_penalty/mask",
        make=lambda lib: _lr(lib, lib.add_l1_penalty(0.1, mask=_kernels), 0.1),
        reference=lambda optax: _lr(optax, optax.masked(_l1_reference(optax, 0.1), _kernels), 0.1),
        first_setting=False,
    ),
]
