"""Tests for optjax.data: named datasets, MNIST readers, splits, standardization, batching."""

from __future__ import annotations

import gzip
import math
import struct

import numpy as np
import pytest
from sklearn import model_selection

from optjax import data

# --- named datasets ---------------------------------------------------------------------------

NAMED = [
    # name, x shape, task, num_classes
    ("digits", (1797, 8, 8, 1), "classification", 10),
    ("iris", (150, 4), "classification", 3),
    ("breast_cancer", (569, 30), "classification", 2),
    ("diabetes", (442, 10), "regression", None),
    ("linear", (200, 1), "regression", None),
    ("classification", (500, 10), "classification", 2),
]


@pytest.mark.parametrize("name,shape,task,num_classes", NAMED)
def test_named_dataset_shapes_and_dtypes(name, shape, task, num_classes):
    ds = data.load(name)
    assert ds.name == name
    assert ds.x.shape == shape and ds.x.dtype == np.float32
    assert ds.y.shape == (shape[0],) and len(ds) == shape[0]
    assert ds.task == task and ds.num_classes == num_classes
    assert np.all(np.isfinite(ds.x))
    if task == "classification":
        assert ds.y.dtype == np.int32
        np.testing.assert_array_equal(np.unique(ds.y), np.arange(num_classes))
    else:
        assert ds.y.dtype == np.float32
    if ds.feature_names is not None:
        assert len(ds.feature_names) == shape[1]


def test_digits_are_images_in_unit_interval_and_flatten_to_sklearn_features():
    from sklearn.datasets import load_digits

    ds = data.load("digits")
    assert ds.x.min() == 0.0 and ds.x.max() == 1.0
    np.testing.assert_allclose(ds.x.reshape(len(ds), -1), load_digits().data / 16.0, rtol=1e-6)


def test_linear_least_squares_recovers_slope_and_intercept():
    ds = data.load("linear")
    design = np.concatenate([ds.x, np.ones_like(ds.x)], axis=1).astype(np.float64)
    (w, b), *_ = np.linalg.lstsq(design, ds.y.astype(np.float64), rcond=None)
    assert abs(w - 2.0) < 0.05 and abs(b - 1.0) < 0.05
    residual = ds.y - (2.0 * ds.x[:, 0] + 1.0)
    assert 0.07 < residual.std() < 0.13


def test_linear_matches_the_tutorial_points():
    from optjax import demo

    x_train, y_train, x_test, y_test = demo.make_data(seed=3)
    ds = data.load("linear", seed=3)
    np.testing.assert_array_equal(np.sort(ds.x[:, 0]), np.sort(np.concatenate([x_train, x_test])))
    np.testing.assert_array_equal(np.sort(ds.y), np.sort(np.concatenate([y_train, y_test])))


@pytest.mark.parametrize("name", ["linear", "classification"])
def test_synthetic_sets_follow_the_seed(name):
    a, b, c = data.load(name, seed=1), data.load(name, seed=1), data.load(name, seed=2)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="Unknown dataset 'mnist'") as info:
        data.load("mnist")
    for name, *_ in NAMED:
        assert name in str(info.value)


