"""Registry entries for the classic optimizers: SGD, RMSProp, Adagrad, Adadelta,
Adafactor, SM3, signSGD, Lion, Rprop, Polyak and DoG, and their transforms."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from registry import Case, settings


def _paired(name, variants, **options):
    """Like ``settings``, with a reference per variant: ``{label: (make, reference)}``."""
    return [
        Case(
            name=f"{name}/{label}",
            make=make,
            reference=reference,
            first_setting=index == 0,
            **options,
        )
        for index, (label, (make, reference)) in enumerate(variants.items())
    ]


def _descend(lib, tx, lr=0.05):
    """``tx`` followed by a fixed negative step, so a bare scaling descends."""
    return lib.chain(tx, lib.scale(-lr))


class _RpropReferenceState(NamedTuple):
    step_sizes: Any
    prev_updates: Any


def _rprop_reference(
    optax, learning_rate, eta_minus=0.5, eta_plus=1.2, min_step_size=1e-6, max_step_size=50.0
):
    """Rprop from torch.optim.Rprop's algorithm box (iRprop-), written out here.

    Optax 0.2.8 emits the previous call's step (PR google-deepmind/optax#1725);
    optjax emits the current one, so this reference replaces Optax's. It
    returns the un-negated step, like ``scale_by_rprop``.
    """

    def init(params):
        return _RpropReferenceState(
            step_sizes=jax.tree.map(lambda p: jnp.full_like(p, learning_rate), params),
            prev_updates=jax.tree.map(jnp.zeros_like, params),
        )

    def update(grads, state, params=None):
        def leaf(g, step, prev):
            product = g * prev
            grown = jnp.minimum(step * eta_plus, max_step_size)
            shrunk = jnp.maximum(step * eta_minus, min_step_size)
            step = jnp.where(product > 0, grown, jnp.where(product < 0, shrunk, step))
            g = jnp.where(product < 0, 0.0, g)  # skip the step after a sign change
            return step * jnp.sign(g), step

        out = jax.tree.map(leaf, grads, state.step_sizes, state.prev_updates)
        is_pair = lambda x: isinstance(x, tuple) and len(x) == 2 and not isinstance(x[0], tuple)  # noqa: E731
        steps = jax.tree.map(lambda o: o[0], out, is_leaf=is_pair)
        sizes = jax.tree.map(lambda o: o[1], out, is_leaf=is_pair)
        return steps, _RpropReferenceState(step_sizes=sizes, prev_updates=steps)

    return optax.GradientTransformation(init, update)


_RPROP_NOTE = (
    "Reference: torch.optim.Rprop's algorithm (written in this module), because Optax "
    "0.2.8 emits the previous call's step (google-deepmind/optax#1725)."
)


def _matrices(params):
    return jax.tree.map(lambda x: x.ndim >= 2, params)


def _schedule(lib, peak=0.05):
    return lib.exponential_decay(peak, transition_steps=20, decay_rate=0.5)


# SM3 on a 0-d leaf: Optax 0.2.8 raises IndexError, optjax treats the scalar
# as its own cover. The reference is Optax's SM3 with every 0-d leaf viewed as
# a length-1 vector (state and updates reshaped back to 0-d), which is exactly
# the documented semantics; every other leaf goes through Optax unchanged.


def _as_vector(x):
    return x.reshape(1) if x.ndim == 0 else x


def _sm3_reference(optax, **kwargs):
    inner = optax.scale_by_sm3(**kwargs)

    def from_vectors(state, like):
        mu = jax.tree.map(
            lambda p, accs: [a.reshape(()) for a in accs] if p.ndim == 0 else accs,
            like,
            state.mu,
        )
        nu = jax.tree.map(lambda p, n: n.reshape(p.shape), like, state.nu)
        return optax.ScaleBySM3State(mu=mu, nu=nu)

    def to_vectors(state, like):
        mu = jax.tree.map(
            lambda p, accs: [a.reshape(1) for a in accs] if p.ndim == 0 else accs,
            like,
            state.mu,
        )
        return optax.ScaleBySM3State(mu=mu, nu=jax.tree.map(_as_vector, state.nu))

    def init(params):
        return from_vectors(inner.init(jax.tree.map(_as_vector, params)), params)

    def update(updates, state, params=None):
        new, new_state = inner.update(jax.tree.map(_as_vector, updates), to_vectors(state, updates))
        new = jax.tree.map(lambda u, g: u.reshape(g.shape), new, updates)
        return new, from_vectors(new_state, updates)

    return optax.GradientTransformation(init, update)


def _sm3_alias_reference(optax, learning_rate, momentum=0.9):
    return optax.chain(_sm3_reference(optax, b1=momentum), optax.scale(-learning_rate))


# DoG: Optax 0.2.8 initializes max_dist in the parameters' dtype and promotes
# it at the first update (a bfloat16 leaf's max_dist becomes float32), which
# lax.scan rejects; optjax stores the promoted dtype from the start (same
# values). Optax also multiplies by a shape-(1,) factor, which needs rank
# promotion (disallowed in this suite) and turns 0-d updates into shape (1,).
# The reference is Optax's transform with those three mechanical fixes.


def _dog_reference(optax, **kwargs):
    inner = optax.scale_by_distance_over_gradients(**kwargs)
    param_dtype = kwargs.get("param_dtype", jnp.float32)

    def init(params):
        state = inner.init(params)
        max_dist = jax.tree.map(
            lambda d, p: d.astype(jnp.promote_types(p.dtype, param_dtype)), state.max_dist, params
        )
        return state._replace(max_dist=max_dist)

    def update(updates, state, params=None):
        with jax.numpy_rank_promotion("allow"):
            new, state = inner.update(updates, state, params)
        return jax.tree.map(lambda u, g: u.reshape(g.shape), new, updates), state

    return optax.GradientTransformation(init, update)


_DOG_NOTE = (
    "reference: Optax's DoG with max_dist stored in its promoted dtype from init, rank "
    "promotion allowed, and 0-d updates reshaped from (1,) (see _dog_reference)."
)
_SM3_NOTE = (
    "reference: Optax's SM3 with 0-d leaves viewed as length-1 vectors (Optax raises "
    "IndexError on 0-d leaves; see _sm3_reference)."
)


CASES = [
    # --- transforms -------------------------------------------------------------
    *settings(
        "scale_by_rms",
        {
            "default": lambda lib: _descend(lib, lib.scale_by_rms()),
            "adam_b1_0": lambda lib: _descend(
                lib,
                lib.scale_by_rms(decay=0.99, eps=1e-6, eps_in_sqrt=False, bias_correction=True),
            ),
            "initial_scale": lambda lib: _descend(
                lib, lib.scale_by_rms(decay=0.8, eps=1e-4, initial_scale=1.0)
            ),
        },
    ),
    *settings(
        "scale_by_stddev",
        {
            "default": lambda lib: _descend(lib, lib.scale_by_stddev()),
            # Bias-corrected, the first step has zero variance (up to rounding, which can
            # make it negative): eps inside the root keeps it finite and sets its size.
            "bias_corrected": lambda lib: _descend(
                lib, lib.scale_by_stddev(decay=0.95, eps=0.1, bias_correction=True)
            ),
            "eps_outside": lambda lib: _descend(
                lib, lib.scale_by_stddev(decay=0.95, eps=1e-3, eps_in_sqrt=False)
            ),
            "initial_scale": lambda lib: _descend(
                lib, lib.scale_by_stddev(decay=0.8, initial_scale=2.0, bias_correction=True)
            ),
        },
    ),
    *settings(
        "scale_by_rss",
        {
            "default": lambda lib: _descend(lib, lib.scale_by_rss()),
            "zero_start": lambda lib: _descend(
                lib, lib.scale_by_rss(initial_accumulator_value=0.0, eps=1e-10)
            ),
        },
    ),
    *settings(
        "scale_by_adadelta",
        {
            "default": lambda lib: _descend(lib, lib.scale_by_adadelta(), lr=1.0),
            "fast": lambda lib: _descend(lib, lib.scale_by_adadelta(rho=0.5, eps=1e-3), lr=1.0),
        },
    ),
    *_paired(
        "scale_by_sm3",
        {
            "default": (
                lambda lib: _descend(lib, lib.scale_by_sm3()),
                lambda optax: _descend(optax, _sm3_reference(optax)),
            ),
            "ema_b2": (
                lambda lib: _descend(lib, lib.scale_by_sm3(b1=0.5, b2=0.9, eps=1e-6)),
                lambda optax: _descend(optax, _sm3_reference(optax, b1=0.5, b2=0.9, eps=1e-6)),
            ),
        },
        note=_SM3_NOTE,
    ),
    *settings(
        "scale_by_factored_rms",
        {
            # The defaults factor nothing here (no axis reaches 128 entries).
            "default": lambda lib: _descend(lib, lib.scale_by_factored_rms()),
            "factored": lambda lib: _descend(
                lib, lib.scale_by_factored_rms(min_dim_size_to_factor=2)
            ),
            "not_factored": lambda lib: _descend(
                lib, lib.scale_by_factored_rms(factored=False, min_dim_size_to_factor=2)
            ),
            "offset_decay": lambda lib: _descend(
                lib,
                # A negative offset resumes the decay schedule as if at step 5.
                lib.scale_by_factored_rms(
                    decay_rate=0.5, step_offset=-5, min_dim_size_to_factor=3, epsilon=1e-20
                ),
            ),
            "capped_decay_fn": lambda lib: _descend(
                lib,
                lib.scale_by_factored_rms(
                    min_dim_size_to_factor=2,
                    decay_rate_fn=lambda step, rate: jnp.minimum(0.9, 1.0 - (step + 1.0) ** -rate),
                ),
            ),
        },
    ),
    *settings(
        "scale_by_sign",
        {"default": lambda lib: _descend(lib, lib.scale_by_sign(), lr=0.01)},
    ),
    *settings(
        "scale_by_lion",
        {
            "hard": lambda lib: _descend(lib, lib.scale_by_lion(), lr=0.01),
            "smooth": lambda lib: _descend(
                lib, lib.scale_by_lion(b1=0.8, mode="smooth", smooth_beta=2.0), lr=0.01
            ),
            "refined": lambda lib: _descend(lib, lib.scale_by_lion(mode="refined"), lr=0.01),
            "bf16_mu": lambda lib: _descend(
                lib, lib.scale_by_lion(b2=0.9, mu_dtype=jnp.bfloat16), lr=0.01
            ),
        },
    ),
    *settings(
        "scale_by_rprop",
        {
            "default": lambda lib: _descend(lib, lib.scale_by_rprop(0.01), lr=1.0),
        },
        reference=lambda optax: _descend(optax, _rprop_reference(optax, 0.01), lr=1.0),
        note=_RPROP_NOTE,
    ),
    *settings(
        "scale_by_rprop_clipped",
        {
            "clipped": lambda lib: _descend(
                lib,
                lib.scale_by_rprop(
                    0.02, eta_minus=0.3, eta_plus=1.5, min_step_size=1e-3, max_step_size=0.05
                ),
                lr=1.0,
            ),
        },
        reference=lambda optax: _descend(
            optax,
            _rprop_reference(optax, 0.02, 0.3, 1.5, min_step_size=1e-3, max_step_size=0.05),
            lr=1.0,
        ),
        note=_RPROP_NOTE,
    ),
    *settings(
        "scale_by_polyak",
        {
            # The loss dips below 0 (its cosine terms), hence f_min < 0 for "sps".
            "sps": lambda lib: _descend(
                lib, lib.scale_by_polyak(f_min=-10.0, max_learning_rate=0.1), lr=1.0
            ),
            "sps_plus_eps": lambda lib: _descend(
                lib, lib.scale_by_polyak(max_learning_rate=0.2, eps=1.0, variant="sps+"), lr=1.0
            ),
        },
        needs_value=True,
    ),
    *_paired(
        "scale_by_distance_over_gradients",
        {
            "descend": (
                lambda lib: lib.scale_by_distance_over_gradients(reps_rel=1e-2, global_scale=-1.0),
                lambda optax: _dog_reference(optax, reps_rel=1e-2, global_scale=-1.0),
            ),
            "chained_bf16_copy": (
                lambda lib: _descend(
                    lib,
                    lib.scale_by_distance_over_gradients(
                        reps_rel=1e-3, eps=1e-4, param_dtype=jnp.bfloat16
                    ),
                    lr=0.5,
                ),
                lambda optax: _descend(
                    optax,
                    _dog_reference(optax, reps_rel=1e-3, eps=1e-4, param_dtype=jnp.bfloat16),
                    lr=0.5,
                ),
            ),
        },
        note=_DOG_NOTE,
    ),
    # --- optimizers -------------------------------------------------------------
    *settings(
        "sgd",
        {
            "plain": lambda lib: lib.sgd(0.05),
            "momentum": lambda lib: lib.sgd(0.02, momentum=0.9),
            "nesterov": lambda lib: lib.sgd(0.02, momentum=0.8, nesterov=True),
            "bf16_acc": lambda lib: lib.sgd(0.02, momentum=0.9, accumulator_dtype=jnp.bfloat16),
            "schedule": lambda lib: lib.sgd(_schedule(lib, 0.1), momentum=0.5),
        },
        optimizer=True,
    ),
    *settings(
        "sign_sgd",
        {
            "const": lambda lib: lib.sign_sgd(0.01),
            "schedule": lambda lib: lib.sign_sgd(_schedule(lib, 0.02)),
        },
        optimizer=True,
    ),
    *settings(
        "signum",
        {
            "default": lambda lib: lib.signum(0.01),
            "bf16_acc": lambda lib: lib.signum(0.01, beta=0.5, accumulator_dtype=jnp.bfloat16),
        },
        optimizer=True,
    ),
    *settings(
        "polyak_sgd",
        {
            "sps": lambda lib: lib.polyak_sgd(max_learning_rate=0.1, f_min=-10.0),
            "sps_plus": lambda lib: lib.polyak_sgd(max_learning_rate=0.5, variant="sps+", eps=0.5),
            "scaled": lambda lib: lib.polyak_sgd(
                max_learning_rate=0.2, scaling=_schedule(lib, 0.5), f_min=-10.0
            ),
        },
        needs_value=True,
        optimizer=True,
    ),
    *settings(
        "rmsprop",
        {
            "default": lambda lib: lib.rmsprop(0.01),
            "centered": lambda lib: lib.rmsprop(0.01, centered=True),
            "momentum": lambda lib: lib.rmsprop(0.005, decay=0.99, momentum=0.9),
            "nesterov": lambda lib: lib.rmsprop(0.005, momentum=0.8, nesterov=True),
            "torch_eps": lambda lib: lib.rmsprop(0.01, decay=0.99, eps_in_sqrt=False),
            "bias_corrected": lambda lib: lib.rmsprop(0.01, eps=1e-6, bias_correction=True),
            "initial_scale": lambda lib: lib.rmsprop(0.01, initial_scale=1.0),
            "centered_all": lambda lib: lib.rmsprop(
                _schedule(lib, 0.01),
                decay=0.95,
                eps=0.1,
                initial_scale=1.0,
                centered=True,
                momentum=0.5,
                nesterov=True,
                eps_in_sqrt=False,
                bias_correction=True,
            ),
        },
        optimizer=True,
    ),
    *settings(
        "adagrad",
        {
            "default": lambda lib: lib.adagrad(0.1),
            "zero_start": lambda lib: lib.adagrad(0.1, initial_accumulator_value=0.0, eps=1e-10),
            "schedule": lambda lib: lib.adagrad(_schedule(lib, 0.2)),
        },
        optimizer=True,
    ),
    *settings(
        "adadelta",
        {
            "lr": lambda lib: lib.adadelta(1.0),
            "fast_decay_masked": lambda lib: lib.adadelta(
                0.5, rho=0.5, eps=1e-3, weight_decay=0.05, weight_decay_mask=_matrices
            ),
            "scheduled_decay": lambda lib: lib.adadelta(
                _schedule(lib, 1.0), weight_decay=_schedule(lib, 0.1)
            ),
        },
        optimizer=True,
    ),
    *settings(
        "adadelta_default_lr",
        {"no_lr": lambda lib: lib.adadelta()},
        # Optax's adadelta() ascends (no sign flip without a learning rate);
        # optjax's None means the paper's unit step, i.e. adadelta(1.0).
        reference=lambda optax: optax.adadelta(1.0),
        note="learning_rate=None descends with a unit step; Optax's default ascends.",
    ),
    *settings(
        "adafactor",
        {
            "lr": lambda lib: lib.adafactor(0.05),
            "default": lambda lib: lib.adafactor(),
            "factored": lambda lib: lib.adafactor(0.05, min_dim_size_to_factor=2),
            "momentum": lambda lib: lib.adafactor(
                0.05, min_dim_size_to_factor=2, momentum=0.9, decay_offset=-2
            ),
            "bf16_momentum_decay": lambda lib: lib.adafactor(
                _schedule(lib, 0.05),
                min_dim_size_to_factor=2,
                momentum=0.5,
                dtype_momentum=jnp.bfloat16,
                weight_decay_rate=1e-3,
                weight_decay_mask=_matrices,
            ),
            "bare": lambda lib: lib.adafactor(
                0.02,
                decay_rate=0.5,
                multiply_by_parameter_scale=False,
                clipping_threshold=None,
                factored=False,
                eps=1e-20,
            ),
        },
        optimizer=True,
    ),
    *_paired(
        "sm3",
        {
            "default": (
                lambda lib: lib.sm3(0.1),
                lambda optax: _sm3_alias_reference(optax, 0.1),
            ),
            "momentum": (
                lambda lib: lib.sm3(0.05, momentum=0.5),
                lambda optax: _sm3_alias_reference(optax, 0.05, momentum=0.5),
            ),
        },
        optimizer=True,
        note=_SM3_NOTE,
    ),
    *settings(
        "rprop",
        {
            "default": lambda lib: lib.rprop(0.01),
        },
        reference=lambda optax: _descend(optax, _rprop_reference(optax, 0.01), lr=1.0),
        optimizer=True,
        note=_RPROP_NOTE,
    ),
    *settings(
        "rprop_clipped",
        {
            "clipped": lambda lib: lib.rprop(
                0.02, eta_minus=0.3, eta_plus=1.5, min_step_size=1e-3, max_step_size=0.05
            ),
        },
        reference=lambda optax: _descend(
            optax,
            _rprop_reference(optax, 0.02, 0.3, 1.5, min_step_size=1e-3, max_step_size=0.05),
            lr=1.0,
        ),
        note=_RPROP_NOTE,
    ),
    *settings(
        "lion",
        {
            "default": lambda lib: lib.lion(0.01),
            "bf16_mu_masked": lambda lib: lib.lion(
                0.01, b1=0.5, b2=0.9, mu_dtype=jnp.bfloat16, weight_decay=0.1, mask=_matrices
            ),
            "schedule": lambda lib: lib.lion(_schedule(lib, 0.02), weight_decay=_schedule(lib)),
        },
        optimizer=True,
    ),
]
