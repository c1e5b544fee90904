"""Tests for optjax.training._checkpoint: round trips, best tracking, errors, atomicity."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optjax
from optjax.training import TrainState, make_model, make_train_step
from optjax.training._checkpoint import Checkpointer, CheckpointError

REPO = Path(__file__).resolve().parents[1]


def _loss(logits, batch):
    return optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()


def _batch(t: int) -> dict:
    x = jax.random.normal(jax.random.key(100 + t), (4, 8))
    return {"x": x, "y": jnp.arange(4, dtype=jnp.int32) % 3}


def _state(*, hidden=(6,), tx=None, kind="nnx", rng=0):
    model = make_model("mlp", input_shape=(8,), num_classes=3, hidden_sizes=hidden, kind=kind)
    tx = optjax.adam(1e-2) if tx is None else tx
    if kind == "nnx":
        return TrainState.from_nnx(model, tx, rng=rng)
    return TrainState.from_linen(model, tx, rng=rng, sample_input=jnp.ones((1, 8)))


def _rich_state():
    """A trained state with injected hyperparams, None leaves, empty dicts, bf16 and int32."""
    tx = optjax.inject_hyperparams(optjax.adam)(learning_rate=0.05)
    state = _state(tx=tx, kind="linen")
    step = make_train_step(_loss, donate=False)
    for t in range(2):
        state, _ = step(state, _batch(t))
    model_state = {
        "none": None,
        "empty": {},
        "nested": {"count": jnp.int32(7), "half": jnp.linspace(0, 1, 5).astype(jnp.bfloat16)},
        "key": jax.random.key(5, impl="rbg"),
    }
    return state.replace(model_state=model_state)


def _assert_identical(a: TrainState, b: TrainState) -> None:
    flat_a, tree_a = jax.tree_util.tree_flatten_with_path(a)
    flat_b, tree_b = jax.tree_util.tree_flatten_with_path(b)
    assert tree_a == tree_b
    for (path, x), (_, y) in zip(flat_a, flat_b, strict=True):
        where = jax.tree_util.keystr(path)
        assert x.dtype == y.dtype, where
        if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            assert jax.random.key_impl(x) == jax.random.key_impl(y), where
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape, where
        assert np.array_equal(x, y) and x.tobytes() == y.tobytes(), where


def _zeros_like(state: TrainState) -> TrainState:
    def zero(x):
        if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            return jax.random.key(99, impl=jax.random.key_impl(x))
        return jnp.zeros_like(x)

    return jax.tree.map(zero, state)


@pytest.fixture(scope="module")
def rich_state():
    return _rich_state()


def test_round_trip_is_bit_exact(tmp_path, rich_state):
    with Checkpointer(tmp_path / "ckpt") as ckpt:
        assert ckpt.latest_step() is None
        ckpt.save(rich_state, metadata={"loss": np.float32(0.25), "epoch": 1, "tag": "a"})
        assert ckpt.latest_step() == 2
        restored, metadata = ckpt.restore(_zeros_like(rich_state))
    _assert_identical(restored, rich_state)
    assert metadata == {"loss": 0.25, "epoch": 1, "tag": "a"}
    assert restored.tx is rich_state.tx and restored.adapter is rich_state.adapter
    hyper = restored.opt_state.hyperparams["learning_rate"]
    assert type(restored.opt_state).__name__ == type(rich_state.opt_state).__name__
    assert float(hyper) == pytest.approx(0.05)
    assert restored.model_state["none"] is None and restored.model_state["empty"] == {}


def test_restore_into_donated_template_and_resume(tmp_path):
    state = _state()
    step = make_train_step(_loss)
    with Checkpointer(tmp_path) as ckpt:
        state, _ = step(state, _batch(0))
        ckpt.save(state)
        kept = jax.tree.map(lambda x: x.copy(), state)
        new, _ = step(state, _batch(1))  # Donates `state`'s buffers.
        assert jax.tree.leaves(state.params)[0].is_deleted()
        restored, metadata = ckpt.restore(state)
    _assert_identical(restored, kept)
    assert metadata == {}
    resumed, _ = step(restored, _batch(1))
    _assert_identical(resumed, new)


def test_retention_steps_and_repeated_saves(tmp_path):
    state = _state()
    with Checkpointer(tmp_path, max_to_keep=2) as ckpt:
        for t in (1, 2, 3, 4):
            ckpt.save(state.replace(step=jnp.int32(t)), metadata={"t": t})
        ckpt.save(state.replace(step=jnp.int32(4)), metadata={"t": "again"})  # A no-op.
        assert sorted(int(p.name) for p in (tmp_path / "steps").iterdir()) == [3, 4]
        assert ckpt.restore(state)[1] == {"t": 4}
        restored, metadata = ckpt.restore(state, step=3)
        assert int(restored.step) == 3 and metadata == {"t": 3}
        with pytest.raises(FileNotFoundError, match=r"step 1 .*available steps: \[3, 4\]"):
            ckpt.restore(state, step=1)
    with Checkpointer(tmp_path) as again:  # A fresh instance reads the directory.
        assert again.latest_step() == 4


def test_missing_checkpoint_and_bad_arguments(tmp_path):
    state = _state()
    directory = tmp_path / "new" / "dir"
    with Checkpointer(directory) as ckpt:
        assert directory.is_dir()
        assert ckpt.best_metric() is None
        for best in (False, True):
            with pytest.raises(FileNotFoundError, match=str(directory)):
                ckpt.restore(state, best=best)
        with pytest.raises(ValueError, match="either step or best"):
            ckpt.restore(state, step=1, best=True)
        with pytest.raises(TypeError, match="JSON serializable"):
            ckpt.save(state, metadata={"fn": print})
        assert ckpt.latest_step() is None
    with pytest.raises(ValueError, match=r"\['min', 'max'\]"):
        Checkpointer(tmp_path, best_mode="lowest")
    with pytest.raises(ValueError, match="max_to_keep"):
        Checkpointer(tmp_path, max_to_keep=0)


@pytest.mark.parametrize(
    ("mode", "metrics", "became_best", "best_index"),
    [
        ("min", [3.0, 2.0, float("nan"), float("-inf"), 2.0, 2.5, 1.0], [1, 1, 0, 0, 0, 0, 1], 6),
        ("max", [float("nan"), 0.5, 0.4, float("inf"), 0.7, 0.7], [0, 1, 0, 0, 1, 0], 4),
    ],
)
def test_save_best(tmp_path, mode, metrics, became_best, best_index):
    state = _state()
    with Checkpointer(tmp_path, best_mode=mode) as ckpt:
        got = [
            ckpt.save_best(state.replace(step=jnp.int32(i)), metric=m, metadata={"i": i})
            for i, m in enumerate(metrics)
        ]
        assert got == [bool(b) for b in became_best]
        assert ckpt.best_metric() == metrics[best_index]
        assert len(list((tmp_path / "best").iterdir())) == 1
        assert ckpt.latest_step() is None  # Best checkpoints are separate.
    with Checkpointer(tmp_path, best_mode=mode) as again:
        assert again.best_metric() == metrics[best_index]
        restored, metadata = again.restore(state, best=True)
        assert int(restored.step) == best_index and metadata == {"i": best_index}


@pytest.mark.parametrize(
    ("other", "path"),
    [
        (lambda: _state(hidden=(7,)), ".params['hidden_0']['bias']"),
        (lambda: _state(tx=optjax.sgd(0.1)), ".opt_state"),
        (lambda: _state(hidden=(6, 6)), ".params['hidden_1']['bias']"),
        (
            lambda: _state(tx=optjax.inject_hyperparams(optjax.adam)(learning_rate=0.1)),
            ".opt_state",
        ),
        (
            lambda: _state().replace(rng=jax.random.key(0, impl="rbg")),
            ".rng",
        ),
        (
            lambda: (s := _state()).replace(
                params=jax.tree.map(lambda x: x.astype(jnp.bfloat16), s.params)
            ),
            "dtype 'float32' in the checkpoint, 'bfloat16' in the template",
        ),
    ],
    ids=["wider", "optimizer", "deeper", "injected", "key-impl", "dtype"],
)
def test_structure_mismatch_names_key_path(tmp_path, other, path):
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(_state())
        template = other()
        with pytest.raises(ValueError, match="does not match the template") as info:
            ckpt.restore(template)
    message = str(info.value)
    assert path in message and str(tmp_path / "steps" / "0") in message


def _data_files(step_dir: Path) -> list[Path]:
    # OCDBT keeps array chunks and B-tree nodes in files under `d/` directories.
    return [p for p in (step_dir / "state").rglob("*") if p.is_file() and p.parent.name == "d"]


def _rewrite(change):
    """Applies ``change(bytes) -> bytes`` to every array data file."""

    def corrupt(step_dir):
        for path in _data_files(step_dir):
            path.write_bytes(change(path.read_bytes()))
        return step_dir / "state"

    return corrupt


def _change_largest(change):
    """Applies ``change`` to the largest data file: compressed chunks, not the B-tree."""

    def corrupt(step_dir):
        path = max(_data_files(step_dir), key=lambda p: p.stat().st_size)
        path.write_bytes(change(bytearray(path.read_bytes())))
        return step_dir / "state"

    return corrupt


def _flip(data):
    data[len(data) // 2] ^= 0x01  # Still decodes; only the checksum notices.
    return bytes(data)


def _remove(relative, named=None):
    def corrupt(step_dir):
        (step_dir / relative).unlink()
        return step_dir / (named or relative)

    return corrupt


def _json(item, text):
    def corrupt(step_dir):
        path = step_dir / item / "metadata"
        path.write_text(text)
        return path

    return corrupt


@pytest.mark.parametrize(
    "corrupt",
    [
        _rewrite(lambda b: b[: len(b) // 2]),
        _rewrite(lambda b: bytes((i * 37 + 11) % 256 for i in range(len(b)))),
        _rewrite(lambda b: b""),
        _change_largest(_flip),
        _change_largest(lambda b: bytes(len(b))),
        _remove("state/manifest.ocdbt", "state"),
        _remove("metadata/metadata"),
        _remove("info/metadata"),
        _json("metadata", '{"loss": 0.5'),
        _json("metadata", "[1, 2]"),
        _json("info", "\x00\xff garbage"),
        _json("info", '{"format": "pickle", "leaves": []}'),
        _json("info", '{"format": "optjax.checkpoint/1", "leaves": [1]}'),
    ],
    ids=[
        "truncated-data",
        "garbage-data",
        "empty-data",
        "flipped-bit",
        "zeroed-chunks",
        "no-manifest",
        "no-metadata",
        "no-info",
        "invalid-json",
        "metadata-not-object",
        "garbage-info",
        "unknown-format",
        "malformed-leaves",
    ],
)
def test_corrupted_checkpoint_raises(tmp_path, corrupt):
    state = _state(hidden=(64,))  # Large enough that arrays are not inlined in B-tree nodes.
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(state, metadata={"loss": 0.5})
        named = corrupt(tmp_path / "steps" / "0")
    with Checkpointer(tmp_path) as ckpt:
        with pytest.raises(CheckpointError) as info:
            ckpt.restore(state)
    assert str(named) in str(info.value)


def test_corrupted_best_metric_raises(tmp_path):
    with Checkpointer(tmp_path) as ckpt:
        assert ckpt.save_best(_state(), metric=1.0)
    (tmp_path / "best" / "1" / "info" / "metadata").write_text("not json")
    with Checkpointer(tmp_path) as ckpt:
        with pytest.raises(CheckpointError, match=str(tmp_path / "best" / "1" / "info")):
            ckpt.best_metric()


def test_no_pickle(tmp_path, monkeypatch, rich_state):
    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used")

    for name in ("dumps", "loads", "dump", "load"):
        monkeypatch.setattr(pickle, name, forbidden)
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(rich_state, metadata={"a": [1, 2]})
        assert ckpt.save_best(rich_state, metric=0.5, metadata={"a": [1, 2]})
    with Checkpointer(tmp_path) as ckpt:
        for best in (False, True):
            restored, metadata = ckpt.restore(rich_state, best=best)
            _assert_identical(restored, rich_state)
            assert metadata == {"a": [1, 2]}


_DRIVER = """
import os, signal, sys
import jax, jax.numpy as jnp, optax
import orbax.checkpoint._src.path.atomicity as atomicity
import optjax
from optjax.training import TrainState, make_model, make_train_step
from optjax.training._checkpoint import Checkpointer

