"""The exact router: it routes where the greedy router fails, proves infeasibility, and says when it is undecided."""

import json
import math
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import hxgraph as hx
from hxgraph.chip import place_and_route
from hxgraph.chip.calibration import Calibration
from hxgraph.chip.exact_routing import route_exactly
from hxgraph.chip.mapping import _assemble
from hxgraph.chip.placement import NeuronPlacement, check_circuit_budget, place
from hxgraph.chip.routing import GreedyFailure, _Router, check_fan_in, check_fan_in_bound, connection_demand, route
from checker import check_mapping
from chip_strategies import SMALL, chip_graphs

pytest.importorskip("highspy")
CASES = json.loads((Path(__file__).parent / "data" / "routing_cases.json").read_text())


def case(name):
    """A graph and placement (from random graphs) on the small chip, with its routing mode."""
    data = CASES[name]
    graph = hx.Graph.from_json(json.dumps(data["graph"]))
    placement = NeuronPlacement(SMALL, {k: torch.tensor(v) for k, v in data["circuits"].items()}, "given")
    return graph, placement, data["routing"]


def test_exact_router_routes_where_greedy_fails():
    graph, placement, mode = case("greedy_fails_exact_routes")
    with pytest.raises(hx.RoutingUndecidedError, match="undecided — not proved impossible"):
        place_and_route(graph, chip=SMALL, placement=placement, routing=mode, exact_time_limit=0)
    mapping = place_and_route(graph, chip=SMALL, placement=placement, routing=mode)
    check_mapping(graph, mapping.config)
    assert mapping.stats.synapses == int((mapping.routing.exc_capacity + mapping.routing.inh_capacity).sum())


def test_label_limit_binds_on_interchangeable_sources():
    # Found by the checker property test: 144 inputs with the same connections form one unit of the
    # model (a variable counting how many of them go into a group); the label limit must bind on the
    # sources a group may hold, not on its number of units (the routing broke the limit: an internal error)
    data = CASES["interchangeable_sources_beyond_labels"]
    graph = hx.Graph.from_json(json.dumps(data["graph"]))
    with pytest.warns(hx.ConsistencyWarning):
        # (the exact search takes about 10 s on two cores: time enough for it on a busy machine)
        mapping = place_and_route(graph, placement=data["placement"], routing=data["routing"], exact_time_limit=300)
    check_mapping(graph, mapping.config)


def excitatory_and_inhibitory_on_one_bus(receptors=("excitatory", "inhibitory")):
    """8 sources on bus 0 of the small chip; target 0 gets all of them excitatory, target 1 inhibitory.

    Every per-neuron bound holds (8 synapses from bus 0 per target, a bus reaches 8 rows), but
    one driver group needs 8 excitatory and 8 inhibitory rows: 16 > 8.
    """
    exp = hx.Experiment("bus0", seed=1).lif("a", 8).lif("t", 2)
    for target, receptor in zip((0, 1), receptors):
        mask = torch.zeros(8, 2, dtype=torch.bool)
        mask[:, target] = True
        sign = 1.0 if receptor == "excitatory" else -1.0
        exp.sparse("a", "t", mask, weight=sign * torch.full((2, 8), 0.5) * mask.T, receptor=receptor,
                   name=f"a_to_t{target}")
    placement = NeuronPlacement(SMALL, {"a": torch.arange(8).reshape(-1, 1), "t": torch.tensor([[64], [65]])})
    return exp.graph, placement


def test_proof_names_the_binding_constraint():
    graph, placement = excitatory_and_inhibitory_on_one_bus()
    with pytest.raises(hx.MappingError) as info:
        place_and_route(graph, chip=SMALL, placement=placement)
    exc = info.value
    assert not isinstance(exc, hx.RoutingUndecidedError)
    assert exc.resource == "synapse rows per event bus (exact)"
    assert (exc.needed, exc.available) == (16, 8)
    text = str(exc)
    assert "no routing exists (proved by the exact router" in text
    assert "event bus 0 of the bottom hemisphere (16 rows; sources 'a' 8)" in text
    # The same sources with one sign each route (8 rows): the proof is about the signs' rows, not the bus.
    graph, placement = excitatory_and_inhibitory_on_one_bus(("excitatory", "excitatory"))
    check_mapping(graph, place_and_route(graph, chip=SMALL, placement=placement).config)


def test_timeout_says_undecided():
    graph, placement, mode = case("exact_search_slow")
    with pytest.raises(hx.RoutingUndecidedError) as info:
        place_and_route(graph, chip=SMALL, placement=placement, routing=mode, exact_time_limit=0.2)
    text = str(info.value)
    assert "the exact router ran out of its 0.2 s" in text and "not proved impossible" in text
    assert "exact_time_limit" in text


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, "10", True])
def test_time_limit_is_checked(bad):
    graph, placement = excitatory_and_inhibitory_on_one_bus()
    with pytest.raises(hx.ParameterError, match="exact_time_limit must be a finite number of seconds >= 0"):
        place_and_route(graph, chip=SMALL, placement=placement, exact_time_limit=bad)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(chip_graphs(spec=SMALL, max_size=24), st.sampled_from(["balanced", "first_fit"]),
       st.sampled_from(["shared", "simple"]))
def test_exact_router_agrees_with_greedy_and_checker(spec_and_graph, strategy, mode):
    """On random graphs: the exact router's routings pass the checker, and it never calls a routable placement
    infeasible; every MappingError of `route` (other than undecided) is confirmed by the exact router."""
    spec, graph = spec_and_graph
    try:
        check_circuit_budget(graph, spec)
        check_fan_in_bound(graph, spec)
        demand = connection_demand(graph, spec)
        check_fan_in(graph, demand, spec)
        placement = place(graph, spec, strategy)
    except hx.MappingError:
        assume(False)  # over a fit bound: not this test's subject
    router = _Router(graph, placement, demand, spec, mode)
    try:
        router.run()
        greedy = True
    except GreedyFailure:
        greedy = False
    except hx.MappingError:
        assume(False)  # a bound checked before the assignment (the bus fan-in, simple rows)
    try:
        routing = route_exactly(_Router(graph, placement, demand, spec, mode),
                                hx.MappingError("greedy skipped", resource="r", needed=1, available=0), 2.0)
    except hx.RoutingUndecidedError:
        return
    except hx.MappingError as exc:
        assert not greedy, f"the exact router calls a placement infeasible that the greedy one routes: {exc}"
        assert exc.needed > exc.available
        with pytest.raises(hx.MappingError) as again:
            route(graph, placement, demand, spec, mode, exact_time_limit=2.0)
        assert not isinstance(again.value, hx.RoutingUndecidedError)
        return
    mapping = _assemble(graph, spec, placement, routing, demand, "given", mode, "nothing", Calibration(), {})
    check_mapping(graph, mapping.config)
