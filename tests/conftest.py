"""Strict test configuration: warnings are errors (pyproject), rank promotion raises.

Compiled programs are dropped after each test module: a worker runs hundreds
of modules' worth of distinct programs, and keeping them all alive grows its
memory by gigabytes over a full run.
"""

import gc

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key():
    """A fixed PRNG key."""
    return jax.random.key(0)


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_programs():
    """Clears JAX's compilation caches after each test module."""
    yield
    jax.clear_caches()
    gc.collect()
