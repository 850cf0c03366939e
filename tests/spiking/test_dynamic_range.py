"""hxtorch's dynamic_range utilities, measured on the emulated chip.

References: hxtorch's hardware tests (tests/hw/test_spiking_boundary.py, _threshold.py,
_weight_scaling.py) assert these values on a real BrainScaleS-2 chip with the same
tolerances: baseline ≈ -45, upper ≈ 100, lower ≈ -103 (±20 %), trace scaling ≈ 1/45 (±0.007)
for a threshold of 125 over a leak of 80; the emulated chip's own values come from its
calibration (hxgraph.chip.Calibration) and analog model.
"""

import warnings

import pytest
import torch

import hxgraph.spiking as hxsnn
from hxgraph.chip import AnalogModel, Calibration
from hxgraph.chip.spec import HICANN_X
from hxgraph.errors import ParameterError
from hxgraph.spiking.morphology import SingleCompartmentNeuron
from hxgraph.spiking.utils.dynamic_range.boundary import get_dynamic_range
from hxgraph.spiking.utils.dynamic_range.helper import ConstantCurrentNeuron, ConstantCurrentType
from hxgraph.spiking.utils.dynamic_range.threshold import get_trace_scaling
from hxgraph.spiking.utils.dynamic_range.weight_scaling import WeightScaling, get_weight_scaling

M = hxsnn.MixedHXModelParameter
PARAMS = {"threshold": M(1., 125), "leak": M(0., 80), "reset": M(0., 80), "tau_mem": 10e-6, "tau_syn": 10e-6}


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the consistency check notes the mixed leak/threshold values
        yield


def test_dynamic_range_is_what_hxtorch_measures_on_the_real_chip():
    base, upper, lower = get_dynamic_range()
    assert abs(base + 45) < 0.2 * 45 and abs(upper - 100) < 0.2 * 100 and abs(lower + 103) < 0.2 * 102
    # and what the emulated chip is: the leak at 80 CADC, rails at the analog model's membrane_range
    low, high = AnalogModel().membrane_range
    assert abs(float(base) - (Calibration().leak - 128)) < 1.0
    assert abs(float(upper) - (high - 128)) < 1.0 and abs(float(lower) - (low - 128)) < 1.0


def test_dynamic_range_of_a_chip_without_rails_is_the_cadcs():
    base, upper, lower = get_dynamic_range(analog=AnalogModel.ideal())
    assert float(base) == Calibration().leak - 128 and float(upper) == 127 and float(lower) == -128


def test_a_two_circuit_neuron_is_charged_by_one_source_on_twice_the_capacitance():
    # As in hxtorch, only the first circuit's source is on: the membrane settles at leak ± I/(2C)·tau.
    base, upper, lower = get_dynamic_range(neuron_structure=SingleCompartmentNeuron(2), analog=AnalogModel.ideal(),
                                           params={"tau_mem": 10e-6})
    swing = 1000 * HICANN_X.constant_current_slew * 10e-6 / 2
    assert abs(float(upper - base) - swing) <= 1.0 and float(lower) == -128


def test_trace_scaling_is_what_hxtorch_measures_and_near_the_chips_threshold():
    scale = float(get_trace_scaling(params={"threshold": M(1., 125), "tau_mem": 10e-6, "tau_syn": 10e-6}))
    assert abs(scale - 1 / 45) < 0.007
    # The method reads the highest CADC sample interpolated onto the grid: a little under the threshold.
    assert 1 / 45 <= scale < 1 / 45 * 1.2


def test_weight_sweep_on_the_ideal_chip_finds_the_calibrated_synaptic_gain():
    scale, scales, hw, sw, hw_amps, sw_amps = WeightScaling(PARAMS, analog=AnalogModel.ideal()).run(weight_step=10)
    # model PSP per model weight over chip PSP (CADC) per hardware weight = 1 / synapse gain
    assert abs(float(scale) - 1 / Calibration().synapse_gain) < 0.01 / Calibration().synapse_gain
    assert scales.shape == (512,) and hw_amps.shape == (10, 512) and sw_amps.shape == (21, 512)
    assert bool((hw_amps[:5] < 0).all()) and bool((hw_amps[5:] > 0).all())  # inhibitory, then excitatory


def test_weight_scaling_is_near_the_calibrated_scale():
    scale = float(get_weight_scaling(PARAMS, weight_step=4))
    # threshold 45 CADC over 1 model unit: the calibrated scale is 45 / synapse gain; the threshold
    # measurement reads a little low, so the measured scale is somewhat lower.
    expected = 45 / Calibration().synapse_gain
    assert 0.75 * expected < scale < 1.02 * expected


def test_constant_current_neurons_behave_like_lif_in_the_mock():
    exp = hxsnn.Experiment(mock=True)
    syn = hxsnn.Synapse(1, 3, exp)
    lif = ConstantCurrentNeuron(3, exp)
    lif.current_type = ConstantCurrentType.sink
    h = lif(syn(hxsnn.LIFObservables(spikes=torch.zeros(10, 1, 1))))
    hxsnn.run(exp, 10)
    assert torch.equal(h.membrane_cadc, torch.full((10, 1, 3), 80.0))
    assert lif.constant_current_code() == -1000
    lif.current_type = "drain"
    with pytest.raises(Exception, match="current_type"):
        lif.constant_current_code()


def test_a_calibration_file_cannot_be_loaded_into_the_emulated_chip():
    with pytest.raises(ParameterError, match="calibrations of a real chip"):
        get_dynamic_range(calib_path="calib.pbin")
