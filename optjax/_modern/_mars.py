"""Placeholder, replaced by the modern-optimizers work (issue 5)."""

from typing import NamedTuple


class ScaleByMarsState(NamedTuple):
    """Placeholder."""


def scale_by_mars(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError


def mars_adamw(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError


def mars_lion(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError
