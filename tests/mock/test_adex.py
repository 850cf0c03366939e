"""AdEx neurons: the LIF as a special case, Brian2 as the reference, and the ideal chip equal to the mock."""

import functools
import math
import sys
from pathlib import Path

import pytest
import torch

import hxgraph as hx
from hxgraph.chip import AnalogModel, Calibration
from hxgraph.errors import ParameterError
from hxgraph.mock import functional as F

sys.path.insert(0, str(Path(__file__).parent))
from adex_reference import brian2_spike_times  # noqa: E402

from hxgraph.tasks.firing_patterns import NAUD_2008, classify, run_chip, run_mock  # noqa: E402

DT = 0.1e-6
DURATION = 500e-6
STEPS = int(round(DURATION / DT))
CAL = Calibration()
W = CAL.weight_scale


@functools.lru_cache(maxsize=None)
def mock_spike_times(name):
    run = run_mock(name, DURATION, DT)
    return run.spike_times, run.adaptation


@pytest.fixture(scope="module")
def brian2():
    return pytest.importorskip("brian2")


@pytest.mark.parametrize("name", sorted(NAUD_2008))
def test_mock_equals_brian2_on_naud_2008_firing_patterns(brian2, name):
    ours, _ = mock_spike_times(name)
    reference = brian2_spike_times(name, DURATION, DT)  # Brian2 integrating hxtorch's scheme
    assert len(ours) == len(reference) > 0
    assert max(abs(a - b) for a, b in zip(ours, reference)) <= 2 * DT


@pytest.mark.parametrize("name", ["adaptation", "initial_burst"])
def test_mock_converges_to_the_continuous_adex(brian2, name):
    # Brian2's rk4 at a tenth of the step solves the continuous equations; forward Euler on the
    # grid is first order: the first spike within 2 dt, errors growing by ~2 dt per spike.
    ours = [t for t in mock_spike_times(name)[0] if t < 55e-6]
    reference = brian2_spike_times(name, 55e-6, DT / 10, method="rk4")
    assert len(ours) == len(reference) >= 3
    assert abs(ours[0] - reference[0]) <= 2 * DT
    assert all(abs(a - b) <= 2.5 * DT * (k + 1) for k, (a, b) in enumerate(zip(ours, reference)))


@pytest.mark.parametrize("name", sorted(NAUD_2008))
def test_each_firing_pattern_is_recognised_by_its_interspike_intervals(name):
    ours, w = mock_spike_times(name)
    assert classify(ours, DURATION) == name
    if NAUD_2008[name][7] > 0:  # b > 0: every spike raises the adaptation current
        assert float(w.max()) > 0


@pytest.mark.parametrize("name", sorted(NAUD_2008))
def test_ideal_emulator_equals_brian2_on_naud_2008_firing_patterns(brian2, name):
    ours = run_chip(name, DURATION, DT).spike_times  # driven by the neuron's constant current source
    reference = brian2_spike_times(name, DURATION, DT, lag=0)  # a current source acts from the first step
    assert classify(ours, DURATION) == classify(reference, DURATION)
    assert len(ours) == len(reference)
    # Irregular spiking is chaotic: float32 on the chip and float64 in Brian2 part ways after a while.
    compared = 10 if name == "irregular" else len(ours)
    assert max(abs(a - b) for a, b in zip(ours[:compared], reference[:compared])) <= 2 * DT


def adex_network(seed, recurrent=False, **adex):
    """Representable weights (k / W: integer hardware weights) and model values only."""
    g = torch.Generator().manual_seed(seed)
    exp = (hx.Experiment("adex", seed=seed).input("x", 6).adex("h", 12, leak=0.0, reset=0.0, threshold=1.0, **adex)
           .li("o", 3, leak=0.0)
           .dense("x", "h", weight=torch.randint(-20, 45, (12, 6), generator=g).float() / W)
           .dense("h", "o", weight=torch.randint(-10, 11, (3, 12), generator=g).float() / W))
    if recurrent:
        exp.dense("h", "h", weight=torch.zeros(12, 12))
    x = (torch.rand(40, 4, 6, generator=g) < 0.15).float()
    return exp.graph, x


def lif_twin(graph):
    """The same network with the AdEx population replaced by a LIF of the LIF's parameters."""
    data = graph.to_dict()
    for pop in data["populations"]:
        if pop["model"] == "adex":
            pop["model"] = "lif"
            for key in ("exp_slope", "exp_threshold", "a", "b", "tau_adap"):
                pop["params"].pop(key)
            pop["record"] = [r for r in pop["record"] if r != "adaptation"]
    return hx.Graph.from_dict(data)


@pytest.mark.parametrize("seed", range(3))
def test_adex_without_adaptation_and_exponential_is_exactly_the_lif(seed):
    graph, x = adex_network(seed, a=0.0, b=0.0, exp_slope=0.0)
    twin = lif_twin(graph)
    with torch.no_grad():
        adex, lif = hx.mock(graph)({"x": x}), hx.mock(twin)({"x": x})
    assert lif["h"].spikes.sum() > 0
    for field in ("spikes", "membrane", "current"):
        assert torch.equal(getattr(adex["h"], field), getattr(lif["h"], field))
    assert torch.equal(adex["o"].membrane, lif["o"].membrane)
    assert not bool(adex["h"].adaptation.any())
    chip_adex = hx.emulate(graph, analog=AnalogModel.ideal(), cadc_jitter=0.0)({"x": x})
    chip_lif = hx.emulate(twin, analog=AnalogModel.ideal(), cadc_jitter=0.0)({"x": x})
    assert torch.equal(chip_adex["h"].spikes, chip_lif["h"].spikes)
    assert torch.equal(chip_adex["h"].membrane, chip_lif["h"].membrane)


def test_the_reference_loop_without_adaptation_equals_the_lif_reference():
    x = torch.rand(50, 3, 5, dtype=torch.float64) * 20
    z, v, i = F.lif_integration_reference(x)
    za, va, ia, wa = F.adex_integration_reference(x, a=0.0, b=0.0, exp_slope=0.0)
    assert torch.equal(z, za) and torch.equal(v, va) and torch.equal(i, ia) and not bool(wa.any())


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("adex", [dict(a=2.0, b=0.3, exp_slope=0.1, exp_threshold=0.8, tau_adap=30e-6),
                                  dict(a=-0.5, b=0.05, exp_slope=0.02, exp_threshold=0.7, tau_adap=80e-6)])
def test_ideal_emulator_equals_the_mock_for_adex_networks(seed, adex):
    graph, x = adex_network(seed, **adex)
    with torch.no_grad():
        mock = hx.mock(graph)({"x": x})
    chip = hx.emulate(graph, analog=AnalogModel.ideal(), cadc_interval=1e-6, cadc_jitter=0.0)({"x": x})
    assert mock["h"].spikes.sum() > 0 and mock["h"].adaptation.abs().sum() > 0
    assert torch.equal(mock["h"].spikes, chip["h"].spikes)
    for name in ("h", "o"):
        assert float((mock[name].membrane - chip[name].membrane).abs().max()) <= 0.5 * CAL.trace_scale + 1e-5


def test_adaptation_slows_the_firing_in_mock_and_on_the_chip():
    counts = {}
    for b in (0.0, 0.5):
        graph, x = adex_network(0, a=0.0, b=b, exp_slope=0.0, tau_adap=100e-6)
        counts[b] = (float(hx.mock(graph)({"x": x})["h"].spikes.sum()),
                     float(hx.emulate(graph, seed=1)({"x": x})["h"].spikes.sum()))
    assert counts[0.5][0] < counts[0.0][0] and counts[0.5][1] < counts[0.0][1]


def test_surrogate_gradients_flow_through_adex_neurons():
    graph, x = adex_network(1, a=1.0, b=0.2, exp_slope=0.1, exp_threshold=0.8)
    net = hx.mock(graph)
    run = net({"x": x})
    run["o"].membrane.sum().backward()
    grad = net.weights["x_to_h"].grad
    assert grad is not None and bool(torch.isfinite(grad).all()) and float(grad.abs().sum()) > 0


