"""Small host-side datasets, splits, standardization and mini-batching (NumPy in, NumPy out).

Nothing here touches the network: the named datasets are either bundled with scikit-learn or
synthetic, and MNIST-style data is read only from a path the user supplies.
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np

__all__ = [
    "Dataset",
    "batches",
    "load",
    "num_batches",
    "read_idx",
    "standardize",
    "train_test_split",
    "train_val_test_split",
]

_TASKS = ("classification", "regression")
NAMES = ("breast_cancer", "classification", "diabetes", "digits", "iris", "linear")
_SPLITS = ("train", "test", "all")


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """Features ``x`` (first axis = examples), targets ``y`` and what they mean.

    Attributes:
      x: Features, ``float32``, shape ``(n, ...)`` (``(n, d)`` for tables, ``(n, h, w, 1)`` for
        images).
      y: Targets, shape ``(n,)``: ``int32`` class ids for classification, ``float32`` values for
        regression.
      task: ``"classification"`` or ``"regression"``.
      num_classes: Number of classes for classification, ``None`` for regression.
      name: A short human-readable name.
      feature_names: Names of the columns of a 2-d ``x``, or ``None``.

    Examples:
      >>> import numpy as np
      >>> from optjax import data
      >>> ds = data.Dataset(np.zeros((4, 2), np.float32), np.array([0, 1, 1, 0]),
      ...                   "classification", 2, "xor")
      >>> len(ds), len(ds.take(np.array([0, 3])))
      (4, 2)
    """

    x: np.ndarray
    y: np.ndarray
    task: Literal["classification", "regression"]
    num_classes: int | None
    name: str
    feature_names: tuple[str, ...] | None = None

    def __post_init__(self):
        if self.task not in _TASKS:
            raise ValueError(f"task must be one of {_TASKS}, got {self.task!r}.")
        if len(self.x) != len(self.y):
            raise ValueError(
                f"x and y must have the same number of examples, got {len(self.x)} and "
                f"{len(self.y)}."
            )
        if (self.task == "classification") != (self.num_classes is not None):
            raise ValueError(
                "num_classes must be an int for classification and None for regression, got "
                f"task={self.task!r}, num_classes={self.num_classes!r}."
            )

    def __len__(self) -> int:
        return len(self.x)

    def take(self, indices: np.ndarray) -> Dataset:
        """Returns the examples at ``indices`` (same metadata)."""
        return dataclasses.replace(self, x=self.x[indices], y=self.y[indices])


# ---------------------------------------------------------------------------------------------
# Named datasets.


def _classification(x, y, name, feature_names=None) -> Dataset:
    y = np.asarray(y).astype(np.int32)
    names = None if feature_names is None else tuple(str(f) for f in feature_names)
    return Dataset(np.asarray(x, np.float32), y, "classification", int(y.max()) + 1, name, names)


def _load_named(name: str, seed: int) -> Dataset:
    # Imported lazily so that `import optjax.data` works without scikit-learn.
    from sklearn import datasets as skd

    if name == "digits":
        bunch = skd.load_digits()
        # Pixels are integers in [0, 16]; keep the image layout (NHWC) and let models flatten.
        x = (bunch.images / 16.0).astype(np.float32)[..., None]
        return _classification(x, bunch.target, "digits")
    if name in ("iris", "breast_cancer"):
        bunch = getattr(skd, f"load_{name}")()
        return _classification(bunch.data, bunch.target, name, bunch.feature_names)
    if name == "diabetes":
        bunch = skd.load_diabetes()
        names = tuple(str(f) for f in bunch.feature_names)
        return Dataset(
            bunch.data.astype(np.float32),
            bunch.target.astype(np.float32),
            "regression",
            None,
            "diabetes",
            names,
        )
    if name == "linear":
        # Same draws as `optjax.demo.make_data` (before its split).
        rng = np.random.default_rng(seed)
        x = rng.uniform(-2.0, 2.0, size=200).astype(np.float32)
        y = (2.0 * x + 1.0 + rng.normal(0.0, 0.1, size=200)).astype(np.float32)
        return Dataset(x[:, None], y, "regression", None, "linear", ("x",))
    # name == "classification"
    x, y = skd.make_classification(
        n_samples=500,
        n_features=10,
        n_informative=5,
        n_redundant=2,
        n_classes=2,
        random_state=seed,
    )
    return _classification(x, y, "classification")


# ---------------------------------------------------------------------------------------------
# MNIST / Fashion-MNIST from disk.

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGES_MAGIC, _LABELS_MAGIC = 0x00000803, 0x00000801
_HOW_TO = (
    "Download MNIST or Fashion-MNIST yourself (optjax never downloads) and pass either a "
    "directory holding the four IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
    "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each optionally gzipped, '.gz'), or a "
    "keras-style '.npz' file with arrays x_train, y_train, x_test, y_test."
)


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Reads one IDX file (the MNIST format), gzipped if its name ends in ``.gz``.

    The header is two zero bytes, a type code, the number of dimensions ``k``, then ``k``
    big-endian ``uint32`` sizes; the data follows in C order.

    Args:
      path: The file.
      expected_magic: If given, the 4-byte magic number the file must start with (``2051`` for
        images, ``2049`` for labels).

    Returns:
      The array, in native byte order.

    Raises:
      ValueError: Naming the file, if the header or the data length is wrong.

    Examples:
      >>> import pathlib, struct, tempfile
      >>> import numpy as np
      >>> from optjax import data
      >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte"
      >>> _ = path.write_bytes(struct.pack(">II", 2049, 3) + bytes([7, 0, 9]))
      >>> data.read_idx(path, expected_magic=2049)
      array([7, 0, 9], dtype=uint8)
    """
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"Cannot read IDX file {path}: {e}") from e
    if len(raw) < 4:
        raise ValueError(f"IDX file {path} is too short to hold a header.")
    magic = int.from_bytes(raw[:4], "big")
    code, ndim = raw[2], raw[3]
    if raw[0] != 0 or raw[1] != 0 or code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(f"IDX file {path} has a bad magic number 0x{magic:08x}.")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"IDX file {path} has magic number 0x{magic:08x}, expected 0x{expected_magic:08x}."
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"IDX file {path} is truncated inside its header.")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"IDX file {path} holds {len(raw) - header} data bytes, but its header "
            f"(shape {shape}, {dtype}) needs {expected}."
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _find(directory: Path, base: str) -> Path:
    for candidate in (directory / base, directory / f"{base}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{directory} has no file named {base} or {base}.gz. {_HOW_TO}")


