"""Registry entries for the conditional wrappers and the monitoring transforms."""

import dataclasses

import jax
import jax.numpy as jnp

from registry import settings


def _every_third(step):
    return step % 3 != 0


def _after_five(step, **extra_args):
    del extra_args
    return step >= 5


def _monitored(lib, measures):
    return lib.chain(
        lib.sgd(1e-2, momentum=0.9), lib.monitor(measures), lib.clip_by_global_norm(1.0)
    )


def _norm_measures(lib):
    return {
        "norm": lib.tree.norm,
        "norm_ema": lib.measure_with_ema(lib.tree.norm, 0.9),
        "clipped_ema": lib.measure_with_ema(lambda u: lib.tree.norm(u) > 1.0, 0.5, debias=False),
    }


def _scan_safe(optax, tx):
    """Optax's ``_monitored`` chain with an ``init`` shaped like its later states.

    Optax's monitor ``init`` stores ``{}`` as the measurements (and a boolean
    measure's average as a boolean), so its state cannot be carried by
    ``lax.scan``; this reference starts the monitor (entry 1 of the chain) from
    zeros with the structure and dtypes of the state after one update. The
    updates and every later state are Optax's own.
    """

    def init(params):
        state = tx.init(params)
        after = jax.eval_shape(lambda p: tx.update(p, state, p)[1][1], params)
        monitor_state = state[1]._replace(
            measurements=jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), after.measurements),
            measure_states=jax.tree.map(
                lambda s, x: jnp.asarray(x).astype(s.dtype),
                after.measure_states,
                state[1].measure_states,
            ),
        )
        return (state[0], monitor_state, *state[2:])

    return optax.GradientTransformationExtraArgs(init, tx.update)


CASES = [
    *settings(
        "conditionally_transform",
        {
            "adam/every_third": lambda lib: lib.conditionally_transform(
                lib.adam(1e-2), _every_third
            ),
            "sgd_momentum/after_five": lambda lib: lib.chain(
                lib.conditionally_transform(lib.trace(0.9), _after_five),
                lib.scale(-1e-2),
            ),
        },
    ),
    *settings(
        "conditionally_mask",
        {
            "adam/every_third": lambda lib: lib.conditionally_mask(lib.adam(1e-2), _every_third),
            "sgd/after_five": lambda lib: lib.conditionally_mask(
                lib.sgd(1e-2, momentum=0.9, nesterov=True), _after_five
            ),
        },
    ),
    *settings(
        "snapshot",
        {
            "sgd/norm": lambda lib: lib.chain(
                lib.sgd(1e-2, momentum=0.9),
                lib.snapshot("norm_before_clip", lib.tree.norm),
                lib.clip_by_global_norm(0.5),
            ),
            "adam/leaves": lambda lib: lib.chain(
                lib.snapshot("first", lambda u: jax.tree.leaves(u)[0]), lib.adam(1e-2)
            ),
        },
    ),
    *[
        dataclasses.replace(
            case, reference=lambda optax, make=case.make: _scan_safe(optax, make(optax))
        )
        for case in settings(
            "monitor",
            {
                "sgd/norms_and_emas": lambda lib: _monitored(lib, _norm_measures(lib)),
                "sgd/one_function": lambda lib: _monitored(
                    lib, {"second_leaf": lambda u: jax.tree.leaves(u)[1]}
                ),
            },
        )
    ],
]