def test_recurrent_adex_populations_are_stepped_like_feed_forward_ones():
    # A recurrent projection of zero weights makes the mock step the population one step at a
    # time (adex_step) instead of integrating the whole run: the results must not change.
    graph, x = adex_network(2, a=1.0, b=0.2, exp_slope=0.1, exp_threshold=0.8)
    data = graph.to_dict()
    looped = adex_network(2, recurrent=True, a=1.0, b=0.2, exp_slope=0.1, exp_threshold=0.8)[0]
    assert len(looped.projections) == len(data["projections"]) + 1
    with torch.no_grad():
        plain, stepped = hx.mock(graph)({"x": x}), hx.mock(looped)({"x": x})
    assert torch.equal(plain["h"].spikes, stepped["h"].spikes)
    assert torch.allclose(plain["h"].adaptation, stepped["h"].adaptation, atol=1e-5)
    chip = hx.emulate(looped, analog=AnalogModel.ideal(), cadc_jitter=0.0)({"x": x})
    assert torch.equal(chip["h"].spikes, stepped["h"].spikes)


@pytest.mark.parametrize("bad, words", [
    (dict(exp_slope=-1.0), "exp_slope"), (dict(tau_adap=0.0), "tau_adap"), (dict(a=math.nan), "a"),
    (dict(b="x"), "b"), (dict(tau_w=1e-6), "tau_w"),
])
def test_bad_adex_parameters_are_refused_by_name(bad, words):
    with pytest.raises(hx.HxGraphError, match=words):
        hx.Experiment("e").input("x", 2).adex("n", 3, **bad)


def test_adex_parameters_travel_through_json_and_the_structure_hash():
    graph, _ = adex_network(0, a=0.7, b=0.1, exp_slope=0.05, tau_adap=40e-6)
    again = hx.Graph.from_json(graph.to_json())
    assert again.population("h").params == graph.population("h").params
    assert again.structure_hash() == graph.structure_hash()
    assert "AdEx" in graph.summary()
    assert lif_twin(graph).structure_hash() != graph.structure_hash()


def test_adex_functional_checks_its_parameters():
    with pytest.raises(ParameterError, match="tau_adap"):
        F.adex_integration(torch.zeros(3, 1, 2), tau_adap=-1.0)


@pytest.mark.parametrize("refractory_time", [0.0, 1e-6, 3e-6])
@pytest.mark.parametrize("adex", [dict(a=0.5, b=0.2, exp_slope=0.1, exp_threshold=0.8, tau_adap=30e-6),
                                  dict(a=-0.3, b=0.0, exp_slope=0.0, tau_adap=60e-6),
                                  dict(a=0.0, b=0.4, exp_slope=torch.tensor([0.05, 0.0, 0.1, 0.02, 0.0, 0.07, 0.1]),
                                       exp_threshold=0.9)])
def test_the_fast_kernel_equals_the_reference_loop_forward_and_backward(refractory_time, adex):
    torch.manual_seed(0)
    x = (torch.rand(80, 3, 7, dtype=torch.float64) * 0.5).requires_grad_()
    base = dict(leak=0.0, reset=-0.1, threshold=1.0, tau_mem=8e-6, tau_syn=5e-6, capacitance=10e-6,
                refractory_time=refractory_time)
    adex = {k: v.double() if isinstance(v, torch.Tensor) else v for k, v in adex.items()}
    fast = F.adex_integration(x, **base, **adex)
    reference = F.adex_integration_reference(x, **base, **adex)
    assert type(fast[0].grad_fn).__name__ == "_AdExFunctionBackward"  # the kernel, not the loop
    assert fast[0].sum() > 10
    for a, b in zip(fast, reference):
        assert torch.allclose(a, b, rtol=0, atol=1e-12)
    weights = [torch.randn_like(t) for t in fast]
    grad_fast, = torch.autograd.grad(sum((t * w).sum() for t, w in zip(fast, weights)), x)
    grad_reference, = torch.autograd.grad(sum((t * w).sum() for t, w in zip(reference, weights)), x)
    assert torch.allclose(grad_fast, grad_reference, rtol=1e-9, atol=1e-12)


def test_parameter_gradients_take_the_reference_path():
    x = torch.rand(20, 2, 3, dtype=torch.float64)
    a = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    z, v, i, w = F.adex_integration(x, a=a, b=0.1, exp_slope=0.1, exp_threshold=100.0)
    w.sum().backward()
    assert a.grad is not None and float(a.grad) != 0
