"""Placeholder, replaced by the modern-optimizers work (issue 5)."""

from typing import NamedTuple


class DAdaptAdamWState(NamedTuple):
    """Placeholder."""


def dadapt_adamw(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError
