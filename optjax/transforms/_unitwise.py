"""Unit-wise norms and clipping: the building blocks of adaptive gradient clipping.

A *unit* is one output neuron of a layer: the slice of a kernel that feeds
one output. :func:`optjax.adaptive_grad_clip` compares unit norms of the
gradients with unit norms of the parameters.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from optjax.tree import _math as _tree

# The reduced axes for each rank when ``axis`` is None: dense (in, out) and
# multi-head (in, heads, out) kernels reduce their inputs, conv kernels
# (H, W, in, out) and (D, H, W, in, out) their spatial and input axes.
_DEFAULT_AXES = {2: 0, 3: 0, 4: (0, 1, 2), 5: (0, 1, 2, 3)}


def unitwise_norm(x: jax.typing.ArrayLike, axis: int | tuple[int, ...] | None = None) -> jax.Array:
    """The L2 norm of each unit of ``x``, broadcast back to ``x``'s shape.

    .. math::

        n_i = \\sqrt{\\textstyle\\sum_{j \\in \\text{unit}(i)} |x_j|^2}

    With ``axis=None`` the reduced axes follow the layer's rank: a scalar or a
    vector (also after squeezing size-1 axes) is one unit; rank 2 and 3 reduce
    axis 0; rank 4 reduces (0, 1, 2); rank 5 reduces (0, 1, 2, 3).

    .. warning::

        A 0-d ``x`` is one unit even when ``axis`` is given; Optax raises there.

    Args:
      x: an array.
      axis: the axis or axes to reduce; ``None`` infers them from the rank.

    Returns:
      An array shaped like ``x`` holding, at every element, its unit's norm.

    Raises:
      ValueError: if ``axis`` is ``None`` and ``x`` has rank above 5 (the
        units cannot be inferred).

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> print(optjax.unitwise_norm(jnp.array([[3.0, 0.0], [4.0, 1.0]])))
      [[5. 1.]
       [5. 1.]]

    References:
      Brock et al., *High-Performance Large-Scale Image Recognition Without
      Normalization*, ICML 2021, https://arxiv.org/abs/2102.06171
    """
    x = jnp.asarray(x)
    squares = _tree.abs_sq(x)
    if x.ndim == 0 or (axis is None and jnp.squeeze(x).ndim <= 1):
        total = jnp.sum(squares, keepdims=True)
    elif axis is not None:
        total = jnp.sum(squares, axis=axis, keepdims=True)
    elif x.ndim in _DEFAULT_AXES:
        total = jnp.sum(squares, axis=_DEFAULT_AXES[x.ndim], keepdims=True)
    else:
        raise ValueError(
            f"unitwise_norm: cannot infer the units of an array with shape {x.shape} "
            f"(rank {x.ndim} > 5); pass `axis` to name the axes to reduce."
        )
    return jnp.broadcast_to(jnp.sqrt(total), x.shape)


def unitwise_clip(
    g_norm: jax.typing.ArrayLike,
    max_norm: jax.typing.ArrayLike,
    grad: jax.typing.ArrayLike,
    div_eps: jax.typing.ArrayLike = 1e-6,
) -> jax.Array:
    """Rescales each unit of ``grad`` whose norm reaches ``max_norm`` down to ``max_norm``.

    .. math::

        u = \\begin{cases} g & \\|g\\|_{\\text{unit}} < m \\\\
        g \\, \\dfrac{m}{\\max(\\|g\\|_{\\text{unit}}, \\delta)} & \\text{otherwise}
        \\end{cases}

    Args:
      g_norm: the unit norms of ``grad``, shaped like it (see
        :func:`unitwise_norm`).
      max_norm: the largest allowed unit norm, shaped like ``grad``.
      grad: the gradient array.
      div_eps: :math:`\\delta`, a floor on the divisor that only prevents a
        division by zero.

    Returns:
      The clipped gradient, shaped like ``grad``.

    Raises:
      ValueError: if ``g_norm``, ``max_norm`` and ``grad`` do not all have one
        shape (the message gives both shapes).

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> g = jnp.array([3.0, 4.0])
      >>> print(optjax.unitwise_clip(optjax.unitwise_norm(g), jnp.full(2, 1.0), g))
      [0.6 0.8]
    """
    for name, value in (("max_norm", max_norm), ("grad", grad)):
        if np.shape(value) != np.shape(g_norm):
            raise ValueError(
                f"unitwise_clip: {name} must have the shape of g_norm; got "
                f"{np.shape(value)} and {np.shape(g_norm)}."
            )
    clipped = grad * (max_norm / jnp.maximum(g_norm, div_eps))
    return jnp.where(g_norm < max_norm, grad, clipped)
