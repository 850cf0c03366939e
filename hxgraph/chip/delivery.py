"""Where every event goes: the event path of a `ChipConfig`, evaluated once per configuration.

This is the emulator's model of the chip's routing hardware (CHIP.md §2). For every event
source — a route of an input neuron, or an on-chip neuron — it follows crossbar → event bus
→ synapse drivers (row-select compare under the driver mask) → both rows of each accepting
driver → synapses whose label equals the event's synapse label, and sums what arrives at
each neuron as excitatory and inhibitory weight. Nothing here knows the graph's
projections: a wrong configuration delivers wrong inputs, as on the chip.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import attrs
import torch

from hxgraph.chip.config import ROW_DISABLED, ROW_INHIBITORY, ChipConfig


@attrs.frozen(eq=False)
class Delivery:
    """Summed synaptic weight (hardware units × synapse gain factors) per (source, target) population pair.

    `excitatory[(source, target)]` and `inhibitory[...]` are float32 (target size, source size);
    only pairs that some event actually reaches are present.
    """

    excitatory: Mapping[tuple[str, str], torch.Tensor]
    inhibitory: Mapping[tuple[str, str], torch.Tensor]

    def sources_of(self, target: str) -> list[str]:
        keys = set(self.excitatory) | set(self.inhibitory)
        return sorted({s for s, t in keys if t == target})


def _sources(config: ChipConfig) -> tuple[list[tuple[str, torch.Tensor]], torch.Tensor, torch.Tensor]:
    """Every event source: (population, neuron index per source) blocks, crossbar inputs, labels."""
    spec = config.spec
    blocks, inputs, labels = [], [], []
    for name, routes in config.input_routes.items():
        blocks.append((name, routes[:, 0]))
        inputs.append(spec.event_outputs + routes[:, 1])
        labels.append(routes[:, 2])
    for name in config.populations:
        emitting = config.neuron_circuits[name][:, 0]
        blocks.append((name, torch.arange(emitting.numel())))
        inputs.append((emitting % spec.columns) // spec.columns_per_event_output)
        labels.append(config.neuron_label[name])
    return blocks, torch.cat(inputs).long(), torch.cat(labels).long()


def active_rows(config: ChipConfig, crossbar_input: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Bool (sources, hemispheres, synapse rows): the rows each source's events activate."""
    spec = config.spec
    S, B = crossbar_input.numel(), spec.buses_per_hemisphere
    enable = config.crossbar_enable[crossbar_input, :spec.buses]
    passes = (label[:, None] & config.crossbar_mask[crossbar_input, :spec.buses]) == \
        config.crossbar_target[crossbar_input, :spec.buses]
    reach = enable & passes  # (S, buses)
    row_select = (label >> spec.row_select_shift) & (2 ** spec.row_select_bits - 1)
    drivers = torch.arange(spec.drivers_per_hemisphere)
    index_on_bus = drivers // B
    rows = torch.zeros(S, spec.hemispheres, spec.synapse_rows, dtype=torch.bool)
    for h in range(spec.hemispheres):
        mask = config.driver_mask[h].long()  # (drivers,)
        accept = config.driver_enable[h][None, :] & (
            (row_select[:, None] & mask[None, :]) == (index_on_bus & mask)[None, :])
        accept &= reach[:, h * B + drivers % B]  # a driver hears only its own bus
        rows[:, h] = accept.repeat_interleave(spec.rows_per_driver, dim=1)
    return rows


@attrs.frozen(eq=False)
class DeliveryMap:
    """The event path of a configuration without its weights: which synapse reaches which neuron from
    which source. Fixed by everything but the synapse weights, so a weight-only update (training with the
    chip in the loop) recomputes the delivered weights from it with one gather and one sum per pair.

    `pairs[(source, target)]` holds, per sign (0 excitatory, 1 inhibitory), the flat synapse index
    (hemisphere·rows·columns + row·columns + column) and the flat (target neuron · source size + source
    neuron) entry of every synapse an event of the source reaches on the target's circuits.
    """

    shapes: Mapping[tuple[str, str], tuple[int, int]]
    pairs: Mapping[tuple[str, str], tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]]

    def deliver(self, synapse_weight: torch.Tensor, gain_factor: Optional[torch.Tensor] = None) -> Delivery:
        """Summed weight per (source, target) pair for these synapse weights (times `gain_factor` per synapse)."""
        # only the synapses an event reaches, each weight times its gain as for the whole array (the same bits)
        flat = synapse_weight.reshape(-1)
        gains = None if gain_factor is None else gain_factor.reshape(-1)
        excitatory: dict[tuple[str, str], torch.Tensor] = {}
        inhibitory: dict[tuple[str, str], torch.Tensor] = {}
        for key, signs in self.pairs.items():
            rows, cols = self.shapes[key]
            for store, (synapse, entry) in zip((excitatory, inhibitory), signs):
                if synapse.numel() == 0:
                    continue
                values = flat[synapse].float()
                if gains is not None:
                    values = values * gains[synapse]
                if not bool(values.any()):
                    continue  # only pairs that some event actually reaches
                store[key] = torch.zeros(rows * cols).index_add_(0, entry, values).reshape(rows, cols)
        return Delivery(excitatory, inhibitory)


