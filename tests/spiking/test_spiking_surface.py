"""More of hxtorch.spiking's surface: weight_transform edits, morphology placement, SparseSynapse.mask, deepcopy."""

import copy
import functools

import pytest
import torch
from spiking_helpers import ideal_chip, spikes

import hxgraph as hx
import hxgraph.spiking as hxsnn
from hxgraph.spiking import halco
from hxgraph.spiking.transforms import weight_transforms


def test_editing_the_weight_transform_partial_reaches_the_chip():
    # hxtorch's yin-yang example rescales the readout with .weight_transform.keywords["scale"] = s every batch.
    exp = ideal_chip()
    syn = hxsnn.Synapse(3, 2, exp, transform=functools.partial(weight_transforms.linear_saturating, scale=64.))
    li = hxsnn.LI(2, exp, leak=hxsnn.MixedHXModelParameter(0., 80.))
    with torch.no_grad():
        syn.weight.fill_(0.25)
    li(syn(hxsnn.LIFObservables(spikes=spikes(size=3))))
    hxsnn.run(exp, 20)
    assert exp.mapping.config.synapse_weight.max() == 16  # 64 · 0.25
    assert syn.weight_transform is syn.transform
    syn.weight_transform.keywords["scale"] = 40.
    assert syn.changed_since_last_run
    li(syn(hxsnn.LIFObservables(spikes=spikes(size=3))))
    hxsnn.run(exp, 20)
    assert exp.mapping.config.synapse_weight.max() == 10  # 40 · 0.25, without placing and routing again
    assert exp.mapping.reused == "placement and routing"


def test_single_compartment_morphology_places_like_hxtorch():
    two = hxsnn.morphology.SingleCompartmentNeuron(2)  # fills a column first: top and bottom row
    neuron = halco.LogicalNeuronOnDLS(two.compartments, halco.AtomicNeuronOnDLS(halco.NeuronColumnOnDLS(7),
                                                                              halco.NeuronRowOnDLS(0)))
    assert [a.toEnum() for a in neuron.get_atomic_neurons()] == [7, 256 + 7]
    wide = hxsnn.morphology.SingleCompartmentNeuron(3, expand_horizontally=True)
    assert [(a.column_offset, a.row_offset) for a in wide.compartments] == [(0, 0), (1, 0), (2, 0)]
    exp = hxsnn.Experiment(mock=True)
    readout = [halco.LogicalNeuronOnDLS(hxsnn.morphology.SingleCompartmentNeuron(1).compartments,
                                        halco.AtomicNeuronOnDLS(halco.NeuronRowOnDLS(1), halco.NeuronColumnOnDLS(n)))
               for n in range(3)]
    assert hxsnn.LI(3, exp, placement_constraint=readout).population().placement.circuits == (256, 257, 258)


def test_sparse_synapse_mask_is_a_tensor_like_hxtorchs():
    connections = torch.zeros(4, 3)
    connections[[0, 2, 3], [1, 1, 2]] = 1
    syn = hxsnn.SparseSynapse(connections, hxsnn.Experiment(mock=True))
    assert syn.mask.dtype == torch.bool and torch.equal(syn.mask, connections.T.bool())  # (out, in)


def test_a_model_deep_copies_after_a_run_and_the_copy_runs_on_its_own():
    for mock in (True, False):
        exp = hxsnn.Experiment(mock=mock, analog=hx.chip.AnalogModel.ideal())
        syn, lif = hxsnn.Synapse(3, 4, exp), hxsnn.LIF(4, exp)
        model = torch.nn.ModuleDict({"syn": syn, "lif": lif})
        out = lif(syn(hxsnn.LIFObservables(spikes=spikes(size=3))))
        hxsnn.run(exp, 20)
        out.membrane_cadc.sum().backward()
        clone = copy.deepcopy(model)  # e.g. keeping the best model during training
        assert clone["syn"].experiment is clone["lif"].experiment is not exp
        assert clone["syn"].weight is not syn.weight and torch.equal(clone["syn"].weight, syn.weight)
        torch.testing.assert_close(clone["lif"].output_handle.membrane_cadc, out.membrane_cadc.detach())
        again = clone["lif"](clone["syn"](hxsnn.LIFObservables(spikes=spikes(size=3))))
        hxsnn.run(clone["syn"].experiment, 20)
        torch.testing.assert_close(again.membrane_cadc, out.membrane_cadc.detach())


