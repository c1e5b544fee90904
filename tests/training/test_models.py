"""optjax.training models: shapes, parameter counts, linen/NNX agreement, dropout, training."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import optjax
from optjax.data import load
from optjax.training import MODEL_NAMES, TrainState, make_model, make_train_step

KINDS = ["linen", "nnx"]

# name -> (input_shape, make_model kwargs, expected output width, closed-form parameter count)
CASES = {
    "linear": ((5,), {"out_features": 2}, 2, 5 * 2 + 2),
    "logistic": ((4,), {"num_classes": 3}, 3, 4 * 3 + 3),
    "mlp": (
        (8, 8, 1),
        {"num_classes": 10, "hidden_sizes": (128,)},
        10,
        64 * 128 + 128 + 128 * 10 + 10,
    ),
    "mlp2": (
        (6,),
        {"num_classes": 3, "hidden_sizes": (4, 5)},
        3,
        6 * 4 + 4 + 4 * 5 + 5 + 5 * 3 + 3,
    ),
    "cnn": (
        (8, 8, 1),
        {"num_classes": 10, "features": (4, 6)},
        10,
        (9 * 1 * 4 + 4) + (9 * 4 * 6 + 6) + (2 * 2 * 6) * 10 + 10,
    ),
    # Odd sizes: 'SAME' convs keep 7x5, the pools floor to 3x2 then 1x1.
    "cnn_odd": (
        (7, 5, 2),
        {"num_classes": 3, "features": (3, 4)},
        3,
        (9 * 2 * 3 + 3) + (9 * 3 * 4 + 4) + (1 * 1 * 4) * 3 + 3,
    ),
}


def _model_name(case: str) -> str:
    return case.rstrip("0123456789").removesuffix("_odd")


def _build(case: str, kind: str, **extra):
    shape, kwargs, _, _ = CASES[case]
    model = make_model(_model_name(case), kind=kind, input_shape=shape, **kwargs, **extra)
    x = jax.random.normal(jax.random.key(1), (3, *shape))
    if kind == "linen":
        state = TrainState.from_linen(model, optjax.sgd(0.1), rng=0, sample_input=x)
    else:
        state = TrainState.from_nnx(model, optjax.sgd(0.1))
    return model, state, x


def _count(tree) -> int:
    return sum(leaf.size for leaf in jax.tree.leaves(tree))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_output_shape_and_parameter_count(case, kind):
    _, state, x = _build(case, kind)
    outputs, _ = state.apply_model(state.params, x, train=False)
    assert outputs.shape == (3, CASES[case][2])
    assert outputs.dtype == jnp.float32
    assert _count(state.params) == CASES[case][3]


@pytest.mark.parametrize("case", sorted(CASES))
def test_linen_and_nnx_agree_given_the_same_weights(case):
    linen_model, linen_state, x = _build(case, "linen")
    nnx_model = make_model(
        _model_name(case), kind="nnx", input_shape=CASES[case][0], **CASES[case][1], seed=7
    )
    # Same parameter tree: the linen params drop straight into the NNX module.
    _, params = nnx.split(nnx_model, nnx.Param)
    assert jax.tree.structure(nnx.to_pure_dict(params)) == jax.tree.structure(linen_state.params)
    nnx.replace_by_pure_dict(params, linen_state.params)
    nnx.update(nnx_model, params)
    expected = linen_model.apply({"params": linen_state.params}, x)
    np.testing.assert_allclose(nnx_model(x), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_dropout_only_in_train_mode(name, kind):
    _, state, x = _build(name, kind, dropout_rate=0.5)
    eval_a, _ = state.apply_model(state.params, x, train=False)
    eval_b, _ = state.apply_model(state.params, x, train=False)
    train_a, _ = state.apply_model(state.params, x, train=True, rng=jax.random.key(0))
    train_b, _ = state.apply_model(state.params, x, train=True, rng=jax.random.key(1))
    np.testing.assert_array_equal(eval_a, eval_b)
    assert not np.allclose(train_a, eval_a)
    assert not np.allclose(train_a, train_b)


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_dropout_rate_does_not_change_the_weights_a_seed_gives(name):
    shape = (8, 8, 1)
    plain = make_model(name, input_shape=shape, num_classes=10, seed=3)
    dropped = make_model(name, input_shape=shape, num_classes=10, seed=3, dropout_rate=0.5)
    want, got = nnx.state(plain, nnx.Param), nnx.state(dropped, nnx.Param)
    assert jax.tree.structure(want) == jax.tree.structure(got)
    for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(got)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_train_steps_lower_the_loss_on_digits(name, kind):
    data = load("digits")
    x, y = jnp.asarray(data.x[:32]), jnp.asarray(data.y[:32])
    options = {"hidden_sizes": (16,)} if name == "mlp" else {"features": (4, 8)}
    model = make_model(
        name, kind=kind, input_shape=x.shape[1:], num_classes=10, dropout_rate=0.1, **options
    )
    tx = optjax.adam(1e-2)
    if kind == "linen":
        state = TrainState.from_linen(model, tx, rng=0, sample_input=x)
    else:
        state = TrainState.from_nnx(model, tx)

    def loss_fn(logits, batch):
        return optjax.losses.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()

    step = make_train_step(loss_fn)
    losses = []
    for _ in range(5):
        state, logs = step(state, {"x": x, "y": y})
        losses.append(float(logs["loss"]))
    assert losses[-1] < losses[0], losses


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("resnet", {"input_shape": (4,), "num_classes": 3}, "linear, logistic, mlp, cnn"),
        ("cnn", {"input_shape": (4,), "num_classes": 3}, r"input shape \(4,\).*\(height"),
        ("cnn", {"input_shape": (8, 8), "num_classes": 3}, "add a channel axis"),
        ("cnn", {"input_shape": (2, 2, 1), "num_classes": 3}, "at least 4"),
        ("cnn", {"input_shape": (8, 8, 1), "num_classes": 3, "features": (4,) * 4}, "16"),
        ("mlp", {"input_shape": (4,)}, "num_classes is required"),
        ("mlp", {"input_shape": (4,), "num_classes": 0}, "num_classes"),
        ("mlp", {"input_shape": (), "num_classes": 3}, "at least one axis"),
        ("mlp", {"input_shape": (4, 0), "num_classes": 3}, "input_shape"),
        ("mlp", {"input_shape": (4,), "num_classes": 3, "dropout_rate": 1.0}, "dropout_rate"),
        ("mlp", {"input_shape": (4,), "num_classes": 3, "hidden_sizes": 8}, "hidden_sizes"),
        ("linear", {"input_shape": (4,), "num_classes": 3}, "out_features"),
        ("linear", {"input_shape": (4,), "out_features": -1}, "out_features"),
        ("logistic", {"input_shape": (4,), "num_classes": 2, "kind": "keras"}, "kind"),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
def test_bad_arguments_raise_value_error(name, kwargs, match, kind):
    kwargs = {"kind": kind, **kwargs}
    with pytest.raises(ValueError, match=match):
        make_model(name, **kwargs)


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_option_raises_type_error(kind):
    with pytest.raises(TypeError):
        make_model("mlp", kind=kind, input_shape=(4,), num_classes=3, width=5)


@pytest.mark.parametrize("kind", KINDS)
def test_cnn_called_on_flat_input_names_the_shape(kind):
    model = make_model("cnn", kind=kind, input_shape=(8, 8, 1), num_classes=3, features=(2,))
    flat = jnp.ones((2, 64))
    with pytest.raises(ValueError, match=r"\(2, 64\)"):
        if kind == "linen":
            model.init(jax.random.key(0), flat)
        else:
            model(flat)


def test_model_names():
    assert MODEL_NAMES == ("linear", "logistic", "mlp", "cnn")
