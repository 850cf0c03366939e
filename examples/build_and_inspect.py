"""Build the yin-yang network with the fluent builder, inspect it, and save it as JSON.

Run: python examples/build_and_inspect.py [OUT_DIR]
"""

import sys
from pathlib import Path

import torch

import hxgraph as hx

# Hidden → readout is sparse: each hidden neuron reaches about half of the readout neurons.
connections = hx.connect.random(120, 3, 0.5, seed=0)

exp = (hx.Experiment("yinyang", dt=1e-6, seed=42)
       .input("x", 5)                                   # 4 coordinates + a bias channel
       .lif("hidden", 120, tau_mem=6e-6, tau_syn=6e-6, leak=0.0, reset=0.0,
            threshold=hx.Mixed(1.0, 150.0))             # model value 1.0, 150 CADC units on the chip
       .li("out", 3, tau_mem=6e-6, tau_syn=6e-6)
       .dense("x", "hidden", init=hx.init.normal(0.8, 0.25))
       .sparse("hidden", "out", connections))
graph = exp.graph
print(graph.summary())

# The networkx view: populations are nodes, projections keyed edges.
nxg = graph.to_networkx()
print("edges:", list(nxg.edges(keys=True)))

# Weights are plain tensors; changing them keeps the structure hash (no re-routing needed).
before = graph.structure_hash()
graph.projection("x_to_hidden").weight.mul_(1.1)
assert graph.structure_hash() == before

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("out")
out.mkdir(parents=True, exist_ok=True)
path = graph.save(out / "yinyang.json")
assert hx.Graph.load(path) == graph  # exact round trip, weights bit for bit
print(f"saved to {path}")
