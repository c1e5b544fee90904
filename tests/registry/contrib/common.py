"""Small builders shared by the registry modules of ``optjax.contrib``.

``make(lib)`` is called with ``optjax`` and with ``optax``; Optax keeps these
optimizers in ``optax.contrib`` while optjax re-exports them at the top level.
This module has no ``CASES``: the registry only collects its helpers' users.
"""

import jax


def contrib_of(lib):
    """The module holding the contrib optimizers: ``optax.contrib`` or ``optjax`` itself."""
    return lib.contrib if lib.__name__ == "optax" else lib


def descend(lib, tx, step=0.05):
    """``tx`` followed by a fixed descent step, so a bare ``scale_by_*`` moves the params."""
    return lib.chain(tx, lib.scale(-step))


def decay(lib, init=2e-2):
    """A short exponential decay, to check that a schedule is accepted."""
    return lib.exponential_decay(init, transition_steps=10, decay_rate=0.5)


def warmup(lib, peak=0.05):
    """A 10-step linear warmup to ``peak``."""
    return lib.warmup_constant_schedule(0.0, peak, warmup_steps=10)


def kernels(params):
    """True on the rank >= 2 leaves (the matrices and the 4-d kernel)."""
    return jax.tree.map(lambda x: x.ndim > 1, params)
