"""``micro_grad``: against ``optax.microbatching.micro_grad`` and per-example ``jax.grad``."""

import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from optjax import microbatching

OJ = microbatching
OX = optax.microbatching
RNG = np.random.default_rng(1)
PARAMS = {
    "w": jnp.asarray(RNG.normal(size=(3, 2)), jnp.float32),
    "b": jnp.asarray(RNG.normal(size=(2,)), jnp.float32),
}
FEATURES = jnp.asarray(RNG.normal(size=(6, 3)), jnp.float32)
TARGETS = jnp.asarray(RNG.normal(size=(6, 2)), jnp.float32)


def loss(params, x, y):
    """Works with and without a leading batch axis on ``x`` and ``y``."""
    logits = x @ params["w"]
    pred = jnp.tanh(logits + jnp.broadcast_to(params["b"], logits.shape))
    return 0.5 * jnp.mean((pred - y) ** 2)


def loss_with_aux(params, x, y):
    return loss(params, x, y), {"pred_norm": jnp.linalg.norm(x @ params["w"])}


def clip_and_square(grads):
    norm = optax.tree.norm(grads)
    clipped = jax.tree.map(lambda g: g * jnp.minimum(1.0, 0.1 / norm), grads)
    return clipped, jax.tree.map(jnp.square, grads)


CASES = [
    ("defaults", {}),
    ("mean_flat_examples", {"accumulator": "MEAN", "microbatch_size": 2, "keep_batch_dim": False}),
    (
        "aux_transform_prefix",
        {"has_aux": True, "transform": True, "microbatch_size": 3, "accumulator": ("SUM", "MEAN")},
    ),
    ("early_stop", {"microbatch_size": 2, "num_real_microbatches": 2}),
]


@pytest.mark.parametrize("name,options", CASES, ids=[c[0] for c in CASES])
def test_micro_grad_matches_optax(name, options):
    def build(lib):
        kwargs = {
            "batch_argnums": (1, 2),
            "keep_batch_dim": options.get("keep_batch_dim", True),
            "microbatch_size": options.get("microbatch_size"),
            "num_real_microbatches": options.get("num_real_microbatches"),
        }
        if "accumulator" in options:
            kwargs["accumulator"] = jax.tree.map(
                lambda n: lib.AccumulationType[n], options["accumulator"]
            )
        if options.get("transform"):
            kwargs["transform_fn"] = clip_and_square
            kwargs["metrics_fn"] = optax.tree.norm
        has_aux = options.get("has_aux", False)
        fun = loss_with_aux if has_aux else loss
        return lib.micro_grad(fun, has_aux, **kwargs)

    ours = build(OJ)(PARAMS, FEATURES, TARGETS)
    theirs = build(OX)(PARAMS, FEATURES, TARGETS)
    assert type(ours[1]).__name__ == "Aux" and ours[1]._fields == theirs[1]._fields
    chex.assert_trees_all_equal((ours[0], tuple(ours[1])), (theirs[0], tuple(theirs[1])))


def test_micro_grad_equals_summed_per_example_grads():
    combined, aux = OJ.micro_grad(loss, batch_argnums=(1, 2), microbatch_size=3)(
        PARAMS, FEATURES, TARGETS
    )
    per_example = jax.vmap(jax.value_and_grad(loss), (None, 0, 0))(
        PARAMS, FEATURES[:, None], TARGETS[:, None]
    )
    chex.assert_trees_all_close(aux.values, per_example[0], rtol=1e-6)
    chex.assert_trees_all_close(
        combined, jax.tree.map(lambda g: g.sum(0), per_example[1]), rtol=1e-5, atol=1e-7
    )
    assert aux.metrics is None and aux.aux is None


def test_micro_grad_under_jit_matches_eager():
    fn = OJ.micro_grad(loss, batch_argnums=(1, 2), microbatch_size=2, metrics_fn=optax.tree.norm)
    chex.assert_trees_all_close(
        jax.jit(fn)(PARAMS, FEATURES, TARGETS), fn(PARAMS, FEATURES, TARGETS), rtol=1e-6
    )


def test_micro_grad_with_trailing_unbatched_argument():
    # Optax sizes in_axes by max(batch_argnums) + 1, so a positional argument
    # after the batch ones fails in jax.vmap; optjax leaves it unmapped.
    def scaled(params, x, y, scale):
        return scale * loss(params, x, y)

    combined, _ = OJ.micro_grad(scaled, batch_argnums=(1, 2), microbatch_size=2)(
        PARAMS, FEATURES, TARGETS, 3.0
    )
    expected, _ = OJ.micro_grad(loss, batch_argnums=(1, 2), microbatch_size=2)(
        PARAMS, FEATURES, TARGETS
    )
    chex.assert_trees_all_close(combined, jax.tree.map(lambda g: 3 * g, expected), rtol=1e-6)


def test_bad_micro_grad_inputs():
    with pytest.raises(TypeError, match=re.escape("batch_argnums names positional argument 3")):
        OJ.micro_grad(loss, batch_argnums=3)(PARAMS, FEATURES, TARGETS)
    with pytest.raises(ValueError, match=re.escape("batch_argnums must name at least one")):
        OJ.micro_grad(loss, batch_argnums=())
    with pytest.raises(ValueError, match=re.escape("batch_size=6 is not divisible by")):
        OJ.micro_grad(loss, batch_argnums=(1, 2), microbatch_size=4)(PARAMS, FEATURES, TARGETS)
