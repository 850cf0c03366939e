"""Property: every random graph either maps and passes the independent checker, or raises MappingError."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hxgraph as hx
from hxgraph.chip import place_and_route
from checker import check_mapping
from chip_strategies import SMALL, chip_graphs

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def map_or_refuse(spec, graph, **options):
    """The mapping, or None when a MappingError says it does not fit (any other exception fails)."""
    try:
        mapping = place_and_route(graph, chip=spec, **options)
    except hx.MappingError as exc:
        assert exc.resource and exc.needed is not None and exc.available is not None, str(exc)
        assert exc.needed > exc.available or "fragmented" in str(exc), str(exc)
        return None
    check_mapping(graph, mapping.config)
    return mapping


@settings(max_examples=250, **SETTINGS)
@given(chip_graphs(), st.sampled_from(["balanced", "first_fit"]), st.sampled_from(["shared", "simple"]))
def test_random_graphs_route_correctly_or_raise_mapping_error(spec_and_graph, placement, routing):
    spec, graph = spec_and_graph
    map_or_refuse(spec, graph, placement=placement, routing=routing)


@settings(max_examples=80, **SETTINGS)
@given(chip_graphs(spec=SMALL, max_size=24), st.integers(0, 1000))
def test_weight_updates_stay_correct(spec_and_graph, seed):
    import torch

    spec, graph = spec_and_graph
    mapping = map_or_refuse(spec, graph)
    if mapping is None:
        return
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for proj in graph.projections.values():
            new = proj.weight * torch.empty(proj.weight.shape).uniform_(0.0, 3.0, generator=gen)
            if proj.receptor == "signed":
                new = new * torch.where(torch.rand(proj.weight.shape, generator=gen) < 0.3, -1.0, 1.0)
            proj.weight.copy_(new)
    try:
        updated = mapping.update(graph)
    except hx.MappingError:
        return  # larger weights may need more synapses than fit
    assert updated.reused in ("placement and routing", "placement", "nothing")
    check_mapping(graph, updated.config)
