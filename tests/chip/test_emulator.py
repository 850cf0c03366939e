"""The emulator: ideal chip = mock, event path read from the config only, imperfections, readout, errors."""

import math
import warnings

import attrs
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hxgraph as hx
from hxgraph.chip import AnalogModel, Calibration, Emulator, compile_delivery
from hxgraph.graph import LinearSaturating

from checker import _expected
from chip_strategies import chip_graphs, model_value_networks

IDEAL_READOUT = dict(analog=AnalogModel.ideal(), cadc_interval=1e-6, cadc_jitter=0.0)
CAL = Calibration()
W = CAL.weight_scale  # model weight k/W → hardware weight k exactly under the default transform


def representable_network(seed, n_in=6, n_hidden=12, n_out=3, recurrent=False):
    """Model values only (no Mixed, default transforms) and weights k/W (integer hardware weights).

    The calibration gives the chip values: leak 80, threshold 80 + 1/trace_scale CADC."""
    g = torch.Generator().manual_seed(seed)
    exp = (hx.Experiment("ideal", seed=seed).input("x", n_in)
           .lif("h", n_hidden, leak=0.0, reset=0.0, threshold=1.0)
           .li("o", n_out, leak=0.0)
           .dense("x", "h", weight=torch.randint(-20, 45, (n_hidden, n_in), generator=g).float() / W)
           .dense("h", "o", weight=torch.randint(-10, 11, (n_out, n_hidden), generator=g).float() / W))
    if recurrent:
        exp.dense("h", "h", weight=torch.randint(-15, 16, (n_hidden, n_hidden), generator=g).float() / W)
    x = (torch.rand(40, 4, n_in, generator=g) < 0.15).float()
    return exp.graph, x


def assert_ideal_chip_equals_mock(graph, x, trace_scale, **options):
    with torch.no_grad():
        mock = hx.mock(graph)({"x": x})
    chip = hx.emulate(graph, **{**IDEAL_READOUT, **options})({"x": x})
    assert mock["h"].spikes.sum() > 0
    assert torch.equal(mock["h"].spikes, chip["h"].spikes)
    half_code = 0.5 * trace_scale + 1e-5  # CADC quantization in model units
    for name in ("h", "o"):
        assert float((mock[name].membrane - chip[name].membrane).abs().max()) <= half_code


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("recurrent", [False, True])
def test_ideal_emulator_equals_the_mock(seed, recurrent):
    graph, x = representable_network(seed, recurrent=recurrent)
    with warnings.catch_warnings():
        warnings.simplefilter("error", hx.ConsistencyWarning)  # model values through the calibration: nothing to warn about
        assert_ideal_chip_equals_mock(graph, x, CAL.trace_scale)


@pytest.mark.parametrize("seed", range(3))
def test_ideal_emulator_equals_the_mock_with_consistent_chip_values_of_another_calibration(seed):
    """Mixed chip values and a weight scale chosen for trace scale 1/50 agree with a chip calibrated to it."""
    cal = Calibration.from_scales(1 / 50, 64.0)
    scale = LinearSaturating(scale=64.0)
    g = torch.Generator().manual_seed(seed)
    graph = (hx.Experiment("ideal", seed=seed).input("x", 6)
             .lif("h", 12, leak=hx.Mixed(0.0, 100.0), reset=hx.Mixed(0.0, 100.0), threshold=hx.Mixed(1.0, 150.0))
             .li("o", 3, leak=hx.Mixed(0.0, 128.0))
             .dense("x", "h", weight=torch.randint(-20, 45, (12, 6), generator=g).float() / 64, transform=scale)
             .dense("h", "o", weight=torch.randint(-10, 11, (3, 12), generator=g).float() / 64, transform=scale)).graph
    x = (torch.rand(40, 4, 6, generator=g) < 0.15).float()
    with warnings.catch_warnings():
        warnings.simplefilter("error", hx.ConsistencyWarning)
        assert_ideal_chip_equals_mock(graph, x, 1 / 50, analog=AnalogModel.ideal(cal))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(chip_graphs())
def test_delivered_weights_equal_the_graphs_on_random_graphs(case):
    """The emulator's own reading of the event path agrees with the test checker's expectation."""
    spec, graph = case
    try:
        mapping = hx.place_and_route(graph, spec)
    except hx.MappingError:
        return
    delivery = compile_delivery(mapping.config)
    for (source, target), (exc, inh) in _expected(graph, CAL).items():
        got_exc = delivery.excitatory.get((source, target), torch.zeros(exc.shape))
        got_inh = delivery.inhibitory.get((source, target), torch.zeros(inh.shape))
        assert torch.equal(got_exc, torch.from_numpy(exc).float()), (source, target)
        assert torch.equal(got_inh, torch.from_numpy(inh).float()), (source, target)
    expected_pairs = {k for k, (e, i) in _expected(graph, CAL).items() if e.any() or i.any()}
    assert set(delivery.excitatory) | set(delivery.inhibitory) <= expected_pairs


