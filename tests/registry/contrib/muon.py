"""Registry entries for Muon (``muon``, ``scale_by_muon``), against ``optax.contrib``.

On the harness tree, Muon orthogonalizes the two 2-d leaves and (by default)
sends the scalar, the 1-d leaves and the 4-d leaf to (N)AdamW, exactly as Optax
does; the ``conv_dims`` settings orthogonalize the 4-d leaf too.
"""

import jax
import jax.numpy as jnp

from registry import settings
from registry.contrib.common import contrib_of, decay, descend


def _kernel_dims(lib):
    """2-d leaves as (in, out) matrices, the 4-d HWIO leaf as (H*W*I, O); others None."""
    dims = contrib_of(lib).MuonDimensionNumbers

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
    return contrib_of(lib).muon(*args, **kwargs)


def _scale_by_muon(lib, **kwargs):
    """scale_by_muon on the rank >= 2 leaves only (it cannot take vectors or scalars)."""
    dims = _kernel_dims(lib)
    inner = contrib_of(lib).scale_by_muon(weight_dimension_numbers=dims, **kwargs)
    return lib.masked(descend(lib, inner), _matrix_mask)


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
                adam_learning_rate=decay(lib, 1e-2),
                adam_b1=0.8,
                adam_b2=0.99,
                adam_eps_root=1e-8,
            ),
            "schedule,weight_decay_mask": lambda lib: _muon(
                lib,
                decay(lib),
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

CASES = MUON
