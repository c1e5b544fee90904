"""All of Optax 0.2.8's public surface, at Optax's own import paths.

``import optjax as optax`` must keep every line of an Optax user's code working.
These tests walk Optax's public subpackages and check, for every public name:

* it exists in optjax at the same path;
* where Optax exposes one object under several paths (``optax.tree_utils.tree_add``
  is ``optax.tree.add``, ``optax.transforms.chain`` is ``optax.chain``), optjax's
  paths hold one object too, so ``isinstance`` checks and identity keep working;
* functions take the same arguments, in the same order, with the same kinds and
  defaults (optjax-only extras are keyword-only);
* state NamedTuples have the same fields, and enums the same members.
"""

import enum
import importlib
import inspect
import warnings

import optax
import pytest

import optjax

# Optax's public modules, by dotted path under the package.
MODULES = [
    "",
    "assignment",
    "contrib",
    "experimental",
    "experimental.aggregating",
    "losses",
    "microbatching",
    "perturbations",
    "projections",
    "schedules",
    "second_order",
    "transforms",
    "tree",
    "tree_utils",
]


def _module(package, path):
    """``package.path``, walking attributes where a submodule is not importable by
    name (``optax.experimental.aggregating`` is an attribute alias)."""
    module = importlib.import_module(package)
    for part in path.split(".") if path else ():
        try:
            module = importlib.import_module(f"{module.__name__}.{part}")
        except ImportError:
            module = getattr(module, part)
    return module


def _public(module):
    """``__all__`` and every other public attribute (Optax's ``__all__`` is partial),
    less what a module merely imports (``jnp``, ``typing.Any``...)."""
    listed = set(getattr(module, "__all__", ()))
    names = []
    for name in listed | set(dir(module)):
        if name.startswith("_"):
            continue
        obj = _quiet_getattr(module, name)
        if name not in listed and _imported(obj, module):
            continue
        names.append(name)
    return sorted(names)


def _imported(obj, module):
    if inspect.ismodule(obj):
        return not obj.__name__.startswith(module.__name__ + ".")
    origin = getattr(obj, "__module__", None)
    return origin is not None and not origin.startswith("optax")


def _quiet_getattr(module, name, default=None):
    # Optax's deprecated top-level aliases (optax.dpsgd...) warn on access.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(module, name, default)


_REMOVED = object()


def _entries():
    for path in MODULES:
        theirs = _module("optax", path)
        for name in _public(theirs):
            obj = _quiet_getattr(theirs, name, _REMOVED)
            if obj is not _REMOVED:  # names Optax lists but has removed (monte_carlo)
                yield path, name, obj


ENTRIES = list(_entries())
IDS = [f"{path or 'optax'}.{name}" for path, name, _ in ENTRIES]


def _ours(path, name):
    module = _module("optjax", path)
    assert hasattr(module, name), f"optjax{'.' + path if path else ''} has no {name!r}"
    return getattr(module, name)


def test_every_optax_name_is_at_the_same_path():
    missing = []
    for path in MODULES:
        try:
            ours = _module("optjax", path)
        except ImportError:
            missing.append(f"optjax.{path} (module)")
            continue
        missing += [
            f"optjax{'.' + path if path else ''}.{n}"
            for n in _public(_module("optax", path))
            if not hasattr(ours, n)
        ]
    assert not missing, f"{len(missing)} Optax names missing: {missing}"


def test_one_object_wherever_optax_has_one_object():
    """Aliases across paths are the same object in optjax as they are in Optax."""
    by_identity = {}
    for path, name, obj in ENTRIES:
        if inspect.ismodule(obj) or isinstance(obj, (int, float, str, tuple)) or obj is None:
            continue
        by_identity.setdefault(id(obj), []).append((path, name))
    differing = []
    for locations in by_identity.values():
        if len(locations) < 2:
            continue
        objects = {id(_ours(path, name)) for path, name in locations}
        if len(objects) > 1:
            differing.append(locations)
    assert not differing, differing


