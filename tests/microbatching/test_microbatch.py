"""``microbatch``, ``micro_vmap``, ``reshape_batch_axis`` and the accumulators.

Every value is compared with ``optax.microbatching`` on the same fixed inputs
(bit for bit: the loops and reductions run in the same order), and with the
unsplit function where the accumulator makes them equal.
"""

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
RNG = np.random.default_rng(0)
X = jnp.asarray(RNG.normal(size=(8, 3)), jnp.float32)
Y = jnp.asarray(RNG.normal(size=(8, 3)), jnp.float32)
W = jnp.asarray(RNG.normal(size=(3,)), jnp.float32)


def _types(lib, spec):
    """``spec`` with accumulation names replaced by ``lib``'s AccumulationType members."""
    return jax.tree.map(lambda name: lib.AccumulationType[name], spec)


def per_example(w, x, y):
    return x * y + w[None, :]


def loss_sum(w, x, y):
    return jnp.sum((x @ w - y[:, 0]) ** 2)


def loss_mean(w, x, y):
    return jnp.mean(jnp.tanh(x @ w) * y[:, 1])


def mixed(w, x, y):
    return {
        "rows": x - y,
        "total": jnp.sum(x * w[None, :]),
        "avg": (jnp.mean(y), jnp.mean(x, axis=0)),
    }


# (id, fun, accumulator names, microbatch_size, extra microbatch kwargs)
CASES = [
    ("concat", per_example, "CONCAT", 2, {}),
    ("sum", loss_sum, "SUM", 4, {}),
    ("mean", loss_mean, "MEAN", 2, {}),
    ("running_mean", loss_mean, "RUNNING_MEAN", 1, {}),
    ("prefix_tree", mixed, {"rows": "CONCAT", "total": "SUM", "avg": "MEAN"}, 2, {}),
    ("early_stop_concat", per_example, "CONCAT", 2, {"num_real_microbatches": 3}),
    ("early_stop_running_mean", loss_mean, "RUNNING_MEAN", 2, {"num_real_microbatches": 3}),
    ("no_steps", loss_sum, "SUM", 2, {"num_real_microbatches": 0}),
]


@pytest.mark.parametrize("name,fun,spec,size,kwargs", CASES, ids=[c[0] for c in CASES])
def test_microbatch_matches_optax(name, fun, spec, size, kwargs):
    def build(lib):
        return lib.microbatch(fun, (1, 2), size, _types(lib, spec), **kwargs)

    ours = build(OJ)(W, X, Y)
    chex.assert_trees_all_equal(ours, build(OX)(W, X, Y))
    if "num_real_microbatches" not in kwargs:
        chex.assert_trees_all_close(ours, fun(W, X, Y), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.int32])
def test_microbatch_low_precision_and_integer_sum(dtype):
    x = jnp.arange(24).reshape(8, 3).astype(dtype)
    ours = OJ.microbatch(lambda x: jnp.sum(x, axis=0), 0, 2)(x)
    chex.assert_trees_all_equal(ours, OX.microbatch(lambda x: jnp.sum(x, axis=0), 0, 2)(x))
    assert ours.dtype == dtype


def test_running_mean_bfloat16_matches_optax():
    x = jnp.asarray(RNG.normal(size=(12,)), jnp.bfloat16)
    build = lambda lib: lib.microbatch(jnp.mean, 0, 2, lib.AccumulationType.RUNNING_MEAN)  # noqa: E731
    ours = build(OJ)(x)
    assert ours.dtype == jnp.bfloat16
    chex.assert_trees_all_equal(ours, build(OX)(x))


def test_traced_num_real_microbatches_under_jit():
    @jax.jit
    def run(x, steps):
        return OJ.microbatch(
            jnp.mean, 0, 2, OJ.AccumulationType.RUNNING_MEAN, num_real_microbatches=steps
        )(x)

    x = jnp.arange(8.0)
    # Microbatch i holds rows i and i + 4; the first three are rows {0,4},{1,5},{2,6}.
    np.testing.assert_allclose(run(x, 3), np.mean([0, 4, 1, 5, 2, 6]), rtol=1e-6)
    np.testing.assert_allclose(run(x, 4), np.mean(np.arange(8.0)), rtol=1e-6)