def _images(x: np.ndarray, y: np.ndarray, source: Path, name: str) -> Dataset:
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(
            f"{source}: expected images (n, h, w[, c]) and labels (n,), got {x.shape} and "
            f"{y.shape}."
        )
    scale = 255.0 if x.dtype == np.uint8 else 1.0
    x = (x.astype(np.float32) / scale).astype(np.float32)
    y = y.astype(np.int32)
    return Dataset(x, y, "classification", max(10, int(y.max()) + 1), name)


def _load_path(path: Path, split: str) -> Dataset:
    if not path.exists():
        raise FileNotFoundError(f"No such file or directory: {path}. {_HOW_TO}")
    parts = ("train", "test") if split == "all" else (split,)
    loaded = []
    if path.is_dir():
        for part in parts:
            images_file, labels_file = (_find(path, base) for base in _IDX_FILES[part])
            x = read_idx(images_file, _IMAGES_MAGIC)
            y = read_idx(labels_file, _LABELS_MAGIC)
            loaded.append(_images(x, y, images_file, path.name))
    else:
        try:
            archive = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ValueError(f"Cannot read {path} as an .npz archive: {e}") from e
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError(f"{path} is not an .npz archive. {_HOW_TO}")
        with archive:
            missing = [
                k for k in ("x_train", "y_train", "x_test", "y_test") if k not in archive.files
            ]
            if missing:
                raise ValueError(f"{path} lacks the arrays {missing}. {_HOW_TO}")
            name = path.name.removesuffix(".npz")
            for part in parts:
                x, y = archive[f"x_{part}"], archive[f"y_{part}"]
                loaded.append(_images(x, y, path, name))
    if len(loaded) == 1:
        return loaded[0]
    train, test = loaded
    return Dataset(
        np.concatenate([train.x, test.x]),
        np.concatenate([train.y, test.y]),
        "classification",
        max(train.num_classes, test.num_classes),
        train.name,
    )


