"""L-BFGS and the line searches against Optax, on their own compiled loop.

The registry harness passes ``value=`` only, while a line search also needs the
gradient and the objective (``grad=``, ``value_fn=``). These tests therefore
run their own loop: each of 40 iterations takes ``value, grad`` from
``value_and_grad_from_state`` (or ``jax.value_and_grad``), calls ``update``
with ``value_fn``, and applies the update, all inside one ``lax.scan`` that
compiles optjax's and Optax's trajectories together. Parameters are compared
at every iteration and the final states leaf by leaf.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from harness import assert_trees_close, make_params

import optjax
from optjax.transforms._linesearch import _zoom as zoom_module
from optjax.transforms._linesearch import value_and_grad_from_state as _value_and_grad_from_state

STEPS = 40
RTOL, ATOL = 1e-5, 1e-6


def _vg_from_state(lib):
    """``value_and_grad_from_state`` of either library (optjax's may not be wired yet)."""
    if lib is optax:
        return optax.value_and_grad_from_state
    return getattr(optjax, "value_and_grad_from_state", _value_and_grad_from_state)


# ----------------------------------------------------------------------------
# Problems: (objective, initial params, minimizer or None).

_SCALES = jnp.logspace(0, 2, 8)  # condition number 100
_CENTERS = jnp.linspace(-1.0, 1.0, 8)


def quadratic(params):
    """0.5 sum a_i (x_i - c_i)^2 + a coupling term, split over a dict; minimizer known."""
    x = jnp.concatenate([params["a"], params["b"]])
    r = x - _CENTERS
    return 0.5 * jnp.sum(_SCALES * r**2) + 0.5 * (r[0] + r[-1]) ** 2


def rosenbrock(params):
    """Chained Rosenbrock: sum 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2; minimizer 1."""
    x = params["x"]
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


_KEYS = jax.random.split(jax.random.key(7), 3)
_FEATURES = jax.random.normal(_KEYS[0], (32, 6))
_LABELS = jax.random.randint(_KEYS[1], (32,), 0, 3)


def logistic(params):
    """Multinomial logistic regression with an L2 penalty, on a nested tree."""
    linear = params["linear"]
    temperature, shift = params["calibration"]
    logits = (_FEATURES @ linear["kernel"] + linear["bias"][None]) * temperature + shift[None]
    nll = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), _LABELS[:, None], axis=1))
    return nll + 1e-2 * sum(jnp.sum(p**2) for p in jax.tree.leaves(params))


def _logistic_init():
    return {
        "linear": {"kernel": 0.1 * jax.random.normal(_KEYS[2], (6, 3)), "bias": jnp.zeros(3)},
        "calibration": [jnp.asarray(1.0), jnp.zeros(3)],
    }


def _mixed_init():
    return {
        "scalar": jnp.asarray(0.5),
        "conv": (jnp.linspace(-1.0, 1.0, 24).reshape(2, 3, 2, 2),),
        "frozen": None,
        "nested": [jnp.ones(3), None],
    }


def mixed_loss(params):
    """Quartic-plus-quadratic, coupling every leaf of the mixed tree."""
    leaves = jax.tree.leaves(params)
    total = sum(jnp.sum(0.5 * (x - 0.3 * i) ** 2 + 0.05 * x**4) for i, x in enumerate(leaves))
    return total + 0.1 * jnp.sum(leaves[0]) * jnp.sum(leaves[-1])


PROBLEMS = {
    "quadratic": (quadratic, lambda: {"a": jnp.zeros(3), "b": jnp.zeros(5)}),
    "rosenbrock2": (rosenbrock, lambda: {"x": jnp.array([-1.2, 1.0])}),
    "rosenbrock10": (rosenbrock, lambda: {"x": jnp.tile(jnp.array([-1.2, 1.0]), 5)}),
    "logistic": (logistic, _logistic_init),
    # None leaves, a 0-d scalar, a 4-d leaf, lists and tuples.
    "mixed_tree": (mixed_loss, _mixed_init),
}


# ----------------------------------------------------------------------------
# Settings: make(lib) -> transform, and whether the loop reuses the state's value.


def _zoom(lib, **kw):
    return lib.scale_by_zoom_linesearch(max_linesearch_steps=kw.pop("steps", 20), **kw)


