"""Data parallelism (optjax.training._parallel) on 2 and 4 fake CPU devices.

This process imported JAX with one CPU device, so the multi-device checks run
once, in a separate interpreter started with
``XLA_FLAGS=--xla_force_host_platform_device_count=4``; it prints one JSON
object of results that the tests below read. Every parallel run is compared
with the single-device run of ``make_train_step`` on the same batches (or,
for ``pmap`` with dropout, with the per-device computation the docstring
states), never with timings.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json
    import warnings

    import jax
    import jax.numpy as jnp
    import numpy as np

    import optjax
    from optjax import data
    from optjax.training import TrainState, default_loss, make_model, make_optimizer
    from optjax.training import make_train_step
    from optjax.training import _parallel as par

    jax.config.update("jax_numpy_rank_promotion", "raise")
    warnings.simplefilter("error")
    assert jax.device_count() == 4, jax.devices()

    CE = default_loss("classification")
    RTOL, ATOL = 1e-5, 1e-6
    DATASETS = {
        name: data.standardize(*data.train_test_split(data.load(name), seed=0))[0][0]
        for name in ("iris", "digits")
    }


    def batches(name, size=24, count=4):
        out = data.batches(DATASETS[name], size, seed=0, drop_last=True)
        return [{k: jnp.asarray(v) for k, v in b.items()} for b, _ in zip(out, range(count))]


    def new_state(config):
        ds = DATASETS[config["data"]]
        features, classes = ds.x.shape[1], ds.num_classes
        dropout = config.get("dropout", 0.0)
        tx = make_optimizer("adamw", 1e-2) if config["opt"] == "adamw" else optjax.adam(1e-2)
        if config["kind"] == "linen":
            model = make_model("mlp", kind="linen", input_shape=(features,),
                               num_classes=classes, hidden_sizes=(16,), dropout_rate=dropout)
            return TrainState.from_linen(model, tx, rng=0, sample_input=ds.x[:2])
        model = make_model("mlp", input_shape=(features,), num_classes=classes,
                           hidden_sizes=(16,), dropout_rate=dropout, seed=0)
        return TrainState.from_nnx(model, tx, rng=0)


    def host(x):
        if jnp.issubdtype(jnp.asarray(x).dtype, jax.dtypes.prng_key):
            x = jax.random.key_data(x)
        return np.asarray(x)


    def compare(a, b, rtol=RTOL, atol=ATOL):
        try:
            jax.tree.map(lambda x, y: np.testing.assert_allclose(
                host(x), host(y), rtol=rtol, atol=atol), a, b)
            return ""
        except AssertionError as e:
            return str(e)[:600]


    def run(step, state, bs):
        losses = []
        for b in bs:
            state, logs = step(state, b)
            losses.append(np.asarray(logs["loss"]).reshape(-1)[0])
        return state, np.array(losses)


    CONFIGS = {
        "nnx-iris-adam": dict(kind="nnx", data="iris", opt="adam"),
        "linen-digits-adamw": dict(kind="linen", data="digits", opt="adamw"),
        "nnx-iris-dropout": dict(kind="nnx", data="iris", opt="adam", dropout=0.3),
    }
    SHARDED = [
        ("nnx-iris-adam", 2, False), ("nnx-iris-adam", 4, False),
        ("nnx-iris-adam", 2, True), ("nnx-iris-adam", 4, True),
        ("linen-digits-adamw", 2, False), ("linen-digits-adamw", 4, True),
        ("nnx-iris-dropout", 4, False),
    ]
    results = {"sharded": {}, "pmap": {}, "errors": {}}
    reference = {}
    for name, config in CONFIGS.items():
        bs = batches(config["data"])
        reference[name] = run(make_train_step(CE, donate=False), new_state(config), bs)

    for name, n, zero in SHARDED:
        config = CONFIGS[name]
        bs = batches(config["data"])
        mesh = par.make_mesh(n)
        state = new_state(config)
        shardings = par.state_shardings(state, mesh, shard_opt_state=zero)
        state = jax.device_put(state, shardings)
        params_in = [x.sharding for x in jax.tree.leaves(state.params)]
        opt_in = [x.sharding for x in jax.tree.leaves(state.opt_state)]
        step = par.make_sharded_train_step(CE, mesh, shard_opt_state=zero)
        out, losses = run(step, state, bs)
        opt_leaves = jax.tree.leaves(out.opt_state)
        ref_state, ref_losses = reference[name]
        results["sharded"][f"{name}-n{n}-zero{int(zero)}"] = {
            "params": compare(out.params, ref_state.params),
            "opt_state": compare(out.opt_state, ref_state.opt_state),
            "model_state": compare(out.model_state, ref_state.model_state),
            "loss": compare(losses, ref_losses),
            "step": int(out.step),
            "params_keep_sharding": [x.sharding for x in jax.tree.leaves(out.params)] == params_in,
            "params_replicated": all(x.sharding.is_fully_replicated
                                     for x in jax.tree.leaves(out.params)),
            "opt_keep_sharding": [x.sharding for x in opt_leaves] == opt_in,
            "opt_partitioned": sum(x.addressable_shards[0].data.shape != x.shape
                                   for x in opt_leaves),
            "opt_partition_bytes": [
                int(sum(x.addressable_shards[0].data.size for x in opt_leaves)),
                int(sum(x.size for x in opt_leaves))],
            "opt_leaves": len(opt_leaves),
        }

    # pmap, no dropout: equal to the single-device run.
    for n in (2, 4):
        name = "nnx-iris-adam"
        step = par.make_pmap_train_step(CE)
        states = par.replicate_for_pmap(new_state(CONFIGS[name]), n)
        splits = [par.split_for_pmap(b, n) for b in batches("iris")]
        out, losses = run(step, states, splits)
        ref_state, ref_losses = reference[name]
        results["pmap"][f"{name}-n{n}"] = {
            "params": compare(par.unreplicate(out.params), ref_state.params),
            "opt_state": compare(par.unreplicate(out.opt_state), ref_state.opt_state),
            "loss": compare(losses, ref_losses),
            "replicas_equal": compare(out.params, par.replicate_for_pmap(
                par.unreplicate(out.params), n), rtol=0, atol=0),
            "step": int(par.unreplicate(out.step)),
        }

    # pmap with dropout: device i uses fold_in(fold_in(rng, t), i) on shard i.
    def manual_step(state, batch, n, distinct):
        rng = state.step_rng()
        size = batch["x"].shape[0] // n
        losses, grads = [], []
        for i in range(n):
            shard = {k: v[i * size:(i + 1) * size] for k, v in batch.items()}
            key = jax.random.fold_in(rng, i) if distinct else rng

            def objective(params):
                outputs, _ = state.apply_model(params, shard["x"], train=True, rng=key)
                return CE(outputs, shard)

            loss, grad = jax.value_and_grad(objective)(state.params)
            losses.append(loss)
            grads.append(grad)
        grad = jax.tree.map(lambda *g: sum(g) / n, *grads)
        loss = sum(losses) / n
        return state.apply_gradients(grad, value=loss), loss

    state = new_state(CONFIGS["nnx-iris-dropout"])
    batch = batches("iris")[0]
    out, logs = par.make_pmap_train_step(CE)(
        par.replicate_for_pmap(state, 4), par.split_for_pmap(batch, 4))
    distinct, distinct_loss = manual_step(state, batch, 4, True)
    same, _ = manual_step(state, batch, 4, False)
    results["pmap"]["dropout"] = {
        "params": compare(par.unreplicate(out.params), distinct.params),
        "loss": compare(np.asarray(logs["loss"]), np.full(4, distinct_loss)),
        "same_key_differs": bool(compare(distinct.params, same.params)),
    }

    # Bad input: a global batch of 30 over 4 devices.
    bad = {"x": jnp.ones((30, 4)), "y": jnp.zeros(30, jnp.int32)}
    mesh4 = par.make_mesh(4)
    for label, call in [
        ("shard_batch", lambda: par.shard_batch(bad, mesh4)),
        ("sharded_step", lambda: par.make_sharded_train_step(CE, mesh4)(
            new_state(CONFIGS["nnx-iris-adam"]), bad)),
        ("split_for_pmap", lambda: par.split_for_pmap(bad, 4)),
        ("make_mesh", lambda: par.make_mesh(5)),
    ]:
        try:
            call()
            results["errors"][label] = None
        except ValueError as e:
            results["errors"][label] = str(e)

    sharded = par.shard_batch(batches("iris")[0], mesh4)
    results["shard_batch_shape"] = [list(s.data.shape) for s in sharded["x"].addressable_shards]
    print("RESULTS " + json.dumps(results))
    """
)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    script = tmp_path_factory.mktemp("parallel") / "parallel_check.py"
    script.write_text(SCRIPT)
    env = dict(
        os.environ,
        XLA_FLAGS="--xla_force_host_platform_device_count=4",
        JAX_PLATFORMS="cpu",
    )
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULTS ")][-1]
    return json.loads(line[len("RESULTS ") :])


