"""Registry entries for Schedule-Free, Prodigy, D-Adaptation AdamW and Sophia.

Optax has all of them in ``optax.contrib``; ``_c(lib)`` picks the module that
holds them (``optax.contrib`` for the reference, ``optjax`` itself for ours).

Sophia's default Hessian estimator needs ``obj_fn`` as an extra argument, which
the harness does not pass. Here the estimator gets the harness loss bound in
(the same objective the trajectory descends), so the full Sophia-H trajectory,
Hessian refreshes and PRNG key included, is compared against Optax's. Passing
``obj_fn`` through ``update`` is tested in
``tests/test_schedule_free_prodigy_dadapt_sophia.py``.
"""

import jax
import jax.numpy as jnp
from harness import loss

from registry import settings


def _c(lib):
    """``optax.contrib`` for Optax, the library itself for optjax."""
    return lib.contrib if lib.__name__ == "optax" else lib


def _warmup(lib, peak=0.05):
    return lib.warmup_constant_schedule(0.0, peak, warmup_steps=10)


def _bound_hutchinson(lib, key=None):
    """Hutchinson's estimator with the harness loss passed as ``obj_fn``."""
    inner = _c(lib).hutchinson_estimator_diag_hessian(key)

    def update(updates, state, params=None, **extra_args):
        return inner.update(updates, state, params, obj_fn=loss)

    return lib.GradientTransformationExtraArgs(inner.init, update)


def _kernels(params):
    return jax.tree.map(lambda x: x.ndim > 1, params)


SCHEDULE_FREE = [
    *settings(
        "schedule_free_sgd",
        {
            "lr=0.1": lambda lib: _c(lib).schedule_free_sgd(0.1),
            "warmup,weight_decay": lambda lib: _c(lib).schedule_free_sgd(
                0.2, warmup_steps=10, weight_decay=1e-2
            ),
            "b1=0.5,power=1": lambda lib: _c(lib).schedule_free_sgd(
                0.1, b1=0.5, weight_lr_power=1.0
            ),
            "b1=0.98,state_f32": lambda lib: _c(lib).schedule_free_sgd(
                0.1, b1=0.98, state_dtype=jnp.float32
            ),
        },
        optimizer=True,
    ),
    *settings(
        "schedule_free_adamw",
        {
            "default": lambda lib: _c(lib).schedule_free_adamw(),
            "warmup,weight_decay": lambda lib: _c(lib).schedule_free_adamw(
                0.02, warmup_steps=5, weight_decay=1e-2
            ),
            "b1=0.95,b2=0.99,eps=1e-3": lambda lib: _c(lib).schedule_free_adamw(
                0.01, b1=0.95, b2=0.99, eps=1e-3
            ),
        },
        optimizer=True,
    ),
    *settings(
        "schedule_free",
        {
            "adam_b1=0": lambda lib: _c(lib).schedule_free(lib.adam(0.01, b1=0.0), 0.01),
            "sgd_warmup_schedule": lambda lib: _c(lib).schedule_free(
                lib.sgd(_warmup(lib)), _warmup(lib), b1=0.8
            ),
            "rmsprop,power=0": lambda lib: _c(lib).schedule_free(
                lib.rmsprop(0.005), 0.005, weight_lr_power=0.0
            ),
            "lion_b1=0,masked_decay": lambda lib: _c(lib).schedule_free(
                lib.chain(
                    lib.add_decayed_weights(1e-2, mask=_kernels),
                    lib.lion(1e-3, b1=0.0),
                ),
                1e-3,
                b1=0.95,
            ),
        },
    ),
]

ADAPTIVE = [
    *settings(
        "prodigy",
        {
            "default": lambda lib: _c(lib).prodigy(),
            "lr=0.5,betas,weight_decay": lambda lib: _c(lib).prodigy(
                0.5, betas=(0.8, 0.99), weight_decay=1e-2
            ),
            "safeguard_warmup,beta3,coef": lambda lib: _c(lib).prodigy(
                _warmup(lib, 1.0), beta3=0.9, estim_lr_coef=0.5, safeguard_warmup=True
            ),
            "eps=1e-4,d0=1e-3": lambda lib: _c(lib).prodigy(eps=1e-4, estim_lr0=1e-3),
        },
        optimizer=True,
    ),
    *settings(
        "dadapt_adamw",
        {
            "default": lambda lib: _c(lib).dadapt_adamw(),
            "lr=0.5,betas,weight_decay": lambda lib: _c(lib).dadapt_adamw(
                0.5, betas=(0.8, 0.99), weight_decay=1e-2
            ),
            "schedule,eps,d0": lambda lib: _c(lib).dadapt_adamw(
                lambda t: 1.0 / (1.0 + 0.05 * t), eps=1e-4, estim_lr0=1e-3
            ),
        },
        optimizer=True,
    ),
    *settings(
        "sophia",
        {
            "hutchinson": lambda lib: _c(lib).sophia(
                0.05, hessian_diagonal_fn=_bound_hutchinson(lib)
            ),
            "interval=3,b2=0.9,key": lambda lib: _c(lib).sophia(
                0.05,
                b2=0.9,
                update_interval=3,
                hessian_diagonal_fn=_bound_hutchinson(lib, jax.random.key(7)),
            ),
            "clip=0.2,gamma=1,mask": lambda lib: _c(lib).sophia(
                0.1,
                gamma=1.0,
                clip_threshold=0.2,
                weight_decay=1e-2,
                weight_decay_mask=_kernels,
                update_interval=1,
                hessian_diagonal_fn=_bound_hutchinson(lib, jax.random.PRNGKey(3)),
            ),
            "no_clip,eps=1,mu_bf16": lambda lib: _c(lib).sophia(
                0.05,
                eps=1.0,
                clip_threshold=None,
                mu_dtype=jnp.bfloat16,
                hessian_diagonal_fn=_bound_hutchinson(lib),
            ),
        },
        optimizer=True,
    ),
]

CASES = [*SCHEDULE_FREE, *ADAPTIVE]
