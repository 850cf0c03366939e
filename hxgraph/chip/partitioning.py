"""Partitioning: a graph larger than one chip, split into execution instances that each fit one.

An *execution instance* is one chip configuration run once: several chips side by side, or
one chip reconfigured between runs with the spikes of one run recorded and replayed into the
next. `partition(graph)` assigns every on-chip population — or, where one population does not
fit one chip, slices of it by neurons — to instances so that every instance places and routes.

How it decides (a heuristic, not an optimum):

- A graph that maps onto one chip is never split.
- Every neuron keeps its full fan-in (partial sums cannot be added outside a spiking neuron),
  so a neuron whose inputs need more synapse rows than its circuits have is given more
  circuits (`circuits_per_neuron`), and the partition says so.
- Cycles (recurrent populations, loops between populations) stay inside one instance: the
  chip-to-chip links that could carry them are not modelled, so a cycle larger than one chip
  is refused with a `MappingError`.
- Populations are packed in dependency order, each instance filled before the next is
  opened, which keeps consecutive layers together (less spike traffic between instances) and
  uses as few instances as the circuit budget allows. Every instance is then placed and
  routed; where routing fails, the last slice is shrunk until it routes.

The result, `Partition`, is plain data (`to_dict` / `to_json` give JSON) with a `summary()`
and the reasons it needed as many instances as it did; in memory it also holds each
instance's graph (`graphs`) and chip mapping (`mappings`), which `hx.emulate` reuses.
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Any, Iterator, Mapping, Optional, Sequence, Union

import attrs
import networkx as nx
import numpy as np
import torch

from hxgraph.chip.calibration import Calibration
from hxgraph.chip.mapping import ChipMapping, map_onto_chip
from hxgraph.chip.placement import check_strategy, on_chip_populations
from hxgraph.chip.routing import check_routing, connection_demand
from hxgraph.chip.spec import HICANN_X, ChipSpec
from hxgraph.errors import ConsistencyWarning, MappingError, ParameterError, SerializationError
from hxgraph.graph import Dense, Graph, Mixed, Population, Projection, Sparse
from hxgraph.graph.reading import expect_keys, read_int, read_list, read_object, read_str, read_str_list

FORMAT = "hxgraph.partition"
VERSION = 1


# ---------------------------------------------------------------------------- the result as data

@attrs.frozen
class Slice:
    """Neurons `[start, stop)` of `population`; `name` is the population's own name when the slice is all
    of it, else `population[start:stop]` (the name the instance's graph and its mapping use)."""

    population: str
    start: int
    stop: int
    name: str

    @property
    def size(self) -> int:
        return self.stop - self.start

    def to_dict(self) -> dict:
        return {"population": self.population, "start": self.start, "stop": self.stop, "name": self.name}


@attrs.frozen
class Instance:
    """One execution instance: the slices it runs (`slices`), the spike sources it receives from the host
    (`inputs`: the graph's input populations, and slices run by earlier instances), its neuron circuits
    and what filled it (`limit`)."""

    index: int
    slices: tuple[Slice, ...]
    inputs: tuple[str, ...]
    circuits: int
    limit: str

    def to_dict(self) -> dict:
        return {"index": self.index, "slices": [s.to_dict() for s in self.slices], "inputs": list(self.inputs),
                "circuits": self.circuits, "limit": self.limit}


@attrs.frozen
class Link:
    """Spikes from instance `source` to instance `target`: `neurons` spike trains of `slices`, feeding
    `connections` synapses there."""

    source: int
    target: int
    slices: tuple[str, ...]
    neurons: int
    connections: int

    def to_dict(self) -> dict:
        return {"source": self.source, "target": self.target, "slices": list(self.slices), "neurons": self.neurons,
                "connections": self.connections}


class Partition:
    """Execution instances of a graph (see the module docstring); instances are numbered in an order in
    which they can run (every link goes from a lower to a higher index).

    `instances`, `links` (spike traffic between instances), `circuits_per_neuron` (populations given
    more circuits than the graph says, for their fan-in), `reasons` (why this many instances). In
    memory: `graph` (the partitioned graph), `graphs[i]` (instance i's graph: its slices on chip, its
    sources as input populations) and `mappings[i]` (its `ChipMapping`, when it was routed).
    """

    def __init__(self, graph_name: str, structure_hash: str, chip: str, instances: Sequence[Instance],
                 links: Sequence[Link], circuits_per_neuron: Mapping[str, int], reasons: Sequence[str]):
        self.graph_name = graph_name
        self.structure_hash = structure_hash
        self.chip = chip
        self.instances = tuple(instances)
        self.links = tuple(links)
        self.circuits_per_neuron = dict(circuits_per_neuron)
        self.reasons = tuple(reasons)
        self.spec: Optional[ChipSpec] = None
        self.graph: Optional[Graph] = None
        self._parts: list[_InstanceGraph] = []
        self.mappings: list[Optional[ChipMapping]] = []

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.instances)

    def __iter__(self) -> Iterator[Instance]:
        return iter(self.instances)

    @property
    def graphs(self) -> list[Graph]:
        """Each instance's graph (needs the partition bound to its graph: `bind`)."""
        self._need_graph("graphs")
        return [part.graph for part in self._parts]

    def slices_of(self, population: str) -> list[tuple[int, Slice]]:
        """(instance index, slice) of every part of `population`, in neuron order."""
        found = [(inst.index, s) for inst in self.instances for s in inst.slices if s.population == population]
        return sorted(found, key=lambda item: item[1].start)

    def levels(self) -> list[list[int]]:
        """Instances grouped so that each group depends only on earlier groups (they may run side by side)."""
        level = {inst.index: 0 for inst in self.instances}
        for link in sorted(self.links, key=lambda lk: lk.target):
            level[link.target] = max(level[link.target], level[link.source] + 1)
        groups: dict[int, list[int]] = {}
        for index, lv in level.items():
            groups.setdefault(lv, []).append(index)
        return [sorted(groups[k]) for k in sorted(groups)]

    def bind(self, graph: Graph, spec: Optional[ChipSpec] = None) -> "Partition":
        """Attach the graph this partition was made for (after `from_json`), building each instance's graph."""
        if not isinstance(graph, Graph):
            raise ParameterError(f"a partition binds to an hxgraph.Graph; got {type(graph).__name__}")
        if graph.structure_hash() != self.structure_hash:
            raise MappingError(f"this partition was made for graph {self.graph_name!r} of another structure than "
                               f"graph {graph.name!r} (populations, sizes, connectivity or parameters differ); "
                               f"partition the graph again with hx.partition(graph)")
        if spec is not None and spec.name != self.chip:
            raise MappingError(f"this partition was made for chip {self.chip!r}, not {spec.name!r}")
        work = with_circuits(graph, self.circuits_per_neuron)
        owner = _slice_owner(self.instances)
        return self._attach(graph, spec if spec is not None else (self.spec or HICANN_X),
                            [_instance_graph(work, inst, owner) for inst in self.instances], [None] * len(self))

    def _attach(self, graph: Graph, spec: ChipSpec, parts: list["_InstanceGraph"],
                mappings: list[Optional[ChipMapping]]) -> "Partition":
        self.graph, self.spec, self._parts, self.mappings = graph, spec, parts, mappings
        return self

    def refresh_weights(self) -> None:
        """Copy the graph's current weights into every instance's graph (after a training step)."""
        self._need_graph("refresh_weights")
        for part in self._parts:
            part.refresh(self.graph)

    def _need_graph(self, what: str) -> None:
        if self.graph is None:
            raise ParameterError(f"Partition.{what}: this partition is not bound to a graph (it was read from a "
                                 f"file); call partition.bind(graph) with the graph it was made for")

    # ------------------------------------------------------------------ reading
    def summary(self) -> str:
        """How many instances, what runs where, the traffic between them, and why."""
        n = len(self.instances)
        lines = [f"Partition of {self.graph_name!r} onto {n} execution instance{'s' if n != 1 else ''} of "
                 f"{self.chip}"]
        lines += [f"  {reason}" for reason in self.reasons]
        for inst in self.instances:
            slices = ", ".join(s.name for s in inst.slices)
            inputs = ", ".join(inst.inputs) or "-"
            lines.append(f"instance {inst.index}: {slices} ({inst.circuits} circuits; filled by: {inst.limit}); "
                         f"inputs: {inputs}")
        if self.links:
            lines.append("spike traffic between instances (neurons → connections):")
            for link in self.links:
                lines.append(f"  {link.source} → {link.target}: {link.neurons} neurons ({', '.join(link.slices)}) → "
                             f"{link.connections} connections")
        else:
            lines.append("no spike traffic between instances")
        if self.circuits_per_neuron:
            lines.append("circuits per neuron raised for fan-in: " + ", ".join(
                f"{name!r} {count}" for name, count in self.circuits_per_neuron.items()))
        return "\n".join(lines)

    def __repr__(self) -> str:
        traffic = sum(link.neurons for link in self.links)
        return (f"<Partition {self.graph_name!r}: {len(self.instances)} instance(s) of {self.chip}, "
                f"{traffic} neurons' spikes between instances>")

    def _repr_html_(self) -> str:
        from hxgraph.viz.notebook import partition_html
        return partition_html(self)

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "graph": self.graph_name, "structure_hash": self.structure_hash,
                "chip": self.chip, "instances": [inst.to_dict() for inst in self.instances],
                "links": [link.to_dict() for link in self.links],
                "circuits_per_neuron": dict(self.circuits_per_neuron), "reasons": list(self.reasons)}

    def to_json(self, indent: Optional[int] = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Any, graph: Optional[Graph] = None) -> "Partition":
        """Read `to_dict`'s form (every value type-checked); bind to `graph` when given."""
        data = read_object(data, "partition")
        expect_keys(data, {"format", "version", "graph", "structure_hash", "chip", "instances", "links",
                           "circuits_per_neuron", "reasons"}, "partition")
        if data["format"] != FORMAT:
            raise SerializationError(f"partition.format: expected {FORMAT!r}; got {data['format']!r}")
        if read_int(data["version"], "partition.version") != VERSION:
            raise SerializationError(f"partition.version: this hxgraph reads version {VERSION}; got {data['version']}")
        instances = []
        for i, item in enumerate(read_list(data["instances"], "partition.instances")):
            where = f"partition.instances[{i}]"
            item = read_object(item, where)
            expect_keys(item, {"index", "slices", "inputs", "circuits", "limit"}, where)
            slices = []
            for j, s in enumerate(read_list(item["slices"], f"{where}.slices")):
                w = f"{where}.slices[{j}]"
                s = read_object(s, w)
                expect_keys(s, {"population", "start", "stop", "name"}, w)
                start, stop = read_int(s["start"], f"{w}.start", 0), read_int(s["stop"], f"{w}.stop", 1)
                if stop <= start:
                    raise SerializationError(f"{w}: stop ({stop}) must be greater than start ({start})")
                slices.append(Slice(read_str(s["population"], f"{w}.population"), start, stop,
                                    read_str(s["name"], f"{w}.name")))
            index = read_int(item["index"], f"{where}.index", 0)
            if index != i:
                raise SerializationError(f"{where}.index: expected {i} (instances in order); got {index}")
            instances.append(Instance(index, tuple(slices), tuple(read_str_list(item["inputs"], f"{where}.inputs")),
                                      read_int(item["circuits"], f"{where}.circuits", 0),
                                      read_str(item["limit"], f"{where}.limit")))
        links = []
        for i, item in enumerate(read_list(data["links"], "partition.links")):
            where = f"partition.links[{i}]"
            item = read_object(item, where)
            expect_keys(item, {"source", "target", "slices", "neurons", "connections"}, where)
            source = read_int(item["source"], f"{where}.source", 0)
            target = read_int(item["target"], f"{where}.target", 0)
            if not source < target < len(instances):
                raise SerializationError(f"{where}: a link goes from an earlier to a later instance of the "
                                         f"{len(instances)}; got {source} → {target}")
            links.append(Link(source, target, tuple(read_str_list(item["slices"], f"{where}.slices")),
                              read_int(item["neurons"], f"{where}.neurons", 0),
                              read_int(item["connections"], f"{where}.connections", 0)))
        cpn = read_object(data["circuits_per_neuron"], "partition.circuits_per_neuron")
        part = cls(read_str(data["graph"], "partition.graph"), read_str(data["structure_hash"], "partition.structure_hash"),
                   read_str(data["chip"], "partition.chip"), instances, links,
                   {k: read_int(v, f"partition.circuits_per_neuron[{k!r}]", 1) for k, v in cpn.items()},
                   read_str_list(data["reasons"], "partition.reasons"))
        if graph is not None:
            part.bind(graph)
        return part

    @classmethod
    def from_json(cls, text: Union[str, bytes], graph: Optional[Graph] = None) -> "Partition":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise SerializationError(f"a partition file must be JSON: {exc}") from None
        return cls.from_dict(data, graph)


