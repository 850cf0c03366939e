"""hxgraph.spiking.AELIF and functional.cuba_aelif_integration against hxtorch's documented AELIF.

hxtorch's AELIF.forward_func calls cuba_aelif_integration with c_mem = membrane_capacitance,
g_l = c_mem / tau_mem and its flags; the step is CuBaStepCode's (written out literally in
`hxtorch_step_loop` below, from hxtorch's step_integration_code_factory.py).
"""

import warnings

import pytest
import torch

import hxgraph.spiking as hxsnn
import hxgraph.spiking.functional as F
from hxgraph.errors import ParameterError
from hxgraph.spiking.handles import Handle

M = hxsnn.MixedHXModelParameter


def hxtorch_step_loop(x, *, leak, reset, threshold, tau_syn, c, g_l, refractory_time, exp_slope, exp_threshold, a, b,
                      tau_adap, dt):
    """hxtorch's generated AELIF step with every term on (refractory included), per its docstring."""
    i = torch.zeros_like(x[0])
    z = torch.zeros_like(x[0])
    adaptation = torch.zeros_like(x[0])
    v = torch.full_like(x[0], leak)
    ref = torch.zeros_like(x[0])
    out = []
    for ts in range(x.shape[0]):
        dv = dt / c * (i + g_l * (leak - v) + g_l * exp_slope * torch.exp((v - exp_threshold) / exp_slope) - adaptation)
        i = i * (1 - dt / tau_syn) + x[ts]
        v = v + dv
        z = (v > threshold).to(v.dtype)
        adaptation = adaptation * (1 - dt / tau_adap) + dt / tau_adap * a * (v - leak) + b * z
        v = (1 - z) * v + z * reset
        # refractory_update: clamp and silence while counting
        m = (ref > 0).to(v.dtype)
        v = (1 - m) * v + m * reset
        z = (1 - m) * z
        ref = (1 - z) * torch.relu(ref - m) + z * refractory_time / dt
        out.append((v, i, adaptation, z))
    return [torch.stack(t) for t in zip(*out)]


PARAMS = dict(leak=0., reset=-0.2, threshold=1., tau_syn=5e-6, c=10e-6, g_l=10e-6 / 8e-6, refractory_time=2e-6,
              exp_slope=0.1, exp_threshold=0.8, a=0.0, b=0.3, tau_adap=40e-6, dt=1e-6)


def test_cuba_aelif_integration_is_hxtorchs_step():
    torch.manual_seed(0)
    x = torch.rand(60, 3, 4, dtype=torch.float64) * 0.6
    v, madc, i, w, w_madc, z = F.cuba_aelif_integration(
        x, leak=PARAMS["leak"], reset=PARAMS["reset"], threshold=PARAMS["threshold"], tau_syn=PARAMS["tau_syn"],
        c_mem=PARAMS["c"], g_l=PARAMS["g_l"], refractory_time=PARAMS["refractory_time"], method="superspike",
        alpha=50., exp_slope=PARAMS["exp_slope"], exp_threshold=PARAMS["exp_threshold"],
        subthreshold_adaptation_strength=PARAMS["a"], spike_triggered_adaptation_increment=PARAMS["b"],
        tau_adap=PARAMS["tau_adap"], dt=PARAMS["dt"], refractory=True, exponential=True, subthreshold_adaptation=True,
        spike_triggered_adaptation=True, integration_step_code="(hxtorch's generated code)")
    rv, ri, rw, rz = hxtorch_step_loop(x, **PARAMS)
    assert z.sum() > 5 and madc is None and w_madc is None
    assert torch.equal(z, rz)
    assert torch.allclose(v, rv, atol=1e-9) and torch.allclose(i, ri) and torch.allclose(w, rw, atol=1e-9)


def test_flags_switch_terms_off_as_in_hxtorch():
    x = torch.rand(40, 2, 3, dtype=torch.float64)
    common = dict(leak=0., reset=0., threshold=1., c_mem=10e-6, g_l=1.25, exp_slope=0.1, exp_threshold=0.8,
                  subthreshold_adaptation_strength=0.5, spike_triggered_adaptation_increment=0.3)
    plain = F.cuba_aelif_integration(x, **common)  # hxtorch's defaults: every optional term off
    lif = F.cuba_lif_integration(x, leak=0., reset=0., threshold=1., tau_mem=10e-6 / 1.25, refractory_time=0.,
                                 membrane_capacitance=10e-6)
    assert torch.equal(plain[5], lif[0]) and torch.allclose(plain[0], lif[1]) and not bool(plain[3].any())
    not_firing = F.cuba_aelif_integration(x * 5, fire=False, **common)
    assert not bool(not_firing[5].any())
    not_leaky = F.cuba_aelif_integration(torch.zeros_like(x), leaky=False, **common)
    assert not bool(not_leaky[0].any())  # v starts at 0 and nothing moves it


