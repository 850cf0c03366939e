"""A module fed by a module of another hxgraph.spiking Experiment is named as such, whichever runs (#13, item 8)."""

import pytest
import torch

import hxgraph.spiking as hxsnn
from hxgraph.errors import GraphError
from hxgraph.spiking import LIFObservables


def spikes():
    return (torch.rand(10, 2, 4, generator=torch.Generator().manual_seed(0)) < 0.3).float()


@pytest.mark.parametrize("mock", [True, False])
@pytest.mark.parametrize("run_synapses_experiment", [True, False])
def test_a_synapse_of_one_experiment_feeding_a_neuron_of_another(mock, run_synapses_experiment):
    a, b = hxsnn.Experiment(mock=mock), hxsnn.Experiment(mock=mock)
    syn = hxsnn.Synapse(4, 6, a)
    lif = hxsnn.LIF(6, b)
    with pytest.raises(GraphError, match=r"LIF 'lif_0': its input is the output of Synapse 'synapse_0', which "
                                         r"belongs to another experiment"):
        lif(syn(LIFObservables(spikes=spikes())))
        hxsnn.run(a if run_synapses_experiment else b, 10)  # (was: "not fed into any LIF" when running a)


def test_a_neuron_of_one_experiment_feeding_a_synapse_of_another():
    a, b = hxsnn.Experiment(mock=True), hxsnn.Experiment(mock=True)
    syn, lif = hxsnn.Synapse(4, 6, a), hxsnn.LIF(6, a)
    hidden = lif(syn(LIFObservables(spikes=spikes())))
    with pytest.raises(GraphError, match=r"Synapse 'synapse_0': its input is the output of LIF 'lif_0', which "
                                         r"belongs to another experiment"):
        hxsnn.Synapse(6, 2, b)(hidden)
    hxsnn.run(a, 10)  # the first experiment still runs
    assert hidden.spikes.shape == (10, 2, 6)
