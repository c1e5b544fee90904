"""Registry entries for ADOPT (``adopt``, ``scale_by_adopt``), against ``optax.contrib``."""

import jax.numpy as jnp

from registry import settings
from registry.contrib.common import contrib_of, decay, descend

ADOPT = [
    *settings(
        "adopt",
        {
            "default": lambda lib: contrib_of(lib).adopt(0.02),
            "nesterov": lambda lib: contrib_of(lib).adopt(0.02, nesterov=True),
            "no_clipping,b2=0.9": lambda lib: contrib_of(lib).adopt(
                0.02, b2=0.9, use_clipping=False
            ),
            "clip_fn,b1=0.5,eps": lambda lib: contrib_of(lib).adopt(
                0.02, b1=0.5, eps=1e-3, clip_value_fn=lambda t: 0.5 + t**0.5
            ),
            "schedule": lambda lib: contrib_of(lib).adopt(decay(lib)),
            "mu_bf16": lambda lib: contrib_of(lib).adopt(0.02, mu_dtype=jnp.bfloat16),
        },
        optimizer=True,
    ),
    *settings(
        "scale_by_adopt",
        {
            "default": lambda lib: descend(lib, contrib_of(lib).scale_by_adopt()),
            "nesterov,b2=0.5": lambda lib: descend(
                lib, contrib_of(lib).scale_by_adopt(b2=0.5, nesterov=True)
            ),
        },
    ),
]

CASES = ADOPT
