"""Examples are executed here so they cannot rot (the notebooks: tests/test_site.py executes them while
building the site; the command line: tests/test_cli.py)."""

import runpy
import sys
from pathlib import Path

import hxgraph as hx

ROOT = Path(__file__).resolve().parents[1]


def test_build_and_inspect_example(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["build_and_inspect.py", str(tmp_path)])
    runpy.run_path(str(ROOT / "examples" / "build_and_inspect.py"), run_name="__main__")
    assert "x_to_hidden" in capsys.readouterr().out
    assert hx.Graph.load(tmp_path / "yinyang.json").population("hidden").size == 120