def test_aelif_module_runs_hxtorchs_equations_in_the_mock():
    torch.manual_seed(1)
    exp = hxsnn.Experiment(mock=True)
    syn = hxsnn.Synapse(5, 4, exp)
    neuron = hxsnn.AELIF(4, exp, leak=0., reset=-0.2, threshold=1., tau_mem=8e-6, tau_syn=5e-6,
                         refractory_time=2e-6, exponential_slope=0.1, exponential_threshold=0.8,
                         subthreshold_adaptation_strength=0.0, spike_triggered_adaptation_increment=0.3, tau_adap=40e-6)
    torch.nn.init.uniform_(syn.weight, 0.0, 0.3)
    spikes = (torch.rand(60, 3, 5) < 0.4).float()
    h = neuron(syn(hxsnn.LIFObservables(spikes=spikes)))
    hxsnn.run(exp, 60)
    assert isinstance(h, hxsnn.AELIFObservables) and h.spikes.sum() > 5
    x = (spikes @ syn.weight.detach().T).double()
    rv, ri, rw, rz = hxtorch_step_loop(x, **PARAMS)
    assert torch.equal(h.spikes.double(), rz)
    assert torch.allclose(h.membrane_cadc.double(), rv, atol=1e-4)
    assert torch.allclose(h.adaptation_cadc.double(), rw, atol=1e-4)


def test_switched_off_terms_are_zero_in_the_graph_on_model_and_chip():
    exp = hxsnn.Experiment(mock=True)
    neuron = hxsnn.AELIF(3, exp, exponential=False, subthreshold_adaptation=False, spike_triggered_adaptation=True)
    params = neuron.population().params
    model = {k: float(getattr(v, "model", v)) for k, v in params.items()}
    hardware = {k: float(getattr(v, "hardware", v)) for k, v in params.items()}
    assert model["exp_slope"] == hardware["exp_slope"] == 0.0 and model["a"] == hardware["a"] == 0.0
    assert model["b"] == 1.0
    assert neuron.adaptation and neuron.population().model == "adex"


@pytest.mark.parametrize("kwargs, words", [
    (dict(leaky=False), "leaky=False"), (dict(fire=False), "fire=False"),
    (dict(cadc_readout_source="adaptation"), "cadc_readout_source"), (dict(leak_adaptation=70.), "leak_adaptation"),
    (dict(chip_coordinate=3), "another chip"), (dict(tau_adap=-1.), "tau_adap"),
])
def test_unsupported_aelif_settings_are_refused(kwargs, words):
    exp = hxsnn.Experiment(mock=True)
    with pytest.raises(ParameterError, match=words):
        hxsnn.AELIF(3, exp, **kwargs)
    assert not exp.modules  # nothing half-registered


def test_aelif_on_the_emulated_chip_spikes_like_the_mock():
    weight = torch.randint(0, 40, (6, 5), generator=torch.Generator().manual_seed(2)).float() / 70.
    results = {}
    for mock in (True, False):
        exp = hxsnn.Experiment(mock=mock, analog=hxsnn.experiment.AnalogModel.ideal() if not mock else None)
        syn = hxsnn.Synapse(5, 6, exp, transform=lambda w: torch.clamp(w * 70., -63, 63))
        neuron = hxsnn.AELIF(6, exp, leak=M(0., 80), reset=M(0., 80), threshold=M(1., 80 + 1 / 0.0147),
                             exponential_threshold=M(0.8, 80 + 0.8 / 0.0147), exponential_slope=M(0.1, 0.1 / 0.0147),
                             subthreshold_adaptation_strength=0.5, spike_triggered_adaptation_increment=M(0.2, 0.2 / 0.0147),
                             trace_scale=0.0147, trace_offset=80 - 128)
        with torch.no_grad():
            syn.weight.copy_(weight)
        spikes = (torch.rand(40, 2, 5, generator=torch.Generator().manual_seed(3)) < 0.3).float()
        h = neuron(syn(hxsnn.LIFObservables(spikes=spikes)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hxsnn.run(exp, 40)
        results[mock] = h
    assert results[True].spikes.sum() > 0
    assert torch.equal(results[True].spikes, results[False].spikes)
    assert results[False].adaptation_cadc is None and results[True].adaptation_cadc is not None
