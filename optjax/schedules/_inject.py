"""Hyperparameters kept in the optimizer state: ``inject_hyperparams``.

A transform built by ``inject_hyperparams(factory)(...)`` stores its numeric
hyperparameters (learning rate, betas, weight decay, ...) as arrays in its
state and rebuilds the inner transform from them at every step. Changing a
value is then a change of state, not of the compiled program: no retrace, and
a batch of states with different values runs under ``jax.vmap``.

:func:`get_hyperparams` and :func:`set_hyperparams` read and replace the
values, wherever the injected state sits inside a chain, a named chain or a
masked state.
"""

from __future__ import annotations

import functools
import inspect
import numbers
import warnings
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np

from optjax._base import GradientTransformationExtraArgs, OptState, with_extra_args_support
from optjax._flax_adapter import strip_variables
from optjax.tree import _math as _tree

# ----------------------------------------------------------------------------
# States and schedules.


class InjectHyperparamsState(NamedTuple):
    """Optax's older state layout for injected hyperparameters (no schedule states)."""

    count: jax.Array
    hyperparams: dict[str, jax.Array]
    inner_state: OptState


class InjectStatefulHyperparamsState(NamedTuple):
    """State of :func:`inject_hyperparams`: step count, values, schedule states, inner state."""

    count: jax.Array
    hyperparams: dict[str, jax.Array]
    hyperparams_states: dict[str, Any]
    inner_state: OptState


@runtime_checkable
class StatefulSchedule(Protocol):
    """A schedule with its own state: ``init()``, ``update(state)``, ``__call__(state)``."""

    def init(self) -> Any: ...

    def update(self, state: Any, **extra_args: Any) -> Any: ...

    def __call__(self, state: Any, **extra_args: Any) -> jax.typing.ArrayLike: ...


class WrappedScheduleState(NamedTuple):
    """State of :class:`WrappedSchedule`: the number of steps taken."""

    count: jax.Array


class WrappedSchedule:
    """Turns a schedule ``f(count)`` into a stateful schedule that counts its steps.

    Its value at a step is ``schedule_fn(count)`` where ``count`` starts at 0
    and grows by one on every ``update``.

    Args:
      schedule_fn: a function from the step count to a value.

    Examples:
      >>> import optjax
      >>> schedule = optjax.schedules.WrappedSchedule(lambda count: 0.5**count)
      >>> state = schedule.update(schedule.update(schedule.init()))
      >>> float(schedule(state))
      0.25
    """

    def __init__(self, schedule_fn: Callable[[jax.Array], jax.typing.ArrayLike]):
        self.schedule_fn = schedule_fn

    def init(self) -> WrappedScheduleState:
        return WrappedScheduleState(count=jnp.zeros([], jnp.int32))

    def update(self, state: WrappedScheduleState, **extra_args: Any) -> WrappedScheduleState:
        del extra_args
        return WrappedScheduleState(count=_tree.safe_increment(state.count))

    def __call__(self, state: WrappedScheduleState, **extra_args: Any) -> jax.typing.ArrayLike:
        del extra_args
        return self.schedule_fn(state.count)


# ----------------------------------------------------------------------------
# Dtypes.


def _default_hyperparam_dtype(tree: Any) -> np.dtype:
    """float32, or the widest real precision of ``tree``'s leaves when wider.

    Hyperparameters such as ``b2 = 0.999`` round to 1 in bfloat16 (and
    ``0.9999`` in float16), which turns Adam's bias correction into a division
    by zero; float32 is the floor. Float64 parameters (under x64) keep float64.
    """
    widest = np.dtype(jnp.float32)
    for leaf in jax.tree.leaves(tree):
        dtype = getattr(leaf, "dtype", None)
        if dtype is None or not jnp.issubdtype(dtype, jnp.inexact):
            continue
        real = np.dtype(jnp.finfo(dtype).dtype)
        if real.itemsize > widest.itemsize:
            widest = real
    return widest


def _is_strong_array(value: Any) -> bool:
    return isinstance(value, jax.Array) and not getattr(value, "weak_type", False)