SETTINGS = {
    "lbfgs": (lambda lib: lib.lbfgs(), True),
    "lbfgs/memory_size=3": (lambda lib: lib.lbfgs(memory_size=3), True),
    "lbfgs/memory_size=1": (lambda lib: lib.lbfgs(memory_size=1), True),
    "lbfgs/no_scale_init_precond": (lambda lib: lib.lbfgs(scale_init_precond=False), True),
    "lbfgs/zoom:keep,max_lr=2,increase=3,no_approx": (
        lambda lib: lib.lbfgs(
            linesearch=_zoom(
                lib,
                initial_guess_strategy="keep",
                max_learning_rate=2.0,
                increase_factor=3.0,
                approx_dec_rtol=None,
            )
        ),
        True,
    ),
    "lbfgs/zoom:c1=0.1,c2=0.4,steps=8,precision=1e-3": (
        lambda lib: lib.lbfgs(
            linesearch=_zoom(
                lib, steps=8, slope_rtol=0.1, curv_rtol=0.4, stepsize_precision=1e-3, tol=1e-7
            )
        ),
        True,
    ),
    "lbfgs/zoom:curv_rtol=inf": (
        lambda lib: lib.lbfgs(
            linesearch=_zoom(lib, initial_guess_strategy="one", curv_rtol=jnp.inf)
        ),
        True,
    ),
    "lbfgs/backtracking,store_grad": (
        lambda lib: lib.lbfgs(linesearch=lib.scale_by_backtracking_linesearch(30, store_grad=True)),
        True,
    ),
    "lbfgs/lr=0.5,backtracking": (
        lambda lib: lib.lbfgs(
            learning_rate=0.5,
            linesearch=lib.scale_by_backtracking_linesearch(
                15, decrease_factor=0.5, increase_factor=2.0, max_learning_rate=2.0, rtol=1e-4
            ),
        ),
        False,
    ),
    "sgd+zoom:keep": (
        lambda lib: lib.chain(lib.sgd(1.0), _zoom(lib, steps=15, initial_guess_strategy="keep")),
        True,
    ),
    "sgd+backtracking": (
        lambda lib: lib.chain(lib.sgd(1.0), lib.scale_by_backtracking_linesearch(20)),
        False,
    ),
}

# (setting, problem) pairs: every setting on at least two problems, the
# default on all of them; kept small because each pair is one compile.
PAIRS = [
    *[("lbfgs", p) for p in PROBLEMS],
    ("lbfgs/memory_size=3", "rosenbrock10"),
    ("lbfgs/memory_size=1", "quadratic"),
    ("lbfgs/no_scale_init_precond", "rosenbrock10"),
    ("lbfgs/zoom:keep,max_lr=2,increase=3,no_approx", "rosenbrock2"),
    ("lbfgs/zoom:keep,max_lr=2,increase=3,no_approx", "logistic"),
    ("lbfgs/zoom:c1=0.1,c2=0.4,steps=8,precision=1e-3", "rosenbrock10"),
    ("lbfgs/zoom:c1=0.1,c2=0.4,steps=8,precision=1e-3", "quadratic"),
    ("lbfgs/zoom:curv_rtol=inf", "rosenbrock2"),
    ("lbfgs/backtracking,store_grad", "rosenbrock2"),
    ("lbfgs/backtracking,store_grad", "logistic"),
    ("lbfgs/lr=0.5,backtracking", "quadratic"),
    ("sgd+zoom:keep", "logistic"),
    ("sgd+backtracking", "quadratic"),
]


def _trajectory(lib, tx, fn, params, from_state, steps=STEPS):
    value_and_grad = _vg_from_state(lib)(fn) if from_state else None

    def step(carry, _):
        params, state = carry
        if from_state:
            value, grad = value_and_grad(params, state=state)
        else:
            value, grad = jax.value_and_grad(fn)(params)
        updates, state = tx.update(grad, state, params, value=value, grad=grad, value_fn=fn)
        params = lib.apply_updates(params, updates)
        return (params, state), params

    (_, state), path = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
    return path, state


