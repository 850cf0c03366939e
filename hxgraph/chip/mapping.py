"""`place_and_route`: a graph onto the chip, as a `ChipMapping` (placement, `ChipConfig`, statistics).

The mapping also remembers how every connection was routed, so a graph whose weights changed
but whose structure did not (same `Graph.structure_hash()`) is mapped again by rewriting
synapse weights only (`ChipMapping.update`, or `place_and_route(..., previous=mapping)`).
"""

from __future__ import annotations

import logging
import warnings
from types import MappingProxyType
from typing import Any, Mapping, Optional, Union

import attrs
import numpy as np
import torch

from hxgraph.chip.calibration import Calibration, Inconsistency, TraceScales, check_consistency, format_scale
from hxgraph.chip.config import ChipConfig, circuit_parameters
from hxgraph.chip.placement import (NeuronPlacement, check_circuit_budget, check_placement, check_strategy, place,
                                    placement_candidates)
from hxgraph.chip.routing import (EXACT_TIME_LIMIT, Demand, Routing, check_fan_in, check_fan_in_bound, check_routing,
                                  check_time_limit, connection_demand, route)
from hxgraph.chip.spec import HICANN_X, ChipSpec
from hxgraph.errors import ConsistencyWarning, HxGraphError, MappingError, ParameterError
from hxgraph.graph import Graph
from hxgraph.graph.values import Mixed, values_equal

logger = logging.getLogger(__name__)


@attrs.frozen
class ProjectionStats:
    """What one projection uses: its connections, the synapses placed for them, and their rows."""

    connections: int
    synapses: int
    rows: int
    hemispheres: tuple[int, ...]


@attrs.frozen
class MappingStats:
    """Resource use of a mapping; per-hemisphere tuples are indexed (top, bottom)."""

    circuits_used: int
    circuits_available: int
    circuits_per_population: Mapping[str, int] = attrs.field(converter=lambda m: MappingProxyType(dict(m)))
    rows_used: tuple[int, ...]
    rows_available: int
    drivers_used: tuple[tuple[int, ...], ...]  # [hemisphere][bus]
    drivers_per_bus: int
    labels_used: tuple[tuple[int, ...], ...]  # [hemisphere][bus]: sources told apart by label
    driver_groups: tuple[int, ...]  # driver groups (blocks) per bus
    synapses: int  # placed, including zero-weight synapses kept for weight updates
    synapses_nonzero: int
    projections: Mapping[str, ProjectionStats] = attrs.field(converter=lambda m: MappingProxyType(dict(m)))


