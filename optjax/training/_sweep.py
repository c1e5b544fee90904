"""Hyperparameter sweeps: K copies of a model trained together in one compiled, vmapped step.

Every member is a :class:`~optjax.training.TrainState` built by the caller for
its seed; the states are stacked along a new leading axis, each member's
injected hyperparameters (learning rate, weight decay, ``b1``, ``b2``...) are
written into the stacked optimizer state with :func:`optjax.set_hyperparams`,
and the train step of :func:`~optjax.training.fit` runs under ``jax.vmap`` over
the member axis, with the batch shared. Member ``k`` therefore follows exactly
the run that :func:`~optjax.training.fit` would make with its settings (same
data order, same dropout keys), up to float rounding.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from optjax import schedules
from optjax.training._callbacks import History, progress_enabled
from optjax.training._evaluate import _arrays, evaluate
from optjax.training._state import TrainState
from optjax.training._steps import LossFn, MetricsFn, checked_train_step_fn

_SEED = "seed"


@dataclasses.dataclass
class SweepResult:
    """What :func:`sweep` returns: the stacked final states and one report per member.

    Attributes:
      states: the final :class:`TrainState` of every member, stacked along a
        leading axis of length K (see :meth:`state`).
      members: one dict per member, in the order given: ``"hyperparams"``
        (its settings), ``"history"`` (a :class:`History` of per-epoch logs,
        as :func:`fit` records), ``"train"`` and ``"test"`` (final metrics on
        the training and validation data; ``"test"`` is empty without
        validation data) and ``"diverged_at"`` (the step whose loss was not
        finite, after which the member stopped changing, or None).

    Examples:
      >>> from optjax.training import SweepResult
      >>> r = SweepResult(states=None, members=[{"hyperparams": {"learning_rate": 0.1}}])
      >>> len(r)
      1
    """

    states: Any
    members: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.members)

    def state(self, k: int) -> TrainState:
        """Returns member ``k``'s final :class:`TrainState` (unstacked)."""
        return jax.tree.map(lambda leaf: leaf[k], self.states)


