"""Run Optax's own unit tests with optjax's functions in place of Optax's.

Usage::

    .venv/bin/python tools/optax_suite.py                      # every *_test.py
    .venv/bin/python tools/optax_suite.py --files _src/alias_test.py schedules
    .venv/bin/python tools/optax_suite.py -n 2 -k adam         # extra args go to pytest

The tool runs pytest on the ``*_test.py`` files of the installed Optax package,
with this module loaded as a pytest plugin (``-p optax_suite``). Before any test
module is collected, the plugin:

1. imports every non-test module of Optax;
2. for each public Optax module (``optax``, ``optax.contrib``,
   ``optax.transforms``...) and each public name that optjax defines at the same
   path, replaces Optax's object with optjax's;
3. in every loaded ``optax.*`` module, replaces any attribute that *is* one of
   those public Optax objects, so ``from optax._src import alias; alias.adam``
   reaches optjax's ``adam`` too.

Test helpers (``optax._src.test_utils``, chex) and Optax's private names stay
Optax's. The tool prints the pass rate per test file, then the failures
grouped by file. It is a development tool, not part of ``make test``.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import os
import pathlib
import pkgutil
import subprocess
import sys
import tempfile
import types
import xml.etree.ElementTree as ET

# Optax's public module paths; optjax mirrors each one at the same path.
PUBLIC_MODULES = (
    "",
    ".assignment",
    ".contrib",
    ".experimental.aggregating",
    ".losses",
    ".microbatching",
    ".perturbations",
    ".projections",
    ".schedules",
    ".second_order",
    ".transforms",
    ".tree",
    ".tree_utils",
)

# Names under ``optax._src`` (or private modules) that are test helpers, never
# substituted even when they happen to be public objects.
_HELPER_MODULES = ("optax._src.test_utils",)

_SUMMARY_ENV = "OPTAX_SUITE_SUMMARY"


def _import_or_none(name: str) -> types.ModuleType | None:
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a missing optional module just is not mirrored
        return None


def _import_all_optax_modules() -> None:
    """Import Optax's non-test modules, so that step 3 sees every alias of a public object."""
    import optax

    for info in pkgutil.walk_packages(optax.__path__, prefix="optax."):
        if info.name.endswith("_test") or info.name.startswith(_HELPER_MODULES):
            continue
        _import_or_none(info.name)


def _public_names(module: types.ModuleType) -> list[str]:
    """``__all__`` and every other name without a leading underscore.

    Optax's ``__all__`` lists are incomplete (``optax.MaskedNode``,
    ``optax.named_chain``... are missing), so both are taken.
    """
    names = list(getattr(module, "__all__", ()))
    names += [n for n in vars(module) if not n.startswith("_") and n not in names]
    return names


def substitute() -> dict[str, list[str]]:
    """Put optjax's objects in place of Optax's; return the names replaced per module."""
    _import_all_optax_modules()
    replaced: dict[str, list[str]] = {}
    by_id: dict[int, object] = {}
    originals: list[object] = []  # keep Optax's objects alive so their ids stay unique
    for suffix in PUBLIC_MODULES:
        theirs = _import_or_none("optax" + suffix)
        ours = _import_or_none("optjax" + suffix)
        if theirs is None or ours is None:
            continue
        names = []
        for name in _public_names(theirs):
            if not hasattr(theirs, name) or not hasattr(ours, name):
                continue
            old, new = getattr(theirs, name), getattr(ours, name)
            if isinstance(old, types.ModuleType) or old is new:
                continue
            originals.append(old)
            by_id.setdefault(id(old), new)
            setattr(theirs, name, new)
            names.append(name)
        replaced["optax" + suffix] = names
    for modname, module in list(sys.modules.items()):
        if not (modname == "optax" or modname.startswith("optax.")):
            continue
        if module is None or modname.endswith("_test") or modname.startswith(_HELPER_MODULES):
            continue
        for attr, value in list(vars(module).items()):
            new = by_id.get(id(value))
            if new is not None and not isinstance(value, types.ModuleType):
                setattr(module, attr, new)
    substitute.originals = originals  # type: ignore[attr-defined]
    return replaced


# ----------------------------------------------------------------------------- plugin hooks


def pytest_configure(config) -> None:  # noqa: ARG001 - pytest hook signature
    replaced = substitute()
    path = os.environ.get(_SUMMARY_ENV)
    if path and not os.environ.get("PYTEST_XDIST_WORKER"):
        with open(path, "w") as f:
            for module, names in replaced.items():
                f.write(f"{module}\t{len(names)}\t{' '.join(sorted(names))}\n")


# ----------------------------------------------------------------------------- the runner


def _optax_dir() -> pathlib.Path:
    spec = importlib.util.find_spec("optax")
    if spec is None or spec.origin is None:
        raise SystemExit("optax is not installed in this Python")
    return pathlib.Path(spec.origin).parent


