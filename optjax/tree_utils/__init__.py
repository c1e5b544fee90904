"""Placeholder: filled in by issue 13 (``optax.tree_utils`` at the same path)."""

__all__: list[str] = []
