"""The tutorial models, each in ``flax.linen`` and ``flax.nnx``, and a factory for them.

Four models cover the tutorial datasets of :mod:`optjax.data`: ``"linear"``
(linear regression, for ``diabetes``), ``"logistic"`` (logistic regression, for
``iris`` and ``breast_cancer``), ``"mlp"`` and ``"cnn"`` (for ``digits``). Each
exists twice, as a linen module (``Linen*``, ``__call__(x, train=False)``) and
as an NNX module (``Nnx*``, built from the input shape and an ``nnx.Rngs``;
dropout follows ``model.train()`` / ``model.eval()``, which
:class:`~optjax.training.TrainState` sets on every call). The two versions of a
model have the same parameter tree (the same names and shapes), so weights
move between them with :func:`flax.nnx.replace_by_pure_dict`.

Every model flattens its input per example, except the CNN, which needs images
``(batch, height, width, channels)``. Outputs are ``(batch, outputs)``: logits
for the classifiers, predictions for linear regression (not squeezed, so the
targets of a single-output regression should be ``(batch, 1)`` too).

Any other Flax model works the same way: pass your own linen module to
:meth:`TrainState.from_linen` or your own NNX module to
:meth:`TrainState.from_nnx`; nothing here is required.

Examples:
  >>> import jax.numpy as jnp
  >>> from flax import nnx
  >>> import optjax
  >>> from optjax.training import TrainState, make_model
  >>> model = make_model("mlp", input_shape=(8, 8, 1), num_classes=10, hidden_sizes=(16,))
  >>> state = TrainState.from_nnx(model, optjax.adam(1e-3))
  >>> state.params["out"]["kernel"].shape
  (16, 10)
  >>> class Tiny(nnx.Module):  # your own model
  ...     def __init__(self, rngs):
  ...         self.dense = nnx.Linear(3, 2, rngs=rngs)
  ...     def __call__(self, x):
  ...         return self.dense(x)
  >>> state = TrainState.from_nnx(Tiny(nnx.Rngs(0)), optjax.sgd(0.1))
  >>> sorted(state.params["dense"])
  ['bias', 'kernel']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import nnx

MODEL_NAMES = ("linear", "logistic", "mlp", "cnn")
_KINDS = ("linen", "nnx")


# Validation shared by the constructors and the factory, so a bad argument
# fails when the model is built, not inside a traced step.


def _check_count(where: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: {name} must be a positive int, got {value!r}.")
    return value


def _check_counts(where: str, name: str, values: Any) -> tuple[int, ...]:
    if isinstance(values, int) or not isinstance(values, Sequence):
        raise ValueError(f"{where}: {name} must be a sequence of positive ints, got {values!r}.")
    return tuple(_check_count(where, name, v) for v in values)


def _check_rate(where: str, rate: Any) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
        raise ValueError(f"{where}: dropout_rate must be in [0, 1), got {rate!r}.")
    return float(rate)


def _check_image_shape(where: str, shape: Any, features: Sequence[int]) -> tuple[int, ...]:
    shape = _check_counts(where, "in_shape", shape)
    smallest = 2 ** len(features)
    if len(shape) != 3 or min(shape[:2]) < smallest:
        hint = " (add a channel axis: x[..., None])" if len(shape) == 2 else ""
        raise ValueError(
            f"{where}: input shape {shape} does not fit a CNN, which expects images "
            f"(height, width, channels) per example with height and width at least "
            f"{smallest}, e.g. (8, 8, 1) for digits{hint}."
        )
    return shape


def _pooled(size: int, times: int) -> int:
    # A 2x2 max-pool with stride 2 and 'VALID' padding floors odd sizes.
    for _ in range(times):
        size //= 2
    return size


def _flatten(x: jax.Array) -> jax.Array:
    return jnp.reshape(x, (x.shape[0], -1))


def _check_images(where: str, x: jax.Array) -> None:
    if jnp.ndim(x) != 4:
        raise ValueError(
            f"{where}: expected images of shape (batch, height, width, channels), got an "
            f"input of shape {jnp.shape(x)}."
        )


# --- flax.linen --------------------------------------------------------------


class LinenLinearRegression(nn.Module):
    """Linear regression :math:`y = x W + b` on the flattened input (``flax.linen``).

    .. math::

        \\hat y = \\mathrm{flatten}(x)\\, W + b, \\qquad W \\in \\mathbb{R}^{d \\times o}

    Attributes:
      out_features: the number of outputs :math:`o`. The output has shape
        ``(batch, out_features)``; it is not squeezed.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> from optjax.training import LinenLinearRegression
      >>> model = LinenLinearRegression()
      >>> variables = model.init(jax.random.key(0), jnp.ones((2, 3)))
      >>> model.apply(variables, jnp.ones((2, 3))).shape
      (2, 1)
    """

    out_features: int = 1

    def __post_init__(self):
        _check_count("LinenLinearRegression", "out_features", self.out_features)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        del train  # No train-time behaviour; accepted for a uniform call.
        return nn.Dense(self.out_features, name="out")(_flatten(x))


class LinenLogisticRegression(nn.Module):
    """Logistic (softmax) regression: one dense layer to class logits (``flax.linen``).

    .. math::

        \\mathrm{logits} = \\mathrm{flatten}(x)\\, W + b, \\qquad
        W \\in \\mathbb{R}^{d \\times k}

    Train with :func:`optjax.losses.softmax_cross_entropy_with_integer_labels`;
    for a binary problem with one logit (``num_classes=1``) use
    :func:`optjax.losses.sigmoid_binary_cross_entropy`.

    Attributes:
      num_classes: the number of logits :math:`k` (1 for a single binary
        logit).

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> from optjax.training import LinenLogisticRegression
      >>> model = LinenLogisticRegression(num_classes=3)
      >>> variables = model.init(jax.random.key(0), jnp.ones((2, 4)))
      >>> model.apply(variables, jnp.ones((2, 4))).shape
      (2, 3)
    """

    num_classes: int

    def __post_init__(self):
        _check_count("LinenLogisticRegression", "num_classes", self.num_classes)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        del train
        return nn.Dense(self.num_classes, name="out")(_flatten(x))


class LinenMLP(nn.Module):
    """A multilayer perceptron with ReLU hidden layers and optional dropout (``flax.linen``).

    .. math::

        h_0 = \\mathrm{flatten}(x), \\qquad
        h_i = \\mathrm{dropout}(\\mathrm{relu}(h_{i-1} W_i + b_i)), \\qquad
        \\mathrm{logits} = h_L W_{out} + b_{out}

    Dropout is applied after each hidden layer, only when called with
    ``train=True`` (it then needs a ``"dropout"`` rng, which
    :class:`~optjax.training.TrainState` supplies).

    Attributes:
      num_classes: the number of logits.
      hidden_sizes: the widths of the hidden layers (named ``hidden_0``, ...).
      dropout_rate: the probability of dropping a hidden unit in training.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> from optjax.training import LinenMLP
      >>> model = LinenMLP(num_classes=10, hidden_sizes=(8,))
      >>> variables = model.init(jax.random.key(0), jnp.ones((2, 8, 8, 1)))
      >>> model.apply(variables, jnp.ones((2, 8, 8, 1))).shape
      (2, 10)
    """

    num_classes: int
    hidden_sizes: Sequence[int] = (128,)
    dropout_rate: float = 0.0

    def __post_init__(self):
        _check_count("LinenMLP", "num_classes", self.num_classes)
        _check_counts("LinenMLP", "hidden_sizes", self.hidden_sizes)
        _check_rate("LinenMLP", self.dropout_rate)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        h = _flatten(x)
        for i, width in enumerate(self.hidden_sizes):
            h = nn.relu(nn.Dense(width, name=f"hidden_{i}")(h))
            if self.dropout_rate > 0:
                h = nn.Dropout(self.dropout_rate, deterministic=not train)(h)
        return nn.Dense(self.num_classes, name="out")(h)


class LinenCNN(nn.Module):
    """A small convolutional classifier for images (``flax.linen``).

    Each block is a 3x3 convolution ('SAME' padding), a ReLU and a 2x2
    max-pool with stride 2, which halves height and width (8x8 digits: 8, 4,
    2); the result is flattened, optionally dropped out in training, and one
    dense layer gives the logits.

    .. math::

        h_0 = x, \\qquad h_i = \\mathrm{maxpool}(\\mathrm{relu}(\\mathrm{conv}_i(h_{i-1}))),
        \\qquad \\mathrm{logits} = \\mathrm{dropout}(\\mathrm{flatten}(h_L))\\, W + b

    Attributes:
      num_classes: the number of logits.
      features: the channels of each convolution (named ``conv_0``, ...).
      dropout_rate: the dropout probability before the dense layer, active
        only with ``train=True``.

    Raises:
      ValueError: when called on an input that is not ``(batch, height,
        width, channels)``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> from optjax.training import LinenCNN
      >>> model = LinenCNN(num_classes=10, features=(4, 8))
      >>> variables = model.init(jax.random.key(0), jnp.ones((2, 8, 8, 1)))
      >>> model.apply(variables, jnp.ones((2, 8, 8, 1))).shape
      (2, 10)
    """

    num_classes: int
    features: Sequence[int] = (16, 32)
    dropout_rate: float = 0.0

    def __post_init__(self):
        _check_count("LinenCNN", "num_classes", self.num_classes)
        _check_counts("LinenCNN", "features", self.features)
        _check_rate("LinenCNN", self.dropout_rate)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        _check_images("LinenCNN", x)
        for i, channels in enumerate(self.features):
            x = nn.Conv(channels, (3, 3), padding="SAME", name=f"conv_{i}")(x)
            x = nn.max_pool(nn.relu(x), (2, 2), strides=(2, 2))
        x = _flatten(x)
        if self.dropout_rate > 0:
            x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        return nn.Dense(self.num_classes, name="out")(x)


# --- flax.nnx ----------------------------------------------------------------


class NnxLinearRegression(nnx.Module):
    """Linear regression on the flattened input (``flax.nnx``); see :class:`LinenLinearRegression`.

    .. math::

        \\hat y = \\mathrm{flatten}(x)\\, W + b

    Args:
      in_features: the number of input features per example (the product of
        the per-example shape).
      out_features: the number of outputs; the output is ``(batch,
        out_features)``.
      rngs: the NNX rngs used to initialize the weights.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> from optjax.training import NnxLinearRegression
      >>> NnxLinearRegression(3, rngs=nnx.Rngs(0))(jnp.ones((2, 3))).shape
      (2, 1)
    """

    def __init__(self, in_features: int, out_features: int = 1, *, rngs: nnx.Rngs):
        _check_count("NnxLinearRegression", "in_features", in_features)
        _check_count("NnxLinearRegression", "out_features", out_features)
        self.out = nnx.Linear(in_features, out_features, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.out(_flatten(x))


class NnxLogisticRegression(nnx.Module):
    """Logistic (softmax) regression (``flax.nnx``); see :class:`LinenLogisticRegression`.

    .. math::

        \\mathrm{logits} = \\mathrm{flatten}(x)\\, W + b

    Args:
      in_features: the number of input features per example.
      num_classes: the number of logits (1 for a single binary logit).
      rngs: the NNX rngs used to initialize the weights.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> from optjax.training import NnxLogisticRegression
      >>> NnxLogisticRegression(4, 3, rngs=nnx.Rngs(0))(jnp.ones((2, 4))).shape
      (2, 3)
    """

    def __init__(self, in_features: int, num_classes: int, *, rngs: nnx.Rngs):
        _check_count("NnxLogisticRegression", "in_features", in_features)
        _check_count("NnxLogisticRegression", "num_classes", num_classes)
        self.out = nnx.Linear(in_features, num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.out(_flatten(x))


class NnxMLP(nnx.Module):
    """A ReLU multilayer perceptron with optional dropout (``flax.nnx``); see :class:`LinenMLP`.

    .. math::

        h_i = \\mathrm{dropout}(\\mathrm{relu}(h_{i-1} W_i + b_i)), \\qquad
        \\mathrm{logits} = h_L W_{out} + b_{out}

    Dropout follows the module's mode: active after ``model.train()`` (NNX's
    default for a new module), off after ``model.eval()``.
    :class:`~optjax.training.TrainState` sets the mode on every call.

    Args:
      in_features: the number of input features per example.
      num_classes: the number of logits.
      hidden_sizes: the widths of the hidden layers (``hidden_0``, ...).
      dropout_rate: the probability of dropping a hidden unit in training.
      rngs: the NNX rngs for the weights and the dropout stream.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> from optjax.training import NnxMLP
      >>> NnxMLP(64, 10, hidden_sizes=(8,), rngs=nnx.Rngs(0))(jnp.ones((2, 8, 8, 1))).shape
      (2, 10)
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden_sizes: Sequence[int] = (128,),
        dropout_rate: float = 0.0,
        *,
        rngs: nnx.Rngs,
    ):
        _check_count("NnxMLP", "in_features", in_features)
        _check_count("NnxMLP", "num_classes", num_classes)
        self.hidden_sizes = _check_counts("NnxMLP", "hidden_sizes", hidden_sizes)
        rate = _check_rate("NnxMLP", dropout_rate)
        width = in_features
        # Named attributes (not a list) give the linen version's parameter tree.
        for i, size in enumerate(self.hidden_sizes):
            setattr(self, f"hidden_{i}", nnx.Linear(width, size, rngs=rngs))
            width = size
        self.out = nnx.Linear(width, num_classes, rngs=rngs)
        # After every weight, so a dropout rate never changes the weights a seed gives.
        self.dropout = nnx.Dropout(rate, rngs=rngs) if rate > 0 else None

    def __call__(self, x: jax.Array) -> jax.Array:
        h = _flatten(x)
        for i in range(len(self.hidden_sizes)):
            h = nnx.relu(getattr(self, f"hidden_{i}")(h))
            if self.dropout is not None:
                h = self.dropout(h)
        return self.out(h)


