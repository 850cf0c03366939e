"""Placement constraints: hxgraph's own placement objects and the halco coordinate shim."""

import pytest
from spiking_helpers import ideal_chip, spikes

import hxgraph as hx
import hxgraph.spiking as hxsnn
from hxgraph.spiking import halco


def test_atomic_and_logical_neurons_become_circuits():
    exp = hxsnn.Experiment(mock=True)
    atoms = [halco.AtomicNeuronOnDLS(halco.NeuronColumnOnDLS(c), halco.NeuronRowOnDLS(1)) for c in (3, 7, 9)]
    lif = hxsnn.LIF(3, exp, placement_constraint=atoms)
    assert lif.population().placement == hx.Placement(circuits=(259, 263, 265))  # row * 256 + column
    logical = [halco.LogicalNeuronOnDLS(2, halco.AtomicNeuronOnDLS(halco.NeuronColumnOnDLS(c),
                                                                   halco.NeuronRowOnDLS(0))) for c in (10, 20)]
    li = hxsnn.LI(2, exp, placement_constraint=logical)
    population = li.population()
    assert population.circuits_per_neuron == 2 and population.placement.circuits == (10, 11, 20, 21)
    shape = [halco.AtomicNeuronOnLogicalNeuron(0, 0), halco.AtomicNeuronOnLogicalNeuron(0, 1)]
    both_rows = halco.LogicalNeuronOnDLS(shape, halco.AtomicNeuronOnDLS(5, 0))
    assert [a.toEnum() for a in both_rows.get_atomic_neurons()] == [5, 261]
    top = hxsnn.LIF(4, exp, placement_constraint=hx.Placement(hemisphere=0))  # hxgraph's own objects pass through
    assert top.population().placement.hemisphere == 0
    assert hxsnn.LIF(2, exp, placement_constraint=[4, 5]).population().placement.circuits == (4, 5)


def test_the_chip_places_neurons_where_constrained():
    exp = ideal_chip()
    atoms = [halco.AtomicNeuronOnDLS(halco.NeuronColumnOnDLS(c), halco.NeuronRowOnDLS(0)) for c in (40, 41, 42)]
    syn = hxsnn.Synapse(4, 3, exp, transform=lambda w: 63 * w.sign())
    lif = hxsnn.LIF(3, exp, placement_constraint=atoms)
    lif(syn(hxsnn.LIFObservables(spikes=spikes())))
    hxsnn.run(exp, 20)
    assert exp.mapping.config.neuron_circuits["lif_0"][:, 0].tolist() == [40, 41, 42]


def test_constraint_errors():
    exp = hxsnn.Experiment(mock=True)
    with pytest.raises(hx.GraphError, match=r"\[0, 256\)"):
        halco.NeuronColumnOnDLS(256)
    with pytest.raises(hx.GraphError, match="lists 1 neurons"):
        hxsnn.LIF(2, exp, placement_constraint=[halco.AtomicNeuronOnDLS(0, 0)])
    with pytest.raises(hx.GraphError, match="outside the chip"):
        halco.LogicalNeuronOnDLS(4, halco.AtomicNeuronOnDLS(254, 0))
    mixed = [halco.LogicalNeuronOnDLS(1, halco.AtomicNeuronOnDLS(0, 0)),
             halco.LogicalNeuronOnDLS(2, halco.AtomicNeuronOnDLS(8, 0))]
    with pytest.raises(hx.GraphError, match="same number of circuits"):
        hxsnn.LIF(2, exp, placement_constraint=mixed)
    with pytest.raises(hx.GraphError, match="agree"):
        hxsnn.LIF(1, exp, placement_constraint=mixed[1:], neuron_structure=3)
    assert exp.modules == ()


def test_atomic_neuron_takes_row_and_column_by_type_in_either_order():
    # hxtorch's yin-yang model writes the row first: AtomicNeuronOnDLS(NeuronRowOnDLS(1), NeuronColumnOnDLS(n)).
    for column in (0, 1, 2, 200):
        row_first = halco.AtomicNeuronOnDLS(halco.NeuronRowOnDLS(1), halco.NeuronColumnOnDLS(column))
        column_first = halco.AtomicNeuronOnDLS(halco.NeuronColumnOnDLS(column), halco.NeuronRowOnDLS(1))
        assert row_first == column_first and row_first.toEnum() == 256 + column
        assert row_first.toNeuronRowOnDLS() == halco.NeuronRowOnDLS.bottom
        assert halco.AtomicNeuronOnDLS(halco.NeuronRowOnDLS.bottom, column).toEnum() == 256 + column
    assert halco.AtomicNeuronOnDLS(7, 1).toEnum() == 263  # plain integers: (column, row)
    assert halco.NeuronRowOnDLS.top.value() == 0
    with pytest.raises(hx.GraphError, match="one column and one row"):
        halco.AtomicNeuronOnDLS(halco.NeuronRowOnDLS(0), halco.NeuronRowOnDLS(1))
    exp = hxsnn.Experiment(mock=True)
    readout = [halco.AtomicNeuronOnDLS(halco.NeuronRowOnDLS(1), halco.NeuronColumnOnDLS(n)) for n in range(3)]
    li = hxsnn.LI(3, exp, placement_constraint=readout)
    assert li.population().placement.circuits == (256, 257, 258)  # the bottom row, columns 0-2


def test_coordinate_counts_and_enumeration_follow_halco():
    assert (halco.NeuronColumnOnDLS.size, halco.NeuronRowOnDLS.size, halco.AtomicNeuronOnDLS.size) == (256, 2, 512)
    atoms = list(halco.iter_all(halco.AtomicNeuronOnDLS))
    assert len(atoms) == 512 and [a.toEnum() for a in atoms] == list(range(512))
    assert atoms[257].toNeuronRowOnDLS() == halco.NeuronRowOnDLS.bottom
    assert [r.value() for r in halco.iter_all(halco.NeuronRowOnDLS)] == [0, 1]
    with pytest.raises(hx.GraphError, match="enumerates"):
        list(halco.iter_all(int))
