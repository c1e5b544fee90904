"""Builds, strips and checks the notebooks in ``notebooks/``.

The notebooks are the source of truth (Colab opens them as they are). This
script only does the chores around them:

    python tools/notebooks.py strip              # drop outputs and execution counts
    python tools/notebooks.py build SRC.py       # percent-format script -> notebooks/NAME.ipynb

``build`` reads a script whose cells are separated by ``# %%`` lines
(``# %% [markdown]`` for text cells, written as ``# `` comment lines), adds the
Colab badge to the first text cell and puts the install cell first among the
code cells, so every notebook starts the same way.
"""

from __future__ import annotations

import pathlib
import sys

import nbformat

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
REPOSITORY = "optjax/optjax"  # owner/name on GitHub: the Colab badge and the install cell use it

INSTALL_CELL = f"""\
# Installs optjax where it is missing (a fresh Colab runtime); does nothing where it is installed.
import importlib.util
import subprocess
import sys

PACKAGES = ["optjax[train] @ git+https://github.com/{REPOSITORY}", "optax"]
if importlib.util.find_spec("optjax") is None:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", *PACKAGES])"""


def badge(name: str) -> str:
    url = f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/{name}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def strip(path: pathlib.Path) -> bool:
    """Removes outputs, execution counts and run metadata; returns whether it changed."""
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)
    after = nbformat.writes(nb)
    if after != before:
        path.write_text(after + ("" if after.endswith("\n") else "\n"))
    return after != before


def _split_cells(source: str) -> list[tuple[str, str]]:
    cells: list[tuple[str, list[str]]] = []
    for line in source.splitlines():
        if line.startswith("# %%"):
            kind = "markdown" if "[markdown]" in line else "code"
            cells.append((kind, []))
        elif cells:
            cells[-1][1].append(line)
    out = []
    for kind, lines in cells:
        if kind == "markdown":
            lines = [ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in lines]
        text = "\n".join(lines).strip("\n")
        if text:
            out.append((kind, text))
    return out


def build(script: pathlib.Path) -> pathlib.Path:
    """Writes ``notebooks/<script stem>.ipynb`` from a percent-format script."""
    name = script.stem + ".ipynb"
    cells = _split_cells(script.read_text())
    if not cells or cells[0][0] != "markdown":
        raise SystemExit(f"{script}: the first cell must be a '# %% [markdown]' title cell")
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
    }
    title = cells[0][1] + "\n\n" + badge(name)
    nb.cells.append(nbformat.v4.new_markdown_cell(title))
    nb.cells.append(nbformat.v4.new_code_cell(INSTALL_CELL))
    for kind, text in cells[1:]:
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        nb.cells.append(make(text))
    for cell in nb.cells:  # stable ids keep diffs small
        cell.pop("id", None)
    nb.nbformat_minor = 4
    path = NOTEBOOKS / name
    nbformat.write(nb, path)
    return path


def main(argv: list[str]) -> int:
    if argv[:1] == ["strip"]:
        changed = [p.name for p in sorted(NOTEBOOKS.glob("*.ipynb")) if strip(p)]
        print("stripped:", ", ".join(changed) if changed else "nothing to strip")
        return 0
    if argv[:1] == ["build"] and len(argv) >= 2:
        for src in argv[1:]:
            print("wrote", build(pathlib.Path(src)))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
