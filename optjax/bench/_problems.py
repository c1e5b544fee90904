"""The convergence-suite problems: each a loss, a held-out metric and a target.

Every problem is pure JAX (params are dicts of arrays) so that a whole grid of
learning rates and seeds trains at once under ``jax.vmap``.
"""

from __future__ import annotations

import dataclasses
import functools
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from optjax.bench import _transformer


@dataclasses.dataclass(frozen=True)
class Problem:
    """A loss to minimise, a metric with a target, and a step budget.

    Attributes:
      name: short name.
      init: ``seed (int array) -> params``.
      loss: ``(params, key) -> scalar`` training loss (``key`` picks a minibatch).
      metric: ``params -> scalar`` evaluated every ``eval_every`` steps.
      target: the metric value to reach.
      higher_is_better: ``True`` for accuracies, ``False`` for losses.
      max_steps: step budget (full run); ``quick_steps`` for ``--quick``.
      eval_every: steps between metric evaluations (steps-to-target resolution).
      describe: one line for the README and the JSON.
    """

    name: str
    init: Callable[[jax.Array], Any]
    loss: Callable[[Any, jax.Array], jax.Array]
    metric: Callable[[Any], jax.Array]
    target: float
    higher_is_better: bool
    max_steps: int
    quick_steps: int
    eval_every: int
    describe: str

    def reached(self, value: Any) -> Any:
        """Whether ``value`` meets the target (elementwise)."""
        return value >= self.target if self.higher_is_better else value <= self.target


def _rosenbrock() -> Problem:
    def loss(x, key):
        del key
        return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2

    def init(seed):
        return jnp.array([-1.2, 1.0]) + 0.1 * jax.random.normal(jax.random.key(seed), (2,))

    return Problem("rosenbrock", init, loss, lambda x: loss(x, None), 1e-3, False, 20000, 5000,
                   100, "2-d Rosenbrock from (-1.2, 1) + 0.1 N(0, I); "
                   "target loss <= 1e-3")  # fmt: skip


def _quadratic() -> Problem:
    d = 100
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(d, d)))
    eig = np.logspace(0.0, 4.0, d)
    a = jnp.asarray((q * eig) @ q.T, jnp.float32)
    scale = float(0.5 * eig.sum())  # E f(x0) for x0 ~ N(0, I)

    def loss(x, key):
        del key
        return 0.5 * x @ (a @ x) / scale

    def init(seed):
        return jax.random.normal(jax.random.key(seed), (d,))

    return Problem("quadratic", init, loss, lambda x: loss(x, None), 1e-3, False, 10000, 3000, 100,
                   "0.5 x'Ax / E f(x0), d=100, eigenvalues logspace(0, 4) (cond 1e4), "
                   "x0 ~ N(0, I); target <= 1e-3")  # fmt: skip


@functools.cache
def _table(name: str):
    from optjax import data

    train, test = data.train_test_split(data.load(name, seed=0), 0.2, seed=0)
    if name != "digits":
        (train, test), _ = data.standardize(train, test)
    return (jnp.asarray(train.x), jnp.asarray(train.y), jnp.asarray(test.x),
            jnp.asarray(test.y), train.num_classes)  # fmt: skip


def _dense(key, n_in, n_out):
    return {"w": jax.random.normal(key, (n_in, n_out)) * np.sqrt(1.0 / n_in),
            "b": jnp.zeros((n_out,))}  # fmt: skip


def _classifier(name, dataset, apply, init, target, steps, quick, every, describe, batch=64):
    xtr, ytr, xte, yte, _ = _table(dataset)

    def loss(params, key):
        idx = jax.random.randint(key, (batch,), 0, xtr.shape[0])
        logits = apply(params, xtr[idx])
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, ytr[idx][:, None], axis=-1))

    def metric(params):
        return jnp.mean(jnp.argmax(apply(params, xte), axis=-1) == yte)

    return Problem(name, init, loss, metric, target, True, steps, quick, every, describe)


def _logistic() -> Problem:
    def init(seed):
        return _dense(jax.random.key(seed), 30, 2)

    def apply(p, x):
        return x @ p["w"] + p["b"]

    return _classifier("logistic", "breast_cancer", apply, init, 0.96, 1000, 500, 25,
                       "logistic regression, breast cancer (standardized), batch 64; "
                       "target held-out accuracy >= 0.96")  # fmt: skip


