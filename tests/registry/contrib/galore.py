"""Registry entries for GaLore (``galore``/``scale_by_galore``) against ``optax.contrib``.

Optax's GaLore cannot take a tree with ``None`` leaves (the harness tree has
two), so the reference runs on the list of the tree's leaves and hands the
updates back in the tree's structure. The first setting runs optjax on the
tree itself (updates and parameters compared; the states' layouts differ, a
list against a dict); the others wrap both libraries the same way, so every
state leaf (projectors and Adam moments) is compared too. ``None`` leaves in
optjax are covered in ``tests/contrib/test_galore.py``.
"""

import dataclasses

import jax

from registry import Case, settings


def _on_leaves(lib, tx):
    """``tx`` run on the list of the tree's leaves (no ``None`` subtrees)."""

    def init(params):
        return tx.init(jax.tree.leaves(params))

    def update(updates, state, params=None, **extra_args):
        del extra_args
        treedef = jax.tree.structure(updates)
        leaf_params = None if params is None else jax.tree.leaves(params)
        new, state = tx.update(jax.tree.leaves(updates), state, leaf_params)
        return jax.tree.unflatten(treedef, new), state

    return lib.GradientTransformationExtraArgs(init, update)


def _dims_with_conv(lib):
    """2-d leaves as they are, the 4-d HWIO leaf as an (H*W*I, O) matrix."""
    dims = lib.contrib.GaLoreDimensionNumbers

    def spec(params):
        def one(x):
            if x.ndim == 2:
                return dims()
            if x.ndim == 4:
                return dims(reduction_axis=(0, 1, 2), output_axis=-1)
            return None

        return jax.tree.map(one, params)

    return spec


def _matrices(params):
    return jax.tree.map(lambda x: x.ndim >= 2, params)


def _default(lib):
    return lib.contrib.galore(0.05, rank=2, update_proj_gap=7)


CASES = [
    Case(
        name="galore/rank=2,gap=7",
        make=_default,
        reference=lambda optax: _on_leaves(optax, _default(optax)),
        compare_state=False,
        note="Optax's galore rejects None leaves: its reference runs on the leaf list.",
    ),
    *settings(
        "galore_leaves",
        {
            "weight_decay,mask,scale,adam_base": lambda lib: _on_leaves(
                lib,
                lib.contrib.galore(
                    0.05,
                    rank=1,
                    update_proj_gap=5,
                    scale=0.5,
                    base_optimizer=lib.scale_by_adam(b1=0.8, b2=0.99),
                    weight_decay=0.1,
                    mask=_matrices,
                ),
            ),
            "conv_dims,rank_clipped": lambda lib: _on_leaves(
                lib,
                lib.contrib.galore(
                    0.05, rank=9, update_proj_gap=4, weight_dimension_numbers=_dims_with_conv(lib)
                ),
            ),
            "scale_by_galore,sgd_base": lambda lib: _on_leaves(
                lib,
                lib.chain(
                    lib.contrib.scale_by_galore(
                        rank=1, update_proj_gap=1, base_optimizer=lib.sgd(1.0, momentum=0.5)
                    ),
                    lib.scale(-0.05),
                ),
            ),
        },
    ),
]
# The wrapped settings are extra hyperparameters of the same transform, not a
# second primary entry: only the first galore case runs bfloat16/float64 and
# the contract tests.
CASES[1:] = [dataclasses.replace(c, first_setting=False) for c in CASES[1:]]
