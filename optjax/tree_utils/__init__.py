"""Optax's older ``optax.tree_utils`` names, each the same object as in :mod:`optjax.tree`.

``optjax.tree_utils.tree_add is optjax.tree.add``, and so on; only
:class:`NamedTupleKey` lives here alone. The names Optax deprecated
(``tree_scalar_mul``, ``tree_add_scalar_mul``, ``tree_l1_norm``,
``tree_l2_norm``, ``tree_linf_norm``) still resolve, with a
``DeprecationWarning`` that names the replacement.

Examples:
  >>> import jax.numpy as jnp
  >>> import optjax
  >>> optjax.tree_utils.tree_add is optjax.tree.add
  True
  >>> print(optjax.tree_utils.tree_norm({"a": jnp.array([3.0, 4.0])}))
  5.0
"""

import functools as _functools
import warnings as _warnings

from optjax.tree._access import NamedTupleKey as NamedTupleKey
from optjax.tree._access import get as tree_get
from optjax.tree._access import get_all_with_path as tree_get_all_with_path
from optjax.tree._access import set as tree_set
from optjax.tree._arithmetic import add as tree_add
from optjax.tree._arithmetic import add_scale as tree_add_scale
from optjax.tree._arithmetic import clip as tree_clip
from optjax.tree._arithmetic import conj as tree_conj
from optjax.tree._arithmetic import div as tree_div
from optjax.tree._arithmetic import mul as tree_mul
from optjax.tree._arithmetic import real as tree_real
from optjax.tree._arithmetic import scale as tree_scale
from optjax.tree._arithmetic import sub as tree_sub
from optjax.tree._arithmetic import where as tree_where
from optjax.tree._casting import cast as tree_cast
from optjax.tree._casting import cast_like as tree_cast_like
from optjax.tree._casting import dtype as tree_dtype
from optjax.tree._construction import batch_shape as tree_batch_shape
from optjax.tree._construction import full_like as tree_full_like
from optjax.tree._construction import ones_like as tree_ones_like
from optjax.tree._construction import zeros_like as tree_zeros_like
from optjax.tree._map_params import map_params as tree_map_params
from optjax.tree._moments import bias_correction as tree_bias_correction
from optjax.tree._moments import update_infinity_moment as tree_update_infinity_moment
from optjax.tree._moments import update_moment as tree_update_moment
from optjax.tree._moments import update_moment_per_elem_norm as tree_update_moment_per_elem_norm
from optjax.tree._random import random_like as tree_random_like
from optjax.tree._random import split_key_like as tree_split_key_like
from optjax.tree._random import unwrap_random_key_data as tree_unwrap_random_key_data
from optjax.tree._reductions import allclose as tree_allclose
from optjax.tree._reductions import max as tree_max
from optjax.tree._reductions import min as tree_min
from optjax.tree._reductions import norm as tree_norm
from optjax.tree._reductions import size as tree_size
from optjax.tree._reductions import sum as tree_sum
from optjax.tree._reductions import vdot as tree_vdot

__all__ = [
    "NamedTupleKey",
    "tree_add",
    "tree_add_scale",
    "tree_allclose",
    "tree_batch_shape",
    "tree_bias_correction",
    "tree_cast",
    "tree_cast_like",
    "tree_clip",
    "tree_conj",
    "tree_div",
    "tree_dtype",
    "tree_full_like",
    "tree_get",
    "tree_get_all_with_path",
    "tree_map_params",
    "tree_max",
    "tree_min",
    "tree_mul",
    "tree_norm",
    "tree_ones_like",
    "tree_random_like",
    "tree_real",
    "tree_scale",
    "tree_set",
    "tree_size",
    "tree_split_key_like",
    "tree_sub",
    "tree_sum",
    "tree_unwrap_random_key_data",
    "tree_update_infinity_moment",
    "tree_update_moment",
    "tree_update_moment_per_elem_norm",
    "tree_vdot",
    "tree_where",
    "tree_zeros_like",
]

# Deprecated in Optax 0.2.5: name -> (replacement to mention, the object).
_DEPRECATED = {
    "tree_scalar_mul": ("optjax.tree.scale", tree_scale),
    "tree_add_scalar_mul": ("optjax.tree.add_scale", tree_add_scale),
    "tree_l1_norm": ("optjax.tree.norm(..., ord=1)", _functools.partial(tree_norm, ord=1)),
    "tree_l2_norm": ("optjax.tree.norm", _functools.partial(tree_norm, ord=2)),
    "tree_linf_norm": (
        "optjax.tree.norm(..., ord='inf')",
        _functools.partial(tree_norm, ord="inf"),
    ),
}


def __getattr__(name: str):
    if name in _DEPRECATED:
        replacement, value = _DEPRECATED[name]
        _warnings.warn(
            f"optjax.tree_utils.{name} is deprecated (as in Optax 0.2.5); use {replacement}.",
            DeprecationWarning,
            stacklevel=2,
        )
        return value
    raise AttributeError(f"module 'optjax.tree_utils' has no attribute {name!r}")
