"""Partitioning over execution instances: every instance routes, the ideal partitioned run equals the mock,
graphs that fit are never split, cycles stay whole or are refused, errors point the way."""

import json
import warnings

import pytest
import torch

import hxgraph as hx
from hxgraph.chip import AnalogModel, Calibration
from hxgraph.chip import partitioning as partition_module
from hxgraph.chip.partitioning import Partition

from checker import check_mapping

IDEAL = dict(analog=AnalogModel.ideal(), cadc_interval=1e-6, cadc_jitter=0.0)
CAL = Calibration()
W = CAL.weight_scale  # model weight k/W → hardware weight k exactly
HALF_CODE = 0.5 * CAL.trace_scale + 1e-5  # CADC quantization in model units


def _ints(low, high, shape, gen):
    return torch.randint(low, high, shape, generator=gen).float() / W


def mnist_graph(seed=0):
    """784 → 256 → 10, signed dense, representable weights; readout weights small enough to stay in CADC range."""
    gen = torch.Generator().manual_seed(seed)
    return (hx.Experiment("mnist", seed=seed).input("x", 784)
            .lif("h", 256, leak=0.0, reset=0.0, threshold=1.0).li("o", 10, leak=0.0)
            .dense("x", "h", weight=_ints(-6, 12, (256, 784), gen))
            .dense("h", "o", weight=_ints(-2, 3, (10, 256), gen))).graph


def assert_ideal_equals_mock(graph, x, partition, **options):
    inputs = {p.name: x for p in graph.inputs} if isinstance(x, torch.Tensor) else x
    with torch.no_grad():
        mock = hx.mock(graph)(inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hx.ConsistencyWarning)
        net = hx.emulate(graph, partition=partition, **{**IDEAL, **options})
    chip = net(inputs)
    assert list(chip) == list(graph.populations)
    spiking = [p.name for p in graph.populations.values() if not p.is_input and p.neuron_model.spiking]
    assert sum(float(mock[n].spikes.sum()) for n in spiking) > 0
    for name in spiking:
        assert torch.equal(mock[name].spikes, chip[name].spikes), name
    for name, pop in graph.populations.items():
        if "membrane" in pop.record and not pop.is_input:
            # compared where the CADC's 8 bits reach (model leak 0 at code 80; 0..255 codes)
            model = mock[name].membrane
            inside = (model > -CAL.leak * CAL.trace_scale) & (model < (255 - CAL.leak) * CAL.trace_scale)
            assert float(inside.float().mean()) > 0.8, name
            assert float((model - chip[name].membrane).abs()[inside].max()) <= HALF_CODE, name
    return net, chip


@pytest.fixture(scope="module")
def mnist():
    graph = mnist_graph()
    return graph, hx.partition(graph)


def test_mnist_sized_network_is_partitioned_and_every_instance_routes(mnist):
    graph, part = mnist
    with pytest.raises(hx.MappingError):
        hx.place_and_route(graph, exact_time_limit=0)
    # 256 hidden neurons of 7 circuits (1568 synapses of fan-in) are at most 64 per chip: 4 instances,
    # and the readout (10 neurons of 2 circuits) finds no free column next to them: a fifth.
    assert len(part) == 5
    assert part.circuits_per_neuron == {"h": 7, "o": 2}
    assert "5 execution instances" in part.summary()
    hidden = part.slices_of("h")
    assert [(s.start, s.stop) for _, s in hidden] == [(0, 64), (64, 128), (128, 192), (192, 256)]
    assert [i for i, _ in hidden] == [0, 1, 2, 3]
    assert part.slices_of("o")[0][0] == 4
    assert [(lk.source, lk.target, lk.neurons, lk.connections) for lk in part.links] == [
        (i, 4, 64, 640) for i in range(4)]
    assert part.levels() == [[0, 1, 2, 3], [4]]
    for sub, mapping in zip(part.graphs, part.mappings):
        check_mapping(sub, mapping.config)  # the independent event-path checker
    # the four hidden instances have graphs of one structure: routed once, the others reuse that routing
    assert len({g.structure_hash() for g in part.graphs[:4]}) == 1
    assert [m.reused for m in part.mappings[:4]] == ["nothing"] + ["placement and routing"] * 3
    # every neuron keeps its full fan-in: each hidden slice sees all 784 inputs
    for sub in part.graphs[:4]:
        (proj,) = sub.projections.values()
        assert proj.source == "x" and proj.shape[1] == 784