def test_run_returns_execution_info_on_the_chip_and_the_experiment_has_hxtorchs_members():
    exp = hxsnn.Experiment(mock=True)
    syn, li = hxsnn.Synapse(3, 2, exp), hxsnn.LI(2, exp)
    out = exp.connect(li, exp.connect(syn, hxsnn.LIFObservables(spikes=spikes(size=3))))
    assert out is li.output_handle
    assert hxsnn.run(exp, 20) is None and out.membrane_cadc.shape == (20, 3, 2)  # the mock returns nothing
    assert exp.last_run_chip_configs is None
    exp.register_population(li)
    exp.register_projection(syn)
    with pytest.raises(hx.ParameterError, match="is not a projection module"):
        exp.register_projection(li)
    with pytest.raises(hx.ParameterError, match="calibrations of a real chip cannot be loaded"):
        exp.default_execution_instance.load_calib("calix.pbin")
    chip = ideal_chip()
    syn, li = hxsnn.Synapse(3, 2, chip), hxsnn.LI(2, chip)
    li(syn(hxsnn.LIFObservables(spikes=spikes(size=3))))
    info = hxsnn.run(chip, 20)
    assert info.time.realtime_duration.total_seconds() == pytest.approx(3 * 20 * 1e-6)
    assert info.time.execution_duration.total_seconds() > 0
    assert info.chip_configs == chip.last_run_chip_configs == [chip.mapping.config]


def masked_net(exp, out_weight):
    """3 → 4 LIF → 2 LI with chip values consistent with the model (0.0147 per CADC, weight scale 70)."""
    to_chip = functools.partial(weight_transforms.linear_saturating, scale=70.)
    mixed = hxsnn.MixedHXModelParameter
    syn = hxsnn.Synapse(3, 4, exp, transform=to_chip)
    lif = hxsnn.LIF(4, exp, leak=mixed(0., 80.), reset=mixed(0., 80.), threshold=mixed(0.3, 80 + 0.3 / 0.0147))
    out_syn = hxsnn.Synapse(4, 2, exp, transform=to_chip)
    li = hxsnn.LI(2, exp, leak=mixed(0., 80.))
    with torch.no_grad():
        syn.weight.fill_(0.5)
        out_syn.weight.copy_(out_weight)
    return syn, lif, out_syn, li


def test_a_lif_spike_mask_switches_neurons_off_in_the_mock_and_on_the_chip():
    x = spikes(size=3, rate=0.4)
    mask = torch.tensor([True, False, True, False])
    results = {}
    for mock in (True, False):
        exp = hxsnn.Experiment(mock=mock, analog=hx.chip.AnalogModel.ideal())
        syn, lif, out_syn, li = masked_net(exp, torch.full((2, 4), 0.5))
        hidden = lif(syn(hxsnn.LIFObservables(spikes=x)))
        hxsnn.run(exp, 20)
        assert hidden.spikes[:, :, 1].sum() > 0  # every neuron spikes without a mask
        lif.mask = mask
        assert lif.changed_since_last_run
        hidden = lif(syn(hxsnn.LIFObservables(spikes=x)))
        readout = li(out_syn(hidden))
        hxsnn.run(exp, 20)
        assert hidden.spikes[:, :, ~mask].sum() == 0 and hidden.spikes[:, :, mask].sum() > 0
        results[mock] = readout.current.detach()
    # The mock's readout gets input only from the neurons left on: as if their outgoing weights were zero.
    exp = hxsnn.Experiment(mock=True)
    syn, lif, out_syn, li = masked_net(exp, 0.5 * mask.float().expand(2, 4))
    readout = li(out_syn(lif(syn(hxsnn.LIFObservables(spikes=x)))))
    hxsnn.run(exp, 20)
    torch.testing.assert_close(results[True], readout.current.detach())
    with pytest.raises(hx.ParameterError, match="boolean tensor of shape \\(4,\\)"):
        lif.mask = torch.ones(3, dtype=torch.bool)