def load(
    name_or_path: str | os.PathLike,
    *,
    seed: int = 0,
    split: Literal["train", "test", "all"] | None = None,
) -> Dataset:
    """Loads a small named dataset, or MNIST / Fashion-MNIST from a local path.

    Named datasets (``x`` is ``float32``; ``y`` is ``int32`` for classification, ``float32``
    for regression):

    ==================  ===============  ==========  =====================================
    name                x shape          task        source
    ==================  ===============  ==========  =====================================
    ``digits``          (1797, 8, 8, 1)  10 classes  sklearn ``load_digits``, pixels / 16
    ``iris``            (150, 4)         3 classes   sklearn ``load_iris``
    ``breast_cancer``   (569, 30)        2 classes   sklearn ``load_breast_cancer``
    ``diabetes``        (442, 10)        regression  sklearn ``load_diabetes``
    ``linear``          (200, 1)         regression  :math:`y = 2x + 1 + \\epsilon`
    ``classification``  (500, 10)        2 classes   sklearn ``make_classification``
    ==================  ===============  ==========  =====================================

    ``digits`` keeps the image layout ``(n, height, width, channels)`` in :math:`[0, 1]`, like
    MNIST; for a flat feature matrix use ``ds.x.reshape(len(ds), -1)`` (shape ``(1797, 64)``).
    ``linear`` draws :math:`x \\sim U(-2, 2)` and :math:`\\epsilon \\sim N(0, 0.1^2)` with
    ``seed``, the same points as the tutorial (``optjax.demo``).

    Any other argument that looks like a path (a ``PathLike``, an existing file, or a string
    with a path separator or ending in ``.npz``) is read from disk: a directory with the four
    IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each optionally ``.gz``) or a
    keras-style ``.npz`` with ``x_train, y_train, x_test, y_test``. Images become ``float32``
    of shape ``(n, 28, 28, 1)`` in :math:`[0, 1]`, labels ``int32``. Nothing is downloaded.

    Args:
      name_or_path: A name from the table, or a path.
      seed: Seed for the synthetic sets (``linear``, ``classification``); the others ignore it.
      split: Only for paths: ``"train"`` (the default, 60000 examples for MNIST), ``"test"``
        or ``"all"`` (train then test). Must be ``None`` for named datasets.

    Returns:
      A :class:`Dataset`.

    Raises:
      ValueError: For an unknown name (the message lists the valid ones), a ``split`` given
        with a name, or a malformed file (the message names the file).
      FileNotFoundError: For a path that does not exist or lacks an expected file; the message
        names the path and the expected file names.

    Examples:
      >>> from optjax import data
      >>> ds = data.load("linear")
      >>> ds.x.shape, ds.y.shape, ds.task
      ((200, 1), (200,), 'regression')
      >>> iris = data.load("iris")
      >>> iris.x.shape, iris.x.dtype, iris.num_classes, iris.feature_names[0]
      ((150, 4), dtype('float32'), 3, 'sepal length (cm)')
    """
    is_path = isinstance(name_or_path, os.PathLike)
    name = os.fspath(name_or_path)
    if not is_path and name in NAMES:
        if split is not None:
            raise ValueError(f"split applies only to paths, not to the named dataset {name!r}.")
        return _load_named(name, seed)
    looks_like_path = (
        is_path
        or os.sep in name
        or (os.altsep is not None and os.altsep in name)
        or name.endswith(".npz")
        or os.path.exists(name)
    )
    if not looks_like_path:
        raise ValueError(
            f"Unknown dataset {name!r}; valid names are {', '.join(NAMES)}, or a path to "
            "MNIST / Fashion-MNIST files (IDX directory or .npz)."
        )
    split = "train" if split is None else split
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}.")
    return _load_path(Path(name), split)


# ---------------------------------------------------------------------------------------------
# Splits.


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}.")


