"""Registry entries for Muon, ADOPT and AdEMAMix (issue 5), against ``optax.contrib``.

``make(lib)`` is called with ``optjax`` and with ``optax``; the optimizers live
in ``optax.contrib``, so ``_lib`` picks the module that holds them. On the
harness tree, Muon orthogonalizes the two 2-d leaves and (by default) sends the
scalar, the 1-d leaves and the 4-d leaf to (N)AdamW, exactly as Optax does; the
``conv_dims`` settings orthogonalize the 4-d leaf too.
"""

import jax
import jax.numpy as jnp

from registry import settings


def _lib(lib):
    """The module holding Muon/ADOPT/AdEMAMix: ``optjax`` itself or ``optax.contrib``."""
    return lib if hasattr(lib, "MuonDimensionNumbers") else lib.contrib


def _descend(lib, tx, step=0.05):
    return lib.chain(tx, lib.scale(-step))


def _decay(lib, init=2e-2):
    return lib.exponential_decay(init, transition_steps=10, decay_rate=0.5)


def _kernel_dims(lib):
    """2-d leaves as (in, out) matrices, the 4-d HWIO leaf as (H*W*I, O); others None."""
    dims = _lib(lib).MuonDimensionNumbers

    def spec(params):
        def one(x):
            if x.ndim == 2:
                return dims()
            if x.ndim == 4:
                return dims(reduction_axis=(0, 1, 2), output_axis=3)
            return None

        return jax.tree.map(one, params)

    return spec


def _matrix_mask(params):
    return jax.tree.map(lambda x: x.ndim >= 2, params)


def _muon(lib, *args, **kwargs):
    return _lib(lib).muon(*args, **kwargs)


def _scale_by_muon(lib, **kwargs):
    """scale_by_muon on the rank >= 2 leaves only (it cannot take vectors or scalars)."""
    dims = _kernel_dims(lib)
    inner = _lib(lib).scale_by_muon(weight_dimension_numbers=dims, **kwargs)
    return lib.masked(_descend(lib, inner), _matrix_mask)


MUON = [
    *settings(
        "muon",
        {
            "default": lambda lib: _muon(lib, 0.02),
            "nesterov=False": lambda lib: _muon(lib, 0.02, nesterov=False),
            "ns_steps=3,coeffs": lambda lib: _muon(
                lib, 0.02, ns_coeffs=(3.0, -3.2, 1.2), ns_steps=3, beta=0.9
            ),
            "dion_preset": lambda lib: _muon(lib, 0.02, ns_coeffs="dion"),
            "adaptive": lambda lib: _muon(lib, 0.02, adaptive=True),
            "weight_decay,adam_args": lambda lib: _muon(
                lib,
                0.02,
                weight_decay=0.1,
                adam_weight_decay=0.05,
                adam_learning_rate=_decay(lib, 1e-2),
                adam_b1=0.8,
                adam_b2=0.99,
                adam_eps_root=1e-8,
            ),
            "schedule,weight_decay_mask": lambda lib: _muon(
                lib,
                _decay(lib),
                weight_decay=0.1,
                weight_decay_mask=lambda p: jax.tree.map(lambda x: x.shape == (3, 4), p),
            ),
            "mu_bf16,consistent_rms": lambda lib: _muon(
                lib, 0.02, mu_dtype=jnp.bfloat16, consistent_rms=0.2
            ),
            "aol": lambda lib: _muon(lib, 0.02, preconditioning="aol"),
            "schatten,ns_steps=4": lambda lib: _muon(
                lib, 0.02, preconditioning="schatten", ns_steps=4
            ),
            "spectral": lambda lib: _muon(lib, 0.02, preconditioning="spectral"),
            "conv_dims,adaptive,no_nesterov": lambda lib: _muon(
                lib,
                0.02,
                adaptive=True,
                nesterov=False,
                muon_weight_dimension_numbers=_kernel_dims(lib),
            ),
        },
        optimizer=True,
    ),
    *settings(
        "scale_by_muon",
        {
            "default": lambda lib: _scale_by_muon(lib),
            "no_nesterov,beta=0.5,adaptive,ns_steps=7": lambda lib: _scale_by_muon(
                lib, nesterov=False, beta=0.5, adaptive=True, ns_steps=7
            ),
            "per_step_coeffs": lambda lib: _scale_by_muon(
                lib, ns_coeffs=((3.4445, -4.7750, 2.0315), (3.0, -3.2, 1.2)), ns_steps=2
            ),
        },
    ),
]

