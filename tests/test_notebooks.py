"""The notebooks in ``notebooks/``: each one runs top to bottom, as Colab would run it.

Every notebook is executed in a fresh Python kernel (``nbclient``) and any
error fails the test. The cheap checks (outputs stripped, Colab badge, install
cell, README link) run in ``make test-fast`` too.
"""

import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
EXPECTED = [
    "01_quickstart",
    "02_composing_chains",
    "03_schedules",
    "04_regularization",
    "05_lr_find_and_sweeps",
    "06_optimizer_zoo",
    "07_scaling",
    "08_benchmark_on_accelerator",
]
PRESENT = sorted(p.stem for p in NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 600


def _load(name):
    return json.loads((NOTEBOOK_DIR / f"{name}.ipynb").read_text())


def _source(cell):
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def test_every_notebook_of_the_issue_is_present():
    assert PRESENT == EXPECTED


@pytest.mark.parametrize("name", PRESENT)
def test_outputs_are_stripped(name):
    for i, cell in enumerate(_load(name)["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], (
                f"{name}.ipynb cell {i} has outputs: run tools/notebooks.py strip"
            )
            assert cell["execution_count"] is None, f"{name}.ipynb cell {i} has an execution count"


@pytest.mark.parametrize("name", PRESENT)
def test_opens_with_badge_then_install_cell(name):
    cells = _load(name)["cells"]
    assert cells[0]["cell_type"] == "markdown"
    assert "colab.research.google.com/github/" in _source(cells[0])
    assert f"notebooks/{name}.ipynb" in _source(cells[0])
    first_code = next(c for c in cells if c["cell_type"] == "code")
    install = _source(first_code)
    assert 'find_spec("optjax") is None' in install and "pip" in install


@pytest.mark.parametrize("name", PRESENT)
def test_linked_from_readme(name):
    assert f"notebooks/{name}.ipynb" in (ROOT / "README.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("name", PRESENT)
def test_runs_top_to_bottom(name, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # files a notebook writes land here
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error