# ---------------------------------------------------------------------------- instance graphs

@attrs.frozen
class _Piece:
    """Where one projection of an instance's graph takes its weights from: `projection`'s rows `targets`
    and columns `sources` (dense), or its connections `index` (sparse)."""

    name: str
    projection: str
    targets: tuple[int, int]
    sources: tuple[int, int]
    index: Optional[torch.Tensor] = None

    def weight(self, graph: Graph) -> torch.Tensor:
        """This piece of the projection's current weights (a view for dense, a gather for sparse)."""
        w = graph.projection(self.projection).weight.detach()
        if self.index is None:
            return w[self.targets[0]:self.targets[1], self.sources[0]:self.sources[1]]
        return w[self.index]


@attrs.frozen(eq=False)
class _InstanceGraph:
    graph: Graph
    pieces: tuple[_Piece, ...]

    def refresh(self, graph: Graph) -> None:
        with torch.no_grad():
            for piece in self.pieces:
                target = self.graph.projection(piece.name).weight
                fresh = piece.weight(graph)
                if fresh.shape != target.shape:  # the graph changed under the partition
                    raise MappingError(f"projection {piece.projection!r} no longer has the shape this partition "
                                       "was made for; partition the graph again")
                target.copy_(fresh)


def with_circuits(graph: Graph, circuits: Mapping[str, int]) -> Graph:
    """`graph` with more circuits per neuron for the named populations (weights shared, not copied)."""
    if not circuits:
        return graph
    pops = [attrs.evolve(p, circuits_per_neuron=circuits[p.name]) if p.name in circuits else p
            for p in graph.populations.values()]
    return Graph(graph.name, graph.dt, pops, graph.projections.values())


