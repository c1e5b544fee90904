"""Placeholder, replaced by the modern-optimizers work (issue 5)."""

from typing import NamedTuple


class MuonDimensionNumbers(NamedTuple):
    """Placeholder."""


class MuonState(NamedTuple):
    """Placeholder."""


def scale_by_muon(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError


def muon(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError
