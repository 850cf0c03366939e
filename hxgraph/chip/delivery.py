"""Where every event goes: the event path of a `ChipConfig`, evaluated once per configuration.

This is the emulator's model of the chip's routing hardware (CHIP.md §2). For every event
source — a route of an input neuron, or an on-chip neuron — it follows crossbar → event bus
→ synapse drivers (row-select compare under the driver mask) → both rows of each accepting
driver → synapses whose label equals the event's synapse label, and sums what arrives at
each neuron as excitatory and inhibitory weight. Nothing here knows the graph's
projections: a wrong configuration delivers wrong inputs, as on the chip.
"""

from __future__ import annotations

from typing import Mapping, Optional

import attrs
import torch

from hxgraph.chip.config import ROW_EXCITATORY, ROW_INHIBITORY, ChipConfig


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


def compile_delivery(config: ChipConfig, gain_factor: Optional[torch.Tensor] = None) -> Delivery:
    """Evaluate the event path of `config` for every source; `gain_factor` scales each synapse."""
    spec = config.spec
    blocks, crossbar_input, label = _sources(config)
    rows = active_rows(config, crossbar_input, label).float()  # (S, H, R)
    synapse_label = label & (spec.labels - 1)
    S = label.numel()
    weight = config.synapse_weight.float()
    if gain_factor is not None:
        weight = weight * gain_factor
    circuit_exc = torch.zeros(S, spec.hemispheres, spec.columns)
    circuit_inh = torch.zeros(S, spec.hemispheres, spec.columns)
    for h in range(spec.hemispheres):
        exc_rows = (config.row_mode[h] == ROW_EXCITATORY).float()[:, None]
        inh_rows = (config.row_mode[h] == ROW_INHIBITORY).float()[:, None]
        for value in torch.unique(synapse_label).tolist():
            chosen = synapse_label == value
            matching = weight[h] * (config.synapse_label[h] == value)  # (R, C): synapses listening to it
            circuit_exc[chosen, h] = rows[chosen, h] @ (matching * exc_rows)
            circuit_inh[chosen, h] = rows[chosen, h] @ (matching * inh_rows)
    circuit_exc = circuit_exc.reshape(S, spec.circuits)
    circuit_inh = circuit_inh.reshape(S, spec.circuits)

    excitatory: dict[tuple[str, str], torch.Tensor] = {}
    inhibitory: dict[tuple[str, str], torch.Tensor] = {}
    start = 0
    for source, neuron in blocks:
        stop = start + neuron.numel()
        size = _population_size(config, source)
        for target in config.populations:
            circuits = config.neuron_circuits[target]  # (N_T, circuits per neuron): inputs of all add up
            for store, per_circuit in ((excitatory, circuit_exc), (inhibitory, circuit_inh)):
                per_neuron = per_circuit[start:stop][:, circuits].sum(-1)  # (routes, N_T)
                if not bool(per_neuron.any()):
                    continue
                block = torch.zeros(size, circuits.shape[0])
                block.index_add_(0, neuron, per_neuron)  # several routes of one input neuron add up
                store[(source, target)] = block.T.contiguous()
        start = stop
    return Delivery(excitatory, inhibitory)


def _population_size(config: ChipConfig, name: str) -> int:
    if name in config.neuron_circuits:
        return int(config.neuron_circuits[name].shape[0])
    return int(config.input_sizes[name])
