"""Small datasets and host-side data utilities: loading, splitting, standardizing, batching.

Everything takes and returns NumPy arrays; nothing is downloaded. The named datasets need
scikit-learn (``pip install optjax[train]``).
"""

from optjax.data._datasets import Dataset as Dataset
from optjax.data._datasets import batches as batches
from optjax.data._datasets import load as load
from optjax.data._datasets import num_batches as num_batches
from optjax.data._datasets import read_idx as read_idx
from optjax.data._datasets import standardize as standardize
from optjax.data._datasets import train_test_split as train_test_split
from optjax.data._datasets import train_val_test_split as train_val_test_split

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
