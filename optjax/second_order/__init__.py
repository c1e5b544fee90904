"""Placeholder: filled in by issue 13 (``optax.second_order`` at the same path)."""

__all__: list[str] = []
