"""A small stand-in for the `halco` chip coordinates hxtorch scripts pass as placement constraints.

hxgraph cannot depend on halco (it installs only with the chip's software stack), so a
ported script replaces `from dlens_vx_v3 import halco` by `from hxgraph.spiking import halco`
and keeps its coordinate code:

    halco.AtomicNeuronOnDLS(halco.NeuronColumnOnDLS(3), halco.NeuronRowOnDLS(0))
    halco.AtomicNeuronOnDLS(halco.NeuronRowOnDLS(1), halco.NeuronColumnOnDLS(3))  # by type, either order
    halco.LogicalNeuronOnDLS(shape, anchor)

Neuron circuits are numbered as in `hxgraph.Placement`: `row * 256 + column` (row 0 is
the top hemisphere). A logical neuron's `shape` is how many circuits it has, placed in
consecutive columns of the anchor's row (an int), or a sequence of (column, row)
offsets from the anchor; `None` means one circuit.
"""

from __future__ import annotations

import operator
from typing import Any, Iterator, Optional, Sequence, Union

from hxgraph.errors import GraphError

__all__ = ["NeuronColumnOnDLS", "NeuronRowOnDLS", "AtomicNeuronOnDLS", "AtomicNeuronOnLogicalNeuron",
           "LogicalNeuronOnDLS", "iter_all"]

COLUMNS = 256
ROWS = 2


def _index(value: Any, what: str, size: int) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        index = operator.index(value)
    except TypeError:
        raise GraphError(f"{what} must be an integer in [0, {size}); got {value!r}") from None
    if not 0 <= index < size:
        raise GraphError(f"{what} must lie in [0, {size}); got {index}")
    return index


class _Coordinate:
    """An integer coordinate with halco's `value()` / `toEnum()` accessors."""

    _size = 0

    def __init__(self, value: Any):
        self._value = _index(value, type(self).__name__, self._size)

    def value(self) -> int:
        return self._value

    def toEnum(self) -> int:  # noqa: N802 (halco's name)
        return self._value

    def __int__(self) -> int:
        return self._value

    def __index__(self) -> int:
        return self._value

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._value == self._value

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._value))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._value})"


class NeuronColumnOnDLS(_Coordinate):
    """Column of a neuron circuit, 0..255."""

    _size = COLUMNS


class NeuronRowOnDLS(_Coordinate):
    """Row (hemisphere) of a neuron circuit: 0 top, 1 bottom."""

    _size = ROWS


NeuronRowOnDLS.top = NeuronRowOnDLS(0)
NeuronRowOnDLS.bottom = NeuronRowOnDLS(1)
# halco's coordinate counts (scripts size their layers by them, e.g. AtomicNeuronOnDLS.size).
NeuronColumnOnDLS.size = COLUMNS
NeuronRowOnDLS.size = ROWS


class AtomicNeuronOnDLS:
    """One neuron circuit, given by column and row (circuit number `row * 256 + column`).

    As in halco, typed coordinates are taken by their type in either order —
    `AtomicNeuronOnDLS(NeuronRowOnDLS(1), NeuronColumnOnDLS(3))` is column 3 of the bottom
    row, as is `AtomicNeuronOnDLS(NeuronColumnOnDLS(3), NeuronRowOnDLS(1))`; plain integers
    are read as (column, row).
    """

    def __init__(self, first: Union[NeuronColumnOnDLS, NeuronRowOnDLS, int],
                 second: Union[NeuronColumnOnDLS, NeuronRowOnDLS, int] = 0):
        if isinstance(first, _Coordinate) and type(first) is type(second):
            raise GraphError(f"AtomicNeuronOnDLS needs one column and one row; got {first!r} and {second!r}")
        if isinstance(first, NeuronRowOnDLS) or isinstance(second, NeuronColumnOnDLS):
            first, second = second, first  # row first: halco takes coordinates by type
        self.column = first if isinstance(first, NeuronColumnOnDLS) else NeuronColumnOnDLS(first)
        self.row = second if isinstance(second, NeuronRowOnDLS) else NeuronRowOnDLS(second)

    def toNeuronColumnOnDLS(self) -> NeuronColumnOnDLS:  # noqa: N802
        return self.column

    def toNeuronRowOnDLS(self) -> NeuronRowOnDLS:  # noqa: N802
        return self.row

    def toEnum(self) -> int:  # noqa: N802
        return self.row.value() * COLUMNS + self.column.value()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AtomicNeuronOnDLS) and other.toEnum() == self.toEnum()

    def __hash__(self) -> int:
        return hash(("AtomicNeuronOnDLS", self.toEnum()))

    def __repr__(self) -> str:
        return f"AtomicNeuronOnDLS({self.column!r}, {self.row!r})"


AtomicNeuronOnDLS.size = ROWS * COLUMNS


