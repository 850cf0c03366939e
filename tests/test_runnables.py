"""Examples, notebooks and the command line are executed here so they cannot rot."""

import json
import runpy
import sys
from pathlib import Path

import pytest

import hxgraph as hx
from hxgraph.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_build_and_inspect_example(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["build_and_inspect.py", str(tmp_path)])
    runpy.run_path(str(ROOT / "examples" / "build_and_inspect.py"), run_name="__main__")
    assert "x_to_hidden" in capsys.readouterr().out
    assert hx.Graph.load(tmp_path / "yinyang.json").population("hidden").size == 120


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_code_cells_run_in_order(notebook, tmp_path, monkeypatch):
    # Executing the code cells in one namespace is what a kernel would do, without needing Jupyter.
    monkeypatch.chdir(tmp_path)
    cells = json.loads(notebook.read_text())["cells"]
    namespace: dict = {"__name__": "__main__"}
    for cell in cells:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{notebook.name} is stored with outputs"
            exec(compile("".join(cell["source"]), f"{notebook.name}", "exec"), namespace)


def test_cli_demo_and_summary(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    assert "hidden_to_out" in capsys.readouterr().out
    assert main(["summary", str(tmp_path / "yinyang.json")]) == 0
    assert "sparse" in capsys.readouterr().out


def test_cli_reports_a_bad_file_without_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "hxgraph.graph", "version": 7}')
    assert main(["summary", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "newer hxgraph" in err and "Traceback" not in err
