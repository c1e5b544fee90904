"""Registry entries for the basic transforms, decay, masking and chains."""

import jax
import jax.numpy as jnp

from registry import settings


def _matrices(params):
    return jax.tree.map(lambda x: x.ndim >= 2, params)


def _halve_and_shrink(updates, params):
    return jax.tree.map(lambda u, p: 0.5 * u + 0.01 * p, updates, params)


CASES = [
    *settings(
        "identity",
        {"default": lambda lib: lib.identity()},
    ),
    *settings(
        "set_to_zero",
        {"default": lambda lib: lib.set_to_zero()},
    ),
    *settings(
        "scale",
        {"-0.1": lambda lib: lib.scale(-0.1), "0.37": lambda lib: lib.scale(0.37)},
    ),
    *settings(
        "scale_by_learning_rate",
        {
            "const": lambda lib: lib.scale_by_learning_rate(0.05),
            "no_flip": lambda lib: lib.scale_by_learning_rate(0.05, flip_sign=False),
            "schedule": lambda lib: lib.scale_by_learning_rate(
                lib.exponential_decay(0.1, transition_steps=10, decay_rate=0.5)
            ),
        },
    ),
    *settings(
        "scale_by_schedule",
        {"linear": lambda lib: lib.scale_by_schedule(lib.linear_schedule(-0.1, -0.01, 50))},
    ),
    *settings(
        "trace",
        {
            "0.9": lambda lib: lib.trace(decay=0.9),
            "nesterov": lambda lib: lib.trace(decay=0.5, nesterov=True),
            "bf16_acc": lambda lib: lib.trace(decay=0.9, accumulator_dtype="bfloat16"),
        },
    ),
    *settings(
        "ema",
        {
            "debias": lambda lib: lib.ema(decay=0.9),
            "no_debias": lambda lib: lib.ema(decay=0.7, debias=False),
        },
    ),
    *settings(
        "chain",
        {
            "trace+lr": lambda lib: lib.chain(lib.trace(0.9), lib.scale_by_learning_rate(0.01)),
        },
    ),
    *settings(
        "add_decayed_weights",
        {
            "plain": lambda lib: lib.chain(
                lib.add_decayed_weights(0.05), lib.scale_by_learning_rate(0.05)
            ),
            "masked_tree": lambda lib: lib.chain(
                lib.add_decayed_weights(
                    0.1,
                    mask={
                        "dense": [True, False],
                        "scalar": False,
                        "conv": (True,),
                        "frozen": None,
                        "nested": {"w": False, "pair": True},
                    },
                ),
                lib.scale_by_learning_rate(0.05),
            ),
            "masked_callable": lambda lib: lib.chain(
                lib.add_decayed_weights(0.1, mask=_matrices), lib.scale_by_learning_rate(0.05)
            ),
            "schedule": lambda lib: lib.chain(
                lib.add_decayed_weights(lib.linear_schedule(0.2, 0.0, 80)),
                lib.scale_by_learning_rate(0.05),
            ),
        },
    ),
    *settings(
        "masked",
        {
            "momentum_on_matrices": lambda lib: lib.chain(
                lib.masked(lib.trace(0.9), _matrices), lib.scale_by_learning_rate(0.02)
            ),
        },
    ),
    *settings(
        "named_chain",
        {
            "decay+trace+lr": lambda lib: lib.named_chain(
                ("decay", lib.add_decayed_weights(0.01)),
                ("momentum", lib.trace(0.8, nesterov=True)),
                ("lr", lib.scale_by_learning_rate(0.03)),
            ),
        },
    ),
    *settings(
        "stateless",
        {
            "halve_and_shrink": lambda lib: lib.chain(
                lib.stateless(_halve_and_shrink), lib.scale_by_learning_rate(0.1)
            ),
        },
    ),
    *settings(
        "stateless_with_tree_map",
        {
            "tanh": lambda lib: lib.chain(
                lib.stateless_with_tree_map(lambda u, p: jnp.tanh(u) + 0.01 * p),
                lib.scale_by_learning_rate(0.1),
            ),
        },
    ),
    *settings(
        "with_extra_args_support",
        {
            "wrapped_trace": lambda lib: lib.chain(
                lib.with_extra_args_support(lib.trace(0.5)), lib.scale_by_learning_rate(0.1)
            ),
        },
    ),
]
