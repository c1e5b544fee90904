"""Registry entries for AdEMAMix and its simplified form, against ``optax.contrib``."""

import jax
import jax.numpy as jnp

from registry import settings
from registry.contrib.common import contrib_of, decay, descend

ADEMAMIX = [
    *settings(
        "ademamix",
        {
            "default": lambda lib: contrib_of(lib).ademamix(0.01),
            "b3=0.99,alpha=2": lambda lib: contrib_of(lib).ademamix(0.01, b3=0.99, alpha=2.0),
            "schedules": lambda lib: contrib_of(lib).ademamix(
                decay(lib, 1e-2),
                b3=lambda t: 0.9 + 0.09 * jnp.minimum(t, 50) / 50,
                alpha=lambda t: 8.0 * jnp.minimum(t, 50) / 50,
            ),
            "weight_decay,mask,eps_root": lambda lib: contrib_of(lib).ademamix(
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
            "default": lambda lib: descend(lib, contrib_of(lib).scale_by_ademamix(), 0.01),
            "b1=0.5,b2=0.9,eps=1e-3": lambda lib: descend(
                lib, contrib_of(lib).scale_by_ademamix(b1=0.5, b2=0.9, eps=1e-3), 0.01
            ),
        },
    ),
    *settings(
        "simplified_ademamix",
        {
            "default": lambda lib: contrib_of(lib).simplified_ademamix(0.002),
            "alpha=2,b1=0.9": lambda lib: contrib_of(lib).simplified_ademamix(
                0.005, b1=0.9, alpha=2.0
            ),
            "alpha_schedule,wd": lambda lib: contrib_of(lib).simplified_ademamix(
                0.002, alpha=lambda t: jnp.minimum(t, 20) / 10, weight_decay=0.1, eps_root=1e-8
            ),
        },
        optimizer=True,
    ),
    *settings(
        "scale_by_simplified_ademamix",
        {
            "default": lambda lib: descend(
                lib, contrib_of(lib).scale_by_simplified_ademamix(), 0.002
            ),
            "b2=0.5,eps=1e-3": lambda lib: descend(
                lib, contrib_of(lib).scale_by_simplified_ademamix(b2=0.5, eps=1e-3), 0.002
            ),
        },
    ),
]

CASES = ADEMAMIX
