"""Hardware-aware training in the mock: the chip's 6-bit grid (straight-through) and drawn imperfections."""

import pytest
import torch

import hxgraph as hx
from hxgraph.chip import AnalogModel, Calibration
from hxgraph.graph import LinearSaturating
from hxgraph.mock import HardwareAware
from hxgraph.tasks import yinyang

W = Calibration().weight_scale  # 70


def network(seed=0, transform=None):
    g = torch.Generator().manual_seed(seed)
    return (hx.Experiment("ha", seed=seed).input("x", 6).lif("h", 10, leak=0.0, reset=0.0, threshold=1.0)
            .li("o", 2, leak=0.0)
            .dense("x", "h", weight=torch.randn(10, 6, generator=g) * 0.4 + 0.3, transform=transform)
            .dense("h", "o", weight=torch.randn(2, 10, generator=g) * 0.3)).graph


def inputs(seed=0):
    return (torch.rand(30, 4, 6, generator=torch.Generator().manual_seed(seed)) < 0.2).float()


def on_grid(weight, scale):
    hw = weight.detach().double() * scale
    return bool(torch.allclose(hw, hw.round(), atol=1e-4)) and float(hw.abs().max()) <= 63 + 1e-6


def test_quantized_forward_equals_the_rounded_network_and_the_gradient_passes_straight_through():
    graph, x = network(), inputs()
    aware = hx.mock(graph, hardware_aware=hx.hardware_aware(noise=False))
    run = aware({"x": x})
    loss = run["o"].membrane.pow(2).sum() + run["h"].membrane.pow(2).sum()
    loss.backward()
    rounded = network()
    with torch.no_grad():
        for name, proj in rounded.projections.items():
            proj.weight.copy_(torch.round(proj.weight * W).clamp(-63, 63) / W)
    plain = hx.mock(rounded)
    reference = plain({"x": x})
    assert torch.equal(run["h"].spikes, reference["h"].spikes)
    torch.testing.assert_close(run["o"].membrane, reference["o"].membrane)
    (reference["o"].membrane.pow(2).sum() + reference["h"].membrane.pow(2).sum()).backward()
    for name in graph.projections:
        torch.testing.assert_close(aware.weights[name].grad, plain.weights[name].grad)
    # Nothing was written: the latent weights keep their float values.
    assert not on_grid(graph.projection("x_to_h").weight, W)


def test_noise_is_drawn_in_training_mode_only():
    graph, x = network(), inputs()
    net = hx.mock(graph, hardware_aware=hx.hardware_aware())
    net.eval()
    with torch.no_grad():
        a, b = net({"x": x})["o"].membrane, net({"x": x})["o"].membrane
    assert torch.equal(a, b)
    net.train()
    torch.manual_seed(0)
    with torch.no_grad():
        c, d = net({"x": x})["o"].membrane, net({"x": x})["o"].membrane
    assert not torch.equal(c, d) and not torch.equal(a, c)
    net.hardware_aware = None
    with torch.no_grad():
        assert torch.equal(net({"x": x})["o"].membrane, hx.mock(graph)({"x": x})["o"].membrane)


def test_clip_and_quantize_write_the_chips_range_and_grid_into_the_graph():
    graph = network(transform=LinearSaturating(scale=64.0))
    with torch.no_grad():
        graph.projection("h_to_o").weight[0, 0] = 5.0     # 350 hardware units: beyond the 6-bit range
        graph.projection("x_to_h").weight[0, 0] = -2.0    # -128 at scale 64
    net = hx.mock(graph, hardware_aware=hx.hardware_aware())
    net.clip_weights()
    assert float(graph.projection("h_to_o").weight[0, 0]) == pytest.approx(63 / W)
    assert float(graph.projection("x_to_h").weight[0, 0]) == pytest.approx(-63 / 64)
    net.quantize_weights()
    assert on_grid(graph.projection("h_to_o").weight, W)       # the calibrated scale
    assert on_grid(graph.projection("x_to_h").weight, 64.0)    # its own explicit scale
    with pytest.raises(hx.ParameterError, match="needs hardware_aware"):
        hx.mock(graph).clip_weights()


def test_custom_transforms_are_left_unquantized():
    graph = network(transform=lambda w: 50 * w)
    x = inputs()
    with torch.no_grad():
        a = hx.mock(graph, hardware_aware=hx.hardware_aware(noise=False))({"x": x})["h"].membrane
        b = hx.mock(graph)({"x": x})["h"].membrane
    with torch.no_grad():
        graph.projection("h_to_o").weight.copy_(torch.round(graph.projection("h_to_o").weight * W) / W)
    assert torch.equal(a, b)  # x_to_h (custom) unchanged; h→o does not feed h


def test_noise_magnitudes_come_from_the_analog_model_in_model_units():
    analog = AnalogModel.from_measurements({"threshold_offset": 4.0, "leak_offset": 2.0, "readout_noise": 1.0,
                                            "tau_mismatch": 0.05, "synapse_gain_mismatch": 0.03},
                                           calibration=Calibration.from_scales(1 / 50, 64.0))
    aware = hx.hardware_aware(analog)
    assert aware.weight_scale == pytest.approx(64.0)
    assert aware.threshold_noise == pytest.approx(4.0 / 50) and aware.leak_noise == pytest.approx(2.0 / 50)
    assert aware.readout_noise == pytest.approx(1.0 / 50)
    assert aware.tau_noise == 0.05 and aware.gain_noise == 0.03
    assert hx.hardware_aware(analog, noise_scale=2).tau_noise == pytest.approx(0.1)
    assert not hx.hardware_aware(analog, noise=False).noisy
    with pytest.raises(hx.ParameterError, match="must be an hxgraph.mock.HardwareAware"):
        hx.mock(network(), hardware_aware=True)
    with pytest.raises(hx.ParameterError, match="tau_noise must be a finite number >= 0"):
        HardwareAware(weight_scale=70.0, tau_noise=-0.1)


def test_hardware_aware_training_leaves_the_trained_graph_on_the_six_bit_grid():
    history = yinyang.train(epochs=1, train_size=200, test_size=100, batch_size=50, repeat=5, sparse="hidden",
                            hardware_aware=True, progress=False, log=None)
    graph = history["graph"]
    for proj in graph.projections.values():
        assert on_grid(proj.weight, W), proj.name
    mapping = hx.place_and_route(graph)
    assert mapping.consistency == ()
    with pytest.raises(hx.ParameterError, match="applies to training in the mock"):
        yinyang.train(epochs=1, train_size=50, test_size=50, backend="in_the_loop", hardware_aware=True,
                      progress=False, log=None)
