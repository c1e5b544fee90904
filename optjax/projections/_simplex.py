"""Projections onto the simplex and onto l1 spheres and balls."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import flatten_util

from optjax.projections import _common


@jax.custom_jvp
def project_rows_onto_simplex(scores: jax.Array) -> jax.Array:
    """Euclidean projection of each last-axis row onto :math:`\\{p \\ge 0, \\sum p = 1\\}`.

    The one sort-based simplex projection in optjax: ``projection_simplex`` runs
    it on a flat vector, the sparsemax losses on rows of scores.
    """
    num = scores.shape[-1]
    descending = -jnp.sort(-scores, axis=-1)
    cumulative = jnp.cumsum(descending, axis=-1)
    # Integer ranks and sizes keep the dtype promotion (and numbers) of Optax.
    ranks = jnp.broadcast_to(jnp.arange(1, num + 1), scores.shape)
    # The support is the largest k with 1 + k * s_(k) > sum of the k largest.
    support_size = jnp.count_nonzero(1 / ranks + (descending - cumulative / ranks) > 0, axis=-1)
    support_size = support_size[..., None]
    top_sum = jnp.take_along_axis(cumulative, support_size - 1, axis=-1)
    return jax.nn.relu(1 / support_size + (scores - top_sum / support_size))


@project_rows_onto_simplex.defjvp
def _project_rows_onto_simplex_jvp(primals, tangents):
    (scores,), (scores_dot,) = primals, tangents
    probs = project_rows_onto_simplex(scores)
    support = (probs > 0).astype(scores_dot.dtype)
    size = jnp.sum(support, axis=-1, keepdims=True)
    # On the support the Jacobian is the centering matrix I - 11^T / |S|; off it, zero.
    mean_dot = jnp.sum(support * scores_dot, axis=-1, keepdims=True) / size
    return probs, (support * (scores_dot - mean_dot)).astype(probs.dtype)


def _check_scale(scale: Any, where: str) -> None:
    _common.check_radius("scale", scale, where=where, allow_zero=False)


def _simplex(tree: Any, scale: Any, where: str) -> Any:
    _common.check_has_leaves(tree, where=where)
    _common.check_float_leaves(tree, name="tree", where=where)
    values, unravel = flatten_util.ravel_pytree(tree)
    return unravel(scale * project_rows_onto_simplex(values / scale))


def projection_simplex(tree: Any, scale: jax.typing.ArrayLike = 1) -> Any:
    r"""Projection onto the simplex of total mass ``scale``.

    .. math::

        \operatorname{proj}(x) = \underset{p}{\operatorname{argmin}}
        \|x - p\|_2^2 \quad \text{subject to} \quad p \ge 0,\ \sum_i p_i = \text{scale}

    All the leaves of ``tree`` together form one vector: the result sums to
    ``scale`` over the whole tree. The solution is :math:`\max(x - \tau, 0)`
    where the threshold :math:`\tau` is found by sorting (Condat), in
    :math:`O(d \log d)`. Gradients use the closed-form Jacobian
    :math:`\operatorname{diag}(s) - s s^\top / |s|` with :math:`s` the support.

    .. warning::
      Integer or boolean leaves raise ``TypeError`` here; Optax accepts them
      and silently rounds the projected values back to integers (so
      ``[1, 1]`` becomes ``[0, 0]``, which is not on the simplex).

    Args:
      tree: a tree of floating-point arrays to project.
      scale: the total mass, a scalar ``> 0`` (default 1: the probability simplex).

    Returns:
      A tree with the structure of ``tree``.

    Raises:
      ValueError: if ``scale`` is not a positive scalar or ``tree`` is empty.
      TypeError: if a leaf is not floating point (the message names its key path).

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import projections
      >>> p = projections.projection_simplex(jnp.array([0.5, 1.5, -2.0]))
      >>> print(jnp.round(p, 3))
      [0. 1. 0.]
      >>> data = {"w": jnp.array([2.5, 3.2]), "b": jnp.array(0.5)}
      >>> p = projections.projection_simplex(data, scale=2.0)
      >>> print(round(float(sum(jnp.sum(v) for v in p.values())), 4))
      2.0

    References:
      Condat, `Fast projection onto the simplex and the l1 ball
      <https://doi.org/10.1007/s10107-015-0946-6>`_, 2016

      Blondel et al., `Efficient and Modular Implicit Differentiation
      <https://arxiv.org/abs/2105.15183>`_, 2022
    """
    _check_scale(scale, "projection_simplex")
    return _simplex(tree, scale, "projection_simplex")


def _l1_sphere(tree: Any, scale: Any, where: str) -> Any:
    magnitudes = _simplex(jax.tree.map(jnp.abs, tree), scale, where)
    return jax.tree.map(lambda x, m: jnp.sign(x) * m, tree, magnitudes)


def projection_l1_sphere(tree: Any, scale: jax.typing.ArrayLike = 1) -> Any:
    r"""Projection onto the l1 sphere of radius ``scale``.

    .. math::

        \operatorname{proj}(x) = \underset{y}{\operatorname{argmin}}
        \|x - y\|_2^2 \quad \text{subject to} \quad \|y\|_1 = \text{scale}

    Computed as :math:`\operatorname{sign}(x) \odot \operatorname{proj}_\Delta(|x|)`,
    with :math:`\Delta` the simplex of mass ``scale``; the norm is taken over
    the whole tree.

    Args:
      tree: a tree of floating-point arrays to project.
      scale: the radius, a scalar ``> 0`` (default 1).

    Returns:
      A tree with the structure of ``tree``.

    Raises:
      ValueError: if ``scale`` is not a positive scalar or ``tree`` is empty.
      TypeError: if a leaf is not floating point.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import projections
      >>> p = projections.projection_l1_sphere(jnp.array([0.1, -0.2]), scale=2.0)
      >>> print([round(float(v), 3) for v in p])
      [0.95, -1.05]

    References:
      Duchi et al., `Efficient Projections onto the l1-Ball for Learning in
      High Dimensions <https://dl.acm.org/doi/10.1145/1390156.1390191>`_, 2008
    """
    _check_scale(scale, "projection_l1_sphere")
    return _l1_sphere(tree, scale, "projection_l1_sphere")


def projection_l1_ball(tree: Any, scale: jax.typing.ArrayLike = 1) -> Any:
    r"""Projection onto the l1 ball of radius ``scale``.

    .. math::

        \operatorname{proj}(x) = \underset{y}{\operatorname{argmin}}
        \|x - y\|_2^2 \quad \text{subject to} \quad \|y\|_1 \le \text{scale}

    A point inside the ball is returned as it is (with identity gradient);
    one outside is projected onto the sphere (see :func:`projection_l1_sphere`).
    The norm is taken over the whole tree, and leaves keep their dtype.

    .. warning::
      Optax's version raises for ``bfloat16`` (and other non-float32) trees;
      optjax projects them, in the leaves' own dtype.

    Args:
      tree: a tree of floating-point arrays to project.
      scale: the radius, a scalar ``> 0`` (default 1).

    Returns:
      A tree with the structure of ``tree``.

    Raises:
      ValueError: if ``scale`` is not a positive scalar or ``tree`` is empty.
      TypeError: if a leaf is not floating point.

    Examples:
      >>> import jax.numpy as jnp
      >>> from optjax import projections
      >>> data = {"w": jnp.array([2.5, 3.2]), "b": jnp.array(0.5)}
      >>> p = projections.projection_l1_ball(data)
      >>> print(round(float(sum(jnp.abs(v).sum() for v in p.values())), 4))
      1.0
      >>> print(projections.projection_l1_ball(jnp.array([0.25, -0.5])))
      [ 0.25 -0.5 ]

    References:
      Duchi et al., `Efficient Projections onto the l1-Ball for Learning in
      High Dimensions <https://dl.acm.org/doi/10.1145/1390156.1390191>`_, 2008
    """
    where = "projection_l1_ball"
    _check_scale(scale, where)
    _common.check_has_leaves(tree, where=where)
    _common.check_float_leaves(tree, name="tree", where=where)
    return jax.lax.cond(
        _common.l1_norm(tree) <= scale,
        lambda t: t,
        # The cast lets low-precision trees through both branches (Optax's
        # cond fails on bfloat16 trees); it changes nothing for float32.
        lambda t: jax.tree.map(lambda p, x: p.astype(x.dtype), _l1_sphere(t, scale, where), t),
        tree,
    )