def test_traced_num_real_microbatches_keeps_bfloat16_carry():
    # Optax's running mean promotes a bfloat16 carry to float32 when the loop
    # bound is a traced int32, and fails; optjax keeps the carry's dtype.
    x = jnp.arange(8.0, dtype=jnp.bfloat16)
    fun = jax.jit(
        lambda x, n: OJ.microbatch(
            jnp.mean, 0, 2, OJ.AccumulationType.RUNNING_MEAN, num_real_microbatches=n
        )(x)
    )
    out = fun(x, jnp.asarray(2))
    assert out.dtype == jnp.bfloat16
    np.testing.assert_allclose(float(out), np.mean([0, 4, 1, 5]), rtol=1e-2)


@pytest.mark.parametrize("in_axes", [1, -2])
def test_in_axes_and_kwargs_match_optax(in_axes):
    a = jnp.asarray(RNG.normal(size=(3, 6, 2)), jnp.float32)
    b = jnp.asarray(RNG.normal(size=(6, 2)), jnp.float32)

    def fun(a, scale, *, b):
        return jnp.einsum("ibj,bj->i", a, b) * scale

    ours = OJ.microbatch(fun, 0, 3, argnames="b", in_axes=(in_axes, 0))(a, 2.0, b=b)
    theirs = OX.microbatch(fun, 0, 3, argnames="b", in_axes=(1, 0))(a, 2.0, b=b)
    chex.assert_trees_all_equal(ours, theirs)
    chex.assert_trees_all_close(ours, fun(a, 2.0, b=b), rtol=1e-5, atol=1e-6)


def test_pytree_batch_argument():
    batch = {"x": X, "y": (Y,)}
    fun = lambda w, batch: jnp.sum(batch["x"] @ w * batch["y"][0][:, 0])  # noqa: E731
    ours = OJ.microbatch(fun, 1, 2)(W, batch)
    chex.assert_trees_all_equal(ours, OX.microbatch(fun, 1, 2)(W, batch))


def test_gradient_through_microbatch_matches_optax_and_full_batch():
    def grad_of(lib):
        return jax.grad(lambda w: lib.microbatch(loss_sum, (1, 2), 2)(w, X, Y))(W)

    ours = grad_of(OJ)
    chex.assert_trees_all_equal(ours, grad_of(OX))
    chex.assert_trees_all_close(ours, jax.grad(loss_sum)(W, X, Y), rtol=1e-5)


def test_jit_and_vmap_match_eager():
    fun = OJ.microbatch(
        mixed, (1, 2), 2, _types(OJ, {"rows": "CONCAT", "total": "SUM", "avg": "MEAN"})
    )
    eager = fun(W, X, Y)
    chex.assert_trees_all_close(jax.jit(fun)(W, X, Y), eager, rtol=1e-6)
    ws = jnp.stack([W, 2 * W])
    stacked = jax.vmap(fun, in_axes=(0, None, None))(ws, X, Y)
    chex.assert_trees_all_close(jax.tree.map(lambda s: s[0], stacked), eager, rtol=1e-6)
    chex.assert_trees_all_close(jax.tree.map(lambda s: s[1], stacked), fun(2 * W, X, Y), rtol=1e-6)


def test_microbatch_size_none_returns_fun():
    assert OJ.microbatch(loss_sum, 1, None) is loss_sum


def test_custom_accumulator():
    running_max = OJ.Accumulator(
        init=lambda s: jnp.full(s.shape, -jnp.inf, s.dtype),
        update=lambda carry, value, index: jnp.maximum(carry, value),
        finalize=lambda carry: carry,
        aggregate=lambda values: jnp.max(values, axis=0),
    )
    out = OJ.microbatch(lambda x: jnp.max(x, axis=0), 0, 2, running_max)(X)
    np.testing.assert_array_equal(out, np.max(np.asarray(X), axis=0))


