"""Registry entries for modern optimizers (filled in by issue 5)."""

CASES = []
