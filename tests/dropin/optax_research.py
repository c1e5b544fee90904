"""A small research experiment, written against Optax the way an Optax user writes it.

``test_dropin.py`` runs this file twice: as written, and with its ``import optax``
line changed to ``import optjax as optax``. Nothing else changes, and the
numbers must agree. It touches the parts of Optax that research code leans on:
``contrib`` optimizers, ``schedules``, ``losses``, ``tree``, ``projections``,
``microbatching``, ``inject_hyperparams`` and ``MultiSteps``.

The model: two linear heads on a tanh hidden layer, mixed by weights that are
kept on the probability simplex by projection, with the output layer kept in an
L2 ball.
"""

import jax
import jax.numpy as jnp
import optax

NUM_CLASSES = 3
STEPS = 24


def init_params(key):
    k1, k2, k3 = jax.random.split(key, 3)
    return {
        "hidden": {"w": 0.3 * jax.random.normal(k1, (8, 16)), "b": jnp.zeros(16)},
        "heads": 0.3 * jax.random.normal(k2, (2, 16, NUM_CLASSES)),
        "mix": jnp.array([0.7, 0.3]),
        "temperature": jnp.ones(()) + 0.1 * jax.random.normal(k3, ()),
    }


def make_data(key, n=64):
    kx, kw = jax.random.split(key)
    x = jax.random.normal(kx, (n, 8))
    labels = jnp.argmax(x @ jax.random.normal(kw, (8, NUM_CLASSES)), axis=-1)
    return x, labels


def forward(params, x):
    h = jnp.tanh(x @ params["hidden"]["w"] + params["hidden"]["b"])
    logits = jnp.einsum("nd,kdc->knc", h, params["heads"])
    return jnp.einsum("k,knc->nc", params["mix"], logits) / params["temperature"]


def loss_fn(params, x, labels):
    logits = forward(params, x)
    hard = optax.losses.softmax_cross_entropy_with_integer_labels(logits, labels)
    soft_targets = optax.losses.smooth_labels(jax.nn.one_hot(labels, NUM_CLASSES), 0.1)
    soft = optax.losses.softmax_cross_entropy(logits, soft_targets)
    margin = optax.losses.multiclass_hinge_loss(logits, labels)
    return jnp.mean(0.5 * hard + 0.4 * soft + 0.1 * margin)


# Gradients over microbatches of 16 examples, averaged: the full batch's gradient
# at a quarter of the activation memory.
microbatched_grad = optax.microbatching.microbatch(
    jax.value_and_grad(loss_fn),
    argnums=(1, 2),
    microbatch_size=16,
    accumulator=optax.microbatching.AccumulationType.MEAN,
)


def project(params):
    """Keeps the mixture on the simplex and the heads in an L2 ball of radius 3."""
    return {
        **params,
        "mix": optax.projections.projection_simplex(params["mix"]),
        "heads": optax.projections.projection_l2_ball(params["heads"], 3.0),
    }


def train(optimizer, params, x, labels, *, pass_value=False, log_learning_rate=False):
    opt_state = optimizer.init(params)

    @jax.jit
    def step(params, opt_state):
        loss, grads = microbatched_grad(params, x, labels)
        extra = {"value": loss} if pass_value else {}
        updates, opt_state = optimizer.update(grads, opt_state, params, **extra)
        params = project(optax.apply_updates(params, updates))
        logs = {"loss": loss, "grad_norm": optax.tree.norm(grads)}
        if log_learning_rate:
            logs["learning_rate"] = optax.tree.get(opt_state, "hyperparams")["learning_rate"]
        return params, opt_state, logs

    history = []
    for _ in range(STEPS):
        params, opt_state, logs = step(params, opt_state)
        history.append(logs)
    return params, jax.tree.map(lambda *xs: jnp.stack(xs), *history)


def adamw_with_accumulation():
    """Clipped AdamW with a warmup-cosine schedule, gradients accumulated over 2 steps."""
    schedule = optax.schedules.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=3e-2, warmup_steps=4, decay_steps=STEPS
    )
    inner = optax.chain(
        optax.clip_by_global_norm(1.0),
        optax.inject_hyperparams(optax.adamw)(learning_rate=schedule, weight_decay=1e-3),
    )
    return optax.MultiSteps(inner, every_k_schedule=2)


def muon_on_the_matrices():
    """Muon on the hidden matrix and the two heads (a batch of matrices), Adam elsewhere."""

    def dims(params):
        spec = optax.contrib.MuonDimensionNumbers
        return {
            "hidden": {"w": spec(), "b": None},
            "heads": spec(reduction_axis=1, output_axis=2),
            "mix": None,
            "temperature": None,
        }

    return optax.contrib.muon(learning_rate=2e-2, muon_weight_dimension_numbers=dims)


def adam_reduced_on_plateau():
    """Adam whose step shrinks when the training loss stops improving."""
    return optax.chain(
        optax.adam(5e-2),
        optax.contrib.reduce_on_plateau(patience=2, factor=0.5, cooldown=1, accumulation_size=1),
    )


def run():
    """Every experiment's final parameters and training curves."""
    params = init_params(jax.random.key(0))
    x, labels = make_data(jax.random.key(1))
    results = {}
    results["adamw"] = train(adamw_with_accumulation(), params, x, labels, log_learning_rate=True)
    results["muon"] = train(muon_on_the_matrices(), params, x, labels)
    results["plateau"] = train(adam_reduced_on_plateau(), params, x, labels, pass_value=True)
    return results