def _as_hyperparam(value: Any, dtype: Any) -> jax.Array:
    """Stores ``value`` as a strongly typed array; floats are cast to ``dtype``.

    An array with an explicit dtype keeps it (as in Optax). Everything comes
    out strongly typed, so a value set later with :func:`set_hyperparams`
    has exactly the same abstract type and never triggers a retrace.
    """
    if _is_strong_array(value):
        return value
    value = jnp.asarray(value)
    if jnp.issubdtype(value.dtype, jnp.floating):
        return value.astype(dtype)
    return value.astype(value.dtype)


def _is_numeric(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (numbers.Number, np.number, np.ndarray, jax.Array))


# ----------------------------------------------------------------------------
# The wrapper.


def _first_value(factory_name: str, name: str, schedule: StatefulSchedule) -> Any:
    """A schedule's value at step 0; a callable that is no schedule gets a clear error."""
    hint = (
        f"inject_hyperparams({factory_name}): {name!r} is callable, so it is taken as a "
        f"schedule of the step count"
    )
    fix = f"If {name!r} is not a schedule (a mask function, say), pass static_args=({name!r},)."
    try:
        value = schedule(schedule.init())
    except Exception as error:
        raise TypeError(
            f"{hint}, and calling it with a step count failed "
            f"({type(error).__name__}: {error}). {fix}"
        ) from error
    leaves = jax.tree.leaves(value)
    if len(leaves) != 1 or jnp.asarray(leaves[0]).dtype == jnp.bool_:
        raise TypeError(f"{hint}, but it returned {value!r}, not a number. {fix}")
    return value


