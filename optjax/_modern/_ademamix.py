"""Placeholder, replaced by the modern-optimizers work (issue 5)."""

from typing import NamedTuple


class ScaleByAdemamixState(NamedTuple):
    """Placeholder."""


def scale_by_ademamix(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError


def ademamix(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError


class ScaleBySimplifiedAdEMAMixState(NamedTuple):
    """Placeholder."""


def scale_by_simplified_ademamix(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError


def simplified_ademamix(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError
