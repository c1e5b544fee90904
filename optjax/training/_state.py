"""The training state: step, parameters, optimizer state, model collections and an rng.

One immutable pytree serves both Flax APIs. What can change from step to step
(arrays) are leaves; what must stay fixed for a compiled step to be reused (the
optimizer, the linen module or the NNX graph definition) is static metadata, so
``jax.jit`` traces a train step once and reuses it for every later state.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from optjax import apply_updates, with_extra_args_support

# The rng stream that ``apply_model(..., train=True)`` feeds, in both APIs.
_DROPOUT = "dropout"


def _as_key(rng: Any, where: str) -> jax.Array:
    """Returns ``rng`` as a typed PRNG key (an int seed, a typed key or a raw uint32 key)."""
    if isinstance(rng, (int, jnp.integer)) and not isinstance(rng, bool):
        return jax.random.key(int(rng))
    if isinstance(rng, jax.Array | jax.ShapeDtypeStruct):
        if jnp.issubdtype(rng.dtype, jax.dtypes.prng_key):
            if rng.shape != ():
                raise ValueError(
                    f"{where}: rng must be a single key, got a key array of shape {rng.shape}."
                )
            return rng
        if rng.dtype == jnp.uint32 and rng.shape == (2,):
            return jax.random.wrap_key_data(rng)
    raise TypeError(
        f"{where}: rng must be an int seed or a PRNG key such as jax.random.key(0), got {rng!r}."
    )


def _fresh(tree: Any) -> Any:
    # The train step donates the state's buffers; copying keeps the arrays the
    # caller still holds (an NNX model's Variables) alive after the first step.
    return jax.tree.map(lambda x: jnp.array(x, copy=True), tree)


def _unalias(opt_state: Any, params: Any) -> Any:
    # Some inits store the params themselves (lookahead's slow copy, say). A
    # buffer reachable twice from a donated argument cannot be donated, so such
    # leaves get their own copy.
    ids = {id(leaf) for leaf in jax.tree.leaves(params)}
    return jax.tree.map(lambda x: jnp.array(x, copy=True) if id(x) in ids else x, opt_state)


def _accepts_keyword(fn: Any, name: str) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # Builtins and some wrappers have no signature.
        return False
    return any(
        p.kind is inspect.Parameter.VAR_KEYWORD
        or (p.name == name and p.kind is not inspect.Parameter.POSITIONAL_ONLY)
        for p in parameters
    )


@dataclasses.dataclass(frozen=True)
class _Linen:
    """How to call a ``flax.linen`` module (static, hashable)."""

    module: Any
    train_kwarg: str | None
    mutable: tuple[str, ...]

    kind = "linen"

    def apply(self, params, model_state, x, *, train, rng):
        variables = {"params": params, **model_state}
        kwargs = {self.train_kwarg: train} if self.train_kwarg is not None else {}
        rngs = {_DROPOUT: rng} if rng is not None else None
        if not (train and self.mutable):
            return self.module.apply(variables, x, rngs=rngs, **kwargs), model_state
        outputs, updated = self.module.apply(
            variables, x, rngs=rngs, mutable=list(self.mutable), **kwargs
        )
        return outputs, {**model_state, **updated}


def _reseed_streams(model: Any, rng: jax.Array) -> None:
    # Every stream is reseeded, whatever its tag: nnx.Dropout built from
    # nnx.Rngs(0) draws from the "default" stream, not "dropout", so reseeding
    # by name would leave its masks fixed. Stream i gets fold_in(rng, i), so
    # two Dropout layers never share a mask.
    streams = [node for _, node in nnx.iter_graph(model) if isinstance(node, nnx.RngStream)]
    for i, stream in enumerate(streams):
        key = jax.random.fold_in(rng, i)
        shape = stream.key.get_value().shape
        if shape:  # Streams split for vmapped modules keep their shape.
            key = jax.random.split(key, math.prod(shape)).reshape(shape)
        stream.key.set_value(key)
        stream.count.set_value(jnp.zeros(shape, jnp.uint32))


@dataclasses.dataclass(frozen=True)
class _Nnx:
    """How to rebuild and call a ``flax.nnx`` module (static, hashable)."""

    graphdef: Any
    wrt: Any

    kind = "nnx"

    def merge(self, params, model_state):
        return nnx.merge(self.graphdef, params, model_state)

    def apply(self, params, model_state, x, *, train, rng):
        model = self.merge(params, model_state)
        # The mode is set on every call rather than stored: the graphdef is
        # fixed at construction, so the same compiled step serves both modes.
        if train:
            model.train()
            if rng is not None:
                _reseed_streams(model, rng)
        else:
            model.eval()
        outputs = model(x)
        _, _, new_model_state = nnx.split(model, self.wrt, ...)
        return outputs, nnx.to_pure_dict(new_model_state)


@dataclasses.dataclass(frozen=True)
class TrainState:
    """Everything a train step reads and writes, as one immutable pytree.

    The leaves are ``step`` (an int32 scalar), ``params``, ``opt_state``,
    ``model_state`` (the mutable model collections: linen ``batch_stats``,
    NNX BatchNorm statistics and rng streams; an empty dict when there are
    none) and ``rng`` (a typed PRNG key). The optimizer ``tx`` and the model
    description (a linen module, or an NNX graph definition) are static
    metadata: two states that differ only in their arrays share one compiled
    step. Build one with :meth:`from_linen` or :meth:`from_nnx`.

    ``params`` and ``model_state`` are plain nested dicts of arrays for both
    APIs (for NNX, :func:`flax.nnx.to_pure_dict` of the split state), so
    optimizer labels and masks can use key paths such as ``path[-1].key``.

    Attributes:
      step: the number of applied updates.
      params: the trainable parameters.
      opt_state: the optimizer state, ``tx.init(params)``.
      model_state: the model's non-trainable collections.
      rng: the base key; training step ``t`` uses ``fold_in(rng, t)``.
      tx: the gradient transformation (static).
      adapter: how to call the model (static; see :attr:`kind`).

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> import optjax
      >>> from optjax.training import TrainState
      >>> state = TrainState.from_nnx(nnx.Linear(3, 2, rngs=nnx.Rngs(0)), optjax.adam(1e-3))
      >>> int(state.step), sorted(state.params), state.kind
      (0, ['bias', 'kernel'], 'nnx')
    """

    step: jax.Array
    params: Any
    opt_state: Any
    model_state: Any
    rng: jax.Array
    tx: Any
    adapter: Any

    @classmethod
    def from_linen(
        cls,
        module: Any,
        tx: Any,
        *,
        rng: int | jax.Array,
        sample_input: Any,
        mutable_collections: tuple[str, ...] = ("batch_stats",),
        train_kwarg: str | None = "train",
    ) -> TrainState:
        """Initializes a ``flax.linen`` module and its optimizer state.

        ``rng`` is split three ways: ``module.init`` gets
        ``{"params": k1, "dropout": k2}`` and the state keeps ``k3`` for
        training. The ``"params"`` collection becomes :attr:`params`; every
        other collection goes to :attr:`model_state`, and those named in
        ``mutable_collections`` are updated by training-mode calls.

        Args:
          module: a linen module. When its ``__call__`` accepts the keyword
            ``train_kwarg`` (``train`` by default, the Flax tutorials'
            convention), calls pass ``train=True`` or ``train=False``.
          tx: a gradient transformation.
          rng: an int seed or a PRNG key.
          sample_input: an input batch used only to infer shapes; the module
            is initialized with ``train=False``.
          mutable_collections: collections that training-mode calls update.
          train_kwarg: the keyword that selects training behaviour, or None
            to never pass one.

        Returns:
          A :class:`TrainState` at step 0.

        Raises:
          TypeError: when ``sample_input`` is None or ``rng`` is not a seed
            or key.

        Examples:
          >>> import flax.linen as nn
          >>> import jax.numpy as jnp
          >>> import optjax
          >>> from optjax.training import TrainState
          >>> state = TrainState.from_linen(
          ...     nn.Dense(1), optjax.sgd(0.1), rng=0, sample_input=jnp.ones((4, 2)))
          >>> state.kind, int(state.step), state.params["kernel"].shape
          ('linen', 0, (2, 1))
        """
        if sample_input is None:
            raise TypeError(
                "TrainState.from_linen: sample_input is required (an input batch, used "
                "to infer parameter shapes)."
            )
        key = _as_key(rng, "TrainState.from_linen")
        params_key, dropout_key, train_key = jax.random.split(key, 3)
        if train_kwarg is not None and not _accepts_keyword(module.__call__, train_kwarg):
            train_kwarg = None
        kwargs = {train_kwarg: False} if train_kwarg is not None else {}
        variables = dict(
            module.init({"params": params_key, _DROPOUT: dropout_key}, sample_input, **kwargs)
        )
        if "params" not in variables:
            raise ValueError(
                "TrainState.from_linen: the module created no 'params' collection; "
                f"it created {sorted(variables)}."
            )
        params = variables.pop("params")
        # Only collections that exist after init are mutable, so the state's
        # structure (and the compiled step) is the same at every step.
        mutable = tuple(c for c in mutable_collections if c in variables)
        adapter = _Linen(module=module, train_kwarg=train_kwarg, mutable=mutable)
        return cls._create(params, variables, train_key, tx, adapter)

    @classmethod
    def from_nnx(
        cls,
        model: Any,
        tx: Any,
        *,
        rng: int | jax.Array | None = None,
        wrt: Any = nnx.Param,
    ) -> TrainState:
        """Splits a ``flax.nnx`` module into a pure state and its optimizer state.

        ``nnx.split(model, wrt, ...)`` gives the graph definition (static),
        the trainable variables (:attr:`params`) and everything else
        (:attr:`model_state`: BatchNorm statistics, rng streams, ...). Both
        are stored as plain dicts of arrays, and ``tx.init`` sees the same
        plain arrays that ``tx.update`` will, so labels and masks computed
        from the params agree at init and update. The arrays are copied: the
        train step donates the state, and ``model`` stays usable.

        Args:
          model: an NNX module.
          tx: a gradient transformation.
          rng: an int seed or a PRNG key for the training-time dropout keys;
            None means ``jax.random.key(0)``.
          wrt: the NNX filter selecting the trainable variables.

        Returns:
          A :class:`TrainState` at step 0.

        Examples:
          >>> from flax import nnx
          >>> import optjax
          >>> from optjax.training import TrainState
          >>> state = TrainState.from_nnx(nnx.Linear(2, 1, rngs=nnx.Rngs(0)), optjax.sgd(0.1))
          >>> state.kind, sorted(state.params)
          ('nnx', ['bias', 'kernel'])
        """
        key = _as_key(0 if rng is None else rng, "TrainState.from_nnx")
        if not isinstance(model, nnx.Module):
            raise TypeError(
                f"TrainState.from_nnx: expected a flax.nnx.Module, got {type(model).__name__}."
            )
        graphdef, params, model_state = nnx.split(model, wrt, ...)
        params = _fresh(nnx.to_pure_dict(params))
        model_state = _fresh(nnx.to_pure_dict(model_state))
        return cls._create(params, model_state, key, tx, _Nnx(graphdef=graphdef, wrt=wrt))

    @classmethod
    def _create(cls, params, model_state, key, tx, adapter) -> TrainState:
        opt_state = _unalias(tx.init(params), params)
        return cls(
            step=jnp.zeros((), jnp.int32),
            params=params,
            opt_state=opt_state,
            model_state=model_state,
            rng=key,
            tx=tx,
            adapter=adapter,
        )

    @property
    def kind(self) -> str:
        """``"linen"`` or ``"nnx"``: the Flax API the model was built with."""
        return self.adapter.kind

    def replace(self, **changes: Any) -> TrainState:
        """Returns a copy with the given fields replaced."""
        return dataclasses.replace(self, **changes)

    def step_rng(self) -> jax.Array:
        """Returns the dropout key of the current step, ``fold_in(rng, step)``.

        Folding in the step makes dropout masks differ from step to step while
        a run stays reproducible from its seed (and from a restored state).
        """
        return jax.random.fold_in(self.rng, self.step)

    def apply_model(
        self, params: Any, x: Any, *, train: bool, rng: jax.Array | None = None
    ) -> tuple[Any, Any]:
        """Calls the model on ``x`` with the given params and this state's collections.

        In training mode (``train=True``) mutable collections are updated,
        linen modules get ``rngs={"dropout": rng}`` and NNX modules are set to
        ``model.train()`` with every rng stream they hold reseeded from
        ``rng`` (stream ``i`` gets ``fold_in(rng, i)``, whatever its name);
        ``rng`` defaults to :meth:`step_rng`. In evaluation mode
        (``train=False``) NNX modules are set to ``model.eval()``, no rng is
        used and the collections come back unchanged. Nothing is mutated, so
        this can be differentiated with respect to ``params`` and compiled.

        Args:
          params: the parameters to use (the argument being differentiated).
          x: the model input.
          train: training or evaluation behaviour.
          rng: the dropout key for a training call; ignored when ``train`` is
            False.

        Returns:
          ``(outputs, new_model_state)``.
        """
        if train and rng is None:
            rng = self.step_rng()
        return self.adapter.apply(
            params, self.model_state, x, train=train, rng=rng if train else None
        )

    def apply_gradients(self, grads: Any, **extra_args: Any) -> TrainState:
        """Runs the optimizer on ``grads`` and returns the next state.

        .. math::

            u_t, s_{t+1} = \\mathrm{tx.update}(g_t, s_t, \\theta_t), \\qquad
            \\theta_{t+1} = \\theta_t + u_t

        and the step count increases by one.

        Args:
          grads: gradients with the structure of :attr:`params`.
          **extra_args: passed to ``tx.update`` (``value=loss`` for Polyak
            step sizes, say); transforms that take none ignore them.

        Returns:
          The new :class:`TrainState` (model collections unchanged).

        Examples:
          >>> import jax.numpy as jnp
          >>> from flax import nnx
          >>> import optjax
          >>> from optjax.training import TrainState
          >>> state = TrainState.from_nnx(nnx.Linear(1, 1, rngs=nnx.Rngs(0)), optjax.sgd(0.5))
          >>> grads = {"kernel": jnp.ones((1, 1)), "bias": jnp.ones(1)}
          >>> new = state.apply_gradients(grads)
          >>> int(new.step), new.params["bias"]
          (1, Array([-0.5], dtype=float32))
        """
        tx = with_extra_args_support(self.tx)
        updates, opt_state = tx.update(grads, self.opt_state, self.params, **extra_args)
        return self.replace(
            step=self.step + 1,
            params=apply_updates(self.params, updates),
            opt_state=opt_state,
        )

    def model(self) -> Any:
        """Returns a new NNX module holding copies of this state's params and collections.

        The copies keep the module usable after later train steps donate
        this state's buffers.

        Raises:
          TypeError: for a state built from a linen module (use
            :meth:`variables`).
        """
        if self.kind != "nnx":
            raise TypeError("TrainState.model() needs an NNX state; use variables() for linen.")
        return self.adapter.merge(_fresh(self.params), _fresh(self.model_state))

    def variables(self) -> dict[str, Any]:
        """Returns the linen variables ``{"params": params, **model_state}``.

        Raises:
          TypeError: for a state built from an NNX module (use :meth:`model`).
        """
        if self.kind != "linen":
            raise TypeError("TrainState.variables() needs a linen state; use model() for NNX.")
        return {"params": self.params, **self.model_state}


jax.tree_util.register_dataclass(
    TrainState,
    data_fields=["step", "params", "opt_state", "model_state", "rng"],
    meta_fields=["tx", "adapter"],
)