def delivery_map(config: ChipConfig) -> DeliveryMap:
    """Follow the event path of `config` for every source, down to the synapses (see `DeliveryMap`)."""
    spec = config.spec
    H, R, C = spec.hemispheres, spec.synapse_rows, spec.columns
    blocks, crossbar_input, label = _sources(config)
    rows = active_rows(config, crossbar_input, label)  # (S, H, R)
    synapse_label = label & (spec.labels - 1)
    # Every event source (route) s: its population and neuron.
    source_block = torch.cat([torch.full((n.numel(),), i, dtype=torch.long) for i, (_, n) in enumerate(blocks)])
    source_neuron = torch.cat([n.long() for _, n in blocks])
    owner_pop, owner_neuron = config.circuit_population.long(), config.circuit_neuron.long()
    found: list[tuple[torch.Tensor, ...]] = []  # (source route, hemisphere, row, column)
    for h in range(H):
        enabled = config.row_mode[h] != ROW_DISABLED
        for value in torch.unique(synapse_label).tolist():
            chosen = (synapse_label == value).nonzero().reshape(-1)
            r, c = ((config.synapse_label[h] == value) & enabled[:, None]).nonzero(as_tuple=True)
            if r.numel() == 0 or chosen.numel() == 0:
                continue
            hit = rows[chosen][:, h][:, r]  # (sources with this label, synapses with it): the row is active
            k, j = hit.nonzero(as_tuple=True)
            found.append((chosen[k], torch.full_like(k, h), r[j], c[j]))
    if found:
        route, hem, row, col = (torch.cat(parts) for parts in zip(*found))
    else:
        route = hem = row = col = torch.zeros(0, dtype=torch.long)
    circuit = hem * C + col
    target_pop = owner_pop[circuit]
    keep = target_pop >= 0  # circuits of no neuron receive nothing that is read
    route, hem, row, col, circuit, target_pop = route[keep], hem[keep], row[keep], col[keep], circuit[keep], target_pop[keep]
    synapse = (hem * R + row) * C + col
    sign = (config.row_mode[hem, row] == ROW_INHIBITORY).long()
    shapes: dict[tuple[str, str], tuple[int, int]] = {}
    pairs = {}
    for b, (source, _) in enumerate(blocks):
        from_here = source_block[route] == b
        for t, target in enumerate(config.populations):
            mine = from_here & (target_pop == t)
            if not bool(mine.any()):
                continue
            size = _population_size(config, source)
            entry = owner_neuron[circuit[mine]] * size + source_neuron[route[mine]]
            by_sign = tuple((synapse[mine][sign[mine] == k], entry[sign[mine] == k]) for k in (0, 1))
            pairs[(source, target)] = by_sign  # one block per source population: each pair once
            shapes[(source, target)] = (_population_size(config, target), size)
    return DeliveryMap(shapes, pairs)


# Everything of a configuration the event path depends on (all but weights and neuron parameters).
EVENT_PATH_FIELDS = ("synapse_label", "row_mode", "driver_enable", "driver_mask", "crossbar_enable", "crossbar_mask",
                     "crossbar_target", "neuron_circuits", "neuron_label", "input_routes", "populations",
                     "circuit_population", "circuit_neuron", "input_sizes")


def same_fields(a: ChipConfig, b: ChipConfig, fields: Sequence[str]) -> bool:
    """Whether two configurations (of one spec) agree in `fields` (tensors, mappings of them, plain values)."""
    def same(x: object, y: object) -> bool:
        if x is y:
            return True
        if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
            if x.shape != y.shape or x.dtype != y.dtype:
                return False
            # NaN marks unused parameters (an LIF circuit's AdEx terms): equal where both are NaN
            return torch.equal(x, y) or (x.is_floating_point() and bool((x == y).logical_or_(x.isnan() & y.isnan())
                                                                             .all()))
        if isinstance(x, Mapping) and isinstance(y, Mapping):
            return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
        return x == y
    return a.spec == b.spec and all(same(getattr(a, f), getattr(b, f)) for f in fields)


def same_event_path(a: ChipConfig, b: ChipConfig) -> bool:
    """Whether two configurations route events alike (they may differ in weights and neuron parameters)."""
    return same_fields(a, b, EVENT_PATH_FIELDS)


def compile_delivery(config: ChipConfig, gain_factor: Optional[torch.Tensor] = None) -> Delivery:
    """Evaluate the event path of `config` for every source; `gain_factor` scales each synapse."""
    return delivery_map(config).deliver(config.synapse_weight, gain_factor)


def _population_size(config: ChipConfig, name: str) -> int:
    if name in config.neuron_circuits:
        return int(config.neuron_circuits[name].shape[0])
    return int(config.input_sizes[name])