def inject_hyperparams(
    inner_factory: Callable[..., Any],
    static_args: str | Iterable[str] = (),
    hyperparam_dtype: Any | None = None,
) -> Callable[..., GradientTransformationExtraArgs]:
    """Wraps a transform factory so its numeric hyperparameters live in the state.

    .. math::

        h_t = \\begin{cases} s(t) & h \\text{ given as a schedule } s \\\\
        h_{\\mathrm{state}} & \\text{otherwise} \\end{cases}, \\qquad
        (u_t, \\cdot) = \\mathrm{factory}(h_t).\\mathrm{update}(g_t, \\cdot)

    The returned function takes the factory's arguments. Numbers and arrays
    become arrays in ``state.hyperparams``; callables are schedules (evaluated
    at the wrapper's step count, and their value at each step is stored too);
    booleans, ``None``, strings, dtypes (``jnp.bfloat16`` included, which
    Optax would take for a schedule) and the ``static_args`` pass through
    unchanged. Every step rebuilds the inner transform from the stored values,
    so changing one (see :func:`set_hyperparams`) never recompiles a jitted
    step, and a batch of states with different values runs under ``jax.vmap``.

    Unknown argument names raise :class:`TypeError` listing the names the
    factory accepts, and invalid values (``b1=1.5``) raise the factory's own
    :class:`ValueError`, both when the wrapped factory is called.

    .. warning::
       Float hyperparameters are stored in float32 by default, and in the
       parameters' precision only when that is wider (float64 under x64).
       Optax stores them in the parameters' dtype, so with bfloat16 parameters
       its ``b2 = 0.999`` rounds to 1.0 and Adam divides by zero (NaN updates,
       Optax issues #1414 and #1532). With lower-precision parameters the
       inner state is cast back to its own dtype after every step, so the
       state keeps its dtypes (``lax.scan`` requires it) while the arithmetic
       runs in float32. Pass ``hyperparam_dtype`` to choose the dtype; an
       array you pass with an explicit dtype keeps it.

    Args:
      inner_factory: a function returning a gradient transformation, such as
        :func:`optjax.adam` or :func:`optjax.scale_by_adam`.
      static_args: names of arguments that are callables but not schedules
        (a mask function, say); a single name may be a string.
      hyperparam_dtype: dtype for the float hyperparameters; ``None`` picks
        float32 or the parameters' precision if wider.

    Returns:
      A function with the factory's signature that returns a
      :class:`~optjax.GradientTransformationExtraArgs` whose state is an
      :class:`InjectStatefulHyperparamsState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.inject_hyperparams(optjax.sgd)(learning_rate=0.1)
      >>> params = {"w": jnp.array([1.0, 2.0])}
      >>> state = tx.init(params)
      >>> state = optjax.set_hyperparams(state, learning_rate=0.5)
      >>> updates, state = tx.update({"w": jnp.array([1.0, 1.0])}, state, params)
      >>> updates["w"]
      Array([-0.5, -0.5], dtype=float32)
      >>> optjax.get_hyperparams(state)["learning_rate"]
      Array(0.5, dtype=float32)

    References:
      Optax's ``inject_hyperparams``,
      https://optax.readthedocs.io/en/latest/api/optimizer_schedules.html
    """
    static_names = {static_args} if isinstance(static_args, str) else set(static_args)
    signature = inspect.signature(inner_factory)
    factory_name = getattr(inner_factory, "__name__", repr(inner_factory))
    if not static_names.issubset(signature.parameters):
        raise ValueError(
            f"inject_hyperparams: static_args {sorted(static_names)} must name arguments of "
            f"{factory_name}, whose arguments are {list(signature.parameters)}."
        )

    @functools.wraps(inner_factory)
    def wrapped_factory(*args: Any, **kwargs: Any) -> GradientTransformationExtraArgs:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(
                f"inject_hyperparams({factory_name}): {error}. {factory_name} accepts "
                f"{list(signature.parameters)}."
            ) from None
        bound.apply_defaults()

        scheduled, numeric, fixed = {}, {}, {}
        for name, value in bound.arguments.items():
            if name in static_names or isinstance(value, (bool, np.bool_)):
                fixed[name] = value
            elif isinstance(value, type):
                # A class such as jnp.bfloat16 is a dtype, not a schedule (Optax
                # would call it with the step count).
                fixed[name] = value
            elif isinstance(value, StatefulSchedule):
                scheduled[name] = value
            elif callable(value):
                scheduled[name] = WrappedSchedule(value)
            elif _is_numeric(value):
                numeric[name] = value
            else:
                fixed[name] = value

        # Build once now, so that a bad value fails here rather than at init.
        inner_factory(
            **fixed,
            **numeric,
            **{name: _first_value(factory_name, name, s) for name, s in scheduled.items()},
        )

        def dtype_for(tree):
            if hyperparam_dtype is not None:
                return hyperparam_dtype
            return _default_hyperparam_dtype(tree)

        def init_fn(params):
            dtype = dtype_for(params)
            hyperparams = {name: _as_hyperparam(v, dtype) for name, v in numeric.items()}
            schedule_states = {name: s.init() for name, s in scheduled.items()}
            hyperparams.update(
                {
                    name: _as_hyperparam(s(schedule_states[name]), dtype)
                    for name, s in scheduled.items()
                }
            )
            inner = inner_factory(**fixed, **hyperparams)
            return InjectStatefulHyperparamsState(
                count=jnp.zeros([], jnp.int32),
                hyperparams=hyperparams,
                hyperparams_states=schedule_states,
                inner_state=inner.init(params),
            )

        def update_fn(updates, state, params=None, **extra_args):
            dtype = dtype_for(updates if params is None else params)
            hyperparams = {name: _as_hyperparam(v, dtype) for name, v in state.hyperparams.items()}
            hyperparams.update(
                {
                    name: _as_hyperparam(s(state.hyperparams_states[name], **extra_args), dtype)
                    for name, s in scheduled.items()
                }
            )
            schedule_states = {
                name: s.update(state.hyperparams_states[name], **extra_args)
                for name, s in scheduled.items()
            }
            inner = with_extra_args_support(inner_factory(**fixed, **hyperparams))
            new_updates, inner_state = inner.update(
                updates, state.inner_state, params, **extra_args
            )
            # Float32 hyperparameters promote lower-precision arithmetic to
            # float32; the state and the updates keep their own dtypes.
            inner_state = _cast_like_if_same_structure(inner_state, state.inner_state)
            new_updates = _cast_like_if_same_structure(new_updates, updates)
            return new_updates, InjectStatefulHyperparamsState(
                count=_tree.safe_increment(state.count),
                hyperparams=hyperparams,
                hyperparams_states=schedule_states,
                inner_state=inner_state,
            )

        return GradientTransformationExtraArgs(init_fn, update_fn)

    return wrapped_factory


def _cast_like_if_same_structure(tree: Any, like: Any) -> Any:
    if jax.tree.structure(tree) != jax.tree.structure(like):
        return tree
    return _tree.cast_like(tree, like)


