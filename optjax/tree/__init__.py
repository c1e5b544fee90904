"""Pytree math and state access: Optax's ``optax.tree``, at the same path.

Leafwise arithmetic (``add``, ``scale``, ``where``...), reductions (``sum``,
``norm``, ``vdot``...), construction (``zeros_like``, ``batch_shape``...),
casting, random trees, moment updates, and search-and-replace in optimizer
states (``get``, ``set``, ``map_params``). ``l2_norm``, ``abs_sq`` and
``safe_increment`` are optjax's own additions.

Examples:
  >>> import jax.numpy as jnp
  >>> import optjax
  >>> optjax.tree.l2_norm({"a": jnp.array([3.0]), "b": jnp.array([4.0])})
  Array(5., dtype=float32)
"""

from optjax.tree._access import get as get
from optjax.tree._access import get_all_with_path as get_all_with_path
from optjax.tree._access import set as set  # noqa: A004
from optjax.tree._arithmetic import add as add
from optjax.tree._arithmetic import add_scale as add_scale
from optjax.tree._arithmetic import clip as clip
from optjax.tree._arithmetic import conj as conj
from optjax.tree._arithmetic import div as div
from optjax.tree._arithmetic import mul as mul
from optjax.tree._arithmetic import real as real
from optjax.tree._arithmetic import scale as scale
from optjax.tree._arithmetic import sub as sub
from optjax.tree._arithmetic import where as where
from optjax.tree._casting import cast as cast
from optjax.tree._casting import cast_like as cast_like
from optjax.tree._casting import dtype as dtype
from optjax.tree._construction import batch_shape as batch_shape
from optjax.tree._construction import full_like as full_like
from optjax.tree._construction import ones_like as ones_like
from optjax.tree._construction import zeros_like as zeros_like
from optjax.tree._map_params import map_params as map_params
from optjax.tree._math import abs_sq as abs_sq
from optjax.tree._math import l2_norm as l2_norm
from optjax.tree._math import safe_increment as safe_increment
from optjax.tree._moments import bias_correction as bias_correction
from optjax.tree._moments import update_infinity_moment as update_infinity_moment
from optjax.tree._moments import update_moment as update_moment
from optjax.tree._moments import update_moment_per_elem_norm as update_moment_per_elem_norm
from optjax.tree._random import random_like as random_like
from optjax.tree._random import split_key_like as split_key_like
from optjax.tree._random import unwrap_random_key_data as unwrap_random_key_data
from optjax.tree._reductions import allclose as allclose
from optjax.tree._reductions import max as max  # noqa: A004
from optjax.tree._reductions import min as min  # noqa: A004
from optjax.tree._reductions import norm as norm
from optjax.tree._reductions import size as size
from optjax.tree._reductions import sum as sum  # noqa: A004
from optjax.tree._reductions import vdot as vdot

__all__ = [
    "abs_sq",
    "add",
    "add_scale",
    "allclose",
    "batch_shape",
    "bias_correction",
    "cast",
    "cast_like",
    "clip",
    "conj",
    "div",
    "dtype",
    "full_like",
    "get",
    "get_all_with_path",
    "l2_norm",
    "map_params",
    "max",
    "min",
    "mul",
    "norm",
    "ones_like",
    "random_like",
    "real",
    "safe_increment",
    "scale",
    "set",
    "size",
    "split_key_like",
    "sub",
    "sum",
    "unwrap_random_key_data",
    "update_infinity_moment",
    "update_moment",
    "update_moment_per_elem_norm",
    "vdot",
    "where",
    "zeros_like",
]
