"""optjax.training: TrainState over linen and NNX, and the compiled train/eval steps.

Each behaviour is checked against a hand computation (jax.grad plus the
optimizer run by hand), against Optax, or against closed forms (BatchNorm's
running statistics), for both Flax APIs.
"""

import subprocess
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import optjax
from optjax.training import TrainState, make_eval_step, make_train_step

KINDS = ["linen", "nnx"]
X = jnp.arange(12.0).reshape(4, 3) / 10.0
Y = jnp.array([[1.0], [-1.0], [0.5], [2.0]])
BATCH = {"x": X, "y": Y}


def mse(outputs, batch):
    return jnp.mean((outputs - batch["y"]) ** 2)


# Shared across tests so each (model, optimizer) pair compiles once.
TRAIN_STEP = make_train_step(mse)
KEEP_STEP = make_train_step(mse, donate=False)
EVAL_STEP = make_eval_step(mse)


def leaves_by_name(tree, name):
    """The leaves whose last key is ``name``, in flattening order."""
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [leaf for path, leaf in flat if path[-1].key == name]


# ----------------------------------------------------------------------------
# Models: each in linen and NNX.


class LinenMLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(nn.relu(nn.Dense(5)(x)))


class NnxMLP(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(3, 5, rngs=rngs)
        self.out = nnx.Linear(5, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.hidden(x)))


class LinenBN(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool):
        h = nn.Dense(2)(x)
        return nn.BatchNorm(use_running_average=not train, momentum=0.5)(h)


class NnxBN(nnx.Module):
    def __init__(self, rngs):
        self.dense = nnx.Linear(3, 2, rngs=rngs)
        self.bn = nnx.BatchNorm(2, momentum=0.5, rngs=rngs)

    def __call__(self, x):
        return self.bn(self.dense(x))


class LinenDrop(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool):
        return nn.Dropout(0.5, deterministic=not train)(nn.Dense(16)(x))


class NnxDrop(nnx.Module):
    # nnx.Rngs(0) has only a "default" stream; the Dropout draws from it.
    def __init__(self, rngs):
        self.dense = nnx.Linear(3, 16, rngs=rngs)
        self.drop = nnx.Dropout(0.5, rngs=rngs)

    def __call__(self, x):
        return self.drop(self.dense(x))


def build(kind, model, tx, rng=0):
    linen_model, nnx_model = {
        "linear": (lambda: nn.Dense(1), lambda: nnx.Linear(3, 1, rngs=nnx.Rngs(0))),
        "mlp": (LinenMLP, lambda: NnxMLP(nnx.Rngs(0))),
        "bn": (LinenBN, lambda: NnxBN(nnx.Rngs(0))),
        "drop": (LinenDrop, lambda: NnxDrop(nnx.Rngs(0))),
    }[model]
    if kind == "linen":
        return TrainState.from_linen(linen_model(), tx, rng=rng, sample_input=X)
    return TrainState.from_nnx(nnx_model(), tx, rng=rng)


def dense(x, kernel, bias):
    return x @ kernel + bias[None, :]


def copy(tree):
    return jax.tree.map(lambda x: np.asarray(x).copy(), tree)


# ----------------------------------------------------------------------------
# One step against jax.grad + the optimizer by hand, and against Optax.


def linear_loss(params):
    return mse(dense(X, params["kernel"], params["bias"]), BATCH)


@pytest.mark.parametrize("kind", KINDS)
def test_one_step_equals_hand_written_grad_and_sgd(kind):
    state = build(kind, "linear", optjax.sgd(0.1))
    before = copy(state.params)
    grads = jax.grad(linear_loss)(before)
    state, logs = TRAIN_STEP(state, BATCH)
    assert int(state.step) == 1
    np.testing.assert_allclose(logs["loss"], linear_loss(before), rtol=1e-6)
    for name in ("kernel", "bias"):
        np.testing.assert_allclose(
            state.params[name], before[name] - 0.1 * grads[name], rtol=1e-6, atol=1e-7
        )


