"""Learning-rate schedules: functions from the step count to a value.

Every constructor here is also available at the top level (``optjax.NAME``), and
so are the wrappers that turn hyperparameters into state (``inject_hyperparams``),
which Optax also keeps in ``optax.schedules``.
"""

from optjax._base import Schedule as Schedule
from optjax.schedules._cycles import cosine_onecycle_schedule as cosine_onecycle_schedule
from optjax.schedules._cycles import linear_onecycle_schedule as linear_onecycle_schedule
from optjax.schedules._cycles import sgdr_schedule as sgdr_schedule
from optjax.schedules._decay import constant_schedule as constant_schedule
from optjax.schedules._decay import cosine_decay_schedule as cosine_decay_schedule
from optjax.schedules._decay import exponential_decay as exponential_decay
from optjax.schedules._decay import linear_schedule as linear_schedule
from optjax.schedules._decay import polynomial_schedule as polynomial_schedule
from optjax.schedules._inject import InjectHyperparamsState as InjectHyperparamsState
from optjax.schedules._inject import (
    InjectStatefulHyperparamsState as InjectStatefulHyperparamsState,
)
from optjax.schedules._inject import StatefulSchedule as StatefulSchedule
from optjax.schedules._inject import WrappedSchedule as WrappedSchedule
from optjax.schedules._inject import find_injected_states as find_injected_states
from optjax.schedules._inject import get_hyperparams as get_hyperparams
from optjax.schedules._inject import inject_hyperparams as inject_hyperparams
from optjax.schedules._inject import inject_stateful_hyperparams as inject_stateful_hyperparams
from optjax.schedules._inject import set_hyperparams as set_hyperparams
from optjax.schedules._piecewise import join_schedules as join_schedules
from optjax.schedules._piecewise import piecewise_constant_schedule as piecewise_constant_schedule
from optjax.schedules._piecewise import (
    piecewise_interpolate_schedule as piecewise_interpolate_schedule,
)
from optjax.schedules._pytorch import cyclic_schedule as cyclic_schedule
from optjax.schedules._pytorch import inverse_sqrt_schedule as inverse_sqrt_schedule
from optjax.schedules._pytorch import multistep_decay_schedule as multistep_decay_schedule
from optjax.schedules._pytorch import step_decay_schedule as step_decay_schedule
from optjax.schedules._warmup import warmup_constant_schedule as warmup_constant_schedule
from optjax.schedules._warmup import (
    warmup_cosine_decay_schedule as warmup_cosine_decay_schedule,
)
from optjax.schedules._warmup import (
    warmup_exponential_decay_schedule as warmup_exponential_decay_schedule,
)

__all__ = [
    "InjectHyperparamsState",
    "InjectStatefulHyperparamsState",
    "Schedule",
    "StatefulSchedule",
    "WrappedSchedule",
    "find_injected_states",
    "get_hyperparams",
    "inject_hyperparams",
    "inject_stateful_hyperparams",
    "set_hyperparams",
    "constant_schedule",
    "cosine_decay_schedule",
    "cosine_onecycle_schedule",
    "cyclic_schedule",
    "exponential_decay",
    "inverse_sqrt_schedule",
    "join_schedules",
    "linear_onecycle_schedule",
    "linear_schedule",
    "multistep_decay_schedule",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "polynomial_schedule",
    "sgdr_schedule",
    "step_decay_schedule",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
]