@pytest.mark.parametrize("axis,size", [(0, 2), (1, 3), (-1, 1)])
def test_reshape_batch_axis_matches_optax(axis, size):
    tree = {"a": jnp.arange(36.0).reshape(6, 6), "b": [jnp.arange(6 * 6).reshape(6, 6)]}
    ours = OJ.reshape_batch_axis(tree, size, axis)
    theirs = OX.reshape_batch_axis(tree, size, axis % 2)
    chex.assert_trees_all_equal(ours, theirs)


def test_explicit_sharding_is_carried_over():
    # Optax 0.2.8 compares jax versions as strings ('0.10' < '0.7'), so under
    # jax 0.10 it never passes out_sharding and fails on explicit meshes;
    # optjax moves the batch sharding to the microbatch_size axis.
    mesh = jax.make_mesh((1,), ("data",), axis_types=(jax.sharding.AxisType.Explicit,))
    with jax.set_mesh(mesh):
        x = jax.device_put(X, jax.sharding.NamedSharding(mesh, jax.P("data")))
        split = OJ.reshape_batch_axis(x, 2)
        doubled = jax.jit(OJ.microbatch(lambda x: 2 * x, 0, 2, OJ.AccumulationType.CONCAT))(x)
    assert jax.typeof(split).sharding.spec == jax.P(None, "data", None)
    assert jax.typeof(doubled).sharding.spec == jax.P("data", None)
    np.testing.assert_array_equal(split, OX.reshape_batch_axis(X, 2))
    np.testing.assert_array_equal(doubled, 2 * X)


# ---------------------------------------------------------------------------
# micro_vmap


@pytest.mark.parametrize(
    "spec,size",
    [("CONCAT", 2), ("SUM", 4), ("MEAN", 2), ("RUNNING_MEAN", 2), ("CONCAT", None)],
)
def test_micro_vmap_matches_optax(spec, size):
    def fun(w, x, *, y):
        return {"dot": x @ w, "prod": x * y}

    def build(lib):
        return lib.micro_vmap(
            fun, in_axes=(None, 0), microbatch_size=size, accumulator=lib.AccumulationType[spec]
        )

    ours = build(OJ)(W, X, y=Y)
    chex.assert_trees_all_equal(ours, build(OX)(W, X, y=Y))
    if spec == "CONCAT":
        chex.assert_trees_all_close(ours, jax.vmap(fun, (None, 0))(W, X, y=Y), rtol=1e-6)


def test_micro_vmap_int_in_axes_applies_to_every_argument():
    # Optax turns an int in_axes into a 1-tuple, so only one-argument functions
    # work; optjax follows jax.vmap and maps every positional argument.
    fun = lambda x, y: jnp.dot(x, y)  # noqa: E731
    out = OJ.micro_vmap(fun, in_axes=0, microbatch_size=2)(X, Y)
    chex.assert_trees_all_close(out, jax.vmap(fun)(X, Y), rtol=1e-6)
    one_arg = OJ.micro_vmap(jnp.sum, in_axes=1, microbatch_size=4)(X.T)
    chex.assert_trees_all_equal(one_arg, OX.micro_vmap(jnp.sum, in_axes=1, microbatch_size=4)(X.T))


def test_micro_vmap_early_stop_matches_optax():
    def build(lib):
        return lib.micro_vmap(
            jnp.sum,
            microbatch_size=2,
            accumulator=lib.AccumulationType.SUM,
            num_real_microbatches=3,
        )

    chex.assert_trees_all_equal(build(OJ)(X), build(OX)(X))


# ---------------------------------------------------------------------------
# Bad input: one clear line, at call or trace time.


def _raises(error, pattern, fn, *args, **kwargs):
    with pytest.raises(error, match=re.escape(pattern)):
        fn(*args, **kwargs)