def one_layer(seed=0):
    g = torch.Generator().manual_seed(seed)
    exp = (hx.Experiment("layer", seed=seed).input("x", 20).li("o", 30, leak=0.0)
           .dense("x", "o", weight=torch.randint(0, 40, (30, 20), generator=g).float() / W))
    x = (torch.rand(30, 2, 20, generator=g) < 0.3).float()
    return exp.graph, x


def _membranes(config, x):
    rec = Emulator(config, AnalogModel.ideal(), cadc_interval=1e-6, cadc_jitter=0.0).run({"x": x})
    return rec.cadc["o"]


def _neurons_of(config, hemisphere, columns):
    circuits = hemisphere * config.spec.columns + torch.as_tensor(columns)
    return set(config.circuit_neuron[circuits][config.circuit_population[circuits] >= 0].tolist())


def test_corrupting_one_synapse_label_changes_exactly_its_target():
    graph, x = one_layer()
    config = hx.place_and_route(graph).config
    reference = _membranes(config, x)
    h, r, c = [int(i) for i in (config.synapse_weight > 0).nonzero()[0]]
    labels = config.synapse_label.clone()
    labels[h, r, c] = (int(labels[h, r, c]) + 1) % config.spec.labels
    changed = (_membranes(attrs.evolve(config, synapse_label=labels), x) != reference).any(0).any(0)
    assert set(changed.nonzero().flatten().tolist()) == _neurons_of(config, h, [c])