@attrs.frozen(eq=False)
class ChipMapping:
    """A graph placed and routed onto one chip.

    `placement` (circuits per neuron), `config` (the `ChipConfig` the emulator reads),
    `stats` (resource use). `reused` says what an update kept: "nothing" for a fresh mapping,
    "placement and routing" for a weight-only update, "placement" when new weights needed
    more synapses than were routed.
    """

    graph_name: str
    structure_hash: str
    spec: ChipSpec
    placement: NeuronPlacement
    config: ChipConfig
    stats: MappingStats
    placement_strategy: str
    routing_mode: str
    reused: str
    routing: Routing = attrs.field(repr=False)
    calibration: Calibration = attrs.field(factory=Calibration, repr=False)
    consistency: tuple[Inconsistency, ...] = ()
    trace_scale: Mapping[str, Any] = attrs.field(factory=dict, repr=False,
                                                 converter=lambda m: MappingProxyType(dict(m)))
    # `neuron_snapshot` of the graph mapped: an update whose neurons did not change keeps the circuit
    # parameters and the consistency findings (empty: computed again)
    neurons: tuple = attrs.field(default=(), repr=False)

    def update(self, graph: Graph) -> "ChipMapping":
        """Map `graph` again, reusing placement and routing when only weights or parameters changed."""
        _check_graph(graph)
        graph.project_signs_()  # the sign constraint, as every use of the weights applies it
        cal, scales = self.calibration, self.trace_scale
        if graph.structure_hash() != self.structure_hash:
            logger.info("structure of %r changed: placing and routing again", graph.name)
            return _place_and_route(graph, self.spec, self._placement_option(), self.routing_mode, cal, scales)
        demand = connection_demand(graph, self.spec, cal)
        weights = self.routing.weights_for(demand, self.spec)
        if weights is not None:
            # the chip in the loop changes weights only: the neurons' chip values and findings stay
            neurons = self.neurons
            config = self.config.with_synapse_weight(weights)
            consistency = self.consistency
            if not same_neurons(neurons, graph):
                neurons = neuron_snapshot(graph)
                params, _ = circuit_parameters(graph, self.config.neuron_circuits, self.spec, cal)
                config = config.with_circuit_params(params)
                consistency = checked_consistency(graph, cal, scales, already=self.consistency)
            # (the placement, routing and connections are the same: of the statistics only the synapses with
            # a weight change)
            stats = attrs.evolve(self.stats, synapses_nonzero=int(np.count_nonzero(weights.numpy())))
            return attrs.evolve(self, graph_name=graph.name, config=config, stats=stats,
                                reused="placement and routing", consistency=consistency, neurons=neurons)
        logger.info("new weights of %r need more synapses than routed: routing again", graph.name)
        check_fan_in(graph, demand, self.spec)
        try:
            routing = route(graph, self.placement, demand, self.spec, self.routing_mode)
        except MappingError:
            if self.placement_strategy == "given":
                raise
            return _place_and_route(graph, self.spec, self.placement_strategy, self.routing_mode, cal, scales, demand)
        return _assemble(graph, self.spec, self.placement, routing, demand, self.placement_strategy,
                         self.routing_mode, "placement", cal, scales, already=self.consistency)

    def _placement_option(self) -> Union[str, NeuronPlacement]:
        """What to pass as `placement` to map again with the same options."""
        return self.placement if self.placement_strategy == "given" else self.placement_strategy

    def summary(self) -> str:
        """A readable account of where the network went and what it uses."""
        s, spec = self.stats, self.spec
        H = spec.hemispheres
        lines = [f"Mapping of {self.graph_name!r} onto {spec.name} (placement: {self.placement.strategy}, "
                 f"routing: {self.routing_mode}" + ("" if self.reused == "nothing" else f", reused {self.reused}")
                 + ")",
                 f"neuron circuits: {s.circuits_used} of {s.circuits_available}"]
        lines += self.placement.summary().splitlines()[1:]
        lines.append("synapse rows: " + ", ".join(f"{spec.hemisphere_name(h)} {s.rows_used[h]}/{s.rows_available}"
                                                 for h in range(H)))
        lines.append(f"synapse drivers per event bus (used/{s.drivers_per_bus}): " + ", ".join(
            f"{spec.hemisphere_name(h)} {list(s.drivers_used[h])}" for h in range(H)))
        lines.append(f"sources per event bus (labels; driver groups per bus {list(s.driver_groups)}): " + ", ".join(
            f"{spec.hemisphere_name(h)} {list(s.labels_used[h])}" for h in range(H)))
        lines.append(f"synapses: {s.synapses} placed ({s.synapses_nonzero} with non-zero weight)")
        rows = [("projection", "connections", "synapses", "rows", "hemispheres")]
        for name, p in s.projections.items():
            rows.append((name, str(p.connections), str(p.synapses), str(p.rows),
                         ", ".join(spec.hemisphere_name(h) for h in p.hemispheres) or "-"))
        if len(rows) > 1:
            widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
            table = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
            table.insert(1, "  ".join("-" * w for w in widths))
            lines += [""] + table
        lines += [""] + self.consistency_summary().splitlines()
        return "\n".join(lines)

    def consistency_summary(self) -> str:
        """Whether the chip values and weight scales agree with the model, and where not."""
        cal = self.calibration
        head = (f"calibration: trace scale {format_scale(cal.trace_scale)} model units per CADC unit, leak at "
                f"{cal.leak:g} CADC, weight scale {cal.weight_scale:.4g}")
        if not self.consistency:
            return head + "\nchip values consistent with the model"
        return "\n".join([head, f"chip values inconsistent with the model ({len(self.consistency)}):"]
                         + [f"  ! {finding.message}" for finding in self.consistency])

    def _repr_html_(self) -> str:
        """Jupyter: the summary and the placement drawing (hxgraph.viz loads only when a notebook shows one)."""
        from hxgraph.viz.notebook import mapping_html
        return mapping_html(self)

    def __repr__(self) -> str:
        return (f"<ChipMapping {self.graph_name!r} on {self.spec.name}: {self.stats.circuits_used} circuits, "
                f"rows {list(self.stats.rows_used)}, {self.stats.synapses} synapses>")


