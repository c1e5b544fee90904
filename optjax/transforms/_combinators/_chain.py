"""Composition: ``chain`` and ``named_chain``."""

from __future__ import annotations

from typing import Any

from optjax._base import GradientTransformationExtraArgs, with_extra_args_support


def chain(*args: Any) -> GradientTransformationExtraArgs:
    """Applies transforms one after another, feeding each one's output to the next.

    .. math::

        u = T_n(\\cdots T_2(T_1(g)))

    The state is a tuple with one entry per transform. Transforms from Optax
    (or any object with ``init`` and ``update``) can be mixed in; extra keyword
    arguments reach each transform that accepts them.

    Args:
      *args: the gradient transformations to apply, in order.

    Returns:
      A single gradient transformation.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.chain(optjax.clip_by_global_norm(1.0), optjax.sgd(0.1))
      >>> params = {"w": jnp.array([3.0, 4.0])}
      >>> updates, _ = tx.update({"w": jnp.array([3.0, 4.0])}, tx.init(params), params)
      >>> print(updates["w"].round(4))
      [-0.06 -0.08]
    """
    wrapped = tuple(with_extra_args_support(t) for t in args)

    def init(params):
        return tuple(t.init(params) for t in wrapped)

    def update(updates, state, params=None, **extra_args):
        if len(state) != len(wrapped):
            raise ValueError(
                f"chain: expected a state with {len(wrapped)} entries (one per "
                f"transform), got {len(state)}. Was the state built by this chain's init?"
            )
        new_state = []
        for t, s in zip(wrapped, state):
            updates, s = t.update(updates, s, params, **extra_args)
            new_state.append(s)
        return updates, tuple(new_state)

    return GradientTransformationExtraArgs(init, update)


def named_chain(*args: tuple[str, Any]) -> GradientTransformationExtraArgs:
    """Like :func:`chain`, but the state is a dict keyed by the given names.

    .. math::

        u = T_{\\mathrm{name}_n}(\\cdots T_{\\mathrm{name}_1}(g))

    Args:
      *args: ``(name, transform)`` pairs, applied in order. Names must be
        unique.

    Returns:
      A gradient transformation whose state is ``{name: state}``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.named_chain(("clip", optjax.clip(1.0)), ("sgd", optjax.sgd(0.5)))
      >>> state = tx.init({"w": jnp.array([0.0])})
      >>> sorted(state)
      ['clip', 'sgd']
      >>> tx.update({"w": jnp.array([4.0])}, state)[0]
      {'w': Array([-0.5], dtype=float32)}
    """
    names = [name for name, _ in args]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"named_chain: duplicate names {duplicates}; names must be unique.")
    wrapped = tuple((name, with_extra_args_support(t)) for name, t in args)

    def init(params):
        return {name: t.init(params) for name, t in wrapped}

    def update(updates, state, params=None, **extra_args):
        missing = [name for name, _ in wrapped if name not in state]
        if missing:
            raise ValueError(f"named_chain: the state has no entry for {missing}.")
        new_state = {}
        for name, t in wrapped:
            updates, new_state[name] = t.update(updates, state[name], params, **extra_args)
        return updates, new_state

    return GradientTransformationExtraArgs(init, update)