def inject_stateful_hyperparams(
    inner_factory: Callable[..., Any],
    static_args: str | Iterable[str] = (),
    hyperparam_dtype: Any | None = None,
) -> Callable[..., GradientTransformationExtraArgs]:
    """Deprecated alias of :func:`inject_hyperparams`, which handles stateful schedules.

    .. math::

        \\mathrm{inject\\_stateful\\_hyperparams} = \\mathrm{inject\\_hyperparams}

    A stateful schedule is any object with ``init()``, ``update(state,
    **extra_args)`` and ``__call__(state, **extra_args)``; its value may depend
    on the extra arguments passed to ``update`` (a loss, say).

    Args:
      inner_factory: a function returning a gradient transformation.
      static_args: names of callable arguments that are not schedules.
      hyperparam_dtype: dtype for the float hyperparameters.

    Returns:
      The same as :func:`inject_hyperparams`.

    Examples:
      >>> import warnings
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> with warnings.catch_warnings():
      ...     warnings.simplefilter("ignore", DeprecationWarning)
      ...     tx = optjax.inject_stateful_hyperparams(optjax.sgd)(learning_rate=0.1)
      >>> sorted(tx.init({"w": jnp.zeros(2)}).hyperparams)
      ['learning_rate']
    """
    warnings.warn(
        "inject_stateful_hyperparams is deprecated; use inject_hyperparams, which "
        "accepts stateful schedules too.",
        DeprecationWarning,
        stacklevel=2,
    )
    return inject_hyperparams(inner_factory, static_args, hyperparam_dtype)


# ----------------------------------------------------------------------------
# Accessors.


def _is_inject_state(node: Any) -> bool:
    # Duck-typed so that Optax's states (same field names) are found too.
    fields = getattr(type(node), "_fields", None)
    return fields is not None and "hyperparams" in fields and "inner_state" in fields


def find_injected_states(state: Any) -> list[Any]:
    """Returns every injected-hyperparameter state inside an optimizer state.

    .. math::

        \\mathrm{find}(s) = [\\, n \\in s : n \\text{ holds injected hyperparameters} \\,]

    Use it to ask whether an optimizer keeps its hyperparameters in its state
    (an empty list means it does not), before :func:`get_hyperparams` or
    :func:`set_hyperparams`. States are found wherever they sit (inside a
    chain's tuple, a named chain's dict, a masked state...), outer ones before
    the ones they wrap.

    Args:
      state: any optimizer state.

    Returns:
      A list of :class:`InjectStatefulHyperparamsState` (or the older
      :class:`InjectHyperparamsState`), possibly empty.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> params = {"w": jnp.zeros(3)}
      >>> tx = optjax.chain(optjax.clip(1.0), optjax.inject_hyperparams(optjax.sgd)(0.1))
      >>> [sorted(s.hyperparams) for s in optjax.schedules.find_injected_states(tx.init(params))]
      [['learning_rate']]
      >>> optjax.schedules.find_injected_states(optjax.sgd(0.1).init(params))
      []
    """
    found = []
    for node in jax.tree.leaves(state, is_leaf=_is_inject_state):
        if _is_inject_state(node):
            found.append(node)
            found.extend(find_injected_states(node.inner_state))
    return found


def _map_inject_states(state: Any, fn: Callable[[Any], Any]) -> Any:
    def visit(node):
        if not _is_inject_state(node):
            return node
        node = fn(node)
        return node._replace(inner_state=_map_inject_states(node.inner_state, fn))

    return jax.tree.map(visit, state, is_leaf=_is_inject_state)


def _owners(state: Any, *, where: str) -> dict[str, int]:
    """Maps each hyperparameter name to the index of the injected state holding it."""
    found = find_injected_states(state)
    if not found:
        raise ValueError(
            f"{where}: no inject_hyperparams state found; build the optimizer with "
            f"optjax.inject_hyperparams(factory)(...) to keep hyperparameters in the state."
        )
    owners: dict[str, int] = {}
    for index, node in enumerate(found):
        for name in node.hyperparams:
            if name in owners:
                raise ValueError(
                    f"{where}: the hyperparameter {name!r} appears in several "
                    f"inject_hyperparams states; pass the one you mean (for a chain, "
                    f"state[i])."
                )
            owners[name] = index
    return owners


