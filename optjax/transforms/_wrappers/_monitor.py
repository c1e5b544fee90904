"""Monitoring: record measurements of the updates in the optimizer state.

The updates pass through unchanged; what is recorded is read back with
``optax.tree.get(state, name)`` (or by walking the state).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from optjax import _checks
from optjax._base import (
    EmptyState,
    GradientTransformationExtraArgs,
    OptState,
    with_extra_args_support,
)
from optjax.transforms._basic import EmaState
from optjax.tree import _math as _tree

ArrayTree = Any


class SnapshotState(NamedTuple):
    """State of :func:`snapshot`: ``{measure_name: measurement}``."""

    measurement: dict[str, Any]


class MonitorState(NamedTuple):
    """State of :func:`monitor`: the latest measurements and each measure's state."""

    measurements: dict[str, ArrayTree]
    measure_states: tuple[OptState, ...]


def snapshot(
    measure_name: str, measure: Callable[[Any], ArrayTree]
) -> GradientTransformationExtraArgs:
    """Records ``measure(updates)`` in the state under ``measure_name``; updates pass through.

    .. math::

        u_t = g_t, \\qquad s_{t+1} = \\{\\text{name}: \\mathrm{measure}(g_t)\\}

    In a ``chain``, the updates measured are those produced by the transforms
    before the snapshot. As in Optax, ``init`` stores ``measure(params)``.

    Args:
      measure_name: the key of the measurement in the state.
      measure: a function of the updates tree, returning any tree of arrays.

    Returns:
      A gradient transformation with a :class:`SnapshotState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.chain(
      ...     optjax.sgd(0.1),
      ...     optjax.snapshot("norm", optjax.tree.l2_norm),
      ...     optjax.clip_by_global_norm(0.05))
      >>> params = jnp.array([3.0, 4.0])
      >>> updates, state = tx.update(params, tx.init(params))
      >>> print(round(float(state[1].measurement["norm"]), 4), updates)
      0.5 [-0.03 -0.04]
    """

    def init_fn(params):
        return SnapshotState({measure_name: measure(params)})

    def update_fn(updates, state, params=None, **extra_args):
        del state, params, extra_args
        return updates, SnapshotState({measure_name: measure(updates)})

    return GradientTransformationExtraArgs(init_fn, update_fn)


def _as_measure_transform(measure: Any) -> GradientTransformationExtraArgs:
    """A plain function becomes a stateless transform that returns the measurement."""
    if callable(measure):

        def update_fn(updates, state, params=None, **extra_args):
            del params, extra_args
            return measure(updates), state

        return GradientTransformationExtraArgs(lambda params: EmptyState(), update_fn)
    return with_extra_args_support(measure)


def monitor(
    measures: dict[str, GradientTransformationExtraArgs | Callable[[Any], ArrayTree]],
) -> GradientTransformationExtraArgs:
    """Records several (possibly stateful) measurements of the updates; updates pass through.

    Each measure is either a function of the updates (as in :func:`snapshot`)
    or a gradient transformation whose *output* is the measurement (such as
    :func:`measure_with_ema`):

    .. math::

        u_t = g_t, \\qquad (\\mathrm{m}_k, \\sigma_k) \\leftarrow M_k(g_t, \\sigma_k)
        \\quad \\text{for every measure } k

    .. warning::

        Optax's ``init`` stores an empty ``measurements`` dict, so the state
        changes structure at the first update and cannot be carried through
        ``lax.scan`` or ``fori_loop``. Here ``init`` stores zeros shaped like
        each measurement (found with ``jax.eval_shape`` on the parameters), so
        the state keeps one structure. Every state after an update is the same
        as Optax's.

    Args:
      measures: a dict from measurement name to a measure (a function of the
        updates, or a gradient transformation).

    Returns:
      A gradient transformation with a :class:`MonitorState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.chain(
      ...     optjax.sgd(0.1),
      ...     optjax.monitor({
      ...         "norm": optjax.tree.l2_norm,
      ...         "clipped_ema": optjax.measure_with_ema(
      ...             lambda u: optjax.tree.l2_norm(u) > 0.45, decay=0.9),
      ...     }),
      ...     optjax.clip_by_global_norm(0.45))
      >>> params = jnp.array([3.0, 4.0])
      >>> state = tx.init(params)
      >>> for _ in range(2):
      ...     _, state = tx.update(params, state)
      >>> measured = state[1].measurements
      >>> print(round(float(measured["norm"]), 3), round(float(measured["clipped_ema"]), 3))
      0.5 1.0
    """
    transforms = {name: _as_measure_transform(measure) for name, measure in measures.items()}
    names = tuple(transforms)

    def initial_measurement(tx, params):
        def first_output(p):
            return tx.update(p, tx.init(p), p)[0]

        shapes = jax.eval_shape(first_output, params)
        return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    def init_fn(params):
        return MonitorState(
            measurements={name: initial_measurement(transforms[name], params) for name in names},
            measure_states=tuple(transforms[name].init(params) for name in names),
        )

    def update_fn(updates, state, params=None, **extra_args):
        measurements = {}
        new_states = []
        for name, measure_state in zip(names, state.measure_states, strict=True):
            measurements[name], new_state = transforms[name].update(
                updates, measure_state, params, **extra_args
            )
            new_states.append(new_state)
        return updates, MonitorState(measurements, tuple(new_states))

    return GradientTransformationExtraArgs(init_fn, update_fn)


