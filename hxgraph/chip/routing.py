"""Routing: where a projection becomes synapse rows.

Steps (docs/chip.md has the prose version):

1. **Hardware weights** (`hardware_weights`): `w_hw = round(transform(w))` with torch.round
   (half to even). A positive weight needs excitatory synapses, a negative one inhibitory
   synapses; a magnitude above 63 is split over `floor(m/63)` synapses of 63 plus the
   remainder (`split_weight`). Every connection keeps at least one synapse for each sign its
   receptor allows (weight 0 where its weight is 0 or of the other sign), so a weight update
   — even a sign flip of a signed projection — is written in place without routing again.
2. **Driver groups**: the 32 drivers of each event bus are cut into equal, aligned
   power-of-two blocks; a block's drivers compare the high row-select bits (mask), so an
   event activates exactly the block that contains its row select, i.e. all its rows. The
   same cut is used on the bus in both hemispheres.
3. **Assignment** (greedy, most constrained first): every source neuron is given a driver
   block per hemisphere it must reach. On-chip sources are bound to the bus of their column
   and use the same row select and label in both hemispheres; inputs may use any bus, and a
   separate route per hemisphere. A target with circuits in both hemispheres (a merged
   neuron) can take the synapses of a source in either. A block fits when it has at most
   64 sources (6-bit labels) and its rows cover, in every column, the synapses its sources
   put there — sources on one row are told apart by the label of each synapse, so sources
   aiming at different columns share rows (``routing="shared"``, the default). With
   ``routing="simple"`` every (projection, source, sign) gets rows of its own across all its
   target columns, as the public software allocates them.
4. **Rows**: within a block, the first rows are excitatory, the next inhibitory; in each
   column the block's synapses are stacked onto those rows in order.
"""

from __future__ import annotations

import logging
import math
from typing import Any, NamedTuple, Optional

import attrs
import numpy as np
import torch

from hxgraph.chip.calibration import Calibration
from hxgraph.chip.config import ROW_EXCITATORY, ROW_INHIBITORY
from hxgraph.chip.placement import NeuronPlacement
from hxgraph.chip.spec import ChipSpec
from hxgraph.errors import MappingError, ParameterError, WeightError, check_choice
from hxgraph.graph import Dense, Graph, Projection

logger = logging.getLogger(__name__)

ROUTINGS = ("shared", "simple")
EXACT_TIME_LIMIT = 10.0  # seconds the exact router may search after a greedy failure (per placement tried)


