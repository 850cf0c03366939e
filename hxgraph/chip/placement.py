"""Placement: which neuron circuits every neuron of every on-chip population gets.

A neuron of n circuits fills columns first (top and bottom circuit of one column, then the
next column) and never crosses a quadrant boundary (between columns 127 and 128). Its spikes
leave from its *first* circuit, which decides the event bus its spikes reach.

Strategies:

- ``first_fit``: the public software's default. Populations in creation order each take the
  first free circuits in enumeration order (top row left to right, then the bottom row).
- ``balanced`` (default): decides the hemisphere of every freely placeable population so
  that the synapse-row load (fan-in) of the two synapse arrays is balanced, places spike
  sources before pure targets and spreads their neurons evenly over the event buses (a
  source reaches only the bus of its column, so bunching sources on one bus exhausts its
  rows), then swaps neurons of a source population between buses while some neuron gets
  more synapses from one bus than a bus can deliver. `placement_candidates` also yields
  fallbacks (first fit, contiguous, swapped hemispheres) that `place_and_route` tries when
  the first candidate does not route.
"""

from __future__ import annotations

import logging
from types import MappingProxyType
from typing import Any, Iterator, Mapping, Optional, Sequence

import attrs
import numpy as np
import torch

from hxgraph.chip.spec import HICANN_X, ChipSpec
from hxgraph.errors import MappingError, ParameterError, check_choice, known
from hxgraph.graph import Graph, Population, Sparse

logger = logging.getLogger(__name__)

STRATEGIES = ("balanced", "first_fit")


