"""Known cases of the issue, the mapping object (statistics, summary) and incremental updates."""

import pytest
import torch

import hxgraph as hx
import hxgraph.chip.mapping as mapping_module
from hxgraph.chip import place_and_route
from hxgraph.graph import LinearSaturating
from checker import check_mapping


def case_a(seed=0):
    """5 inputs repeated 5× (25 signed sources) → 120 LIF → 3 LI, dense signed."""
    return (hx.Experiment("yinyang", seed=seed).input("x", 25).lif("hidden", 120).li("out", 3)
            .dense("x", "hidden", init=hx.init.normal(0, 1), transform=LinearSaturating(scale=30.0))
            .dense("hidden", "out", init=hx.init.normal(0, 1), transform=LinearSaturating(scale=30.0))).graph


def case_b(hidden=246, seed=0):
    """256 inputs → 246 hidden → 10 outputs, every neuron 2 circuits, dense signed: the full chip."""
    return (hx.Experiment("full", seed=seed).input("x", 256).lif("hidden", hidden, circuits_per_neuron=2)
            .li("out", 10, circuits_per_neuron=2)
            .dense("x", "hidden", init=hx.init.normal(0, 1), transform=LinearSaturating(scale=30.0))
            .dense("hidden", "out", init=hx.init.normal(0, 1), transform=LinearSaturating(scale=30.0))).graph


