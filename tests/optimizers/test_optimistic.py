"""optimistic_adam (Optax's deprecated first version): values, the deprecation and its schedule rule."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optjax


def _updates(lib, *args, **kwargs):
    with pytest.warns(DeprecationWarning, match="optimistic_adam_v2"):
        tx = lib.optimistic_adam(*args, **kwargs)
    params = jnp.array([1.0, -2.0, 0.5])
    state = tx.init(params)
    outputs = []
    for i in range(3):
        updates, state = tx.update(params * (i + 1) - 0.3, state, params)
        outputs.append(updates)
    return outputs


@pytest.mark.parametrize(
    "args, kwargs",
    [((1e-2,), {}), ((2e-2, 0.5), {"b1": 0.8, "nesterov": False, "eps_root": 1e-8})],
)
def test_matches_optax_and_v2(args, kwargs):
    ours = _updates(optjax, *args, **kwargs)
    ref = _updates(optax, *args, **kwargs)
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    optimism = args[1] if len(args) > 1 else args[0]
    v2 = optjax.optimistic_adam_v2(1.0, alpha=args[0], beta=optimism, **kwargs)
    params = jnp.array([1.0, -2.0, 0.5])
    state = v2.init(params)
    for i, expected in enumerate(ours):
        updates, state = v2.update(params * (i + 1) - 0.3, state, params)
        np.testing.assert_allclose(updates, expected, rtol=1e-6)


def test_a_schedule_is_refused_as_in_optax():
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="schedule"):
        optjax.optimistic_adam(lambda count: 0.1)
