"""Tree math used by every optjax optimizer, for use in your own transforms.

Examples:
  >>> import jax.numpy as jnp
  >>> import optjax
  >>> optjax.tree.l2_norm({"a": jnp.array([3.0]), "b": jnp.array([4.0])})
  Array(5., dtype=float32)
"""

from optjax.tree._math import abs_sq as abs_sq
from optjax.tree._math import add as add
from optjax.tree._math import add_scale as add_scale
from optjax.tree._math import bias_correction as bias_correction
from optjax.tree._math import cast as cast
from optjax.tree._math import full_like as full_like
from optjax.tree._math import l2_norm as l2_norm
from optjax.tree._math import mul as mul
from optjax.tree._math import ones_like as ones_like
from optjax.tree._math import safe_increment as safe_increment
from optjax.tree._math import scale as scale
from optjax.tree._math import size as size
from optjax.tree._math import sub as sub
from optjax.tree._math import sum as sum  # noqa: A004
from optjax.tree._math import update_infinity_moment as update_infinity_moment
from optjax.tree._math import update_moment as update_moment
from optjax.tree._math import update_moment_per_elem_norm as update_moment_per_elem_norm
from optjax.tree._math import vdot as vdot
from optjax.tree._math import where as where
from optjax.tree._math import zeros_like as zeros_like

__all__ = [
    "abs_sq",
    "add",
    "add_scale",
    "bias_correction",
    "cast",
    "full_like",
    "l2_norm",
    "mul",
    "ones_like",
    "safe_increment",
    "scale",
    "size",
    "sub",
    "sum",
    "update_infinity_moment",
    "update_moment",
    "update_moment_per_elem_norm",
    "vdot",
    "where",
    "zeros_like",
]
