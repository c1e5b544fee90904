"""Registry entries for Prodigy, against ``optax.contrib.prodigy``."""

from registry import settings
from registry.contrib.common import contrib_of, warmup

CASES = [
    *settings(
        "prodigy",
        {
            "default": lambda lib: contrib_of(lib).prodigy(),
            "lr=0.5,betas,weight_decay": lambda lib: contrib_of(lib).prodigy(
                0.5, betas=(0.8, 0.99), weight_decay=1e-2
            ),
            "safeguard_warmup,beta3,coef": lambda lib: contrib_of(lib).prodigy(
                warmup(lib, 1.0), beta3=0.9, estim_lr_coef=0.5, safeguard_warmup=True
            ),
            "eps=1e-4,d0=1e-3": lambda lib: contrib_of(lib).prodigy(eps=1e-4, estim_lr0=1e-3),
        },
        optimizer=True,
    ),
]
