"""Examples and notebooks are executed here so they cannot rot (the command line: tests/test_cli.py)."""

import ast
import json
import runpy
import sys
from pathlib import Path

import pytest
from matplotlib.figure import Figure

import hxgraph as hx
from hxgraph.viz import figure_png

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_build_and_inspect_example(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["build_and_inspect.py", str(tmp_path)])
    runpy.run_path(str(ROOT / "examples" / "build_and_inspect.py"), run_name="__main__")
    assert "x_to_hidden" in capsys.readouterr().out
    assert hx.Graph.load(tmp_path / "yinyang.json").population("hidden").size == 120


def display(value: object) -> str:
    """What a Jupyter kernel does with a cell's last expression: its richest representation."""
    if value is None:
        return "none"
    if isinstance(value, Figure):
        assert figure_png(value, dpi=50).startswith(b"\x89PNG")
        return "figure"
    if hasattr(value, "_repr_html_"):
        html = value._repr_html_()
        assert isinstance(html, str) and html.startswith("<")
        return "html"
    repr(value)
    return "text"


def run_notebook(path: Path) -> list[str]:
    """Execute the code cells in order in one namespace, displaying each cell's last expression."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    namespace: dict = {"__name__": "__main__"}
    shown = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        assert not cell.get("outputs") and cell.get("execution_count") is None, \
            f"{path.name} cell {index} is stored with outputs; clear them before committing"
        tree = ast.parse("".join(cell["source"]), filename=f"{path.name}[{index}]")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, f"{path.name}[{index}]", "exec"), namespace)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), f"{path.name}[{index}]", "eval"), namespace)
            shown.append(display(value))
    return shown


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_in_order(notebook, tmp_path, monkeypatch):
    # Small sizes: every notebook reads HXGRAPH_NOTEBOOK_QUICK to shorten its training.
    monkeypatch.setenv("HXGRAPH_NOTEBOOK_QUICK", "1")
    monkeypatch.chdir(tmp_path)
    shown = run_notebook(notebook)
    assert "figure" in shown  # every notebook draws something


def test_the_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == ["01_quickstart.ipynb", "02_placement_and_routing.ipynb",
                                           "03_chip_in_the_loop.ipynb", "04_adex_firing_patterns.ipynb"]
