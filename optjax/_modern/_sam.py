"""Placeholder, replaced by the modern-optimizers work (issue 5)."""

from typing import NamedTuple


class SAMState(NamedTuple):
    """Placeholder."""


def sam(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError
