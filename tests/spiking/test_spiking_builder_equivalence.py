"""The same network via the fluent builder and via hxgraph.spiking: same structure hash, same mock outputs."""

import pytest
import torch
from spiking_helpers import spikes

import hxgraph as hx
import hxgraph.spiking as hxsnn
from hxgraph.spiking import MixedHXModelParameter as Mixed


@pytest.mark.parametrize("sparse", [False, True])
def test_builder_and_modules_give_the_same_graph_hash_and_mock_outputs(sparse):
    torch.manual_seed(0)
    mask = torch.rand(12, 3) < 0.5
    exp = hxsnn.Experiment(mock=True)
    syn = hxsnn.Synapse(5, 12, exp)
    lif = hxsnn.LIF(12, exp, leak=Mixed(0., 80.), reset=Mixed(0., 80.), threshold=Mixed(1., 150.), tau_mem=6e-6,
                    tau_syn=6e-6)
    out = hxsnn.SparseSynapse(mask, exp) if sparse else hxsnn.Synapse(12, 3, exp)
    li = hxsnn.LI(3, exp, leak=Mixed(0., 80.), tau_mem=6e-6, tau_syn=6e-6)
    with torch.no_grad():
        syn.weight.normal_(1.0, 0.5)
    x = spikes(steps=30, batch=4, size=5, rate=0.15)
    hidden = lif(syn(hxsnn.LIFObservables(spikes=x)))
    readout = li(out(hidden))
    graph = exp.graph
    hxsnn.run(exp, 30)

    # The naming rule: populations and projections carry the module names; an implicit
    # input population is named after the synapse it feeds.
    builder = (hx.Experiment("built")
               .input("synapse_0_input", 5)
               .lif("lif_0", 12, leak=hx.Mixed(0., 80.), reset=hx.Mixed(0., 80.), threshold=hx.Mixed(1., 150.),
                    tau_mem=6e-6, tau_syn=6e-6)
               .li("li_0", 3, leak=hx.Mixed(0., 80.), tau_mem=6e-6, tau_syn=6e-6)
               .dense("synapse_0_input", "lif_0", name="synapse_0", weight=syn.weight.detach()))
    out_name = "sparse_synapse_0" if sparse else "synapse_1"
    if sparse:
        builder.sparse("lif_0", "li_0", mask, name=out_name, weight=out.weight_values.detach())
    else:
        builder.dense("lif_0", "li_0", name=out_name, weight=out.weight.detach())
    built = builder.graph
    assert built.structure_hash() == graph.structure_hash()
    assert list(built.populations.values()) == list(graph.populations.values())  # same parameters too
    reference = hx.mock(built)({"synapse_0_input": x})
    torch.testing.assert_close(hidden.spikes, reference["lif_0"].spikes)
    torch.testing.assert_close(hidden.membrane_cadc, reference["lif_0"].membrane)
    torch.testing.assert_close(readout.membrane_cadc, reference["li_0"].membrane)
    assert float(hidden.spikes.detach().sum()) > 0


def test_the_hash_is_stable_across_steps_and_changes_with_the_topology():
    exp = hxsnn.Experiment(mock=True)
    syn, lif = hxsnn.Synapse(4, 3, exp), hxsnn.LIF(3, exp)
    rec = hxsnn.Synapse(3, 3, exp)
    hashes = []
    for _ in range(2):
        lif(syn(hxsnn.LIFObservables(spikes=spikes())))
        hashes.append(exp.graph.structure_hash())
        hxsnn.run(exp, 20)
    assert hashes[0] == hashes[1]
    wrapper = hxsnn.HXModuleWrapper(exp, lif=lif, rec=rec, syn=syn)
    h = lif(syn(hxsnn.LIFObservables(spikes=spikes())))
    lif(rec(h))
    wrapper()
    assert exp.graph.structure_hash() != hashes[0]
    hxsnn.run(exp, 20)
