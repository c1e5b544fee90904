"""Placeholder, replaced by the modern-optimizers work (issue 5)."""

from typing import NamedTuple


class ScaleByZoomLinesearchState(NamedTuple):
    """Placeholder."""


def scale_by_zoom_linesearch(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError


class ScaleByBacktrackingLinesearchState(NamedTuple):
    """Placeholder."""


def scale_by_backtracking_linesearch(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError
