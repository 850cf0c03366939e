"""Issue 13, items 2, 4 and 6: one sign rule everywhere, files refuse what loading would refuse,
no memory bombs, and the mock refuses what it cannot integrate."""

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hxgraph as hx
from hxgraph.errors import AllocationError, InputError, ParameterError, WeightError
from hxgraph.graph import Projection, Sparse


def excitatory_net(seed=0):
    exp = (hx.Experiment("signs", seed=seed).input("x", 8).lif("h", 6, leak=0.0, reset=0.0, threshold=1.0)
           .li("o", 2, leak=0.0)
           .dense("x", "h", receptor="excitatory", init=hx.init.uniform(0.0, 0.4))
           .dense("h", "o", receptor="inhibitory", init=hx.init.uniform(0.0, 0.4)))
    return exp.graph


def test_adam_on_fixed_sign_projections_then_save_and_reload(tmp_path):
    graph = excitatory_net()
    net = hx.mock(graph)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.5)  # large steps: weights cross 0
    x = (torch.rand(30, 4, 8, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    crossed = 0
    for _ in range(5):
        optimizer.zero_grad()
        # push the excitatory weights down and the inhibitory ones up
        run = net({"x": x})
        (run["h"].membrane.sum() - run["o"].membrane.sum()).backward()
        optimizer.step()
        crossed += int((graph.projection("x_to_h").weight < 0).sum())
    assert crossed > 0  # the optimizer did take weights across 0
    path = graph.save(tmp_path / "trained.json")  # no error: saving projects them back
    assert not bool((graph.projection("x_to_h").weight < 0).any())
    assert not bool((graph.projection("h_to_o").weight > 0).any())
    again = hx.Graph.load(path)
    assert again == graph


def test_a_weight_projected_to_zero_can_grow_again():
    graph = excitatory_net()
    weight = graph.projection("x_to_h").weight
    with torch.no_grad():
        weight[0, 0] = -0.3  # as an optimizer step leaves it
    net = hx.mock(graph)
    x = torch.ones(20, 1, 8)
    net({"x": x})["h"].membrane.sum().backward()
    assert float(weight[0, 0]) == 0.0  # projected before use
    assert float(net.weights["x_to_h"].grad[0, 0]) > 0  # and the gradient still reaches it


def test_the_chip_maps_a_graph_whose_weights_crossed_zero():
    graph = excitatory_net()
    with torch.no_grad():
        graph.projection("x_to_h").weight[1, 2] = -0.2
    mapping = hx.place_and_route(graph)  # the same projection, not a WeightError
    assert float(graph.projection("x_to_h").weight[1, 2]) == 0.0
    assert mapping.config is not None


@pytest.mark.parametrize("writer", ["save", "nir"])
def test_nan_weights_are_refused_by_writers_naming_the_projection(tmp_path, writer):
    graph = excitatory_net()
    with torch.no_grad():
        graph.projection("h_to_o").weight[0, 0] = math.nan
    with pytest.raises(WeightError, match="'h_to_o' has 1 NaN"):
        if writer == "save":
            graph.save(tmp_path / "g.json")
        else:
            pytest.importorskip("nir")
            hx.io.write_nir(graph, tmp_path / "g.nir")
    assert not (tmp_path / "g.json").exists() and not (tmp_path / "g.nir").exists()


def test_a_dtype_json_cannot_hold_is_named_with_its_projection(tmp_path):
    graph = hx.Experiment("bf").input("x", 3).lif("h", 2).dense(
        "x", "h", weight=torch.ones(2, 3, dtype=torch.bfloat16)).graph
    with pytest.raises(WeightError, match="'x_to_h' holds bfloat16"):
        graph.save(tmp_path / "g.json")


def huge_graph():
    """What a 1 KB file can declare: a population of 10^12 neurons with one connection into it."""
    projection = Projection("p", "x", "h", Sparse((10**12, 1), torch.tensor([[5], [0]])), weight=torch.ones(1))
    return hx.Graph("big", 1e-6, [hx.Population("x", 1, "input"), hx.Population("h", 10**12, "lif")], [projection])


def test_a_huge_declared_population_loads_but_is_refused_before_allocating(monkeypatch):
    monkeypatch.setenv("HXGRAPH_MEMORY_LIMIT", str(2**30))
    text = huge_graph().to_json()
    assert len(text) < 2000
    graph = hx.Graph.from_json(text)  # plain data
    with pytest.raises(AllocationError, match="would need .*TiB of memory; this machine has 1.0 GiB"):
        hx.mock(graph)
    pytest.importorskip("nir")
    with pytest.raises(AllocationError, match="NIR export"):
        hx.io.to_nir(graph)


def test_a_long_mock_run_is_refused_with_the_memory_it_needs(monkeypatch):
    monkeypatch.setenv("HXGRAPH_MEMORY_LIMIT", str(2**20))
    net = hx.mock(excitatory_net())
    with pytest.raises(AllocationError, match=r"10000 steps × batch 64 over 8 neurons would need 195.3 MiB"):
        net({"x": torch.zeros(10000, 64, 8)})


def test_a_dense_projection_too_large_for_any_machine_is_refused_before_drawing():
    with pytest.raises(AllocationError, match="1,000,000,000,000 weights would need 3.6 TiB"):
        hx.Experiment("e").input("x", 10**6).lif("h", 10**6).dense("x", "h")


@pytest.mark.parametrize("key", ["tau_mem", "tau_syn"])
def test_time_constants_below_the_step_are_refused_by_mock_and_chip(key):
    graph = hx.Experiment("tau", dt=1e-6).input("x", 2).lif("h", 3, **{key: 0.5e-6}).dense("x", "h").graph
    with pytest.raises(ParameterError, match=f"'h': {key} down to 5e-07 s is shorter than the time step"):
        hx.mock(graph)
    with pytest.raises(ParameterError, match=key):
        hx.emulate(graph)({"x": torch.zeros(5, 1, 2)})


def test_an_empty_batch_is_refused():
    net = hx.mock(excitatory_net())
    with pytest.raises(InputError, match="empty batch"):
        net({"x": torch.zeros(10, 0, 8)})


@pytest.mark.parametrize("options, words", [
    (dict(devise="cpu"), "unknown option 'devise'.*did you mean 'device'"),
    (dict(device="tpu"), "device='tpu'"),
    (dict(device=5), "device=5"),
    (dict(funcs=5), "funcs must map"),
])
def test_mock_options_are_checked_with_their_name(options, words):
    with pytest.raises(ParameterError, match=words):
        hx.mock(excitatory_net(), **options)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_a_machine_without_it_is_refused_by_name():
    with pytest.raises(ParameterError, match="no CUDA device"):
        hx.mock(excitatory_net(), device="cuda")


_ANY = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                 st.text(max_size=8), st.lists(st.integers(0, 3), max_size=3), st.dictionaries(st.text(max_size=3),
                                                                                                st.integers(), max_size=2))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(option=st.sampled_from(["device", "funcs", "hardware_aware", "dtype", "seed", "record"]), value=_ANY)
def test_random_mock_options_are_accepted_or_refused_by_an_hxgraph_error(option, value):
    graph = excitatory_net()
    try:
        net = hx.mock(graph, **{option: value})
        net({"x": torch.zeros(3, 1, 8)})
    except hx.HxGraphError:
        pass  # refused with hxgraph's error: what the test wants of a bad value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_ANY)
def test_random_mock_inputs_are_run_or_refused_by_an_hxgraph_error(value):
    net = hx.mock(excitatory_net())
    try:
        net({"x": value})
    except hx.HxGraphError:
        pass


@pytest.mark.parametrize("value", [0.5, -1.0, math.nan])
def test_the_emulated_chip_takes_spike_counts_only(value):
    graph = excitatory_net()
    x = torch.zeros(10, 1, 8)
    x[3, 0, 2] = value
    with pytest.raises(InputError, match="must hold spike counts .*whole numbers"):
        hx.emulate(graph)({"x": x})
    x[3, 0, 2] = 2.0  # two spikes of one source in one step: a count the chip can send
    hx.emulate(graph)({"x": x})


@pytest.mark.parametrize("call, words", [
    (lambda: excitatory_net().population(["h"]), "population names are strings"),
    (lambda: excitatory_net().projection(None), "projection names are strings"),
    (lambda: hx.Experiment("e").lif("h", 3, record=True), "record must be"),
    (lambda: hx.Experiment("e").lif("h", 3, placement=torch.tensor(1.5)), "placement must be"),
    (lambda: hx.Experiment("e").input("x", 2).lif("h", 3).dense("x", "h", seed=10**20), "seed must be at most"),
    (lambda: hx.Experiment("e", seed=2**64), "seed must be at most"),
    (lambda: hx.connect.random(2**40, 2**40, 0.5), "more than a torch index"),
    (lambda: hx.io.to_nir(excitatory_net(), outputs=True), "list of population names"),
    (lambda: hx.place_and_route(excitatory_net()).config.with_constant_current({"h": None}), "integer DAC code"),
    (lambda: hx.in_the_loop(excitatory_net())({"x": None}), "must be a torch.Tensor"),
])
def test_found_by_the_bad_input_survey_now_an_hxgraph_error(call, words):
    # Each of these escaped as TypeError, ValueError, RuntimeError or AttributeError before.
    with pytest.raises(hx.HxGraphError, match=words):
        call()
