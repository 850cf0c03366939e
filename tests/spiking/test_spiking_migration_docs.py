"""docs/migration.md: its code blocks run as shown."""

import re
from pathlib import Path

import pytest
import torch

import hxgraph as hx
import hxgraph.spiking as hxsnn

DOC = Path(__file__).resolve().parents[2] / "docs" / "migration.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_code_blocks_run(tmp_path):
    imports, flow, recurrence, to_the_chip = blocks()
    namespace: dict = {"x": (torch.rand(38, 2, 5) < 0.1).float()}
    exec(compile(imports, "docs/migration.md", "exec"), namespace)
    exec(compile(flow, "docs/migration.md", "exec"), namespace)
    assert namespace["h"].spikes.shape == (38, 2, 10)
    exp = hxsnn.Experiment(mock=True)
    namespace.update(exp=exp, syn_in=hxsnn.Synapse(5, 4, exp), lif=hxsnn.LIF(4, exp), rec=hxsnn.Synapse(4, 4, exp))
    exec(compile(recurrence, "docs/migration.md", "exec"), namespace)
    hxsnn.run(exp, 38)
    assert exp.last_graph.projection("synapse_1").source == "lif_0" == exp.last_graph.projection("synapse_1").target
    pytest.importorskip("nir")
    graph = hx.Experiment("net").input("x", 3).lif("h", 2, leak=0.0, reset=0.0, threshold=1.0).dense("x", "h").graph
    namespace.update(hx=hx, graph=graph, path=tmp_path / "net.nir")
    exec(compile(to_the_chip, "docs/migration.md", "exec"), namespace)
    assert hx.io.read_nir(tmp_path / "net.nir") == graph
