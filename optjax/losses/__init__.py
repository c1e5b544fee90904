"""Loss functions and parameter penalties (``optjax.losses.NAME``).

Per-example losses as in ``optax.losses`` (no reduction unless the name says
``mean``), plus Keras-style ``l1_penalty`` / ``l2_penalty`` on parameter trees.
"""

from optjax.losses._basic import absolute_error as absolute_error
from optjax.losses._basic import cosine_distance as cosine_distance
from optjax.losses._basic import cross_entropy as cross_entropy
from optjax.losses._basic import hinge_loss as hinge_loss
from optjax.losses._basic import huber_loss as huber_loss
from optjax.losses._basic import kl_divergence as kl_divergence
from optjax.losses._basic import log_cosh as log_cosh
from optjax.losses._basic import mean_absolute_error as mean_absolute_error
from optjax.losses._basic import mean_squared_error as mean_squared_error
from optjax.losses._basic import multiclass_hinge_loss as multiclass_hinge_loss
from optjax.losses._basic import sigmoid_binary_cross_entropy as sigmoid_binary_cross_entropy
from optjax.losses._basic import smooth_labels as smooth_labels
from optjax.losses._basic import softmax_cross_entropy as softmax_cross_entropy
from optjax.losses._basic import (
    softmax_cross_entropy_with_integer_labels as softmax_cross_entropy_with_integer_labels,
)
from optjax.losses._basic import squared_error as squared_error
from optjax.losses._penalties import l1_penalty as l1_penalty
from optjax.losses._penalties import l2_penalty as l2_penalty

__all__ = [
    "absolute_error",
    "cosine_distance",
    "cross_entropy",
    "hinge_loss",
    "huber_loss",
    "kl_divergence",
    "l1_penalty",
    "l2_penalty",
    "log_cosh",
    "mean_absolute_error",
    "mean_squared_error",
    "multiclass_hinge_loss",
    "sigmoid_binary_cross_entropy",
    "smooth_labels",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "squared_error",
]
