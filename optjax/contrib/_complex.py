"""Complex parameters seen by a real optimizer as (real, imaginary) pairs.

JAX's gradient of a real loss with respect to a complex parameter :math:`z` is
the conjugate of the steepest-ascent direction (PyTorch returns the direction
itself), so conjugate the gradients between ``jax.grad`` and ``update``; see
https://github.com/google-deepmind/optax/issues/196.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    OptState,
    transformation,
    with_extra_args_support,
)


class SplitRealAndImaginaryArrays(NamedTuple):
    """The real and imaginary parts of one complex leaf, as two real arrays."""

    real: jax.Array
    imaginary: jax.Array


class SplitRealAndImaginaryState(NamedTuple):
    """State of :func:`split_real_and_imaginary`: the inner transform's state."""

    inner_state: OptState


def _split(x: Any) -> Any:
    if jnp.iscomplexobj(x):
        return SplitRealAndImaginaryArrays(jnp.real(x), jnp.imag(x))
    return x


def _merge(x: Any) -> Any:
    if isinstance(x, SplitRealAndImaginaryArrays):
        # lax.complex takes float32/float64 parts only; narrower parts widen.
        dtype = jnp.promote_types(jnp.result_type(x.real, x.imaginary), jnp.float32)
        return jax.lax.complex(x.real.astype(dtype), x.imaginary.astype(dtype))
    return x


def _is_pair(x: Any) -> bool:
    return isinstance(x, SplitRealAndImaginaryArrays)


def split_real_and_imaginary(inner: GradientTransformation) -> GradientTransformationExtraArgs:
    """Runs a real transform on the real and imaginary parts of complex leaves.

    Each complex leaf :math:`z = x + i y` (of the updates and of the params) is
    handed to ``inner`` as the pair of real leaves :math:`(x, y)`, and the pair
    of transformed updates :math:`(u_x, u_y)` is merged back:

    .. math::

        (u_x, u_y) = \\mathrm{inner}(g_x, g_y), \\qquad u_z = u_x + i\\, u_y .

    The optimizer then treats a complex parameter exactly as two real ones
    (Adam's second moment, for instance, is kept per part rather than on
    :math:`|g|^2`). Real leaves pass to ``inner`` unchanged.

    Args:
      inner: the transform to run on real leaves; it receives any extra
        keyword arguments given to ``update``.

    Returns:
      A gradient transformation with a :class:`SplitRealAndImaginaryState`.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> loss = lambda z: jnp.sum(jnp.abs(z) ** 2)
      >>> tx = optjax.contrib.split_real_and_imaginary(optjax.sgd(0.25))
      >>> z = jnp.array([1.0 + 2.0j])
      >>> state = tx.init(z)
      >>> grads = jnp.conj(jax.grad(loss)(z))  # JAX's convention: conjugate first
      >>> updates, state = tx.update(grads, state, z)
      >>> print(optjax.apply_updates(z, updates))
      [0.5+1.j]

    References:
      Optax issue 196, *Complex-valued optimization*,
      https://github.com/google-deepmind/optax/issues/196
    """
    inner = with_extra_args_support(inner)

    def init_fn(params):
        return SplitRealAndImaginaryState(inner.init(jax.tree.map(_split, params)))

    def update_fn(updates, state, params=None, **extra_args):
        split_updates = jax.tree.map(_split, updates)
        split_params = jax.tree.map(_split, params)
        new_updates, inner_state = inner.update(
            split_updates, state.inner_state, split_params, **extra_args
        )
        merged = jax.tree.map(_merge, new_updates, is_leaf=_is_pair)
        return merged, SplitRealAndImaginaryState(inner_state)

    return transformation(init_fn, update_fn, name="split_real_and_imaginary")