def get_hyperparams(state: Any) -> dict[str, jax.Array]:
    """Returns the injected hyperparameters' current values, by name.

    .. math::

        \\mathrm{get}(s) = \\{\\, h : s.\\mathrm{hyperparams}[h] \\,\\}

    The injected state is found wherever it sits: at the top, inside a
    :func:`~optjax.chain` tuple, a :func:`~optjax.named_chain` dict, a
    :class:`~optjax.MaskedState` or any other container. Several injected
    states are merged when their names differ. A scheduled hyperparameter
    holds the value used by the latest update (its value at step 0 right after
    ``init``).

    Args:
      state: an optimizer state containing at least one
        :class:`InjectStatefulHyperparamsState`.

    Returns:
      A new dict from hyperparameter name to array, ready for logging.

    Raises:
      ValueError: if no injected state is found, or a name appears in two.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.chain(
      ...     optjax.clip_by_global_norm(1.0),
      ...     optjax.inject_hyperparams(optjax.adam)(learning_rate=1e-3))
      >>> hp = optjax.get_hyperparams(tx.init({"w": jnp.zeros(3)}))
      >>> print(f"{hp['learning_rate']:.4f}", hp["b2"].dtype)
      0.0010 float32
    """
    found = find_injected_states(state)
    _owners(state, where="get_hyperparams")
    values: dict[str, jax.Array] = {}
    for node in found:
        values.update(node.hyperparams)
    # flax.nnx.Optimizer wraps state arrays in variables; return the arrays.
    return strip_variables(values)


def set_hyperparams(state: Any, **values: Any) -> Any:
    """Returns a copy of ``state`` with the named injected hyperparameters replaced.

    .. math::

        s'.\\mathrm{hyperparams}[h] = \\mathrm{cast}(v_h,\\
        \\mathrm{dtype}(s.\\mathrm{hyperparams}[h]))

    Each new value is cast to the dtype of the value it replaces, so a jitted
    step that takes the state never recompiles. The state may be nested (see
    :func:`get_hyperparams`); the input state is not modified. Values may be
    tracers, so this works inside ``jit`` and ``vmap`` (to build a batch of
    states for a hyperparameter sweep, say).

    Args:
      state: an optimizer state containing an
        :class:`InjectStatefulHyperparamsState`.
      **values: new values by hyperparameter name.

    Returns:
      The new state.

    Raises:
      KeyError: if a name is not an injected hyperparameter; the message lists
        the names present.
      ValueError: if a name is scheduled (its schedule would overwrite the
        value at the next step) or appears in two injected states.
      TypeError: if a non-integer value would be stored in an integer slot.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.inject_hyperparams(optjax.adamw)(learning_rate=1e-3)
      >>> state = optjax.set_hyperparams(tx.init({"w": jnp.zeros(2)}), weight_decay=0.0)
      >>> optjax.get_hyperparams(state)["weight_decay"]
      Array(0., dtype=float32)
    """
    owners = _owners(state, where="set_hyperparams")
    unknown = sorted(set(values) - set(owners))
    if unknown:
        raise KeyError(
            f"set_hyperparams: unknown hyperparameter(s) {unknown}; the state holds "
            f"{sorted(owners)}."
        )

    def replace(node):
        mine = {name: v for name, v in values.items() if name in node.hyperparams}
        if not mine:
            return node
        schedule_states = getattr(node, "hyperparams_states", None) or {}
        scheduled = sorted(name for name in mine if name in schedule_states)
        if scheduled:
            raise ValueError(
                f"set_hyperparams: {scheduled} follow a schedule, which sets them at "
                f"every step; inject a constant instead to control them by hand."
            )
        hyperparams = dict(node.hyperparams)
        for name, value in mine.items():
            old = jnp.asarray(hyperparams[name])
            new = jnp.asarray(value)
            if jnp.issubdtype(old.dtype, jnp.integer) and not jnp.issubdtype(
                new.dtype, jnp.integer
            ):
                raise TypeError(
                    f"set_hyperparams: {name!r} is stored as {old.dtype.name}; got a "
                    f"{new.dtype.name} value. Inject it as a float to make it a float."
                )
            hyperparams[name] = new.astype(old.dtype)
        return node._replace(hyperparams=hyperparams)

    return _map_inject_states(state, replace)
