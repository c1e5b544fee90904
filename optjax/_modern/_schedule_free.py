"""Placeholder, replaced by the modern-optimizers work (issue 5)."""

from typing import NamedTuple


class ScheduleFreeState(NamedTuple):
    """Placeholder."""


def schedule_free(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError


def schedule_free_adamw(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError


def schedule_free_sgd(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError


def schedule_free_eval_params(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError
