"""Training over Flax models: a pure train state, compiled train and eval steps, tutorial models.

This subpackage imports Flax; ``import optjax`` does not import it. Use
``import optjax.training`` (requires the ``train`` extra: ``pip install
optjax[train]``).
"""

from optjax.training._callbacks import Callback as Callback
from optjax.training._callbacks import EarlyStopping as EarlyStopping
from optjax.training._callbacks import History as History
from optjax.training._callbacks import ReduceLROnPlateau as ReduceLROnPlateau
from optjax.training._callbacks import Run as Run
from optjax.training._checkpoint import Checkpointer as Checkpointer
from optjax.training._checkpoint import CheckpointError as CheckpointError
from optjax.training._distributed import host_devices as host_devices
from optjax.training._distributed import initialize as initialize
from optjax.training._distributed import process_batch_slice as process_batch_slice
from optjax.training._evaluate import classification_metrics as classification_metrics
from optjax.training._evaluate import eval_params as eval_params
from optjax.training._evaluate import evaluate as evaluate
from optjax.training._evaluate import predict as predict
from optjax.training._evaluate import regression_metrics as regression_metrics
from optjax.training._fit import TrainingDiverged as TrainingDiverged
from optjax.training._fit import fit as fit
from optjax.training._lr_find import LRFindResult as LRFindResult
from optjax.training._lr_find import lr_find as lr_find
from optjax.training._models import MODEL_NAMES as MODEL_NAMES
from optjax.training._models import LinenCNN as LinenCNN
from optjax.training._models import LinenLinearRegression as LinenLinearRegression
from optjax.training._models import LinenLogisticRegression as LinenLogisticRegression
from optjax.training._models import LinenMLP as LinenMLP
from optjax.training._models import NnxCNN as NnxCNN
from optjax.training._models import NnxLinearRegression as NnxLinearRegression
from optjax.training._models import NnxLogisticRegression as NnxLogisticRegression
from optjax.training._models import NnxMLP as NnxMLP
from optjax.training._models import make_model as make_model
from optjax.training._parallel import make_mesh as make_mesh
from optjax.training._parallel import make_pmap_train_step as make_pmap_train_step
from optjax.training._parallel import make_sharded_train_step as make_sharded_train_step
from optjax.training._parallel import replicate as replicate
from optjax.training._parallel import replicate_for_pmap as replicate_for_pmap
from optjax.training._parallel import shard_batch as shard_batch
from optjax.training._parallel import split_for_pmap as split_for_pmap
from optjax.training._parallel import state_shardings as state_shardings
from optjax.training._parallel import unreplicate as unreplicate
from optjax.training._recipes import SCHEDULE_NAMES as SCHEDULE_NAMES
from optjax.training._recipes import default_loss as default_loss
from optjax.training._recipes import make_optimizer as make_optimizer
from optjax.training._recipes import make_schedule as make_schedule
from optjax.training._recipes import optimizer_names as optimizer_names
from optjax.training._state import TrainState as TrainState
from optjax.training._steps import make_eval_step as make_eval_step
from optjax.training._steps import make_train_step as make_train_step
from optjax.training._sweep import SweepResult as SweepResult
from optjax.training._sweep import sweep as sweep

__all__ = [
    "MODEL_NAMES",
    "SCHEDULE_NAMES",
    "Callback",
    "CheckpointError",
    "Checkpointer",
    "EarlyStopping",
    "History",
    "LRFindResult",
    "LinenCNN",
    "LinenLinearRegression",
    "LinenLogisticRegression",
    "LinenMLP",
    "NnxCNN",
    "NnxLinearRegression",
    "NnxLogisticRegression",
    "NnxMLP",
    "ReduceLROnPlateau",
    "Run",
    "SweepResult",
    "TrainState",
    "TrainingDiverged",
    "classification_metrics",
    "default_loss",
    "eval_params",
    "evaluate",
    "fit",
    "host_devices",
    "initialize",
    "lr_find",
    "make_eval_step",
    "make_mesh",
    "make_model",
    "make_optimizer",
    "make_pmap_train_step",
    "make_schedule",
    "make_sharded_train_step",
    "make_train_step",
    "optimizer_names",
    "predict",
    "process_batch_slice",
    "regression_metrics",
    "replicate",
    "replicate_for_pmap",
    "shard_batch",
    "split_for_pmap",
    "state_shardings",
    "sweep",
    "unreplicate",
]