def _slice_owner(instances: Sequence[Instance]) -> dict[str, list[tuple[int, Slice]]]:
    owner: dict[str, list[tuple[int, Slice]]] = {}
    for inst in instances:
        for s in inst.slices:
            owner.setdefault(s.population, []).append((inst.index, s))
    for parts in owner.values():
        parts.sort(key=lambda item: item[1].start)
    return owner


def _slice_population(pop: Population, s: Slice, as_input: bool) -> Population:
    """The population of slice `s`: on chip, under its population's name, with its parameters sliced; or
    as an input of its size, named by the slice (an instance runs at most one slice of a population, so
    instances holding equal slices have graphs of equal structure, and one routing serves them all)."""
    if as_input:
        return Population(s.name, s.size, "input")
    if s.start == 0 and s.stop == pop.size:
        return pop
    params = {k: slice_value(v, pop.size, s) for k, v in pop.params.items()}
    placement = pop.placement
    if placement is not None and placement.circuits is not None:
        per = pop.circuits_per_neuron
        placement = attrs.evolve(placement, circuits=placement.circuits[s.start * per:s.stop * per])
    return attrs.evolve(pop, size=s.size, params=params, placement=placement)


def slice_value(value: Any, size: int, s: Slice) -> Any:
    """A parameter of a population of `size` neurons for slice `s`: per-neuron tensors sliced, scalars kept."""
    if isinstance(value, Mixed):
        return Mixed(slice_value(value.model, size, s), slice_value(value.hardware, size, s))
    if isinstance(value, torch.Tensor) and value.dim() == 1 and value.numel() == size and size > 1:
        return value[s.start:s.stop]
    return value