def check_time_limit(value: Any) -> float:
    """`exact_time_limit`: seconds, a finite number >= 0 (0: no exact search)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ParameterError(f"exact_time_limit must be a finite number of seconds >= 0 (0 skips the exact "
                             f"router); got {value!r}")
    return float(value)


def check_routing(routing: Any) -> str:
    return check_choice(routing, ROUTINGS, "routing", note=" (shared: sources share synapse rows through labels; "
                        "simple: every source and sign gets rows of its own, as in the public software)")


# --------------------------------------------------------------------------- weights

def split_weight(weight: int, max_weight: int = 63) -> list[int]:
    """Synapse weights that carry one hardware weight: `floor(|w|/63)` × 63, then the remainder.

    `split_weight(140) == [63, 63, 14]`; a zero weight keeps one synapse of weight 0.
    """
    magnitude = abs(int(weight))
    full, rest = divmod(magnitude, max_weight)
    parts = [max_weight] * full + ([rest] if rest else [])
    return parts or [0]


def synapse_count(magnitude: np.ndarray, max_weight: int) -> np.ndarray:
    """Synapses needed per magnitude (vectorised `len(split_weight(m))`): at least one."""
    count = np.ones_like(magnitude)
    split = magnitude > max_weight  # usually few: divide only those
    if split.any():
        count[split] = -(-magnitude[split] // max_weight)
    return count


def copy_weight(magnitude: np.ndarray, copy: np.ndarray, max_weight: int) -> np.ndarray:
    """Weight of synapse number `copy` of a split magnitude: 63, 63, ..., remainder, then 0."""
    return np.clip(magnitude - max_weight * copy, 0, max_weight)


_NUMPY_REAL = (torch.float64, torch.float32, torch.float16, torch.int64, torch.int32, torch.int16, torch.int8,
               torch.uint8, torch.bool)  # dtypes numpy converts to float64 exactly as torch does


def hardware_weights(projection: Projection, spec: ChipSpec, calibration: Optional[Calibration] = None
                     ) -> torch.Tensor:
    """Integer hardware weights, one per connection in the projection's order (dense: row-major (out, in)).

    A transform that leaves its scale open takes `calibration`'s weight scale (default `Calibration()`).
    """
    weight = projection.weight.detach().cpu()
    transform = (Calibration() if calibration is None else calibration).resolve_transform(projection.transform)
    try:
        hw = transform(weight)
    except Exception as exc:  # a user's callable: report which projection it failed on
        raise WeightError(f"projection {projection.name!r}: the weight transform {projection.transform!r} "
                          f"failed: {exc}") from exc
    if not isinstance(hw, torch.Tensor) or tuple(hw.shape) != tuple(weight.shape):
        raise WeightError(f"projection {projection.name!r}: the weight transform must return a tensor of the "
                          f"weight's shape {tuple(weight.shape)}; got {type(hw).__name__} "
                          f"{tuple(hw.shape) if isinstance(hw, torch.Tensor) else ''}")
    # numpy from here: small torch ops pay thread start-up costs that dominate at this size (and stall
    # when another process holds a core).
    hw = hw.detach().cpu()
    values = (hw.numpy().astype(np.float64) if hw.dtype in _NUMPY_REAL else hw.to(torch.float64).numpy()).reshape(-1)
    if not np.isfinite(values).all():
        raise WeightError(f"projection {projection.name!r}: the weight transform produced NaN or infinite "
                          "hardware weights")
    # Magnitudes beyond what could ever fit are capped so counting synapses cannot overflow;
    # the fan-in check then reports that they do not fit. np.round rounds half to even, as torch.round.
    cap = float(spec.max_weight * spec.synapse_rows * spec.circuits + 1)
    rounded = np.round(np.clip(values, -cap, cap)).astype(np.int64)
    if projection.receptor == "excitatory" and (rounded < 0).any():
        raise WeightError(f"projection {projection.name!r} is excitatory but its transform gives "
                          f"{int((rounded < 0).sum())} negative hardware weights; use receptor='signed'")
    if projection.receptor == "inhibitory" and (rounded > 0).any():
        raise WeightError(f"projection {projection.name!r} is inhibitory but its transform gives "
                          f"{int((rounded > 0).sum())} positive hardware weights; use receptor='signed'")
    return torch.from_numpy(rounded)


# --------------------------------------------------------------------------- demand

@attrs.frozen(eq=False)
class Demand:
    """Every connection of a graph with its hardware weight and synapse counts (placement-free).

    Connection arrays (one entry per connection, projections in creation order): `proj`
    (projection index), `index` (position in the projection's weights), `src` (global
    source id), `tgt` (global on-chip neuron id), `exc`/`inh` (magnitudes per sign),
    `exc_synapses`/`inh_synapses` (synapses reserved per sign).
    """

    projections: tuple[str, ...]
    proj: np.ndarray
    index: np.ndarray
    src: np.ndarray
    tgt: np.ndarray
    exc: np.ndarray
    inh: np.ndarray
    exc_synapses: np.ndarray
    inh_synapses: np.ndarray
    source_pops: tuple[str, ...]
    source_offset: dict[str, int]
    neuron_pops: tuple[str, ...]
    neuron_offset: dict[str, int]
    neuron_count: int
    source_count: int

    def source_name(self, gid: int) -> tuple[str, int]:
        pos = int(np.searchsorted(self._offsets(self.source_pops, self.source_offset), gid, side="right")) - 1
        name = self.source_pops[pos]
        return name, gid - self.source_offset[name]

    def neuron_name(self, gid: int) -> tuple[str, int]:
        pos = int(np.searchsorted(self._offsets(self.neuron_pops, self.neuron_offset), gid, side="right")) - 1
        name = self.neuron_pops[pos]
        return name, gid - self.neuron_offset[name]

    @staticmethod
    def _offsets(names: tuple[str, ...], offsets: dict[str, int]) -> np.ndarray:
        return np.asarray([offsets[n] for n in names], dtype=np.int64)


def projection_weights(graph: Graph, spec: ChipSpec, calibration: Optional[Calibration] = None) -> list[np.ndarray]:
    """Hardware weights of every projection (creation order), as int64 arrays."""
    return [hardware_weights(p, spec, calibration).numpy() for p in graph.projections.values()]


def connection_demand(graph: Graph, spec: ChipSpec, calibration: Optional[Calibration] = None) -> Demand:
    """Collect every connection with its hardware weight and the synapses it needs (vectorised)."""
    source_pops = tuple(p.name for p in graph.populations.values() if p.neuron_model.spiking)
    neuron_pops = tuple(p.name for p in graph.populations.values() if not p.is_input)
    source_offset, neuron_offset = {}, {}
    total = 0
    for name in source_pops:
        source_offset[name] = total
        total += graph.population(name).size
    source_count, total = total, 0
    for name in neuron_pops:
        neuron_offset[name] = total
        total += graph.population(name).size
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("proj", "index", "src", "tgt", "exc", "inh", "es", "is")}
    for pi, (proj, hw) in enumerate(zip(graph.projections.values(), projection_weights(graph, spec, calibration))):
        out_size, in_size = proj.shape
        if isinstance(proj.connectivity, Dense):
            tgt = np.repeat(np.arange(out_size, dtype=np.int64), in_size)
            src = np.tile(np.arange(in_size, dtype=np.int64), out_size)
        else:
            tgt = proj.connectivity.targets.numpy().astype(np.int64)
            src = proj.connectivity.sources.numpy().astype(np.int64)
        exc, inh = np.maximum(hw, 0), np.maximum(-hw, 0)
        allow_e = proj.receptor in ("signed", "excitatory")
        allow_i = proj.receptor in ("signed", "inhibitory")
        parts["proj"].append(np.full(hw.shape, pi, dtype=np.int64))
        parts["index"].append(np.arange(hw.size, dtype=np.int64))
        parts["src"].append(src + source_offset[proj.source])
        parts["tgt"].append(tgt + neuron_offset[proj.target])
        parts["exc"].append(exc)
        parts["inh"].append(inh)
        parts["es"].append(synapse_count(exc, spec.max_weight) if allow_e else np.zeros_like(exc))
        parts["is"].append(synapse_count(inh, spec.max_weight) if allow_i else np.zeros_like(inh))
    cat = {k: (np.concatenate(v) if v else np.zeros(0, dtype=np.int64)) for k, v in parts.items()}
    return Demand(tuple(graph.projections), cat["proj"], cat["index"], cat["src"], cat["tgt"], cat["exc"],
                  cat["inh"], cat["es"], cat["is"], source_pops, source_offset, neuron_pops, neuron_offset,
                  total, source_count)


def check_fan_in_bound(graph: Graph, spec: ChipSpec) -> None:
    """The fan-in check from shapes alone (one synapse per connection and allowed sign).

    Runs before hardware weights are expanded per connection, so a hopeless network (say
    100,000 dense inputs) is refused without allocating arrays for all its connections.
    """
    for pop in graph.populations.values():
        if pop.is_input:
            continue
        need = np.zeros(pop.size, dtype=np.int64)
        parts: list[tuple[str, np.ndarray]] = []
        for proj in graph.projections_into(pop.name):
            signs = 2 if proj.receptor == "signed" else 1
            if isinstance(proj.connectivity, Dense):
                part = np.full(pop.size, proj.shape[1] * signs, dtype=np.int64)
            else:
                part = np.bincount(proj.connectivity.targets.numpy(), minlength=pop.size) * signs
            need += part
            parts.append((proj.name, part))
        available = spec.synapse_rows * pop.circuits_per_neuron
        if need.size and need.max() > available:
            neuron = int(np.argmax(need))
            involved = [(name, int(part[neuron])) for name, part in parts if part[neuron] > 0]
            raise _fan_in_error(graph, spec, pop.name, neuron, int(need[neuron]), available, involved, big=1)


def check_fan_in(graph: Graph, demand: Demand, spec: ChipSpec) -> None:
    """Every neuron needs at most as many synapses as its circuits have synapse rows."""
    if demand.tgt.size == 0:
        return
    need = np.bincount(demand.tgt, weights=demand.exc_synapses + demand.inh_synapses,
                       minlength=demand.neuron_count).astype(np.int64)
    cap = np.concatenate([np.full(graph.population(n).size, spec.synapse_rows * graph.population(n).circuits_per_neuron)
                          for n in demand.neuron_pops])
    over = need - cap
    if over.max() <= 0:
        return
    worst = int(np.argmax(over))
    name, neuron = demand.neuron_name(worst)
    into = demand.tgt == worst
    contributions = np.bincount(demand.proj[into], weights=(demand.exc_synapses + demand.inh_synapses)[into],
                                minlength=len(demand.projections)).astype(np.int64)
    involved = [(demand.projections[i], int(c)) for i, c in enumerate(contributions) if c > 0]
    big = int(np.maximum(demand.exc_synapses[into], demand.inh_synapses[into]).max())
    raise _fan_in_error(graph, spec, name, neuron, int(need[worst]), int(cap[worst]), involved, big)


def _fan_in_error(graph: Graph, spec: ChipSpec, name: str, neuron: int, needed: int, available: int,
                  involved: list[tuple[str, int]], big: int) -> MappingError:
    """The fan-in error: which projection(s) into which population, and what to try."""
    per = graph.population(name).circuits_per_neuron
    largest = spec.hemispheres * spec.quadrant_columns  # circuits one merged neuron can span
    suggestion = max(per + 1, math.ceil(needed / spec.synapse_rows))
    circuits_text = f"a neuron of {per} circuit{'s' if per > 1 else ''} has {available}"
    if suggestion <= largest:
        first = f"circuits_per_neuron={suggestion} for {name!r} (fan-in {suggestion * spec.synapse_rows}), fewer inputs"
    else:
        first = f"fewer inputs (even a neuron of {largest} merged circuits has only {largest * spec.synapse_rows})"
    hint = (f"try {first}, receptor='excitatory' or 'inhibitory' (one synapse per connection instead of two), "
            "or splitting the network")
    if len(involved) == 1:
        proj = graph.projection(involved[0][0])
        if isinstance(proj.connectivity, Dense):
            kind, sources = "dense", proj.shape[1]
        else:
            kind = "sparse"
            sources = int((proj.connectivity.targets == neuron).sum())
        how = (f"{proj.receptor} {kind} projection of {sources} sources"
               + (": an excitatory and an inhibitory synapse per source" if proj.receptor == "signed" else ""))
        if big > 1:
            how += f"; weights above {spec.max_weight} take up to {big} synapses each"
        message = (f"projection {proj.name!r}: target {name!r} needs {needed} synapse rows per neuron "
                   f"(neuron {neuron}; {how}), {circuits_text} (one synapse row per circuit and row of its "
                   f"synapse array); {hint}")
    else:
        listing = ", ".join(f"{p!r}: {c}" for p, c in involved)
        message = (f"population {name!r}: neuron {neuron} needs {needed} synapse rows ({listing}), "
                   f"{circuits_text}; {hint}")
    return MappingError(message, resource="fan-in (synapse rows per neuron)", needed=needed, available=available)


# --------------------------------------------------------------------------- routing result

@attrs.frozen(eq=False)
class Routing:
    """The routed synapses, drivers, labels and crossbar, plus what a weight update needs.

    Synapse table (one entry per placed synapse): `syn_h`, `syn_row`, `syn_col`, `syn_conn`
    (connection index into the `Demand` arrays), `syn_sign` (0 excitatory, 1 inhibitory),
    `syn_copy` (position in the weight split). `exc_capacity` / `inh_capacity`: synapses
    routed per connection and sign; a weight update that needs more re-routes.
    """

    mode: str
    synapse_weight: torch.Tensor
    synapse_label: torch.Tensor
    row_mode: torch.Tensor
    driver_enable: torch.Tensor
    driver_mask: torch.Tensor
    crossbar_enable: torch.Tensor
    crossbar_mask: torch.Tensor
    crossbar_target: torch.Tensor
    neuron_label: dict[str, torch.Tensor]
    input_routes: dict[str, torch.Tensor]
    syn_h: np.ndarray
    syn_row: np.ndarray
    syn_col: np.ndarray
    syn_conn: np.ndarray
    syn_sign: np.ndarray
    syn_copy: np.ndarray
    exc_capacity: np.ndarray
    inh_capacity: np.ndarray
    blocks_per_bus: tuple[int, ...]
    labels_used: np.ndarray  # (hemispheres, buses) sources told apart by label on each bus

    def weights_for(self, demand: Demand, spec: ChipSpec) -> Optional[torch.Tensor]:
        """Synapse weights for `demand`'s (new) hardware weights, or None if they need more synapses."""
        if (demand.exc_synapses > self.exc_capacity).any() or (demand.inh_synapses > self.inh_capacity).any():
            return None
        magnitude = np.where(self.syn_sign == 0, demand.exc[self.syn_conn], demand.inh[self.syn_conn])
        weights = np.zeros(tuple(self.synapse_weight.shape), dtype=np.uint8)
        weights[self.syn_h, self.syn_row, self.syn_col] = copy_weight(magnitude, self.syn_copy, spec.max_weight)
        return torch.from_numpy(weights)