@pytest.mark.parametrize("kind", KINDS)
def test_three_steps_match_optax_sgd_with_momentum(kind):
    ours = build(kind, "linear", optjax.sgd(0.1, momentum=0.9, nesterov=True))
    theirs = build(kind, "linear", optax.sgd(0.1, momentum=0.9, nesterov=True))
    for _ in range(3):
        ours, our_logs = TRAIN_STEP(ours, BATCH)
        theirs, their_logs = TRAIN_STEP(theirs, BATCH)
        np.testing.assert_allclose(our_logs["loss"], their_logs["loss"], rtol=1e-6)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), ours.params, theirs.params
    )
    np.testing.assert_allclose(
        ours.opt_state[0].trace["kernel"], theirs.opt_state[0].trace["kernel"]
    )


@pytest.mark.parametrize("kind", KINDS)
def test_the_loss_reaches_the_optimizer_as_value(kind):
    # polyak_sgd needs `value`; its step size is loss / |g|^2.
    state = build(kind, "linear", optjax.polyak_sgd(max_learning_rate=10.0))
    before = copy(state.params)
    loss, grads = jax.value_and_grad(linear_loss)(before)
    sq_norm = sum(jnp.sum(g**2) for g in jax.tree.leaves(grads))
    state, _ = TRAIN_STEP(state, BATCH)
    np.testing.assert_allclose(
        state.params["kernel"], before["kernel"] - loss / sq_norm * grads["kernel"], rtol=1e-5
    )


# ----------------------------------------------------------------------------
# Mutable collections: BatchNorm.


def part(tree, kind, name):
    """The subtree of the linen or NNX module called ``name`` ("dense" or "bn")."""
    return tree[{"dense": "Dense_0", "bn": "BatchNorm_0"}[name] if kind == "linen" else name]


@pytest.mark.parametrize("kind", KINDS)
def test_batchnorm_stats_follow_the_running_average_in_train_mode_only(kind):
    state = build(kind, "bn", optjax.sgd(0.1))
    stats = state.model_state["batch_stats"] if kind == "linen" else state.model_state
    hidden = dense(X, **part(state.params, kind, "dense"))
    want_mean = 0.5 * part(stats, kind, "bn")["mean"] + 0.5 * hidden.mean(0)
    want_var = 0.5 * part(stats, kind, "bn")["var"] + 0.5 * hidden.var(0)
    model_state = copy(state.model_state)

    # Eval mode: the running statistics normalize, so a row's output does not
    # depend on the rest of the batch, and the collections come back unchanged.
    outputs, same = state.apply_model(state.params, X, train=False)
    alone, _ = state.apply_model(state.params, X[:1], train=False)
    np.testing.assert_allclose(outputs[:1], alone, rtol=1e-6)
    jax.tree.map(np.testing.assert_array_equal, same, model_state)

    state, _ = TRAIN_STEP(state, BATCH)
    stats = part(
        state.model_state["batch_stats"] if kind == "linen" else state.model_state, kind, "bn"
    )
    np.testing.assert_allclose(stats["mean"], want_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats["var"], want_var, rtol=1e-5, atol=1e-6)

    # The eval step normalizes with the new running statistics.
    logs = EVAL_STEP(state, BATCH)
    bn = part(state.params, kind, "bn")
    hidden = dense(X, **part(state.params, kind, "dense"))

    def row(v):  # Rank promotion raises in tests, so broadcast explicitly.
        return v[None, :]

    normed = (hidden - row(stats["mean"])) / jnp.sqrt(row(stats["var"]) + 1e-5)
    normed = normed * row(bn["scale"]) + row(bn["bias"])
    np.testing.assert_allclose(logs["loss"], mse(normed, BATCH), rtol=1e-5)


# ----------------------------------------------------------------------------
# Dropout rngs.