def iter_all(coordinate: type) -> Iterator[Any]:
    """Every coordinate of a type in halco's enumeration order (`row * 256 + column` for neuron circuits)."""
    if coordinate is AtomicNeuronOnDLS:
        return (AtomicNeuronOnDLS(index % COLUMNS, index // COLUMNS) for index in range(ROWS * COLUMNS))
    if coordinate in (NeuronColumnOnDLS, NeuronRowOnDLS):
        return (coordinate(index) for index in range(coordinate.size))
    raise GraphError(f"iter_all: the halco shim enumerates NeuronColumnOnDLS, NeuronRowOnDLS and AtomicNeuronOnDLS; "
                     f"got {coordinate!r}")


class AtomicNeuronOnLogicalNeuron:
    """A circuit of a logical neuron, as (column, row) offset from its anchor."""

    def __init__(self, column_offset: int = 0, row_offset: int = 0):
        self.column_offset = _index(column_offset, "column offset", COLUMNS)
        self.row_offset = _index(row_offset, "row offset", ROWS)


class LogicalNeuronOnDLS:
    """A neuron made of one or more circuits: a `shape` placed at an `anchor` circuit."""

    def __init__(self, shape: Union[None, int, Sequence[Any]], anchor: AtomicNeuronOnDLS):
        if not isinstance(anchor, AtomicNeuronOnDLS):
            raise GraphError(f"LogicalNeuronOnDLS: anchor must be an AtomicNeuronOnDLS; got {anchor!r}")
        self.anchor = anchor
        self._offsets = _offsets(shape)
        self.get_atomic_neurons()  # raises if the shape leaves the chip

    def get_atomic_neurons(self) -> list[AtomicNeuronOnDLS]:
        """The circuits of this neuron, anchor first (the anchor's circuit emits the spikes)."""
        column, row = self.anchor.column.value(), self.anchor.row.value()
        out = []
        for dc, dr in self._offsets:
            if not (0 <= column + dc < COLUMNS and 0 <= row + dr < ROWS):
                raise GraphError(f"LogicalNeuronOnDLS: a circuit at offset ({dc}, {dr}) from anchor "
                                 f"(column {column}, row {row}) lies outside the chip's {ROWS}×{COLUMNS} circuits")
            out.append(AtomicNeuronOnDLS(column + dc, row + dr))
        return out

    def toAtomicNeuronOnDLS(self) -> AtomicNeuronOnDLS:  # noqa: N802
        return self.anchor

    def __repr__(self) -> str:
        return f"LogicalNeuronOnDLS({len(self._offsets)} circuits, anchor={self.anchor!r})"


def _offsets(shape: Union[None, int, Sequence[Any]]) -> list[tuple[int, int]]:
    if shape is None:
        return [(0, 0)]
    if isinstance(shape, int) and not isinstance(shape, bool):
        if shape < 1:
            raise GraphError(f"LogicalNeuronOnDLS: a shape given as a number of circuits must be >= 1; got {shape}")
        return [(k, 0) for k in range(shape)]
    if isinstance(shape, Sequence) and len(shape) > 0:
        out = []
        for item in shape:
            if isinstance(item, AtomicNeuronOnLogicalNeuron):
                out.append((item.column_offset, item.row_offset))
            elif isinstance(item, Sequence) and len(item) == 2:
                out.append((int(item[0]), int(item[1])))
            else:
                break
        else:
            if len(set(out)) != len(out):
                raise GraphError(f"LogicalNeuronOnDLS: the shape repeats a circuit offset: {out}")
            return out
    raise GraphError("LogicalNeuronOnDLS: shape must be None (one circuit), a number of circuits in consecutive "
                     "columns, or a sequence of (column offset, row offset) pairs / AtomicNeuronOnLogicalNeuron; "
                     f"got {shape!r}")


def placement_from_constraint(constraint: Any, size: int, who: str) -> tuple[Any, Optional[int]]:
    """A `Population` placement (and circuits per neuron, if the coordinates fix it) from hxtorch's constraint.

    Accepts hxgraph's own forms (a `Placement`, "top"/"bottom", circuit numbers) unchanged, or
    one `AtomicNeuronOnDLS` / `LogicalNeuronOnDLS` per neuron.
    """
    if constraint is None:
        return None, None
    items = list(constraint) if isinstance(constraint, (list, tuple)) else None
    if items and all(isinstance(c, (AtomicNeuronOnDLS, LogicalNeuronOnDLS)) for c in items):
        if len(items) != size:
            raise GraphError(f"{who}: placement_constraint lists {len(items)} neurons; the population has {size}")
        circuits: list[int] = []
        per: set[int] = set()
        for item in items:
            atoms = item.get_atomic_neurons() if isinstance(item, LogicalNeuronOnDLS) else [item]
            per.add(len(atoms))
            circuits.extend(a.toEnum() for a in atoms)
        if len(per) != 1:
            raise GraphError(f"{who}: every neuron of a population needs the same number of circuits; the "
                             f"placement_constraint mixes {sorted(per)}")
        from hxgraph.graph import Placement
        return Placement(circuits=tuple(circuits)), per.pop()
    if items and any(isinstance(c, (AtomicNeuronOnDLS, LogicalNeuronOnDLS)) for c in items):
        raise GraphError(f"{who}: placement_constraint mixes halco coordinates with other values; give one "
                         "AtomicNeuronOnDLS or LogicalNeuronOnDLS per neuron")
    return constraint, None
