"""Constraints enforced on the parameters through the updates."""

from __future__ import annotations

import jax.numpy as jnp

from optjax._base import EmptyState, GradientTransformationExtraArgs, transformation
from optjax.tree import _math as _tree

NonNegativeParamsState = EmptyState


def keep_params_nonnegative() -> GradientTransformationExtraArgs:
    """Changes the updates so that the parameters stay non-negative.

    .. math::

        u = \\begin{cases} -\\theta & \\theta + g < 0 \\\\ g & \\text{otherwise}
        \\end{cases}

    so an update that would take a parameter below zero lands it on zero
    instead. Put it last in a chain, after the learning rate, since it acts on
    the final update.

    .. warning::
      Parameters that are already negative are moved to zero by the next
      update whose step does not make them non-negative; start from
      non-negative parameters.

    Returns:
      A stateless gradient transformation that needs ``params`` in ``update``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.keep_params_nonnegative()
      >>> params = {"w": jnp.array([1.0, 0.5])}
      >>> tx.update({"w": jnp.array([-0.5, -2.0])}, tx.init(params), params)[0]["w"]
      Array([-0.5, -0.5], dtype=float32)
    """

    def update_fn(updates, state, params=None, **extra_args):
        updates = _tree.map(
            lambda g, p: jnp.where((p + g) < 0.0, -p, g),
            updates,
            params,
            names=("updates", "params"),
            where="keep_params_nonnegative",
        )
        return updates, state

    return transformation(
        lambda params: NonNegativeParamsState(),
        update_fn,
        name="keep_params_nonnegative",
        needs_params=True,
    )