def test_mnist_sized_partitioned_run_equals_the_mock_on_the_ideal_chip(mnist):
    graph, part = mnist
    x = (torch.rand(25, 2, 784, generator=torch.Generator().manual_seed(1)) < 0.05).float()
    net, chip = assert_ideal_equals_mock(graph, x, part)
    assert chip["h"].spikes.shape == (25, 2, 256)
    assert [m.reused for m in net.mappings] == ["placement and routing"] * 5  # the partition's routings


def test_a_graph_that_fits_one_chip_is_never_split():
    gen = torch.Generator().manual_seed(2)
    graph = (hx.Experiment("small", seed=2).input("x", 20).lif("h", 120, leak=0.0, reset=0.0, threshold=1.0)
             .li("o", 5, leak=0.0).dense("x", "h", weight=_ints(-10, 30, (120, 20), gen))
             .dense("h", "o", weight=_ints(-5, 6, (5, 120), gen))).graph
    part = hx.partition(graph)
    assert len(part) == 1 and not part.links
    assert [(s.name, s.start, s.stop) for s in part.instances[0].slices] == [("h", 0, 120), ("o", 0, 5)]
    assert part.graphs[0] is graph
    assert "not split" in part.summary()
    x = (torch.rand(30, 2, 20, generator=gen) < 0.2).float()
    assert_ideal_equals_mock(graph, x, part)


def test_a_population_of_2000_neurons_is_split_by_neurons_and_runs_as_the_mock():
    gen = torch.Generator().manual_seed(3)
    graph = (hx.Experiment("wide", seed=3).input("x", 16).lif("h", 2000, leak=0.0, reset=0.0, threshold=1.0)
             .dense("x", "h", weight=_ints(-10, 40, (2000, 16), gen))).graph
    part = hx.partition(graph)
    slices = [s for _, s in part.slices_of("h")]
    assert [(s.start, s.stop) for s in slices] == [(0, 512), (512, 1024), (1024, 1536), (1536, 2000)]
    assert [s.name for s in slices] == ["h[0:512]", "h[512:1024]", "h[1024:1536]", "h[1536:2000]"]
    assert "split by neurons into 4 slices" in part.summary()
    x = (torch.rand(20, 2, 16, generator=gen) < 0.2).float()
    assert_ideal_equals_mock(graph, x, part)


def test_sparse_projections_and_per_neuron_parameters_are_sliced():
    gen = torch.Generator().manual_seed(4)
    threshold = 1.0 + torch.arange(700) % 3 * 0.25
    graph = (hx.Experiment("sparse", seed=4).input("x", 30)
             .lif("h", 700, leak=0.0, reset=0.0, threshold=threshold).li("o", 4, leak=0.0)
             .sparse("x", "h", connections=torch.rand(30, 700, generator=gen) < 0.3)
             .dense("h", "o", weight=_ints(-3, 4, (4, 700), gen))).graph
    with torch.no_grad():
        proj = graph.projection("x_to_h")
        proj.weight.copy_(_ints(0, 40, proj.weight.shape, gen))
    part = hx.partition(graph)
    assert len(part) >= 2
    h0 = part.graphs[0].population("h")  # on its chip under its own name
    assert torch.equal(h0.params["threshold"], threshold[:h0.size])
    for sub, mapping in zip(part.graphs, part.mappings):
        check_mapping(sub, mapping.config)
    x = (torch.rand(25, 2, 30, generator=gen) < 0.2).float()
    assert_ideal_equals_mock(graph, x, part)


def test_a_recurrent_population_stays_whole_on_one_instance():
    gen = torch.Generator().manual_seed(5)
    graph = (hx.Experiment("rec", seed=5).input("x", 12)
             .lif("a", 600, leak=0.0, reset=0.0, threshold=1.0).lif("r", 60, leak=0.0, reset=0.0, threshold=1.0)
             .dense("x", "a", weight=_ints(0, 40, (600, 12), gen))
             .dense("a", "r", weight=_ints(-1, 3, (60, 600), gen))
             .dense("r", "r", weight=_ints(-8, 8, (60, 60), gen))).graph
    part = hx.partition(graph)
    (where,) = part.slices_of("r")
    assert where[1].size == 60
    x = (torch.rand(30, 2, 12, generator=gen) < 0.3).float()
    assert_ideal_equals_mock(graph, x, part)


