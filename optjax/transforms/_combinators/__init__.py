"""Combinators: transforms built from other transforms."""
