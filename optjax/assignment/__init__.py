"""Placeholder: filled in by issue 13 (``optax.assignment`` at the same path)."""

__all__: list[str] = []
