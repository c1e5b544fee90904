"""The learning-rate range test: an exponential learning-rate ramp in one compiled scan."""

from __future__ import annotations

import dataclasses
import functools
import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from optjax import schedules
from optjax.training._evaluate import _arrays
from optjax.training._state import TrainState
from optjax.training._steps import LossFn, train_step_fn


@dataclasses.dataclass
class LRFindResult:
    """What :func:`lr_find` returns: the recorded curve and the suggested learning rates.

    The arrays hold one entry per step run, up to and including
    ``stopped_at`` when the test stopped early.

    Attributes:
      learning_rates: the learning rate of each step (as stored in the
        optimizer state).
      losses: the training loss of each step's batch, before its update.
      smoothed_losses: the bias-corrected exponential moving average of
        ``losses``.
      steepest: the learning rate where the smoothed loss falls fastest per
        unit of :math:`\\log \\eta`, or None when too few steps were recorded.
      valley: the learning rate two thirds into the longest stretch over which
        the smoothed loss keeps decreasing, or None.
      stopped_at: the step at which the smoothed loss exceeded the divergence
        threshold (or the loss stopped being finite), or None when every step
        ran.

    Examples:
      >>> import numpy as np
      >>> from optjax.training import LRFindResult
      >>> r = LRFindResult(np.array([1e-3, 1e-2]), np.ones(2), np.ones(2), None, None, None)
      >>> len(r)
      2
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    steepest: float | None
    valley: float | None
    stopped_at: int | None

    def __len__(self) -> int:
        return len(self.learning_rates)

    def plot(self, path: Any = None, title: str = "", ax: Any = None) -> Any:
        """Draws the loss against the learning rate (log x) with the suggestions marked.

        Args:
          path: where to save a PNG (or any format matplotlib infers from the
            suffix); ``None`` saves nothing.
          title: the axes title (default ``"learning-rate range test"``).
          ax: a matplotlib ``Axes`` to draw on (in a notebook: ``plt.gca()``);
            ``None`` draws on a new figure of its own.

        Returns:
          The ``Axes`` drawn on. pyplot's backend is never changed, so plots in a
          notebook keep showing.
        """
        if ax is None:
            from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone

            ax = Figure(figsize=(6, 4)).add_subplot()
        ax.plot(self.learning_rates, self.losses, alpha=0.3, label="loss")
        ax.plot(self.learning_rates, self.smoothed_losses, label="smoothed loss")
        for name, lr, marker in (("steepest", self.steepest, "o"), ("valley", self.valley, "s")):
            if lr is not None:
                i = int(np.argmin(np.abs(np.log(self.learning_rates) - np.log(lr))))
                ax.plot([lr], [self.smoothed_losses[i]], marker, label=f"{name} {lr:.2g}")
        finite = self.smoothed_losses[np.isfinite(self.smoothed_losses)]
        if finite.size:
            low, high = float(finite.min()), float(finite[0])
            ax.set_ylim(low - 0.1 * abs(low), max(high, low) * 1.5 + 1e-12)
        ax.set(xscale="log", xlabel="learning rate", ylabel="loss",
               title=title or "learning-rate range test")  # fmt: skip
        ax.legend()
        if path is not None:
            ax.figure.tight_layout()
            ax.figure.savefig(path, dpi=100)
        return ax


def _check_injected_lr(state: TrainState) -> None:
    message = (
        "lr_find: the optimizer must keep a constant learning_rate in its state; build "
        "it with optjax.training.make_optimizer(name, lr) or "
        "optjax.inject_hyperparams(factory)(learning_rate=lr)"
    )
    nodes = schedules.find_injected_states(state.opt_state)
    owners = [node for node in nodes if "learning_rate" in node.hyperparams]
    if not owners:
        raise ValueError(message + ".")
    if len(owners) > 1:
        raise ValueError(message + "; this one has several injected learning_rate values.")
    if "learning_rate" in (getattr(owners[0], "hyperparams_states", None) or {}):
        raise ValueError(message + "; here it follows a schedule (use a constant).")


@functools.lru_cache(maxsize=32)
def _runner(loss_fn: LossFn) -> Callable[..., Any]:
    step = train_step_fn(loss_fn)

    def run(state, x_all, y_all, index_NxB, lrs_N, beta, threshold):
        def body(carry, inputs):
            state, avg, best, diverged, i = carry
            index_B, lr = inputs
            state_in = state.replace(
                opt_state=schedules.set_hyperparams(state.opt_state, learning_rate=lr)
            )
            new_state, logs = step(state_in, {"x": x_all[index_B], "y": y_all[index_B]})
            loss = logs["loss"].astype(jnp.float32)
            new_avg = beta * avg + (1 - beta) * loss
            smooth = new_avg / (1 - beta ** (i + 1).astype(jnp.float32))
            new_best = jnp.where(i == 0, smooth, jnp.minimum(best, smooth))
            stop = ~jnp.isfinite(smooth) | (smooth > threshold * new_best)
            used = schedules.get_hyperparams(new_state.opt_state)["learning_rate"]
            # After the step that stops the test, nothing changes any more.
            keep = ~diverged
            state = jax.lax.cond(keep & ~stop, lambda: new_state, lambda: state)
            carry = (
                state,
                jnp.where(keep, new_avg, avg),
                jnp.where(keep, new_best, best),
                diverged | stop,
                i + 1,
            )
            return carry, (used.astype(jnp.float32), loss, smooth, keep)

        init = (state, jnp.float32(0), jnp.float32(jnp.inf), jnp.bool_(False), jnp.int32(0))
        _, outputs = jax.lax.scan(body, init, (index_NxB, lrs_N))
        return outputs

    return jax.jit(run)


def _suggest(lrs: np.ndarray, smoothed: np.ndarray) -> tuple[float | None, float | None]:
    """(steepest, valley) over the recorded points, skipping the first 10%."""
    skip = len(lrs) // 10
    lrs, smoothed = lrs[skip:], smoothed[skip:]
    good = np.isfinite(smoothed)
    lrs, smoothed = lrs[good], smoothed[good]
    if len(lrs) < 3:
        return None, None
    # Central differences over +-h points (h = 5% of the points): single-step differences of
    # the early smoothed loss, an average of only a few batches, are mostly noise.
    h = max(1, len(lrs) // 20)
    if len(lrs) > 2 * h:
        log_lr = np.log(lrs)
        slope = (smoothed[2 * h :] - smoothed[: -2 * h]) / (log_lr[2 * h :] - log_lr[: -2 * h])
        steepest = float(lrs[h + int(np.argmin(slope))])
    else:
        steepest = float(lrs[int(np.argmin(np.gradient(smoothed, np.log(lrs))))])
    # The longest run of consecutive points over which the smoothed loss decreases.
    best_start, best_len, start = 0, 0, 0
    for i in range(1, len(smoothed) + 1):
        if i == len(smoothed) or not smoothed[i] < smoothed[i - 1]:
            if i - 1 - start > best_len:
                best_start, best_len = start, i - 1 - start
            start = i
    valley = float(lrs[best_start + (2 * best_len) // 3]) if best_len > 0 else None
    return steepest, valley


def lr_find(
    state: TrainState,
    train_data: Any,
    *,
    loss_fn: LossFn,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    batch_size: int = 32,
    seed: int = 0,
    smoothing: float = 0.98,
    divergence_threshold: float = 4.0,
) -> LRFindResult:
    """Runs a learning-rate range test: trains with an exponentially growing learning rate.

    Step :math:`i = 0, \\dots, N-1` trains on one batch with

    .. math::

        \\eta_i = \\eta_{\\text{start}}
        \\left(\\frac{\\eta_{\\text{end}}}{\\eta_{\\text{start}}}\\right)^{i/(N-1)},
        \\qquad
        a_i = \\beta a_{i-1} + (1-\\beta)\\,\\ell_i, \\quad
        \\bar\\ell_i = \\frac{a_i}{1-\\beta^{i+1}}

    (:math:`a_{-1} = 0`; :math:`\\ell_i` is the loss of batch :math:`i` before
    its update). The test stops at the first step where
    :math:`\\bar\\ell_i > c \\min_{j \\le i} \\bar\\ell_j` (``c`` =
    ``divergence_threshold``) or the loss is not finite; later steps of the
    one compiled ``lax.scan`` change nothing. The learning rate is written
    into the optimizer state each step with :func:`optjax.set_hyperparams`.
    Batches are the shuffled order of :func:`fit` for ``seed``, epoch after
    epoch, full batches only. ``state`` is not modified.

    Suggestions, computed on the recorded points after the first 10%:

    * ``steepest``: the :math:`\\eta_i` minimizing the slope
      :math:`(\\bar\\ell_{i+h} - \\bar\\ell_{i-h}) / (\\log\\eta_{i+h} - \\log\\eta_{i-h})`,
      a central difference over :math:`h = \\max(1, \\lfloor m/20 \\rfloor)` points
      (:math:`m` points kept), which averages out the noise of the early
      smoothed loss;
    * ``valley``: with :math:`[a, b]` the longest run of consecutive steps
      over which :math:`\\bar\\ell` strictly decreases, the :math:`\\eta_i`
      at :math:`i = a + \\lfloor 2(b-a)/3 \\rfloor`, two thirds of the way
      down (fastai's "valley" takes the longest decreasing subsequence and
      its middle; this is the contiguous variant, nearer the bottom).

    Args:
      state: the starting :class:`TrainState`; its optimizer must inject a
        constant ``learning_rate`` (:func:`make_optimizer` does).
      train_data: an :class:`optjax.data.Dataset` or a dict with ``"x"`` and
        ``"y"``.
      loss_fn: ``loss_fn(outputs, batch) -> scalar``.
      start_lr: the first learning rate, > 0.
      end_lr: the last learning rate, > ``start_lr``.
      num_steps: steps :math:`N \\ge 2`.
      batch_size: examples per step.
      seed: seed of the shuffles.
      smoothing: :math:`\\beta \\in [0, 1)` (fastai's 0.98).
      divergence_threshold: :math:`c > 1`.

    Returns:
      An :class:`LRFindResult`.

    Raises:
      ValueError: when the optimizer has no injected constant learning rate,
        or for bad arguments.

    References:
      Smith, `Cyclical Learning Rates for Training Neural Networks
      <https://arxiv.org/abs/1506.01186>`_, 2015 (section 3.3);
      fastai's ``LRFinder``.

    Examples:
      >>> from optjax import data
      >>> from optjax.training import (TrainState, default_loss, lr_find, make_model,
      ...                              make_optimizer)
      >>> ds = data.load("linear")
      >>> state = TrainState.from_nnx(make_model("linear", input_shape=(1,)),
      ...                             make_optimizer("sgd", 1e-3))
      >>> result = lr_find(state, ds, loss_fn=default_loss("regression"), num_steps=60)
      >>> result.stopped_at is not None, 1e-4 < result.steepest < 2.0
      (True, True)
    """
    _check_injected_lr(state)
    if not (isinstance(num_steps, numbers.Integral) and not isinstance(num_steps, bool)) or (
        num_steps < 2
    ):
        raise ValueError(f"lr_find: num_steps must be an int >= 2, got {num_steps!r}.")
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, numbers.Integral)
        or (batch_size < 1)
    ):
        raise ValueError(f"lr_find: batch_size must be a positive int, got {batch_size!r}.")
    if not (0 < start_lr < end_lr) or not np.isfinite(end_lr):
        raise ValueError(
            f"lr_find: need 0 < start_lr < end_lr (finite), got start_lr={start_lr!r}, "
            f"end_lr={end_lr!r}."
        )
    if not 0 <= smoothing < 1:
        raise ValueError(f"lr_find: smoothing must be in [0, 1), got {smoothing!r}.")
    if not divergence_threshold > 1:
        raise ValueError(
            f"lr_find: divergence_threshold must be > 1, got {divergence_threshold!r}."
        )
    x, y = _arrays(train_data, "lr_find")
    n = len(x)
    if n < batch_size:
        raise ValueError(
            f"lr_find: batch_size {batch_size} is larger than the {n} training examples."
        )
    per_epoch = n // batch_size
    epochs = -(-num_steps // per_epoch)
    index = np.concatenate(
        [
            np.random.default_rng((seed, e)).permutation(n)[: per_epoch * batch_size]
            for e in range(epochs)
        ]
    )[: num_steps * batch_size].reshape(num_steps, batch_size)
    lrs = start_lr * (end_lr / start_lr) ** (np.arange(num_steps) / (num_steps - 1))

    state = jax.tree.map(jnp.copy, state)
    used, losses, smoothed, ran = _runner(loss_fn)(
        state, jnp.asarray(x), jnp.asarray(y), index.astype(np.int32),
        lrs.astype(np.float32), np.float32(smoothing), np.float32(divergence_threshold),
    )  # fmt: skip
    used, losses, smoothed, ran = (np.asarray(a) for a in (used, losses, smoothed, ran))
    count = int(ran.sum())
    stop = ~np.isfinite(smoothed[:count]) | (
        smoothed[:count] > divergence_threshold * np.minimum.accumulate(smoothed[:count])
    )
    stopped_at = int(np.flatnonzero(stop)[0]) if stop.any() else None
    used = used[:count].astype(np.float64)
    losses, smoothed = losses[:count], smoothed[:count]
    end = count if stopped_at is None else stopped_at
    steepest, valley = _suggest(used[:end], smoothed[:end])
    return LRFindResult(used, losses, smoothed, steepest, valley, stopped_at)
