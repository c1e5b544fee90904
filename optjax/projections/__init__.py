"""Placeholder: filled in by issue 13 (``optax.projections`` at the same path)."""

__all__: list[str] = []
