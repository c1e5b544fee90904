"""Placeholder: filled in by issue 13 (``optax.perturbations`` at the same path)."""

__all__: list[str] = []
