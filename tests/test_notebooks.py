"""The notebooks are stored with the outputs of a clean full-size run of their current code.

tools/execute_notebooks.py runs them and records the SHA-256 of the code cells in each
notebook's metadata; these tests fail when a code cell changed since (run the tool again), when
the outputs are not those of one in-order run from a fresh kernel, or when they came from the
test suite's small sizes. That the notebooks still run is checked by the site build
(tests/test_site.py), which executes every one of them.
"""

import copy
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
FIX = "run `python tools/execute_notebooks.py {}` and commit the result"

spec = importlib.util.spec_from_file_location("execute_notebooks", ROOT / "tools" / "execute_notebooks.py")
execute_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(execute_notebooks)


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == ["01_quickstart.ipynb", "02_placement_and_routing.ipynb",
                                           "03_chip_in_the_loop.ipynb", "04_adex_firing_patterns.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_come_from_the_current_code(path):
    notebook = load(path)
    meta = notebook["metadata"].get("hxgraph")
    fix = FIX.format(path.relative_to(ROOT))
    assert meta, f"{path.name} has no record of the run its outputs come from: {fix}"
    assert meta["code_sha256"] == execute_notebooks.code_hash(notebook), \
        f"{path.name}: the code changed since its outputs were made: {fix}"
    assert meta["quick"] is False, f"{path.name} is stored with the test suite's small sizes: {fix}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_are_one_clean_run(path):
    code = [c for c in load(path)["cells"] if c["cell_type"] == "code"]
    fix = FIX.format(path.relative_to(ROOT))
    # A fresh kernel numbers the cells 1, 2, 3, ...: a re-run cell or a skipped one breaks the sequence.
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), \
        f"{path.name} was not run top to bottom in one kernel: {fix}"
    outputs = [o for c in code for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"], f"{path.name} stores an error"
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name} stores no figure"


def test_the_hash_sees_code_changes_only():
    notebook = load(NOTEBOOKS[0])
    changed = copy.deepcopy(notebook)
    code = next(c for c in changed["cells"] if c["cell_type"] == "code")
    code["source"] = ["# edited\n"] + list(code["source"])
    assert execute_notebooks.code_hash(changed) != execute_notebooks.code_hash(notebook)
    prose = copy.deepcopy(notebook)
    next(c for c in prose["cells"] if c["cell_type"] == "markdown")["source"] = ["other words"]
    for cell in prose["cells"]:
        cell.pop("outputs", None)
    assert execute_notebooks.code_hash(prose) == execute_notebooks.code_hash(notebook)