def _check_grid(
    hyperparams: Mapping[str, Sequence[Any]], accepted: Sequence[str]
) -> tuple[int, dict[str, list[Any]]]:
    if not isinstance(hyperparams, Mapping) or not hyperparams:
        raise ValueError(
            "sweep: hyperparams must be a non-empty dict from name to a list of values "
            f"(accepted names: {sorted(accepted)})."
        )
    unknown = sorted(set(hyperparams) - set(accepted))
    if unknown:
        raise ValueError(
            f"sweep: the optimizer does not take {unknown} as injected hyperparameters; "
            f"the names it accepts are {sorted(accepted)}."
        )
    grid = {}
    for name, values in hyperparams.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            values = np.asarray(values).tolist() if np.ndim(values) == 1 else None
        if values is None:
            raise ValueError(f"sweep: hyperparams[{name!r}] must be a list of values.")
        grid[name] = list(values)
    lengths = {name: len(values) for name, values in grid.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(
            "sweep: every hyperparameter list must have the same length (one value per "
            f"member); got lengths {lengths}."
        )
    k = next(iter(lengths.values()))
    if k == 0:
        raise ValueError("sweep: the hyperparameter lists are empty; give at least one member.")
    for s in grid.get(_SEED, []):
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise ValueError(f"sweep: seeds must be ints, got {grid[_SEED]}.")
    return k, grid


def _stack(states: Sequence[TrainState]) -> TrainState:
    """Stacks states along a new axis 0; static fields are taken from the first."""
    first = states[0]
    template = jax.tree.structure(first.replace(tx=None, adapter=None))
    leaves = []
    for k, state in enumerate(states):
        if jax.tree.structure(state.replace(tx=None, adapter=None)) != template:
            raise ValueError(
                f"sweep: make_state built a state for member {k} whose structure differs "
                "from member 0's; make_state must build the same model and optimizer for "
                "every seed."
            )
        leaves.append(jax.tree.leaves(state))
    stacked = [jnp.stack(column) for column in zip(*leaves, strict=True)]
    return jax.tree.unflatten(jax.tree.structure(first), stacked)


@functools.lru_cache(maxsize=32)
def _chunk_runner(loss_fn: LossFn) -> Callable[..., Any]:
    member_step = jax.vmap(checked_train_step_fn(loss_fn), in_axes=(0, None, 0))

    def run_chunk(states, ok_K, x_all, y_all, index_SxB, active_S):
        def body(carry, inputs):
            states, ok_K = carry
            index_B, active = inputs
            batch = {"x": x_all[index_B], "y": y_all[index_B]}
            states, losses_K, took_K = member_step(states, batch, ok_K & active)
            # An inactive (padding) step changes nothing and marks no one as diverged.
            ok_K = jnp.where(active, took_K, ok_K)
            return (states, ok_K), losses_K

        (states, ok_K), losses_SxK = jax.lax.scan(body, (states, ok_K), (index_SxB, active_S))
        return states, ok_K, losses_SxK

    return jax.jit(run_chunk, donate_argnums=(0,))


@functools.lru_cache(maxsize=32)
def _step_runner(loss_fn: LossFn) -> Callable[..., Any]:
    member_step = jax.vmap(checked_train_step_fn(loss_fn), in_axes=(0, None, 0))

    def run_step(states, ok_K, batch):
        states, losses_K, took_K = member_step(states, batch, ok_K)
        return states, took_K, losses_K

    return jax.jit(run_step, donate_argnums=(0,))


def _accepted_names(state: TrainState) -> list[str]:
    if not schedules.find_injected_states(state.opt_state):
        return [_SEED]
    return sorted(schedules.get_hyperparams(state.opt_state)) + [_SEED]


def sweep(
    make_state: Callable[[int], TrainState],
    train_data: Any,
    *,
    loss_fn: LossFn,
    hyperparams: Mapping[str, Sequence[Any]],
    epochs: int = 1,
    batch_size: int = 32,
    validation_data: Any = None,
    metrics_fn: MetricsFn | None = None,
    seed: int = 0,
    progress: bool | None = None,
    eval_batch_size: int = 1024,
) -> SweepResult:
    """Trains K copies of a model with K hyperparameter settings at once; reports each.

    Member :math:`k` has its own parameters, optimizer state and
    hyperparameters :math:`h_k`; all members see the same batch :math:`B_t`:

    .. math::

        \\theta^{(k)}_{t+1} = \\theta^{(k)}_t + \\mathrm{tx}_{h_k}.\\mathrm{update}
        \\big(\\nabla_\\theta \\ell(f(x_{B_t}; \\theta^{(k)}_t), y_{B_t}),\\ s^{(k)}_t,\\
        \\theta^{(k)}_t\\big), \\qquad k = 1, \\dots, K

    computed as one ``jax.vmap`` of :func:`fit`'s train step over the member
    axis, inside the same compiled ``lax.scan`` over an epoch's batches. The
    batch order is :func:`fit`'s for ``seed`` (shared by all members). A
    ``"seed"`` entry gives each member its own ``make_state(seed_k)`` (model
    initialization and dropout keys); without it every member starts from
    ``make_state(seed)``. A member whose loss stops being finite keeps its
    last good state and is reported with ``diverged_at``; the others go on.

    Args:
      make_state: ``seed -> TrainState``. Its optimizer must keep the swept
        hyperparameters in its state (:func:`make_optimizer` or
        :func:`optjax.inject_hyperparams`); it must build the same model and
        optimizer for every seed (the first member's ``tx`` is used for all).
      train_data: an :class:`optjax.data.Dataset` or a dict with ``"x"`` and
        ``"y"``.
      loss_fn: ``loss_fn(outputs, batch) -> scalar``.
      hyperparams: name -> list of K values, all lists of the same length:
        injected hyperparameters (``learning_rate``, ``weight_decay``,
        ``b1``, ``b2``, ...) and ``"seed"``.
      epochs: passes over the data.
      batch_size: examples per step (the last short batch runs as one more
        step, as in :func:`fit`).
      validation_data: a Dataset or dict evaluated after every epoch.
      metrics_fn: ``metrics_fn(outputs, batch) -> dict`` for the evaluations.
      seed: seed of the shared per-epoch shuffles (and of ``make_state`` when
        ``"seed"`` is not swept).
      progress: a tqdm progress bar over epochs; ``None`` shows one only on a
        terminal.
      eval_batch_size: examples per compiled evaluation batch.

    Returns:
      A :class:`SweepResult`.

    Raises:
      ValueError: for lists of different lengths (naming each list's
        length), a name the optimizer does not inject (listing those it
        does), or bad sizes.

    Examples:
      >>> import optjax
      >>> from optjax import data
      >>> from optjax.training import (TrainState, default_loss, make_model, make_optimizer,
      ...                              sweep)
      >>> train, test = data.train_test_split(data.load("linear"), seed=0)
      >>> make_state = lambda s: TrainState.from_nnx(
      ...     make_model("linear", input_shape=(1,), seed=s), make_optimizer("sgd", 0.1), rng=s)
      >>> result = sweep(make_state, train, loss_fn=default_loss("regression"),
      ...                hyperparams={"learning_rate": [0.001, 0.1]}, epochs=5,
      ...                validation_data=test, progress=False)
      >>> [m["hyperparams"]["learning_rate"] for m in result.members]
      [0.001, 0.1]
      >>> result.members[1]["test"]["loss"] < result.members[0]["test"]["loss"]
      True
    """
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"sweep: {name} must be a positive int, got {value!r}.")
    x, y = _arrays(train_data, "sweep")
    n = len(x)
    if n == 0:
        raise ValueError("sweep: train_data has no examples.")

    base = make_state(seed)
    k, grid = _check_grid(hyperparams, _accepted_names(base))
    seeds = grid.get(_SEED)
    states = [make_state(int(s)) for s in seeds] if seeds is not None else [base] * k
    stacked = _stack(states)
    values = {name: jnp.asarray(v) for name, v in grid.items() if name != _SEED}
    if values:
        try:
            opt_state = jax.vmap(lambda s, v: schedules.set_hyperparams(s, **v))(
                stacked.opt_state, values
            )
        except (KeyError, ValueError, TypeError) as error:
            raise ValueError(f"sweep: cannot set the hyperparameters: {error}") from None
        stacked = stacked.replace(opt_state=opt_state)

    xs, ys = jnp.asarray(x), jnp.asarray(y)
    full = n // batch_size
    chunk = max(full, 1)
    ok = jnp.ones((k,), bool)
    diverged_at: list[int | None] = [None] * k
    histories = [History() for _ in range(k)]
    bar = _bar(progress, epochs)
    steps = 0
    for epoch in range(epochs):
        # The order of fit and optjax.data.batches(seed=seed, epoch=epoch).
        order = np.random.default_rng((seed, epoch)).permutation(n)
        loss_sum, examples = np.zeros(k), 0
        loss_parts = []
        if full:
            index = order[: full * batch_size].reshape(full, batch_size).astype(np.int32)
            stacked, ok, losses = _chunk_runner(loss_fn)(
                stacked, ok, xs, ys, index, np.ones(chunk, bool)
            )
            loss_parts.append((np.asarray(losses), batch_size))
        if full * batch_size < n:
            rest = order[full * batch_size :]
            stacked, ok, losses = _step_runner(loss_fn)(stacked, ok, {"x": xs[rest], "y": ys[rest]})
            loss_parts.append((np.asarray(losses)[None], len(rest)))
        for losses, size in loss_parts:
            for row in losses:
                for m in range(k):
                    if diverged_at[m] is None and not math.isfinite(row[m]):
                        diverged_at[m] = steps
                loss_sum += np.where(np.isfinite(row), row, 0.0) * size
                examples += size
                steps += 1
        learning_rates = _learning_rates(stacked.opt_state, k)  # one transfer for all members
        for m in range(k):
            logs: dict[str, float] = {"epoch": epoch + 1}
            logs["loss"] = float(loss_sum[m] / examples) if diverged_at[m] is None else math.nan
            if validation_data is not None:
                member = jax.tree.map(lambda leaf, m=m: leaf[m], stacked)
                val = evaluate(member, validation_data, loss_fn=loss_fn, metrics_fn=metrics_fn,
                               batch_size=eval_batch_size)  # fmt: skip
                logs.update({f"val_{name}": v for name, v in val.items()})
            if learning_rates is not None:
                logs["learning_rate"] = float(learning_rates[m])
            histories[m].on_epoch_end(None, epoch + 1, logs)
        bar.update(1)
    bar.close()

    members = []
    for m in range(k):
        member = jax.tree.map(lambda leaf, m=m: leaf[m], stacked)
        train_logs = evaluate(member, train_data, loss_fn=loss_fn, metrics_fn=metrics_fn,
                              batch_size=eval_batch_size)  # fmt: skip
        test_logs = (
            evaluate(
                member,
                validation_data,
                loss_fn=loss_fn,
                metrics_fn=metrics_fn,
                batch_size=eval_batch_size,
            )  # fmt: skip
            if validation_data is not None
            else {}
        )
        settings = {name: grid[name][m] for name in grid}
        members.append({"hyperparams": settings, "history": histories[m], "train": train_logs,
                        "test": test_logs, "diverged_at": diverged_at[m]})  # fmt: skip
    return SweepResult(states=stacked, members=members)


def _learning_rates(stacked_opt_state: Any, k: int) -> np.ndarray | None:
    """Each member's injected learning rate (``None`` without one), from the stacked state."""
    if not schedules.find_injected_states(stacked_opt_state):
        return None
    try:
        value = schedules.get_hyperparams(stacked_opt_state).get("learning_rate")
    except ValueError:
        return None
    if value is None:
        return None
    return np.broadcast_to(np.asarray(value, np.float64).reshape(-1), (k,))


class _NoBar:
    def update(self, n: int) -> None: ...

    def close(self) -> None: ...


def _bar(progress: bool | None, total: int) -> Any:
    if not progress_enabled(progress):
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="epoch", dynamic_ncols=True, leave=False)
