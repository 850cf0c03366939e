"""AdEx populations and NIR, which has no AdEx neuron: refused by default, or kept in hxgraph's metadata."""

import pytest
import torch

import hxgraph as hx
from hxgraph.errors import ConversionError, ParameterError

nir = pytest.importorskip("nir")


def adex_graph():
    return (hx.Experiment("adex", seed=0).input("x", 4)
            .adex("h", 6, leak=0.0, reset=0.0, threshold=1.0, exp_slope=0.1, exp_threshold=0.8, a=0.4, b=0.2,
                  tau_adap=40e-6)
            .li("o", 2, leak=0.0).dense("x", "h").dense("h", "o")).graph


def test_exporting_adex_is_refused_by_default_naming_the_population():
    with pytest.raises(ConversionError, match="'h' is AdEx.*adex='lif_with_metadata'"):
        hx.io.to_nir(adex_graph())


def test_adex_round_trips_through_metadata_and_runs_the_same(tmp_path):
    graph = adex_graph()
    path = hx.io.write_nir(graph, tmp_path / "adex.nir", adex="lif_with_metadata")
    node = nir.read(path).nodes["h"]
    assert isinstance(node, nir.CubaLIF)  # what other tools see: the LIF part
    again = hx.io.read_nir(path)
    assert again.population("h").model == "adex"
    assert again.population("h").params == graph.population("h").params
    x = (torch.rand(30, 2, 4, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    with torch.no_grad():
        before, after = hx.mock(graph)({"x": x}), hx.mock(again)({"x": x})
    assert torch.equal(before["h"].spikes, after["h"].spikes)
    assert torch.equal(before["h"].adaptation, after["h"].adaptation)


def test_a_cubalif_without_adex_metadata_imports_as_lif():
    stripped = hx.io.to_nir(adex_graph(), adex="lif_with_metadata")
    stripped.nodes["h"].metadata = {}
    assert hx.io.from_nir(stripped).population("h").model == "lif"


def test_unknown_adex_choice_is_refused():
    with pytest.raises(ParameterError, match="adex= choice"):
        hx.io.to_nir(adex_graph(), adex="drop")