class NnxCNN(nnx.Module):
    """A small convolutional classifier for images (``flax.nnx``); see :class:`LinenCNN`.

    .. math::

        h_i = \\mathrm{maxpool}(\\mathrm{relu}(\\mathrm{conv}_i(h_{i-1}))), \\qquad
        \\mathrm{logits} = \\mathrm{dropout}(\\mathrm{flatten}(h_L))\\, W + b

    Args:
      in_shape: the per-example image shape ``(height, width, channels)``;
        height and width must be at least ``2 ** len(features)``.
      num_classes: the number of logits.
      features: the channels of each 3x3 convolution (``conv_0``, ...).
      dropout_rate: the dropout probability before the dense layer, active
        in training mode only.
      rngs: the NNX rngs for the weights and the dropout stream.

    Raises:
      ValueError: when ``in_shape`` is not an image shape large enough for
        the pooling, or when called on an input that is not 4-d.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> from optjax.training import NnxCNN
      >>> model = NnxCNN((8, 8, 1), 10, features=(4, 8), rngs=nnx.Rngs(0))
      >>> model(jnp.ones((2, 8, 8, 1))).shape
      (2, 10)
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        num_classes: int,
        features: Sequence[int] = (16, 32),
        dropout_rate: float = 0.0,
        *,
        rngs: nnx.Rngs,
    ):
        _check_count("NnxCNN", "num_classes", num_classes)
        self.features = _check_counts("NnxCNN", "features", features)
        height, width, channels = _check_image_shape("NnxCNN", in_shape, self.features)
        rate = _check_rate("NnxCNN", dropout_rate)
        for i, size in enumerate(self.features):
            conv = nnx.Conv(channels, size, (3, 3), padding="SAME", rngs=rngs)
            setattr(self, f"conv_{i}", conv)
            channels = size
        n = len(self.features)
        flat = _pooled(height, n) * _pooled(width, n) * channels
        self.out = nnx.Linear(flat, num_classes, rngs=rngs)
        # After every weight, so a dropout rate never changes the weights a seed gives.
        self.dropout = nnx.Dropout(rate, rngs=rngs) if rate > 0 else None

    def __call__(self, x: jax.Array) -> jax.Array:
        _check_images("NnxCNN", x)
        for i in range(len(self.features)):
            x = getattr(self, f"conv_{i}")(x)
            x = nnx.max_pool(nnx.relu(x), (2, 2), strides=(2, 2))
        x = _flatten(x)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.out(x)


# --- factory -----------------------------------------------------------------


def make_model(
    name: str,
    *,
    input_shape: Sequence[int],
    num_classes: int | None = None,
    kind: str = "nnx",
    seed: int = 0,
    **options: Any,
) -> nn.Module | nnx.Module:
    """Builds a tutorial model by name, as an NNX or a linen module.

    ==============  ===============================  ==============================
    ``name``        model                            ``options``
    ==============  ===============================  ==============================
    ``"linear"``    :class:`NnxLinearRegression`     ``out_features=1``
    ``"logistic"``  :class:`NnxLogisticRegression`   none
    ``"mlp"``       :class:`NnxMLP`                  ``hidden_sizes``, ``dropout_rate``
    ``"cnn"``       :class:`NnxCNN`                  ``features``, ``dropout_rate``
    ==============  ===============================  ==============================

    (``kind="linen"`` gives the ``Linen*`` class of the same model.) The
    input shape is checked here, before anything is traced or compiled.

    To train a model of your own instead, skip this function and pass your
    module to :meth:`TrainState.from_nnx` (an ``nnx.Module``) or
    :meth:`TrainState.from_linen` (an ``nn.Module``, with a sample input).

    Args:
      name: ``"linear"``, ``"logistic"``, ``"mlp"`` or ``"cnn"``.
      input_shape: the shape of one example, without the batch axis
        (``dataset.x.shape[1:]``): ``(8, 8, 1)`` for digits, ``(4,)`` for iris.
      num_classes: the number of logits; required by every model but
        ``"linear"``, which takes ``out_features`` instead.
      kind: ``"nnx"`` (an initialized ``nnx.Module``) or ``"linen"`` (an
        uninitialized ``nn.Module``, for :meth:`TrainState.from_linen`).
      seed: the seed of ``nnx.Rngs`` for an NNX model's weights; linen
        modules are initialized later, by ``from_linen(..., rng=...)``.
      **options: the model's options, from the table.

    Returns:
      The module.

    Raises:
      ValueError: for an unknown ``name`` or ``kind``, a missing or
        unexpected ``num_classes``, or an ``input_shape`` the model cannot
        take (a CNN on flat features, say).
      TypeError: for an option the model does not have.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> from optjax.training import TrainState, make_model
      >>> cnn = make_model("cnn", input_shape=(8, 8, 1), num_classes=10, features=(4, 8))
      >>> cnn(jnp.ones((2, 8, 8, 1))).shape
      (2, 10)
      >>> mlp = make_model("mlp", kind="linen", input_shape=(4,), num_classes=3)
      >>> state = TrainState.from_linen(
      ...     mlp, optjax.sgd(0.1), rng=0, sample_input=jnp.ones((2, 4)))
      >>> sorted(state.params)
      ['hidden_0', 'out']
      >>> make_model("cnn", input_shape=(4,), num_classes=3)
      Traceback (most recent call last):
      ...
      ValueError: make_model('cnn'): input shape (4,) does not fit a CNN, ...
    """
    where = f"make_model({name!r})"
    if name not in MODEL_NAMES:
        raise ValueError(
            f"make_model: unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}."
        )
    if kind not in _KINDS:
        raise ValueError(f"{where}: kind must be 'nnx' or 'linen', got {kind!r}.")
    if name == "linear":
        if num_classes is not None:
            raise ValueError(
                f"{where}: linear regression has no classes; set out_features instead of "
                f"num_classes."
            )
    elif num_classes is None:
        raise ValueError(f"{where}: num_classes is required.")
    else:
        _check_count(where, "num_classes", num_classes)
    shape = _check_counts(where, "input_shape", input_shape)
    if not shape:
        raise ValueError(f"{where}: input_shape must have at least one axis, got ().")
    if name == "cnn":
        _check_image_shape(where, shape, options.get("features", (16, 32)))

    if kind == "linen":
        cls = {
            "linear": LinenLinearRegression,
            "logistic": LinenLogisticRegression,
            "mlp": LinenMLP,
            "cnn": LinenCNN,
        }[name]
        args = {} if name == "linear" else {"num_classes": num_classes}
        return cls(**args, **options)

    rngs = nnx.Rngs(seed)
    in_features = math.prod(shape)
    if name == "linear":
        return NnxLinearRegression(in_features, **options, rngs=rngs)
    if name == "logistic":
        return NnxLogisticRegression(in_features, num_classes, **options, rngs=rngs)
    if name == "mlp":
        return NnxMLP(in_features, num_classes, **options, rngs=rngs)
    return NnxCNN(shape, num_classes, **options, rngs=rngs)