SHARDED_CASES = [
    "nnx-iris-adam-n2-zero0",
    "nnx-iris-adam-n4-zero0",
    "nnx-iris-adam-n2-zero1",
    "nnx-iris-adam-n4-zero1",
    "linen-digits-adamw-n2-zero0",
    "linen-digits-adamw-n4-zero1",
    "nnx-iris-dropout-n4-zero0",  # one dropout key over the global batch
]


@pytest.mark.parametrize("case", SHARDED_CASES)
def test_sharded_step_equals_single_device(results, case):
    r = results["sharded"][case]
    assert r["step"] == 4
    for field in ("params", "opt_state", "model_state", "loss"):
        assert r[field] == "", f"{case} {field}: {r[field]}"
    assert r["params_keep_sharding"] and r["params_replicated"], case
    assert r["opt_keep_sharding"], case


@pytest.mark.parametrize("case", [c for c in SHARDED_CASES if c.endswith("zero1")])
def test_zero1_partitions_the_optimizer_state(results, case):
    r = results["sharded"][case]
    # Adam's mu and nu of every kernel (and of biases whose size divides) are split.
    assert r["opt_partitioned"] >= 4, r
    local, total = r["opt_partition_bytes"]
    assert local < total, r


@pytest.mark.parametrize("case", [c for c in SHARDED_CASES if c.endswith("zero0")])
def test_replicated_optimizer_state_by_default(results, case):
    assert results["sharded"][case]["opt_partitioned"] == 0


@pytest.mark.parametrize("case", ["nnx-iris-adam-n2", "nnx-iris-adam-n4", "dropout"])
def test_pmap_step_equals_reference(results, case):
    r = results["pmap"][case]
    for field in ("params", "opt_state", "loss", "replicas_equal"):
        assert r.get(field, "") == "", f"{case} {field}: {r[field]}"
    if case == "dropout":
        assert r["same_key_differs"], "devices must not share a dropout key"
    else:
        assert r["step"] == 4


@pytest.mark.parametrize("where", ["shard_batch", "sharded_step", "split_for_pmap"])
def test_batch_that_does_not_divide_raises(results, where):
    message = results["errors"][where]
    assert message is not None, f"{where} accepted a batch of 30 on 4 devices"
    for part in ("30", "4 devices", "multiple of 4", "28 or 32"):
        assert part in message, message


def test_mesh_larger_than_device_count_raises(results):
    assert "num_devices=5" in results["errors"]["make_mesh"]


def test_shard_batch_splits_the_leading_axis(results):
    assert results["shard_batch_shape"] == [[6, 4]] * 4