def test_a_recurrent_population_larger_than_one_chip_is_refused_clearly():
    graph = (hx.Experiment("big_rec", seed=0).input("x", 10).lif("h", 600)
             .dense("x", "h").dense("h", "h")).graph
    with pytest.raises(hx.MappingError, match="recurrent population 'h'.*one execution instance") as info:
        hx.partition(graph)
    assert "chip-to-chip links are not modelled" in str(info.value)
    # place_and_route says the same when it reports what a partition would do
    with pytest.raises(hx.MappingError, match="No partition over several chips helps"):
        hx.place_and_route(graph, exact_time_limit=0)


def test_a_cycle_between_populations_is_kept_whole_or_refused():
    graph = (hx.Experiment("loop", seed=0).input("x", 4).lif("a", 400).lif("b", 400)
             .dense("x", "a").dense("a", "b").dense("b", "a")).graph
    with pytest.raises(hx.MappingError, match="the cycle 'a' → 'b'"):
        hx.partition(graph)


def test_max_chips_too_small_says_how_many_are_needed():
    graph = (hx.Experiment("wide", seed=0).input("x", 8).lif("h", 1500).dense("x", "h")).graph
    with pytest.raises(hx.MappingError, match="more than max_chips=2") as info:
        hx.partition(graph, max_chips=2)
    assert info.value.resource == "execution instances" and info.value.available == 2
    assert len(hx.partition(graph, max_chips=3)) == 3
    with pytest.raises(hx.ParameterError, match="max_chips"):
        hx.partition(graph, max_chips=0)


def test_place_and_route_names_the_chips_a_partition_needs():
    graph = (hx.Experiment("wide", seed=0).input("x", 8).lif("h", 2000).dense("x", "h")).graph
    with pytest.raises(hx.MappingError) as info:
        hx.place_and_route(graph)
    message = str(info.value)
    assert "about 4 chips" in message and "hx.partition(graph)" in message and "partition='auto'" in message
    assert info.value.resource == "neuron circuits"  # the original facts are kept


def test_a_fan_in_no_neuron_can_hold_is_refused():
    graph = (hx.Experiment("fat", seed=0).input("x", 20000).lif("h", 2).dense("x", "h")).graph
    with pytest.raises(hx.MappingError, match="more sources than one HICANN-X can tell apart.*no partition helps"):
        hx.partition(graph)
    sparse = (hx.Experiment("fat", seed=0).input("x", 40000).lif("h", 2)
              .sparse("x", "h", connections=torch.ones(40000, 2))).graph
    with pytest.raises(hx.MappingError, match="no partition helps"):
        hx.partition(sparse)


def test_a_population_with_explicit_circuits_is_not_split():
    graph = (hx.Experiment("pinned", seed=0).input("x", 4).lif("a", 500).lif("h", 100, placement=list(range(100)))
             .dense("x", "a").dense("x", "h")).graph
    part = hx.partition(graph)
    (where,) = part.slices_of("h")
    assert where[1].size == 100  # moved whole to an instance of its own, its circuits kept
    assert part.graphs[where[0]].population("h").placement.circuits == tuple(range(100))


def test_the_partition_shrinks_an_instance_until_it_routes(monkeypatch):
    """Where routing (not the circuit budget) is what limits an instance, its last slice is cut down."""
    graph = (hx.Experiment("cut", seed=0).input("x", 8).lif("h", 300).dense("x", "h")).graph
    real = partition_module.map_onto_chip

    def at_most_100(graph, *args, **kwargs):
        for pop in graph.populations.values():
            if not pop.is_input and pop.size > 100:
                raise hx.MappingError("pretend: out of synapse labels", resource="labels", needed=2, available=1)
        return real(graph, *args, **kwargs)

    monkeypatch.setattr(partition_module, "map_onto_chip", at_most_100)
    part = hx.partition(graph)
    assert [(s.start, s.stop) for _, s in part.slices_of("h")] == [(0, 100), (100, 200), (200, 300)]
    assert part.instances[0].limit.startswith("routing: pretend")
    assert any("cut at neuron 100" in reason for reason in part.reasons)


