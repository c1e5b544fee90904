"""Loss functions and parameter penalties (``optjax.losses.NAME``).

Every name of ``optax.losses`` with Optax's signature and numbers: per-example
losses (no reduction unless the name says ``mean`` or the loss is defined as a
batch mean), grouped into modules by concept. optjax adds ``mean_squared_error``,
``absolute_error``, ``mean_absolute_error``, ``cross_entropy`` and Keras-style
``l1_penalty`` / ``l2_penalty`` on parameter trees.
"""

from optjax.losses._ctc import ctc_loss as ctc_loss
from optjax.losses._ctc import ctc_loss_with_forward_probs as ctc_loss_with_forward_probs
from optjax.losses._divergences import convex_kl_divergence as convex_kl_divergence
from optjax.losses._divergences import generalized_kl_divergence as generalized_kl_divergence
from optjax.losses._divergences import kl_divergence as kl_divergence
from optjax.losses._divergences import (
    kl_divergence_with_log_targets as kl_divergence_with_log_targets,
)
from optjax.losses._fenchel_young import make_fenchel_young_loss as make_fenchel_young_loss
from optjax.losses._margin import hinge_loss as hinge_loss
from optjax.losses._margin import multiclass_hinge_loss as multiclass_hinge_loss
from optjax.losses._margin import multiclass_perceptron_loss as multiclass_perceptron_loss
from optjax.losses._margin import perceptron_loss as perceptron_loss
from optjax.losses._penalties import l1_penalty as l1_penalty
from optjax.losses._penalties import l2_penalty as l2_penalty
from optjax.losses._ranking import ranking_softmax_loss as ranking_softmax_loss
from optjax.losses._regression import absolute_error as absolute_error
from optjax.losses._regression import cosine_distance as cosine_distance
from optjax.losses._regression import cosine_similarity as cosine_similarity
from optjax.losses._regression import huber_loss as huber_loss
from optjax.losses._regression import l2_loss as l2_loss
from optjax.losses._regression import log_cosh as log_cosh
from optjax.losses._regression import mean_absolute_error as mean_absolute_error
from optjax.losses._regression import mean_squared_error as mean_squared_error
from optjax.losses._regression import squared_error as squared_error
from optjax.losses._segmentation import binary_dice_loss as binary_dice_loss
from optjax.losses._segmentation import dice_loss as dice_loss
from optjax.losses._segmentation import (
    multiclass_generalized_dice_loss as multiclass_generalized_dice_loss,
)
from optjax.losses._self_supervised import ntxent as ntxent
from optjax.losses._self_supervised import triplet_margin_loss as triplet_margin_loss
from optjax.losses._sigmoid import sigmoid_binary_cross_entropy as sigmoid_binary_cross_entropy
from optjax.losses._sigmoid import sigmoid_focal_loss as sigmoid_focal_loss
from optjax.losses._smoothing import smooth_labels as smooth_labels
from optjax.losses._softmax import cross_entropy as cross_entropy
from optjax.losses._softmax import poly_loss_cross_entropy as poly_loss_cross_entropy
from optjax.losses._softmax import safe_softmax_cross_entropy as safe_softmax_cross_entropy
from optjax.losses._softmax import softmax_cross_entropy as softmax_cross_entropy
from optjax.losses._softmax import (
    softmax_cross_entropy_with_integer_labels as softmax_cross_entropy_with_integer_labels,
)
from optjax.losses._sparsemax import multiclass_sparsemax_loss as multiclass_sparsemax_loss
from optjax.losses._sparsemax import sparsemax_loss as sparsemax_loss

__all__ = [
    "absolute_error",
    "binary_dice_loss",
    "convex_kl_divergence",
    "cosine_distance",
    "cosine_similarity",
    "cross_entropy",
    "ctc_loss",
    "ctc_loss_with_forward_probs",
    "dice_loss",
    "generalized_kl_divergence",
    "hinge_loss",
    "huber_loss",
    "kl_divergence",
    "kl_divergence_with_log_targets",
    "l1_penalty",
    "l2_loss",
    "l2_penalty",
    "log_cosh",
    "make_fenchel_young_loss",
    "mean_absolute_error",
    "mean_squared_error",
    "multiclass_generalized_dice_loss",
    "multiclass_hinge_loss",
    "multiclass_perceptron_loss",
    "multiclass_sparsemax_loss",
    "ntxent",
    "perceptron_loss",
    "poly_loss_cross_entropy",
    "ranking_softmax_loss",
    "safe_softmax_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal_loss",
    "smooth_labels",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "sparsemax_loss",
    "squared_error",
    "triplet_margin_loss",
]
