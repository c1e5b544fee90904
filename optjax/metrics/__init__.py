"""Evaluation metrics computed in JAX (jit-able, vmap-able), checked against scikit-learn.

Import as ``from optjax import metrics``; see each function for its definition.
"""

from optjax.metrics._scores import accuracy as accuracy
from optjax.metrics._scores import confusion_matrix as confusion_matrix
from optjax.metrics._scores import f1_score as f1_score
from optjax.metrics._scores import mean_absolute_error as mean_absolute_error
from optjax.metrics._scores import mean_squared_error as mean_squared_error
from optjax.metrics._scores import precision as precision
from optjax.metrics._scores import r2_score as r2_score
from optjax.metrics._scores import recall as recall
from optjax.metrics._scores import roc_auc as roc_auc

__all__ = [
    "accuracy",
    "confusion_matrix",
    "f1_score",
    "mean_absolute_error",
    "mean_squared_error",
    "precision",
    "r2_score",
    "recall",
    "roc_auc",
]
