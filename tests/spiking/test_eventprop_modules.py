"""hxtorch's EventProp names in hxgraph.spiking: modules run the event-exact model with exact gradients."""

from functools import partial

import pytest
import torch

import hxgraph as hx
import hxgraph.spiking as hxsnn
from hxgraph.mock import eventprop
from hxgraph.spiking import MixedHXModelParameter as Mixed
from hxgraph.spiking import functional as F
from hxgraph.spiking.transforms.weight_transforms import linear_saturating

from spiking_helpers import TAU, ideal_chip, spikes


def eventprop_net(experiment, synapse=hxsnn.EventPropSynapse, neuron=hxsnn.EventPropLIF):
    """hxtorch's yin-yang layout with EventProp: EventPropSynapse → EventPropLIF → Synapse → LI."""
    transform = partial(linear_saturating, scale=64.)
    syn = synapse(4, 6, experiment, transform=transform)
    lif = neuron(6, experiment, leak=Mixed(0., 80.), reset=Mixed(0., 80.), threshold=Mixed(1., 150.),
                 tau_mem=TAU, tau_syn=TAU)
    out = hxsnn.Synapse(6, 2, experiment, transform=transform)
    li = hxsnn.LI(2, experiment, leak=Mixed(0., 80.), tau_mem=TAU, tau_syn=TAU)
    with torch.no_grad():
        syn.weight.normal_(0.9, 0.3, generator=torch.Generator().manual_seed(1))
        out.weight.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(2))
    return syn, lif, out, li


def forward(experiment, modules, x):
    syn, lif, out, li = modules
    h = lif(syn(hxsnn.LIFObservables(spikes=x)))
    y = li(out(h))
    hxsnn.run(experiment, x.shape[0])
    return h, y


def test_eventprop_modules_have_lif_and_synapse_signatures_and_are_subclasses():
    assert issubclass(hxsnn.EventPropLIF, hxsnn.LIF) and issubclass(hxsnn.EventPropSynapse, hxsnn.Synapse)
    exp = hxsnn.Experiment(mock=True, dt=1e-6)
    lif = hxsnn.EventPropLIF(3, exp, 0., 0., 1., TAU, TAU)  # hxtorch's positional order
    assert (lif.leak.model_value, lif.threshold.model_value, lif.tau_mem.model_value) == (0., 1., TAU)


def test_a_run_of_eventprop_modules_is_the_event_exact_model_with_its_gradients():
    x = spikes(steps=25, batch=3, size=4, rate=0.25, seed=3)
    exp = hxsnn.Experiment(mock=True, dt=1e-6)
    modules = eventprop_net(exp)
    h, y = forward(exp, modules, x)
    assert h.spikes.sum() > 0
    y.membrane_cadc.amax(0).pow(2).sum().backward()
    syn, _, out, _ = modules
    assert syn.weight.grad.abs().sum() > 0 and out.weight.grad.abs().sum() > 0
    # The same graph (its weights are the modules' parameters) through hx.mock(gradient="eventprop").
    graph = exp._last_graph
    expected = {m.name: m.weight.grad.clone() for m in (syn, out)}
    syn.weight.grad, out.weight.grad = None, None
    run = hx.mock(graph, gradient="eventprop")({graph.inputs[0].name: x})
    assert torch.equal(run[h._owner.name].spikes, h.spikes.detach())
    assert torch.allclose(run[y._owner.name].membrane, y.membrane_cadc.detach())
    run[y._owner.name].membrane.amax(0).pow(2).sum().backward()
    assert torch.allclose(syn.weight.grad, expected[syn.name], rtol=1e-5, atol=1e-7)
    assert torch.allclose(out.weight.grad, expected[out.name], rtol=1e-5, atol=1e-7)


def test_a_plain_synapse_in_front_of_an_eventprop_lif_is_the_same():
    x = spikes(steps=25, batch=2, size=4, rate=0.25, seed=4)
    results = []
    for synapse in (hxsnn.EventPropSynapse, hxsnn.Synapse):
        exp = hxsnn.Experiment(mock=True, dt=1e-6)
        h, y = forward(exp, eventprop_net(exp, synapse=synapse), x)
        results.append((h.spikes, y.membrane_cadc))
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])


def test_mixing_eventprop_and_surrogate_neurons_is_an_error():
    exp = hxsnn.Experiment(mock=True, dt=1e-6)
    syn, lif, _, _ = eventprop_net(exp)
    other = hxsnn.LIF(3, exp)
    link = hxsnn.Synapse(6, 3, exp)
    other(link(lif(syn(hxsnn.LIFObservables(spikes=spikes(size=4))))))
    with pytest.raises(hx.GraphError, match="one run computes its gradients one way"):
        hxsnn.run(exp, 20)


def test_eventprop_modules_run_on_the_emulated_chip_with_model_gradients():
    x = spikes(steps=25, batch=2, size=4, rate=0.3, seed=5)
    exp = ideal_chip(dt=1e-6)
    modules = eventprop_net(exp)
    h, y = forward(exp, modules, x)
    assert y.membrane_cadc is not None and h.spikes.shape == (25, 2, 6)
    y.membrane_cadc.amax(0).sum().backward()
    assert torch.isfinite(modules[0].weight.grad).all() and modules[2].weight.grad.abs().sum() > 0


def test_functional_eventprop_is_one_event_exact_layer():
    x = spikes(steps=20, batch=2, size=3, rate=0.3, seed=6)
    w = torch.full((4, 3), 2.0, requires_grad=True)
    stacked = F.EventPropSynapseFunction.apply(x, w)
    assert stacked.shape == (2, 20, 2, 4) and torch.equal(stacked[1], torch.zeros(20, 2, 4))
    z, v, i = F.EventPropLIFFunction.apply(stacked, 0., 0., 1., 5e-6, 6e-6, None, 1e-6)
    reference = eventprop.integrate("lif", torch.nn.functional.linear(x, w.detach()), 1e-6, leak=0., reset=0.,
                                    threshold=1., tau_mem=6e-6, tau_syn=5e-6, capacitance=6e-6,
                                    refractory_time=0.)
    assert torch.equal(z.detach(), reference.spikes) and torch.allclose(v.detach(), reference.membrane)
    assert z.sum() > 0
    v.amax(0).sum().backward()
    assert w.grad.abs().sum() > 0
    with pytest.raises(hx.ParameterError, match="bias"):
        F.EventPropSynapseFunction.apply(x, w, torch.zeros(4))


def test_functional_eventprop_spikes_cannot_carry_gradients_onward():
    x = spikes(steps=20, batch=2, size=3, rate=0.3, seed=6)
    w = torch.full((4, 3), 2.0, requires_grad=True)
    z, v, _ = F.EventPropLIFFunction.apply(F.EventPropSynapseFunction.apply(x, w), 0., 0., 1., 5e-6, 6e-6, None,
                                           1e-6)
    with pytest.raises(hx.GraphError, match="exact spike times"):
        torch.nn.functional.linear(z, torch.ones(2, 4)).sum().backward()
