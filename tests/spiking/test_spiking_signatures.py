"""Constructors take hxtorch's arguments in hxtorch's positional order (hxtorch.spiking's modules as published)."""

import inspect

import pytest
import torch
from spiking_helpers import ideal_chip, spikes

import hxgraph as hx
import hxgraph.spiking as hxsnn

# Positional parameters of hxtorch.spiking's constructors (src/pyhxtorch/hxtorch/spiking/modules/*.py).
HXTORCH = {
    hxsnn.LIF: ["size", "experiment", "leak", "reset", "threshold", "tau_mem", "tau_syn", "i_synin_gm",
                "membrane_capacitance", "refractory_time", "synapse_dac_bias", "holdoff_time", "method", "alpha",
                "execution_instance", "enable_spike_recording", "enable_cadc_recording",
                "enable_cadc_recording_placement_in_dram", "enable_madc_recording", "record_neuron_id",
                "placement_constraint", "trace_offset", "trace_scale", "cadc_time_shift", "shift_cadc_to_first",
                "interpolation_mode", "neuron_structure"],
    hxsnn.LI: ["size", "experiment", "leak", "tau_mem", "tau_syn", "i_synin_gm", "membrane_capacitance",
               "synapse_dac_bias", "execution_instance", "enable_cadc_recording",
               "enable_cadc_recording_placement_in_dram", "enable_madc_recording", "record_neuron_id",
               "placement_constraint", "trace_offset", "trace_scale", "cadc_time_shift", "shift_cadc_to_first",
               "interpolation_mode", "neuron_structure"],
    hxsnn.Synapse: ["in_features", "out_features", "experiment", "execution_instance", "chip_coordinate", "device",
                    "dtype", "transform", "plasticity_rule"],
    hxsnn.InputNeuron: ["size", "experiment", "execution_instance", "chip_coordinate"],
}


@pytest.mark.parametrize("cls", list(HXTORCH), ids=lambda c: c.__name__)
def test_positional_parameters_are_hxtorchs(cls):
    params = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD][1:]
    assert [p.name for p in params] == HXTORCH[cls]


def test_positional_calls_mean_what_they_mean_in_hxtorch():
    exp = hxsnn.Experiment(mock=True)
    lif = hxsnn.LIF(3, exp, 0.0, 0.1, 1.0, 6e-6, 5e-6)
    values = tuple(p.model_value for p in (lif.leak, lif.reset, lif.threshold, lif.tau_mem, lif.tau_syn))
    assert values == (0.0, 0.1, 1.0, 6e-6, 5e-6)
    syn = hxsnn.Synapse(2, 3, exp, None, None, "cpu", torch.float64)
    assert syn.weight.dtype == torch.float64
    assert hxsnn.InputNeuron(4, exp, None, None).size == 4


def test_the_default_capacitance_follows_its_model_value_like_hxtorchs():
    exp = hxsnn.Experiment(mock=True)
    lif, other = hxsnn.LIF(2, exp), hxsnn.LIF(2, exp)
    assert lif.population().params["capacitance"] == hx.Mixed(10e-6, 63.0)
    lif.membrane_capacitance.model_value = 5e-6  # hxtorch: HXTransformedModelParameter(10e-6, m / 10e-6 * 63)
    assert lif.population().params["capacitance"] == hx.Mixed(5e-6, 31.5)
    assert other.population().params["capacitance"] == hx.Mixed(10e-6, 63.0)  # its own default object


def test_analog_bias_arguments_are_kept_and_reported_when_they_would_matter():
    exp = hxsnn.Experiment(mock=True)
    lif = hxsnn.LIF(2, exp, i_synin_gm=500, synapse_dac_bias=600, holdoff_time=0.0)  # hxtorch's defaults: silent
    assert [p.hardware_value for p in (lif.i_synin_gm, lif.synapse_dac_bias, lif.holdoff_time)] == [500, 600, 0.0]
    with pytest.warns(UserWarning, match="i_synin_gm=320 is kept for hxtorch compatibility but the emulated chip does "
                                         "not model it"):
        li = hxsnn.LI(2, exp, i_synin_gm=320)
    assert li.i_synin_gm.hardware_value == 320
    with pytest.raises(hx.ParameterError, match="plasticity rules run on the chip's embedded processors"):
        hxsnn.Synapse(2, 2, exp, plasticity_rule=object())
    with pytest.raises(hx.ParameterError, match="emulates one chip"):
        hxsnn.Synapse(2, 2, exp, chip_coordinate=1)


def test_cadc_recording_in_dram_lifts_the_hundred_sample_limit():
    results = {}
    for dram in (False, True):
        exp = ideal_chip()
        syn = hxsnn.Synapse(3, 2, exp)
        li = hxsnn.LI(2, exp, leak=hxsnn.MixedHXModelParameter(0., 80.),
                      enable_cadc_recording_placement_in_dram=dram)
        out = li(syn(hxsnn.LIFObservables(spikes=spikes(steps=300, size=3))))
        if not dram:
            with pytest.raises(hx.InputError, match="at most 100 per run"):
                hxsnn.run(exp, 300)
            continue
        hxsnn.run(exp, 300)
        results[dram] = out.membrane_cadc
    assert results[True].shape == (300, 3, 2)
