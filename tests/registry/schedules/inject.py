"""Registry entries for inject_hyperparams and the parameter-averaging transforms.

Lookahead needs ``LookaheadParams`` rather than the harness's dict params, so
its parity tests live in ``tests/test_hyperparams.py``.
"""

import functools
import warnings

import jax
import jax.numpy as jnp

from registry import Case

INJECT_NOTE = (
    "optjax keeps float hyperparameters in float32 unless the parameters are wider "
    "(Optax: the parameters' dtype, so b2=0.999 is 1.0 in bfloat16 and Adam gives NaN, "
    "#1414/#1532) and casts the inner state back to its dtypes after each step. The "
    "reference is Optax's inject_hyperparams with that hyperparam_dtype and that cast."
)


def _hyperparam_dtype(tree):
    widest = jnp.dtype(jnp.float32)
    for leaf in jax.tree.leaves(tree):
        real = jnp.dtype(jnp.finfo(leaf.dtype).dtype)
        widest = real if real.itemsize > widest.itemsize else widest
    return widest


def _optax_with_float32_floor(optax, build):
    """Optax's inject_hyperparams with optjax's dtype policy (see INJECT_NOTE).

    ``build(hyperparam_dtype)`` builds the Optax transform with that dtype.
    """

    def tx_for(tree):
        return build(_hyperparam_dtype(tree))

    def init(params):
        return tx_for(params).init(params)

    def update(updates, state, params=None, **extra_args):
        new_updates, new_state = tx_for(params).update(updates, state, params, **extra_args)
        new_state = _cast_inner_state(new_state, state)
        new_updates = jax.tree.map(lambda u, g: u.astype(g.dtype), new_updates, updates)
        return new_updates, new_state

    return optax.GradientTransformationExtraArgs(init, update)


def _cast_inner_state(new_state, old_state):
    """Casts every injected inner state back to its previous dtypes."""
    if hasattr(new_state, "inner_state") and hasattr(new_state, "hyperparams"):
        inner = jax.tree.map(
            lambda n, o: n.astype(o.dtype), new_state.inner_state, old_state.inner_state
        )
        return new_state._replace(inner_state=inner)
    if isinstance(new_state, tuple) and not hasattr(new_state, "_fields"):
        return tuple(_cast_inner_state(n, o) for n, o in zip(new_state, old_state))
    return new_state


def _inject_cases(name, variants):
    """``build(lib, dtype)``: optjax gets ``dtype=None``, Optax the policy's dtype."""
    return [
        Case(
            name=f"{name}/{label}",
            make=lambda lib, build=build: build(lib, None),
            reference=lambda optax, build=build: _optax_with_float32_floor(
                optax, lambda dtype: build(optax, dtype)
            ),
            note=INJECT_NOTE,
            first_setting=index == 0,
        )
        for index, (label, build) in enumerate(variants.items())
    ]


def _averaging_cases(name, variants):
    """``(inner, average)``: the reference is ``inner`` alone (updates pass through)."""
    return [
        Case(
            name=f"{name}/{label}",
            make=lambda lib, inner=inner, average=average: lib.chain(inner(lib), average(lib)),
            reference=lambda optax, inner=inner: inner(optax),
            compare_state=False,
            note="optjax-only; the reference omits the averaging transform, so the "
            "states differ by design (the averages are checked in test_hyperparams.py).",
            first_setting=index == 0,
        )
        for index, (label, (inner, average)) in enumerate(variants.items())
    ]


def _matrices(params):
    return jax.tree.map(lambda x: x.ndim >= 2, params)


def _quietly_stateful(lib):
    """``lib.inject_stateful_hyperparams`` without its DeprecationWarning."""

    def inject(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return lib.inject_stateful_hyperparams(*args, **kwargs)

    return inject


def _inject(lib, dtype):
    return functools.partial(lib.inject_hyperparams, hyperparam_dtype=dtype)


# Schedules here stay inside their transition for the 100 steps: at the end
# point optjax clamps where Optax may overshoot (see polynomial_schedule).
CASES = [
    *_inject_cases(
        "inject_hyperparams",
        {
            "adam": lambda lib, dtype: _inject(lib, dtype)(lib.adam)(learning_rate=1e-2),
            "adam_schedule_lr": lambda lib, dtype: _inject(lib, dtype)(lib.adam)(
                learning_rate=lib.exponential_decay(5e-2, transition_steps=10, decay_rate=0.7),
                b1=0.8,
            ),
            "sgd_momentum": lambda lib, dtype: _inject(lib, dtype)(lib.sgd)(
                learning_rate=0.05, momentum=0.9, nesterov=True
            ),
            "adamw_weight_decay": lambda lib, dtype: _inject(lib, dtype)(lib.adamw)(
                learning_rate=1e-2, weight_decay=0.1
            ),
            "scale_by_adam_b1_schedule": lambda lib, dtype: lib.chain(
                _inject(lib, dtype)(lib.scale_by_adam)(
                    b1=lib.linear_schedule(0.5, 0.9, 150), b2=0.99
                ),
                lib.scale_by_learning_rate(1e-2),
            ),
            "static_mask": lambda lib, dtype: lib.chain(
                lib.inject_hyperparams(
                    lib.add_decayed_weights, static_args="mask", hyperparam_dtype=dtype
                )(0.1, mask=_matrices),
                lib.scale_by_learning_rate(0.05),
            ),
            # An explicit dtype is used as given, by both libraries.
            "float32_dtype": lambda lib, dtype: lib.inject_hyperparams(
                lib.rmsprop, hyperparam_dtype=jnp.float32
            )(learning_rate=1e-2, momentum=0.5),
        },
    ),
    *_inject_cases(
        "inject_stateful_hyperparams",
        {
            "sgd": lambda lib, dtype: _quietly_stateful(lib)(lib.sgd, hyperparam_dtype=dtype)(
                learning_rate=lib.linear_schedule(0.1, 0.01, 150), momentum=0.5
            ),
        },
    ),
    # The averaging transforms have no Optax counterpart: the reference is the
    # same optimizer without them, which checks that updates pass through unchanged.
    *_averaging_cases(
        "ema_params",
        {
            "debias": (lambda lib: lib.sgd(0.05, momentum=0.9), lambda lib: lib.ema_params(0.9)),
            "no_debias_f32": (
                lambda lib: lib.adam(1e-2),
                lambda lib: lib.ema_params(0.99, debias=False, accumulator_dtype=jnp.float32),
            ),
        },
    ),
    *_averaging_cases(
        "swa_params",
        {
            "start_10": (lambda lib: lib.sgd(0.05), lambda lib: lib.swa_params(start_step=10)),
            "period_3_f32": (
                lambda lib: lib.adam(1e-2),
                lambda lib: lib.swa_params(0, period=3, accumulator_dtype=jnp.float32),
            ),
        },
    ),
]