def _parameters(fn):
    try:
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]
    except (TypeError, ValueError):
        return None


def _same_default(ours, theirs):
    if ours is inspect.Parameter.empty or theirs is inspect.Parameter.empty:
        return ours is theirs
    if callable(theirs):
        # A default function or dtype is a library-specific object.
        return callable(ours)
    if hasattr(theirs, "init") and hasattr(theirs, "update"):
        # A default transform (lbfgs's line search) is a fresh object.
        return hasattr(ours, "init") and hasattr(ours, "update")
    if type(theirs).__module__.startswith("optax"):
        # A default instance of a library class (perturbations' Gumbel noise).
        return type(ours).__name__ == type(theirs).__name__
    try:
        return bool(ours == theirs)
    except Exception:  # objects without a plain ==, such as arrays
        return type(ours) is type(theirs)


CALLABLES = [
    (path, name)
    for path, name, obj in ENTRIES
    if inspect.isfunction(obj)
    or (
        inspect.isclass(obj)
        and not issubclass(obj, (tuple, enum.Enum))
        and not getattr(obj, "_is_protocol", False)
    )
]


@pytest.mark.parametrize("path, name", CALLABLES, ids=[f"{p or 'optax'}.{n}" for p, n in CALLABLES])
def test_signature_matches_optax(path, name):
    """Same argument names, order, kinds and defaults; optjax's extras are keyword-only."""
    theirs = _parameters(_quiet_getattr(_module("optax", path), name))
    ours = _parameters(_ours(path, name))
    if theirs is None:
        return
    assert ours is not None, f"{name}: no inspectable signature"
    their_names = [t[0] for t in theirs]
    shared = [p for p in ours if p[0] in set(their_names)]
    assert [p[0] for p in shared] == their_names, f"{name}: {[p[0] for p in ours]}"
    for (p_name, p_kind, p_default), (_, t_kind, t_default) in zip(shared, theirs):
        assert p_kind == t_kind, f"{name}({p_name}): kind {p_kind} vs Optax {t_kind}"
        assert _same_default(p_default, t_default), (
            f"{name}({p_name}): default {p_default!r} vs Optax {t_default!r}"
        )
    extras = [p for p in ours if p[0] not in set(their_names)]
    assert all(
        kind is inspect.Parameter.KEYWORD_ONLY
        or (
            kind is inspect.Parameter.VAR_KEYWORD
            and any(t[1] is inspect.Parameter.VAR_KEYWORD for t in theirs)
        )
        for _, kind, _ in extras
    ), f"{name}: extra arguments must be keyword-only: {extras}"


STATES = [
    (path, name)
    for path, name, obj in ENTRIES
    if inspect.isclass(obj) and issubclass(obj, tuple) and hasattr(obj, "_fields")
]


@pytest.mark.parametrize("path, name", STATES, ids=[f"{p or 'optax'}.{n}" for p, n in STATES])
def test_state_fields_match_optax(path, name):
    theirs = _quiet_getattr(_module("optax", path), name)
    assert _ours(path, name)._fields == theirs._fields, name


ENUMS = [
    (path, name)
    for path, name, obj in ENTRIES
    if inspect.isclass(obj) and issubclass(obj, enum.Enum)
]


@pytest.mark.parametrize("path, name", ENUMS, ids=[f"{p or 'optax'}.{n}" for p, n in ENUMS])
def test_enum_members_match_optax(path, name):
    theirs = _quiet_getattr(_module("optax", path), name)
    assert [m.name for m in _ours(path, name)] == [m.name for m in theirs], name


def test_optjax_is_a_superset_at_the_top_level():
    """Every top-level optjax name is in ``__all__`` and importable."""
    assert all(hasattr(optjax, n) for n in optjax.__all__)
    assert set(_public(optax)) <= set(optjax.__all__)
