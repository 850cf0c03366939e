"""hxtorch's neuron morphologies, as far as placement needs them: `SingleCompartmentNeuron`.

A neuron of several neuron circuits with one membrane (hxgraph's `circuits_per_neuron`).
`compartments` is the shape `halco.LogicalNeuronOnDLS(shape, anchor)` takes: the circuits'
(column, row) offsets from the anchor, in hxtorch's order.
"""

from __future__ import annotations

from hxgraph.graph.population import check_count
from hxgraph.spiking.halco import COLUMNS, ROWS, AtomicNeuronOnLogicalNeuron

__all__ = ["SingleCompartmentNeuron"]


class SingleCompartmentNeuron:
    """One iso-potential compartment of `size` circuits.

    As in hxtorch, the circuits fill a column (top, then bottom row) before the next
    column; with `expand_horizontally=True` they fill the anchor's row first.
    """

    def __init__(self, size: int, expand_horizontally: bool = False) -> None:
        self.size = check_count(size, "SingleCompartmentNeuron size")
        if self.size > ROWS * COLUMNS:
            raise ValueError(f"SingleCompartmentNeuron: at most {ROWS * COLUMNS} circuits; got {size}")
        self.expand_horizontally = bool(expand_horizontally)
        if self.expand_horizontally:
            offsets = [(k % COLUMNS, k // COLUMNS) for k in range(self.size)]
        else:
            offsets = [(k // ROWS, k % ROWS) for k in range(self.size)]
        self._compartments = [AtomicNeuronOnLogicalNeuron(column, row) for column, row in offsets]

    @property
    def compartments(self) -> list[AtomicNeuronOnLogicalNeuron]:
        """The circuits as offsets from the anchor (what `halco.LogicalNeuronOnDLS` takes as its shape)."""
        return list(self._compartments)

    def __repr__(self) -> str:
        return f"SingleCompartmentNeuron({self.size}, expand_horizontally={self.expand_horizontally})"
