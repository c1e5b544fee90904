"""Placeholder, replaced by the modern-optimizers work (issue 5)."""

from typing import NamedTuple


class ScaleByAdoptState(NamedTuple):
    """Placeholder."""


def scale_by_adopt(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError


def adopt(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError
