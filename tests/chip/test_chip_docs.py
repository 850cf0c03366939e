"""docs/chip.md's example prints what the page shows, and the benchmark script runs."""

import contextlib
import io
import re
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_docs_example_output_is_current():
    text = (ROOT / "docs" / "chip.md").read_text(encoding="utf-8")
    code, shown = re.search(r"```python\n(.*?)```\n\n```\n(.*?)```", text, re.S).groups()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "docs/chip.md", "exec"), {"__name__": "__main__"})
    assert out.getvalue() == shown


def test_benchmark_script_runs(monkeypatch, capsys):
    # Speed is measured in benchmarks/, never asserted; this only keeps the script from rotting.
    monkeypatch.setattr(sys, "argv", ["place_and_route.py", "--repeats", "1"])
    runpy.run_path(str(ROOT / "benchmarks" / "place_and_route.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "case (b)" in out and "512 LIF" in out and "place_and_route" in out