def test_bad_microbatch_inputs():
    _raises(
        ValueError,
        "batch_size=8 is not divisible by microbatch_size=3",
        OJ.microbatch(loss_sum, (1, 2), 3),
        W,
        X,
        Y,
    )
    _raises(
        ValueError,
        "args[2] has 6",
        OJ.microbatch(loss_sum, (1, 2), 2),
        W,
        X,
        Y[:6],
    )
    _raises(
        ValueError, "microbatch_size must be an integer >= 1, got 0", OJ.microbatch, jnp.sum, 0, 0
    )
    _raises(
        ValueError,
        "in_axes has 1 entries but argnums + argnames name 2",
        OJ.microbatch,
        loss_sum,
        (1, 2),
        2,
        in_axes=(0,),
    )
    _raises(
        TypeError, "argnums names positional argument 3", OJ.microbatch(loss_sum, 3, 2), W, X, Y
    )
    _raises(TypeError, "argnames names 'b'", OJ.microbatch(jnp.sum, (), 2, argnames="b"), X)
    _raises(ValueError, "batch axis 2 is out of range", OJ.microbatch(jnp.sum, 0, 2, in_axes=2), X)
    _raises(
        ValueError,
        "num_real_microbatches=5 must be in [0, 4]",
        OJ.microbatch(jnp.sum, 0, 2, num_real_microbatches=5),
        X,
    )
    _raises(
        ValueError,
        "AccumulationType.MEAN needs floating-point outputs, got a leaf of dtype int32",
        OJ.microbatch(jnp.sum, 0, 2, OJ.AccumulationType.MEAN),
        jnp.arange(8),
    )


def test_unknown_accumulator_lists_the_choices():
    pattern = (
        "unknown accumulator 'sum'; expected an Accumulator or one of AccumulationType.MEAN, "
        "AccumulationType.SUM, AccumulationType.RUNNING_MEAN, AccumulationType.CONCAT."
    )
    _raises(ValueError, pattern, OJ.microbatch(jnp.sum, 0, 2, "sum"), X)


def test_accumulator_tree_must_be_a_prefix_of_the_output():
    fun = OJ.microbatch(lambda x: (jnp.sum(x), x), 0, 2, {"a": OJ.AccumulationType.SUM})
    _raises(ValueError, "the accumulator tree must be a prefix of the function's output", fun, X)


def test_bad_micro_vmap_and_reshape_inputs():
    _raises(
        NotImplementedError, "only out_axes=0 is supported, got 1", OJ.micro_vmap, jnp.sum, 0, 1
    )
    _raises(
        ValueError,
        "in_axes has 1 entries but the function was called with 2 positional arguments",
        OJ.micro_vmap(jnp.dot, in_axes=(0,), microbatch_size=2),
        X,
        Y,
    )
    _raises(
        ValueError,
        "batch size 8 along axis 0 is not divisible by microbatch_size=3",
        OJ.reshape_batch_axis,
        {"x": X},
        3,
    )


def test_mean_accepts_complex_outputs():
    # Optax's MEAN/RUNNING_MEAN reject complex outputs; optjax averages them.
    z = jnp.arange(8.0) * (1 + 2j)
    for kind in ("MEAN", "RUNNING_MEAN"):
        out = OJ.microbatch(jnp.mean, 0, 2, OJ.AccumulationType[kind])(z)
        np.testing.assert_allclose(out, np.mean(np.asarray(z)), rtol=1e-6)


def test_optax_accumulation_types_are_accepted_and_compare_equal():
    assert OJ.AccumulationType.SUM == OX.AccumulationType.SUM
    assert OJ.AccumulationType.SUM != OX.AccumulationType.MEAN
    assert len({OJ.AccumulationType.MEAN, OJ.AccumulationType.SUM}) == 2
    out = OJ.microbatch(jnp.mean, 0, 2, OX.AccumulationType.MEAN)(X)
    chex.assert_trees_all_equal(out, OX.microbatch(jnp.mean, 0, 2, OX.AccumulationType.MEAN)(X))