def _select_files(root: pathlib.Path, patterns: list[str] | None) -> list[pathlib.Path]:
    every = sorted(root.rglob("*_test.py"))
    if not patterns:
        return every
    chosen = []
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        hits = [f for f in every if str(f.relative_to(root)).startswith(pattern)]
        if not hits:
            valid = ", ".join(str(f.relative_to(root)) for f in every[:5])
            raise SystemExit(f"--files {pattern!r} matches no Optax test file (e.g. {valid}, ...)")
        chosen.extend(h for h in hits if h not in chosen)
    return chosen


def _parse_junit(path: pathlib.Path) -> dict[str, dict[str, list[str]]]:
    """Per test file: the passed, failed and skipped test ids."""
    results: dict[str, dict[str, list[str]]] = collections.defaultdict(
        lambda: {"passed": [], "failed": [], "skipped": []}
    )
    messages: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        classname = case.get("classname", "")
        name = case.get("name", "")
        # classname is the dotted module path plus the class, e.g. optax._src.alias_test.Cls
        # (the ``file`` attribute may name absl's file for a skipped parameterized test).
        # A module that fails to import is reported with its dotted path as the name.
        parts = (classname or name).split(".")
        while parts and not parts[-1].endswith("_test"):
            parts.pop()
        if parts:
            file = "/".join(parts[1:]) + ".py"
        else:
            file = str(pathlib.Path(case.get("file") or classname)).removeprefix("optax/")
        test_id = f"{classname.split('.')[-1]}::{name}"
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        if failure is not None:
            results[file]["failed"].append(test_id)
            message = (failure.get("message") or "").strip().splitlines()
            messages[f"{file}::{test_id}"] = message[0][:200] if message else ""
        elif case.find("skipped") is not None:
            results[file]["skipped"].append(test_id)
        else:
            results[file]["passed"].append(test_id)
    for file, by_kind in results.items():
        by_kind["messages"] = [messages.get(f"{file}::{t}", "") for t in by_kind["failed"]]
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--files",
        nargs="+",
        help="Optax test files or folders relative to the optax package (e.g. _src/alias_test.py)",
    )
    parser.add_argument("-n", "--workers", default="0", help="pytest-xdist workers (0: serial)")
    parser.add_argument("--names", action="store_true", help="also list the substituted names")
    args, pytest_args = parser.parse_known_args(argv)

    root = _optax_dir()
    files = _select_files(root, args.files)
    with tempfile.TemporaryDirectory(prefix="optax_suite_") as tmp:
        tmp_path = pathlib.Path(tmp)
        ini = tmp_path / "pytest.ini"
        # An empty configuration: optjax's own (warnings as errors, doctests) must not apply.
        ini.write_text("[pytest]\n")
        junit = tmp_path / "junit.xml"
        summary = tmp_path / "substituted.tsv"
        env = dict(os.environ)
        tools_dir = str(pathlib.Path(__file__).resolve().parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [tools_dir, env.get("PYTHONPATH")]))
        env[_SUMMARY_ENV] = str(summary)
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(ini),
            "--rootdir",
            str(root.parent),
            "-p",
            "optax_suite",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-q",
            "--tb=no",
            "--no-header",
            f"--junitxml={junit}",
            "-o",
            "junit_family=xunit1",
        ]
        if args.workers != "0":
            command += ["-n", args.workers]
        else:
            command += ["-p", "no:xdist"]
        command += pytest_args + [str(f) for f in files]
        proc = subprocess.run(command, env=env, cwd=tmp, capture_output=True, text=True)
        if not junit.exists():
            sys.stdout.write(proc.stdout[-5000:])
            sys.stderr.write(proc.stderr[-5000:])
            return proc.returncode or 1
        results = _parse_junit(junit)
        substituted = summary.read_text().splitlines() if summary.exists() else []

    print("Substituted optjax names per Optax module:")
    for line in substituted:
        module, count, names = (line.split("\t") + ["", ""])[:3]
        print(f"  {module:32s} {count:>4s}")
        if args.names and names:
            print("    " + names)
    print()
    print(f"{'file':48s} {'passed':>7s} {'failed':>7s} {'skipped':>8s} {'rate':>7s}")
    totals = collections.Counter()
    for file in sorted(results):
        r = results[file]
        p, f, s = len(r["passed"]), len(r["failed"]), len(r["skipped"])
        totals.update(passed=p, failed=f, skipped=s)
        rate = 100.0 * p / (p + f) if p + f else 100.0
        print(f"{file:48s} {p:7d} {f:7d} {s:8d} {rate:6.1f}%")
    p, f = totals["passed"], totals["failed"]
    rate = 100.0 * p / (p + f) if p + f else 100.0
    print(f"{'TOTAL':48s} {p:7d} {f:7d} {totals['skipped']:8d} {rate:6.1f}%")
    failing = [file for file in sorted(results) if results[file]["failed"]]
    if failing:
        print("\nFailures by file:")
        for file in failing:
            print(f"\n{file}")
            for test_id, message in zip(results[file]["failed"], results[file]["messages"]):
                print(f"  {test_id}\n      {message}")
    return 0 if not f else 1


if __name__ == "__main__":
    sys.exit(main())
