"""The instances of a partitioned graph emulated on different workers give the run done here."""

import warnings

import pytest
import torch

import hxgraph as hx
from hxgraph.chip import AnalogModel
from hxgraph.distributed import connect

pytest.importorskip("distributed")


def test_instances_on_a_local_cluster_equal_the_serial_run():
    gen = torch.Generator().manual_seed(0)
    graph = (hx.Experiment("wide", seed=0).input("x", 16).lif("h", 1100).li("o", 3)
             .dense("x", "h").dense("h", "o")).graph
    x = (torch.rand(20, 2, 16, generator=gen) < 0.2).float()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hx.ConsistencyWarning)
        part = hx.partition(graph)
        assert part.levels() == [[0, 1], [2]]  # two slices side by side, then the rest and the readout
        # a chip with mismatch and noise: the workers must draw the same chips and the same noise
        here = hx.emulate(graph, partition=part, analog=AnalogModel(), seed=3)
        there = hx.emulate(graph, partition=part, analog=AnalogModel(), seed=3)
    with connect(workers=2) as engine:
        there.engine = engine
        remote = [there({"x": x}) for _ in range(2)]
    local = [here({"x": x}) for _ in range(2)]
    for a, b in zip(local, remote):
        assert torch.equal(a["h"].spikes, b["h"].spikes)
        assert torch.equal(a["o"].membrane, b["o"].membrane)
    assert not torch.equal(local[0]["o"].membrane, local[1]["o"].membrane)  # the noise moved on, on both
    assert [n.emulator._runs for n in there.networks] == [2, 2, 2]
    with pytest.raises(hx.ParameterError, match="engine must have a map"):
        hx.emulate(graph, partition=part, engine="dask")