class _Unit:
    """One source's deliveries to decide: options of {hemisphere: pair indices}."""

    __slots__ = ("src", "onchip", "bus", "options", "dedicated", "size", "coupled")

    def __init__(self, src: int, onchip: bool, bus: int, options: list[dict[int, np.ndarray]], size: int):
        self.src, self.onchip, self.bus, self.options, self.size = src, onchip, bus, options, size
        self.dedicated: list[dict[int, tuple[int, int]]] = []
        self.coupled = onchip and all(len(o) > 1 for o in options)


class _Flat(NamedTuple):
    """Every unit's (option, hemisphere) parts as flat arrays for the compiled greedy step
    (`hxgraph.chip._routing_kernels.greedy_units` describes them), parts in option order."""

    unit_p0: np.ndarray
    unit_np: np.ndarray
    unit_one: np.ndarray
    unit_skip: np.ndarray
    unit_onchip: np.ndarray
    unit_bus: np.ndarray
    part_h: np.ndarray
    part_opt: np.ndarray
    part_start: np.ndarray
    part_size: np.ndarray
    part_de: np.ndarray
    part_di: np.ndarray
    pos_pair: np.ndarray
    pos_row: np.ndarray
    pos_add: np.ndarray


class _RouteFailure(Exception):
    """A unit found no block; carries what is needed to explain it or to retry with more blocks."""

    def __init__(self, unit: _Unit, label_blocked: set[int], best: Optional[tuple[int, int, int, int]]):
        super().__init__()
        self.unit, self.label_blocked, self.best = unit, label_blocked, best  # best: (cost, capacity, h, k)


class GreedyFailure(Exception):
    """The greedy assignment found no routing; `error` says where it got stuck (not a proof)."""

    def __init__(self, error: MappingError):
        super().__init__(str(error))
        self.error = error