def test_split_with_a_named_dataset_is_rejected():
    with pytest.raises(ValueError, match="only to paths"):
        data.load("iris", split="test")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(task="clustering", num_classes=None), "task"),
        (dict(task="classification", num_classes=None), "num_classes"),
        (dict(task="regression", num_classes=3), "num_classes"),
    ],
)
def test_dataset_validates_metadata(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.Dataset(np.zeros((3, 2)), np.zeros(3), name="bad", **kwargs)


def test_dataset_rejects_length_mismatch():
    with pytest.raises(ValueError, match="same number of examples"):
        data.Dataset(np.zeros((3, 2)), np.zeros(4), "regression", None, "bad")


# --- MNIST from disk -------------------------------------------------------------------------


def _idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def _fake_mnist(rng, n):
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    labels[:10] = np.arange(10)
    return images, labels


def _write_idx_dir(directory, compress, rng):
    arrays = {}
    for prefix, n in (("train", 12), ("t10k", 11)):
        images, labels = _fake_mnist(rng, n)
        arrays[prefix] = (images, labels)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{prefix}-{kind}-ubyte"
            payload = _idx_bytes(array)
            if compress:
                (directory / f"{name}.gz").write_bytes(gzip.compress(payload))
            else:
                (directory / name).write_bytes(payload)
    return arrays


@pytest.mark.parametrize("compress", [False, True])
def test_idx_directory_round_trip(tmp_path, compress):
    arrays = _write_idx_dir(tmp_path, compress, np.random.default_rng(0))
    for split, prefix in (("train", "train"), ("test", "t10k")):
        ds = data.load(tmp_path, split=split)
        images, labels = arrays[prefix]
        assert ds.x.shape == (len(images), 28, 28, 1) and ds.x.dtype == np.float32
        np.testing.assert_allclose(ds.x[..., 0], images / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(ds.y, labels)
        assert ds.y.dtype == np.int32 and ds.num_classes == 10 and ds.task == "classification"
    both = data.load(str(tmp_path), split="all")
    assert len(both) == 23
    np.testing.assert_array_equal(both.y, np.concatenate([arrays["train"][1], arrays["t10k"][1]]))
    # The default split is train.
    np.testing.assert_array_equal(data.load(tmp_path).y, arrays["train"][1])


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_other_dtypes(tmp_path, compress):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(">i4")
    payload = _idx_bytes(array, code=0x0C)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    path.write_bytes(gzip.compress(payload) if compress else payload)
    out = data.read_idx(path)
    np.testing.assert_array_equal(out, array)
    assert out.dtype == np.int32 and out.dtype.isnative


@pytest.mark.parametrize("compress", [False, True])
def test_corrupt_magic_raises_value_error_naming_the_file(tmp_path, compress):
    _write_idx_dir(tmp_path, compress, np.random.default_rng(1))
    name = "train-images-idx3-ubyte" + (".gz" if compress else "")
    path = tmp_path / name
    raw = bytearray(gzip.decompress(path.read_bytes()) if compress else path.read_bytes())
    raw[0] = 0x1F
    path.write_bytes(gzip.compress(bytes(raw)) if compress else bytes(raw))
    with pytest.raises(ValueError, match=f"{name}.*magic"):
        data.load(tmp_path)


def test_swapped_images_and_labels_fail_the_expected_magic(tmp_path):
    _write_idx_dir(tmp_path, False, np.random.default_rng(2))
    images = tmp_path / "train-images-idx3-ubyte"
    labels = tmp_path / "train-labels-idx1-ubyte"
    images_bytes = images.read_bytes()
    images.write_bytes(labels.read_bytes())
    labels.write_bytes(images_bytes)
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.*expected 0x00000803"):
        data.load(tmp_path)


def test_truncated_idx_raises_value_error_naming_the_file(tmp_path):
    _write_idx_dir(tmp_path, False, np.random.default_rng(3))
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.*data bytes"):
        data.load(tmp_path)


def test_bad_gzip_raises_value_error_naming_the_file(tmp_path):
    _write_idx_dir(tmp_path, True, np.random.default_rng(4))
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        data.load(tmp_path, split="test")


def test_directory_missing_a_file_names_it(tmp_path):
    _write_idx_dir(tmp_path, False, np.random.default_rng(5))
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        data.load(tmp_path, split="test")


def test_npz_round_trip(tmp_path):
    rng = np.random.default_rng(6)
    (x_train, y_train), (x_test, y_test) = _fake_mnist(rng, 13), _fake_mnist(rng, 10)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    train = data.load(path)
    test = data.load(str(path), split="test")
    assert train.name == "mnist" and train.x.shape == (13, 28, 28, 1)
    np.testing.assert_allclose(train.x[..., 0], x_train / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(train.y, y_train)
    np.testing.assert_allclose(test.x[..., 0], x_test / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(test.y, y_test)


def test_npz_missing_arrays_and_pickles_are_rejected(tmp_path):
    path = tmp_path / "partial.npz"
    np.savez(path, x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="partial.npz.*x_test"):
        data.load(path)
    pickled = tmp_path / "pickled.npz"
    objects = np.array([{"a": 1}, None], dtype=object)
    np.savez(pickled, x_train=objects, y_train=objects, x_test=objects, y_test=objects)
    with pytest.raises(ValueError, match="pickle"):
        data.load(pickled)


def test_missing_path_message(tmp_path):
    missing = tmp_path / "nowhere" / "mnist"
    with pytest.raises(FileNotFoundError) as info:
        data.load(missing)
    message = str(info.value)
    assert str(missing) in message
    for expected in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte", ".npz", "x_train"):
        assert expected in message
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        data.load("nope.npz")


# --- splits ----------------------------------------------------------------------------------


def _indexed(n, num_classes=None):
    """A dataset whose x holds each example's index, so splits can be traced back."""
    x = np.arange(n, dtype=np.float32)[:, None]
    if num_classes is None:
        return data.Dataset(x, np.zeros(n, np.float32), "regression", None, "idx")
    y = (np.arange(n) % num_classes).astype(np.int32)
    return data.Dataset(x, y, "classification", num_classes, "idx")


@pytest.mark.parametrize("n,fraction", [(200, 0.2), (150, 0.25), (11, 0.3), (7, 0.5), (10, 0.01)])
def test_split_sizes_match_sklearn(n, fraction):
    train, test = data.train_test_split(_indexed(n), fraction)
    sk_train, sk_test = model_selection.train_test_split(np.arange(n), test_size=fraction)
    assert (len(train), len(test)) == (len(sk_train), len(sk_test))
    assert len(test) == math.ceil(fraction * n)


def test_split_is_deterministic_disjoint_and_covering():
    ds = _indexed(101)
    train, test = data.train_test_split(ds, seed=7)
    again_train, again_test = data.train_test_split(ds, seed=7)
    np.testing.assert_array_equal(train.x, again_train.x)
    np.testing.assert_array_equal(test.x, again_test.x)
    ids_train, ids_test = train.x[:, 0].astype(int), test.x[:, 0].astype(int)
    assert not set(ids_train) & set(ids_test)
    np.testing.assert_array_equal(np.sort(np.concatenate([ids_train, ids_test])), np.arange(101))
    other_train, _ = data.train_test_split(ds, seed=8)
    assert not np.array_equal(train.x, other_train.x)
    # Shuffled, not a prefix/suffix cut.
    assert not np.array_equal(np.sort(ids_test), np.arange(101 - len(ids_test), 101))
    # Rows keep their labels.
    np.testing.assert_array_equal(train.y, ds.y[ids_train])


def test_stratified_split_keeps_class_ratios():
    iris = data.load("iris")
    train, test = data.train_test_split(iris, 0.2, seed=0, stratify=True)
    np.testing.assert_array_equal(np.bincount(test.y), [10, 10, 10])
    np.testing.assert_array_equal(np.bincount(train.y), [40, 40, 40])
    # Unbalanced classes: 60/30/10 examples, test share 0.25 -> 15/7.5/2.5 -> totals exact.
    y = np.repeat(np.arange(3), [60, 30, 10]).astype(np.int32)
    ds = data.Dataset(np.arange(100, dtype=np.float32)[:, None], y, "classification", 3, "u")
    train, test = data.train_test_split(ds, 0.25, seed=1, stratify=True)
    counts = np.bincount(test.y, minlength=3)
    assert counts.sum() == 25 and len(train) == 75
    np.testing.assert_allclose(counts, [15, 7.5, 2.5], atol=1)
    sk_train, sk_test = model_selection.train_test_split(y, test_size=0.25, stratify=y)
    assert len(sk_test) == len(test)


def test_stratify_rejections():
    with pytest.raises(ValueError, match="classification"):
        data.train_test_split(_indexed(20), stratify=True)
    y = np.array([0, 0, 0, 1], np.int32)
    ds = data.Dataset(np.zeros((4, 1), np.float32), y, "classification", 2, "tiny")
    with pytest.raises(ValueError, match="at least 2"):
        data.train_test_split(ds, 0.5, stratify=True)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 0.999])
def test_bad_test_fraction(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        data.train_test_split(_indexed(10), fraction)


def test_train_val_test_split():
    ds = _indexed(100, num_classes=4)
    train, val, test = data.train_val_test_split(ds, 0.15, 0.2, seed=3, stratify=True)
    assert (len(train), len(val), len(test)) == (65, 15, 20)
    ids = [p.x[:, 0].astype(int) for p in (train, val, test)]
    np.testing.assert_array_equal(np.sort(np.concatenate(ids)), np.arange(100))
    np.testing.assert_array_equal(np.bincount(test.y), [5, 5, 5, 5])
    assert np.bincount(val.y, minlength=4).max() - np.bincount(val.y, minlength=4).min() <= 1
    again = data.train_val_test_split(ds, 0.15, 0.2, seed=3, stratify=True)
    for a, b in zip((train, val, test), again):
        np.testing.assert_array_equal(a.x, b.x)
    with pytest.raises(ValueError, match="no training"):
        data.train_val_test_split(ds, 0.5, 0.5)


# --- standardize -----------------------------------------------------------------------------


def test_standardize_uses_train_statistics_only():
    train = data.Dataset(
        np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 4.0], [5.0, 5.0, 9.0]], np.float32),
        np.zeros(3, np.float32),
        "regression",
        None,
        "train",
    )
    test = data.Dataset(
        np.array([[100.0, 7.0, -1.0]], np.float32), np.ones(1, np.float32), "regression", None, "t"
    )
    (z_train, z_test), (mean, std) = data.standardize(train, test)
    # Closed form: mean (3, 5, 5), population std (sqrt(8/3), 0 -> 1, sqrt(26/3)).
    expected_std = np.array([np.sqrt(8 / 3), 1.0, np.sqrt(26 / 3)])
    np.testing.assert_allclose(mean, [3.0, 5.0, 5.0], rtol=1e-6)
    np.testing.assert_allclose(std, expected_std, rtol=1e-6)
    np.testing.assert_allclose(
        z_test.x, [[97.0 / expected_std[0], 2.0, -6.0 / expected_std[2]]], rtol=1e-6
    )
    np.testing.assert_allclose(z_train.x[:, 1], 0.0)
    assert np.all(np.isfinite(z_train.x)) and z_train.x.dtype == np.float32
    np.testing.assert_allclose(z_train.x[:, [0, 2]].mean(0), 0.0, atol=1e-6)
    np.testing.assert_allclose(z_train.x[:, [0, 2]].std(0), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(z_test.y, test.y)
    # Inputs untouched.
    assert train.x[0, 0] == 1.0


def test_standardize_images_per_pixel():
    digits = data.load("digits")
    (z,), (mean, std) = data.standardize(digits)
    assert mean.shape == (8, 8, 1) and z.x.shape == digits.x.shape
    assert np.all(np.isfinite(z.x))  # some border pixels are always 0


# --- batching --------------------------------------------------------------------------------


def test_batches_cover_every_example_once_per_epoch_and_reshuffle():
    ds = _indexed(103)
    orders = []
    for epoch in range(3):
        out = list(data.batches(ds, 10, seed=0, epoch=epoch))
        assert len(out) == data.num_batches(103, 10) == 11
        assert [len(b["x"]) for b in out] == [10] * 10 + [3]
        ids = np.concatenate([b["x"][:, 0] for b in out]).astype(int)
        np.testing.assert_array_equal(np.sort(ids), np.arange(103))
        for b in out:
            np.testing.assert_array_equal(b["y"], ds.y[b["x"][:, 0].astype(int)])
        orders.append(ids)
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[1], orders[2])
    again = np.concatenate([b["x"][:, 0] for b in data.batches(ds, 10, seed=0, epoch=1)])
    np.testing.assert_array_equal(again.astype(int), orders[1])
    other_seed = np.concatenate([b["x"][:, 0] for b in data.batches(ds, 10, seed=1, epoch=0)])
    assert not np.array_equal(other_seed.astype(int), orders[0])


def test_batches_drop_last_and_no_shuffle():
    ds = _indexed(25)
    out = list(data.batches(ds, 10, seed=0, shuffle=False, drop_last=True))
    assert len(out) == data.num_batches(25, 10, drop_last=True) == 2
    np.testing.assert_array_equal(np.concatenate([b["x"][:, 0] for b in out]), np.arange(20))
    assert set(out[0]) == {"x", "y"}


@pytest.mark.parametrize(
    "n,batch_size,drop_last,expected",
    [(0, 4, False, 0), (8, 4, False, 2), (9, 4, False, 3), (9, 4, True, 2), (3, 4, True, 0)],
)
def test_num_batches(n, batch_size, drop_last, expected):
    assert data.num_batches(n, batch_size, drop_last) == expected


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        data.num_batches(10, batch_size)