@functools.cache
def _compiled(setting, problem):
    make, from_state = SETTINGS[setting]
    fn, _ = PROBLEMS[problem]
    ours_tx, ref_tx = make(optjax), make(optax)

    @jax.jit
    def run(params):
        ours = _trajectory(optjax, ours_tx, fn, params, from_state)
        ref = _trajectory(optax, ref_tx, fn, params, from_state)
        return ours, ref

    return run


def _run(setting, problem):
    return _compiled(setting, problem)(PROBLEMS[problem][1]())


@pytest.mark.parametrize("setting, problem", PAIRS, ids=[f"{s}-{p}" for s, p in PAIRS])
def test_trajectory_matches_optax_at_every_iteration(setting, problem):
    (path, state), (ref_path, ref_state) = jax.device_get(_run(setting, problem))
    for k in range(STEPS):
        at_k = jax.tree.map(lambda x, k=k: x[k], path)
        ref_at_k = jax.tree.map(lambda x, k=k: x[k], ref_path)
        assert_trees_close(
            at_k, ref_at_k, rtol=RTOL, atol=ATOL, what=f"{setting} on {problem}, iteration {k}"
        )
    assert_trees_close(state, ref_state, rtol=RTOL, atol=ATOL, what=f"{setting} state")


def test_trajectory_matches_optax_in_float64():
    with jax.enable_x64(True):
        params = {"x": jnp.array([-1.2, 1.0, -1.2, 1.0], dtype=jnp.float64)}
        run = jax.jit(
            lambda p: (
                _trajectory(optjax, optjax.lbfgs(), rosenbrock, p, True),
                _trajectory(optax, optax.lbfgs(), rosenbrock, p, True),
            )
        )
        (path, state), (ref_path, ref_state) = run(params)
        assert path["x"].dtype == jnp.float64
        assert state[2].learning_rate.dtype == jnp.float64
        assert_trees_close(path, ref_path, rtol=1e-9, atol=1e-12, what="float64 path")
        assert_trees_close(state, ref_state, rtol=1e-9, atol=1e-12, what="float64 state")


def test_extra_keyword_arguments_reach_value_fn_like_optax():
    def fn(params, x, y):
        return jnp.sum((x @ params - y) ** 2)

    xs = jax.random.normal(jax.random.key(3), (6, 4, 3))
    ys = jax.random.normal(jax.random.key(4), (6, 4))

    def run(lib, tx):
        def step(carry, data):
            params, state = carry
            x, y = data
            value, grad = jax.value_and_grad(fn)(params, x, y)
            updates, state = tx.update(
                grad, state, params, value=value, grad=grad, value_fn=fn, x=x, y=y
            )
            params = lib.apply_updates(params, updates)
            return (params, state), params

        params = jnp.ones(3)
        return jax.lax.scan(step, (params, tx.init(params)), (xs, ys))[1]

    for make in (
        lambda lib: lib.chain(lib.sgd(1.0), lib.scale_by_zoom_linesearch(10)),
        lambda lib: lib.chain(lib.sgd(1.0), lib.scale_by_backtracking_linesearch(10)),
    ):
        ours = jax.jit(functools.partial(run, optjax, make(optjax)))()
        ref = jax.jit(functools.partial(run, optax, make(optax)))()
        np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=ATOL)


# ----------------------------------------------------------------------------
# Convergence.


def _solve(tx, fn, params, steps):
    run = jax.jit(lambda p: _trajectory(optjax, tx, fn, p, True, steps=steps))
    return run(params)


def test_rosenbrock_minimum_reached_to_1e_6():
    with jax.enable_x64(True):
        path, _ = _solve(optjax.lbfgs(), rosenbrock, {"x": jnp.array([-1.2, 1.0])}, 60)
        error = np.max(np.abs(np.asarray(path["x"][-1]) - 1.0))
    assert error < 1e-6, error