def _instance_graph(work: Graph, inst: Instance, owner: Mapping[str, list[tuple[int, Slice]]]) -> _InstanceGraph:
    """Instance `inst`'s graph: its slices on chip; its sources (graph inputs, other instances' slices) as
    input populations; every projection into its slices restricted to them, with its full fan-in."""
    mine = list(inst.slices)
    if len(mine) == len(on_chip_populations(work)) and all(s.start == 0 and s.stop == work.population(s.population).size
                                                            for s in mine):
        # The whole graph on one instance: its own graph, unchanged.
        return _InstanceGraph(work, ())
    populations: dict[str, Population] = {}
    projections: list[Projection] = []
    pieces: list[_Piece] = []
    for target in mine:
        for proj in work.projections_into(target.population):
            source_pop = work.population(proj.source)
            parts = ([(None, Slice(proj.source, 0, source_pop.size, proj.source))] if source_pop.is_input
                     else owner[proj.source])
            for _, src in parts:
                local = src in mine  # on this chip under its population's name, else an input named by the slice
                piece = _piece(proj, target, src, len(parts) > 1)
                if piece is None:
                    continue
                if not local and src.name not in populations:
                    populations[src.name] = (source_pop if source_pop.is_input
                                             else _slice_population(source_pop, src, as_input=True))
                projections.append(_piece_projection(work, proj, piece, target, src,
                                                     src.population if local else src.name))
                pieces.append(piece)
    on_chip = [_slice_population(work.population(s.population), s, as_input=False) for s in mine]
    ordered = [p for p in populations.values()] + on_chip
    graph = Graph(f"{work.name}-instance{inst.index}", work.dt, ordered, projections)
    return _InstanceGraph(graph, tuple(pieces))


def _piece(proj: Projection, target: Slice, src: Slice, renamed: bool) -> Optional[_Piece]:
    name = proj.name if not renamed else f"{proj.name}[{src.start}:{src.stop}]"  # which part of the source
    if isinstance(proj.connectivity, Dense):
        return _Piece(name, proj.name, (target.start, target.stop), (src.start, src.stop))
    t, s = proj.connectivity.targets, proj.connectivity.sources
    keep = (t >= target.start) & (t < target.stop) & (s >= src.start) & (s < src.stop)
    index = keep.nonzero().reshape(-1)
    if index.numel() == 0:
        return None
    return _Piece(name, proj.name, (target.start, target.stop), (src.start, src.stop), index)


def _piece_projection(work: Graph, proj: Projection, piece: _Piece, target: Slice, src: Slice, source: str
                      ) -> Projection:
    weight = piece.weight(work).clone()  # the instance's own tensor; `refresh` copies new values in
    if piece.index is None:
        connectivity: Any = Dense((target.size, src.size))
    else:
        idx = proj.connectivity.indices[:, piece.index]
        connectivity = Sparse((target.size, src.size),
                              torch.stack([idx[0] - target.start, idx[1] - src.start]))
    return Projection(piece.name, source, target.population, connectivity, weight, receptor=proj.receptor,
                      transform=proj.transform)



# ---------------------------------------------------------------------------- partitioning

def check_max_chips(value: Any) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"max_chips must be a positive integer or None (no limit); got {value!r}")
    return value


def partition(graph: Graph, chip: Optional[ChipSpec] = None, max_chips: Optional[int] = None, *,
              placement: str = "balanced", routing: str = "shared", calibration: Optional[Calibration] = None,
              verify: bool = True, exact_time_limit: float = 0.0) -> Partition:
    """Split `graph` into execution instances of `chip` (default HICANN-X), each of which places and routes.

    `max_chips`: at most this many instances, else a `MappingError` saying how many are needed.
    `placement`, `routing`, `calibration`: as for `place_and_route`; every instance is placed and
    routed with them (`verify=False` skips routing and trusts the circuit budget alone, so an
    instance may still fail to route when it is emulated). `exact_time_limit`: seconds of the
    exact router per routing attempt (default 0: the greedy router; where it fails, the
    instance's last slice is shrunk instead). See the module docstring for how it decides.
    """
    if not isinstance(graph, Graph):
        hint = " (use experiment.graph)" if hasattr(graph, "graph") else ""
        raise ParameterError(f"hx.partition needs an hxgraph.Graph; got {type(graph).__name__}{hint}")
    spec = HICANN_X if chip is None else chip
    if not isinstance(spec, ChipSpec):
        raise ParameterError(f"chip must be a hxgraph.chip.ChipSpec (or None for HICANN-X); got {chip!r}")
    max_chips = check_max_chips(max_chips)
    check_strategy(placement)
    check_routing(routing)
    if not isinstance(verify, bool):
        raise ParameterError(f"verify must be True or False; got {verify!r}")
    calibration = Calibration() if calibration is None else calibration
    if not isinstance(calibration, Calibration):
        raise ParameterError(f"calibration must be a hxgraph.chip.Calibration or None; got {calibration!r}")
    graph.project_signs_()
    return _Partitioner(graph, spec, max_chips, placement, routing, calibration, verify, exact_time_limit).run()