def _check_graph(graph: Any) -> None:
    if not isinstance(graph, Graph):
        hint = " (use experiment.graph)" if hasattr(graph, "graph") else ""
        raise ParameterError(f"place_and_route needs an hxgraph.Graph; got {type(graph).__name__}{hint}")


def place_and_route(graph: Graph, chip: Optional[ChipSpec] = None,
                    placement: Union[str, NeuronPlacement] = "balanced", routing: str = "shared",
                    previous: Optional[ChipMapping] = None, *, calibration: Optional[Calibration] = None,
                    trace_scale: Optional[TraceScales] = None, exact_time_limit: float = EXACT_TIME_LIMIT
                    ) -> ChipMapping:
    """Place and route `graph` onto `chip` (default HICANN-X); raises `MappingError` if it does not fit.

    `placement`: "balanced" (default: balances synapse-row load between hemispheres and spreads
    source populations over event buses, trying fallbacks until one routes), "first_fit" (the
    public software's order), or a `NeuronPlacement` to route as given. `routing`: "shared"
    (sources share synapse rows by label) or "simple" (every source and sign gets rows of its
    own, as the public software allocates them). `previous`: a mapping of the same structure
    whose placement and routing are reused when only weights changed.

    `calibration` (default `Calibration()`) turns plain model values into chip values and
    gives open weight transforms their scale. Where a `Mixed` chip value or a transform's
    scale contradicts the model — compared in model units, with `trace_scale[population]`
    where given (the scale its membranes are read back with) — a `ConsistencyWarning` names
    the population or projection once, and `mapping.consistency` lists it.

    When the greedy router fails on a placement, the exact router searches for up to
    `exact_time_limit` seconds (per placement tried; 0 skips it): it finds a routing or proves
    that none exists; when time runs out, `RoutingUndecidedError` says that it is undecided.

    A graph that does not fit gets, in its `MappingError`, how many chips a partition
    (`hx.partition`) would need, and the call that runs it on them.
    """
    try:
        return map_onto_chip(graph, chip, placement, routing, previous, calibration=calibration,
                             trace_scale=trace_scale, exact_time_limit=exact_time_limit)
    except MappingError as exc:
        if isinstance(graph, Graph) and not isinstance(placement, NeuronPlacement):
            exc.args = (str(exc) + _partition_hint(graph, chip, placement, routing, calibration),)
        raise


def _partition_hint(graph: Graph, chip: Optional[ChipSpec], placement: str, routing: str,
                    calibration: Optional[Calibration]) -> str:
    """What a partition over several chips would do for a graph that does not fit one (counted by the
    partitioner's circuit budget, without routing: an estimate)."""
    from hxgraph.chip.partitioning import partition  # the partitioner builds on this module
    try:
        estimate = partition(graph, chip, placement=placement, routing=routing, calibration=calibration,
                             verify=False)
    except MappingError as exc:
        return f". No partition over several chips helps either: {exc}"
    except HxGraphError:
        return ""
    run = "hx.emulate(graph, partition='auto') runs it there"
    if len(estimate) > 1:
        return (f". A partition over about {len(estimate)} chips (execution instances) would hold it: "
                f"hx.partition(graph) makes it, {run}")
    return f". hx.partition(graph) can split it over several chips so that each routes; {run}"


def map_onto_chip(graph: Graph, chip: Optional[ChipSpec] = None,
                  placement: Union[str, NeuronPlacement] = "balanced", routing: str = "shared",
                  previous: Optional[ChipMapping] = None, *, calibration: Optional[Calibration] = None,
                  trace_scale: Optional[TraceScales] = None, exact_time_limit: float = EXACT_TIME_LIMIT
                  ) -> ChipMapping:
    """`place_and_route` without the partition estimate in its errors (what the partitioner itself calls)."""
    _check_graph(graph)
    graph.project_signs_()  # an optimizer step may have taken a fixed-sign weight across 0
    calibration = Calibration() if calibration is None else calibration
    if not isinstance(calibration, Calibration):
        raise ParameterError(f"calibration must be a hxgraph.chip.Calibration or None; got {calibration!r}")
    scales = dict(trace_scale or {})
    for name in scales:
        graph.population(name)  # an unknown name fails here, with a suggestion
    spec = HICANN_X if chip is None else chip
    if not isinstance(spec, ChipSpec):
        raise ParameterError(f"chip must be a hxgraph.chip.ChipSpec (or None for HICANN-X); got {chip!r}")
    check_routing(routing)
    exact_time_limit = check_time_limit(exact_time_limit)
    if not isinstance(placement, NeuronPlacement):
        check_strategy(placement)
    if previous is not None:
        if not isinstance(previous, ChipMapping):
            raise ParameterError(f"previous must be a ChipMapping returned by place_and_route; got {previous!r}")
        given = isinstance(placement, NeuronPlacement)
        same_placement = (previous.placement_strategy == "given" and placement.same_as(previous.placement)
                          if given else previous.placement_strategy == placement)
        if (previous.spec == spec and previous.routing_mode == routing and same_placement
                and previous.structure_hash == graph.structure_hash() and previous.calibration == calibration
                and _same_scales(previous.trace_scale, scales)):
            return previous.update(graph)
    return _place_and_route(graph, spec, placement, routing, calibration, scales, exact_time_limit=exact_time_limit)


