"""Differentially private SGD: clip each example's gradient, sum, add Gaussian noise.

Both transforms here take *per-example* gradients (every leaf carries a leading
batch axis, as ``jax.vmap(jax.grad(loss), in_axes=(None, 0))`` produces) and
return one aggregated update without that axis.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from optjax import _checks
from optjax._base import (
    GradientTransformationExtraArgs,
    ScalarOrSchedule,
    transformation,
)
from optjax.transforms._basic import identity, scale_by_learning_rate, trace
from optjax.transforms._clipping import per_example_global_norm_clip
from optjax.transforms._combinators._chain import chain
from optjax.transforms._noise import canonicalize_key, resolve_key

_AGGREGATE = "differentially_private_aggregate"


class DifferentiallyPrivateAggregateState(NamedTuple):
    """State of :func:`differentially_private_aggregate`: the PRNG key of the next noise."""

    rng_key: jax.Array


def _typed_key(key: jax.Array | int, where: str) -> jax.Array:
    """A typed key from an int seed, a typed key or a legacy ``uint32`` key."""
    if isinstance(key, bool) or not isinstance(key, int | np.integer | np.ndarray | jax.Array):
        raise TypeError(f"{where}: key must be a PRNG key or an int seed, got {key!r}.")
    if jnp.ndim(key) > 0:
        dtype = key.dtype
        if not (
            jnp.issubdtype(dtype, jax.dtypes.prng_key) or jnp.issubdtype(dtype, jnp.unsignedinteger)
        ):
            raise TypeError(
                f"{where}: key must be a jax.random.key, a legacy jax.random.PRNGKey or an "
                f"int seed; got an array of dtype {dtype} and shape {jnp.shape(key)}."
            )
    return canonicalize_key(key)


def _leading_size(leaves_with_paths: list, where: str) -> int:
    """The common leading (batch) size of every leaf; a clear error otherwise."""
    batch = None
    for path, g in leaves_with_paths:
        shape = jnp.shape(g)
        if len(shape) == 0 or (batch is not None and shape[0] != batch):
            expected = "" if batch is None else f" (expected leading size {batch})"
            raise ValueError(
                f"{where}: expects per-example gradients, every leaf with the same leading "
                f"batch axis, but the leaf at key path {jax.tree_util.keystr(path)} has "
                f"shape {shape}{expected}. Compute them with jax.vmap(jax.grad(loss))."
            )
        batch = shape[0] if batch is None else batch
    return batch


def differentially_private_aggregate(
    l2_norm_clip: jax.typing.ArrayLike,
    noise_multiplier: jax.typing.ArrayLike,
    key: jax.Array | int | None = None,
    *,
    seed: int | None = None,
) -> GradientTransformationExtraArgs:
    """Aggregates per-example gradients as DP-SGD does: clip, sum, add noise, average.

    For a batch of :math:`B` per-example gradient trees :math:`g^{(1..B)}`, a
    clipping norm :math:`C` and a noise multiplier :math:`\\sigma`:

    .. math::

        \\bar g^{(n)} = g^{(n)} \\min\\left(1, \\frac{C}{\\|g^{(n)}\\|_2}\\right),
        \\qquad
        u = \\frac{1}{B}\\left(\\sum_{n=1}^{B} \\bar g^{(n)}
        + \\mathcal{N}(0, \\sigma^2 C^2 I)\\right),

    where the norm is the global norm of example :math:`n`'s whole tree (an
    example with zero norm is kept as it is). Each leaf gets its own noise key,
    split from the state's key, which advances every step.

    .. warning::
      The input ``updates`` must be per-example gradients: every leaf carries
      the batch on axis 0 (``params`` do not). Put this transform first in a
      chain; the output has the parameters' shapes. Gradient accumulators such
      as :class:`~optjax.MultiSteps` or ``apply_every`` would average already
      privatized updates and do not compose with it.

    Args:
      l2_norm_clip: :math:`C`, the largest global L2 norm of one example's
        gradient (> 0).
      noise_multiplier: :math:`\\sigma`, the noise standard deviation relative
        to :math:`C` (>= 0).
      key: the PRNG key of the noise: a ``jax.random.key``, a legacy
        ``jax.random.PRNGKey`` or an int seed. ``None`` uses seed 0 with a
        warning, as Optax does.
      seed: deprecated spelling of an int ``key`` (warns, as in Optax).

    Returns:
      A gradient transformation with a
      :class:`DifferentiallyPrivateAggregateState`.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.contrib.differentially_private_aggregate(
      ...     l2_norm_clip=1.0, noise_multiplier=0.0, key=jax.random.key(0))
      >>> params = {"w": jnp.zeros(2)}
      >>> per_example = {"w": jnp.array([[3.0, 4.0], [0.3, 0.4]])}
      >>> updates, state = tx.update(per_example, tx.init(params), params)
      >>> print([round(float(x), 3) for x in updates["w"]])
      [0.45, 0.6]

    References:
      Abadi et al., *Deep Learning with Differential Privacy*, CCS 2016,
      https://arxiv.org/abs/1607.00133
    """
    _checks.check_positive("l2_norm_clip", l2_norm_clip, where=_AGGREGATE)
    _checks.check_non_negative("noise_multiplier", noise_multiplier, where=_AGGREGATE)
    key = _typed_key(resolve_key(key, seed, where=_AGGREGATE), _AGGREGATE)
    noise_std = l2_norm_clip * noise_multiplier

    def init_fn(params):
        del params
        return DifferentiallyPrivateAggregateState(rng_key=key)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        leaves_with_paths, treedef = jax.tree_util.tree_flatten_with_path(updates)
        if not leaves_with_paths:
            return updates, state
        batch_size = _leading_size(leaves_with_paths, _AGGREGATE)
        leaves = [g for _, g in leaves_with_paths]
        summed, _ = per_example_global_norm_clip(leaves, l2_norm_clip)
        # One key for the next step, then one per leaf, in leaf order.
        new_key, *leaf_keys = jax.random.split(state.rng_key, len(leaves) + 1)
        noisy = [
            (s + noise_std * jax.random.normal(k, s.shape, s.dtype)) / batch_size
            for s, k in zip(summed, leaf_keys)
        ]
        return jax.tree.unflatten(treedef, noisy), DifferentiallyPrivateAggregateState(new_key)

    return transformation(init_fn, update_fn, name=_AGGREGATE)


def dpsgd(
    learning_rate: ScalarOrSchedule,
    l2_norm_clip: jax.typing.ArrayLike,
    noise_multiplier: jax.typing.ArrayLike,
    seed: int,
    momentum: jax.typing.ArrayLike | None = None,
    nesterov: bool = False,
) -> GradientTransformationExtraArgs:
    """The DP-SGD optimizer: privately aggregated per-example gradients, then SGD.

    .. math::

        u_t = \\frac{1}{B}\\left(\\sum_{n=1}^{B} g_t^{(n)}
        \\min\\left(1, \\frac{C}{\\|g_t^{(n)}\\|_2}\\right)
        + \\mathcal{N}(0, \\sigma^2 C^2 I)\\right), \\qquad
        m_t = \\mu\\, m_{t-1} + u_t, \\qquad
        \\theta_{t+1} = \\theta_t - \\eta_t\\, m_t

    (without momentum, :math:`m_t = u_t`). The aggregation is
    :func:`differentially_private_aggregate` with ``key=jax.random.key(seed)``;
    the momentum is :func:`~optjax.trace`.

    .. warning::
      The gradients passed to ``update`` must be per-example gradients, with
      the batch on axis 0 of every leaf (see
      :func:`differentially_private_aggregate`). Gradient accumulators such as
      :class:`~optjax.MultiSteps` do not compose with it.

    .. warning::
      Optax builds the aggregation through its deprecated ``seed`` argument and
      so emits a ``DeprecationWarning`` on every call; optjax builds the same key
      directly and does not warn. The numbers are the same.

    Args:
      learning_rate: :math:`\\eta_t`, a number or a schedule of the step count.
      l2_norm_clip: :math:`C`, the largest L2 norm of one example's gradient.
      noise_multiplier: :math:`\\sigma`, noise standard deviation relative to
        :math:`C`.
      seed: the int seed of the noise's PRNG key.
      momentum: :math:`\\mu`, the momentum decay; ``None`` uses no momentum.
      nesterov: use Nesterov momentum.

    Returns:
      A gradient transformation whose state is
      ``(DifferentiallyPrivateAggregateState, TraceState | EmptyState,
      EmptyState | ScaleByScheduleState)``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> loss = lambda w, x: jnp.sum((w - x) ** 2)
      >>> per_example_grad = jax.vmap(jax.grad(loss), in_axes=(None, 0))
      >>> solver = optjax.contrib.dpsgd(
      ...     learning_rate=0.1, l2_norm_clip=1.0, noise_multiplier=0.0, seed=0)
      >>> w, batch = jnp.zeros(2), jnp.array([[1.0, 0.0], [0.0, 0.5]])
      >>> state = solver.init(w)
      >>> updates, state = solver.update(per_example_grad(w, batch), state, w)
      >>> print(jnp.round(optjax.apply_updates(w, updates), 3))
      [0.05 0.05]

    References:
      Abadi et al., *Deep Learning with Differential Privacy*, CCS 2016,
      https://arxiv.org/abs/1607.00133
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"dpsgd: seed must be an int, got {seed!r}.")
    return chain(
        differentially_private_aggregate(
            l2_norm_clip=l2_norm_clip,
            noise_multiplier=noise_multiplier,
            key=jax.random.key(seed),
        ),
        trace(decay=momentum, nesterov=nesterov) if momentum is not None else identity(),
        scale_by_learning_rate(learning_rate),
    )