def test_corrupting_one_driver_mask_changes_exactly_the_targets_of_its_rows():
    graph, x = one_layer(1)
    config = hx.place_and_route(graph).config
    reference = _membranes(config, x)
    rows_of = lambda d: slice(d * config.spec.rows_per_driver, (d + 1) * config.spec.rows_per_driver)  # noqa: E731
    # A driver with synapses whose index on its bus is not 0 (index 0 matches row-select 0 under any mask).
    h, d = next((h, d) for h, d in config.driver_enable.nonzero().tolist()
                if bool((config.synapse_weight[h, rows_of(d)] > 0).any()) and d // config.spec.buses_per_hemisphere)
    for wrong in range(1, 2 ** config.spec.row_select_bits):  # a mask that changes what the driver hears
        masks = config.driver_mask.clone()
        masks[h, d] = int(masks[h, d]) ^ wrong
        corrupted = attrs.evolve(config, driver_mask=masks)
        before, after = compile_delivery(config).excitatory, compile_delivery(corrupted).excitatory
        if before.keys() != after.keys() or any(not torch.equal(before[k], after[k]) for k in before):
            break
    changed = (_membranes(corrupted, x) != reference).any(0).any(0)
    columns = (config.synapse_weight[h, rows_of(d)] > 0).any(0).nonzero().flatten()
    affected = _neurons_of(config, h, columns)
    assert affected and set(changed.nonzero().flatten().tolist()) <= affected
    assert changed.any()


def test_weights_above_63_split_over_rows_give_linear_psp():
    """One synapse onto one neuron, its weight swept 0..288 on one (non-ideal) chip: PSP peak is linear."""
    exp = (hx.Experiment("psp").input("x", 1).li("o", 1, leak=hx.Mixed(0.0, 60.0))
           .dense("x", "o", weight=torch.zeros(1, 1), receptor="excitatory",
                  transform=LinearSaturating(scale=1.0, min_weight=0.0, max_weight=300.0)))
    net = hx.emulate(exp.graph, seed=3)
    x = torch.zeros(30, 1, 1)
    x[2] = 1
    weights = torch.arange(0, 289, 16, dtype=torch.float32)
    peaks = []
    for w in weights:
        exp.graph.projection("x_to_o").weight.fill_(float(w))
        membrane = net({"x": x})["o"].membrane[:, 0, 0]
        peaks.append(float(membrane.max() - membrane[:2].mean()))
    assert len(net.mapping.config.synapse_weight.nonzero()) == 5  # 288 → 63, 63, 63, 63, 36
    peak = torch.tensor(peaks)
    fit = torch.linalg.lstsq(torch.stack([weights, torch.ones_like(weights)], 1), peak[:, None]).solution
    residual = peak - (weights * fit[0] + fit[1])
    r2 = 1 - float((residual ** 2).sum() / ((peak - peak.mean()) ** 2).sum())
    assert r2 > 0.99
    assert peak[-1] > 3 * peak[weights == 64]  # it keeps growing beyond one synapse's 63


def test_same_seed_same_result_other_seed_other_chip():
    graph, x = representable_network(7)
    a = hx.emulate(graph, seed=1)({"x": x})
    b = hx.emulate(graph, seed=1)({"x": x})
    c = hx.emulate(graph, seed=2)({"x": x})
    assert torch.equal(a["o"].membrane, b["o"].membrane) and torch.equal(a["h"].spikes, b["h"].spikes)
    assert not torch.equal(a["o"].membrane, c["o"].membrane)


def test_trial_to_trial_noise_differs_between_runs_of_one_chip():
    graph, x = representable_network(8)
    net = hx.emulate(graph, seed=1)
    first, second = net({"x": x})["o"].membrane, net({"x": x})["o"].membrane
    assert not torch.equal(first, second)
    assert float((first - second).abs().mean()) < 0.2  # noise of ~1.5 CADC, not a different network


def test_recording_is_what_the_chip_returns():
    graph, x = representable_network(9)
    columns = hx.place_and_route(graph).config.neuron_circuits["h"][:, 0] % 256
    other = int((columns % 2 != columns[0] % 2).nonzero()[0])  # the MADC needs columns of different parity
    net = hx.emulate(graph, seed=0, madc=[("h", 0), ("h", other)])
    run = net({"x": x})
    rec = net.last_recording
    assert rec.cadc["h"].dtype == torch.uint8 and rec.cadc["h"].shape[:2] == rec.cadc_times.shape
    gaps = rec.cadc_times.diff(dim=1)
    assert 1.2e-6 < float(gaps.mean()) < 2.2e-6 and float(gaps.std()) > 0  # ~1.7 µs, irregular
    events = rec.spikes["h"]
    assert events.shape[1] == 3 and len(events) == int(run["h"].spikes.sum())
    # spike times on the 8 ns clock, within the step they are binned to
    step = torch.ceil(events[:, 2] * 8e-9 / 1e-6 - 1e-6).long()
    assert bool((run["h"].spikes[step, events[:, 0], events[:, 1]] > 0).all())
    times, codes = rec.madc[("h", 0)]
    assert codes.dtype == torch.int16 and codes.shape == (4, times.numel()) and int(codes.max()) < 1024
    assert abs(float(times[1] - times[0]) - 1 / 29.4e6) < 1e-12


def test_readout_maps_back_to_model_units_with_trace_scale_and_offset():
    graph, x = representable_network(10)
    plain = hx.emulate(graph, **IDEAL_READOUT)({"x": x})["o"].membrane
    shifted = hx.emulate(graph, trace_offset={"o": 70.0}, trace_scale={"o": 0.1}, **IDEAL_READOUT)({"x": x})["o"].membrane
    codes = plain / CAL.trace_scale + CAL.leak  # back to CADC codes
    assert torch.allclose(shifted, (codes - 70) * 0.1, atol=1e-4)


def test_emulated_network_follows_weight_updates_without_rerouting():
    graph, x = representable_network(11)
    net = hx.emulate(graph, **IDEAL_READOUT)
    first = net({"x": x})["o"].membrane
    mapping = net.mapping
    graph.projection("h_to_o").weight.mul_(-1)
    second = net({"x": x})["o"].membrane
    assert net.mapping.reused == "placement and routing" and net.mapping.placement is mapping.placement
    with torch.no_grad():
        expected = hx.mock(graph)({"x": x})["o"].membrane
    assert not torch.allclose(first, second)
    assert float((second - expected).abs().max()) <= 0.5 / 50 + 1e-5


def test_in_the_loop_forward_is_the_chips_and_backward_the_models():
    graph, x = representable_network(12)
    loop = hx.in_the_loop(graph, seed=4)
    run = loop({"x": x})
    chip = hx.emulate(graph, seed=4)({"x": x})
    assert torch.equal(run["h"].spikes.detach(), chip["h"].spikes)
    assert torch.allclose(run["o"].membrane.detach(), chip["o"].membrane)
    run["o"].membrane.max(0).values.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in loop.parameters())


def _same_parity(net):
    columns = net.mapping.config.neuron_circuits["h"][:, 0] % 256
    return int((columns % 2 == columns[0] % 2).nonzero()[1])


