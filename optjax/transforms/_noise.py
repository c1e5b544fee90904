"""Annealed Gaussian gradient noise."""

from __future__ import annotations

import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import GradientTransformationExtraArgs, transformation
from optjax.tree import _math as _tree


class AddNoiseState(NamedTuple):
    """State of :func:`add_noise`: the step count and the PRNG key."""

    count: jax.Array
    rng_key: jax.Array


def _is_typed_key(key: object) -> bool:
    return isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)


def resolve_key(key: jax.Array | int | None, seed: int | None, *, where: str) -> jax.Array | int:
    """Settles Optax's ``key``/``seed`` pair into one key (or integer seed).

    ``seed`` is Optax's deprecated spelling of an integer ``key``; passing both
    is an error, and passing neither falls back to seed 0 with a warning (as
    Optax does).
    """
    if seed is not None:
        warnings.warn(
            f"{where}: `seed` is deprecated; pass `key=jax.random.key(seed)` (or the "
            f"integer as `key`) instead.",
            DeprecationWarning,
            stacklevel=3,
        )
        if key is not None:
            raise ValueError(f"{where}: pass either `key` or `seed`, not both.")
        return seed
    if key is None:
        warnings.warn(
            f"{where}: no `key` given; using seed 0. Pass `key=jax.random.key(...)` "
            f"to choose the noise explicitly.",
            UserWarning,
            stacklevel=3,
        )
        return 0
    return key


def canonicalize_key(key: jax.Array | int) -> jax.Array:
    """A typed PRNG key from a typed key, a legacy ``uint32`` key or an integer seed.

    Typed keys (``jax.random.key``) pass through; legacy raw keys
    (``jax.random.PRNGKey``, an unsigned-integer array whose trailing shape is
    the default implementation's key shape) are wrapped without changing their
    bits, so they produce the same random numbers as with the legacy API; any
    other integer is a seed for ``jax.random.key``.
    """
    if _is_typed_key(key):
        return key
    if jnp.ndim(key) > 0:
        data = jnp.asarray(key)
        if not jnp.issubdtype(data.dtype, jnp.unsignedinteger):
            raise TypeError(
                f"add_noise: key must be a jax.random.key, a legacy jax.random.PRNGKey "
                f"or an integer seed; got an array of dtype {data.dtype.name} and shape "
                f"{data.shape}."
            )
        return jax.random.wrap_key_data(data)
    return jax.random.key(key)


def add_noise(
    eta: jax.typing.ArrayLike,
    gamma: jax.typing.ArrayLike,
    key: jax.Array | int | None = None,
    *,
    seed: int | None = None,
) -> GradientTransformationExtraArgs:
    """Adds Gaussian noise whose variance decays polynomially with the step.

    At step :math:`t = 1, 2, \\dots`

    .. math::

        \\sigma_t = \\sqrt{\\eta / t^{\\gamma}}, \\qquad
        u_t = g_t + \\sigma_t\\, \\xi_t, \\qquad \\xi_t \\sim \\mathcal{N}(0, I)

    Each step splits the stored key into a key for the next step and a key for
    this step's noise; the noise key is split once more into one key per leaf,
    in tree-flattening order. This is Optax's scheme, so from the same key the
    noise matches Optax's exactly.

    Args:
      eta: the initial variance :math:`\\eta \\ge 0`.
      gamma: the annealing exponent :math:`\\gamma`.
      key: a typed key (``jax.random.key``), a legacy ``jax.random.PRNGKey``
        or an integer seed. The state always stores a typed key (Optax's
        layout); a legacy key is wrapped with its bits unchanged.
      seed: deprecated integer spelling of ``key`` (kept for Optax
        compatibility; emits a ``DeprecationWarning``).

    Returns:
      A gradient transformation with an :class:`AddNoiseState`.

    Raises:
      ValueError: if ``eta`` is a negative number, or both ``key`` and
        ``seed`` are given.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.add_noise(eta=0.0, gamma=0.55, key=jax.random.key(0))
      >>> state = tx.init({"w": jnp.zeros(2)})
      >>> updates, state = tx.update({"w": jnp.array([1.0, 2.0])}, state)
      >>> updates["w"], state.count
      (Array([1., 2.], dtype=float32), Array(1, dtype=int32))

    References:
      Neelakantan et al., *Adding Gradient Noise Improves Learning for Very
      Deep Networks*, 2015, https://arxiv.org/abs/1511.06807
    """
    _checks.check_non_negative("eta", eta, where="add_noise")
    key = resolve_key(key, seed, where="add_noise")

    def init_fn(params):
        del params
        return AddNoiseState(count=jnp.zeros([], jnp.int32), rng_key=canonicalize_key(key))

    def update_fn(updates, state, params=None, **extra_args):
        count = _tree.safe_increment(state.count)
        std = jnp.sqrt(eta / count**gamma)
        next_key, noise_key = jax.random.split(state.rng_key)
        noise = _tree.normal_like(noise_key, updates)
        updates = _tree.add_scale(updates, std, noise)
        return updates, AddNoiseState(count=count, rng_key=next_key)

    return transformation(init_fn, update_fn, name="add_noise")