@attrs.frozen(eq=False)
class NeuronPlacement:
    """The neuron circuits of every on-chip population.

    `circuits[name]` is an int64 tensor of shape (size, circuits_per_neuron) holding circuit
    enumerations (`hemisphere * columns + column`); column 0 is the neuron's first circuit,
    the one its spikes leave from. `strategy` says how it was made.
    """

    spec: ChipSpec
    circuits: Mapping[str, torch.Tensor]
    strategy: str = "explicit"

    def __attrs_post_init__(self) -> None:
        circuits = {}
        for name, value in dict(self.circuits).items():
            tensor = _circuit_tensor(name, value)
            circuits[name] = tensor.reshape(-1, 1) if tensor.dim() == 1 else tensor
        object.__setattr__(self, "circuits", MappingProxyType(circuits))

    @property
    def populations(self) -> tuple[str, ...]:
        return tuple(self.circuits)

    @property
    def circuits_used(self) -> int:
        return sum(int(c.numel()) for c in self.circuits.values())

    def emitting_circuit(self, population: str) -> torch.Tensor:
        """The circuit each neuron's spikes leave from (its first circuit)."""
        return self.circuits[population][:, 0]

    def owner(self) -> tuple[np.ndarray, np.ndarray]:
        """Per circuit: index of its population in `populations` and the neuron index (-1 if unused)."""
        pop = np.full(self.spec.circuits, -1, dtype=np.int64)
        neuron = np.full(self.spec.circuits, -1, dtype=np.int64)
        for index, (name, circuits) in enumerate(self.circuits.items()):
            c = circuits.numpy()
            pop[c.reshape(-1)] = index
            neuron[c.reshape(-1)] = np.repeat(np.arange(c.shape[0]), c.shape[1])
        return pop, neuron

    def same_as(self, other: "NeuronPlacement") -> bool:
        return (self.spec == other.spec and list(self.circuits) == list(other.circuits)
                and all(torch.equal(self.circuits[k], other.circuits[k]) for k in self.circuits))

    def summary(self) -> str:
        """One line per population: circuits, hemispheres, column range and event buses."""
        spec = self.spec
        lines = [f"placement ({self.strategy}): {self.circuits_used} of {spec.circuits} neuron circuits"]
        for name, circuits in self.circuits.items():
            c = circuits.numpy()
            h, col = c // spec.columns, c % spec.columns
            emit_col = col[:, 0]
            buses = sorted({spec.bus_of_column(int(x)) for x in emit_col})
            hems = ", ".join(spec.hemisphere_name(int(x)) for x in sorted(set(h.reshape(-1).tolist())))
            neurons = f"{c.shape[0]} neuron{'s' if c.shape[0] > 1 else ''}"
            per = f"{c.shape[1]} circuit{'s' if c.shape[1] > 1 else ''}"
            lines.append(f"  {name}: {neurons} × {per}, {hems}, "
                         f"columns {int(col.min())}–{int(col.max())}, event buses {buses}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<NeuronPlacement {self.strategy}: {self.circuits_used} circuits, {len(self.circuits)} populations>"


def _circuit_tensor(name: Any, value: Any) -> torch.Tensor:
    """A user's circuit numbers for one population as an int64 tensor (size,) or (size, circuits_per_neuron).

    Fractional, boolean and non-numeric entries are refused rather than truncated to a
    circuit the user did not name; whole numbers given as floats (3.0) are accepted.
    """
    what = f"NeuronPlacement: the circuits of population {name!r}"
    try:
        tensor = value.detach().cpu() if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
    except (TypeError, ValueError, RuntimeError, OverflowError):
        raise ParameterError(f"{what} must be circuit numbers (integers); got {type(value).__name__} "
                             f"{str(value)[:80]}") from None
    if tensor.dtype == torch.bool or tensor.is_complex() or not (tensor.is_floating_point() or _is_integer(tensor)):
        raise ParameterError(f"{what} must be circuit numbers (integers); got a {tensor.dtype} tensor")
    if tensor.dim() not in (1, 2):
        raise ParameterError(f"{what} must have shape (neurons,) or (neurons, circuits_per_neuron); "
                             f"got shape {tuple(tensor.shape)}")
    if tensor.is_floating_point():
        whole = torch.isfinite(tensor) & (tensor == torch.round(tensor)) & (tensor.abs() < 2**53)
        if not bool(whole.all()):
            bad = tensor[~whole][0].item()
            raise ParameterError(f"{what} must be whole circuit numbers; got {bad!r} (a fraction is not "
                                 "truncated to a circuit)")
    return tensor.to(torch.int64)


def _is_integer(tensor: torch.Tensor) -> bool:
    return tensor.dtype in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


# --------------------------------------------------------------------------- checks

def check_strategy(strategy: Any) -> str:
    return check_choice(strategy, STRATEGIES, "placement strategy", "valid strategies", ", or a NeuronPlacement")


def on_chip_populations(graph: Graph) -> list[Population]:
    return [p for p in graph.populations.values() if not p.is_input]


def check_circuit_budget(graph: Graph, spec: ChipSpec) -> None:
    """All on-chip neurons together need at most the chip's neuron circuits."""
    pops = on_chip_populations(graph)
    needed = sum(p.size * p.circuits_per_neuron for p in pops)
    if needed <= spec.circuits:
        return
    parts = sorted(pops, key=lambda p: -p.size * p.circuits_per_neuron)
    listing = ", ".join(f"{p.name!r} {p.size * p.circuits_per_neuron} ({p.size} neurons × {p.circuits_per_neuron} "
                        f"circuit{'s' if p.circuits_per_neuron > 1 else ''})" for p in parts)
    biggest = parts[0]
    room = (spec.circuits - (needed - biggest.size * biggest.circuits_per_neuron)) // biggest.circuits_per_neuron
    hint = f"at most {max(room, 0)} neurons in {biggest.name!r}"
    if biggest.circuits_per_neuron > 1:
        hint += f", circuits_per_neuron=1 for {biggest.name!r} if its fan-in allows"
    raise MappingError(
        f"population {biggest.name!r}: the network needs {needed} neuron circuits, the chip ({spec.name}) has "
        f"{spec.circuits}: {listing}; try {hint}, or split the network into several runs",
        resource="neuron circuits", needed=needed, available=spec.circuits, partial=_partial_first_fit(graph, spec))


def _partial_first_fit(graph: Graph, spec: ChipSpec) -> Optional["NeuronPlacement"]:
    """First fit as far as it gets (the neurons that fit), for drawing a network that does not fit."""
    try:
        _place(graph, spec, balanced=False, spread=False, swap=False, label="first_fit (partial)")
    except MappingError as exc:
        return exc.partial
    except ParameterError:
        return None
    return None


def neuron_circuit_problem(circuits: Sequence[int], spec: ChipSpec) -> Optional[str]:
    """Why the circuits of one neuron cannot be merged into one neuron, or None if they can.

    Merged circuits must form one connected region (neighbouring columns of a row, or the top
    and bottom circuit of a column) within one quadrant column range.
    """
    hc = [(c // spec.columns, c % spec.columns) for c in circuits]
    quadrants = {col // spec.quadrant_columns for _, col in hc}
    if len(quadrants) > 1:
        return (f"they cross the boundary between columns {spec.quadrant_columns * max(quadrants) - 1} and "
                f"{spec.quadrant_columns * max(quadrants)}, which circuits cannot be connected across")
    todo, seen = [hc[0]], {hc[0]}
    members = set(hc)
    while todo:
        h, col = todo.pop()
        for nb in ((h, col - 1), (h, col + 1), (1 - h, col)):
            if nb in members and nb not in seen:
                seen.add(nb)
                todo.append(nb)
    if len(seen) != len(members):
        return "they are not one connected region (neighbouring columns of a row, or top and bottom of a column)"
    return None


# --------------------------------------------------------------------------- allocation

class _Free:
    """Free neuron circuits, as a (hemispheres, columns) boolean array."""

    def __init__(self, spec: ChipSpec):
        self.spec = spec
        self.free = np.ones((spec.hemispheres, spec.columns), dtype=bool)

    def count(self, hemisphere: Optional[int] = None) -> int:
        return int(self.free.sum() if hemisphere is None else self.free[hemisphere].sum())

    def shape_at(self, h0: int, c0: int, shape: Sequence[tuple[int, int]]) -> Optional[list[int]]:
        """Circuit enumerations of `shape` anchored at (h0, c0) if all free and valid, else None."""
        spec = self.spec
        out = []
        quadrant = c0 // spec.quadrant_columns
        for dh, dc in shape:
            h, c = h0 + dh, c0 + dc
            if h >= spec.hemispheres or c >= spec.columns or c // spec.quadrant_columns != quadrant:
                return None
            if not self.free[h, c]:
                return None
            out.append(h * spec.columns + c)
        return out

    def take(self, circuits: Sequence[int]) -> None:
        for c in circuits:
            self.free[c // self.spec.columns, c % self.spec.columns] = False


def _shape(population: Population, hemisphere: Optional[int], spec: ChipSpec) -> list[tuple[int, int]]:
    """Offsets (dh, dc) of a neuron's circuits: columns first (top, bottom, next column ...)."""
    n = population.circuits_per_neuron
    if hemisphere is not None or spec.hemispheres == 1:
        return [(0, i) for i in range(n)]
    return [(i % spec.hemispheres, i // spec.hemispheres) for i in range(n)]


def _anchors(spec: ChipSpec, hemispheres: Sequence[int], multi_row: bool) -> list[tuple[int, int]]:
    """Anchor positions in enumeration order; a shape spanning both rows is anchored in the top row."""
    if multi_row:
        return [(0, c) for c in range(spec.columns)]
    return [(h, c) for h in hemispheres for c in range(spec.columns)]


class _Placer:
    """Allocates circuits population by population on a shared free map."""

    def __init__(self, graph: Graph, spec: ChipSpec):
        self.graph, self.spec = graph, spec
        self.free = _Free(spec)
        self.result: dict[str, np.ndarray] = {}

    def explicit(self) -> None:
        """Reserve explicitly listed circuits first, so automatic placement never takes them."""
        spec = self.spec
        owner: dict[int, str] = {}
        for pop in on_chip_populations(self.graph):
            if pop.placement is None or pop.placement.circuits is None:
                continue
            circuits = list(pop.placement.circuits)
            bad = [c for c in circuits if c >= spec.circuits]
            if bad:
                raise ParameterError(f"population {pop.name!r}: placement circuit {bad[0]} does not exist on "
                                     f"{spec.name}, whose circuits are 0..{spec.circuits - 1} "
                                     f"(hemisphere * {spec.columns} + column)")
            clash = [c for c in circuits if c in owner]
            if clash:
                raise ParameterError(f"population {pop.name!r}: placement circuit {clash[0]} is also listed by "
                                     f"population {owner[clash[0]]!r}; explicit placements must not overlap")
            per = pop.circuits_per_neuron
            array = np.asarray(circuits, dtype=np.int64).reshape(pop.size, per)
            if per > 1:
                for i, row in enumerate(array.tolist()):
                    problem = neuron_circuit_problem(row, spec)
                    if problem:
                        raise ParameterError(f"population {pop.name!r}: neuron {i} lists circuits {row}; {problem}")
            for c in circuits:
                owner[c] = pop.name
            self.free.take(circuits)
            self.result[pop.name] = array

    def allocate(self, pop: Population, anchors: Sequence[tuple[int, int]], shape: list[tuple[int, int]],
                 spread: bool, constraint: str, hemisphere: Optional[int] = None) -> None:
        """Give each neuron the first free anchor; with `spread`, balance the neurons over event buses.

        Anchors are tried in the given order; with `spread` they are queued per (hemisphere, bus)
        and each neuron goes to the least used bus of the earliest hemisphere that has room.
        """
        spec = self.spec
        if spread:
            order = list(dict.fromkeys(h for h, _ in anchors))
            keyed: dict[tuple[int, int], list[tuple[int, int]]] = {}
            for a in anchors:
                keyed.setdefault((order.index(a[0]), spec.bus_of_column(a[1])), []).append(a)
            keys = sorted(keyed)
            queues = [keyed[k] for k in keys]
            ranks = [k[0] for k in keys]
        else:
            queues, ranks = [list(anchors)], [0]
        pointers = [0] * len(queues)
        counts = [0] * len(queues)
        out = []
        for _ in range(pop.size):
            placed = None
            # The first free anchor of a queue only moves right as circuits get taken, so one
            # pointer per queue suffices (first fit stays linear in the number of anchors).
            for q in sorted(range(len(queues)), key=lambda q: (ranks[q], counts[q], q)):
                queue = queues[q]
                while pointers[q] < len(queue):
                    h0, c0 = queue[pointers[q]]
                    circuits = self.free.shape_at(h0, c0, shape)
                    if circuits is not None:
                        placed = circuits
                        break
                    pointers[q] += 1
                if placed is not None:
                    counts[q] += 1
                    break
            if placed is None:
                self._fail(pop, out, constraint, hemisphere)
            self.free.take(placed)
            out.append(placed)
        self.result[pop.name] = np.asarray(out, dtype=np.int64).reshape(pop.size, pop.circuits_per_neuron)

    def _fail(self, pop: Population, out: list[list[int]], constraint: str, hemisphere: Optional[int]) -> None:
        spec = self.spec
        placed = len(out)
        # What was placed so far (the failing population's placed neurons included), for drawing.
        partial = {k: torch.from_numpy(v) for k, v in self.result.items()}
        if out:
            partial[pop.name] = torch.tensor(out, dtype=torch.int64)
        per = pop.circuits_per_neuron
        needed = pop.size * per
        used_text = ", ".join(f"{k!r} {int(v.size)}" for k, v in self.result.items()) or "nothing"
        free = self.free.count(hemisphere)
        available = placed * per + free
        where = f" {constraint}" if constraint else ""
        if per > 1 and available >= needed:
            why = (f"only {placed} of its {pop.size} neurons found {per} free neighbouring circuits{where}: "
                   f"a merged neuron fills a column top and bottom, then the next column, and cannot cross "
                   f"column {spec.quadrant_columns - 1}|{spec.quadrant_columns}, and the {free} free circuits "
                   f"are fragmented")
        else:
            why = f"{available} circuits are available there" if where else f"{available} circuits are available"
        raise MappingError(
            f"population {pop.name!r}: needs {needed} neuron circuits ({pop.size} neurons × {per} circuit"
            f"{'s' if per > 1 else ''}){where}; {why} (already used: {used_text}); try removing the placement "
            f"constraint, fewer neurons or circuits per neuron, or splitting the network into several runs",
            resource="neuron circuits", needed=needed, available=available,
            partial=NeuronPlacement(spec, partial, "partial"))


def row_load(graph: Graph, population: str) -> int:
    """Estimated synapse rows the projections into `population` need (simple allocation, unsplit weights)."""
    load = 0
    for proj in graph.projections_into(population):
        signs = 2 if proj.receptor == "signed" else 1
        if isinstance(proj.connectivity, Sparse):
            sources = int(torch.unique(proj.connectivity.sources).numel())
        else:
            sources = proj.shape[1]
        load += sources * signs
    return load


def _is_source(graph: Graph, population: str) -> bool:
    return bool(graph.projections_from(population))


def _place(graph: Graph, spec: ChipSpec, *, balanced: bool, spread: bool, swap: bool, label: str,
           synapses: Optional[Mapping[str, np.ndarray]] = None) -> NeuronPlacement:
    placer = _Placer(graph, spec)
    placer.explicit()
    pops = [p for p in on_chip_populations(graph) if p.name not in placer.result]
    for pop in pops:
        hc = pop.placement.hemisphere if pop.placement is not None else None
        if hc is not None and hc >= spec.hemispheres:
            raise ParameterError(f"population {pop.name!r}: placement hemisphere {hc} does not exist on {spec.name} "
                                 f"({spec.hemispheres} hemisphere{'s' if spec.hemispheres > 1 else ''})")
    if not balanced:
        for pop in pops:
            hc = pop.placement.hemisphere if pop.placement is not None else None
            shape = _shape(pop, hc, spec)
            hems = [hc] if hc is not None else list(range(spec.hemispheres))
            multi_row = hc is None and pop.circuits_per_neuron > 1 and spec.hemispheres > 1
            placer.allocate(pop, _anchors(spec, hems, multi_row), shape, spread=False,
                            constraint=_constraint_text(hc, spec), hemisphere=hc)
        return NeuronPlacement(spec, _tensors(graph, placer.result), label)

    # Rigid populations first (hemisphere-constrained and multi-circuit ones), spike sources
    # before the others: a source's column decides its event bus, a pure target's does not,
    # so sources get the pick of the columns to spread over all buses.
    pops.sort(key=lambda p: not _is_source(graph, p.name))
    load_of = {p.name: row_load(graph, p.name) for p in on_chip_populations(graph)}
    loads = np.zeros(spec.hemispheres)
    free_pops = []
    for pop in pops:
        hc = pop.placement.hemisphere if pop.placement is not None else None
        if hc is None and pop.circuits_per_neuron == 1 and spec.hemispheres > 1:
            free_pops.append(pop)
            continue
        shape = _shape(pop, hc, spec)
        hems = [hc] if hc is not None else list(range(spec.hemispheres))
        multi_row = hc is None and pop.circuits_per_neuron > 1 and spec.hemispheres > 1
        placer.allocate(pop, _anchors(spec, hems, multi_row), shape, spread=spread and _is_source(graph, pop.name),
                        constraint=_constraint_text(hc, spec), hemisphere=hc)
        share = np.bincount(placer.result[pop.name].reshape(-1) // spec.columns, minlength=spec.hemispheres)
        loads += load_of[pop.name] * share / share.sum()
    for name, array in placer.result.items():
        if graph.population(name).placement is not None and graph.population(name).placement.circuits is not None:
            share = np.bincount(array.reshape(-1) // spec.columns, minlength=spec.hemispheres)
            loads += load_of[name] * share / share.sum()

    # Hemisphere of every free population: largest row load first onto the less loaded array.
    capacity = [placer.free.count(h) for h in range(spec.hemispheres)]
    base_loads, base_capacity = loads.copy(), list(capacity)
    choice: dict[str, int] = {}
    for pop in sorted(free_pops, key=lambda p: -load_of[p.name]):
        load = load_of[pop.name]
        options = [h for h in range(spec.hemispheres) if capacity[h] >= pop.size]
        if not options:
            options = [int(np.argmax(capacity))]
        h = min(options, key=lambda h: (max(loads[h] + load, loads[1 - h]), loads[h], h))
        if swap:
            h = 1 - h if capacity[1 - h] >= pop.size else h
        choice[pop.name] = h
        loads[h] += load
        capacity[h] -= min(pop.size, capacity[h])
    if free_pops and not swap and choice[free_pops[0].name] == 1:
        # The mirror image balances as well when nothing rigid is placed unevenly; prefer the one
        # that puts the first-created population in the top row, as a reader expects.
        mirror = {name: 1 - h for name, h in choice.items()}
        m_loads, m_sizes = base_loads.copy(), [0, 0]
        for pop in free_pops:
            m_loads[mirror[pop.name]] += load_of[pop.name]
            m_sizes[mirror[pop.name]] += pop.size
        if all(m_sizes[h] <= base_capacity[h] for h in (0, 1)) and m_loads.max() <= loads.max() + 1e-9:
            choice = mirror
    for pop in sorted(free_pops, key=lambda p: not _is_source(graph, p.name)):
        h = choice[pop.name]
        anchors = _anchors(spec, [h, 1 - h], multi_row=False)
        placer.allocate(pop, anchors, [(0, 0)], spread=spread and _is_source(graph, pop.name), constraint="")
    logger.debug("balanced placement %s: hemisphere choice %s, row loads %s", label, choice, loads.tolist())
    if spread:
        _rebalance_buses(graph, spec, placer.result, synapses)
    return NeuronPlacement(spec, _tensors(graph, placer.result), label)


def _rebalance_buses(graph: Graph, spec: ChipSpec, result: dict[str, np.ndarray],
                     synapses: Optional[Mapping[str, np.ndarray]]) -> None:
    """Swap neurons within source populations until no neuron gets more synapses from one bus than it can take.

    A circuit is reached by at most `rows_per_bus` rows from each event bus, and an on-chip
    source reaches only the bus of its column, so which neuron of a population sits in which
    column matters for recurrent and sparse networks. Swapping two neurons of a population
    (whole circuit sets) keeps every placement rule. Greedy: relieve the worst (target, bus)
    overflow by the best swap, until none is left or no swap helps.
    """
    movable = [p.name for p in on_chip_populations(graph) if _is_source(graph, p.name)
               and (p.placement is None or p.placement.circuits is None)]
    if not movable:
        return
    targets = on_chip_populations(graph)
    t_off, total = {}, 0
    for p in targets:
        t_off[p.name], total = total, total + p.size
    cap = np.concatenate([np.full(p.size, spec.rows_per_bus * p.circuits_per_neuron) for p in targets])
    s_off, s_total = {}, 0
    sources = [p for p in targets if _is_source(graph, p.name)]
    for p in sources:
        s_off[p.name], s_total = s_total, s_total + p.size
    # Synapses each on-chip source puts into each target neuron: as given by the caller (split
    # weights counted), else one per connection and sign.
    demand = np.zeros((s_total, total), dtype=np.int64)
    for proj in graph.projections.values():
        if proj.source not in s_off:
            continue
        per = synapses[proj.name] if synapses is not None else (2 if proj.receptor == "signed" else 1)
        if isinstance(proj.connectivity, Sparse):
            t, src = proj.connectivity.indices.numpy()
        else:
            t, src = np.divmod(np.arange(proj.shape[0] * proj.shape[1]), proj.shape[1])
        np.add.at(demand, (src + s_off[proj.source], t + t_off[proj.target]), per)
    bus = np.zeros(s_total, dtype=np.int64)
    for p in sources:
        bus[s_off[p.name]:s_off[p.name] + p.size] = [spec.bus_of_column(int(c) % spec.columns)
                                                   for c in result[p.name][:, 0]]
    B = spec.buses_per_hemisphere
    load = np.stack([demand[bus == k].sum(0) for k in range(B)], axis=1)  # (targets, buses)
    over = lambda x: np.maximum(x - cap[:, None], 0)  # noqa: E731
    if over(load).sum() == 0:
        return
    group = np.concatenate([np.full(p.size, i) for i, p in enumerate(sources)])
    can_move = np.isin(group, [i for i, p in enumerate(sources) if p.name in movable])
    for _ in range(4 * s_total):
        excess = over(load)
        if excess.sum() == 0:
            break
        t_worst, k_worst = np.unravel_index(np.argmax(excess), excess.shape)
        best = (0, None)
        for s in np.flatnonzero((bus == k_worst) & can_move & (demand[:, t_worst] > 0)).tolist():
            partners = np.flatnonzero((group == group[s]) & (bus != k_worst))
            if partners.size == 0:
                continue
            diff = demand[partners] - demand[s]  # (partners, targets): what moves onto bus k_worst
            new_a = load[:, k_worst][None] + diff
            new_b = load[:, bus[partners]].T - diff
            delta = (np.maximum(new_a - cap, 0).sum(1) + np.maximum(new_b - cap, 0).sum(1)
                     - excess[:, k_worst].sum() - excess[:, bus[partners]].sum(0))
            j = int(np.argmin(delta))
            if delta[j] < best[0]:
                best = (int(delta[j]), (s, int(partners[j])))
        if best[1] is None:
            break
        s, r = best[1]
        a, b = bus[s], bus[r]
        load[:, a] += demand[r] - demand[s]
        load[:, b] += demand[s] - demand[r]
        bus[s], bus[r] = b, a
        pop = sources[group[s]].name
        i, j = s - s_off[pop], r - s_off[pop]
        result[pop][[i, j]] = result[pop][[j, i]]


def _constraint_text(hemisphere: Optional[int], spec: ChipSpec) -> str:
    return "" if hemisphere is None else f"in the {spec.hemisphere_name(hemisphere)} hemisphere (placement constraint)"


def _tensors(graph: Graph, result: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    # Creation order, so tables and summaries list populations as the user wrote them.
    return {p.name: torch.from_numpy(result[p.name]) for p in on_chip_populations(graph)}


def placement_candidates(graph: Graph, spec: ChipSpec = HICANN_X, strategy: str = "balanced",
                         synapses: Optional[Mapping[str, np.ndarray]] = None) -> Iterator[NeuronPlacement]:
    """Placements to try in order of preference (only one for ``first_fit``); duplicates skipped.

    `synapses` (optional): per projection, the synapses each connection needs (in the
    projection's connection order), so bus balancing counts split weights.
    """
    check_strategy(strategy)
    check_circuit_budget(graph, spec)
    if strategy == "first_fit":
        yield _place(graph, spec, balanced=False, spread=False, swap=False, label="first_fit")
        return
    seen: list[NeuronPlacement] = []
    makers = [
        lambda: _place(graph, spec, balanced=True, spread=True, swap=False, label="balanced", synapses=synapses),
        lambda: _place(graph, spec, balanced=False, spread=False, swap=False, label="balanced (first-fit fallback)"),
        lambda: _place(graph, spec, balanced=True, spread=False, swap=False, label="balanced (contiguous)"),
        lambda: _place(graph, spec, balanced=True, spread=True, swap=True, label="balanced (hemispheres swapped)",
                       synapses=synapses),
    ]
    first_error: Optional[MappingError] = None
    for make in makers:
        try:
            candidate = make()
        except MappingError as exc:
            first_error = first_error or exc
            continue
        if any(candidate.same_as(s) for s in seen):
            continue
        seen.append(candidate)
        yield candidate
    if not seen and first_error is not None:
        raise first_error


def place(graph: Graph, spec: ChipSpec = HICANN_X, strategy: str = "balanced",
          synapses: Optional[Mapping[str, np.ndarray]] = None) -> NeuronPlacement:
    """The preferred placement of `graph` by `strategy` (without trying whether it routes)."""
    return next(iter(placement_candidates(graph, spec, strategy, synapses)))


def check_placement(graph: Graph, placement: NeuronPlacement, spec: ChipSpec) -> None:
    """A given placement must cover exactly the graph's on-chip populations, on this chip, without overlap."""
    if not isinstance(placement, NeuronPlacement):
        raise ParameterError(f"placement must be a strategy name ({known(STRATEGIES)}) or a NeuronPlacement; "
                             f"got {placement!r}")
    if placement.spec != spec:
        raise ParameterError(f"the given placement was made for chip {placement.spec.name!r}, not {spec.name!r}")
    names = [p.name for p in on_chip_populations(graph)]
    if sorted(names) != sorted(placement.circuits):
        raise ParameterError(f"the given placement covers populations {known(placement.circuits)}; the graph's "
                             f"on-chip populations are {known(names)}")
    seen: dict[int, str] = {}
    for pop in on_chip_populations(graph):
        c = placement.circuits[pop.name]
        if tuple(c.shape) != (pop.size, pop.circuits_per_neuron):
            raise ParameterError(f"the given placement has shape {tuple(c.shape)} for population {pop.name!r}; "
                                 f"expected ({pop.size}, {pop.circuits_per_neuron})")
        for x in c.reshape(-1).tolist():
            if not 0 <= x < spec.circuits:
                raise ParameterError(f"population {pop.name!r}: circuit {x} does not exist on {spec.name}")
            if x in seen:
                raise ParameterError(f"circuit {x} is given to both {seen[x]!r} and {pop.name!r}")
            seen[x] = pop.name
        if pop.circuits_per_neuron > 1:
            for i, row in enumerate(c.tolist()):
                problem = neuron_circuit_problem(row, spec)
                if problem:
                    raise ParameterError(f"population {pop.name!r}: neuron {i} has circuits {row}; {problem}")