def measure_with_ema(
    measure: Callable[[Any], ArrayTree],
    decay: jax.typing.ArrayLike,
    debias: bool = True,
    accumulator_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """Outputs an exponential moving average of ``measure(updates)``; a measure for :func:`monitor`.

    With :math:`x_t = \\mathrm{measure}(g_t)`:

    .. math::

        m_t = (1-\\beta)\\, x_t + \\beta\\, m_{t-1}, \\qquad
        \\text{output}_t = \\frac{m_t}{1 - \\beta^t} \\ (\\texttt{debias}) \\text{ or } m_t

    The transform's *output* is the average, not the updates, so use it inside
    :func:`monitor`. Its state is ``(EmptyState(), EmaState(count, ema))``,
    as in Optax.

    .. warning::

        A boolean or integer measurement (``norm > threshold``, say) is
        averaged in floating point. Optax's ``init`` stores the average in the
        measurement's own dtype and its first update turns it into a float;
        here ``init`` already stores a float (``accumulator_dtype``, or the
        default float dtype), so the state keeps one structure under
        ``lax.scan``. The numbers are the same.

    Args:
      measure: a function of the updates, returning any tree of arrays.
      decay: :math:`\\beta`, in [0, 1) (or exactly 1 with ``debias=False``).
      debias: divide by :math:`1-\\beta^t` to remove the zero-initialization
        bias.
      accumulator_dtype: dtype of the stored average; ``None`` keeps the
        measurement's dtype (a float for boolean or integer measurements).

    Returns:
      A gradient transformation whose update returns the averaged measurement.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optjax
      >>> tx = optjax.measure_with_ema(optjax.tree.l2_norm, decay=0.5)
      >>> state = tx.init(jnp.zeros(2))
      >>> out, state = tx.update(jnp.array([3.0, 4.0]), state)
      >>> out, state = tx.update(jnp.array([0.0, 1.0]), state)
      >>> print(round(float(out), 4))  # (0.25 * 5 + 0.5 * 1) / (1 - 0.25)
      2.3333
    """
    _checks.check_in_interval(
        "decay", decay, 0.0, 1.0, closed_high=not debias, where="measure_with_ema"
    )

    def average_dtype(x):
        if accumulator_dtype is not None:
            return accumulator_dtype
        dtype = jnp.dtype(x.dtype)
        return dtype if jnp.issubdtype(dtype, jnp.inexact) else jnp.result_type(float)

    def init_fn(params):
        measurement = jax.eval_shape(measure, params)
        return (
            EmptyState(),
            EmaState(
                count=jnp.zeros([], jnp.int32),
                ema=jax.tree.map(lambda s: jnp.zeros(s.shape, average_dtype(s)), measurement),
            ),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        empty, ema_state = state
        new_ema = _tree.update_moment(measure(updates), ema_state.ema, decay, order=1)
        count = _tree.safe_increment(ema_state.count)
        output = _tree.bias_correction(new_ema, decay, count) if debias else new_ema
        new_ema = jax.tree.map(lambda m, old: m.astype(old.dtype), new_ema, ema_state.ema)
        return output, (empty, EmaState(count=count, ema=new_ema))

    return GradientTransformationExtraArgs(init_fn, update_fn)
