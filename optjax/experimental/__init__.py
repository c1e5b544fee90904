"""Placeholder: filled in by issue 13 (``optax.experimental`` at the same path)."""

__all__: list[str] = []
