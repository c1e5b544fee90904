"""Registry entries for D-Adaptation AdamW, against ``optax.contrib.dadapt_adamw``."""

from registry import settings
from registry.contrib.common import contrib_of

CASES = [
    *settings(
        "dadapt_adamw",
        {
            "default": lambda lib: contrib_of(lib).dadapt_adamw(),
            "lr=0.5,betas,weight_decay": lambda lib: contrib_of(lib).dadapt_adamw(
                0.5, betas=(0.8, 0.99), weight_decay=1e-2
            ),
            "schedule,eps,d0": lambda lib: contrib_of(lib).dadapt_adamw(
                lambda t: 1.0 / (1.0 + 0.05 * t), eps=1e-4, estim_lr0=1e-3
            ),
        },
        optimizer=True,
    ),
]
