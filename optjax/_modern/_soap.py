"""Placeholder, replaced by the modern-optimizers work (issue 5)."""

from typing import NamedTuple


class ScaleBySoapState(NamedTuple):
    """Placeholder."""


def scale_by_soap(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError


def soap(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError
