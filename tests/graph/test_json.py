"""JSON round trip is exact; malformed, corrupt or future files are refused with a clear error."""

import json
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings

import hxgraph as hx
from graph_strategies import graphs


def sample_graph():
    mask = torch.zeros(6, 3)
    mask[[0, 2, 5], [1, 0, 2]] = 1
    return (hx.Experiment("sample", dt=0.5e-6, seed=11)
            .input("x", 6)
            .lif("h", 3, threshold=hx.Mixed(1.0, 150), tau_mem=[1e-6, 2e-6, 3.3e-6], placement="top")
            .lif("r", 2, placement=[4, 260, 5, 261], circuits_per_neuron=2, record=["spikes"])
            .li("o", 2, leak=hx.Mixed(torch.tensor([0.5, 0.25], dtype=torch.float32), 80))
            .sparse("x", "h", mask, receptor="excitatory")
            .dense("h", "r", init=hx.init.normal(0.8, 0.25))
            .dense("r", "r", weight=torch.tensor([[0.1, -0.2], [1e-30, 3.0]], dtype=torch.float64))
            .dense("r", "o", init=hx.init.from_tensor(torch.tensor([[1.0, 2.0], [3.0, 4.0]])))
            ).graph


def test_round_trip_is_exact_and_bit_identical():
    g = sample_graph()
    back = hx.Graph.from_json(g.to_json())
    assert back == g
    assert back.structure_hash() == g.structure_hash()
    for name, proj in g.projections.items():
        a, b = proj.weight, back.projection(name).weight
        assert a.dtype == b.dtype and torch.equal(a.view(torch.uint8), b.view(torch.uint8))
    assert back.population("h").params["tau_mem"].tolist() == [1e-6, 2e-6, 3.3e-6]
    assert back.dt == 0.5e-6


def test_json_has_a_format_and_version():
    data = json.loads(sample_graph().to_json())
    assert data["format"] == "hxgraph.graph" and data["version"] == 1


def test_file_helpers(tmp_path):
    g = sample_graph()
    path = g.save(tmp_path / "g.json", indent=2)
    assert hx.Graph.load(path) == g


def test_equality_notices_a_single_weight_bit():
    g, back = sample_graph(), hx.Graph.from_json(sample_graph().to_json())
    w = back.projection("h_to_r").weight
    w[0, 0] = torch.nextafter(w[0, 0], torch.tensor(math.inf))
    assert back != g


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_random_graphs_round_trip(graph):
    back = hx.Graph.from_json(graph.to_json())
    assert back == graph
    assert back.structure_hash() == graph.structure_hash()
    assert back.summary() == graph.summary()


def _mutated(mutate):
    data = json.loads(sample_graph().to_json())
    mutate(data)
    return json.dumps(data)


BAD_FILES = [
    ("not json", "{not json", ["not valid JSON"]),
    ("not an object", "[1, 2]", ["expected a JSON object"]),
    ("wrong format", _mutated(lambda d: d.update(format="nir")), ["not an hxgraph graph"]),
    ("future version", _mutated(lambda d: d.update(version=99)), ["version 99", "newer hxgraph", "up to 1"]),
    ("missing key", _mutated(lambda d: d.pop("dt")), ["missing ['dt']"]),
    ("unexpected key", _mutated(lambda d: d.update(code="import os")), ["unexpected ['code']"]),
    ("truncated weight", _mutated(lambda d: d["projections"][1]["weight"]["tensor"].update(data="AAAA")),
     ["projections[1] ('h_to_r').weight", "bytes", "truncated or corrupt"]),
    ("bad base64", _mutated(lambda d: d["projections"][1]["weight"]["tensor"].update(data="@@@")),
     ["not valid base64"]),
    ("NaN parameter", _mutated(lambda d: d["populations"][1]["params"].update(leak=float("nan"))),
     ["populations[1] ('h')", "'leak'", "finite"]),
    ("negative size", _mutated(lambda d: d["populations"][0].update(size=-2)), ["populations[0] ('x')", ">= 1"]),
    ("unknown model", _mutated(lambda d: d["populations"][0].update(model="aelif")), ["unknown neuron model 'aelif'"]),
    ("dangling projection", _mutated(lambda d: d["projections"][0].update(source="nope")),
     ["unknown source population 'nope'"]),
    ("unknown transform", _mutated(lambda d: d["projections"][0].update(transform={"kind": "eval"})),
     ["unknown transform"]),
    ("unknown dtype", _mutated(lambda d: d["projections"][0]["weight"]["tensor"].update(dtype="object")),
     ["unknown tensor dtype 'object'"]),
    ("unsorted sparse indices", _mutated(lambda d: d["projections"][0]["connectivity"].update(
        indices={"tensor": {"dtype": "int64", "shape": [2, 2], "data": "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAAAAAAAAA="}})),
     ["sorted"]),
]


@pytest.mark.parametrize("text, fragments", [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_bad_json_is_refused(text, fragments):
    with pytest.raises(hx.SerializationError) as info:
        hx.Graph.from_json(text)
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(hx.SerializationError, match="no graph file"):
        hx.Graph.load(tmp_path / "missing.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(hx.SerializationError, match="bin.json"):
        hx.Graph.load(tmp_path / "bin.json")


def test_custom_transform_cannot_be_written():
    g = hx.Experiment().input("x", 2).lif("h", 2).dense("x", "h", transform=lambda w: 2 * w).graph
    with pytest.raises(hx.SerializationError, match="custom callable"):
        g.to_json()
