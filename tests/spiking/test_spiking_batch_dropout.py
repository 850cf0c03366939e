"""BatchDropout: a mask per batch in training, all ones in eval, masked neurons silent on the chip."""

import pytest
import torch
from spiking_helpers import ideal_chip, small_net, spikes

import hxgraph as hx
import hxgraph.spiking as hxsnn


def declare(modules, dropout, x):
    syn, lif, out, li = modules
    hidden = lif(syn(hxsnn.LIFObservables(spikes=x)))
    dropped = dropout(hidden)
    readout = li(out(dropped))
    return hidden, dropped, readout


def test_training_masks_differ_and_the_eval_mask_is_all_ones():
    exp = hxsnn.Experiment(mock=True)
    modules = small_net(exp, n_hidden=32)
    dropout = hxsnn.BatchDropout(32, 0.5, exp)
    x = spikes()
    torch.manual_seed(0)
    masks = []
    for _ in range(2):
        declare(modules, dropout, x)
        masks.append(dropout.mask.clone())
        hxsnn.run(exp, 20)
    assert masks[0].dtype == torch.bool and masks[0].shape == (32,)
    assert not torch.equal(masks[0], masks[1])
    assert 0 < int(masks[0].sum()) < 32
    dropout.eval()
    declare(modules, dropout, x)
    assert bool(dropout.mask.all())
    hxsnn.run(exp, 20)


def test_mock_output_is_masked_spikes_and_downstream_sees_only_kept_neurons():
    exp = hxsnn.Experiment(mock=True)
    syn, _, out, _ = modules = small_net(exp)
    dropout = hxsnn.BatchDropout(6, 0.5, exp)
    x = spikes(rate=0.3)
    dropout.mask = torch.tensor([True, False, True, False, True, True])
    dropout.set_mask = lambda: dropout.mask  # keep this mask for the run
    hidden, dropped, readout = declare(modules, dropout, x)
    hxsnn.run(exp, 20)
    mask = dropout.mask.float()
    torch.testing.assert_close(dropped.spikes, hidden.spikes * mask)  # in `spikes`, not another field
    torch.testing.assert_close(dropped.membrane_cadc, hidden.membrane_cadc)
    assert float(hidden.spikes[..., 1].detach().sum()) > 0  # the LIF itself still spikes in the mock
    # Reference: the same network without dropout but with the masked neurons' outgoing weights zeroed.
    ref = hxsnn.Experiment(mock=True)
    r_syn, r_lif, r_out, r_li = small_net(ref)
    with torch.no_grad():
        r_syn.weight.copy_(syn.weight)
        r_out.weight.copy_(out.weight * mask)
    r_readout = r_li(r_out(r_lif(r_syn(hxsnn.LIFObservables(spikes=x)))))
    hxsnn.run(ref, 20)
    torch.testing.assert_close(readout.membrane_cadc, r_readout.membrane_cadc)
    readout.membrane_cadc.sum().backward()
    assert bool((out.weight.grad[:, ~dropout.mask] == 0).all())


def test_masked_neurons_are_silent_on_the_emulated_chip():
    exp = ideal_chip()
    modules = small_net(exp)
    dropout = hxsnn.BatchDropout(6, 0.5, exp)
    x = spikes(batch=2, rate=0.3)
    keep = torch.tensor([True, False, True, False, True, False])
    dropout.set_mask = lambda: setattr(dropout, "mask", keep) or keep
    hidden, dropped, _ = declare(modules, dropout, x)
    hxsnn.run(exp, 20)
    per_neuron = hidden.spikes.detach().sum((0, 1))
    assert bool((per_neuron[~keep] == 0).all()) and bool((per_neuron[keep] > 0).all())
    assert bool((dropped.spikes.detach().sum((0, 1))[~keep] == 0).all())
    circuits = exp.mapping.config.neuron_circuits["lif_0"][:, 0]
    threshold = exp.mapping.config.circuit_params["threshold"][circuits]
    assert bool((threshold[~keep] == hxsnn.SILENT_THRESHOLD).all()) and bool((threshold[keep] == 150.).all())
    # A new mask is a parameter update on the same placement and routing.
    dropout.eval()
    del dropout.set_mask
    hidden, _, _ = declare(modules, dropout, x)
    hxsnn.run(exp, 20)
    assert exp.mapping.reused == "placement and routing"
    assert bool((hidden.spikes.detach().sum((0, 1)) > 0).all())


def test_dropout_must_follow_a_lif_of_its_size():
    exp = hxsnn.Experiment(mock=True)
    syn, lif, out, li = small_net(exp)
    with pytest.raises(hx.ParameterError, match="probability"):
        hxsnn.BatchDropout(6, 1.0, exp)
    wrong = hxsnn.BatchDropout(5, 0.2, exp)
    li(out(wrong(lif(syn(hxsnn.LIFObservables(spikes=spikes()))))))
    with pytest.raises(hx.ShapeError, match="size 5"):
        hxsnn.run(exp, 20)
    dropout = hxsnn.BatchDropout(4, 0.2, exp)
    dropout(hxsnn.LIFObservables(spikes=spikes()))
    with pytest.raises(hx.GraphError, match="must follow a LIF"):
        hxsnn.run(exp, 20)
