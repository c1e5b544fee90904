"""Smooth, differentiable surrogates of any function by random perturbation of its input."""

from __future__ import annotations

import numbers
import operator
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

ArrayTree = Any
Shape = tuple[int, ...]


class Normal:
    """The standard normal distribution, as a perturbation noise.

    Its log-density, up to a constant, is :math:`-z^2 / 2`.

    Examples:
      >>> import jax
      >>> from optjax.perturbations import Normal
      >>> z = Normal().sample(jax.random.key(0), (3,))
      >>> z.shape
      (3,)
      >>> print(Normal().log_prob(2.0))
      -2.0
    """

    def sample(
        self,
        key: jax.typing.ArrayLike,
        sample_shape: Shape = (),
        dtype: jax.typing.DTypeLike = float,
    ) -> jax.Array:
        """Draws standard normal noise of the given shape and dtype."""
        return jax.random.normal(key, sample_shape, dtype)

    def log_prob(self, inputs: jax.Array) -> jax.Array:
        """The unnormalized log-density :math:`-z^2 / 2`, elementwise."""
        return -0.5 * inputs**2


class Gumbel:
    """The standard Gumbel distribution, as a perturbation noise.

    Its log-density is :math:`-z - e^{-z}`. Perturbing the scores of an
    ``argmax`` with Gumbel noise yields the softmax in expectation.

    Examples:
      >>> import jax
      >>> from optjax.perturbations import Gumbel
      >>> z = Gumbel().sample(jax.random.key(0), (2, 3))
      >>> z.shape
      (2, 3)
      >>> print(round(float(Gumbel().log_prob(0.0)), 4))
      -1.0
    """

    def sample(
        self,
        key: jax.typing.ArrayLike,
        sample_shape: Shape = (),
        dtype: jax.typing.DTypeLike = float,
    ) -> jax.Array:
        """Draws standard Gumbel noise of the given shape and dtype."""
        return jax.random.gumbel(key, sample_shape, dtype)

    def log_prob(self, inputs: jax.Array) -> jax.Array:
        """The log-density :math:`-z - e^{-z}`, elementwise."""
        return -inputs - jnp.exp(-inputs)


def _tree_sum(tree: ArrayTree) -> jax.Array:
    return jax.tree.reduce(operator.add, jax.tree.map(jnp.sum, tree), initializer=0)


def _noise_like(key: jax.Array, tree: ArrayTree, noise: Any) -> ArrayTree:
    """One independent draw per leaf, from one key split per leaf in leaf order."""
    treedef = jax.tree.structure(tree)
    keys = jax.tree.unflatten(treedef, list(jax.random.split(key, treedef.num_leaves)))
    return jax.tree.map(lambda leaf, k: noise.sample(k, leaf.shape, leaf.dtype), tree, keys)


def _magic_box(log_prob: jax.Array) -> jax.Array:
    """Equals 1, but its derivative is the derivative of ``log_prob`` (DiCE)."""
    return jnp.exp(log_prob - jax.lax.stop_gradient(log_prob))


def _check_inputs(fun: Any, num_samples: Any, sigma: Any, noise: Any) -> None:
    where = "make_perturbed_fun"
    if not callable(fun):
        raise TypeError(f"{where}: fun must be callable, got {type(fun).__name__}.")
    if (
        isinstance(num_samples, bool)
        or not isinstance(num_samples, numbers.Integral)
        or num_samples < 1
    ):
        raise ValueError(f"{where}: num_samples must be an integer >= 1, got {num_samples!r}.")
    if isinstance(sigma, numbers.Real) and not sigma > 0:
        raise ValueError(f"{where}: sigma must be > 0, got {sigma!r}.")
    missing = [m for m in ("sample", "log_prob") if not callable(getattr(noise, m, None))]
    if missing:
        raise TypeError(
            f"{where}: noise must have sample(key, shape, dtype) and log_prob(z) methods "
            f"(like optjax.perturbations.Gumbel()); {type(noise).__name__} lacks "
            f"{' and '.join(missing)}."
        )


def _check_leaves(x: ArrayTree) -> None:
    for path, leaf in jax.tree_util.tree_flatten_with_path(x)[0]:
        dtype = jnp.result_type(leaf)
        if not hasattr(leaf, "shape") or not jnp.issubdtype(dtype, jnp.floating):
            kind = jnp.dtype(dtype).name if hasattr(leaf, "shape") else type(leaf).__name__
            raise TypeError(
                f"perturbed function: input leaf at key path "
                f"{jax.tree_util.keystr(path) or '<root>'} is {kind}; pass floating-point "
                f"JAX or NumPy arrays."
            )