ADOPT = [
    *settings(
        "adopt",
        {
            "default": lambda lib: _lib(lib).adopt(0.02),
            "nesterov": lambda lib: _lib(lib).adopt(0.02, nesterov=True),
            "no_clipping,b2=0.9": lambda lib: _lib(lib).adopt(0.02, b2=0.9, use_clipping=False),
            "clip_fn,b1=0.5,eps": lambda lib: _lib(lib).adopt(
                0.02, b1=0.5, eps=1e-3, clip_value_fn=lambda t: 0.5 + t**0.5
            ),
            "schedule": lambda lib: _lib(lib).adopt(_decay(lib)),
            "mu_bf16": lambda lib: _lib(lib).adopt(0.02, mu_dtype=jnp.bfloat16),
        },
        optimizer=True,
    ),
    *settings(
        "scale_by_adopt",
        {
            "default": lambda lib: _descend(lib, _lib(lib).scale_by_adopt()),
            "nesterov,b2=0.5": lambda lib: _descend(
                lib, _lib(lib).scale_by_adopt(b2=0.5, nesterov=True)
            ),
        },
    ),
]

ADEMAMIX = [
    *settings(
        "ademamix",
        {
            "default": lambda lib: _lib(lib).ademamix(0.01),
            "b3=0.99,alpha=2": lambda lib: _lib(lib).ademamix(0.01, b3=0.99, alpha=2.0),
            "schedules": lambda lib: _lib(lib).ademamix(
                _decay(lib, 1e-2),
                b3=lambda t: 0.9 + 0.09 * jnp.minimum(t, 50) / 50,
                alpha=lambda t: 8.0 * jnp.minimum(t, 50) / 50,
            ),
            "weight_decay,mask,eps_root": lambda lib: _lib(lib).ademamix(
                0.01,
                eps_root=1e-8,
                weight_decay=0.1,
                mask=lambda p: jax.tree.map(lambda x: x.ndim > 1, p),
            ),
        },
        optimizer=True,
    ),
    *settings(
        "scale_by_ademamix",
        {
            "default": lambda lib: _descend(lib, _lib(lib).scale_by_ademamix(), 0.01),
            "b1=0.5,b2=0.9,eps=1e-3": lambda lib: _descend(
                lib, _lib(lib).scale_by_ademamix(b1=0.5, b2=0.9, eps=1e-3), 0.01
            ),
        },
    ),
    *settings(
        "simplified_ademamix",
        {
            "default": lambda lib: _lib(lib).simplified_ademamix(0.002),
            "alpha=2,b1=0.9": lambda lib: _lib(lib).simplified_ademamix(0.005, b1=0.9, alpha=2.0),
            "alpha_schedule,wd": lambda lib: _lib(lib).simplified_ademamix(
                0.002, alpha=lambda t: jnp.minimum(t, 20) / 10, weight_decay=0.1, eps_root=1e-8
            ),
        },
        optimizer=True,
    ),
    *settings(
        "scale_by_simplified_ademamix",
        {
            "default": lambda lib: _descend(lib, _lib(lib).scale_by_simplified_ademamix(), 0.002),
            "b2=0.5,eps=1e-3": lambda lib: _descend(
                lib, _lib(lib).scale_by_simplified_ademamix(b2=0.5, eps=1e-3), 0.002
            ),
        },
    ),
]

CASES = [*MUON, *ADOPT, *ADEMAMIX]
