"""Wrappers: transforms that change when or how an inner transform applies."""
