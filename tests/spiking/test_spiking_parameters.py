"""Neuron parameters: model values reach the mock, hardware values the chip, also after the first run."""

import math

import pytest
import torch
from spiking_helpers import TAU, ideal_chip, small_net, spikes

import hxgraph as hx
import hxgraph.spiking as hxsnn
from hxgraph.spiking import HXParameter, HXTransformedModelParameter, MixedHXModelParameter, ModelParameter


def circuit_values(exp: hxsnn.Experiment, population: str, key: str) -> torch.Tensor:
    circuits = exp.mapping.config.neuron_circuits[population][:, 0]
    return exp.mapping.config.circuit_params[key][circuits]


def test_parameter_types_become_graph_values():
    exp = hxsnn.Experiment(mock=True)
    lif = hxsnn.LIF(3, exp, leak=ModelParameter(0.5), reset=HXParameter(70.), threshold=MixedHXModelParameter(1., 150.),
                    tau_mem=HXTransformedModelParameter(6e-6, lambda v: 2 * v), tau_syn=8e-6)
    params = lif.population().params
    assert params["leak"] == hx.Mixed(0.5, 0.5)       # hxtorch's ModelParameter: the chip gets the model value
    assert params["reset"] == hx.Mixed(70., 70.)       # hardware value, model equal: the chip gets 70 as given
    assert params["threshold"] == hx.Mixed(1., 150.)
    assert params["tau_mem"] == hx.Mixed(6e-6, 12e-6)  # hardware = func(model)
    assert params["tau_syn"] == 8e-6                   # a number: both
    assert params["capacitance"] == hx.Mixed(10e-6, 63.)
    assert params["refractory_time"] == 1e-6 and params["alpha"] == 50.


def test_model_values_reach_the_mock_and_hardware_values_the_chip():
    x = spikes(batch=2)
    results = {}
    for mock in (True, False):
        exp = hxsnn.Experiment(mock=mock, analog=hx.chip.AnalogModel.ideal())
        syn, lif, out, li = small_net(exp, threshold=MixedHXModelParameter(1., 150.))
        hidden = lif(syn(hxsnn.LIFObservables(spikes=x)))
        li(out(hidden))
        hxsnn.run(exp, 20)
        results[mock] = (exp, hidden.membrane_cadc.detach(), syn)
    exp, membrane, syn = results[True]
    assert float(membrane.max()) <= 1.0 + 1e-6 and float(membrane.min()) > -1.0  # model units (threshold 1)
    reference = hx.mock(hx.Graph("ref", 1e-6, exp.last_graph.populations.values(), [
        hx.Projection(p.name, p.source, p.target, p.connectivity, p.weight.detach().clone())
        for p in exp.last_graph.projections.values()]))({"synapse_0_input": x})
    torch.testing.assert_close(membrane, reference["lif_0"].membrane)
    chip, chip_membrane, _ = results[False]
    assert bool((circuit_values(chip, "lif_0", "threshold") == 150.).all())
    assert bool((circuit_values(chip, "lif_0", "leak") == 80.).all())
    assert bool((circuit_values(chip, "li_0", "tau_mem") == TAU).all())
    assert -58 < float(chip_membrane[0].mean()) < -38  # raw CADC value (hxtorch's code − 128) around the leak 80


def test_a_changed_parameter_reaches_the_chip_after_the_first_run_without_rerouting():
    exp = ideal_chip()
    syn, lif, out, li = small_net(exp)
    x = spikes(batch=2, rate=0.3)

    def step():
        hidden = lif(syn(hxsnn.LIFObservables(spikes=x)))
        li(out(hidden))
        hxsnn.run(exp, 20)
        return float(hidden.spikes.detach().sum())

    before = step()
    lif.threshold = MixedHXModelParameter(1., 220.)  # hxtorch would keep the old calibration
    assert lif.changed_since_last_run
    after = step()
    assert bool((circuit_values(exp, "lif_0", "threshold") == 220.).all())
    assert exp.mapping.reused == "placement and routing" and exp._session.placements == 1
    assert after < before
    lif.threshold.hardware_value = torch.linspace(140., 160., 6)  # per-neuron values, changed in place
    step()
    torch.testing.assert_close(circuit_values(exp, "lif_0", "threshold"), torch.linspace(140., 160., 6).double())


@pytest.mark.parametrize("parameter", [HXParameter(1.), MixedHXModelParameter(1., 2.), ModelParameter(1.),
                                       HXTransformedModelParameter(1., math.exp)])
def test_make_trainable_raises_instead_of_silently_doing_nothing(parameter):
    with pytest.raises(hx.ParameterError, match="not supported"):
        parameter.make_trainable()


def test_invalid_parameters_name_the_module_and_what_is_valid():
    exp = hxsnn.Experiment(mock=True)
    with pytest.raises(hx.ParameterError, match=r"LIF.*tau_mem.*> 0"):
        hxsnn.LIF(3, exp, tau_mem=-1.)
    with pytest.raises(hx.ParameterError, match="method must be 'superspike'"):
        hxsnn.LIF(3, exp, method="eventprop")
    with pytest.raises(hx.ParameterError, match="interpolation_mode"):
        hxsnn.LI(3, exp, interpolation_mode="cubic")
    with pytest.raises(hx.ParameterError, match="per-neuron tensor"):
        hxsnn.LI(3, exp, trace_offset={0: 1.})
    with pytest.raises(hx.ParameterError, match="hw_routing_func"):
        hxsnn.Experiment(hw_routing_func=lambda: None)
    with pytest.raises(hx.ParameterError, match="HXTransformedModelParameter"):
        HXTransformedModelParameter(1., 2.)
    assert exp.modules == ()


def test_module_parameters_are_parameter_objects_like_hxtorchs():
    exp = hxsnn.Experiment(mock=True)
    lif = hxsnn.LIF(3, exp, leak=0.0, threshold=MixedHXModelParameter(1., 150.))
    assert isinstance(lif.leak, HXParameter) and lif.leak.model_value == lif.leak.hardware_value == 0.0
    assert lif.threshold.hardware_value == 150. and not lif.threshold.is_trainable()
    lif.threshold.model_value = 0.8  # edits reach the graph at the next recording
    assert lif.population().params["threshold"] == hx.Mixed(0.8, 150.)
    lif.reset = -0.2  # plain assignment wraps too
    assert isinstance(lif.reset, HXParameter) and lif.population().params["reset"] == hx.Mixed(-0.2, -0.2)
    params = lif.params_dict()
    assert {"leak", "reset", "threshold", "tau_mem", "tau_syn", "membrane_capacitance", "refractory_time",
            "i_synin_gm", "synapse_dac_bias", "holdoff_time"} <= set(params)
    assert all(isinstance(p, hxsnn.HXBaseParameter) for p in params.values())
    lif.scale, lif.offset = 0.5, -48.
    assert (lif.trace_scale, lif.trace_offset) == (0.5, -48.)
    model_only = hxsnn.ModelParameter(2.0)
    model_only.hardware_value = 3.0
    assert model_only.model_value == 3.0