@pytest.mark.parametrize("kind", KINDS)
def test_dropout_differs_per_step_is_reproducible_and_off_in_eval(kind):
    state = build(kind, "drop", optjax.sgd(0.1), rng=7)

    def mask(s):
        plain, _ = s.apply_model(s.params, X, train=False)
        np.testing.assert_allclose(plain, dense(X, **part(s.params, kind, "dense")), rtol=1e-6)
        out, _ = s.apply_model(s.params, X, train=True)
        kept = out != 0
        np.testing.assert_allclose(
            jnp.where(kept, out, 0), jnp.where(kept, 2 * plain, 0), rtol=1e-6
        )
        return np.asarray(kept)

    step0, step1 = mask(state), mask(state.replace(step=jnp.ones((), jnp.int32)))
    assert 0 < step0.sum() < step0.size
    assert (step0 != step1).any()
    np.testing.assert_array_equal(mask(state), step0)
    np.testing.assert_array_equal(mask(build(kind, "drop", optjax.sgd(0.1), rng=7)), step0)
    assert (mask(build(kind, "drop", optjax.sgd(0.1), rng=8)) != step0).any()

    # Through the compiled step: same seed, same run; another seed, another run.
    runs = []
    for seed in (7, 7, 8):
        s = build(kind, "drop", optjax.sgd(0.1), rng=seed)
        for _ in range(2):
            s, _ = TRAIN_STEP(s, {"x": X, "y": jnp.ones((4, 16))})
        runs.append(part(s.params, kind, "dense")["kernel"])
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


# ----------------------------------------------------------------------------
# Compilation, donation, abstract construction.


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("donate", [True, False])
def test_the_step_traces_once_and_donation_keeps_working(kind, donate):
    traces = []

    def counting_mse(outputs, batch):
        traces.append(1)
        return mse(outputs, batch)

    step = make_train_step(counting_mse, donate=donate)
    state = build(kind, "bn", optjax.adam(1e-2))
    losses = []
    for _ in range(4):
        previous = state
        state, logs = step(state, BATCH)
        losses.append(float(logs["loss"]))
        assert previous.params is not state.params
        assert leaves_by_name(previous.params, "kernel")[0].is_deleted() == donate
    assert len(traces) == 1
    assert int(state.step) == 4
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("kind", KINDS)
def test_an_opt_state_holding_the_params_is_still_donatable(kind):
    # An init that stores the params themselves (as lookahead's slow copy does)
    # would make one buffer reachable twice from the donated state.
    keep = optjax.GradientTransformation(
        lambda params: params, lambda u, s, params=None: (u, params)
    )
    state = build(kind, "linear", optjax.chain(optjax.sgd(0.1), keep))
    for _ in range(3):
        before = copy(state.params)
        state, _ = TRAIN_STEP(state, BATCH)
        jax.tree.map(np.testing.assert_array_equal, state.opt_state[-1], before)
    assert int(state.step) == 3


@pytest.mark.parametrize("kind", KINDS)
def test_constructors_run_under_eval_shape(kind):
    tx = optjax.adam(1e-2)
    abstract = jax.eval_shape(lambda: build(kind, "bn", tx))
    concrete = build(kind, "bn", tx)
    assert all(isinstance(x, jax.ShapeDtypeStruct) for x in jax.tree.leaves(abstract.opt_state))
    assert jax.tree.structure(abstract) == jax.tree.structure(concrete)
    assert jax.tree.map(lambda x: (x.shape, x.dtype), abstract.opt_state) == jax.tree.map(
        lambda x: (x.shape, x.dtype), concrete.opt_state
    )


# ----------------------------------------------------------------------------
# Issue 3: partition with key-path labels drives a Flax model end to end.


def key_labels(params):
    return jax.tree_util.tree_map_with_path(lambda path, _: path[-1].key, params)