def _mlp() -> Problem:
    def init(seed):
        k1, k2 = jax.random.split(jax.random.key(seed))
        return {"h": _dense(k1, 64, 64), "o": _dense(k2, 64, 10)}

    def apply(p, x):
        h = jax.nn.relu(x.reshape(x.shape[0], -1) @ p["h"]["w"] + p["h"]["b"])
        return h @ p["o"]["w"] + p["o"]["b"]

    return _classifier("mlp", "digits", apply, init, 0.95, 2000, 800, 50,
                       "MLP 64-64-10 on digits, batch 64; "
                       "target held-out accuracy >= 0.95")  # fmt: skip


def _cnn() -> Problem:
    def init(seed):
        k1, k2 = jax.random.split(jax.random.key(seed))
        conv = jax.random.normal(k1, (3, 3, 1, 8)) * np.sqrt(1.0 / 9)
        return {"conv": conv, "cb": jnp.zeros((8,)), "o": _dense(k2, 4 * 4 * 8, 10)}

    def apply(p, x):
        h = jax.lax.conv_general_dilated(x, p["conv"], (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))  # fmt: skip
        h = jax.nn.relu(h + p["cb"])
        h = h.reshape(h.shape[0], 4, 2, 4, 2, 8).max(axis=(2, 4))
        return h.reshape(h.shape[0], -1) @ p["o"]["w"] + p["o"]["b"]

    return _classifier("cnn", "digits", apply, init, 0.95, 1500, 600, 50,
                       "CNN conv3x3x8-maxpool2-dense on digits, batch 64; "
                       "target held-out accuracy >= 0.95")  # fmt: skip


CONTEXT = 64


@functools.cache
def stdlib_text(max_bytes: int = 400_000) -> np.ndarray:
    """Bytes of Python standard-library source files (always present), as uint8."""
    root = Path(sysconfig.get_paths()["stdlib"])
    chunks, total = [], 0
    for name in (
        "textwrap.py",
        "argparse.py",
        "pathlib.py",
        "functools.py",
        "inspect.py",
        "dataclasses.py",
        "typing.py",
        "collections/__init__.py",
        "json/encoder.py",
    ):
        path = root / name
        if path.is_file():
            raw = path.read_bytes()
            chunks.append(raw)
            total += len(raw)
        if total >= max_bytes:
            break
    if not chunks:  # source-less installs: fall back to this module's own text
        chunks.append(Path(__file__).read_bytes())
    return np.frombuffer(b"".join(chunks)[:max_bytes], np.uint8)


def _char_lm() -> Problem:
    text = stdlib_text()
    split = int(0.9 * len(text))
    train, held = jnp.asarray(text[:split], jnp.int32), jnp.asarray(text[split:], jnp.int32)
    graphdef, _ = _transformer.build(vocab=256, width=64, layers=2, heads=4, context=CONTEXT)
    starts = jnp.arange(0, held.shape[0] - CONTEXT - 1, (held.shape[0] - CONTEXT - 1) // 32)[:32]
    held_batch = jax.vmap(lambda s: jax.lax.dynamic_slice(held, (s,), (CONTEXT + 1,)))(starts)

    def init(seed):
        return _params_for(seed)

    def loss(params, key):
        s = jax.random.randint(key, (16,), 0, train.shape[0] - CONTEXT - 1)
        batch = jax.vmap(lambda i: jax.lax.dynamic_slice(train, (i,), (CONTEXT + 1,)))(s)
        return _transformer.lm_loss(graphdef, params, batch)

    def metric(params):
        return _transformer.lm_loss(graphdef, params, held_batch)

    return Problem("char_lm", init, loss, metric, 2.5, False, 1500, 300, 50,
                   "char-level transformer LM (2 blocks, width 64, context 64, batch 16) on "
                   "Python stdlib source; target held-out loss <= 2.5 nats/char")  # fmt: skip


def _params_for(seed: Any) -> Any:
    # Seeds arrive traced under vmap, and the nnx constructor needs a concrete int:
    # build the model once, then redraw every matrix leaf from a normal with that
    # leaf's standard deviation (so fan-in scaling is kept); vectors (biases,
    # norm scales) stay at their initial values.
    _, base = _transformer.build(vocab=256, width=64, layers=2, heads=4, context=CONTEXT)
    leaves, treedef = jax.tree.flatten(base)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    out = []
    for k, leaf in zip(keys, leaves, strict=True):
        if leaf.ndim >= 2:
            std = jnp.std(leaf)
            out.append(jax.random.normal(k, leaf.shape, leaf.dtype) * std)
        else:
            out.append(leaf)
    return jax.tree.unflatten(treedef, out)


PROBLEMS: dict[str, Callable[[], Problem]] = {
    "rosenbrock": _rosenbrock,
    "quadratic": _quadratic,
    "logistic": _logistic,
    "mlp": _mlp,
    "cnn": _cnn,
    "char_lm": _char_lm,
}
