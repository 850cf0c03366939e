"""Placement: first fit in enumeration order, merged neurons column first, constraints, balance, errors."""

import pytest
import torch

import hxgraph as hx
from hxgraph.chip import HICANN_X, ChipSpec, NeuronPlacement, place, place_and_route
from checker import check_mapping


def circuits(placement, name):
    return placement.circuits[name].tolist()


def test_first_fit_enumeration_and_creation_order():
    g = hx.Experiment("ff").input("x", 3).lif("a", 3).li("b", 2).lif("c", 300).graph
    p = place(g, strategy="first_fit")
    assert circuits(p, "a") == [[0], [1], [2]]
    assert circuits(p, "b") == [[3], [4]]
    flat = [c[0] for c in circuits(p, "c")]
    assert flat == list(range(5, 256)) + list(range(256, 305))  # top row, then the bottom row
    assert p.strategy == "first_fit"
    assert "x" not in p.circuits  # inputs get no circuits


def test_multi_circuit_neurons_fill_columns_first():
    g = hx.Experiment("m").lif("two", 2, circuits_per_neuron=2).lif("three", 2, circuits_per_neuron=3) \
        .lif("four", 1, circuits_per_neuron=4).graph
    p = place(g, strategy="first_fit")
    assert circuits(p, "two") == [[0, 256], [1, 257]]
    assert circuits(p, "three") == [[2, 258, 3], [4, 260, 5]]
    assert circuits(p, "four") == [[6, 262, 7, 263]]
    assert p.emitting_circuit("three").tolist() == [2, 4]  # spikes leave from the first circuit


def test_multi_circuit_neurons_never_cross_the_middle_boundary():
    g = hx.Experiment("b").lif("left", 127, placement="top").lif("wide", 3, circuits_per_neuron=4).graph
    for strategy in ("first_fit", "balanced"):
        p = place(g, strategy=strategy)
        for row in circuits(p, "wide"):
            columns = {c % 256 for c in row}
            assert len({col // 128 for col in columns}) == 1, row
        if strategy == "first_fit":  # column 127 would cross, so the first neuron starts at 128
            assert circuits(p, "wide")[0] == [128, 384, 129, 385]


def test_hemisphere_constraint():
    g = (hx.Experiment("h").lif("low", 5, placement="bottom").lif("pair", 2, placement="bottom", circuits_per_neuron=2)
         .lif("up", 3, placement=hx.Placement(hemisphere=0)).graph)
    for strategy in ("first_fit", "balanced"):
        p = place(g, strategy=strategy)
        assert all(c[0] >= 256 for c in circuits(p, "low"))
        for a, b in circuits(p, "pair"):  # merged along the bottom row
            assert a >= 256 and b == a + 1
        assert all(c[0] < 256 for c in circuits(p, "up"))


def test_explicit_circuits_are_kept_and_avoided():
    g = hx.Experiment("e").lif("auto", 4).lif("fixed", 2, placement=[0, 300]).graph
    for strategy in ("first_fit", "balanced"):
        p = place(g, strategy=strategy)
        assert circuits(p, "fixed") == [[0], [300]]
        used = {c[0] for c in circuits(p, "auto")}
        assert not used & {0, 300} and len(used) == 4


def test_overlapping_explicit_placements_are_refused():
    g = hx.Experiment("o").lif("a", 2, placement=[5, 6]).lif("b", 2, placement=[6, 7]).graph
    with pytest.raises(hx.ParameterError, match="circuit 6 is also listed by population 'a'"):
        place_and_route(g)


def test_explicit_circuit_outside_the_chip():
    g = hx.Experiment("o").lif("a", 2, placement=[5, 200]).graph
    with pytest.raises(hx.ParameterError, match="circuit 200 does not exist on small"):
        place_and_route(g, chip=ChipSpec.small())


@pytest.mark.parametrize("listed, fragment", [([3, 5], "not one connected region"),
                                              ([127, 128], "cross the boundary between columns 127 and 128")])
def test_explicit_merged_neuron_must_be_connectable(listed, fragment):
    g = hx.Experiment("m").lif("a", 1, placement=listed, circuits_per_neuron=2).graph
    with pytest.raises(hx.ParameterError, match=fragment):
        place_and_route(g)


def test_unknown_strategy():
    g = hx.Experiment("u").lif("a", 2).graph
    with pytest.raises(hx.UnknownNameError, match="did you mean 'first_fit'"):
        place_and_route(g, placement="firstfit")


def test_hemisphere_constraint_that_does_not_fit():
    g = hx.Experiment("c").lif("big", 300, placement="top").graph
    with pytest.raises(hx.MappingError) as info:
        place_and_route(g)
    assert info.value.resource == "neuron circuits"
    assert (info.value.needed, info.value.available) == (300, 256)
    assert "'big'" in str(info.value) and "top hemisphere" in str(info.value)


def test_balanced_spreads_a_source_population_over_the_buses():
    g = (hx.Experiment("s").input("x", 4).lif("h", 40).li("o", 2).dense("x", "h").dense("h", "o")).graph
    p = place(g)
    buses = [(c[0] % 256) // 32 % 4 for c in circuits(p, "h")]
    assert sorted(buses.count(b) for b in range(4)) == [10, 10, 10, 10]
    first = place(g, strategy="first_fit")
    assert sorted((c[0] // 32) % 4 for c in circuits(first, "h")).count(0) == 32  # first fit bunches them


def test_balanced_puts_the_heavy_readout_in_the_other_hemisphere():
    g = (hx.Experiment("a").input("x", 25).lif("hidden", 120).li("out", 3)
         .dense("x", "hidden").dense("hidden", "out")).graph
    p = place(g)
    assert {c[0] // 256 for c in circuits(p, "hidden")} == {0}
    assert {c[0] // 256 for c in circuits(p, "out")} == {1}


def test_balanced_resolves_bus_pressure_that_first_fit_creates():
    # 'b' sources in columns 0-31 of both rows would all send on bus 0 with first fit.
    g = (hx.Experiment("bus").input("x", 2).lif("a", 32, placement="top").lif("b", 32, placement="bottom")
         .lif("t", 8).dense("a", "t", init=hx.init.normal(0, 10)).dense("b", "t", init=hx.init.normal(0, 10))).graph
    with pytest.raises(hx.MappingError) as info:
        place_and_route(g, placement="first_fit")
    assert info.value.resource == "synapse rows per event bus"
    assert "bus 0" in str(info.value) and (info.value.needed, info.value.available) == (128, 64)
    mapping = place_and_route(g)
    check_mapping(g, mapping.config)


def test_a_given_placement_is_routed_as_is():
    g = (hx.Experiment("given").input("x", 3).lif("h", 4).dense("x", "h", init=hx.init.normal(0, 10))).graph
    own = NeuronPlacement(HICANN_X, {"h": torch.tensor([[10], [300], [11], [400]])})
    mapping = place_and_route(g, placement=own)
    assert mapping.placement is own
    check_mapping(g, mapping.config)
    wrong = NeuronPlacement(HICANN_X, {"h": torch.tensor([[10], [10], [11], [12]])})
    with pytest.raises(hx.ParameterError, match="circuit 10 is given to both"):
        place_and_route(g, placement=wrong)


def test_placement_summary_names_populations():
    g = hx.Experiment("s").lif("h", 3).li("o", 2, circuits_per_neuron=2).graph
    text = place(g).summary()
    assert "h: 3 neurons × 1 circuit," in text and "o: 2 neurons × 2 circuits" in text
