"""``import optjax as optax`` in real Optax research code gives the same numbers."""

import pathlib
import types

import jax
import jax.numpy as jnp
import numpy as np
from harness import assert_trees_close

SCRIPT = pathlib.Path(__file__).with_name("optax_research.py")


def _load(source, name):
    module = types.ModuleType(name)
    module.__file__ = str(SCRIPT)
    exec(compile(source, str(SCRIPT), "exec"), module.__dict__)  # noqa: S102
    return module


def test_research_code_gives_the_same_numbers_with_optjax_as_optax():
    source = SCRIPT.read_text()
    assert source.count("\nimport optax\n") == 1
    with_optax = _load(source, "research_with_optax")
    with_optjax = _load(
        source.replace("\nimport optax\n", "\nimport optjax as optax\n"), "research_with_optjax"
    )
    assert with_optjax.optax.__name__ == "optjax"

    # Research code broadcasts freely (``x @ w + b``); the suite's strict setting
    # would refuse it for both libraries alike.
    with jax.numpy_rank_promotion("allow"):
        expected = with_optax.run()
        actual = with_optjax.run()

    assert_trees_close(actual, expected, rtol=2e-5, atol=2e-6, what="research code")
    # The experiments really train, and the constraints hold.
    for name, (params, history) in expected.items():
        assert history["loss"][-1] < 0.9 * history["loss"][0], name
        np.testing.assert_allclose(float(jnp.sum(params["mix"])), 1.0, rtol=1e-6)
        assert float(jnp.linalg.norm(params["heads"])) <= 3.0 + 1e-5
    assert float(expected["adamw"][1]["learning_rate"][0]) == 0.0  # the warmup starts at 0
