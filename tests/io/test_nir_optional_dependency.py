"""NIR is an optional dependency: hxgraph.io imports without it and says which extra to install."""

import importlib
import sys

import pytest

import hxgraph
import hxgraph as hx
from hxgraph.errors import HxGraphError, MissingDependencyError


def test_without_nir_every_entry_point_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setattr(hxgraph, "io", importlib.import_module("hxgraph.io"), raising=False)  # restored afterwards
    monkeypatch.setitem(sys.modules, "nir", None)  # `import nir` now raises ImportError
    for name in ("hxgraph.io", "hxgraph.io.nir"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    io = importlib.import_module("hxgraph.io")  # importing needs no nir
    g = (hx.Experiment("g").input("x", 2).lif("h", 2).dense("x", "h")).graph
    calls = [lambda: io.to_nir(g), lambda: io.write_nir(g, tmp_path / "g.nir"),
             lambda: io.read_nir(tmp_path / "g.nir"), lambda: io.from_nir(tmp_path / "g.nir")]
    for call in calls:
        with pytest.raises(MissingDependencyError, match=r"pip install 'hxgraph\[nir\]'") as info:
            call()
        assert isinstance(info.value, ImportError) and isinstance(info.value, HxGraphError)