def test_quadratic_solved_in_n_iterations_with_a_near_exact_line_search():
    # BFGS with exact line searches minimizes a quadratic in n steps (Nocedal &
    # Wright, Theorem 6.4); memory_size >= n makes L-BFGS coincide with it. A
    # tight curvature condition (c2 = 1e-3) makes the zoom search near exact.
    # With the default c2 = 0.9 the steps are inexact and convergence is
    # superlinear, not finite (about 25 iterations to 1e-6 here).
    n = 8
    line_search = optjax.scale_by_zoom_linesearch(30, initial_guess_strategy="one", curv_rtol=1e-3)
    with jax.enable_x64(True):
        init = {"a": jnp.zeros(3, jnp.float64), "b": jnp.zeros(5, jnp.float64)}
        path, _ = _solve(optjax.lbfgs(linesearch=line_search), quadratic, init, n + 1)
        final = np.concatenate([path["a"][-1], path["b"][-1]])
    assert np.max(np.abs(final - np.asarray(_CENTERS, np.float64))) < 1e-8


def test_line_search_state_keeps_the_value_and_grad_at_the_accepted_point():
    tx = optjax.lbfgs()
    params = {"x": jnp.array([-1.2, 1.0])}
    state = tx.init(params)
    value, grad = jax.value_and_grad(rosenbrock)(params)
    updates, state = tx.update(grad, state, params, value=value, grad=grad, value_fn=rosenbrock)
    new_params = optjax.apply_updates(params, updates)
    new_value, new_grad = jax.value_and_grad(rosenbrock)(new_params)
    search = state[2]
    np.testing.assert_allclose(search.value, new_value, rtol=1e-6)
    np.testing.assert_allclose(search.grad["x"], new_grad["x"], rtol=1e-5)
    assert search.info.decrease_error == 0.0 and search.value < value


# ----------------------------------------------------------------------------
# Contract: jit equals eager, abstract init, dtypes.


def _eager_steps(tx, fn, params, steps):
    state = tx.init(params)
    value_and_grad = _value_and_grad_from_state(fn)
    path = []
    for _ in range(steps):
        value, grad = value_and_grad(params, state=state)
        updates, state = tx.update(grad, state, params, value=value, grad=grad, value_fn=fn)
        params = optjax.apply_updates(params, updates)
        path.append(params)
    return path


@pytest.mark.parametrize(
    "make",
    [
        lambda: optjax.lbfgs(memory_size=3),
        lambda: optjax.lbfgs(
            linesearch=optjax.scale_by_backtracking_linesearch(10, store_grad=True)
        ),
    ],
    ids=["zoom", "backtracking"],
)
def test_jit_equals_eager(make):
    tx = make()
    params = {"x": jnp.array([-1.2, 1.0])}
    eager = _eager_steps(tx, rosenbrock, params, 2)
    compiled, _ = _solve(tx, rosenbrock, params, 2)
    for k, p in enumerate(eager):
        np.testing.assert_allclose(p["x"], compiled["x"][k], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda: optjax.lbfgs(),
        lambda: optjax.scale_by_lbfgs(memory_size=4),
        lambda: optjax.scale_by_zoom_linesearch(5),
        lambda: optjax.scale_by_backtracking_linesearch(5, store_grad=True),
        lambda: optjax.scale_by_backtracking_linesearch(5),
    ],
    ids=["lbfgs", "scale_by_lbfgs", "zoom", "backtracking,store_grad", "backtracking"],
)
def test_abstract_init_matches_init(make):
    tx = make()
    params = make_params()
    abstract = jax.eval_shape(tx.init, params)
    concrete = tx.init(params)
    assert jax.tree.structure(abstract) == jax.tree.structure(concrete)
    for a, c in zip(jax.tree.leaves(abstract), jax.tree.leaves(concrete)):
        assert (a.shape, a.dtype) == (c.shape, c.dtype)


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.lbfgs(),
        lambda lib: lib.scale_by_zoom_linesearch(5),
        lambda lib: lib.scale_by_backtracking_linesearch(5, store_grad=True),
    ],
    ids=["lbfgs", "zoom", "backtracking"],
)
def test_init_takes_shape_dtype_structs_like_optax(make):
    params = make_params()
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), params)
    ours, theirs = make(optjax).init(abstract), make(optax).init(abstract)
    # The state classes differ (optjax's and Optax's); shapes and dtypes must not.
    shapes = [[(x.shape, x.dtype) for x in jax.tree.leaves(t)] for t in (ours, theirs)]
    assert shapes[0] == shapes[1]


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.scale_by_zoom_linesearch(5, initial_guess_strategy="keep"),
        lambda lib: lib.scale_by_backtracking_linesearch(5, increase_factor=2.0),
    ],
    ids=["zoom", "backtracking"],
)
def test_a_python_float_learning_rate_in_the_state_works_like_optax(make):
    # Optax's own tests set the state's learning_rate to a Python float.
    value, grad = jax.value_and_grad(rosenbrock)(_X)
    results = []
    for lib in (optjax, optax):
        tx = make(lib)
        state = tx.init(_X)._replace(learning_rate=0.5)
        updates, state = tx.update(
            jax.tree.map(jnp.negative, grad), state, _X, value=value, grad=grad,
            value_fn=rosenbrock,
        )  # fmt: skip
        results.append((updates, state.learning_rate))
    assert_trees_close(results[0], results[1], rtol=1e-6, atol=1e-7, what="float learning_rate")
    assert results[0][1].dtype == jnp.float32


