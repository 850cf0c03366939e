"""Modules that override `forward_func` (hxtorch's way to write custom synapses and neurons) run in the mock."""

import pytest
import torch
from spiking_helpers import TAU, ideal_chip, small_net, spikes

import hxgraph as hx
import hxgraph.spiking as hxsnn
from hxgraph.spiking import MixedHXModelParameter as Mixed


class DoublingSynapse(hxsnn.Synapse):
    """hxtorch style: forward_func(input: LIFObservables) -> SynapseHandle."""

    def forward_func(self, input):  # noqa: A002
        return hxsnn.SynapseHandle(graded_spikes=2.0 * torch.nn.functional.linear(input.spikes, self.weight))


class LoudLIF(hxsnn.LIF):
    """Calls the base computation and scales the membrane it reports, recording the handles it got."""

    seen = None

    def forward_func(self, *input, hw_data=None):  # noqa: A002
        self.seen = input
        base = super().forward_func(*input, hw_data=hw_data)
        return hxsnn.LIFObservables(spikes=base.spikes, membrane_cadc=3.0 * base.membrane_cadc, current=base.current)


def lif_options():
    return dict(leak=Mixed(0., 80.), reset=Mixed(0., 80.), threshold=Mixed(1., 150.), tau_mem=TAU, tau_syn=TAU)


def test_a_synapse_forward_func_override_is_what_the_mock_computes():
    x = spikes(batch=2, rate=0.3)
    results = {}
    for cls, factor in ((DoublingSynapse, 1.0), (hxsnn.Synapse, 2.0)):
        exp = hxsnn.Experiment(mock=True)
        syn = cls(4, 6, exp)
        lif = hxsnn.LIF(6, exp, **lif_options())
        with torch.no_grad():
            syn.weight.copy_(torch.linspace(0.2, 1.0, 24).reshape(6, 4) * factor)
        handle = syn(hxsnn.LIFObservables(spikes=x))
        out = lif(handle)
        hxsnn.run(exp, 20)
        results[cls] = (handle.graded_spikes.detach(), out.spikes.detach(), out.membrane_cadc.detach(), syn)
    doubled, plain = results[DoublingSynapse], results[hxsnn.Synapse]
    torch.testing.assert_close(doubled[0], plain[0])
    assert torch.equal(doubled[1], plain[1]) and float(doubled[1].sum()) > 0
    torch.testing.assert_close(doubled[2], plain[2])


def test_a_neuron_forward_func_override_gets_the_handles_in_call_order_and_gradients_flow():
    exp = hxsnn.Experiment(mock=True)
    syn_a, syn_b = hxsnn.Synapse(4, 6, exp), hxsnn.Synapse(4, 6, exp)
    lif = LoudLIF(6, exp, **lif_options())
    x = spikes(batch=2, rate=0.3)
    a, b = syn_a(hxsnn.LIFObservables(spikes=x)), syn_b(hxsnn.LIFObservables(spikes=x))
    out = lif(b, a)  # b first
    hxsnn.run(exp, 20)
    assert lif.seen[0] is not None and len(lif.seen) == 2
    torch.testing.assert_close(lif.seen[0].graded_spikes, torch.nn.functional.linear(x, syn_b.weight))
    torch.testing.assert_close(lif.seen[1].graded_spikes, torch.nn.functional.linear(x, syn_a.weight))
    base = hxsnn.LIF.forward_func(lif, *lif.seen)
    torch.testing.assert_close(out.membrane_cadc, 3.0 * base.membrane_cadc)
    out.membrane_cadc.sum().backward()
    assert syn_a.weight.grad is not None and float(syn_a.weight.grad.abs().sum()) > 0


def test_the_default_forward_func_is_the_mocks_own_integration():
    exp = hxsnn.Experiment(mock=True)
    syn, lif, out, li = small_net(exp)
    x = spikes(batch=2)
    hidden = lif(syn(hxsnn.LIFObservables(spikes=x)))
    readout = li(out(hidden))
    hxsnn.run(exp, 20)
    direct = lif.forward_func(hxsnn.SynapseHandle(graded_spikes=torch.nn.functional.linear(x, syn.weight)))
    assert torch.equal(direct.spikes, hidden.spikes)
    torch.testing.assert_close(direct.membrane_cadc, hidden.membrane_cadc)
    again = li.forward_func(hxsnn.SynapseHandle(graded_spikes=torch.nn.functional.linear(hidden.spikes, out.weight)))
    torch.testing.assert_close(again.membrane_cadc, readout.membrane_cadc)
    assert not lif.overrides_forward_func and LoudLIF(2, exp).overrides_forward_func


def test_the_chip_refuses_a_neuron_override_and_honours_a_synapse_override():
    exp = ideal_chip()
    syn = hxsnn.Synapse(4, 6, exp)
    lif = LoudLIF(6, exp, **lif_options())
    lif(syn(hxsnn.LIFObservables(spikes=spikes())))
    with pytest.raises(hx.GraphError, match=r"LIF 'lif_0' \(LoudLIF\) overrides forward_func; the emulated chip"):
        hxsnn.run(exp, 20)
    exp = ideal_chip()
    syn = DoublingSynapse(4, 6, exp, transform=lambda w: 70 * w)
    lif = hxsnn.LIF(6, exp, **lif_options())
    handle = syn(hxsnn.LIFObservables(spikes=spikes(rate=0.3)))
    lif(handle)
    hxsnn.run(exp, 20)
    torch.testing.assert_close(handle.graded_spikes, 2.0 * torch.nn.functional.linear(spikes(rate=0.3), syn.weight))