def _split_indices(
    indices: np.ndarray, y: np.ndarray, n_take: int, rng: np.random.Generator, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Splits ``indices`` into (taken, rest) with ``len(taken) == n_take``, both shuffled."""
    if not stratify:
        order = rng.permutation(indices)
        return order[:n_take], order[n_take:]
    classes, counts = np.unique(y[indices], return_counts=True)
    if counts.min() < 2:
        raise ValueError(
            "stratify=True needs at least 2 examples of every class, got counts "
            f"{dict(zip(classes.tolist(), counts.tolist()))}."
        )
    # Largest-remainder apportionment: each class gets its share of n_take, rounded so the
    # total is exact; ties go to the larger class, then the lower class id.
    share = counts * (n_take / len(indices))
    take = np.floor(share).astype(np.int64)
    leftover = n_take - int(take.sum())
    order = np.lexsort((-counts, -(share - take)))
    take[order[:leftover]] += 1
    taken, rest = [], []
    for cls, k in zip(classes, take):
        members = rng.permutation(indices[y[indices] == cls])
        taken.append(members[:k])
        rest.append(members[k:])
    return rng.permutation(np.concatenate(taken)), rng.permutation(np.concatenate(rest))


def _check_stratify(dataset: Dataset, stratify: bool) -> None:
    if stratify and dataset.task != "classification":
        raise ValueError("stratify=True needs a classification dataset.")


def train_test_split(
    dataset: Dataset, test_fraction: float = 0.2, *, seed: int = 0, stratify: bool = False
) -> tuple[Dataset, Dataset]:
    """Shuffles and splits a dataset into train and test parts.

    With :math:`n` examples the test part has :math:`\\lceil f\\, n \\rceil` of them (as in
    scikit-learn) and the train part the rest. With ``stratify=True`` each class contributes
    its share of the test part (rounded by largest remainder), so class ratios match.

    Args:
      dataset: The examples.
      test_fraction: Fraction :math:`f \\in (0, 1)` held out for testing.
      seed: Seed of the shuffle; the same seed gives the same split.
      stratify: Keep class proportions (classification only; every class needs 2 examples).

    Returns:
      ``(train, test)``, disjoint, each in shuffled order.

    Examples:
      >>> from optjax import data
      >>> train, test = data.train_test_split(data.load("linear"), seed=0)
      >>> len(train), len(test)
      (160, 40)
    """
    _check_fraction("test_fraction", test_fraction)
    _check_stratify(dataset, stratify)
    n = len(dataset)
    n_test = math.ceil(test_fraction * n)
    if n_test >= n:
        raise ValueError(f"test_fraction={test_fraction} leaves no training examples of {n}.")
    rng = np.random.default_rng(seed)
    test, train = _split_indices(np.arange(n), dataset.y, n_test, rng, stratify)
    return dataset.take(train), dataset.take(test)


def train_val_test_split(
    dataset: Dataset,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    *,
    seed: int = 0,
    stratify: bool = False,
) -> tuple[Dataset, Dataset, Dataset]:
    """Shuffles and splits a dataset into train, validation and test parts.

    The test part has :math:`\\lceil f_{test}\\, n \\rceil` examples, the validation part
    :math:`\\lceil f_{val}\\, n \\rceil`, the train part the rest.

    Args:
      dataset: The examples.
      val_fraction: Fraction held out for validation.
      test_fraction: Fraction held out for testing.
      seed: Seed of the shuffle.
      stratify: Keep class proportions in every part (classification only).

    Returns:
      ``(train, val, test)``, pairwise disjoint.

    Examples:
      >>> from optjax import data
      >>> parts = data.train_val_test_split(data.load("iris"), seed=0, stratify=True)
      >>> [len(p) for p in parts]
      [105, 15, 30]
    """
    _check_fraction("val_fraction", val_fraction)
    _check_fraction("test_fraction", test_fraction)
    _check_stratify(dataset, stratify)
    n = len(dataset)
    n_test, n_val = math.ceil(test_fraction * n), math.ceil(val_fraction * n)
    if n_test + n_val >= n:
        raise ValueError(
            f"val_fraction={val_fraction} and test_fraction={test_fraction} leave no training "
            f"examples of {n}."
        )
    rng = np.random.default_rng(seed)
    test, rest = _split_indices(np.arange(n), dataset.y, n_test, rng, stratify)
    val, train = _split_indices(rest, dataset.y, n_val, rng, stratify)
    return dataset.take(train), dataset.take(val), dataset.take(test)


# ---------------------------------------------------------------------------------------------
# Preprocessing and batching.


def standardize(
    train: Dataset, *others: Dataset
) -> tuple[tuple[Dataset, ...], tuple[np.ndarray, np.ndarray]]:
    """Standardizes features with statistics of the training set only.

    .. math::

        \\mu = \\frac{1}{n} \\sum_i x_i, \\quad
        \\sigma = \\sqrt{\\frac{1}{n} \\sum_i (x_i - \\mu)^2}, \\quad
        z = \\frac{x - \\mu}{\\sigma'}, \\quad
        \\sigma' = \\begin{cases} \\sigma & \\sigma > 0 \\\\ 1 & \\sigma = 0 \\end{cases}

    per feature (over the first axis of ``train.x``). A constant feature becomes 0 instead of
    NaN. Targets ``y`` are left unchanged.

    Args:
      train: The dataset whose statistics are fitted.
      *others: Datasets (validation, test) transformed with the same statistics.

    Returns:
      ``((train, *others), (mean, std))``: the transformed datasets in input order, and
      :math:`\\mu`, :math:`\\sigma'` with shape ``train.x.shape[1:]`` in ``train.x``'s dtype.

    Examples:
      >>> from optjax import data
      >>> train, test = data.train_test_split(data.load("iris"), seed=0)
      >>> (train, test), (mean, std) = data.standardize(train, test)
      >>> print(f"{abs(train.x.mean(0)).max():.4f} {train.x.std(0).min():.4f}")
      0.0000 1.0000
    """
    x = np.asarray(train.x, dtype=np.float64)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    dtype = train.x.dtype
    out = tuple(
        dataclasses.replace(d, x=((d.x.astype(np.float64) - mean) / std).astype(dtype))
        for d in (train, *others)
    )
    return out, (mean.astype(dtype), std.astype(dtype))


def num_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    """Number of batches :func:`batches` yields for ``n`` examples.

    .. math::

        \\lfloor n / b \\rfloor \\text{ if drop\\_last else } \\lceil n / b \\rceil

    Args:
      n: Number of examples.
      batch_size: Batch size :math:`b \\ge 1`.
      drop_last: Whether the final short batch is dropped.

    Returns:
      The count.

    Examples:
      >>> from optjax import data
      >>> data.num_batches(160, 32), data.num_batches(150, 32), data.num_batches(150, 32, True)
      (5, 5, 4)
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n!r}.")
    return n // batch_size if drop_last else -(-n // batch_size)


def batches(
    dataset: Dataset,
    batch_size: int,
    *,
    seed: int,
    shuffle: bool = True,
    drop_last: bool = False,
    epoch: int = 0,
) -> Iterator[dict[str, np.ndarray]]:
    """Yields mini-batches ``{"x": ..., "y": ...}`` covering the dataset once.

    The order is a permutation drawn from ``(seed, epoch)``: the same pair always gives the same
    batches, and each epoch gets a fresh shuffle. The last batch is shorter when ``batch_size``
    does not divide ``len(dataset)`` unless ``drop_last``.

    Args:
      dataset: The examples.
      batch_size: Examples per batch.
      seed: Seed of the shuffle.
      shuffle: If ``False``, batches follow the dataset order.
      drop_last: Drop the final short batch.
      epoch: Epoch number; mixed with ``seed`` to reshuffle every epoch.

    Returns:
      A generator of :func:`num_batches` dicts of NumPy arrays.

    Examples:
      >>> from optjax import data
      >>> ds = data.load("linear")
      >>> sizes = [len(b["y"]) for b in data.batches(ds, 64, seed=0, epoch=3)]
      >>> sizes
      [64, 64, 64, 8]
    """
    count = num_batches(len(dataset), batch_size, drop_last)
    if shuffle:
        order = np.random.default_rng((seed, epoch)).permutation(len(dataset))
    else:
        order = np.arange(len(dataset))
    for i in range(count):
        idx = order[i * batch_size : (i + 1) * batch_size]
        yield {"x": dataset.x[idx], "y": dataset.y[idx]}