def test_memory_is_stacked_per_leaf_and_keeps_dtypes():
    params = {"w": jnp.ones((2, 3), jnp.bfloat16), "b": jnp.ones(3), "s": jnp.asarray(1.0)}
    state = optjax.scale_by_lbfgs(memory_size=4).init(params)
    assert state.diff_params_memory["w"].shape == (4, 2, 3)
    assert state.diff_params_memory["w"].dtype == jnp.bfloat16
    assert state.diff_updates_memory["s"].shape == (4,)
    assert state.weights_memory.shape == (4,)


def test_bfloat16_params_run_and_keep_their_dtype():
    def fn(params):
        return jnp.sum((params["w"].astype(jnp.float32) - 2.0) ** 2)

    params = {"w": jnp.zeros(4, jnp.bfloat16)}
    path, state = _solve(optjax.lbfgs(), fn, params, 5)
    assert path["w"].dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(path["w"][-1], np.float32), 2.0, atol=2e-2)


# ----------------------------------------------------------------------------
# Bad input.


@pytest.mark.parametrize(
    "build, argument",
    [
        (lambda: optjax.scale_by_lbfgs(memory_size=0), "memory_size"),
        (lambda: optjax.scale_by_lbfgs(memory_size=-2), "memory_size"),
        (lambda: optjax.scale_by_lbfgs(memory_size=2.5), "memory_size"),
        (lambda: optjax.lbfgs(memory_size=0), "memory_size"),
        (lambda: optjax.scale_by_zoom_linesearch(10, slope_rtol=0.9, curv_rtol=0.1), "curv_rtol"),
        (lambda: optjax.scale_by_zoom_linesearch(10, slope_rtol=0.5, curv_rtol=0.5), "curv_rtol"),
        (lambda: optjax.scale_by_zoom_linesearch(10, slope_rtol=0.0), "slope_rtol"),
        (lambda: optjax.scale_by_zoom_linesearch(10, slope_rtol=1.5), "slope_rtol"),
        (lambda: optjax.scale_by_zoom_linesearch(0), "max_linesearch_steps"),
        (lambda: optjax.scale_by_zoom_linesearch(10, increase_factor=1.0), "increase_factor"),
        (lambda: optjax.scale_by_zoom_linesearch(10, tol=-1.0), "tol"),
        (lambda: optjax.scale_by_zoom_linesearch(10, max_learning_rate=0.0), "max_learning_rate"),
        (
            lambda: optjax.scale_by_zoom_linesearch(10, initial_guess_strategy="two"),
            "initial_guess_strategy",
        ),
        (
            lambda: optjax.scale_by_backtracking_linesearch(10, decrease_factor=1.5),
            "decrease_factor",
        ),
        (
            lambda: optjax.scale_by_backtracking_linesearch(10, decrease_factor=0.0),
            "decrease_factor",
        ),
        (lambda: optjax.scale_by_backtracking_linesearch(10, slope_rtol=-0.1), "slope_rtol"),
        (lambda: optjax.scale_by_backtracking_linesearch(-1), "max_backtracking_steps"),
    ],
)
def test_bad_hyperparameters_raise_value_error_naming_the_argument(build, argument):
    with pytest.raises(ValueError, match=argument):
        build()


_X = {"x": jnp.array([-1.2, 1.0])}


