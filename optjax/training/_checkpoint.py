"""Saving and restoring a :class:`~optjax.training.TrainState` with Orbax.

A :class:`Checkpointer` writes a state's arrays (OCDBT/tensorstore, through
Orbax's standard handler) and two small JSON documents per checkpoint: the
caller's metadata and a description of every leaf (its key path, dtype, shape,
PRNG implementation and a checksum). Nothing is pickled, so restoring a
checkpoint never runs code from it. Restoring goes into the structure of a
template state; a checkpoint that does not fit the template, or whose files
are damaged, raises instead of returning wrong arrays.

On-disk layout (``<n>`` is a training step, ``<k>`` a save counter)::

    <directory>/steps/<n>/state/      the arrays (Orbax standard handler, OCDBT)
    <directory>/steps/<n>/info/       leaf paths, dtypes, shapes, checksums (JSON)
    <directory>/steps/<n>/metadata/   the caller's metadata (JSON)
    <directory>/best/<k>/...          the same three items for the best state

Each step directory is written as ``<n>.orbax-checkpoint-tmp`` and renamed
when complete, so a process killed during a save leaves the earlier
checkpoints intact and the partial one unlisted.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from optjax.training._state import TrainState

__all__ = ["CheckpointError", "Checkpointer"]

_FORMAT = "optjax.checkpoint/1"
_STATE, _INFO, _METADATA = "state", "info", "metadata"
_ITEMS = (_STATE, _INFO, _METADATA)
_BEST_MODES = ("min", "max")
_JSON_FILE = "metadata"  # The file name Orbax's JSON handler writes in an item directory.


class CheckpointError(RuntimeError):
    """A checkpoint on disk is damaged or unreadable (its message names the file or step).

    Restoring never loads a damaged checkpoint silently and never runs code
    from it; ``optjax train --resume`` turns this error into exit code 2.

    Examples:
      >>> from optjax.training import CheckpointError
      >>> issubclass(CheckpointError, RuntimeError)
      True
    """


def _ocp() -> Any:
    # Imported on first use: Orbax is heavy and only checkpointing needs it.
    with warnings.catch_warnings():
        # Orbax and its dependencies emit import-time deprecation warnings.
        warnings.simplefilter("ignore", DeprecationWarning)
        import orbax.checkpoint as ocp
    return ocp


def _is_key(x: Any) -> bool:
    return isinstance(x, jax.Array | jax.ShapeDtypeStruct) and jnp.issubdtype(
        x.dtype, jax.dtypes.prng_key
    )


def _key_impl(key: Any) -> Any:
    if isinstance(key, jax.Array):
        return jax.random.key_impl(key)
    return key.dtype._impl  # An abstract key (ShapeDtypeStruct) has no public accessor.


def _data_aval(leaf: Any) -> jax.ShapeDtypeStruct:
    """The shape, dtype and sharding of what is stored for ``leaf`` (a key's raw data)."""
    sharding = getattr(leaf, "sharding", None)
    if sharding is None:
        sharding = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    # eval_shape reads only the aval, so donated (deleted) template arrays work.
    aval = jax.eval_shape(jax.random.key_data, leaf) if _is_key(leaf) else leaf
    return jax.ShapeDtypeStruct(aval.shape, aval.dtype, sharding=sharding)


def _leaves(state: TrainState) -> tuple[list[str], list[Any], Any]:
    """Returns the key paths, leaves and treedef of ``state``'s array fields."""
    if not isinstance(state, TrainState):
        raise TypeError(f"expected a TrainState, got {type(state).__name__}.")
    flat, treedef = jax.tree_util.tree_flatten_with_path(state)
    paths = [jax.tree_util.keystr(path) for path, _ in flat]
    leaves = [
        x if isinstance(x, jax.Array | jax.ShapeDtypeStruct) else jnp.asarray(x) for _, x in flat
    ]
    return paths, leaves, treedef


def _describe(path: str, leaf: jax.Array) -> dict[str, Any]:
    aval = _data_aval(leaf)
    return {
        "path": path,
        "shape": list(leaf.shape),
        "key_impl": str(_key_impl(leaf)) if _is_key(leaf) else None,
        "dtype": str(aval.dtype),
        "data_shape": list(aval.shape),
    }


def _digest(array: Any) -> str:
    data = np.ascontiguousarray(np.asarray(array))
    return hashlib.blake2b(data.tobytes(), digest_size=16).hexdigest()


def _json_default(value: Any) -> Any:
    # Lets metadata hold numpy and JAX scalars (a loss, a learning rate).
    if isinstance(value, np.generic | np.ndarray | jax.Array) and np.ndim(value) == 0:
        return np.asarray(value).item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _to_json(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping, got {type(metadata).__name__}.")
    try:
        return json.loads(json.dumps(dict(metadata), default=_json_default, allow_nan=True))
    except (TypeError, ValueError) as err:
        raise TypeError(f"metadata must be JSON serializable: {err}") from None


def _short(err: BaseException) -> str:
    # TensorStore errors carry their whole spec; the first line says what failed.
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text if len(text) <= 400 else text[:400] + "..."


class _DropUnretrievedTasks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Task exception was never retrieved")


@contextlib.contextmanager
def _absorb_abandoned_reads() -> Iterator[None]:
    """Silences the reads that a failed Orbax restore abandons.

    When one array fails to load, Orbax closes its event loop while TensorStore
    may still be finishing sibling reads; those report "Event loop is closed"
    through ``sys.unraisablehook`` and asyncio logs their unretrieved errors.
    On failure this waits briefly for them, dropping exactly those reports.
    """
    logger, dropper = logging.getLogger("asyncio"), _DropUnretrievedTasks()
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        exc = unraisable.exc_value
        if not (isinstance(exc, RuntimeError) and str(exc) == "Event loop is closed"):
            previous(unraisable)

    logger.addFilter(dropper)
    sys.unraisablehook = hook
    try:
        yield
    except Exception:
        time.sleep(0.2)
        gc.collect()
        raise
    finally:
        sys.unraisablehook = previous
        logger.removeFilter(dropper)


def _verify_arrays(state_dir: Path) -> None:
    """Reads every key of the OCDBT store in ``state_dir``, waiting for every read.

    This catches a missing or damaged manifest, B-tree node or data file before
    Orbax starts its concurrent reads, so the common corruptions fail cleanly
    here. Values are read in batches to bound memory.
    """
    import tensorstore as ts

    manifest = state_dir / "manifest.ocdbt"
    if not manifest.is_file():
        raise CheckpointError(f"missing checkpoint file {manifest}.")
    spec = {"driver": "ocdbt", "base": {"driver": "file", "path": f"{state_dir}/"}}
    try:
        store = ts.KvStore.open(spec).result()
        keys = store.list().result()
    except Exception as err:  # noqa: BLE001 - any failure means damaged index files.
        raise CheckpointError(f"cannot read the array index in {state_dir}: {_short(err)}") from err
    for start in range(0, len(keys), 64):
        reads = [(key, store.read(key)) for key in keys[start : start + 64]]
        failures = []
        for key, read in reads:  # Wait for every read, so none is left running.
            try:
                read.result()
            except Exception as err:  # noqa: BLE001
                failures.append((key, err))
        if failures:
            key, err = failures[0]
            raise CheckpointError(
                f"cannot read array data {key.decode(errors='replace')!r} in {state_dir}: "
                f"{_short(err)}"
            ) from err


def _fsync_tree(path: Path) -> None:
    # Orbax commits by renaming; syncing afterwards makes the checkpoint
    # durable (not only atomic) by the time save() returns.
    for root, _, files in os.walk(path):
        for name in [*files, "."]:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Checkpointer:
    """Saves and restores a :class:`~optjax.training.TrainState` under one directory.

    Regular checkpoints go to ``<directory>/steps/<step>`` (the newest
    ``max_to_keep`` are kept); :meth:`save_best` keeps a single best
    checkpoint in ``<directory>/best``. Saves are synchronous and atomic:
    each is written to a temporary directory that Orbax renames when it is
    complete, so a killed process leaves the previous checkpoint loadable.
    Only arrays and JSON are stored (no pickle); the optimizer and the model
    description (``tx``, ``adapter``) come from the template at restore. Every
    leaf's checksum is stored and checked, so damaged data raises
    :class:`CheckpointError` rather than restoring wrong values.

    Args:
      directory: the checkpoint directory; created if missing.
      max_to_keep: how many of the newest step checkpoints to keep.
      best_mode: ``"min"`` or ``"max"``: whether a lower or a higher metric is
        better in :meth:`save_best`.

    Raises:
      ValueError: for an unknown ``best_mode`` or ``max_to_keep < 1``.

    Examples:
      >>> import tempfile
      >>> import flax.linen as nn
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> from optjax.training import TrainState
      >>> from optjax.training import Checkpointer
      >>> state = TrainState.from_linen(
      ...     nn.Dense(1), optjax.adam(0.1), rng=0, sample_input=jnp.ones((1, 2)))
      >>> with tempfile.TemporaryDirectory() as tmp:
      ...     with Checkpointer(tmp) as ckpt:
      ...         ckpt.save(state.replace(step=jnp.int32(3)), metadata={"loss": 0.5})
      ...         restored, metadata = ckpt.restore(state)
      ...         print(ckpt.latest_step(), int(restored.step), metadata)
      3 3 {'loss': 0.5}
    """

    def __init__(
        self, directory: str | os.PathLike, *, max_to_keep: int = 2, best_mode: str = "min"
    ) -> None:
        if best_mode not in _BEST_MODES:
            raise ValueError(
                f"Checkpointer: best_mode must be one of {list(_BEST_MODES)}, got {best_mode!r}."
            )
        if isinstance(max_to_keep, bool) or not isinstance(max_to_keep, int) or max_to_keep < 1:
            raise ValueError(f"Checkpointer: max_to_keep must be an int >= 1, got {max_to_keep!r}.")
        self.directory = Path(directory).absolute()
        self.best_mode = best_mode
        self.directory.mkdir(parents=True, exist_ok=True)
        self._steps = self._manager(self.directory / "steps", max_to_keep)
        self._best = self._manager(self.directory / "best", 1)
        self._best_metric: float | None = None
        self._best_loaded = False
        # The logged metric the best checkpoint tracks; fit() sets it.
        self.best_monitor: str | None = None

    @staticmethod
    def _manager(path: Path, max_to_keep: int) -> Any:
        ocp = _ocp()
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, enable_async_checkpointing=False, create=True
        )
        return ocp.CheckpointManager(path, item_names=_ITEMS, options=options)

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Checkpointer({str(self.directory)!r}, best_mode={self.best_mode!r})"

    def close(self) -> None:
        """Waits for pending work and releases Orbax's resources (idempotent)."""
        self._steps.close()
        self._best.close()

    # -- saving -------------------------------------------------------------

    def _write(self, manager: Any, step: int, state: TrainState, info: dict, metadata) -> None:
        ocp = _ocp()
        paths, leaves, _ = _leaves(state)
        arrays, entries = {}, []
        for i, (path, leaf) in enumerate(zip(paths, leaves, strict=True)):
            entry = _describe(path, leaf)
            data = jax.random.key_data(leaf) if _is_key(leaf) else leaf
            entry["digest"] = _digest(data)
            arrays[str(i)] = data
            entries.append(entry)
        info = {"format": _FORMAT, "step": int(state.step), **info, "leaves": entries}
        args = ocp.args.Composite(
            **{
                _STATE: ocp.args.StandardSave(arrays),
                _INFO: ocp.args.JsonSave(info),
                _METADATA: ocp.args.JsonSave(_to_json(metadata)),
            }
        )
        # force: a state restored from an older checkpoint may be saved after
        # a newer one (Orbax would otherwise skip it silently).
        manager.save(step, args=args, force=True)
        manager.wait_until_finished()
        _fsync_tree(Path(manager.directory) / str(step))

    def save(self, state: TrainState, *, metadata: Mapping[str, Any] | None = None) -> None:
        """Saves ``state`` as the checkpoint of step ``int(state.step)``.

        Returns once the checkpoint is committed and synced to disk. Saving a
        step that already has a checkpoint does nothing.

        Args:
          state: the state to save.
          metadata: JSON-serializable values (numpy and JAX scalars allowed)
            returned by :meth:`restore`.

        Raises:
          TypeError: when ``metadata`` is not a JSON-serializable mapping.
        """
        step = int(state.step)
        metadata = _to_json(metadata)
        self._steps.reload()
        if step in self._steps.all_steps():
            return
        self._write(self._steps, step, state, {}, metadata)

    def save_best(
        self, state: TrainState, *, metric: float, metadata: Mapping[str, Any] | None = None
    ) -> bool:
        """Saves ``state`` as the best checkpoint when ``metric`` beats the best so far.

        Better means strictly lower (``best_mode="min"``) or strictly higher
        (``"max"``); a NaN or infinite metric never becomes the best. The
        previous best checkpoint is removed only after the new one is
        committed.

        Args:
          state: the candidate state.
          metric: its validation metric.
          metadata: as for :meth:`save`.

        Returns:
          True when ``state`` became the best checkpoint.

        Raises:
          TypeError: when ``metadata`` is not a JSON-serializable mapping.
          CheckpointError: when the current best checkpoint is unreadable.
        """
        metric = float(metric)
        metadata = _to_json(metadata)
        if not math.isfinite(metric):
            return False
        best = self.best_metric()
        if best is not None and not (metric < best if self.best_mode == "min" else metric > best):
            return False
        # Best checkpoints are numbered by a counter, not the training step, so
        # a new best never collides with (and never has to delete first) the
        # old one; max_to_keep=1 drops the old one after the commit.
        counter = (self._best.latest_step() or 0) + 1
        info = {"metric": metric, "best_mode": self.best_mode}
        self._write(self._best, counter, state, info, metadata)
        self._best_metric, self._best_loaded = metric, True
        return True

    # -- queries ------------------------------------------------------------

    def latest_step(self) -> int | None:
        """Returns the newest saved training step, or None when there is none."""
        self._steps.reload()
        steps = self._steps.all_steps()
        return max(steps) if steps else None

    def best_metric(self) -> float | None:
        """Returns the metric of the best checkpoint, or None when there is none.

        Raises:
          CheckpointError: when the best checkpoint's info file is unreadable.
        """
        if not self._best_loaded:
            self._best.reload()
            counter = self._best.latest_step()
            if counter is None:
                self._best_metric = None
            else:
                info = self._read_json(self._best, counter, _INFO)
                metric = info.get("metric")
                if not isinstance(metric, int | float):
                    raise CheckpointError(
                        f"{self._best.directory / str(counter) / _INFO / _JSON_FILE}: "
                        "no metric recorded."
                    )
                self._best_metric = float(metric)
            self._best_loaded = True
        return self._best_metric

    # -- restoring ----------------------------------------------------------

    def _read_json(self, manager: Any, step: int, item: str) -> dict[str, Any]:
        ocp = _ocp()
        where = Path(manager.directory) / str(step) / item / _JSON_FILE
        try:
            value = manager.restore(step, args=ocp.args.Composite(**{item: ocp.args.JsonRestore()}))
            value = value[item]
        except Exception as err:  # noqa: BLE001 - any failure means a damaged file.
            raise CheckpointError(f"cannot read checkpoint file {where}: {_short(err)}") from err
        if not isinstance(value, dict):
            raise CheckpointError(
                f"cannot read checkpoint file {where}: expected a JSON object, got "
                f"{type(value).__name__}."
            )
        return value

    def restore(
        self, template: TrainState, *, step: int | None = None, best: bool = False
    ) -> tuple[TrainState, dict[str, Any]]:
        """Restores a checkpoint into the structure, dtypes and shapes of ``template``.

        ``tx`` and ``adapter`` come from ``template``; PRNG keys are re-wrapped
        with the template's key implementation. Arrays are placed like the
        template's (its shardings).

        Args:
          template: a state with the checkpoint's structure: a freshly built
            one, or one whose buffers a train step has donated. Only its key
            paths, shapes, dtypes, shardings and PRNG implementations are used.
          step: the training step to restore; None means the newest.
          best: restore the best checkpoint instead (``step`` must be None).

        Returns:
          ``(state, metadata)``, the metadata as passed to :meth:`save`.

        Raises:
          FileNotFoundError: when there is no such checkpoint.
          ValueError: when the checkpoint's leaves (key paths, shapes, dtypes,
            PRNG implementations) differ from the template's; the message
            names the first differing key path.
          CheckpointError: when a checkpoint file is missing or damaged.
        """
        if best and step is not None:
            raise ValueError("Checkpointer.restore: pass either step or best=True, not both.")
        manager = self._best if best else self._steps
        manager.reload()
        steps = manager.all_steps()
        if not steps:
            kind = "best checkpoint" if best else "checkpoint"
            raise FileNotFoundError(f"no {kind} in {self.directory}.")
        if step is None:
            step = max(steps)
        elif step not in steps:
            raise FileNotFoundError(
                f"no checkpoint for step {step} in {self.directory}; "
                f"available steps: {sorted(steps)}."
            )
        where = Path(manager.directory) / str(step)
        info = self._read_json(manager, step, _INFO)
        metadata = self._read_json(manager, step, _METADATA)
        entries = info.get("leaves")
        if info.get("format") != _FORMAT or not isinstance(entries, list):
            raise CheckpointError(
                f"{where / _INFO / _JSON_FILE}: not an optjax checkpoint description "
                f"(format {info.get('format')!r})."
            )
        paths, leaves, treedef = _leaves(template)
        self._check_structure(where, entries, paths, leaves)
        abstract = {str(i): _data_aval(leaf) for i, leaf in enumerate(leaves)}
        _verify_arrays(where / _STATE)
        ocp = _ocp()
        try:
            with _absorb_abandoned_reads():
                restored = manager.restore(
                    step, args=ocp.args.Composite(**{_STATE: ocp.args.StandardRestore(abstract)})
                )[_STATE]
        except Exception as err:  # noqa: BLE001 - any failure means damaged array files.
            raise CheckpointError(
                f"cannot read the arrays in {where / _STATE}: {_short(err)}"
            ) from err
        out = []
        for i, (entry, leaf) in enumerate(zip(entries, leaves, strict=True)):
            data = restored.get(str(i)) if isinstance(restored, Mapping) else None
            if data is None or _digest(data) != entry.get("digest"):
                raise CheckpointError(
                    f"{where / _STATE}: the data of {entry['path']} is damaged (checksum mismatch)."
                )
            if _is_key(leaf):
                data = jax.random.wrap_key_data(data, impl=_key_impl(leaf))
            out.append(data)
        return jax.tree_util.tree_unflatten(treedef, out), metadata

    @staticmethod
    def _check_structure(where: Path, entries: list, paths: list, leaves: list) -> None:
        def fail(path: str, detail: str) -> None:
            raise ValueError(
                f"checkpoint {where} does not match the template at key path {path}: {detail}."
            )

        if not all(isinstance(e, Mapping) and isinstance(e.get("path"), str) for e in entries):
            raise CheckpointError(f"{where / _INFO / _JSON_FILE}: malformed leaf descriptions.")
        for entry, path, leaf in zip(entries, paths, leaves, strict=False):
            if entry["path"] != path:
                fail(path, f"the checkpoint has {entry['path']} here")
            expected = _describe(path, leaf)
            for field in ("key_impl", "dtype", "shape"):
                if entry.get(field) != expected[field]:
                    fail(
                        path,
                        f"{field} {entry.get(field)!r} in the checkpoint, "
                        f"{expected[field]!r} in the template",
                    )
        if len(entries) > len(paths):
            fail(entries[len(paths)]["path"], "the template has no such leaf")
        if len(paths) > len(entries):
            fail(paths[len(entries)], "the checkpoint has no such leaf")