@pytest.mark.parametrize("make, error, fragment", [
    (lambda net, x: net({"y": x}), hx.UnknownNameError, "input 'y' is not an input population"),
    (lambda net, x: net({"x": x[:, :, :3]}), hx.InputError, "must be spikes of shape (time, batch, 6)"),
    (lambda net, x: net.emulator.run({"x": x}, steps=10), hx.InputError, "beyond the runtime of 10 steps"),
    (lambda net, x: net.emulator.run({"x": torch.zeros(400, 1, 6)}), hx.InputError, "at most 100 per run"),
    (lambda net, x: Emulator(net.mapping.config, madc=[("h", 0), ("h", 2), ("h", 3)]), hx.InputError,
     "at most 2 neurons"),
    (lambda net, x: Emulator(net.mapping.config, madc=[("h", 0), ("h", _same_parity(net))]), hx.InputError,
     "different parity"),
    (lambda net, x: Emulator(net.mapping.config, madc=[("hh", 0)]), hx.UnknownNameError, "did you mean 'h'"),
])
def test_inputs_that_cannot_be_sent_are_refused(make, error, fragment):
    graph, x = representable_network(13)
    x = x.clone()
    x[20] = 1
    net = hx.emulate(graph)
    with pytest.raises(error) as info:
        make(net, x)
    assert fragment in str(info.value), str(info.value)


def test_long_recording_allows_more_cadc_samples():
    graph, _ = representable_network(14)
    rec = Emulator(hx.place_and_route(graph).config, long_recording=True).run({"x": torch.zeros(400, 1, 6)})
    assert rec.cadc_times.shape[1] > 100


def test_emulated_network_notices_weight_edits_through_data():
    graph, x = representable_network(15)
    net = hx.emulate(graph, **IDEAL_READOUT)
    before = net({"x": x})["o"].membrane
    graph.projection("h_to_o").weight.data.zero_()  # bypasses the version counter autograd keeps
    after = net({"x": x})["o"].membrane
    assert not torch.equal(before, after)
    assert float(after.abs().max()) == 0.0  # no input reaches the readout any more: it stays at its leak


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(model_value_networks())
def test_ideal_emulator_equals_the_mock_on_random_graphs_built_from_model_values(case):
    graph, x = case
    with warnings.catch_warnings():
        warnings.simplefilter("error", hx.ConsistencyWarning)  # nothing to contradict: no chip value was given
        with torch.no_grad():
            mock = hx.mock(graph)({"x": x})
        chip = hx.emulate(graph, **IDEAL_READOUT)({"x": x})
    for pop in graph.populations.values():
        if pop.is_input:
            continue
        if pop.neuron_model.spiking:
            assert torch.equal(mock[pop.name].spikes, chip[pop.name].spikes), pop.name
        # Where the chip's membrane lies inside the CADC's 8 bits, it reads back within half a code.
        codes = (mock[pop.name].membrane - model_leak(pop)) / CAL.trace_scale + CAL.leak
        inside = (codes > 0.5) & (codes < 254.5)
        error = (mock[pop.name].membrane - chip[pop.name].membrane).abs()[inside]
        assert error.numel() == 0 or float(error.max()) <= 0.5 * CAL.trace_scale + 1e-5, pop.name


def model_leak(pop):
    leak = pop.params["leak"]
    return leak.float() if isinstance(leak, torch.Tensor) else float(leak)


def test_reconfigure_follows_weights_and_neuron_parameters():
    # A weight-only update keeps the event path and the neurons; a changed neuron parameter must still reach
    # the run. Each reconfigured run equals a fresh emulator of that configuration (same chip, same run count).
    graph, x = representable_network(3)
    first = hx.place_and_route(graph)
    emulator = Emulator(first.config, **IDEAL_READOUT)
    weights = graph.projection("x_to_h").weight.clone()
    with torch.no_grad():
        graph.projection("x_to_h").weight.mul_(0.5)
    lighter = hx.place_and_route(graph, previous=first)
    emulator.reconfigure(lighter.config)
    fresh = Emulator(lighter.config, **IDEAL_READOUT)
    assert torch.equal(emulator.run({"x": x}).spikes["h"], fresh.run({"x": x}).spikes["h"])
    higher = attrs.evolve(lighter.config, circuit_params={**lighter.config.circuit_params,
                                                          "threshold": lighter.config.circuit_params["threshold"] + 5})
    emulator.reconfigure(higher)
    fresh = Emulator(higher, **IDEAL_READOUT)
    fresh.advance_runs()
    ran = emulator.run({"x": x}).spikes["h"]
    assert torch.equal(ran, fresh.run({"x": x}).spikes["h"])
    assert ran.shape[0] < Emulator(lighter.config, **IDEAL_READOUT).run({"x": x}).spikes["h"].shape[0]
    with torch.no_grad():
        graph.projection("x_to_h").weight.copy_(weights)