@pytest.mark.parametrize(
    "tx",
    [
        optjax.lbfgs(),
        optjax.scale_by_zoom_linesearch(5),
        optjax.scale_by_backtracking_linesearch(5),
    ],
    ids=["lbfgs", "zoom", "backtracking"],
)
@pytest.mark.parametrize(
    "kwargs, missing",
    [
        ({"value": 1.0, "grad": _X}, "value_fn"),
        ({"grad": _X, "value_fn": rosenbrock}, "value"),
        ({"value": 1.0, "value_fn": rosenbrock}, "grad"),
    ],
    ids=["value_fn", "value", "grad"],
)
def test_missing_line_search_arguments_raise_type_error(tx, kwargs, missing):
    with pytest.raises(TypeError, match=rf"value_fn=f.*Missing: {missing}\."):
        tx.update(_X, tx.init(_X), _X, **kwargs)


def test_unknown_keyword_for_value_fn_raises_type_error():
    tx = optjax.scale_by_zoom_linesearch(5)
    value, grad = jax.value_and_grad(rosenbrock)(_X)
    # Optax's message starts the same way (its tests match it).
    with pytest.raises(TypeError, match=r"Unexpected keyword arguments \['batch'\]"):
        tx.update(grad, tx.init(_X), _X, value=value, grad=grad, value_fn=rosenbrock, batch=1)


def test_line_searches_need_params():
    for tx in (optjax.scale_by_lbfgs(), optjax.scale_by_zoom_linesearch(5)):
        with pytest.raises(ValueError, match="params"):
            tx.update(_X, tx.init(_X), None, value=1.0, grad=_X, value_fn=rosenbrock)


@pytest.mark.parametrize(
    "tx, message",
    [
        (optjax.adam(1e-3), "exactly one"),
        (
            optjax.chain(optjax.scale_by_zoom_linesearch(3), optjax.scale_by_zoom_linesearch(3)),
            "exactly one",
        ),
        (optjax.scale_by_backtracking_linesearch(5), "store_grad=True"),
    ],
    ids=["no_line_search", "two_line_searches", "no_stored_grad"],
)
def test_value_and_grad_from_state_needs_one_stored_value_and_grad(tx, message):
    with pytest.raises(ValueError, match=message):
        _value_and_grad_from_state(rosenbrock)(_X, state=tx.init(_X))


def test_two_line_searches_in_the_state_also_raise_optaxs_key_error():
    tx = optjax.chain(optjax.scale_by_zoom_linesearch(3), optjax.scale_by_zoom_linesearch(3))
    with pytest.raises(KeyError, match="exactly one"):
        _value_and_grad_from_state(rosenbrock)(_X, state=tx.init(_X))


def _zoom_verbose_output(capsys, w, direction, **kwargs):
    f = lambda x: jnp.dot(x, x)  # noqa: E731
    tx = optjax.scale_by_zoom_linesearch(curv_rtol=0.5, verbose=True, **kwargs)
    value, grad = jax.value_and_grad(f)(w)
    _, state = tx.update(direction, tx.init(w), w, value=value, grad=grad, value_fn=f)
    jax.effects_barrier()
    return float(state.learning_rate), capsys.readouterr().out


def test_zoom_verbose_names_a_capped_step_with_optaxs_flag(capsys):
    # From -60 along +1 the strong Wolfe steps start at 30, beyond the cap of 10.
    w, u = jnp.array([-60.0, 0.0]), jnp.array([1.0, 0.0])
    step, out = _zoom_verbose_output(capsys, w, u, max_linesearch_steps=10, max_learning_rate=10.0)
    assert step == 10.0
    assert (
        zoom_module.FLAG_INTERVAL_NOT_FOUND in out and zoom_module.FLAG_NO_STEPSIZE_FOUND not in out
    )


def test_zoom_verbose_names_an_ascent_direction_with_optaxs_flag(capsys):
    w, u = jnp.array([60.0, 0.0]), jnp.array([1.0, 0.0])
    step, out = _zoom_verbose_output(capsys, w, u, max_linesearch_steps=18)
    assert step < 1e-5
    assert (
        zoom_module.FLAG_NO_STEPSIZE_FOUND in out
        and zoom_module.FLAG_NOT_A_DESCENT_DIRECTION in out
    )
