"""The networkx view and the structure hash (topology in, weight values out)."""

import networkx as nx
import torch

import hxgraph as hx


def build(size=4, mask=None, receptor="signed", seed=0, placement=None):
    mask = torch.eye(3, size) if mask is None else mask
    return (hx.Experiment("n", seed=seed).input("x", 3).lif("h", size, placement=placement).li("o", 2)
            .sparse("x", "h", mask, receptor=receptor).dense("h", "o").dense("h", "h"))


def test_to_networkx_nodes_and_keyed_edges():
    g = build().graph.to_networkx()
    assert isinstance(g, nx.MultiDiGraph)
    assert list(g.nodes) == ["x", "h", "o"]
    assert g.nodes["h"]["size"] == 4 and g.nodes["h"]["model"] == "lif"
    assert set(g.edges(keys=True)) == {("x", "h", "x_to_h"), ("h", "o", "h_to_o"), ("h", "h", "h_to_h")}
    edge = g.edges["x", "h", "x_to_h"]
    assert edge["connectivity"] == "sparse" and edge["connections"] == 3 and edge["receptor"] == "signed"
    assert edge["projection"].name == "x_to_h"
    assert list(nx.simple_cycles(g)) == [["h"]]


def test_weight_change_keeps_the_hash():
    exp = build()
    before = exp.graph.structure_hash()
    exp.graph.projection("h_to_o").weight.mul_(3.0).add_(1.0)
    assert exp.graph.structure_hash() == before
    # other seeds: other weights, same structure
    assert build(seed=7).graph.structure_hash() == before


def test_neuron_parameters_and_recording_do_not_change_the_hash():
    a = hx.Experiment().input("x", 2).lif("h", 3).dense("x", "h").graph
    b = hx.Experiment().input("x", 2).lif("h", 3, threshold=1.0, record="spikes").dense("x", "h").graph
    assert a.structure_hash() == b.structure_hash()


def test_topology_changes_change_the_hash():
    reference = build().graph.structure_hash()
    more = torch.eye(3, 4)
    more[2, 0] = 1  # one more connection
    assert build(mask=more).graph.structure_hash() != reference
    moved = torch.eye(3, 4).roll(1, dims=1)  # same count, other pairs
    assert build(mask=moved).graph.structure_hash() != reference
    assert build(size=5, mask=torch.eye(3, 5)).graph.structure_hash() != reference  # resized
    assert build(receptor="excitatory").graph.structure_hash() != reference  # receptor
    assert build(placement="bottom").graph.structure_hash() != reference  # placement constraint


def test_the_hash_asked_again_follows_the_graph_it_is_asked_of():
    # the JSON of populations and projections is kept between calls while the graph holds the same objects:
    # asked again it is the same; another graph's objects give theirs; a sparse projection's pairs are read
    # every time (changed in place, the hash changes)
    sparse = hx.connect.random(4, 5, 0.5, seed=1)
    g = (hx.Experiment("s").input("x", 4).lif("h", 5).lif("k", 3).sparse("x", "h", sparse).dense("h", "k")).graph
    first = g.structure_hash()
    assert g.structure_hash() == first
    other = (hx.Experiment("s").input("x", 4).lif("h", 5).lif("k", 4).sparse("x", "h", sparse)
             .dense("h", "k")).graph
    assert other.structure_hash() != first and g.structure_hash() == first
    indices = g.projection("x_to_h").connectivity.indices
    indices[0, 0] = (int(indices[0, 0]) + 1) % 4
    assert g.structure_hash() != first