@pytest.mark.parametrize("kind", KINDS)
def test_partition_by_key_path_matches_adam_and_sgd_run_leaf_by_leaf(kind):
    tx = optjax.partition({"kernel": optjax.adam(1e-2), "bias": optjax.sgd(1e-1)}, key_labels)
    state = build(kind, "mlp", tx)
    forward = state.apply_model  # No dropout or BatchNorm: mode and rng are irrelevant.

    def loss(params):
        return mse(forward(params, X, train=False)[0], BATCH)

    params = copy(state.params)
    flat, treedef = jax.tree_util.tree_flatten_with_path(params)
    alone = [
        optjax.adam(1e-2) if path[-1].key == "kernel" else optjax.sgd(1e-1) for path, _ in flat
    ]
    states = [t.init(leaf) for t, (_, leaf) in zip(alone, flat)]
    leaves = [leaf for _, leaf in flat]
    for _ in range(3):
        grads = jax.tree.leaves(jax.grad(loss)(treedef.unflatten(leaves)))
        for i, t in enumerate(alone):
            update, states[i] = t.update(grads[i], states[i], leaves[i])
            leaves[i] = leaves[i] + update
        state, _ = TRAIN_STEP(state, BATCH)
    assert sorted(set(jax.tree.leaves(key_labels(params)))) == ["bias", "kernel"]
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
        state.params,
        treedef.unflatten(leaves),
    )


# ----------------------------------------------------------------------------
# Accessors and bad input.


def test_accessors_return_the_model_for_each_api():
    linen = build("linen", "bn", optjax.sgd(0.1))
    assert set(linen.variables()) == {"params", "batch_stats"}
    mine = build("nnx", "bn", optjax.sgd(0.1))
    model = mine.model()
    assert isinstance(model, NnxBN)
    model.eval()
    np.testing.assert_allclose(model(X), mine.apply_model(mine.params, X, train=False)[0])
    # The merged model holds copies: donating the state leaves it intact.
    TRAIN_STEP(mine, BATCH)
    assert not model.dense.kernel.get_value().is_deleted()
    with pytest.raises(TypeError, match="use model"):
        mine.variables()
    with pytest.raises(TypeError, match="use variables"):
        linen.model()


def test_from_nnx_copies_so_the_model_survives_donation():
    model = nnx.Linear(3, 1, rngs=nnx.Rngs(0))
    TRAIN_STEP(TrainState.from_nnx(model, optjax.sgd(0.1)), BATCH)
    assert model(X).shape == (4, 1)


@pytest.mark.parametrize("kind", KINDS)
def test_a_non_scalar_loss_is_a_value_error_naming_the_shape(kind):
    step = make_train_step(lambda outputs, batch: (outputs - batch["y"]) ** 2)
    with pytest.raises(ValueError, match=r"scalar, got an array of shape \(4, 1\)"):
        step(build(kind, "linear", optjax.sgd(0.1)), BATCH)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: TrainState.from_linen(nn.Dense(1), optjax.sgd(0.1), rng=0),
            TypeError,
            "sample_input",
        ),
        (
            lambda: TrainState.from_linen(nn.Dense(1), optjax.sgd(0.1), rng=0, sample_input=None),
            TypeError,
            "sample_input is required",
        ),
        (
            lambda: TrainState.from_linen(nn.Dense(1), optjax.sgd(0.1), rng="0", sample_input=X),
            TypeError,
            "rng must be an int seed or a PRNG key",
        ),
        (lambda: TrainState.from_nnx(nn.Dense(1), optjax.sgd(0.1)), TypeError, "flax.nnx.Module"),
        (lambda: make_eval_step(), ValueError, "loss_fn, a metrics_fn or both"),
        (
            lambda: KEEP_STEP(build("linen", "linear", optjax.sgd(0.1)), (X, Y)),
            TypeError,
            "batch must be a dict",
        ),
        (
            lambda: make_eval_step(mse, lambda o, b: {"loss": 0.0})(
                build("linen", "linear", optjax.sgd(0.1)), BATCH
            ),
            ValueError,
            "would hide",
        ),
    ],
    ids=[
        "no_sample_input",
        "none_sample_input",
        "bad_rng",
        "linen_to_nnx",
        "empty_eval",
        "tuple_batch",
        "loss_twice",
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_import_optjax_does_not_import_flax():
    code = (
        "import sys, optjax; assert not [m for m in sys.modules if m.split('.')[0] == 'flax'];"
        "import optjax.training; assert 'flax.nnx' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
