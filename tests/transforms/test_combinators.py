"""partition, freeze, maximize, grouped and flatten beyond the parity registry.

Bad labels, extra-argument masking, flax.nnx.Optimizer, the maximize state
against Optax's ``chain(scale(-1), inner)``, and grouped execution bit for bit
against the per-leaf path.
"""

import os
import pathlib
import platform
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from harness import loss, make_params

import optjax

# ----------------------------------------------------------------------------
# partition: bad labels.


def _paths(tree):
    return [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


def _params():
    return {"dense": [jnp.ones((2, 3)), jnp.zeros(3)], "scalar": jnp.asarray(0.5), "none": None}


def _two():
    return {"adam": optjax.adam(1e-2), "sgd": optjax.sgd(1e-1)}


@pytest.mark.parametrize(
    "labels, path",
    [
        ({"dense": ["adam", "typo"], "scalar": "sgd", "none": None}, r"\['dense'\]\[1\]"),
        ({"dense": "adam", "scalar": "Adam", "none": None}, r"\['scalar'\]"),
        (lambda p: jax.tree.map(lambda x: "adam" if x.ndim else 3, p), r"\['scalar'\]"),
        ({"dense": ["adam", {"sgd"}], "scalar": "sgd", "none": None}, r"\['dense'\]\[1\]"),
    ],
    ids=["tree", "prefix", "callable", "unhashable"],
)
def test_partition_unknown_label_names_the_key_path_and_the_valid_labels(labels, path):
    tx = optjax.partition(_two(), labels)
    with pytest.raises(ValueError, match=path + r".*names no transform.*\['adam', 'sgd'\]"):
        tx.init(_params())


@pytest.mark.parametrize(
    "labels, path",
    [
        ({"dense": ("adam", "sgd"), "scalar": "sgd", "none": None}, r"\['dense'\]"),
        ({"dense": "adam", "none": None}, r"<root>"),
        ({"dense": "adam", "scalar": {"x": "sgd"}, "none": None}, r"\['scalar'\]"),
        ({"dense": ["adam"], "scalar": "sgd", "none": None}, r"\['dense'\]"),
    ],
    ids=["tuple_for_list", "missing_key", "subtree_for_leaf", "short_list"],
)
def test_partition_structure_mismatch_names_the_key_path(labels, path):
    tx = optjax.partition(_two(), labels)
    with pytest.raises(
        ValueError, match=r"labels does not match the parameters at key path " + path
    ):
        tx.init(_params())


def test_partition_checks_labels_at_update_too():
    # A label function of the updates can disagree with init's labels.
    tx = optjax.partition(_two(), lambda tree: "adam" if "scalar" in tree else "nope")
    state = tx.init(_params())
    grads = {"dense": [jnp.ones((2, 3)), jnp.zeros(3)]}
    with pytest.raises(ValueError, match=r"'nope' at key path <root> names no transform"):
        tx.update(grads, state)


def test_partition_state_from_another_partition_is_refused():
    params = _params()
    state = optjax.partition({"adam": optjax.adam(1e-2)}, "adam").init(params)
    with pytest.raises(ValueError, match=r"no entry for the labels \['sgd'\]"):
        optjax.partition(_two(), "adam").update(params, state)


def test_partition_unused_label_keeps_no_per_parameter_state():
    transforms = {**_two(), "never": optjax.adam(1e-2)}
    params = _params()
    state = optjax.partition(transforms, "sgd").init(params)
    never = state.inner_states["never"]
    # Only adam's step count; its moments are trees of MaskedNodes.
    assert [leaf.shape for leaf in jax.tree.leaves(never)] == [()]
    ref = optax.partition(
        {"adam": optax.adam(1e-2), "sgd": optax.sgd(1e-1), "never": optax.adam(1e-2)}, "sgd"
    ).init(params)
    assert _paths(state) == _paths(ref)


def test_multi_transform_is_partition():
    assert optjax.multi_transform is optjax.partition
    assert optjax.MultiTransformState is optjax.PartitionState
    assert optjax.PartitionState._fields == optax.PartitionState._fields


def _add_offset():
    """A transform reading a per-parameter extra argument: u = g + offset."""

    def update(updates, state, params=None, offset=None, **extra_args):
        return jax.tree.map(lambda u, o: u + o, updates, offset), state

    return optax.GradientTransformationExtraArgs(lambda params: optax.EmptyState(), update)


def test_partition_masks_compatible_extra_args_like_optax():
    params = {"a": jnp.array([1.0, 2.0]), "b": jnp.array([3.0]), "c": jnp.array(4.0)}
    grads = jax.tree.map(lambda x: 0.5 * x, params)
    offset = jax.tree.map(lambda x: 10.0 + x, params)

    def run(lib):
        tx = lib.partition(
            {"off": _add_offset(), "sgd": lib.sgd(0.1)},
            {"a": "off", "b": "sgd", "c": "off"},
            mask_compatible_extra_args=True,
        )
        return tx.update(grads, tx.init(params), params, offset=offset)[0]

    ours, ref = run(optjax), run(optax)
    for leaf, ref_leaf in zip(jax.tree.leaves(ours), jax.tree.leaves(ref)):
        np.testing.assert_array_equal(leaf, ref_leaf)
    np.testing.assert_allclose(ours["a"], grads["a"] + offset["a"])
    np.testing.assert_allclose(ours["b"], -0.1 * grads["b"])


# ----------------------------------------------------------------------------
# freeze and selective_transform.


@pytest.mark.parametrize(
    "mask, frozen",
    [
        ({"dense": [True, False], "scalar": False, "none": None}, [True, False, False]),
        ({"dense": True, "scalar": False, "none": None}, [True, True, False]),
        (True, [True, True, True]),
        (False, [False, False, False]),
    ],
    ids=["tree", "prefix", "all", "nothing"],
)
def test_freeze_and_selective_transform_zero_exactly_the_masked_leaves(mask, frozen):
    params = _params()
    grads = jax.tree.map(lambda x: x + 1.5, params)
    # freeze passes the other gradients through; selective_transform runs sgd(1) on them.
    for tx, sign in (
        (optjax.freeze(mask), 1.0),
        (optjax.selective_transform(optjax.sgd(1.0), freeze_mask=mask), -1.0),
    ):
        updates, _ = tx.update(grads, tx.init(params), params)
        for is_frozen, u, g in zip(frozen, jax.tree.leaves(updates), jax.tree.leaves(grads)):
            np.testing.assert_array_equal(u, jnp.zeros_like(g) if is_frozen else sign * g)


def test_selective_transform_keeps_no_state_for_frozen_leaves():
    params = _params()
    mask = {"dense": [True, False], "scalar": True, "none": None}
    state = optjax.selective_transform(optjax.adam(1e-2), freeze_mask=mask).init(params)
    mu = state.inner_states["train"].inner_state[0].mu
    assert [leaf.shape for leaf in jax.tree.leaves(mu)] == [(3,)]


# ----------------------------------------------------------------------------
# maximize.


def test_maximize_sgd_ascends_by_the_gradient():
    params = {"w": jnp.array([1.0, -2.0]), "s": jnp.asarray(3.0)}
    grads = {"w": jnp.array([0.5, 4.0]), "s": jnp.asarray(-1.0)}
    tx = optjax.maximize(optjax.sgd(0.1))
    updates, _ = tx.update(grads, tx.init(params), params)
    np.testing.assert_allclose(updates["w"], [0.05, 0.4])
    np.testing.assert_allclose(updates["s"], -0.1)


def test_maximize_adam_first_step_is_plus_lr_times_the_sign():
    # Adam's first bias-corrected step is g / (|g| + eps); negated gradients flip it.
    grads = {"w": jnp.array([0.5, -4.0, 2.0])}
    tx = optjax.maximize(optjax.adam(0.1, eps=1e-8))
    updates, _ = tx.update(grads, tx.init(grads), grads)
    g = np.array([0.5, -4.0, 2.0])
    # rtol: float32 rounding of the bias corrections 1 - b**t.
    np.testing.assert_allclose(updates["w"], 0.1 * g / (np.abs(g) + 1e-8), rtol=1e-5)


def test_maximize_keeps_weight_decay_pulling_towards_zero():
    # PyTorch semantics: only the gradient is negated, not the decay term.
    params = {"w": jnp.array([2.0, -4.0])}
    zero = {"w": jnp.zeros(2)}
    updates, _ = optjax.maximize(optjax.adamw(0.1, weight_decay=0.5)).update(
        zero, optjax.adamw(0.1, weight_decay=0.5).init(params), params
    )
    np.testing.assert_allclose(updates["w"], -0.1 * 0.5 * params["w"])
    # Negating after the decay (the wrong place, see the docstring) pushes away from zero.
    late = optjax.chain(optjax.adamw(0.1, weight_decay=0.5), optjax.scale(-1.0))
    late_updates, _ = late.update(zero, late.init(params), params)
    np.testing.assert_allclose(late_updates["w"], 0.1 * 0.5 * params["w"])


def test_maximize_finds_the_maximum_of_a_concave_function():
    value = lambda x: -jnp.sum((x - 3.0) ** 2)  # noqa: E731
    tx = optjax.maximize(optjax.sgd(0.1, momentum=0.5))

    def step(carry, _):
        x, state = carry
        updates, state = tx.update(jax.grad(value)(x), state, x)
        return (optjax.apply_updates(x, updates), state), None

    x0 = jnp.array([0.0, 10.0])
    (x, _), _ = jax.lax.scan(step, (x0, tx.init(x0)), None, length=100)
    np.testing.assert_allclose(x, [3.0, 3.0], atol=1e-5)


@pytest.mark.parametrize(
    "inner",
    [lambda lib: lib.adam(1e-2), lambda lib: lib.sgd(1e-2, momentum=0.9, nesterov=True)],
    ids=["adam", "nesterov"],
)
def test_maximize_matches_optax_chain_of_scale_minus_one(inner):
    params = make_params()
    ours_tx = optjax.maximize(inner(optjax))
    ref_tx = optax.chain(optax.scale(-1.0), inner(optax))

    def run(tx, apply):
        def step(carry, _):
            p, s = carry
            updates, s = tx.update(jax.grad(loss)(p), s, p)
            return (apply(p, updates), s), updates

        return jax.lax.scan(step, (params, tx.init(params)), None, length=20)

    ((ours_p, ours_s), ours_u), ((ref_p, ref_s), ref_u) = jax.jit(
        lambda: (run(ours_tx, optjax.apply_updates), run(ref_tx, optax.apply_updates))
    )()
    # The state is the inner state itself; the reference nests it after scale's.
    assert _paths(ours_s) == _paths(ref_s[1])
    for a, b in zip(
        jax.tree.leaves((ours_p, ours_s, ours_u)), jax.tree.leaves((ref_p, ref_s[1], ref_u))
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------
# grouped and flatten.

# Elementwise optimizers: grouped runs exactly their per-leaf arithmetic on
# longer vectors. On CPU, LLVM contracts a * b + c into an FMA in vectorized
# loop bodies but not always in their scalar remainders, so an element's
# rounding can depend on where it falls in its array: the in-process test
# allows a few ulps, and a subprocess without FMA instructions checks bit for
# bit (see test_grouped_is_bit_for_bit_without_fma_contraction).
ELEMENTWISE = {
    "sgd_momentum": lambda: optjax.sgd(5e-2, momentum=0.9),
    "sgd_nesterov": lambda: optjax.sgd(5e-2, momentum=0.9, nesterov=True),
    "lion": lambda: optjax.lion(1e-3),
    "rmsprop": lambda: optjax.rmsprop(1e-2, centered=True, momentum=0.5),
    "adagrad": lambda: optjax.adagrad(1e-1),
    "adadelta": lambda: optjax.adadelta(1.0),
    "rprop": lambda: optjax.rprop(1e-2),
    "sign_sgd": lambda: optjax.sign_sgd(1e-2),
    "adam": lambda: optjax.adam(1e-2),
    "adamw": lambda: optjax.adamw(1e-2, weight_decay=0.1),
    "nadam": lambda: optjax.nadam(1e-2),
    "amsgrad": lambda: optjax.amsgrad(1e-2),
    "adamax": lambda: optjax.adamax(1e-2),
    "yogi": lambda: optjax.yogi(1e-2),
    "adabelief": lambda: optjax.adabelief(1e-2),
    "radam": lambda: optjax.radam(1e-2),
}
# These divide every leaf by a shared scalar 1 - b**t. When one array of a
# dtype uses that scalar (grouped, single dtype) XLA's algebraic simplifier
# turns the division into a multiplication by its reciprocal; when several do
# (the per-leaf path) it folds it into the next division instead. Each is
# within an ulp of the other, and it is XLA's choice, not the arithmetic
# optjax asks for: with two dtypes (two users of the scalar) they agree.
BIAS_CORRECTED = {"adam", "adamw", "nadam", "amsgrad", "adamax", "yogi", "adabelief", "radam"}


def _mixed_params():
    """The harness tree with its "nested" subtree and its scalar in bfloat16."""
    params = make_params()
    params["nested"] = jax.tree.map(lambda x: x.astype(jnp.bfloat16), params["nested"])
    params["scalar"] = params["scalar"].astype(jnp.bfloat16)
    return params


def _run(txs, params, steps=20):
    """``(final state, stacked updates)`` of each transform over the same inputs.

    Step ``t`` sees the parameters scaled by ``1 + 0.05 t`` and their loss
    gradients, the same for every transform (no feedback through the
    parameters). The gradients are computed in a separate program: inside one
    program XLA would fold the loss's constant factors into the optimizer's
    (``c1 * (c2 * x)`` becomes ``(c1 * c2) * x``), and whether it can do that
    depends on the layout around it, which is not what is compared here.
    """
    scales = 1 + 0.05 * jnp.arange(steps, dtype=jnp.float32)
    ps = jax.tree.map(
        lambda x: (x[None] * scales.reshape((-1,) + (1,) * x.ndim)).astype(x.dtype), params
    )
    gs = jax.jit(jax.vmap(jax.grad(loss)))(ps)
    gs = jax.tree.map(lambda g, x: g.astype(x.dtype), gs, ps)

    def run(tx, gs, ps):
        def step(state, inputs):
            grads, p = inputs
            updates, state = tx.update(grads, state, p)
            return state, updates

        return jax.lax.scan(step, tx.init(params), (gs, ps))

    return jax.jit(lambda gs, ps: [run(tx, gs, ps) for tx in txs])(gs, ps)


def _assert_equal_trees(actual, expected):
    assert _paths(actual) == _paths(expected)
    for a, b in zip(jax.tree.leaves(actual), jax.tree.leaves(expected)):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def _per_dtype(per_leaf_tree, dtype):
    """The per-leaf tree's leaves of ``dtype``, raveled and concatenated."""
    leaves = [x for x in jax.tree.leaves(per_leaf_tree) if x.dtype == dtype]
    return jnp.concatenate([jnp.ravel(x) for x in leaves])


def _assert_state_is_per_dtype_concatenation(state, ref_state, params, ulps=0):
    """Each vector state entry is the per-leaf entry concatenated per dtype.

    Exact when ``ulps`` is 0; else within ``ulps`` of the entry's largest value.
    """
    is_group = lambda x: isinstance(x, dict)  # noqa: E731
    dtypes = sorted({x.dtype.name for x in jax.tree.leaves(params)})
    flat_leaves = jax.tree.leaves(state, is_leaf=is_group)
    ref_leaves = jax.tree.leaves(ref_state, is_leaf=is_group)
    assert len(flat_leaves) == len(ref_leaves)
    for flat, per_leaf in zip(flat_leaves, ref_leaves):
        if is_group(flat):
            assert sorted(flat) == dtypes
            for dtype, vector in flat.items():
                expected = _per_dtype(per_leaf, jnp.dtype(dtype))
                assert vector.dtype == expected.dtype
                if ulps == 0:
                    np.testing.assert_array_equal(vector, expected)
                else:
                    tol = (
                        ulps
                        * float(jnp.finfo(vector.dtype).eps)
                        * float(jnp.max(jnp.abs(expected)))
                    )
                    np.testing.assert_allclose(vector, expected, rtol=0, atol=tol)
        else:  # Counts and other scalars.
            np.testing.assert_array_equal(flat, per_leaf)


def check_grouped_bit_for_bit():
    """Asserts grouped == per-leaf bit for bit; run without FMA contraction."""
    for params in (make_params(), _mixed_params()):
        single_dtype = len({x.dtype for x in jax.tree.leaves(params)}) == 1
        for name, make in ELEMENTWISE.items():
            if single_dtype and name in BIAS_CORRECTED:
                continue  # XLA's reciprocal rewrite; see BIAS_CORRECTED.
            (state, updates), (ref_state, ref_updates) = _run(
                [optjax.grouped(make()), make()], params
            )
            _assert_equal_trees(updates, ref_updates)
            if name not in BIAS_CORRECTED:
                _assert_state_is_per_dtype_concatenation(state, ref_state, params)


@pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"), reason="xla_cpu_max_isa is x86-only"
)
def test_grouped_is_bit_for_bit_without_fma_contraction():
    # A fresh process, since the CPU instruction set is fixed when JAX starts.
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_max_isa=SSE4_2").strip(),
    }
    here = pathlib.Path(__file__).parent
    # This module and the tests/ root (harness, registry) must both be importable.
    env["PYTHONPATH"] = os.pathsep.join(
        [str(here), str(here.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    result = subprocess.run(
        [sys.executable, "-c", "import test_combinators as t; t.check_grouped_bit_for_bit()"],
        cwd=here,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_grouped_matches_the_per_leaf_path_to_a_few_ulps(name):
    params = _mixed_params()
    make = ELEMENTWISE[name]
    (state, updates), (ref_state, ref_updates) = _run([optjax.grouped(make()), make()], params)
    assert _paths(updates) == _paths(ref_updates)
    for a, b in zip(jax.tree.leaves(updates), jax.tree.leaves(ref_updates)):
        assert a.dtype == b.dtype
        ulp = float(jnp.finfo(a.dtype).eps)
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        # Relative to each step's largest update in the leaf.
        scale = np.max(np.abs(b), axis=tuple(range(1, b.ndim)), keepdims=True)
        np.testing.assert_array_less(
            np.abs(a - b), np.broadcast_to(8 * ulp * scale + 1e-30, a.shape)
        )
    _assert_state_is_per_dtype_concatenation(state, ref_state, params, ulps=8)


def test_grouped_changes_the_meaning_of_per_leaf_norms():
    # lamb's trust ratio is per leaf; grouped computes one over each dtype's
    # vector (what flatten does too, when every leaf has one dtype).
    lamb = lambda: optjax.lamb(1e-2)  # noqa: E731
    (_, grouped), (_, flat), (_, per_leaf) = _run(
        [optjax.grouped(lamb()), optjax.flatten(lamb()), lamb()], make_params(), steps=3
    )
    _assert_equal_trees(grouped, flat)
    gaps = [
        np.max(np.abs(a - b)) for a, b in zip(jax.tree.leaves(grouped), jax.tree.leaves(per_leaf))
    ]
    assert max(gaps) > 1e-3


def test_grouped_global_clipping_agrees_to_rounding():
    # A global norm keeps its meaning; only the order of the sum changes.
    tx = lambda: optjax.chain(optjax.clip_by_global_norm(0.5), optjax.sgd(0.1))  # noqa: E731
    (_, updates), (_, ref_updates) = _run([optjax.grouped(tx()), tx()], make_params())
    for a, b in zip(jax.tree.leaves(updates), jax.tree.leaves(ref_updates)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("wrapper", [optjax.grouped, optjax.flatten], ids=["grouped", "flatten"])
@pytest.mark.parametrize(
    "params",
    [{}, {"a": None}, {"s": jnp.asarray(2.0), "n": None, "v": jnp.ones(3)}],
    ids=["empty", "only_none", "scalar_and_none"],
)
def test_grouped_and_flatten_handle_empty_none_and_scalar_trees(wrapper, params):
    tx = wrapper(optjax.sgd(0.5, momentum=0.9))
    updates, _ = tx.update(params, tx.init(params), params)
    assert jax.tree.structure(updates) == jax.tree.structure(params)
    for u, p in zip(jax.tree.leaves(updates), jax.tree.leaves(params)):
        np.testing.assert_array_equal(u, -0.5 * p)


def test_flatten_keeps_each_leaf_dtype_where_optax_promotes():
    params = {"w": jnp.ones((2, 2)), "b": jnp.full(3, 0.5, jnp.bfloat16)}
    ours = optjax.flatten(optjax.sgd(0.1, momentum=0.9))
    ref = optax.flatten(optax.sgd(0.1, momentum=0.9))
    updates, state = ours.update(params, ours.init(params), params)
    ref_updates, ref_state = ref.update(params, ref.init(params), params)
    assert ref_updates["b"].dtype == jnp.float32  # Optax: the promoted dtype.
    assert updates["b"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(updates["b"], ref_updates["b"].astype(jnp.bfloat16))
    np.testing.assert_array_equal(updates["w"], ref_updates["w"])
    _assert_equal_trees(state, ref_state)


# ----------------------------------------------------------------------------
# flax.nnx.Optimizer (Optax #1148: labels computed at init see nnx.Variable nodes).


class _MLP(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(3, 8, rngs=rngs)
        self.out = nnx.Linear(8, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(jax.nn.relu(self.hidden(x)))


def _key_labels(params):
    return jax.tree_util.tree_map_with_path(lambda path, _: path[-1].key, params)


def _by_path(tree):
    leaves = jax.tree_util.tree_flatten_with_path(nnx.as_pure(tree))[0]
    return {jax.tree_util.keystr(path): x for path, x in leaves}


def _nnx_run(tx, steps=3):
    """Trains the MLP for a few steps; returns the gradients and updates per step, by path."""
    model = _MLP(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    x = jnp.linspace(-1.0, 1.0, 24).reshape(8, 3)
    y = jnp.sum(x, axis=1, keepdims=True) ** 2
    grads_seen, updates_seen = [], []
    for _ in range(steps):
        grads = nnx.grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
        updates = optimizer.update(model, grads)
        grads_seen.append(_by_path(grads))
        updates_seen.append(_by_path(updates))
    return grads_seen, updates_seen


_KERNEL_BIAS = {"kernel": lambda: optjax.adam(1e-2), "bias": lambda: optjax.sgd(1e-1)}


@pytest.mark.parametrize(
    "labels, expected",
    [
        (lambda model: _key_labels, "by_name"),
        (
            lambda model: {
                "hidden": {"kernel": "kernel", "bias": "bias"},
                "out": {"kernel": "kernel", "bias": "bias"},
            },
            "by_name",
        ),
        (
            # Mapping over nnx.state leaves labels inside nnx.Param nodes.
            lambda model: jax.tree_util.tree_map_with_path(
                lambda path, _: path[-2].key, nnx.state(model, nnx.Param)
            ),
            "by_name",
        ),
        (lambda model: {"hidden": "kernel", "out": "bias"}, "by_layer"),
    ],
    ids=["callable", "dict", "state_of_variables", "prefix"],
)
def test_partition_under_nnx_optimizer_gives_each_group_its_own_optimizer(labels, expected):
    tx = optjax.partition(
        {k: make() for k, make in _KERNEL_BIAS.items()}, labels(_MLP(nnx.Rngs(0)))
    )
    grads, updates = _nnx_run(tx)
    paths = sorted(grads[0])
    if expected == "by_name":
        group = {path: "kernel" if path.endswith("['kernel']") else "bias" for path in paths}
    else:
        group = {path: "kernel" if path.startswith("['hidden']") else "bias" for path in paths}
    # Run each group's optimizer alone on its own leaves, on the same gradients.
    for label, make in _KERNEL_BIAS.items():
        mine = [path for path in paths if group[path] == label]
        alone = make()
        state = alone.init({path: grads[0][path] for path in mine})
        for step_grads, step_updates in zip(grads, updates):
            expected_updates, state = alone.update({p: step_grads[p] for p in mine}, state)
            for path in mine:
                np.testing.assert_allclose(step_updates[path], expected_updates[path], rtol=1e-6)
    # Different learning rates: sgd's first step is exactly -0.1 g, adam's about -0.01 sign(g).
    first_bias = [p for p in paths if group[p] == "bias"][0]
    np.testing.assert_allclose(updates[0][first_bias], -0.1 * grads[0][first_bias], rtol=1e-6)
    first_kernel = [p for p in paths if group[p] == "kernel"][0]
    g = np.asarray(grads[0][first_kernel])
    moved = np.abs(g) > 1e-3  # Where eps does not matter.
    np.testing.assert_allclose(
        np.asarray(updates[0][first_kernel])[moved], -0.01 * np.sign(g[moved]), rtol=1e-3
    )


def test_optax_partition_with_a_path_callable_fails_under_nnx_optimizer():
    # The optjax test above passes where Optax 0.2.8 fails at init: its label
    # function sees nnx.Variable nodes, whose last key path entry is `.value`.
    tx = optax.partition({"kernel": optax.adam(1e-2), "bias": optax.sgd(1e-1)}, _key_labels)
    with pytest.raises(AttributeError, match="GetAttrKey"):
        nnx.Optimizer(_MLP(nnx.Rngs(0)), tx, wrt=nnx.Param)


def test_grouped_under_nnx_optimizer_matches_the_per_leaf_optimizer():
    _, grouped_updates = _nnx_run(optjax.grouped(optjax.sgd(1e-2, momentum=0.9)))
    _, plain_updates = _nnx_run(optjax.sgd(1e-2, momentum=0.9))
    for ours, ref in zip(grouped_updates, plain_updates):
        for path in ref:
            np.testing.assert_array_equal(ours[path], ref[path])


def test_callable_mask_inside_masked_sees_placeholders_like_optax():
    """A callable mask mapped over an already-masked tree keeps MaskedNode entries."""
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
    kernels = lambda tree: jax.tree.map(lambda x: x.ndim > 1, tree)  # noqa: E731
    results = []
    for lib in (optjax, optax):
        tx = lib.masked(lib.adamw(1e-2, weight_decay=0.1, mask=kernels), {"w": True, "b": False})
        updates, _ = tx.update(params, tx.init(params), params)
        results.append(updates)
    jax.tree.map(np.testing.assert_array_equal, *results)
