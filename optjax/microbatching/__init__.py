"""Placeholder: filled in by issue 13 (``optax.microbatching`` at the same path)."""

__all__: list[str] = []