def _unique_inverse(key: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(key, return_inverse=True)` for keys in 0..bound-1; by marking instead of sorting where the
    range is small."""
    if bound > 4 * key.size + (1 << 16):
        return np.unique(key, return_inverse=True)
    seen = np.zeros(bound, dtype=bool)
    seen[key] = True
    position = np.cumsum(seen) - 1
    return np.flatnonzero(seen), position[key]


class _Router:
    def __init__(self, graph: Graph, placement: NeuronPlacement, demand: Demand, spec: ChipSpec, mode: str):
        self.graph, self.placement, self.demand, self.spec, self.mode = graph, placement, demand, spec, mode
        H, C, B = spec.hemispheres, spec.columns, spec.buses_per_hemisphere
        self.H, self.C, self.B, self.DPB, self.L = H, C, B, spec.drivers_per_bus, spec.labels
        # Circuits of every on-chip neuron, per hemisphere, as columns (padded by repeating).
        n = demand.neuron_count
        width = max([1] + [int(placement.circuits[p].shape[1]) for p in demand.neuron_pops])
        cols = np.full((H, n, width), -1, dtype=np.int64)
        emit = np.zeros(n, dtype=np.int64)
        for name in demand.neuron_pops:
            c = placement.circuits[name].numpy()
            off = demand.neuron_offset[name]
            emit[off:off + c.shape[0]] = c[:, 0]
            for h in range(H):
                for j in range(c.shape[1]):
                    in_h = c[:, j] // C == h
                    rows = np.flatnonzero(in_h) + off
                    slot = (cols[h, rows] >= 0).sum(1)
                    cols[h, rows, slot] = c[in_h, j] % C
        self.ncount = (cols >= 0).sum(2)  # (H, n)
        first = np.where(cols[:, :, :1] >= 0, cols[:, :, :1], 0)
        self.ncols = np.where(cols >= 0, cols, first)
        self.emit = emit
        # Sources: on-chip ones are bound to the bus of their first circuit's column.
        self.src_onchip = np.zeros(demand.source_count, dtype=bool)
        self.src_bus = np.full(demand.source_count, -1, dtype=np.int64)
        self.src_emit = np.full(demand.source_count, -1, dtype=np.int64)
        for name in demand.source_pops:
            pop = graph.population(name)
            if pop.is_input:
                continue
            off = demand.source_offset[name]
            e = emit[demand.neuron_offset[name]:demand.neuron_offset[name] + pop.size]
            self.src_onchip[off:off + pop.size] = True
            self.src_emit[off:off + pop.size] = e
            self.src_bus[off:off + pop.size] = (e % C) // spec.columns_per_event_output % B
        # Pairs: a source's synapses into one neuron, summed over projections.
        key = demand.src * max(n, 1) + demand.tgt
        ukey, self.conn_pair = _unique_inverse(key, demand.source_count * max(n, 1))
        self.pair_src, self.pair_tgt = ukey // max(n, 1), ukey % max(n, 1)
        self.pair_e = np.bincount(self.conn_pair, demand.exc_synapses, minlength=ukey.size).astype(np.int64)
        self.pair_i = np.bincount(self.conn_pair, demand.inh_synapses, minlength=ukey.size).astype(np.int64)
        has = self.ncount > 0  # (H, n)
        # class: h for targets only in hemisphere h, H for targets in several hemispheres
        self.pair_class = np.where(has.sum(0) > 1, H, np.argmax(has, axis=0))[self.pair_tgt]
        # For the greedy step, per target: its row in the flat per-column state (`h * C + first column`)
        # and whether it has several circuits in a hemisphere.
        self.tgt_rows = np.arange(H)[:, None] * C + self.ncols[:, :, 0]  # (H, n)
        self.tgt_multi = self.ncount > 1
        self.pair_syn = np.stack([self.pair_e, self.pair_i])  # (2, pairs)
        self._flat: Optional[_Flat] = None  # the greedy step's arrays (`_prepare`), made on first use

    # ----------------------------------------------------------------- units
    def _units(self) -> list[_Unit]:
        H = self.H
        units: list[_Unit] = []
        # Pairs grouped by (source, class), in target order within a group: a source's pairs of one
        # class are a slice of `order`.
        group = self.pair_src * (H + 1) + self.pair_class
        order = np.argsort(group, kind="stable")
        bounds = np.searchsorted(group[order], np.arange(self.demand.source_count * (H + 1) + 1))
        weight = np.concatenate([[0], np.cumsum((self.pair_e + self.pair_i)[order])])
        sums = weight[bounds[1:]] - weight[bounds[:-1]]  # synapses per (source, class)
        bounds, sums = bounds.tolist(), sums.tolist()
        order_conn = np.argsort(self.demand.src, kind="stable") if self.mode == "simple" else None
        conn_starts = (np.searchsorted(self.demand.src[order_conn], np.arange(self.demand.source_count + 1))
                       if order_conn is not None else None)
        for s in np.unique(self.pair_src).tolist():  # sources with at least one connection
            first = s * (H + 1)
            fixed = {h: order[bounds[first + h]:bounds[first + h + 1]] for h in range(H)
                     if bounds[first + h + 1] > bounds[first + h]}
            flex = order[bounds[first + H]:bounds[first + H + 1]]
            size = sum(sums[first:first + H + 1])
            onchip = bool(self.src_onchip[s])
            if onchip:
                if flex.size == 0:
                    options = [fixed]
                elif not fixed:
                    options = [{h: flex} for h in range(H)]
                elif len(fixed) == 1:
                    (h, part), = fixed.items()
                    options = [{h: np.concatenate([part, flex])}]
                else:
                    options = [{**fixed, h: np.concatenate([fixed[h], flex])} for h in range(H)]
                units.append(_Unit(s, True, int(self.src_bus[s]), options, size))
            else:
                # An input gets an independent route per hemisphere; merged targets go with the
                # hemisphere that has fewer fixed targets (or are free when there are none).
                if not fixed:
                    units.append(_Unit(s, False, -1, [{h: flex} for h in range(H)], size))
                else:
                    lightest = min(fixed, key=lambda h: fixed[h].size)
                    for h, part in fixed.items():
                        with_flex = h == lightest and flex.size
                        part = np.concatenate([part, flex]) if with_flex else part
                        units.append(_Unit(s, False, -1, [{h: part}],
                                           sums[first + h] + (sums[first + H] if with_flex else 0)))
            if self.mode == "simple":
                conns = order_conn[conn_starts[s]:conn_starts[s + 1]]
                for unit in (units[-1:] if onchip or not fixed else units[-len(fixed):]):
                    unit.dedicated = [{h: self._dedicated(conns, part) for h, part in opt.items()}
                                      for opt in unit.options]
        return units

    def _dedicated(self, conns: np.ndarray, pairs: np.ndarray) -> tuple[int, int]:
        """Rows of their own (simple routing) for a source's connections into `pairs`.

        Per projection, as many rows per sign as its deepest weight split needs.
        """
        sel = conns[np.isin(self.conn_pair[conns], pairs)]
        nproj = len(self.demand.projections)
        e = np.zeros(nproj, dtype=np.int64)
        i = np.zeros(nproj, dtype=np.int64)
        np.maximum.at(e, self.demand.proj[sel], self.demand.exc_synapses[sel])
        np.maximum.at(i, self.demand.proj[sel], self.demand.inh_synapses[sel])
        return int(e.sum()), int(i.sum())

    # ----------------------------------------------------------------- prechecks
    def _check_bus_fan_in(self) -> None:
        """A circuit is reached by at most 64 rows from one bus; on-chip sources cannot change bus."""
        onchip = self.src_onchip[self.pair_src]
        if not onchip.any():
            return
        spec, B = self.spec, self.B
        tgt, bus = self.pair_tgt[onchip], self.src_bus[self.pair_src[onchip]]
        need = np.bincount(tgt * B + bus, weights=(self.pair_e + self.pair_i)[onchip],
                           minlength=self.demand.neuron_count * B).astype(np.int64)
        cap = np.repeat(self.ncount.sum(0) * spec.rows_per_bus, B)
        over = need - cap
        if over.max() <= 0:
            return
        worst = int(np.argmax(over))
        neuron_gid, k = divmod(worst, B)
        name, neuron = self.demand.neuron_name(neuron_gid)
        senders = self.pair_src[onchip][(tgt == neuron_gid) & (bus == k)]
        pops: dict[str, int] = {}
        for s in senders.tolist():
            pops[self.demand.source_name(s)[0]] = pops.get(self.demand.source_name(s)[0], 0) + 1
        listing = ", ".join(f"{p!r} ({c} neurons)" for p, c in pops.items())
        span = spec.columns_per_event_output
        cols = ", ".join(f"{o * span}–{o * span + span - 1}" for o in range(k, spec.event_outputs, B))
        raise MappingError(
            f"population {name!r}: neuron {neuron} needs {int(need[worst])} synapses from on-chip sources on event "
            f"bus {k} ({listing}; neurons in columns {cols} all send on bus {k}), but one bus reaches only "
            f"{int(cap[worst])} synapse rows of its circuits ({spec.drivers_per_bus} drivers × "
            f"{spec.rows_per_driver} rows per circuit); try placement='balanced' (spreads source populations over "
            f"the buses) or explicit circuits in other columns, circuits_per_neuron=2 for {name!r}, or a "
            f"fixed-sign receptor",
            resource="synapse rows per event bus", needed=int(need[worst]), available=int(cap[worst]),
            partial=self.placement)

    def _check_simple_rows(self, units: list[_Unit]) -> None:
        """With dedicated rows, the rows forced into a hemisphere must fit its synapse array."""
        spec = self.spec
        forced = np.zeros(self.H, dtype=np.int64)
        per_proj = np.zeros((self.H, len(self.demand.projections)), dtype=np.int64)
        order = np.argsort(self.demand.src, kind="stable")
        starts = np.searchsorted(self.demand.src[order], np.arange(self.demand.source_count + 1))
        for unit in units:
            if len(unit.options) != 1:
                continue
            conns = order[starts[unit.src]:starts[unit.src + 1]]
            for h, part in unit.options[0].items():
                sel = conns[np.isin(self.conn_pair[conns], part)]
                for p in np.unique(self.demand.proj[sel]).tolist():
                    mine = sel[self.demand.proj[sel] == p]
                    rows = int(self.demand.exc_synapses[mine].max() + self.demand.inh_synapses[mine].max())
                    per_proj[h, p] += rows
                    forced[h] += rows
        h = int(np.argmax(forced))
        if forced[h] <= spec.synapse_rows:
            return
        listing = ", ".join(f"{self.demand.projections[p]!r}: {int(per_proj[h, p])}"
                            for p in np.flatnonzero(per_proj[h]).tolist())
        hname = spec.hemisphere_name(h)
        raise MappingError(
            f"synapse rows in the {hname} hemisphere: with routing='simple' every (source, sign) of a projection "
            f"gets synapse rows of its own, and the projections into the {hname} hemisphere need {int(forced[h])} "
            f"rows ({listing}), the synapse array has {spec.synapse_rows}; try routing='shared' (sources share "
            f"rows through their synapse labels), placement='balanced' (puts populations into the other "
            f"hemisphere), fewer inputs, or splitting the network into several runs",
            resource=f"synapse rows ({hname} hemisphere)", needed=int(forced[h]), available=spec.synapse_rows,
            partial=self.placement)

    # ----------------------------------------------------------------- greedy
    def _initial_blocks(self, units: list[_Unit]) -> np.ndarray:
        """Blocks per bus: enough labels for the sources bound to it plus a share of the inputs."""
        need = np.zeros((self.H, self.B))
        inputs = 0
        for u in units:
            if u.onchip:
                share = 1.0 if u.coupled or len(u.options) == 1 else 1.0 / len(u.options)
                for h in (u.options[0].keys() if len(u.options) == 1 else set().union(*u.options)):
                    need[h, u.bus] += share
            else:
                inputs += 1
        need += inputs / (self.H * self.B)
        blocks = np.ones(self.B, dtype=np.int64)
        for k in range(self.B):
            while blocks[k] < self.DPB and need[:, k].max() > blocks[k] * self.L:
                blocks[k] *= 2
        return blocks

    def _part(self, h: int, part: np.ndarray) -> tuple:
        """Per (hemisphere, pairs): targets' column options, whether any has several, demand (2, m)."""
        tg = self.pair_tgt[part]
        multi = bool(self.ncount[h, tg].max() > 1)
        add = np.stack([self.pair_e[part], self.pair_i[part]])
        return (self.ncols[h, tg] if multi else self.ncols[h, tg, 0]), (self.ncount[h, tg] if multi else None), add

    def _prepare(self, units: list[_Unit]) -> _Flat:
        """Every unit's parts as flat arrays for the compiled greedy step (`_Flat`); a unit where a target has
        several circuits in a hemisphere is marked to skip (its column is then chosen per block, in `_step`)."""
        pairs: list[np.ndarray] = []
        part_h: list[int] = []
        part_opt: list[int] = []
        part_de: list[int] = []
        part_di: list[int] = []
        unit_np: list[int] = []
        unit_one: list[bool] = []
        simple = self.mode == "simple"
        for unit in units:
            n0 = len(part_h)
            for o, option in enumerate(unit.options):
                for h, part in option.items():
                    pairs.append(part)
                    part_h.append(h)
                    part_opt.append(o)
                    if simple:
                        de, di = unit.dedicated[o][h]
                        part_de.append(de)
                        part_di.append(di)
            P = len(part_h) - n0
            unit_np.append(P)
            unit_one.append(P == len(unit.options))
        i64 = np.int64
        part_size = np.array([p.size for p in pairs], dtype=i64)
        part_start = np.cumsum(part_size) - part_size
        pos_pair = np.concatenate(pairs) if pairs else np.zeros(0, dtype=i64)
        part_h_arr = np.array(part_h, dtype=i64)
        pos_h = np.repeat(part_h_arr, part_size)
        flat = pos_h * self.demand.neuron_count + self.pair_tgt.take(pos_pair)
        pos_row = self.tgt_rows.reshape(-1).take(flat)
        multi = self.tgt_multi.reshape(-1).take(flat)
        unit_np_arr = np.array(unit_np, dtype=i64)
        unit_p0 = np.cumsum(unit_np_arr) - unit_np_arr
        unit_pos = part_start[unit_p0] if pairs else np.zeros(0, dtype=i64)
        skip = (np.logical_or.reduceat(multi, unit_pos) if multi.size else np.zeros(len(units), dtype=bool))
        zeros = np.zeros(len(part_h), dtype=i64)
        return _Flat(unit_p0, unit_np_arr, np.array(unit_one, dtype=i64), skip.astype(i64),
                     np.array([u.onchip for u in units], dtype=bool), np.array([u.bus for u in units], dtype=i64),
                     part_h_arr, np.array(part_opt, dtype=i64), part_start, part_size,
                     np.array(part_de, dtype=i64) if simple else zeros, np.array(part_di, dtype=i64) if simple else zeros,
                     pos_pair.astype(i64, copy=False), pos_row, np.ascontiguousarray(self.pair_syn.take(pos_pair, axis=1)))

    def _greedy(self, units: list[_Unit], blocks: np.ndarray, criterion: str) -> dict[str, Any]:
        """Give every unit, in order, the feasible block that the criterion prefers.

        "pack": least increase of the block's rows first (fills rows other sources left free in
        the columns this source needs); "spread": least rows after adding first (balances).
        Ties go to the earlier option, then to the earlier block.

        The state covers the blocks in use only (compact index g: bus by bus, block by block):
        `D[2 * g + sign, h * C + column]` synapses stacked in a column, `curmax[h, g, sign]` /
        `ded[h, g, sign]` rows (`rowsum` over signs; `curmax` also as `D[2 * g + sign, H * C + h]`),
        `nlab[h, g]` labels. A choice's preference is one number, `key = cost * W - M[h, g]` (smaller
        first): `M` holds the block's share of it (its rows and labels), or `FULL` once the block is out of
        labels. The compiled step (`hxgraph.chip._routing_kernels.greedy_units`) decides unit after unit;
        units whose targets have several circuits in a hemisphere, and a unit no block fits, go through
        `_step` here.
        """
        from hxgraph.chip._routing_kernels import greedy_units  # numba compiles (or loads its cache) on first use

        H, B, DPB, C, L = self.H, self.B, self.DPB, self.C, self.L
        HC = H * C
        simple = self.mode == "simple"
        nb = int(blocks.sum())
        bus_start = np.concatenate([[0], np.cumsum(blocks)])
        gid = np.concatenate([k * DPB + np.arange(blocks[k]) for k in range(B)])  # compact -> bus * DPB + block
        gid_list = gid.tolist()
        D = np.zeros((nb * 2, HC + H), dtype=np.int64)
        D1 = D.reshape(-1)
        curmax = np.zeros((H, nb, 2), dtype=np.int64)
        ded = np.zeros((H, nb, 2), dtype=np.int64)
        rowsum = np.zeros((H, nb), dtype=np.int64)
        nlab = np.zeros((H, nb), dtype=np.int64)
        cap_all = np.repeat((DPB // blocks) * self.spec.rows_per_driver, blocks)  # rows per block
        # Preference (smaller first) of a feasible choice, (increase, after, labels) for "pack" and (after,
        # increase, labels) for "spread", as one number: every field is bounded.
        big_cost = H * int(cap_all.max(initial=0)) + 1
        big_lab = H * L + 1
        pack = criterion == "pack"
        W = (big_cost + 1) * big_lab
        F = big_cost * big_lab if pack else big_lab
        FULL = -(1 << 62)  # M of a block out of labels: its key lies beyond every feasible one
        M = np.zeros((H, nb), dtype=np.int64)
        if self._flat is None:
            self._flat = self._prepare(units)
        fl = self._flat
        n_units = len(units)
        unit_s0 = np.where(fl.unit_onchip, bus_start[np.maximum(fl.unit_bus, 0)], 0)
        unit_s1 = np.where(fl.unit_onchip, bus_start[np.maximum(fl.unit_bus, 0) + 1], nb)
        out_g = np.zeros(n_units, dtype=np.int64)
        out_opt = np.zeros(n_units, dtype=np.int64)
        pair_h = np.full(self.pair_src.size, -1, dtype=np.int64)
        pair_col = np.full(self.pair_src.size, -1, dtype=np.int64)
        u = 0
        while True:
            u = int(greedy_units(u, n_units, fl.unit_p0, fl.unit_np, fl.unit_one, fl.unit_skip, unit_s0, unit_s1,
                                 fl.part_h, fl.part_opt, fl.part_start, fl.part_size, fl.part_de, fl.part_di,
                                 fl.pos_pair, fl.pos_row, fl.pos_add, D, curmax, ded, rowsum, nlab, M, cap_all,
                                 simple, pack, W, F, FULL, big_cost, big_lab, L, C, out_g, out_opt, pair_h, pair_col))
            if u >= n_units:
                break
            # Several circuits per target, or no block fits (the step says why).
            unit = units[u]
            s0, s1 = int(unit_s0[u]), int(unit_s1[u])
            o, j, chosen = self._step(unit, D, curmax, ded, nlab, cap_all, gid, s0, s1, criterion)
            g = s0 + j
            for h, part, c, offsets, add, new_rows, total in chosen:
                D1[offsets + 2 * g * (HC + H)] += add
                if simple:
                    de, di = unit.dedicated[o][h]
                    ded[h, g] += (de, di)
                    total = int(rowsum[h, g]) + de + di
                else:
                    curmax[h, g] = new_rows
                    D[2 * g:2 * g + 2, HC + h] = new_rows
                rowsum[h, g] = total
                labels_now = int(nlab[h, g]) + 1
                nlab[h, g] = labels_now
                M[h, g] = total * F - labels_now if labels_now < L else FULL
                pair_h[part] = h
                pair_col[part] = c
            out_g[u], out_opt[u] = g, o
            u += 1
        assign: dict[tuple[int, int], tuple[int, int]] = {}  # (src, h) -> (bus, block)
        members: dict[tuple[int, int, int], list[int]] = {}  # (h, bus, block) -> single-hemisphere sources
        coupled: dict[tuple[int, int], list[int]] = {}       # (bus, block) -> sources on both hemispheres
        for unit, g, o in zip(units, out_g.tolist(), out_opt.tolist()):
            kb = divmod(gid_list[g], DPB)
            option = unit.options[o]
            if unit.onchip and len(option) > 1:
                for h in option:
                    assign[(unit.src, h)] = kb
                coupled.setdefault(kb, []).append(unit.src)
            else:
                for h in option:
                    assign[(unit.src, h)] = kb
                    members.setdefault((h, *kb), []).append(unit.src)
        rows = np.zeros((H, B * DPB, 2), dtype=np.int64)
        rows[:, gid] = ded if simple else curmax
        labels_used = np.zeros((H, B * DPB), dtype=np.int64)
        labels_used[:, gid] = nlab
        return dict(pair_h=pair_h, pair_col=pair_col, assign=assign, members=members, coupled=coupled,
                    rows=rows.reshape(H, B, DPB, 2), nlab=labels_used.reshape(H, B, DPB))

    def _step(self, unit: _Unit, D: np.ndarray, curmax: np.ndarray, ded: np.ndarray, nlab: np.ndarray,
              cap_all: np.ndarray, gid: np.ndarray, s0: int, s1: int, criterion: str) -> tuple[int, int, list]:
        """One unit's choice among blocks s0..s1-1, option by option, as `_greedy` makes it (targets with
        several circuits in a hemisphere take their least loaded column per block): (option, block,
        [(h, pairs, columns, offsets into the flat state, synapses, new rows, their sum)]).

        Raises `_RouteFailure` (with the buses out of labels and the nearest miss) when no block fits.
        """
        H, DPB, C = self.H, self.DPB, self.C
        simple = self.mode == "simple"
        big = np.iinfo(np.int64).max
        blk = gid[s0:s1]
        nc = blk.size
        cap = cap_all[s0:s1]
        D4 = D[:, :H * C].reshape(-1, 2, H, C)
        best = None
        label_blocked: set[int] = set()
        best_fail: Optional[tuple[int, int, int, int]] = None
        for o, option in enumerate(unit.options):
            feasible = np.ones(nc, dtype=bool)
            increase = np.zeros(nc, dtype=np.int64)
            after = np.zeros(nc, dtype=np.int64)
            labels = np.zeros(nc, dtype=np.int64)
            chosen = {}
            for h, part in option.items():
                opts, count, add = self._part(h, part)
                Dsel = D4[s0:s1, :, h]  # (nc, 2, C)
                if count is not None:
                    # A merged neuron with several circuits here: its least loaded column per block.
                    lo = Dsel.sum(1)[:, opts]  # (nc, m, W)
                    lo = np.where((np.arange(opts.shape[1]) < count[:, None])[None], lo, big)
                    cols = np.take_along_axis(np.broadcast_to(opts, lo.shape), lo.argmin(2)[..., None], 2)[..., 0]
                    index = np.broadcast_to(cols[:, None, :], (nc, 2, cols.shape[1]))
                    gathered = np.take_along_axis(Dsel, index, 2)
                else:
                    cols = opts
                    gathered = Dsel[:, :, opts]  # (nc, 2, m)
                if simple:
                    de, di = unit.dedicated[o][h]
                    before = ded[h, s0:s1].sum(1)
                    cost = before + de + di
                    new = None
                else:
                    new = np.maximum(curmax[h, s0:s1], (gathered + add[None]).max(2))  # (nc, 2)
                    cost = new.sum(1)
                    before = curmax[h, s0:s1].sum(1)
                full = nlab[h, s0:s1] >= self.L
                fits = cost <= cap
                label_blocked.update((blk[full & fits] // DPB).tolist())
                miss = np.flatnonzero(~full & ~fits)
                if miss.size:
                    j = miss[np.argmin(cost[miss] - cap[miss])]
                    if best_fail is None or cost[j] - cap[j] < best_fail[0] - best_fail[1]:
                        best_fail = (int(cost[j]), int(cap[j]), h, int(blk[j] // DPB))
                feasible &= fits & ~full
                increase += cost - before
                after = np.maximum(after, cost)
                labels += nlab[h, s0:s1]
                chosen[h] = (part, cols, add, new)
            if not feasible.any():
                continue
            cand = np.flatnonzero(feasible)
            if criterion == "pack":
                j = cand[np.lexsort((cand, labels[cand], after[cand], increase[cand]))[0]]
                score = (int(increase[j]), int(after[j]), int(labels[j]), o)
            else:
                j = cand[np.lexsort((cand, labels[cand], increase[cand], after[cand]))[0]]
                score = (int(after[j]), int(increase[j]), int(labels[j]), o)
            if best is None or score < best[0]:
                best = (score, o, int(j), chosen)
        if best is None:
            raise _RouteFailure(unit, label_blocked, best_fail)
        _, o, j, chosen = best
        out = []
        for h, (part, cols, add, new) in chosen.items():
            c = cols[j] if cols.ndim == 2 else cols
            r = h * C + c
            out.append((h, part, c, np.stack([r, r + D.shape[1]]), add, *((None, None) if new is None else
                                                                     (new[j], int(new[j].sum())))))
        return o, j, out

    # ----------------------------------------------------------------- errors
    def _failure_error(self, failure: _RouteFailure, blocks: np.ndarray) -> MappingError:
        spec, unit = self.spec, failure.unit
        pop, neuron = self.demand.source_name(unit.src)
        conns = self.demand.src == unit.src
        counts = np.bincount(self.demand.proj[conns], minlength=len(self.demand.projections))
        proj = self.demand.projections[int(np.argmax(counts))]
        if unit.onchip:
            col = int(self.src_emit[unit.src]) % spec.columns
            hem = spec.hemisphere_name(int(self.src_emit[unit.src]) // spec.columns)
            who = (f"projection {proj!r} (source {pop!r} neuron {neuron}, in column {col} of the {hem} row, "
                   f"sends on event bus {unit.bus})")
            same_bus = self.src_onchip & (self.src_bus == unit.bus)
            names: dict[str, int] = {}
            for s in np.flatnonzero(same_bus).tolist():
                n = self.demand.source_name(s)[0]
                names[n] = names.get(n, 0) + 1
            crowd = ", ".join(f"{n!r} {c}" for n, c in names.items())
            hint = (f"on-chip sources on bus {unit.bus}: {crowd}; try placement='balanced' or explicit circuits that "
                    f"spread {pop!r} over more event buses, fewer connections, a fixed-sign receptor (one row per "
                    f"connection instead of two), or splitting the network into several runs")
        else:
            who = f"projection {proj!r} (input {pop!r} neuron {neuron})"
            hint = ("try fewer inputs, circuits_per_neuron=2 for the targets (more rows per neuron), a fixed-sign "
                    "receptor, or splitting the network into several runs")
        if failure.best is not None:
            cost, cap, h, k = failure.best
            return MappingError(
                f"{who}: no synapse driver group it can reach has room; the best, on event bus {k} of the "
                f"{spec.hemisphere_name(h)} hemisphere ({blocks[k]} group{'s' if blocks[k] > 1 else ''} of "
                f"{spec.drivers_per_bus // blocks[k]} drivers on that bus), would need {cost} synapse rows and has "
                f"{cap} ({self.mode} routing); {hint}",
                resource="synapse rows per driver group", needed=cost, available=cap, partial=self.placement)
        return MappingError(
            f"{who}: every synapse driver group it can reach already tells {spec.labels} sources apart by their "
            f"{spec.label_bits}-bit labels; {hint}",
            resource="synapse labels per driver group", needed=spec.labels + 1, available=spec.labels,
            partial=self.placement)

    # ----------------------------------------------------------------- main
    def run(self) -> Routing:
        units = self._units()
        self._check_bus_fan_in()
        if self.mode == "simple":
            self._check_simple_rows(units)
        # Most constrained first: sources on both hemispheres, other on-chip sources, then
        # inputs (free to use any bus); larger demands first within each class.
        units.sort(key=lambda u: (0 if u.coupled else 1 if u.onchip else 2, -u.size, u.src))
        blocks = self._initial_blocks(units)
        for _ in range(self.B * int(np.log2(self.DPB)) + 1):  # each round doubles the groups of a bus
            failures = []
            for criterion in ("pack", "spread"):
                try:
                    state = self._greedy(units, blocks, criterion)
                except _RouteFailure as failure:
                    failures.append(failure)
                    continue
                return self._build(state, blocks)
            # Out of labels somewhere: cut those buses into more (smaller) driver groups.
            blocked = set().union(*(f.label_blocked for f in failures))
            grow = [k for k in sorted(blocked) if blocks[k] < self.DPB]
            if not grow:
                raise GreedyFailure(self._failure_error(failures[0], blocks)) from None
            logger.debug("routing: out of labels on buses %s with blocks %s; doubling", grow, blocks.tolist())
            blocks[grow] *= 2
        raise GreedyFailure(self._failure_error(failures[0], blocks))

    def _build(self, st: dict[str, Any], blocks: np.ndarray) -> Routing:
        spec, dm = self.spec, self.demand
        H, B, DPB, C, R = self.H, self.B, self.DPB, self.C, spec.synapse_rows
        rpd = spec.rows_per_driver
        size = DPB // blocks  # drivers per block, per bus
        # slot_row[k][b]: the rows of block b of bus k in slot order (ascending row number).
        slots = DPB * rpd
        slot_row = np.full((B, DPB, slots), -1, dtype=np.int64)
        for k in range(B):
            for b in range(blocks[k]):
                j = np.arange(b * size[k], (b + 1) * size[k])
                drivers = j * B + k
                rows = (drivers[:, None] * rpd + np.arange(rpd)[None]).reshape(-1)
                slot_row[k, b, :rows.size] = np.sort(rows)
        table = self._tables(st)
        exc_rows = np.ascontiguousarray(st["rows"][..., 0].reshape(H, -1))  # (H, B * DPB)
        weight = np.zeros(H * R * C, dtype=np.uint8)
        lab = np.zeros(H * R * C, dtype=np.uint8)
        if "syn_h" not in st and self.mode == "shared":
            # One hemisphere and column per (source, target) pair: looked up per connection, the synapses
            # stacked in one compiled pass.
            from hxgraph.chip._routing_kernels import place_shared

            ch, ccol = st["pair_h"][self.conn_pair], st["pair_col"][self.conn_pair]
            entry = dm.src * H + ch
            cblock = table[0][entry] * DPB + table[1][entry]
            sh, srow, scol, conn, sign, copy = place_shared(
                dm.exc_synapses, dm.inh_synapses, dm.exc, dm.inh, ch, ccol, cblock, table[2][entry], exc_rows,
                slot_row.reshape(-1, slots), R, C, spec.max_weight, weight, lab)
            if (srow < 0).any():  # an invariant of the greedy assignment, not a user error
                raise RuntimeError("hxgraph internal routing error: a synapse slot lies outside its driver block")
        else:
            sh, srow, scol, conn, sign, copy = self._place_synapses(st, table, slot_row, exc_rows, weight, lab)
        # Row modes, drivers.
        row_mode = np.zeros((H, R), dtype=np.uint8)
        driver_enable = np.zeros((H, spec.drivers_per_hemisphere), dtype=bool)
        driver_mask = np.zeros((H, spec.drivers_per_hemisphere), dtype=np.uint8)
        rows = st["rows"]
        for h in range(H):
            for k in range(B):
                for b in range(blocks[k]):
                    ne, ni = int(rows[h, k, b, 0]), int(rows[h, k, b, 1])
                    if ne + ni == 0:
                        continue
                    r = slot_row[k, b]
                    row_mode[h, r[:ne]] = ROW_EXCITATORY
                    row_mode[h, r[ne:ne + ni]] = ROW_INHIBITORY
                    used = np.unique(r[:ne + ni] // rpd)
                    driver_enable[h, used] = True
                    # Compare the row-select bits above the block size: the block's drivers all accept.
                    driver_mask[h, used] = (DPB - 1) & ~(int(size[k]) - 1)
        neuron_label, input_routes, xbar = self._labels(st, blocks, table)
        t = torch.from_numpy
        return Routing(self.mode, t(weight.reshape(H, R, C)), t(lab.reshape(H, R, C)), t(row_mode), t(driver_enable),
                       t(driver_mask), *xbar, neuron_label, input_routes, sh, srow, scol, conn, sign, copy,
                       dm.exc_synapses.copy(), dm.inh_synapses.copy(), tuple(int(x) for x in blocks), st["nlab"].sum(2))

    def _place_synapses(self, st: dict[str, Any], table: tuple[np.ndarray, ...], slot_row: np.ndarray,
                        exc_rows: np.ndarray, weight: np.ndarray, lab: np.ndarray) -> tuple[np.ndarray, ...]:
        """The synapse table (hemisphere, row, column, connection, sign, copy) of simple routing or of the exact
        router's synapses, with array operations; writes `weight` and `lab`."""
        spec, dm = self.spec, self.demand
        H, B, DPB, C, R = self.H, self.B, self.DPB, self.C, spec.synapse_rows
        slots = slot_row.shape[2]
        # Expand connections into synapses: all excitatory ones first, then the inhibitory ones.
        conn, sign, copy = synapse_table(dm)
        n_exc = int(dm.exc_synapses.sum())
        if "syn_h" in st:  # the exact router places every synapse itself (hxgraph.chip.exact_routing)
            sh, scol = st["syn_h"], st["syn_col"]
            entry = dm.src[conn] * H + sh
            block = table[0][entry] * DPB + table[1][entry]
            slab = table[2][entry]
            key = ((sh * B * DPB + block) * 2 + sign) * C + scol  # (block, sign, column)
        else:  # one hemisphere and column per (source, target) pair: look up per connection, then expand
            ch, ccol = st["pair_h"][self.conn_pair], st["pair_col"][self.conn_pair]
            entry = dm.src * H + ch
            cblock = table[0][entry] * DPB + table[1][entry]
            ckey = (ch * B * DPB + cblock) * (2 * C) + ccol  # an excitatory synapse's (block, sign, column)
            sh, scol, slab, block, key = ch[conn], ccol[conn], table[2][entry][conn], cblock[conn], ckey[conn]
            key[n_exc:] += C
        if self.mode == "simple":
            # A row of its own per (projection, source, sign, copy) within the block.
            group = key // C
            P = len(dm.projections)
            copies = int(copy.max(initial=0)) + 1
            rowkey = ((group * P + dm.proj[conn]) * dm.source_count + dm.src[conn]) * copies + copy
            uniq, inv = np.unique(rowkey, return_inverse=True)
            ugroup = uniq // (P * dm.source_count * copies)
            first = np.searchsorted(ugroup, ugroup)
            rank = (np.arange(uniq.size) - first)[inv]
        else:
            # Stack the block's synapses per column onto its rows of the right sign: a synapse's rank is
            # the number of synapses before it (in synapse order) with its block, sign and column.
            counts = np.bincount(key)
            used = counts > 0
            key = (np.cumsum(used) - 1)[key]  # the (block, sign, column) in use, numbered in order
            counts = counts[used]
            # Keys of 16 bits sort by radix (only the order within a key matters, and it is kept).
            order = np.argsort(key.astype(np.uint16) if counts.size <= 1 << 16 else key, kind="stable")
            sorted_key = key[order]
            rank = np.empty_like(order)
            rank[order] = np.arange(order.size) - (np.cumsum(counts) - counts)[sorted_key]
        rank[n_exc:] += exc_rows[sh[n_exc:], block[n_exc:]]  # inhibitory rows follow the excitatory ones
        srow = slot_row.reshape(-1, slots)[block, rank]
        if (srow < 0).any():  # an invariant of the greedy assignment, not a user error
            raise RuntimeError("hxgraph internal routing error: a synapse slot lies outside its driver block")
        cell = (sh * R + srow) * C + scol
        magnitude = np.concatenate([dm.exc[conn[:n_exc]], dm.inh[conn[n_exc:]]])
        weight[cell] = copy_weight(magnitude, copy, spec.max_weight)
        lab[cell] = slab
        return sh, srow, scol, conn, sign, copy

    def _tables(self, st: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Bus, block and synapse label of every (source * H + hemisphere) with a route (-1 elsewhere), and the
        routed entries in assignment order.

        Labels: in a block, the sources on both hemispheres come first (the same label in both), then
        the others, in the order the assignment added them.
        """
        H, dm = self.H, self.demand
        bus = np.full(dm.source_count * H, -1, dtype=np.int64)
        block = np.full(dm.source_count * H, -1, dtype=np.int64)
        label = np.full(dm.source_count * H, -1, dtype=np.int64)
        entries = np.array(list(st["assign"]), dtype=np.int64).reshape(-1, 2)
        entries = entries[:, 0] * H + entries[:, 1]
        bus[entries], block[entries] = np.array(list(st["assign"].values()), dtype=np.int64).reshape(-1, 2).T
        for (k, b), srcs in st["coupled"].items():
            for h in range(H):
                label[np.asarray(srcs, dtype=np.int64) * H + h] = np.arange(len(srcs))
        for (h, k, b), srcs in st["members"].items():
            base = len(st["coupled"].get((k, b), []))
            label[np.asarray(srcs, dtype=np.int64) * H + h] = base + np.arange(len(srcs))
        return bus, block, label, entries

    def _labels(self, st: dict[str, Any], blocks: np.ndarray, table: tuple[np.ndarray, ...]):
        """Event labels of on-chip neurons, input routes, and the crossbar nodes they need."""
        spec, dm, H, B = self.spec, self.demand, self.H, self.B
        bus_of, block_of, label_of, entries = table
        shift_rs, shift_x = spec.row_select_shift, spec.crossbar_shift
        n_in, n_out = spec.crossbar_inputs, spec.crossbar_outputs
        enable = np.zeros((n_in, n_out), dtype=bool)
        mask = np.zeros((n_in, n_out), dtype=np.int64)
        target = np.zeros((n_in, n_out), dtype=np.int64)
        bus_bits = max(1, math.ceil(math.log2(spec.buses)))
        # Every routed (source, hemisphere), in assignment order.
        src, hem = entries // H, entries % H
        k = bus_of[entries]
        low = ((block_of[entries] * (self.DPB // blocks)[k]) << shift_rs) | label_of[entries]  # row select, label
        onchip = self.src_onchip[src]
        # On-chip neurons: one label for all their hemispheres (bus, block and label of the first one routed).
        bits = np.bincount(src[onchip], weights=np.left_shift(1, hem[onchip]), minlength=dm.source_count)
        _, first = np.unique(src, return_index=True)
        first = first[onchip[first]]
        neuron_value = np.zeros(dm.source_count, dtype=np.int64)
        neuron_value[src[first]] = (bits[src[first]].astype(np.int64) << shift_x) | low[first]
        out = (self.src_emit[src[onchip]] % spec.columns) // spec.columns_per_event_output
        node = (out, hem[onchip] * B + out % B)
        enable[node] = True
        mask[node] = target[node] = np.left_shift(1, shift_x + hem[onchip])
        neuron_label: dict[str, torch.Tensor] = {}
        input_routes: dict[str, torch.Tensor] = {}
        for name in dm.neuron_pops:
            pop = self.graph.population(name)
            if name in dm.source_offset:
                off = dm.source_offset[name]
                neuron_label[name] = torch.from_numpy(neuron_value[off:off + pop.size].copy())
            else:
                neuron_label[name] = torch.zeros(pop.size, dtype=torch.int64)
            if pop.neuron_model.spiking:
                # Recording: spikes of every event output with spiking circuits go to the host.
                rec = (self.placement.circuits[name][:, 0].numpy() % spec.columns) // spec.columns_per_event_output
                enable[rec, spec.buses + rec % spec.recording_links] = True
        # Inputs: a route per routed hemisphere, by neuron and hemisphere.
        link = k % spec.external_links
        bus = hem * B + k
        for name in dm.source_pops:
            pop = self.graph.population(name)
            if not pop.is_input:
                continue
            off = dm.source_offset[name]
            mine = np.flatnonzero((src >= off) & (src < off + pop.size))
            mine = mine[np.lexsort((hem[mine], src[mine]))]
            input_routes[name] = torch.from_numpy(
                np.stack([src[mine] - off, link[mine], (bus[mine] << shift_x) | low[mine]], 1).reshape(-1, 3))
            node = (spec.event_outputs + link[mine], bus[mine])
            enable[node] = True
            mask[node] = ((1 << bus_bits) - 1) << shift_x
            target[node] = bus[mine] << shift_x
        return neuron_label, input_routes, (torch.from_numpy(enable), torch.from_numpy(mask), torch.from_numpy(target))


def synapse_table(demand: Demand) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(connection, sign, copy) of every synapse: all excitatory synapses first, then the inhibitory ones."""
    n_e, n_i = demand.exc_synapses, demand.inh_synapses
    idx = np.arange(demand.src.size)
    conn = np.concatenate([np.repeat(idx, n_e), np.repeat(idx, n_i)])
    sign = np.concatenate([np.zeros(int(n_e.sum()), dtype=np.int64), np.ones(int(n_i.sum()), dtype=np.int64)])
    return conn, sign, np.concatenate([_ranges(n_e), _ranges(n_i)])


def _ranges(counts: np.ndarray) -> np.ndarray:
    """[0..c0-1, 0..c1-1, ...] for counts c (copy index of each synapse)."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total, dtype=np.int64) - starts


def route(graph: Graph, placement: NeuronPlacement, demand: Demand, spec: ChipSpec, mode: str = "shared",
          exact_time_limit: float = EXACT_TIME_LIMIT) -> Routing:
    """Route every projection of `graph` on `placement`; raises `MappingError` when it does not fit.

    The greedy assignment runs first. If it fails, the exact router (`hxgraph.chip.exact_routing`)
    searches for up to `exact_time_limit` seconds: it returns a routing, proves that none exists
    (`MappingError` naming the binding constraint) or raises `RoutingUndecidedError` when time
    runs out. `exact_time_limit=0` skips the exact search (a greedy failure is then undecided).
    """
    check_routing(mode)
    limit = check_time_limit(exact_time_limit)
    router = _Router(graph, placement, demand, spec, mode)
    try:
        return router.run()
    except GreedyFailure as failure:
        from hxgraph.chip.exact_routing import route_exactly  # the solver loads only when greedy fails
        return route_exactly(router, failure.error, limit)
