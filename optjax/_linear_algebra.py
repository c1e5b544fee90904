"""Iterative linear algebra used by optimizers: power iteration, inverse p-th roots, NNLS.

Exported at the top level through :mod:`optjax._numerics`, as Optax does.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from optjax.tree import _arithmetic, _reductions


def _normalize(tree: Any) -> Any:
    return _arithmetic.scale(1.0 / _reductions.norm(tree), tree)


def _power_iteration_not_done(error_tolerance, num_iters, loop_vars):
    direction, image, eigenvalue, step = loop_vars
    residual = _arithmetic.sub(image, _arithmetic.scale(eigenvalue, direction))
    relative_error = jnp.abs(_reductions.norm(residual) / eigenvalue)
    return ~(relative_error < error_tolerance) & (step < num_iters)


def power_iteration(
    matrix: jax.typing.ArrayLike | Callable[[Any], Any],
    *,
    v0: Any = None,
    num_iters: jax.typing.ArrayLike = 100,
    error_tolerance: jax.typing.ArrayLike = 1e-6,
    precision: lax.Precision = lax.Precision.HIGHEST,
    key: jax.Array | None = None,
) -> tuple[jax.typing.ArrayLike, Any]:
    r"""The dominant eigenvalue of a matrix, and its eigenvector, by power iteration.

    .. math::
        v_{k+1} = \frac{A v_k}{\|A v_k\|}, \qquad
        \lambda_{k+1} = \langle v_{k+1}, A v_{k+1} \rangle

    The loop stops after ``num_iters`` steps or once
    :math:`\|A v - \lambda v\| / |\lambda|` falls below ``error_tolerance``.

    Args:
      matrix: a square matrix, or a function computing a matrix-vector product
        on a pytree (a Hessian-vector product, say).
      v0: the starting vector: shape ``(n,)`` for an ``(n, n)`` matrix, or a
        pytree of the function's input structure (then required). ``None``
        draws it uniformly from ``[-1, 1]`` with ``key``.
      num_iters: the most iterations to run.
      error_tolerance: the relative residual at which to stop.
      precision: the matmul precision for an array ``matrix``.
      key: PRNG key for the random ``v0``; ``None`` uses ``jax.random.PRNGKey(0)``.

    Returns:
      ``(eigenvalue, eigenvector)``, the eigenvector of unit norm.

    Raises:
      ValueError: if ``matrix`` is a function and ``v0`` is None, or an array
        that is not square.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> value, vector = optjax.power_iteration(jnp.diag(jnp.array([1.0, 3.0, 2.0])))
      >>> print(round(float(value), 4), jnp.round(jnp.abs(vector), 3))
      3.0 [0. 1. 0.]

    References:
      Wikipedia, `Power iteration <https://en.wikipedia.org/wiki/Power_iteration>`_.

    .. note::
      Convergence needs a unique eigenvalue of largest modulus.
    """
    if callable(matrix):
        if v0 is None:
            raise ValueError(
                "power_iteration: v0 must be given when matrix is a function "
                "(its input structure is unknown)."
            )
        matvec = matrix
    else:
        shape = jnp.shape(matrix)
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"power_iteration: matrix must be square (n, n), got shape {shape}.")

        def matvec(v):
            return jnp.matmul(matrix, v, precision=precision)

        if v0 is None:
            key = jax.random.PRNGKey(0) if key is None else key
            v0 = jax.random.uniform(
                key, shape=shape[-1:], dtype=matrix.dtype, minval=-1.0, maxval=1.0
            )
        elif jnp.shape(v0) != shape[-1:]:
            raise ValueError(
                f"power_iteration: v0 must have shape {shape[-1:]} for a matrix of "
                f"shape {shape}, got {jnp.shape(v0)}."
            )

    def step(loop_vars):
        _, image, _, count = loop_vars
        direction = _normalize(image)
        image = matvec(direction)
        return direction, image, _reductions.vdot(direction, image), count + 1

    v0 = _normalize(v0)
    start = (v0, matvec(v0), jnp.asarray(0.0), jnp.asarray(0))
    _, image, eigenvalue, _ = lax.while_loop(
        lambda loop_vars: _power_iteration_not_done(error_tolerance, num_iters, loop_vars),
        step,
        start,
    )
    return eigenvalue, _normalize(image)


def _matrix_power(matrix: jax.Array, p: Any, precision: lax.Precision) -> jax.Array:
    """``matrix**p`` by repeated squaring; a traced ``p`` must be 1, 2, 4 or 8."""

    def power_of_two(log2p):
        def run(m):
            for _ in range(log2p):
                m = jnp.matmul(m, m, precision=precision)
            return m

        return run

    if isinstance(p, jax.core.Tracer):
        index = jnp.asarray(jnp.round(jnp.log2(p)), jnp.int32)
        return lax.switch(index, [power_of_two(k) for k in range(4)], matrix)
    p = operator.index(p)
    if p & (p - 1) == 0:
        return power_of_two(p.bit_length() - 1)(matrix)
    result, base = None, matrix
    while p:
        if p & 1:
            result = base if result is None else jnp.matmul(result, base, precision=precision)
        p >>= 1
        if p:
            base = jnp.matmul(base, base, precision=precision)
    return result


def matrix_inverse_pth_root(
    matrix: jax.typing.ArrayLike,
    p: jax.typing.ArrayLike,
    num_iters: jax.typing.ArrayLike = 100,
    ridge_epsilon: jax.typing.ArrayLike = 1e-6,
    error_tolerance: jax.typing.ArrayLike = 1e-6,
    precision: lax.Precision = lax.Precision.HIGHEST,
) -> tuple[jax.Array, jax.typing.ArrayLike]:
    r"""The inverse ``p``-th root :math:`A^{-1/p}` of a symmetric PSD matrix.

    Coupled Newton iterations (Higham, eq. 7.18) on the damped matrix
    :math:`A + \epsilon \lambda_{\max} I`, with :math:`\alpha = -1/p`:

    .. math::
        M_0 = z (A + \epsilon \lambda_{\max} I), \quad H_0 = z^{1/p} I, \quad
        z = \frac{1 + p}{2 \|A + \epsilon \lambda_{\max} I\|_F}

        X_k = (1 - \alpha) I + \alpha M_k, \quad
        M_{k+1} = X_k^{p} M_k, \quad H_{k+1} = H_k X_k

    until :math:`\max |M_k - I| \le` ``error_tolerance``, ``num_iters`` steps,
    or the error grows by more than 20% (then the previous :math:`H` is kept).

    Args:
      matrix: the ``(n, n)`` symmetric positive semi-definite matrix :math:`A`.
      p: the positive integer root.
      num_iters: the most Newton iterations.
      ridge_epsilon: :math:`\epsilon`, relative to the largest eigenvalue
        :math:`\lambda_{\max}` (found by :func:`power_iteration`).
      error_tolerance: the error :math:`\max |M - I|` at which to stop.
      precision: the matmul precision.

    Returns:
      ``(root, error)``: :math:`A^{-1/p}` in ``matrix``'s dtype and the final
      error :math:`\max |M - I|`.

    Raises:
      ValueError: if ``matrix`` is not square, or a concrete ``p`` is not a
        positive integer.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> root, _ = optjax.matrix_inverse_pth_root(jnp.diag(jnp.array([4.0, 16.0])), 2)
      >>> print(jnp.round(root, 3))
      [[0.5  0.  ]
       [0.   0.25]]

    References:
      Higham, `Functions of Matrices: Theory and Computation
      <https://epubs.siam.org/doi/book/10.1137/1.9780898717778>`_, 2008 (p. 184, eq. 7.18)

    .. warning::
      For a concrete ``p`` other than 1, 2, 4 or 8, optjax raises :math:`X_k` to
      the power ``p`` exactly and returns :math:`A^{-1/p}`; Optax 0.2.8 uses
      the power :math:`2^{\mathrm{round}(\log_2 p)}` (at most 8) there and
      returns a wrong root (``p=3`` uses :math:`X_k^4`). A traced ``p`` must be
      1, 2, 4 or 8.
    """
    shape = jnp.shape(matrix)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(
            f"matrix_inverse_pth_root: matrix must be square (n, n), got shape {shape}."
        )
    if not isinstance(p, jax.core.Tracer):
        if isinstance(p, bool) or not float(p).is_integer() or p < 1:
            raise ValueError(f"matrix_inverse_pth_root: p must be a positive integer, got {p}.")
        p = int(p)
    n = shape[0]
    # The iteration runs in float32, whatever the input's dtype.
    alpha = jnp.asarray(-1.0 / p, jnp.float32)
    identity = jnp.eye(n, dtype=jnp.float32)
    max_eigenvalue, _ = power_iteration(
        matrix, num_iters=100, error_tolerance=1e-6, precision=precision
    )
    ridge_epsilon = ridge_epsilon * jnp.maximum(max_eigenvalue, 1e-16)

    if n == 1:
        return (matrix + ridge_epsilon) ** alpha, 0

    def keep_going(state):
        step, _, _, _, error, improving = state
        return jnp.logical_and(
            step < num_iters, jnp.logical_and(error > error_tolerance, improving)
        )

    def newton_step(state):
        step, mat_m, mat_h, _, error, _ = state
        mat_x = (1 - alpha) * identity + alpha * mat_m
        new_m = jnp.matmul(_matrix_power(mat_x, p, precision), mat_m, precision=precision)
        new_h = jnp.matmul(mat_h, mat_x, precision=precision)
        new_error = jnp.max(jnp.abs(new_m - identity))
        # The error may rise for a step before it falls; more than 20% is divergence.
        return step + 1, new_m, new_h, mat_h, new_error, new_error < error * 1.2

    damped = matrix + ridge_epsilon * identity
    z = (1 + p) / (2 * jnp.linalg.norm(damped))
    mat_m0 = damped * z
    mat_h0 = identity * jnp.power(z, 1.0 / p)
    start = (0, mat_m0, mat_h0, mat_h0, jnp.max(jnp.abs(mat_m0 - identity)), True)
    _, mat_m, mat_h, previous_h, _, improving = lax.while_loop(keep_going, newton_step, start)
    error = jnp.max(jnp.abs(mat_m - identity))
    improving = jnp.asarray(improving, previous_h.dtype)
    root = improving * mat_h + (1 - improving) * previous_h
    return jnp.asarray(root, matrix.dtype), error


def _spectral_radius_bound(gram: jax.Array) -> jax.Array:
    # Both the Frobenius norm and the max column sum bound the spectral radius.
    frobenius = jnp.linalg.matrix_norm(gram, ord="fro")
    column_sum = jnp.linalg.matrix_norm(gram, ord=1) if gram.size else 0
    return jnp.minimum(frobenius, column_sum)


def nnls(
    A: jax.Array,  # noqa: N803 - Optax's (and the math's) name.
    b: jax.Array,
    iters: int,
    unroll: int | bool = 1,
    L: jax.typing.ArrayLike | None = None,  # noqa: N803
) -> jax.Array:
    r"""Solves non-negative least squares, :math:`\min_{x \ge 0} \|A x - b\|_2`.

    Runs ``iters`` steps of Polyak's fast projected gradient method on
    :math:`f(x) = \tfrac12 x^\top Q x - q^\top x` with :math:`Q = A^\top A`,
    :math:`q = A^\top b`:

    .. math::
        x_{k+1} = \max\big(0, p_k - (Q p_k - q) / L\big), \quad
        p_{k+1} = x_{k+1} + \frac{c_k - 1}{c_{k+1}} (x_{k+1} - x_k), \quad
        c_{k+1} = \frac{1 + \sqrt{1 + 4 c_k^2}}{2}

    Args:
      A: the ``(M, N)`` matrix.
      b: the ``(M,)`` vector, or an ``(M, K)`` matrix of ``K`` right-hand sides.
      iters: the number of iterations.
      unroll: passed to ``lax.scan``.
      L: an upper bound on the spectral radius of :math:`A^\top A`; by default
        the smaller of its Frobenius norm and its max column sum.

    Returns:
      The solution, of shape ``(N,)`` or ``(N, K)``.

    Raises:
      ValueError: if ``A`` is not 2-D, ``b`` not 1-D or 2-D, or their first
        dimensions differ.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> x = optjax.nnls(jnp.array([[1.0, 2.0], [3.0, 4.0]]), jnp.array([5.0, 6.0]), 1000)
      >>> print([round(float(v), 2) for v in x])
      [0.0, 1.7]

    References:
      Polyak, `Projected gradient method for non-negative least square
      <http://www.ams.org/books/conm/636/>`_, 2015
    """
    if jnp.ndim(A) != 2:
        raise ValueError(f"nnls: A must be a 2-D (M, N) matrix, got shape {jnp.shape(A)}.")
    if jnp.ndim(b) not in (1, 2):
        raise ValueError(f"nnls: b must have shape (M,) or (M, K), got shape {jnp.shape(b)}.")
    if jnp.shape(b)[0] != jnp.shape(A)[0]:
        raise ValueError(
            f"nnls: A and b must have the same number of rows, got A {jnp.shape(A)} "
            f"and b {jnp.shape(b)}."
        )
    gram = A.mT @ A
    q = A.mT @ b
    if L is None:
        L = _spectral_radius_bound(gram)  # noqa: N806
    L = jnp.where(L == 0, 1, L)  # noqa: N806 - a zero bound means A = 0; any step works.

    def fpg_step(carry, _):
        x, p, c = carry
        c_next = (1 + jnp.sqrt(1 + 4 * c**2)) / 2
        momentum = (c - 1) / c_next
        x_next = (p - (gram @ p - q) / L).clip(0)
        return (x_next, x_next + momentum * (x_next - x), c_next), None

    x0 = jnp.zeros_like(b, shape=A.shape[-1:] + b.shape[1:])
    (x, _, _), _ = lax.scan(fpg_step, (x0, x0, 0.0), length=iters, unroll=unroll)
    return x
