"""docs/migration.md: its code blocks run as shown."""

import re
from pathlib import Path

import torch

import hxgraph.spiking as hxsnn

DOC = Path(__file__).resolve().parents[2] / "docs" / "migration.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_code_blocks_run():
    imports, flow, recurrence = blocks()
    namespace: dict = {"x": (torch.rand(38, 2, 5) < 0.1).float()}
    exec(compile(imports, "docs/migration.md", "exec"), namespace)
    exec(compile(flow, "docs/migration.md", "exec"), namespace)
    assert namespace["h"].spikes.shape == (38, 2, 10)
    exp = hxsnn.Experiment(mock=True)
    namespace.update(exp=exp, syn_in=hxsnn.Synapse(5, 4, exp), lif=hxsnn.LIF(4, exp), rec=hxsnn.Synapse(4, 4, exp))
    exec(compile(recurrence, "docs/migration.md", "exec"), namespace)
    hxsnn.run(exp, 38)
    assert exp.last_graph.projection("synapse_1").source == "lif_0" == exp.last_graph.projection("synapse_1").target