class _Budget:
    """Neuron circuits of one chip as the partitioner counts them: a neuron of several circuits takes
    whole columns (both rows) inside one quadrant column range; single circuits go anywhere, also into
    the circuit a neuron of an odd number of circuits leaves free in its last column."""

    def __init__(self, spec: ChipSpec):
        self.spec = spec
        self.H = spec.hemispheres
        self.free_columns = [spec.quadrant_columns] * (spec.columns // spec.quadrant_columns)
        self.spare = 0      # free circuits inside columns taken by merged neurons
        self.singles = 0    # single-circuit neurons
        self.circuits = 0   # circuits in use

    def _columns_used(self) -> int:
        return self.spec.columns - sum(self.free_columns)

    def copy(self) -> "_Budget":
        twin = _Budget(self.spec)
        twin.free_columns, twin.spare = list(self.free_columns), self.spare
        twin.singles, twin.circuits = self.singles, self.circuits
        return twin

    def take_whole(self, populations: Sequence[Population]) -> bool:
        """Take all neurons of `populations` if they all fit (and return True), else change nothing."""
        trial = self.copy()
        for p in populations:
            if trial.capacity(p.circuits_per_neuron, p.size) < p.size:
                return False
            trial.take(p.circuits_per_neuron, p.size)
        self.__dict__.update(trial.__dict__)
        return True

    def _fits(self, columns: int, spare: int, singles: int) -> bool:
        return self.H * columns + max(0, singles - spare) <= self.spec.circuits

    def capacity(self, circuits_per_neuron: int, n: int) -> int:
        """How many of `n` neurons of `circuits_per_neuron` circuits still fit."""
        used = self._columns_used()
        if circuits_per_neuron == 1:
            room = self.spec.circuits - self.H * used - max(0, self.singles - self.spare)
            return max(0, min(n, room))
        width = math.ceil(circuits_per_neuron / self.H)
        if width > self.spec.quadrant_columns:
            return 0
        k = min(n, sum(free // width for free in self.free_columns))
        spare = width * self.H - circuits_per_neuron
        while k > 0 and not self._fits(used + k * width, self.spare + k * spare, self.singles):
            k -= 1
        return k

    def take(self, circuits_per_neuron: int, k: int) -> None:
        self.circuits += k * circuits_per_neuron
        if circuits_per_neuron == 1:
            self.singles += k
            return
        width = math.ceil(circuits_per_neuron / self.H)
        self.spare += k * (width * self.H - circuits_per_neuron)
        for r, free in enumerate(self.free_columns):
            here = min(k, free // width)
            self.free_columns[r] -= here * width
            k -= here
            if k == 0:
                break


@attrs.define
class _Item:
    """Work left to place: `members` (several, or a recurrent one: kept whole) or one population from `start`."""

    members: list[str]
    splittable: bool
    start: int = 0


class _Partitioner:
    def __init__(self, graph: Graph, spec: ChipSpec, max_chips: Optional[int], placement: str, routing: str,
                 calibration: Calibration, verify: bool, exact_time_limit: float):
        self.graph, self.spec, self.max_chips = graph, spec, max_chips
        self.placement, self.routing, self.calibration = placement, routing, calibration
        self.verify, self.exact_time_limit = verify, exact_time_limit
        self.raised = self._circuits_for_fan_in()
        self.work = with_circuits(graph, self.raised)
        self.units = self._units()
        self.reasons: list[str] = []
        self.routed: dict[str, ChipMapping] = {}  # by structure: instances of equal structure share a routing

    # ------------------------------------------------------------------ fan-in
    def _circuits_for_fan_in(self) -> dict[str, int]:
        """Populations whose neurons need more circuits than they have for the synapses of their fan-in."""
        graph, spec = self.graph, self.spec
        demand = connection_demand(graph, spec, self.calibration)
        need = np.bincount(demand.tgt, weights=demand.exc_synapses + demand.inh_synapses,
                           minlength=demand.neuron_count).astype(np.int64)
        most = spec.hemispheres * spec.quadrant_columns  # a neuron's circuits stay inside one quadrant range
        # Sources one chip tells apart: a label per source in each driver group of each bus.
        sources = spec.hemispheres * spec.buses_per_hemisphere * spec.drivers_per_bus * spec.labels
        fan_in = np.bincount(demand.tgt, minlength=demand.neuron_count)
        raised = {}
        for name in demand.neuron_pops:
            pop = graph.population(name)
            offset = demand.neuron_offset[name]
            rows = int(need[offset:offset + pop.size].max()) if pop.size else 0
            circuits = max(1, math.ceil(rows / spec.synapse_rows))
            widest = int(fan_in[offset:offset + pop.size].max()) if pop.size else 0
            if widest > sources:
                raise MappingError(
                    f"population {name!r}: a neuron has {widest} input connections, more sources than one "
                    f"{spec.name} can tell apart ({sources}: {spec.labels} labels in each of {spec.drivers_per_bus} "
                    f"driver groups of {spec.buses_per_hemisphere * spec.hemispheres} event buses); no partition "
                    f"helps, since every neuron keeps its full fan-in: use fewer inputs per neuron",
                    resource="sources per chip", needed=widest, available=sources)
            if circuits > most:
                raise MappingError(
                    f"population {name!r}: a neuron needs {rows} synapses for its inputs, more than a neuron of "
                    f"all {most} circuits of a quadrant range has rows ({most * spec.synapse_rows}); no partition "
                    f"helps, since every neuron keeps its full fan-in: use fewer inputs per neuron (sparse "
                    f"connectivity), a fixed-sign receptor (one synapse per connection instead of two), or smaller "
                    f"hardware weights (weights above {spec.max_weight} take several synapses)",
                    resource="synapse rows per neuron", needed=rows, available=most * spec.synapse_rows)
            if circuits > pop.circuits_per_neuron:
                if pop.placement is not None and pop.placement.circuits is not None:
                    raise MappingError(
                        f"population {name!r}: its neurons need {rows} synapses for their inputs, {circuits} "
                        f"circuits each, but its placement lists {pop.circuits_per_neuron} per neuron; give "
                        f"circuits_per_neuron={circuits} and {circuits} circuits per neuron, or no placement",
                        resource="synapse rows per neuron", needed=rows,
                        available=pop.circuits_per_neuron * spec.synapse_rows)
                raised[name] = circuits
        return raised

    # ------------------------------------------------------------------ the result
    def run(self) -> Partition:
        for name, count in self.raised.items():
            self.reasons.append(f"population {name!r}: {count} circuits per neuron (instead of "
                                f"{self.graph.population(name).circuits_per_neuron}) for its fan-in")
        whole = self._one_chip()
        if whole is not None:
            return whole
        return self._result(*self._pack())

    def _one_chip(self) -> Optional[Partition]:
        """The partition of one instance when the whole graph maps onto one chip, else None."""
        pops = on_chip_populations(self.work)
        slices = tuple(Slice(p.name, 0, p.size, p.name) for p in pops)
        needed = sum(p.size * p.circuits_per_neuron for p in pops)
        if needed > self.spec.circuits:
            self.reasons.append(self._circuit_reason(pops, needed))
            return None
        inst = Instance(0, slices, tuple(p.name for p in self.work.inputs), needed, "the whole graph")
        try:
            mapping = self._route(self.work)
        except MappingError as exc:
            self.reasons.append(f"the graph needs {needed} of {self.spec.circuits} circuits but does not map onto "
                                f"one chip: {exc}")
            return None
        self.reasons.append("the graph maps onto one chip: not split")
        return self._result([inst], [_InstanceGraph(self.work, ())], [mapping])

    def _circuit_reason(self, pops: Sequence[Population], needed: int) -> str:
        listing = ", ".join(f"{p.name!r} {p.size} × {p.circuits_per_neuron}" for p in pops)
        return (f"on-chip neurons need {needed} neuron circuits ({listing}); one {self.spec.name} has "
                f"{self.spec.circuits}: at least {math.ceil(needed / self.spec.circuits)} instances")

    def _route(self, graph: Graph) -> Optional[ChipMapping]:
        if not self.verify:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConsistencyWarning)  # told once, when the instance is emulated
            key = graph.structure_hash()
            mapping = map_onto_chip(graph, self.spec, placement=self.placement, routing=self.routing,
                                    previous=self.routed.get(key), calibration=self.calibration,
                                    exact_time_limit=self.exact_time_limit)
            self.routed.setdefault(key, mapping)
            return mapping

    # ------------------------------------------------------------------ packing
    def _units(self) -> list[_Item]:
        """On-chip populations in dependency order; a cycle (or a recurrent population) is one unit."""
        pops = on_chip_populations(self.work)
        index = {p.name: i for i, p in enumerate(pops)}
        g = nx.DiGraph()
        g.add_nodes_from(index)
        g.add_edges_from((p.source, p.target) for p in self.work.projections.values()
                         if p.source in index and p.target in index)
        dag = nx.condensation(g)
        first = {c: min(index[m] for m in dag.nodes[c]["members"]) for c in dag.nodes}
        items = []
        for c in nx.lexicographical_topological_sort(dag, key=first.__getitem__):
            members = sorted(dag.nodes[c]["members"], key=index.__getitem__)
            recurrent = len(members) > 1 or g.has_edge(members[0], members[0])
            items.append(_Item(members, splittable=not recurrent))
        return items

    def _plan(self, split_all: bool) -> tuple[int, int]:
        """(instances, spike trains between them) of packing by the circuit budget alone."""
        queue = [attrs.evolve(unit, members=list(unit.members)) for unit in self.units]
        where: dict[str, list[tuple[int, int, int]]] = {}  # population -> (instance, start, stop)
        count = 0
        while queue:
            chosen, _ = self._fill(queue, split_all)
            for name, a, b in chosen:
                where.setdefault(name, []).append((count, a, b))
            count += 1
        trains = set()  # (source population, source part, target instance): one spike train per neuron
        for proj in self.work.projections.values():
            if proj.source not in where:
                continue
            for target_instance, _, _ in where[proj.target]:
                for k, (source_instance, a, b) in enumerate(where[proj.source]):
                    if source_instance != target_instance:
                        trains.add((proj.source, k, a, b, target_instance))
        return count, sum(b - a for _, _, a, b, _ in trains)

    def _pack(self) -> tuple[list[Instance], list[_InstanceGraph], list[Optional[ChipMapping]]]:
        # Two ways to fill: split a population wherever an instance is full, or give one that fits an
        # empty chip a chip of its own (its sources then send to one instance, not two). Whichever needs
        # fewer instances, then less traffic, is placed and routed.
        split_all = min((True, False), key=lambda flag: self._plan(flag))
        queue = [attrs.evolve(unit, members=list(unit.members)) for unit in self.units]
        instances: list[Instance] = []
        parts: list[_InstanceGraph] = []  # final when made: an instance's sources all lie in it or before it
        mappings: list[Optional[ChipMapping]] = []
        owner: dict[str, list[tuple[int, Slice]]] = {}
        while queue:
            if self.max_chips is not None and len(instances) == self.max_chips:
                self._too_many(instances, queue)
            chosen, limit = self._fill(queue, split_all)
            inst, part, mapping = self._verified(len(instances), chosen, limit, queue, owner)
            instances.append(inst)
            parts.append(part)
            mappings.append(mapping)
            for s in inst.slices:
                owner.setdefault(s.population, []).append((inst.index, s))
        return instances, parts, mappings

    def _fill(self, queue: list[_Item], split_all: bool = True) -> tuple[list[tuple[str, int, int]], str]:
        """Take work from the front of `queue` while the circuit budget allows; returns (population, start,
        stop) parts and what stopped the filling. Without `split_all`, a population that does not fit what
        is left but fits an empty chip is not split: it starts the next instance."""
        budget = _Budget(self.spec)
        chosen: list[tuple[str, int, int]] = []
        while queue:
            item = queue[0]
            if not item.splittable:
                pops = [self.work.population(m) for m in item.members]
                if budget.take_whole(pops):
                    chosen += [(p.name, 0, p.size) for p in pops]
                    queue.pop(0)
                    continue
                if chosen:
                    return chosen, "neuron circuits (the next cycle is kept whole)"
                raise self._cycle_error(item)
            pop = self.work.population(item.members[0])
            remaining = pop.size - item.start
            k = budget.capacity(pop.circuits_per_neuron, remaining)
            explicit = pop.placement is not None and pop.placement.circuits is not None
            whole_elsewhere = (not split_all and item.start == 0 and k < remaining
                               and _Budget(self.spec).capacity(pop.circuits_per_neuron, remaining) == remaining)
            if k == 0 or (k < remaining and explicit and item.start == 0) or (whole_elsewhere and chosen):
                if chosen:
                    return chosen, "neuron circuits"
                if explicit:
                    raise MappingError(f"population {pop.name!r} lists explicit circuits but does not fit one "
                                       f"chip ({pop.size} neurons × {pop.circuits_per_neuron} circuits); a partition "
                                       f"splits only populations placed automatically: remove its placement")
                raise MappingError(f"population {pop.name!r}: not even one neuron of {pop.circuits_per_neuron} "
                                   f"circuits fits on an empty {self.spec.name}")
            budget.take(pop.circuits_per_neuron, k)
            chosen.append((pop.name, item.start, item.start + k))
            if k == remaining:
                queue.pop(0)
            else:
                item.start += k
                return chosen, "neuron circuits"
        return chosen, "the rest of the graph"

    def _instance(self, index: int, chosen: Sequence[tuple[str, int, int]], limit: str,
                  owner: Mapping[str, list[tuple[int, Slice]]]) -> tuple[Instance, _InstanceGraph]:
        slices = tuple(Slice(name, a, b, name if (a == 0 and b == self.work.population(name).size) else
                             f"{name}[{a}:{b}]") for name, a, b in chosen)
        circuits = sum(s.size * self.work.population(s.population).circuits_per_neuron for s in slices)
        full = dict(owner)
        for s in slices:
            full[s.population] = list(full.get(s.population, [])) + [(index, s)]
        draft = Instance(index, slices, (), circuits, limit)
        part = _instance_graph(self.work, draft, full)
        inputs = tuple(p.name for p in part.graph.inputs)
        return attrs.evolve(draft, inputs=inputs), part

    def _verified(self, index: int, chosen: list[tuple[str, int, int]], limit: str, queue: list[_Item],
                  owner: Mapping[str, list[tuple[int, Slice]]]
                  ) -> tuple[Instance, _InstanceGraph, Optional[ChipMapping]]:
        """The instance of `chosen`, shrunk at its end until it routes; what is taken off goes back to `queue`."""
        while True:
            inst, part = self._instance(index, chosen, limit, owner)
            try:
                return inst, part, self._route(part.graph)
            except MappingError as exc:
                error = exc
            name, a, b = chosen[-1]
            if b - a > 1 and self._is_splittable(name):
                lo, hi, best = 1, b - a - 1, None  # the largest size of the last slice that routes
                while lo <= hi:
                    mid = (lo + hi) // 2
                    trial = chosen[:-1] + [(name, a, a + mid)]
                    inst, part = self._instance(index, trial, limit, owner)
                    try:
                        best = (mid, inst, part, self._route(part.graph))
                        lo = mid + 1
                    except MappingError:
                        hi = mid - 1
                if best is not None:
                    mid, inst, part, mapping = best
                    self._give_back(queue, name, a + mid, splittable=True)
                    self.reasons.append(f"instance {index}: {name!r} cut at neuron {a + mid} so that it routes "
                                        f"({_first_line(error)})")
                    return attrs.evolve(inst, limit=f"routing: {_first_line(error)}"), part, mapping
            # Even the smallest last part does not route with the rest: it waits for the next instance.
            members = self._group_of(name)
            dropped = [c for c in chosen if c[0] in members]
            chosen = [c for c in chosen if c[0] not in members]
            if len(members) == 1 and self._is_splittable(name):
                self._give_back(queue, name, a, splittable=True)
            else:
                queue.insert(0, _Item(members, splittable=False))
            if not chosen:
                what = ", ".join(f"{n!r}" for n, _, _ in dropped)
                raise MappingError(f"{what} does not map even alone onto an empty {self.spec.name}: {error}",
                                   resource=error.resource, needed=error.needed, available=error.available)
            limit = f"routing: {_first_line(error)}"

    def _is_splittable(self, name: str) -> bool:
        return any(name in unit.members and unit.splittable for unit in self.units)

    def _group_of(self, name: str) -> list[str]:
        return next(unit.members for unit in self.units if name in unit.members)

    def _give_back(self, queue: list[_Item], name: str, start: int, splittable: bool) -> None:
        if queue and queue[0].members == [name] and queue[0].splittable:
            queue[0].start = start
        else:
            queue.insert(0, _Item([name], splittable, start))

    def _cycle_error(self, item: _Item) -> MappingError:
        pops = [self.work.population(m) for m in item.members]
        needed = sum(p.size * p.circuits_per_neuron for p in pops)
        what = (f"recurrent population {pops[0].name!r}" if len(pops) == 1
                else "the cycle " + " → ".join(repr(p.name) for p in pops))
        return MappingError(
            f"{what} needs {needed} neuron circuits and does not fit one {self.spec.name} ({self.spec.circuits}); "
            f"a cycle must stay inside one execution instance (spikes cannot go back to an earlier instance, and "
            f"chip-to-chip links are not modelled): make it smaller, or break the cycle",
            resource="neuron circuits", needed=needed, available=self.spec.circuits)

    def _too_many(self, instances: Sequence[Instance], queue: Sequence[_Item]) -> None:
        left = []
        for item in queue:
            for m in item.members:
                left.append(f"{m!r} from neuron {item.start}" if item.splittable and item.start else repr(m))
        pops = on_chip_populations(self.work)
        needed = sum(p.size * p.circuits_per_neuron for p in pops)
        raise MappingError(
            f"the graph needs more than max_chips={self.max_chips} execution instances: {len(instances)} "
            f"{'is' if len(instances) == 1 else 'are'} full "
            f"and {', '.join(left)} remain; on-chip neurons need {needed} circuits in all (at least "
            f"{math.ceil(needed / self.spec.circuits)} chips of {self.spec.circuits}); allow more chips, or make "
            f"the network smaller", resource="execution instances", needed=len(instances) + 1,
            available=self.max_chips)

    def _result(self, instances: list[Instance], parts: list[_InstanceGraph],
                mappings: list[Optional[ChipMapping]]) -> Partition:
        owner = _slice_owner(instances)
        links = _links(instances, parts, owner)
        if len(instances) > 1:
            for name, slices in owner.items():
                if len(slices) > 1:
                    pop = self.work.population(name)
                    self.reasons.append(f"population {name!r} ({pop.size} neurons × {pop.circuits_per_neuron} "
                                        f"circuits) split by neurons into {len(slices)} slices: "
                                        + ", ".join(f"{s.name} on instance {i}" for i, s in slices))
        result = Partition(self.graph.name, self.graph.structure_hash(), self.spec.name, instances, links,
                           self.raised, self.reasons)
        return result._attach(self.graph, self.spec, parts, list(mappings))


def _first_line(error: Exception) -> str:
    text = str(error)
    return text if len(text) <= 160 else text[:157] + "..."


def _links(instances: Sequence[Instance], parts: Sequence[_InstanceGraph],
           owner: Mapping[str, list[tuple[int, Slice]]]) -> list[Link]:
    """Spike traffic between instances, from the input populations of each instance's graph."""
    where = {s.name: (i, s) for parts_ in owner.values() for i, s in parts_}
    links: dict[tuple[int, int], dict[str, Any]] = {}
    for inst, part in zip(instances, parts):
        for proj in part.graph.projections.values():
            if proj.source not in where or proj.source in {s.population for s in inst.slices}:
                continue
            source, s = where[proj.source]
            entry = links.setdefault((source, inst.index), {"slices": {}, "connections": 0})
            entry["slices"][s.name] = s.size
            entry["connections"] += proj.connection_count
    return [Link(a, b, tuple(e["slices"]), sum(e["slices"].values()), e["connections"])
            for (a, b), e in sorted(links.items())]
