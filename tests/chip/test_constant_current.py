"""The neurons' constant current sources and the membrane rails of the emulated chip."""

import math

import pytest
import torch

import hxgraph as hx
from hxgraph.chip import AnalogModel, Emulator
from hxgraph.errors import ParameterError, UnknownNameError

TAU = 10e-6


def readout_layer(capacitance=10e-6):
    exp = (hx.Experiment("cc").input("x", 2)
           .li("o", 4, leak=0.0, tau_mem=TAU, tau_syn=5e-6, capacitance=capacitance).dense("x", "o", weight=torch.zeros(4, 2)))
    return hx.place_and_route(exp.graph).config


def cadc(config, analog, steps=60):
    emulator = Emulator(config, analog, cadc_interval=1e-6, cadc_jitter=0.0)
    rec = emulator.run({"x": torch.zeros(steps, 1, 2)})
    return rec.cadc_times[0], rec.cadc["o"][0, :, 0].double()


@pytest.mark.parametrize("code", [10, -10, 3])
def test_a_constant_current_charges_the_membrane_towards_leak_plus_current_times_resistance(code):
    config = readout_layer().with_constant_current({"o": code})
    times, codes = cadc(config, AnalogModel.ideal())
    # dv/dt = (leak - v)/tau + I/C, I/C = code · slew (full capacitance): the forward-Euler grid
    # map of the chip model, v_k = v_inf + (leak - v_inf)(1 - dt/tau)^k, with v_inf = leak + I/C · tau.
    slew = config.spec.constant_current_slew
    leak = 80.0
    v_inf = leak + code * slew * TAU
    expected = v_inf + (leak - v_inf) * (1 - 1e-6 / TAU) ** (times / 1e-6 + 1)
    assert torch.allclose(codes[1:], expected[1:].round(), atol=1.0)
    assert abs(float(codes[-1]) - v_inf) <= 1.0


def test_the_current_charges_a_smaller_capacitance_faster():
    full = cadc(readout_layer().with_constant_current({"o": 5}), AnalogModel.ideal())[1]
    half = cadc(readout_layer(5e-6).with_constant_current({"o": 5}), AnalogModel.ideal())[1]
    assert abs(float(half[-1] - 80) - 2 * float(full[-1] - 80)) <= 1.5


def test_the_membrane_stays_between_the_rails():
    analog = AnalogModel(readout_noise=0.0)
    low, high = analog.membrane_range
    up = cadc(readout_layer().with_constant_current({"o": 1000}), analog)[1]
    down = cadc(readout_layer().with_constant_current({"o": -1000}), analog)[1]
    assert float(up.max()) <= high and float(up[-10:].min()) >= high - 0.5
    assert float(down.min()) >= low and float(down[-10:].max()) <= low + 0.5
    # an ideal chip has no rails: the CADC's 8 bits are the only bound
    assert float(cadc(readout_layer().with_constant_current({"o": 1000}), AnalogModel.ideal())[1][-1]) == 255


def test_sources_are_off_unless_set_and_set_only_the_named_population():
    config = readout_layer()
    assert int(config.constant_current.abs().sum()) == 0
    changed = config.with_constant_current({"o": torch.tensor([1, 2, 3, 4])})
    first = config.neuron_circuits["o"][:, 0]
    assert changed.constant_current[first].tolist() == [1, 2, 3, 4]
    assert int(changed.constant_current.abs().sum()) == 10
    assert config.with_constant_current({"o": 0}) is config


@pytest.mark.parametrize("bad, error, words", [
    ({"p": 5}, UnknownNameError, "unknown on-chip population 'p'"),
    ({"o": 2000}, ParameterError, "-1022..1022"),
    ({"o": 1.5}, ParameterError, "integer DAC code"),
    ({"o": torch.ones(3, dtype=torch.int64)}, ParameterError, "tensor of 4 integer codes"),
])
def test_bad_constant_currents_are_refused(bad, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(".", r"\.")):
        readout_layer().with_constant_current(bad)


@pytest.mark.parametrize("bad", [5, (3,), (5, 1), ("a", 2), (math.nan, 1)])
def test_bad_membrane_ranges_are_refused(bad):
    with pytest.raises(ParameterError, match="membrane_range"):
        AnalogModel(membrane_range=bad)


def test_ideal_and_scaled_zero_chips_have_no_rails():
    assert AnalogModel.ideal().membrane_range == (-math.inf, math.inf)
    assert AnalogModel().scaled(0) == AnalogModel.ideal()
    assert AnalogModel().scaled(2).membrane_range == AnalogModel().membrane_range