def test_partitions_are_plain_data_and_round_trip_through_json(mnist, tmp_path):
    graph, part = mnist
    text = part.to_json()
    data = json.loads(text)
    assert data["format"] == "hxgraph.partition" and len(data["instances"]) == 5
    back = Partition.from_json(text, graph)
    assert back.to_dict() == part.to_dict()
    assert [g.structure_hash() for g in back.graphs] == [g.structure_hash() for g in part.graphs]
    unbound = Partition.from_json(text)
    with pytest.raises(hx.ParameterError, match="bind"):
        unbound.graphs
    other = (hx.Experiment("mnist", seed=0).input("x", 784).lif("h", 255).li("o", 10)
             .dense("x", "h").dense("h", "o")).graph
    with pytest.raises(hx.MappingError, match="another structure"):
        Partition.from_json(text, other)
    bad = json.loads(text)
    bad["instances"][1]["slices"][0]["stop"] = "lots"
    with pytest.raises(hx.SerializationError, match=r"partition.instances\[1\].slices\[0\].stop"):
        Partition.from_dict(bad)
    with pytest.raises(hx.SerializationError, match="JSON"):
        Partition.from_json("{not json")


def test_in_the_loop_trains_across_instances():
    gen = torch.Generator().manual_seed(6)
    graph = (hx.Experiment("loop2", seed=6).input("x", 10).lif("h", 700, leak=0.0, reset=0.0, threshold=1.0)
             .li("o", 3, leak=0.0).dense("x", "h", weight=_ints(0, 40, (700, 10), gen))
             .dense("h", "o", weight=_ints(-2, 3, (3, 700), gen))).graph
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hx.ConsistencyWarning)
        model = hx.in_the_loop(graph, partition="auto", **IDEAL)
    assert len(model.chip.partition) == 2
    x = (torch.rand(20, 4, 10, generator=gen) < 0.3).float()
    target = torch.tensor([0, 1, 2, 0])
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    before = graph.projection("h_to_o").weight.detach().clone()
    for _ in range(3):
        run = model({"x": x})
        loss = torch.nn.functional.cross_entropy(run["o"].membrane.max(0).values * 10, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert all(p.grad is not None for p in model.parameters())
    # the instances follow the trained weights: their readout weights are slices of the graph's
    run = model({"x": x})
    (readout, _), = model.chip.partition.slices_of("o")
    sub = model.chip.partition.graphs[readout]
    for i, s in model.chip.partition.slices_of("h"):
        source = "h" if i == readout else s.name  # a slice on the readout's chip keeps its population's name
        name = next(p for p in sub.projections.values() if p.source == source).name
        assert torch.equal(sub.projection(name).weight, graph.projection("h_to_o").weight.detach()[:, s.start:s.stop])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hx.ConsistencyWarning)
        fresh = hx.emulate(graph, partition="auto", **IDEAL)({"x": x})  # mapped anew from the trained graph
    assert torch.equal(run["h"].spikes, fresh["h"].spikes)
    assert torch.allclose(run["o"].membrane, fresh["o"].membrane, atol=1e-4)  # measured + (model - model)
    assert not torch.equal(graph.projection("h_to_o").weight, before)  # it trained


def test_emulate_options_and_errors_with_a_partition(mnist):
    graph, part = mnist
    with pytest.raises(hx.ParameterError, match="partition must be"):
        hx.emulate(graph, partition="yes")
    with pytest.raises(hx.MappingError, match="madc"):
        hx.emulate(graph, partition=part, madc=[("h", 0)])
    # several fabricated chips (seed + instance), or one chip reconfigured between the instances
    assert [n.emulator.seed for n in hx.emulate(part, seed=7, **IDEAL).networks] == [7, 8, 9, 10, 11]
    one = hx.emulate(part, seed=7, shared_chip=True, **IDEAL)
    assert [n.emulator.seed for n in one.networks] == [7] * 5
    with pytest.raises(hx.ParameterError, match="shared_chip"):
        hx.emulate(part, shared_chip="yes")
    net = hx.emulate(part, **IDEAL)  # the partition knows its graph
    with pytest.raises(hx.UnknownNameError, match="'y'"):
        net({"y": torch.zeros(5, 1, 784)})
    with pytest.raises(hx.InputError, match="missing"):
        net({})
