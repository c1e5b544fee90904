"""The gradient-transformation contract, field-compatible with Optax.

A gradient transformation is a pair of pure functions bundled in a NamedTuple:

* ``init(params) -> state`` builds the initial state from the parameters;
* ``update(updates, state, params=None, **extra_args) -> (updates, state)``
  maps candidate updates (usually gradients) to new updates.

Every optjax transform is built with :func:`transformation`, which adds the
checks that make bad input fail early and clearly (see its docstring). Optax
transforms and optjax transforms are interchangeable: both are NamedTuples with
``init`` and ``update`` fields.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax

from optjax.tree import _math as _tree

ArrayTree = Any
Params = Any
Updates = Any
OptState = Any
Schedule = Callable[[jax.typing.ArrayLike], jax.typing.ArrayLike]
ScalarOrSchedule = float | jax.typing.ArrayLike | Schedule
MaskOrFn = Any | Callable[[Params], Any]

NO_PARAMS_MSG = (
    "{name} needs the current parameters: call "
    "`update(updates, state, params)` with params, not `update(updates, state)`."
)

__all__ = [
    "ArrayTree",
    "EmptyState",
    "GradientTransformation",
    "GradientTransformationExtraArgs",
    "MaskOrFn",
    "OptState",
    "Params",
    "ScalarOrSchedule",
    "Schedule",
    "TransformInitFn",
    "TransformUpdateExtraArgsFn",
    "TransformUpdateFn",
    "Updates",
    "init_empty_state",
    "stateless",
    "stateless_with_tree_map",
    "with_extra_args_support",
]


class TransformInitFn(Protocol):
    def __call__(self, params: Params) -> OptState: ...


class TransformUpdateFn(Protocol):
    def __call__(
        self,
        updates: Updates,
        state: OptState,
        params: Params | None = None,
        **extra_args: Any,
    ) -> tuple[Updates, OptState]: ...


class TransformUpdateExtraArgsFn(Protocol):
    """An ``update`` function that also takes keyword ``**extra_args``.

    A transform that needs more than the updates (the loss ``value`` of a
    Polyak step, say) declares it as a keyword-only argument and accepts and
    ignores the other extra arguments, so that it composes in a ``chain``:

    .. math::

        (u_t, s_{t+1}) = \\mathrm{update}(g_t, s_t, \\theta_t, **\\mathrm{extra})

    Examples:
      >>> def update(updates, state, params=None, *, value, **extra_args):
      ...     del extra_args
      ...     return updates, state
      >>> update({"w": 1.0}, (), value=2.0, unused=3)
      ({'w': 1.0}, ())
    """

    def __call__(
        self,
        updates: Updates,
        state: OptState,
        params: Params | None = None,
        **extra_args: Any,
    ) -> tuple[Updates, OptState]: ...


class GradientTransformation(NamedTuple):
    """A pair of pure functions, ``init`` and ``update``, that transform updates.

    The contract is Optax's, so the two libraries mix freely:

    .. math::

        s_0 = \\mathrm{init}(\\theta_0), \\qquad
        (u_t, s_{t+1}) = \\mathrm{update}(g_t, s_t, \\theta_t), \\qquad
        \\theta_{t+1} = \\theta_t + u_t .

    ``update`` always accepts ``params=None`` and arbitrary keyword
    ``**extra_args`` (for example ``value=loss`` for Polyak step sizes); a
    transform ignores the extra arguments it does not use.

    Attributes:
      init: ``init(params) -> state``.
      update: ``update(updates, state, params=None, **extra_args) ->
        (updates, state)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.sgd(learning_rate=0.1)
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> state = tx.init(params)
      >>> updates, state = tx.update({"w": jnp.array([1.0, -1.0])}, state, params)
      >>> optjax.apply_updates(params, updates)["w"]
      Array([0.9, 2.1], dtype=float32)
    """

    init: TransformInitFn
    update: TransformUpdateFn


class GradientTransformationExtraArgs(GradientTransformation):
    """Optax's name for a transform whose ``update`` takes ``**extra_args``.

    In optjax every transform accepts extra keyword arguments, so this is the
    same NamedTuple as :class:`GradientTransformation`; the name exists so that
    code written against Optax's API keeps working.

    Examples:
      >>> import optjax
      >>> isinstance(optjax.adam(1e-3), optjax.GradientTransformation)
      True
    """


class EmptyState(NamedTuple):
    """The state of a stateless transform: an empty NamedTuple (no leaves).

    Examples:
      >>> import optjax
      >>> optjax.scale(2.0).init({"w": 1.0})
      EmptyState()
    """


def init_empty_state(params: Params) -> EmptyState:
    """Returns :class:`EmptyState`: the ``init`` of a transform without state.

    .. math::

        s_0 = ()

    Args:
      params: the parameters (unused).

    Returns:
      ``EmptyState()``.

    Examples:
      >>> import optjax
      >>> optjax.init_empty_state({"w": 1.0})
      EmptyState()
    """
    del params
    return EmptyState()


def is_params_placeholder(tree: Any) -> bool:
    """Whether ``tree`` is the opaque stand-in that ``tree_map_params`` passes to ``init``.

    ``tree_map_params(opt, f, state)`` (Optax's, and optjax's) calls
    ``opt.init`` on a leafless placeholder to find where the parameters sit in
    the state. Transforms that read the parameters' structure in ``init``
    (masks, labels) must skip that and pass the placeholder on. Both
    libraries name the placeholder's class ``_ParamsPlaceholder``; it is
    recognised by that name, so that the contract imports neither Optax nor
    the tree utilities (which import the contract).

    Args:
      tree: anything passed to ``init``.

    Returns:
      ``True`` for a params placeholder.

    Examples:
      >>> import optjax
      >>> from optjax._base import is_params_placeholder
      >>> found = []
      >>> def init(params):
      ...     found.append(is_params_placeholder(params))
      ...     return ()
      >>> _ = optjax.tree_utils.tree_map_params(init, lambda x: x, ())
      >>> found, is_params_placeholder({})
      ([True], False)
    """
    return type(tree).__name__ == "_ParamsPlaceholder"


def _declared_extra_args(update: Callable[..., Any]) -> set[str] | None:
    """The extra keyword arguments ``update`` takes: ``None`` for all of them (``**kw``)."""
    try:
        parameters = list(inspect.signature(update).parameters.values())
    except (TypeError, ValueError):
        return set()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    named = [
        p
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    # Past (updates, state, params), every named parameter is an extra argument.
    return {p.name for p in named[3:]} | {
        p.name for p in named if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def with_extra_args_support(tx: Any) -> GradientTransformation:
    """Returns ``tx`` with an ``update`` that accepts (and drops) extra args.

    .. math::

        \\mathrm{update}(g, s, \\theta, **kw) = \\mathrm{tx.update}(g, s, \\theta)

    Transforms from other libraries (an Optax ``GradientTransformation`` that
    predates extra arguments, say) are wrapped so that
    ``update(updates, state, params, **extra_args)`` can be called on them
    uniformly. Transforms that already accept ``**extra_args``, and Optax's
    ``GradientTransformationExtraArgs`` (which promises to), are returned as
    they are, re-wrapped in optjax's NamedTuple. An ``update`` that names its
    extra arguments (``*, value``) receives those and no others.

    Args:
      tx: any object with ``init`` and ``update`` attributes.

    Returns:
      A :class:`GradientTransformation` whose update accepts ``**extra_args``.

    Examples:
      >>> import optjax
      >>> def update(updates, state, params=None):
      ...     return updates, state
      >>> tx = optjax.with_extra_args_support(optjax.GradientTransformation(
      ...     lambda params: (), update))
      >>> tx.update({"w": 1.0}, (), None, value=3.0)
      ({'w': 1.0}, ())
    """
    if not (hasattr(tx, "init") and hasattr(tx, "update")):
        raise TypeError(
            f"Expected a gradient transformation with `init` and `update`, got {type(tx).__name__}."
        )
    declared = _declared_extra_args(tx.update)
    if declared is None or type(tx).__name__ == "GradientTransformationExtraArgs":
        return GradientTransformationExtraArgs(tx.init, tx.update)
    inner_update = tx.update

    def update(updates, state, params=None, **extra_args):
        wanted = {name: extra_args[name] for name in declared if name in extra_args}
        return inner_update(updates, state, params, **wanted)

    return GradientTransformationExtraArgs(tx.init, update)


def _is_none(x: Any) -> bool:
    return x is None


def _without_python_ints(tree: Any) -> Any:
    """Hides plain Python ``int`` leaves from the dtype check (Optax accepts them)."""
    return jax.tree.map(lambda x: None if type(x) is int else x, tree)


def _none_where_updates_are_none(params: Any, updates: Any, *, where: str) -> Any:
    """``params`` with every subtree that sits under a ``None`` of ``updates`` set to ``None``.

    When the two cannot be lined up, raises the structure check's
    ``ValueError``, with every ``None`` counted as a leaf so that the key path
    it names is where the trees really differ.
    """
    treedef = jax.tree.structure(updates, is_leaf=_is_none)
    try:
        subtrees = treedef.flatten_up_to(params)
    except (ValueError, TypeError):

        def none_as_leaf(tree):
            return jax.tree.map(lambda x: 0 if x is None else x, tree, is_leaf=_is_none)

        _tree.check_same_structure(
            none_as_leaf(params), none_as_leaf(updates), "params", "updates", where=where
        )
        raise ValueError(f"{where}: the tree structure of updates does not match params.") from None
    update_leaves = treedef.flatten_up_to(updates)
    if not any(u is None and p is not None for u, p in zip(update_leaves, subtrees)):
        return params
    return treedef.unflatten([None if u is None else p for u, p in zip(update_leaves, subtrees)])


class MissingExtraArgError(TypeError, ValueError):
    """A keyword argument that an ``update`` requires (``value=loss``, say) is missing.

    A :class:`TypeError`, as Python (and Optax) raise for a missing argument,
    and also a :class:`ValueError`, as optjax raised before, so that code
    catching either keeps working.

    Examples:
      >>> import optjax
      >>> tx = optjax.scale_by_polyak()
      >>> try:
      ...     tx.update({"w": 1.0}, tx.init(None))
      ... except TypeError as e:
      ...     print(type(e).__name__)
      MissingExtraArgError
    """


def _required_keyword_args(update_fn: Callable[..., Any]) -> tuple[str, ...]:
    try:
        parameters = inspect.signature(update_fn).parameters.values()
    except (TypeError, ValueError):
        return ()
    return tuple(
        p.name
        for p in parameters
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty
    )


def transformation(
    init_fn: Callable[[Params], OptState],
    update_fn: Callable[..., tuple[Updates, OptState]],
    *,
    name: str,
    needs_params: bool = False,
) -> GradientTransformationExtraArgs:
    """Builds an optjax transform, adding the contract's input checks.

    Every optjax primitive goes through here, so that every primitive behaves
    the same way on bad input, at trace time and with a message that names the
    problem:

    * integer or boolean array leaves in ``params`` or ``updates`` raise
      :class:`TypeError` naming the key path (optimizers need inexact leaves;
      mask integer leaves out or keep them outside the optimized tree). Plain
      Python ``int`` scalars are accepted, as Optax accepts them;
    * ``updates`` whose structure differs from ``params`` raise
      :class:`ValueError` naming the first differing key path. A ``None`` in
      ``updates`` matches any subtree of ``params`` (Optax's rule: that entry
      gets no update), and ``update_fn`` sees ``None`` in ``params`` there;
    * a keyword-only argument that ``update_fn`` requires (``value`` for a
      Polyak step, say), when missing, raises :class:`TypeError` naming it;
    * a transform that needs params, called without them, raises
      :class:`ValueError`;
    * the returned updates are cast to the dtype of the incoming updates, so
      an update never silently changes dtype.

    ``init`` passes the placeholder of ``tree_map_params`` (see
    :func:`is_params_placeholder`) through these checks untouched.

    Args:
      init_fn: ``init(params) -> state``.
      update_fn: ``update(updates, state, params, **extra_args)``.
      name: the public name of the transform, used in error messages.
      needs_params: whether ``update`` requires ``params``.

    Returns:
      A :class:`GradientTransformationExtraArgs`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> from optjax._base import EmptyState, transformation
      >>> double = transformation(
      ...     lambda params: EmptyState(),
      ...     lambda updates, state, params=None, **kw: (
      ...         optjax.tree.scale(2.0, updates), state),
      ...     name="double")
      >>> double.update({"w": jnp.array([1.0])}, EmptyState())[0]
      {'w': Array([2.], dtype=float32)}
    """

    required = _required_keyword_args(update_fn)

    def init(params):
        _tree.check_inexact(_without_python_ints(params), what="params", where=name)
        return init_fn(params)

    def update(updates, state, params=None, **extra_args):
        missing = [key for key in required if key not in extra_args]
        if missing:
            raise MissingExtraArgError(
                f"{name}: update needs the keyword argument(s) {missing}: call "
                f"`update(updates, state, params, {missing[0]}=...)`."
            )
        _tree.check_inexact(_without_python_ints(updates), what="updates", where=name)
        if params is not None:
            params = _none_where_updates_are_none(params, updates, where=name)
            _tree.check_same_structure(params, updates, "params", "updates", where=name)
        elif needs_params:
            raise ValueError(NO_PARAMS_MSG.format(name=name))
        new_updates, new_state = update_fn(updates, state, params, **extra_args)
        return _tree.cast_like(new_updates, updates), new_state

    init.__qualname__ = f"{name}.init"
    update.__qualname__ = f"{name}.update"
    return GradientTransformationExtraArgs(init, update)


def stateless(
    f: Callable[[Updates, Params | None], Updates],
) -> GradientTransformationExtraArgs:
    """Builds a transform with no state from ``f(updates, params)``.

    .. math::

        u = f(g, \\theta)

    Args:
      f: a function of the updates tree and the params tree (or ``None``).

    Returns:
      A transform with an :class:`EmptyState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> negate = optjax.stateless(lambda u, p: optjax.tree.scale(-1.0, u))
      >>> negate.update({"w": jnp.array([2.0])}, negate.init(None))[0]
      {'w': Array([-2.], dtype=float32)}
    """

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        return f(updates, params), state

    return transformation(lambda params: EmptyState(), update_fn, name="stateless")


def stateless_with_tree_map(
    f: Callable[[jax.Array, jax.Array | None], jax.Array],
) -> GradientTransformationExtraArgs:
    """Builds a stateless transform that applies ``f(u, p)`` leaf by leaf.

    .. math::

        u_i = f(g_i, \\theta_i) \\quad \\text{for every leaf } i

    Args:
      f: a function of one update leaf and its parameter leaf (or ``None``).

    Returns:
      A transform with an :class:`EmptyState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> halve = optjax.stateless_with_tree_map(lambda u, p: u / 2)
      >>> halve.update({"w": jnp.array([3.0])}, halve.init(None))[0]
      {'w': Array([1.5], dtype=float32)}
    """

    def g(updates, params):
        if params is None:
            return jax.tree.map(lambda u: f(u, None), updates)
        return _tree.map(f, updates, params)

    return stateless(g)
