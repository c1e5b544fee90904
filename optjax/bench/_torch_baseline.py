"""The PyTorch loop of ``optjax bench fit``: the same model, weights, data order and Adam.

For each tutorial workload this builds the ``torch.nn`` twin of
:func:`optjax.training.make_model`'s NNX model and copies the NNX model's
initial weights into it, so both libraries start from the same point:

=============  ==============================================================
``linear``     ``Flatten, Linear(d, 1)``
``logistic``   ``Flatten, Linear(d, k)``
``mlp``        ``Flatten, Linear(d, 128), ReLU, Linear(128, k)``
``cnn``        ``[Conv2d(3x3, padding 1), ReLU, MaxPool2d(2)] x 2, Flatten, Linear``
=============  ==============================================================

Flax stores a dense kernel as ``(in, out)`` and a convolution kernel as
``(height, width, in, out)`` on ``NHWC`` images; PyTorch wants ``(out, in)``
and ``(out, in, height, width)`` on ``NCHW`` images. The CNN's images are
transposed once, before training, and the rows of its last dense kernel are
permuted from Flax's ``(h, w, c)`` flattening order to PyTorch's ``(c, h, w)``,
so the two networks compute the same function.

The loop is the one a PyTorch user writes: the whole training set as
in-memory tensors, ``torch.optim.Adam`` with PyTorch's defaults (which are
Optax's: ``b1=0.9``, ``b2=0.999``, ``eps=1e-8``), and per batch of the shared
permutation ``zero_grad``, forward, ``backward``, ``step`` and
``loss.item()`` for the running epoch loss. Two settings are left to the
caller, because the fastest choice depends on the machine: the intra-op
threads (``torch.set_num_threads``: all cores, or 1, which on a small, busy
machine can be several times faster, since PyTorch's OpenMP threads spin
while they wait for a core), and Adam's implementation (the default
per-parameter loop, or ``fused=True``, on the CPU since PyTorch 2.4).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np


def status() -> str | None:
    """``None`` when ``import torch`` works, else why the PyTorch loop is skipped."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return "torch not installed"
    return None


def version() -> str:
    """PyTorch's version (torch must be installed)."""
    import torch

    return torch.__version__


def _dense(torch: Any, kernel: np.ndarray, bias: np.ndarray) -> Any:
    layer = torch.nn.Linear(kernel.shape[0], kernel.shape[1])
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.T)))
        layer.bias.copy_(torch.from_numpy(bias))
    return layer


def _conv(torch: Any, kernel: np.ndarray, bias: np.ndarray) -> Any:
    height, width, channels_in, channels_out = kernel.shape
    layer = torch.nn.Conv2d(
        channels_in, channels_out, (height, width), padding=(height // 2, width // 2)
    )
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))))
        layer.bias.copy_(torch.from_numpy(bias))
    return layer


def torch_model(name: str, params: dict[str, Any], example_shape: tuple[int, ...]) -> Any:
    """The ``torch.nn`` twin of ``make_model(name)``, holding the NNX ``params``' values.

    Args:
      name: ``"linear"``, ``"logistic"``, ``"mlp"`` or ``"cnn"``.
      params: the NNX model's parameters as a pure dict of arrays
        (``nnx.to_pure_dict(nnx.state(model, nnx.Param))``).
      example_shape: one input example's shape in Flax's layout, e.g.
        ``(8, 8, 1)`` for digits.
    """
    import torch

    params = {layer: {k: np.array(v, np.float32) for k, v in p.items()}
              for layer, p in params.items()}  # fmt: skip
    layers: list[Any] = []
    if name == "cnn":
        height, width, _ = example_shape
        convs = sorted((k for k in params if k.startswith("conv_")), key=lambda k: int(k[5:]))
        for key in convs:
            layers += [_conv(torch, params[key]["kernel"], params[key]["bias"]),
                       torch.nn.ReLU(), torch.nn.MaxPool2d(2, 2)]  # fmt: skip
            height, width = height // 2, width // 2
        channels = params[convs[-1]]["kernel"].shape[-1]
        kernel = params["out"]["kernel"]  # rows in Flax's (h, w, c) order
        kernel = kernel.reshape(height, width, channels, -1).transpose(2, 0, 1, 3)
        layers += [torch.nn.Flatten(),
                   _dense(torch, kernel.reshape(height * width * channels, -1),
                          params["out"]["bias"])]  # fmt: skip
    else:
        layers.append(torch.nn.Flatten())
        hidden = sorted((k for k in params if k.startswith("hidden_")), key=lambda k: int(k[7:]))
        for key in hidden:
            layers += [_dense(torch, params[key]["kernel"], params[key]["bias"]), torch.nn.ReLU()]
        layers.append(_dense(torch, params["out"]["kernel"], params["out"]["bias"]))
    return torch.nn.Sequential(*layers)


def time_torch_loop(
    name: str,
    params: dict[str, Any],
    x: np.ndarray,
    y: np.ndarray,
    *,
    task: str,
    learning_rate: float,
    batch_size: int,
    epochs: int,
    threads: int | None = None,
    fused: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Trains the PyTorch twin for ``epochs``; per-epoch seconds and mean training losses.

    ``threads`` is PyTorch's intra-op thread count for the run (restored
    after); ``None`` uses every core (``os.cpu_count()``). ``fused`` selects
    ``torch.optim.Adam(fused=True)``; a PyTorch without it raises
    ``RuntimeError`` or ``TypeError``.

    Batch ``j`` of epoch ``e`` holds the examples
    ``permutation(n)[j B : (j + 1) B]`` of ``numpy.random.default_rng((seed, e))``,
    the order of ``optjax.training.fit(seed=seed)``, the last batch short
    when ``B`` does not divide ``n``.

    Returns:
      ``{"seconds": [...], "epoch_losses": [...], "threads": int}``: the
      wall time and the example-weighted mean loss of each epoch.
    """
    import torch
    import torch.nn.functional as F

    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads or os.cpu_count() or 1)
    try:
        torch.manual_seed(seed)
        model = torch_model(name, params, tuple(x.shape[1:]))
        inputs = torch.from_numpy(np.ascontiguousarray(x, np.float32))
        if name == "cnn":  # NHWC -> NCHW, once
            inputs = inputs.permute(0, 3, 1, 2).contiguous()
        if task == "classification":
            targets = torch.from_numpy(np.asarray(y, np.int64))
            loss_fn = F.cross_entropy
        else:
            targets = torch.from_numpy(np.asarray(y, np.float32))
            loss_fn = lambda out, target: F.mse_loss(out.reshape(target.shape), target)  # noqa: E731
        extra = {"fused": True} if fused else {}
        optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, **extra)
        model.train()
        n = len(targets)
        seconds, epoch_losses = [], []
        for epoch in range(epochs):
            start = time.perf_counter()
            order = torch.from_numpy(np.random.default_rng((seed, epoch)).permutation(n))
            total = 0.0
            for first in range(0, n, batch_size):
                index = order[first : first + batch_size]
                x_batch, y_batch = inputs[index], targets[index]
                optimizer.zero_grad()
                loss = loss_fn(model(x_batch), y_batch)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(index)
            seconds.append(time.perf_counter() - start)
            epoch_losses.append(total / n)
        return {"seconds": seconds, "epoch_losses": epoch_losses,
                "threads": torch.get_num_threads()}  # fmt: skip
    finally:
        torch.set_num_threads(threads_before)
