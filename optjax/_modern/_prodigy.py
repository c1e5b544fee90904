"""Placeholder, replaced by the modern-optimizers work (issue 5)."""

from typing import NamedTuple


class ProdigyState(NamedTuple):
    """Placeholder."""


def prodigy(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError
