"""One registry of optjax transforms beside their references.

Every entry feeds the golden-trajectory parity tests (``test_parity.py``) and
the contract tests (``test_contract.py``); aliases also feed the convergence
tests. Entries live in one module per family; this package collects them.

An entry's ``make(lib)`` is called once with ``optjax`` and once with
``optax`` (or with ``reference`` when given), so both libraries get exactly the
same arguments.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass(frozen=True)
class Case:
    """One transform and hyperparameter setting to compare against a reference.

    Attributes:
      name: pytest id, e.g. ``"adam/b1=0.5"``.
      make: ``make(lib) -> transform``, called with ``optjax`` and ``optax``.
      reference: ``reference(optax) -> transform`` when the reference is not
        ``make(optax)`` (optjax-only transforms, renamed arguments). ``None``
        means ``make(optax)``.
      rtol, atol: float32 tolerances (the default is the issue's rtol 1e-5).
      low_precision_rtol: bfloat16 tolerance relative to the trajectory scale.
      float64_rtol: float64 tolerance when it cannot be float64-tight (``note``
        says why); ``None`` uses the float64 default.
      needs_value: pass ``value=loss`` to the reference too (Polyak step).
      compare_state: compare every state leaf (False when the reference's
        state has a different layout; ``note`` says why).
      optimizer: this is a full optimizer alias (runs the convergence tests).
      convergence_lr: learning-rate override for the convergence tests.
      note: why a tolerance or a flag differs from the default.
    """

    name: str
    make: Callable[[Any], Any]
    reference: Callable[[Any], Any] | None = None
    rtol: float = 1e-5
    atol: float = 1e-6
    low_precision_rtol: float = 5e-2
    float64_rtol: float | None = None
    needs_value: bool = False
    compare_state: bool = True
    optimizer: bool = False
    convergence: Callable[[Any], Any] | None = None
    note: str = ""
    first_setting: bool = True


def settings(name: str, variants: dict[str, Callable[[Any], Any]], **options: Any) -> list[Case]:
    """Cases for one transform under several hyperparameter settings.

    The first setting also runs in bfloat16 and float64 and the contract tests.
    """
    cases = []
    for index, (label, make) in enumerate(variants.items()):
        cases.append(Case(name=f"{name}/{label}", make=make, first_setting=index == 0, **options))
    return cases


def _collect() -> list[Case]:
    """Every ``CASES`` list in the registry's modules, in a stable (sorted) order.

    The registry mirrors the package: ``registry/transforms/``,
    ``registry/contrib/``... A new module is picked up without being listed here.
    """
    import importlib
    import pkgutil

    import registry

    cases: list[Case] = []
    for info in sorted(
        pkgutil.walk_packages(registry.__path__, prefix="registry."), key=lambda i: i.name
    ):
        module = importlib.import_module(info.name)
        cases.extend(getattr(module, "CASES", []))
    names = [c.name for c in cases]
    duplicates = {n for n in names if names.count(n) > 1}
    assert not duplicates, f"duplicate registry names: {sorted(duplicates)}"
    return cases


ALL_CASES: list[Case] = _collect()
PRIMARY_CASES: list[Case] = [c for c in ALL_CASES if c.first_setting]
OPTIMIZER_CASES: list[Case] = [c for c in ALL_CASES if c.optimizer and c.first_setting]
