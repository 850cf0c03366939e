"""hxtorch's NIR functions on hxgraph.spiking: export a trained model, import it back, same outputs."""

import pytest
import torch
from spiking_helpers import spikes

import hxgraph as hx
import hxgraph.spiking as hxsnn

nir = pytest.importorskip("nir", reason="NIR support is optional: pip install 'hxgraph[nir]'")


class SNN(torch.nn.Module):
    """hxtorch's to_nir base: an `exp` attribute and a forward that runs it."""

    def __init__(self):
        super().__init__()
        self.exp = hxsnn.Experiment(mock=True)
        self.syn_h = hxsnn.Synapse(4, 6, self.exp)
        self.lif = hxsnn.LIF(6, self.exp, leak=hxsnn.MixedHXModelParameter(0., 80.),
                             reset=hxsnn.MixedHXModelParameter(0., 80.),
                             threshold=hxsnn.MixedHXModelParameter(1., 150.), tau_mem=6e-6, tau_syn=6e-6)
        self.syn_o = hxsnn.Synapse(6, 2, self.exp)
        self.li = hxsnn.LI(2, self.exp, leak=hxsnn.MixedHXModelParameter(0., 80.), tau_mem=6e-6, tau_syn=6e-6)
        with torch.no_grad():
            self.syn_h.weight.normal_(0.8, 0.3, generator=torch.Generator().manual_seed(1))

    def forward(self, x):
        hidden = self.lif(self.syn_h(hxsnn.LIFObservables(spikes=x)))
        out = self.li(self.syn_o(hidden))
        hxsnn.run(self.exp, x.shape[0])
        self.hidden = hidden
        return out.membrane_cadc


def test_to_nir_writes_hxtorchs_conventions_and_from_nir_gives_the_same_network():
    snn = SNN()
    x = spikes(size=4, batch=3, rate=0.3)
    graph = hxsnn.to_nir(snn, x)
    assert isinstance(graph, nir.NIRGraph)
    lif = graph.nodes["lif_0"]
    assert isinstance(lif, nir.CubaLIF) and float(lif.tau_mem[0]) == pytest.approx(6e-3)  # ms, as hxtorch
    assert float(lif.r[0]) == pytest.approx(6e-6 / 10e-6)
    model = hxsnn.from_nir(graph, hxsnn.ConversionConfig(dt=1e-6, mock=True))
    out = model({"synapse_0_input": x})
    assert set(out) == {"synapse_0_input", "lif_0"}  # the spiking nodes, by key
    assert torch.equal(out["lif_0"], snn.hidden.spikes) and float(out["lif_0"].sum()) > 0
    lif_module = model.hxnodes["lif_0"]
    assert lif_module.threshold.hardware_value == 150. and lif_module.leak.hardware_value == 80.
    assert model.hxnodes["synapse_0"].weight_transform.keywords["scale"] == 64.  # cfg.weight_scale
    data = hxsnn.to_nir_data(out, model)
    back = hxsnn.from_nir_data(data, model)
    assert torch.equal(back["lif_0"], out["lif_0"])


def test_plain_hxtorch_style_nir_loads_with_hxtorchs_units_and_defaults():
    tau = 6e-3  # ms
    weight = torch.full((3, 2), 0.5).numpy()
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type=torch.tensor([2]).numpy()),
        nir.Linear(weight=weight),
        nir.CubaLIF(tau_mem=torch.full((3,), tau).numpy(), tau_syn=torch.full((3,), tau).numpy(),
                    r=torch.full((3,), 0.6).numpy(), v_leak=torch.zeros(3).numpy(),
                    v_reset=torch.zeros(3).numpy(), v_threshold=torch.ones(3).numpy()))
    model = hxsnn.from_nir(graph)
    lif = [m for m in model.hxnodes.values() if isinstance(m, hxsnn.LIF)][0]
    assert lif.tau_mem.model_value == pytest.approx(6e-6)
    assert lif.membrane_capacitance.model_value == pytest.approx(6e-6 / 0.6)  # C = tau_mem / r
    assert lif.membrane_capacitance.hardware_value == pytest.approx(63.)
    assert lif.refractory_time.model_value == 1e-6  # hxtorch's LIF default: NIR has no refractory time
    with pytest.raises(hx.ParameterError, match="calibration of a real chip"):
        hxsnn.from_nir(graph, hxsnn.ConversionConfig(calib_path="calix.pbin"))


def test_from_nir_refuses_a_recurrent_graph_naming_the_projection_that_closes_the_cycle():
    tau = torch.full((3,), 6e-3).numpy()
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=torch.tensor([2]).numpy()),
               "in_lin": nir.Linear(weight=torch.full((3, 2), 0.5).numpy()),
               "lif": nir.CubaLIF(tau_mem=tau, tau_syn=tau, r=torch.full((3,), 0.6).numpy(),
                                  v_leak=torch.zeros(3).numpy(), v_reset=torch.zeros(3).numpy(),
                                  v_threshold=torch.ones(3).numpy()),
               "rec": nir.Linear(weight=torch.full((3, 3), 0.1).numpy()),
               "output": nir.Output(output_type=torch.tensor([3]).numpy())},
        edges=[("input", "in_lin"), ("in_lin", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")])
    with pytest.raises(hx.GraphError, match="closes a cycle.*feed-forward"):
        hxsnn.from_nir(graph)
