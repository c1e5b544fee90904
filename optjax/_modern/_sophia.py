"""Placeholder, replaced by the modern-optimizers work (issue 5)."""

from typing import NamedTuple


class SophiaState(NamedTuple):
    """Placeholder."""


def sophia(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError


class HutchinsonState(NamedTuple):
    """Placeholder."""


def hutchinson_estimator_diag_hessian(*args, **kwargs):
    """Placeholder."""
    raise NotImplementedError