def make_perturbed_fun(
    fun: Callable[[ArrayTree], ArrayTree],
    num_samples: int = 1000,
    sigma: jax.typing.ArrayLike = 0.1,
    noise: Any = Gumbel(),  # noqa: B008 - an immutable, stateless default, as in Optax.
    use_baseline: bool = True,
) -> Callable[[jax.Array, ArrayTree], ArrayTree]:
    r"""Turns ``fun`` into a differentiable Monte-Carlo estimate of its smoothing.

    With noise :math:`Z \sim \mu` and scale :math:`\sigma`, the smoothed function

    .. math::

        f_\sigma(x) = \mathbb{E}_{Z \sim \mu}\left[f(x + \sigma Z)\right]

    is differentiable even when :math:`f` is not (an ``argmax``, a sort, a
    solver). The returned function ``g(key, x)`` averages ``num_samples``
    evaluations of ``fun`` at perturbed inputs. Its value is an unbiased
    estimate of :math:`f_\sigma(x)`, and its JAX derivatives of any order are
    unbiased estimates of :math:`f_\sigma`'s: they come from the score-function
    (REINFORCE) identity

    .. math::

        \nabla f_\sigma(x) = \mathbb{E}\left[f(x + \sigma Z)\,
        \nabla_x \log \mu\!\left(\frac{y - x}{\sigma}\right)\Big|_{y = x + \sigma Z}\right]

    written with the DiCE "magic box" so that ``jax.grad``, ``jax.jacobian``
    and ``jax.hessian`` all work. Only values of ``fun`` are used, never its
    derivatives. With ``use_baseline``, :math:`f(x)` is subtracted inside the
    score term (a control variate that lowers the variance without bias).

    Args:
      fun: a function from a tree of floating-point arrays to a tree of arrays.
      num_samples: the number of perturbed evaluations averaged, an integer >= 1.
      sigma: the scale of the perturbation, > 0.
      noise: the noise distribution: any object with ``sample(key, shape,
        dtype)`` and ``log_prob(z)`` methods, such as :class:`Gumbel` (the
        default) or :class:`Normal`.
      use_baseline: whether to use :math:`f(x)` as a variance-reducing baseline.

    Returns:
      A function ``g(key, x)`` with ``fun``'s output structure; ``key`` is a
      PRNG key.

    Raises:
      ValueError: if ``num_samples`` is not a positive integer or ``sigma`` <= 0.
      TypeError: if ``noise`` lacks ``sample`` or ``log_prob``; ``g`` raises it
        when an input leaf is not a floating-point array.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> from optjax.perturbations import make_perturbed_fun, Normal
      >>> relu_sum = lambda x: jnp.sum(jnp.maximum(x, 0.0))
      >>> smooth = make_perturbed_fun(relu_sum, num_samples=10_000, sigma=0.5, noise=Normal())
      >>> g = jax.grad(smooth, argnums=1)(jax.random.key(0), jnp.zeros(3))
      >>> print([round(float(v), 1) for v in g])
      [0.5, 0.5, 0.5]

    References:
      Berthet et al., `Learning with Differentiable Perturbed Optimizers
      <https://arxiv.org/abs/2002.08676>`_, 2020

      Foerster et al., `DiCE: The Infinitely Differentiable Monte Carlo
      Estimator <https://arxiv.org/abs/1802.05098>`_, 2018

      Salimans et al., `Evolution Strategies as a Scalable Alternative to
      Reinforcement Learning <https://arxiv.org/abs/1703.03864>`_, 2017
    """
    _check_inputs(fun, num_samples, sigma, noise)

    def one_sample(key: jax.Array, x: ArrayTree, baseline: ArrayTree) -> ArrayTree:
        z = _noise_like(key, x, noise)
        # The perturbed point is a constant for autodiff; the standardized
        # noise is recomputed from it so that derivatives flow through x into
        # the log-density only.
        y = jax.lax.stop_gradient(jax.tree.map(lambda x_i, z_i: x_i + sigma * z_i, x, z))
        z = jax.tree.map(lambda x_i, y_i: (y_i - x_i) / sigma, x, y)
        box = _magic_box(_tree_sum(jax.tree.map(noise.log_prob, z)))
        out = jax.tree.map(lambda f_i: box * f_i, fun(y))
        if use_baseline:
            out = jax.tree.map(lambda o_i, b_i: o_i + (1 - box) * b_i, out, baseline)
        return out

    def perturbed_fun(key: jax.Array, x: ArrayTree) -> ArrayTree:
        _check_leaves(x)
        baseline = fun(jax.lax.stop_gradient(x)) if use_baseline else None
        keys = jax.random.split(key, num_samples)
        samples = jax.vmap(one_sample, in_axes=(0, None, None))(keys, x, baseline)
        return jax.tree.map(lambda s: jnp.mean(s, axis=0), samples)

    return perturbed_fun
