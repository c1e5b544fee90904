"""Registry entries for the Adam family and the layer-wise (trust-ratio) optimizers.

Bare transforms are followed by a small negative ``scale`` so that the 100-step
trajectories descend the loss instead of taking unit-size (or ascending) steps,
which would make them chaotic and the comparison meaningless.
"""

import warnings

import jax
import jax.numpy as jnp

from registry import Case, settings


def _quietly(make, *args, **kwargs):
    """Builds an alias that both libraries deprecate, without the DeprecationWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return make(*args, **kwargs)


def _descend(lib, tx, step=0.05):
    return lib.chain(tx, lib.scale(-step))


def _matrices(params):
    """Mask selecting leaves with ndim > 1 (kernels, not biases or scalars)."""
    return jax.tree.map(lambda x: x.ndim > 1, params)


def _decay(lib, init=1e-2):
    return lib.exponential_decay(init, transition_steps=10, decay_rate=0.5)


def _inverse_time(t):
    return 1e-2 / (1.0 + t)


# A prefix mask for the harness's parameter tree (see harness.make_params).
_KERNEL_PREFIX_MASK = {
    "dense": [True, False],
    "scalar": False,
    "conv": True,
    "frozen": None,
    "nested": {"w": False, "pair": True},
}

TRANSFORMS = [
    *settings(
        "scale_by_adam",
        {
            "default": lambda lib: _descend(lib, lib.scale_by_adam()),
            "b1=0": lambda lib: _descend(lib, lib.scale_by_adam(b1=0.0)),
            "nesterov": lambda lib: _descend(lib, lib.scale_by_adam(nesterov=True)),
            "eps_root": lambda lib: _descend(lib, lib.scale_by_adam(eps=0.0, eps_root=1e-8)),
            "mu_bf16": lambda lib: _descend(lib, lib.scale_by_adam(mu_dtype=jnp.bfloat16)),
            "b2=0.9,eps=1e-3": lambda lib: _descend(lib, lib.scale_by_adam(b2=0.9, eps=1e-3)),
        },
    ),
    *settings(
        "scale_by_amsgrad",
        {
            "default": lambda lib: _descend(lib, lib.scale_by_amsgrad()),
            "no_bias_correction": lambda lib: _descend(
                lib, lib.scale_by_amsgrad(bias_correction_mu=False, bias_correction_nu=False)
            ),
            "mu_bf16,b2=0.9": lambda lib: _descend(
                lib, lib.scale_by_amsgrad(b2=0.9, mu_dtype="bfloat16")
            ),
        },
    ),
    *settings(
        "scale_by_adamax",
        {
            "default": lambda lib: _descend(lib, lib.scale_by_adamax()),
            "b1=0.5,b2=0.9,eps=1e-3": lambda lib: _descend(
                lib, lib.scale_by_adamax(b1=0.5, b2=0.9, eps=1e-3)
            ),
        },
    ),
    *settings(
        "scale_by_radam",
        {
            "default": lambda lib: _descend(lib, lib.scale_by_radam()),
            "b2=0.9,threshold=3": lambda lib: _descend(
                lib, lib.scale_by_radam(b2=0.9, threshold=3.0, eps_root=1e-8)
            ),
            "nesterov": lambda lib: _descend(lib, lib.scale_by_radam(nesterov=True)),
        },
    ),
    *settings(
        "scale_by_belief",
        {
            "default": lambda lib: _descend(lib, lib.scale_by_belief()),
            "nesterov": lambda lib: _descend(lib, lib.scale_by_belief(nesterov=True)),
            "paper_eps": lambda lib: _descend(lib, lib.scale_by_belief(eps=1e-8, eps_root=0.0)),
        },
    ),
    *settings(
        "scale_by_yogi",
        {
            "default": lambda lib: _descend(lib, lib.scale_by_yogi()),
            "init=0.1,eps_root": lambda lib: _descend(
                lib, lib.scale_by_yogi(b2=0.9, eps_root=1e-6, initial_accumulator_value=0.1)
            ),
        },
    ),
    *settings(
        "scale_by_adan",
        {
            "default": lambda lib: _descend(lib, lib.scale_by_adan()),
            "eps_root": lambda lib: _descend(lib, lib.scale_by_adan(eps_root=1e-8)),
            "b=0.9,0.5,0.9": lambda lib: _descend(lib, lib.scale_by_adan(b1=0.9, b2=0.5, b3=0.9)),
        },
    ),
    *settings(
        "scale_by_novograd",
        {
            "default": lambda lib: _descend(lib, lib.scale_by_novograd()),
            "weight_decay": lambda lib: _descend(
                lib, lib.scale_by_novograd(b2=0.5, eps_root=1e-8, weight_decay=0.01)
            ),
        },
    ),
    # Optax returns NovoGrad's updates in mu_dtype; optjax returns them in the
    # gradients' dtype (the transform contract), so the reference casts back.
    Case(
        name="scale_by_novograd/mu_bf16",
        make=lambda lib: _descend(lib, lib.scale_by_novograd(mu_dtype=jnp.bfloat16)),
        reference=lambda optax: optax.chain(
            optax.scale_by_novograd(mu_dtype=jnp.bfloat16),
            optax.stateless(lambda u, p: jax.tree.map(lambda x, q: x.astype(q.dtype), u, p)),
            optax.scale(-0.05),
        ),
        first_setting=False,
        note="optjax keeps updates in the gradients' dtype; the reference casts to match.",
    ),
    *settings(
        "scale_by_optimistic_gradient",
        {
            "default": lambda lib: _descend(lib, lib.scale_by_optimistic_gradient()),
            "alpha=0.5,beta=2": lambda lib: _descend(
                lib, lib.scale_by_optimistic_gradient(alpha=0.5, beta=2.0)
            ),
        },
    ),
    *settings(
        "scale_by_trust_ratio",
        {
            "default": lambda lib: _descend(lib, lib.scale_by_trust_ratio(), step=0.01),
            "min_norm,coef,eps": lambda lib: _descend(
                lib,
                lib.scale_by_trust_ratio(min_norm=0.1, trust_coefficient=0.5, eps=1e-3),
                step=0.01,
            ),
        },
    ),
    *settings(
        "scale_by_param_block_norm",
        {
            "default": lambda lib: _descend(lib, lib.scale_by_param_block_norm(), step=0.01),
            "min_scale=1": lambda lib: _descend(
                lib, lib.scale_by_param_block_norm(min_scale=1.0), step=0.01
            ),
        },
    ),
    *settings(
        "scale_by_param_block_rms",
        {
            "default": lambda lib: _descend(lib, lib.scale_by_param_block_rms(), step=0.01),
            "min_scale=1": lambda lib: _descend(
                lib, lib.scale_by_param_block_rms(min_scale=1.0), step=0.01
            ),
        },
    ),
]

ALIASES = [
    *settings(
        "adam",
        {
            "lr=1e-2": lambda lib: lib.adam(1e-2),
            "b1=0": lambda lib: lib.adam(1e-2, b1=0.0),
            "nesterov": lambda lib: lib.adam(3e-2, nesterov=True),
            "eps_root": lambda lib: lib.adam(1e-2, eps_root=1e-8),
            "mu_bf16": lambda lib: lib.adam(1e-2, mu_dtype=jnp.bfloat16),
            "schedule": lambda lib: lib.adam(_decay(lib, 5e-2)),
            "lambda_schedule": lambda lib: lib.adam(_inverse_time, b2=0.99),
        },
        optimizer=True,
    ),
    # nu_dtype has no Optax counterpart: float32 storage for float32 params is
    # exactly Optax's default.
    Case(
        name="adam/nu_dtype=float32",
        make=lambda lib: lib.adam(1e-2, nu_dtype=jnp.float32),
        reference=lambda optax: optax.adam(1e-2),
        optimizer=True,
        first_setting=False,
    ),
    *settings(
        "nadam",
        {
            "lr=1e-2": lambda lib: lib.nadam(1e-2),
            "b1=0.5,eps_root": lambda lib: lib.nadam(2e-2, b1=0.5, eps_root=1e-8),
        },
        optimizer=True,
    ),
    *settings(
        "adamw",
        {
            "lr=1e-2": lambda lib: lib.adamw(1e-2),
            "wd=0.1,mask_fn": lambda lib: lib.adamw(1e-2, weight_decay=0.1, mask=_matrices),
            "mask_tree": lambda lib: lib.adamw(1e-2, weight_decay=0.1, mask=_KERNEL_PREFIX_MASK),
            "wd_schedule": lambda lib: lib.adamw(
                1e-2, weight_decay=_decay(lib, 0.5), mu_dtype=jnp.bfloat16
            ),
            "nesterov,lr_schedule": lambda lib: lib.adamw(
                _decay(lib, 5e-2), weight_decay=0.05, nesterov=True
            ),
        },
        optimizer=True,
    ),
    *settings(
        "nadamw",
        {
            "lr=1e-2": lambda lib: lib.nadamw(1e-2),
            "wd=0.1,mask_fn": lambda lib: lib.nadamw(2e-2, weight_decay=0.1, mask=_matrices),
        },
        optimizer=True,
    ),
    *settings(
        "amsgrad",
        {
            "lr=1e-2": lambda lib: lib.amsgrad(1e-2),
            "no_bias_correction": lambda lib: lib.amsgrad(
                1e-2, bias_correction_mu=False, bias_correction_nu=False
            ),
            "mu_bf16,eps_root": lambda lib: lib.amsgrad(1e-2, eps_root=1e-8, mu_dtype=jnp.bfloat16),
        },
        optimizer=True,
    ),
    *settings(
        "adamax",
        {
            "lr=1e-2": lambda lib: lib.adamax(1e-2),
            "b1=0,b2=0.9": lambda lib: lib.adamax(2e-2, b1=0.0, b2=0.9),
            "schedule": lambda lib: lib.adamax(_decay(lib, 5e-2)),
        },
        optimizer=True,
    ),
    *settings(
        "adamaxw",
        {
            "lr=1e-2": lambda lib: lib.adamaxw(1e-2),
            "wd=0.1,mask_fn": lambda lib: lib.adamaxw(1e-2, weight_decay=0.1, mask=_matrices),
        },
        optimizer=True,
    ),
    *settings(
        "radam",
        {
            "lr=1e-2": lambda lib: lib.radam(1e-2),
            "b2=0.9,threshold=3": lambda lib: lib.radam(2e-2, b2=0.9, threshold=3.0),
            "nesterov,eps_root": lambda lib: lib.radam(1e-2, eps_root=1e-8, nesterov=True),
        },
        optimizer=True,
    ),
    *settings(
        "adabelief",
        {
            "lr=1e-2": lambda lib: lib.adabelief(1e-2),
            "nesterov": lambda lib: lib.adabelief(1e-2, nesterov=True),
            "paper_eps": lambda lib: lib.adabelief(1e-2, eps=1e-8, eps_root=0.0),
        },
        optimizer=True,
    ),
    *settings(
        "yogi",
        {
            "lr=1e-2": lambda lib: lib.yogi(1e-2),
            "b2=0.9,eps=1e-6": lambda lib: lib.yogi(3e-2, b2=0.9, eps=1e-6),
        },
        optimizer=True,
    ),
    *settings(
        "adan",
        {
            "lr=1e-2": lambda lib: lib.adan(1e-2),
            "wd=0.1,mask_fn": lambda lib: lib.adan(1e-2, weight_decay=0.1, mask=_matrices),
            "betas,eps_root=0": lambda lib: lib.adan(2e-2, b1=0.9, b2=0.8, b3=0.95, eps_root=0.0),
        },
        optimizer=True,
    ),
    *settings(
        "novograd",
        {
            "lr=1e-2": lambda lib: lib.novograd(1e-2),
            "wd=0.01,b2=0.5": lambda lib: lib.novograd(2e-2, b2=0.5, weight_decay=0.01),
            "schedule": lambda lib: lib.novograd(_decay(lib, 5e-2)),
        },
        optimizer=True,
    ),
    *settings(
        "lamb",
        {
            "lr=1e-2": lambda lib: lib.lamb(1e-2),
            "wd=0.1,mask_fn": lambda lib: lib.lamb(1e-2, weight_decay=0.1, mask=_matrices),
            "eps_root,schedule": lambda lib: lib.lamb(_decay(lib, 5e-2), eps_root=1e-8),
        },
        optimizer=True,
    ),
    *settings(
        "lars",
        {
            "lr=1": lambda lib: lib.lars(1.0),
            "nesterov,wd": lambda lib: lib.lars(
                0.5, weight_decay=0.01, trust_coefficient=0.01, nesterov=True
            ),
            "masks": lambda lib: lib.lars(
                0.5,
                weight_decay=0.05,
                weight_decay_mask=_matrices,
                trust_coefficient=0.01,
                eps=1e-6,
                trust_ratio_mask=_KERNEL_PREFIX_MASK,
                momentum=0.5,
            ),
            "schedule": lambda lib: lib.lars(_decay(lib, 1.0), weight_decay=1e-3),
        },
        optimizer=True,
    ),
    *settings(
        "fromage",
        {
            "lr=1e-2": lambda lib: lib.fromage(1e-2),
            "min_norm": lambda lib: lib.fromage(5e-2, min_norm=1e-3),
            "schedule": lambda lib: lib.fromage(_decay(lib, 5e-2)),
        },
        optimizer=True,
    ),
    *settings(
        "optimistic_gradient_descent",
        {
            "lr=1e-2": lambda lib: lib.optimistic_gradient_descent(1e-2),
            "alpha=0.5,beta=2": lambda lib: lib.optimistic_gradient_descent(
                2e-2, alpha=0.5, beta=2.0
            ),
        },
        optimizer=True,
    ),
    *settings(
        "optimistic_adam_v2",
        {
            "lr=1e-2": lambda lib: lib.optimistic_adam_v2(1e-2),
            "plain_adam,alpha=0.5": lambda lib: lib.optimistic_adam_v2(
                2e-2, alpha=0.5, beta=0.5, nesterov=False, mu_dtype=jnp.bfloat16
            ),
        },
        optimizer=True,
    ),
    *settings(
        "optimistic_adam",
        {
            "lr=1e-2": lambda lib: _quietly(lib.optimistic_adam, 1e-2),
            "optimism=5e-3,plain": lambda lib: _quietly(
                lib.optimistic_adam, 2e-2, 5e-3, b1=0.8, nesterov=False
            ),
        },
        optimizer=True,
    ),
]

CASES = [*TRANSFORMS, *ALIASES]