def _same_scales(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return a.keys() == b.keys() and all(
        torch.equal(torch.as_tensor(a[k]), torch.as_tensor(b[k])) for k in a)


def checked_consistency(graph: Graph, calibration: Calibration, trace_scale: Mapping[str, Any],
                        already: tuple[Inconsistency, ...] = ()) -> tuple[Inconsistency, ...]:
    """`check_consistency`, warning once per population or projection not already reported in `already`."""
    found = check_consistency(graph, calibration, trace_scale)
    told = {f.subject for f in already}
    subjects: dict[str, list[str]] = {}
    for finding in found:
        if finding.subject not in told:
            subjects.setdefault(finding.subject, []).append(finding.message)
    for messages in subjects.values():
        warnings.warn("; ".join(messages), ConsistencyWarning, stacklevel=4)
    return found


def _place_and_route(graph: Graph, spec: ChipSpec, placement: Union[str, NeuronPlacement], routing: str,
                     calibration: Calibration, trace_scale: Mapping[str, Any],
                     demand: Optional[Demand] = None, exact_time_limit: float = EXACT_TIME_LIMIT) -> ChipMapping:
    check_circuit_budget(graph, spec)
    try:
        check_fan_in_bound(graph, spec)
        demand = connection_demand(graph, spec, calibration) if demand is None else demand
        check_fan_in(graph, demand, spec)
    except MappingError as exc:
        exc.partial = _placement_to_draw(graph, spec, placement)
        raise
    if isinstance(placement, NeuronPlacement):
        check_placement(graph, placement, spec)
        candidates: Any = [placement]
        strategy = "given"
    else:
        per_connection = demand.exc_synapses + demand.inh_synapses
        synapses = {name: per_connection[demand.proj == i] for i, name in enumerate(demand.projections)}
        candidates = placement_candidates(graph, spec, placement, synapses)
        strategy = placement
    failures: list[tuple[NeuronPlacement, MappingError]] = []
    for candidate in candidates:
        try:
            result = route(graph, candidate, demand, spec, routing, exact_time_limit)
        except MappingError as exc:
            logger.debug("placement %s does not route: %s", candidate.strategy, exc)
            failures.append((candidate, exc))
            continue
        if failures:
            logger.info("placement %s routes (after %d that did not)", candidate.strategy, len(failures))
        return _assemble(graph, spec, candidate, result, demand, strategy, routing, "nothing", calibration,
                         trace_scale)
    first = failures[0][1]
    if len(failures) > 1:
        tried = ", ".join(p.strategy for p, _ in failures)
        raise MappingError(f"{first} (placements tried: {tried}; none routes)", resource=first.resource,
                           needed=first.needed, available=first.available, partial=first.partial)
    raise first


def _placement_to_draw(graph: Graph, spec: ChipSpec, placement: Union[str, NeuronPlacement]) -> Any:
    """The placement a fan-in error can be drawn on (placement does not depend on fan-in), or None."""
    if isinstance(placement, NeuronPlacement):
        return placement
    try:
        return place(graph, spec, placement)
    except MappingError as exc:
        return exc.partial


def _assemble(graph: Graph, spec: ChipSpec, placement: NeuronPlacement, routing: Routing, demand: Demand,
              strategy: str, mode: str, reused: str, calibration: Calibration, trace_scale: Mapping[str, Any],
              already: tuple[Inconsistency, ...] = ()) -> ChipMapping:
    pop_of_circuit, neuron_of_circuit = placement.owner()
    params, spiking = circuit_parameters(graph, placement.circuits, spec, calibration)
    config = ChipConfig(
        spec=spec, synapse_weight=routing.synapse_weight, synapse_label=routing.synapse_label,
        row_mode=routing.row_mode, driver_enable=routing.driver_enable, driver_mask=routing.driver_mask,
        crossbar_enable=routing.crossbar_enable, crossbar_mask=routing.crossbar_mask,
        crossbar_target=routing.crossbar_target, neuron_circuits=placement.circuits,
        neuron_label=routing.neuron_label, input_routes=routing.input_routes, populations=placement.populations,
        circuit_population=torch.from_numpy(pop_of_circuit), circuit_neuron=torch.from_numpy(neuron_of_circuit),
        circuit_spiking=spiking, circuit_params=params,
        input_sizes={p.name: p.size for p in graph.populations.values() if p.is_input},
        structure_hash=graph.structure_hash())
    stats = _stats(graph, placement, routing, demand, routing.synapse_weight, spec)
    return ChipMapping(graph.name, config.structure_hash, spec, placement, config, stats, strategy, mode, reused,
                       routing, calibration, checked_consistency(graph, calibration, trace_scale, already),
                       trace_scale, neuron_snapshot(graph))


def neuron_snapshot(graph: Graph) -> tuple:
    """Copies of what a mapping's circuit parameters and consistency findings depend on besides the structure,
    the calibration and the trace scales: every neuron parameter and every projection's weight transform (not
    the weights). `same_neurons` compares a graph with it."""
    def copy(value: Any) -> Any:
        if isinstance(value, Mixed):
            return Mixed(copy(value.model), copy(value.hardware))
        return value.detach().clone() if isinstance(value, torch.Tensor) else value

    return (tuple((pop.name, {key: copy(value) for key, value in pop.params.items()})
                  for pop in graph.populations.values()),
            tuple((proj.name, proj.transform) for proj in graph.projections.values()))


def same_neurons(snapshot: tuple, graph: Graph) -> bool:
    """Whether `graph`'s neuron parameters and weight transforms equal the `neuron_snapshot` exactly (`values_equal`:
    a tensor changed in place is a change)."""
    if not snapshot:
        return False
    populations, transforms = snapshot
    return (len(populations) == len(graph.populations) and len(transforms) == len(graph.projections)
            and all(name == pop.name and params.keys() == pop.params.keys()
                    and all(values_equal(params[key], pop.params[key]) for key in params)
                    for (name, params), pop in zip(populations, graph.populations.values()))
            and all(name == proj.name and values_equal(transform, proj.transform)
                    for (name, transform), proj in zip(transforms, graph.projections.values())))


def _stats(graph: Graph, placement: NeuronPlacement, routing: Routing, demand: Demand, weights: torch.Tensor,
           spec: ChipSpec) -> MappingStats:
    H, B = spec.hemispheres, spec.buses_per_hemisphere
    enabled = routing.driver_enable.numpy()
    drivers = tuple(tuple(int(enabled[h][b::B].sum()) for b in range(B)) for h in range(H))
    nproj = len(demand.projections)
    syn_proj = demand.proj[routing.syn_conn]
    per_syn = np.bincount(syn_proj, minlength=nproj)
    per_conn = np.bincount(demand.proj, minlength=nproj)
    # Synapses per (projection, hemisphere, row): the rows and hemispheres each projection uses.
    R = spec.synapse_rows
    per_row = np.bincount((syn_proj * H + routing.syn_h) * R + routing.syn_row, minlength=nproj * H * R)
    used = per_row.reshape(nproj, H, R) > 0
    projections = {}
    for p, name in enumerate(demand.projections):
        projections[name] = ProjectionStats(int(per_conn[p]), int(per_syn[p]), int(used[p].sum()),
                                            tuple(int(h) for h in np.flatnonzero(used[p].any(1))))
    return MappingStats(
        circuits_used=placement.circuits_used, circuits_available=spec.circuits,
        circuits_per_population={k: int(v.numel()) for k, v in placement.circuits.items()},
        rows_used=tuple(int(n) for n in np.count_nonzero(routing.row_mode.numpy(), axis=1)),
        rows_available=spec.synapse_rows, drivers_used=drivers, drivers_per_bus=spec.drivers_per_bus,
        labels_used=tuple(tuple(int(x) for x in routing.labels_used[h]) for h in range(H)),
        driver_groups=routing.blocks_per_bus, synapses=int(routing.syn_conn.size),
        synapses_nonzero=int(np.count_nonzero(weights.numpy())), projections=projections)
