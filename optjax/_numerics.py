"""Numerically safe scalar and tree helpers exported at the top level, as Optax does."""

__all__: list[str] = []