def test_case_a_routes_with_the_default_placer():
    g = case_a()
    mapping = place_and_route(g)
    check_mapping(g, mapping.config)
    hemispheres = {name: {c // 256 for c in circuits.reshape(-1).tolist()}
                   for name, circuits in mapping.config.neuron_circuits.items()}
    assert hemispheres == {"hidden": {0}, "out": {1}}
    assert mapping.stats.rows_used == (50, 240)


def test_case_a_with_simple_allocation_and_first_fit_needs_290_rows():
    g = case_a()
    with pytest.raises(hx.MappingError) as info:
        place_and_route(g, placement="first_fit", routing="simple")
    err = info.value
    assert (err.resource, err.needed, err.available) == ("synapse rows (top hemisphere)", 290, 256)
    assert "290" in str(err) and "'x_to_hidden': 50" in str(err) and "'hidden_to_out': 240" in str(err)
    assert err.partial is not None  # the placement it tried, for drawing
    # The default placer fixes it even with the simple allocation, and so does row sharing.
    for kwargs in (dict(routing="simple"), dict(placement="first_fit")):
        mapping = place_and_route(g, **kwargs)
        check_mapping(g, mapping.config)


def test_case_b_fills_the_chip_and_routes_automatically():
    g = case_b()
    mapping = place_and_route(g)
    stats = mapping.stats
    assert stats.circuits_used == 512
    assert stats.rows_used == (256, 256)
    assert stats.driver_groups == (1, 1, 1, 1)
    assert int(mapping.config.driver_mask.max()) == 0  # all driver masks 0, as in the hand-written routing
    assert all(n == 32 for hemisphere in stats.drivers_used for n in hemisphere)
    check_mapping(g, mapping.config)


def test_case_b_also_routes_with_first_fit():
    g = case_b(seed=1)
    mapping = place_and_route(g, placement="first_fit")
    check_mapping(g, mapping.config)


def test_case_c_one_hidden_neuron_too_many():
    with pytest.raises(hx.MappingError) as info:
        place_and_route(case_b(hidden=247))
    err = info.value
    assert (err.resource, err.needed, err.available) == ("neuron circuits", 514, 512)
    assert "'hidden' 494 (247 neurons × 2 circuits)" in str(err) and "512" in str(err)


def test_mapping_summary_and_statistics():
    g = case_a()
    mapping = place_and_route(g)
    stats = mapping.stats
    assert stats.circuits_used == 123 and stats.circuits_per_population == {"hidden": 120, "out": 3}
    assert stats.projections["x_to_hidden"].connections == 25 * 120
    assert stats.projections["x_to_hidden"].synapses == 25 * 120 * 2
    assert stats.projections["x_to_hidden"].rows == 50
    assert stats.projections["hidden_to_out"].hemispheres == (1,)
    assert stats.synapses == 2 * (25 * 120 + 120 * 3)
    assert sum(stats.drivers_used[0]) == 25  # 50 rows on top
    text = mapping.summary()
    for fragment in ("Mapping of 'yinyang' onto HICANN-X", "neuron circuits: 123 of 512", "top 50/256",
                     "bottom 240/256", "x_to_hidden", "hidden_to_out", "synapse drivers per event bus"):
        assert fragment in text
    assert "ChipMapping" in repr(mapping)


def _scaled(graph, factor):
    with torch.no_grad():
        for proj in graph.projections.values():
            proj.weight.mul_(factor)
    return graph


def test_weight_only_change_reuses_placement_and_routing(monkeypatch):
    g1 = case_a(seed=1)
    first = place_and_route(g1)
    g2 = case_a(seed=2)  # same structure, other weights
    assert g2.structure_hash() == g1.structure_hash()

    def no_routing(*args, **kwargs):
        raise AssertionError("routed again although only weights changed")

    monkeypatch.setattr(mapping_module, "route", no_routing)
    monkeypatch.setattr(mapping_module, "placement_candidates", no_routing)
    second = place_and_route(g2, previous=first)
    assert second.reused == "placement and routing"
    assert second.placement is first.placement and second.routing is first.routing
    assert not torch.equal(second.config.synapse_weight, first.config.synapse_weight)
    assert torch.equal(second.config.synapse_label, first.config.synapse_label)
    check_mapping(g2, second.config)
    check_mapping(g1, first.config)  # the first mapping is untouched
    third = second.update(_scaled(case_a(seed=3), 0.5))
    assert third.reused == "placement and routing"


def test_weight_change_needing_more_rows_routes_again():
    wide = LinearSaturating(scale=1.0, min_weight=-300.0, max_weight=300.0)
    exp = hx.Experiment("grow").input("x", 3).lif("h", 2).dense("x", "h", weight=torch.full((2, 3), 10.0),
                                                                transform=wide)
    g = exp.graph
    first = place_and_route(g)
    with torch.no_grad():
        g.projection("x_to_h").weight[0, 0] = 200.0  # now 4 synapses
    second = first.update(g)
    assert second.reused == "placement"
    assert second.placement is first.placement and second.routing is not first.routing
    check_mapping(g, second.config)
    with torch.no_grad():
        g.projection("x_to_h").weight[0, 0] = -30.0  # a sign flip fits the reserved inhibitory synapse
    third = second.update(g)
    assert third.reused == "placement and routing"
    check_mapping(g, third.config)


def test_parameter_change_updates_circuit_parameters_only():
    g1 = hx.Experiment("p").input("x", 2).lif("h", 3, threshold=hx.Mixed(125.0, 120.0)).dense("x", "h").graph
    g2 = hx.Experiment("p").input("x", 2).lif("h", 3, threshold=hx.Mixed(125.0, 140.0)).dense("x", "h").graph
    first = place_and_route(g1)
    second = place_and_route(g2, previous=first)
    assert second.reused == "placement and routing"
    circuits = second.config.neuron_circuits["h"][:, 0]
    assert second.config.circuit_params["threshold"][circuits].tolist() == [140.0] * 3


def test_weight_only_update_keeps_neurons_and_follows_any_parameter_change():
    # the chip in the loop: weights change every step, neurons not; their chip values and findings are kept,
    # but a parameter changed in place (a tensor) or a new transform is still seen
    threshold = torch.full((3,), 1.0)
    g = hx.Experiment("keep").input("x", 2).lif("h", 3, threshold=threshold).dense("x", "h").graph
    first = place_and_route(g)
    with torch.no_grad():
        g.projection("x_to_h").weight.mul_(0.5)
    second = first.update(g)
    assert all(second.config.circuit_params[k] is v for k, v in first.config.circuit_params.items())
    assert second.consistency == first.consistency
    circuits = second.config.neuron_circuits["h"][:, 0]
    before = second.config.circuit_params["threshold"][circuits].clone()
    g.population("h").params["threshold"].add_(0.5)  # in place: same object, new values
    third = second.update(g)
    after = third.config.circuit_params["threshold"][circuits]
    assert bool((after > before).all())
    assert third.config.circuit_params["threshold"] is not second.config.circuit_params["threshold"]
    fresh = place_and_route(g)
    assert all(torch.equal(third.config.circuit_params[k].nan_to_num(-1), fresh.config.circuit_params[k].nan_to_num(-1))
               for k in fresh.config.circuit_params)


def test_weight_only_update_statistics_equal_a_fresh_mapping():
    # the update keeps placement and routing and evolves the statistics: they must be what mapping the new
    # weights from scratch with that placement reports (weights set to zero change the synapses in use)
    g = case_a(seed=3)
    first = place_and_route(g)
    with torch.no_grad():
        weight = g.projection("x_to_hidden").weight
        weight[:, :10] = 0.0
        weight[:, 10:] *= 0.7
    second = first.update(g)
    assert second.reused == "placement and routing"
    fresh = place_and_route(g, placement=first.placement)
    assert second.stats.synapses_nonzero < first.stats.synapses_nonzero
    assert second.stats == fresh.stats


def test_topology_change_places_and_routes_again():
    g1 = case_a()
    first = place_and_route(g1)
    g2 = (hx.Experiment("yinyang").input("x", 25).lif("hidden", 121).li("out", 3)
          .dense("x", "hidden").dense("hidden", "out")).graph
    second = place_and_route(g2, previous=first)
    assert second.reused == "nothing"
    assert second.config.neuron_circuits["hidden"].shape[0] == 121
    check_mapping(g2, second.config)
    # Other options than the previous mapping's also map afresh.
    third = place_and_route(g1, previous=first, placement="first_fit")
    assert third.reused == "nothing"


def test_previous_must_be_a_mapping():
    with pytest.raises(hx.ParameterError, match="previous must be a ChipMapping"):
        place_and_route(case_a(), previous="old")