directory, kill_at, total, point = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

def killer(original, before):
    async def wrapper(self, *args, **kwargs):
        hit = self.get_final().name == str(kill_at)  # The step directory, not an item's.
        if hit and before:
            os.kill(os.getpid(), signal.SIGKILL)
        result = await original(self, *args, **kwargs)
        if hit:
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    return wrapper

cls = atomicity.AtomicRenameTemporaryPath
if point == "finalize":  # Every file written, commit marker not yet renamed into place.
    cls.finalize = killer(cls.finalize, before=True)
else:  # The temporary step directory exists, no array written yet.
    cls.create = killer(cls.create, before=False)

def loss(logits, batch):
    return optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()

model = make_model("mlp", input_shape=(8,), num_classes=3, hidden_sizes=(6,), kind="linen")
state = TrainState.from_linen(model, optjax.adam(1e-2), rng=0, sample_input=jnp.ones((1, 8)))
step = make_train_step(loss)
ckpt = Checkpointer(directory)
for t in range(total):
    x = jax.random.normal(jax.random.key(100 + t), (4, 8))
    state, _ = step(state, {"x": x, "y": jnp.arange(4, dtype=jnp.int32) % 3})
    ckpt.save(state, metadata={"t": t})
ckpt.close()
print("finished")
"""


def _train(state, start, total):
    step = make_train_step(_loss)
    for t in range(start, total):
        state, _ = step(state, _batch(t))
    return state


@pytest.mark.parametrize("point", ["finalize", "create"])
def test_sigkill_during_save_keeps_previous_checkpoint(tmp_path, point):
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(_DRIVER))
    directory = tmp_path / "ckpt"
    kill_at, total = 3, 5
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, str(driver), str(directory), str(kill_at), str(total), point],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert "finished" not in proc.stdout
    leftovers = [p.name for p in (directory / "steps").iterdir() if not p.name.isdigit()]
    assert any(name.startswith(f"{kill_at}.") for name in leftovers), leftovers

    template = _state(kind="linen")
    with Checkpointer(directory) as ckpt:
        assert ckpt.latest_step() == kill_at - 1
        restored, metadata = ckpt.restore(template)
        assert int(restored.step) == kill_at - 1 and metadata == {"t": kill_at - 2}
        resumed = _train(restored, kill_at - 1, total)
        ckpt.save(resumed)  # The partial directory does not block later saves.
        assert ckpt.latest_step() == total
    _assert_identical(resumed, _train(template, 0, total))
