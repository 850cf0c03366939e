"""An independent check of a routed `ChipConfig` (a test utility, not the router).

It re-derives the event path of CHIP.md §2 from the configuration alone — source circuit or
input route → crossbar node → bus → driver mask compare → the driver's rows → synapses whose
label matches — and compares, for every (source neuron, target neuron) pair of the graph, the
excitatory and inhibitory weight that arrives with the intended hardware weight
`round(transform(w))`. Any weight arriving where the graph has no connection is an error.
Synapses of weight 0 contribute nothing, so a zero-weight connection may have a synapse of
weight 0 or none.

It also checks that the configuration is physically possible: value ranges, crossbar nodes
of neuron outputs only towards their own bus, distinct circuits, merged circuits connected
and within one quadrant range.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from hxgraph.chip import Calibration
from hxgraph.graph import Dense, Graph, LinearSaturating


class RoutingCheckError(AssertionError):
    pass


def _hardware(proj, calibration) -> np.ndarray:
    """round(transform(w)); a transform with an open scale uses 1 / (gain · trace scale) of the calibration."""
    transform = proj.transform
    if isinstance(transform, LinearSaturating) and transform.scale is None:
        scale = 1.0 / (calibration.synapse_gain * calibration.trace_scale)
        hw = torch.clamp(scale * proj.weight.detach(), transform.min_weight, transform.max_weight)
    else:
        hw = transform(proj.weight.detach())
    return torch.round(hw.to(torch.float64)).to(torch.int64).numpy()


def _expected(graph: Graph, calibration) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(source pop, target pop) -> (exc, inh) total hardware weight, arrays of shape (target, source)."""
    out: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for proj in graph.projections.values():
        hw = _hardware(proj, calibration)
        shape = proj.shape
        key = (proj.source, proj.target)
        exc, inh = out.get(key, (np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)))
        # Two projections between the same populations add up, each with its own sign split.
        if isinstance(proj.connectivity, Dense):
            exc = exc + np.maximum(hw, 0)
            inh = inh + np.maximum(-hw, 0)
        else:
            t, s = proj.connectivity.indices.numpy()
            exc = exc.copy()
            inh = inh.copy()
            np.add.at(exc, (t, s), np.maximum(hw, 0))
            np.add.at(inh, (t, s), np.maximum(-hw, 0))
        out[key] = (exc, inh)
    return out


def _check_physical(graph: Graph, config) -> None:
    spec = config.spec
    H, R, C = spec.hemispheres, spec.synapse_rows, spec.columns
    D = spec.drivers_per_hemisphere
    assert tuple(config.synapse_weight.shape) == (H, R, C) and config.synapse_weight.dtype == torch.uint8
    assert tuple(config.synapse_label.shape) == (H, R, C) and config.synapse_label.dtype == torch.uint8
    assert int(config.synapse_weight.max()) <= spec.max_weight, "synapse weight above the 6-bit range"
    assert int(config.synapse_label.max()) < spec.labels, "synapse label above the 6-bit range"
    assert tuple(config.row_mode.shape) == (H, R) and set(config.row_mode.unique().tolist()) <= {0, 1, 2}
    assert tuple(config.driver_enable.shape) == (H, D) and tuple(config.driver_mask.shape) == (H, D)
    assert int(config.driver_mask.max()) < 2 ** spec.row_select_bits
    n_in, n_out = spec.crossbar_inputs, spec.crossbar_outputs
    assert tuple(config.crossbar_enable.shape) == (n_in, n_out)
    # A neuron event output reaches only bus (output % buses) of each hemisphere (and recording).
    for o in range(spec.event_outputs):
        for out in torch.nonzero(config.crossbar_enable[o]).reshape(-1).tolist():
            if out < spec.buses:
                assert out % spec.buses_per_hemisphere == o % spec.buses_per_hemisphere, \
                    f"crossbar node from neuron output {o} to bus {out} does not exist on the chip"
    # Background generators are not used by routing.
    assert not config.crossbar_enable[spec.event_outputs + spec.external_links:].any()
    # Circuits: every on-chip neuron has its circuits, none shared, merged ones connected.
    seen: dict[int, tuple[str, int]] = {}
    for pop in graph.populations.values():
        if pop.is_input:
            assert config.input_sizes[pop.name] == pop.size, f"input size of {pop.name!r}"
            assert pop.name in config.input_routes, f"input {pop.name!r} has no route table"
            routes = config.input_routes[pop.name]
            if routes.numel():
                assert int(routes[:, 0].min()) >= 0 and int(routes[:, 0].max()) < pop.size
                assert int(routes[:, 1].min()) >= 0 and int(routes[:, 1].max()) < spec.external_links
            continue
        circuits = config.neuron_circuits[pop.name]
        assert tuple(circuits.shape) == (pop.size, pop.circuits_per_neuron), f"circuits of {pop.name!r}"
        for i, row in enumerate(circuits.tolist()):
            for c in row:
                assert 0 <= c < spec.circuits, f"{pop.name!r} neuron {i}: circuit {c} does not exist"
                assert c not in seen, f"circuit {c} used by {seen.get(c)} and ({pop.name!r}, {i})"
                seen[c] = (pop.name, i)
                assert config.populations[int(config.circuit_population[c])] == pop.name
                assert int(config.circuit_neuron[c]) == i
            if len(row) > 1:
                cells = {(c // C, c % C) for c in row}
                assert len({col // spec.quadrant_columns for _, col in cells}) == 1, \
                    f"{pop.name!r} neuron {i} crosses a quadrant boundary: {row}"
                todo, reach = [next(iter(cells))], set()
                while todo:
                    cell = todo.pop()
                    if cell in reach:
                        continue
                    reach.add(cell)
                    h, col = cell
                    todo += [nb for nb in ((h, col - 1), (h, col + 1), (1 - h, col)) if nb in cells]
                assert reach == cells, f"{pop.name!r} neuron {i}: circuits {row} are not connected"
    unused = [c for c in range(spec.circuits) if c not in seen]
    assert all(int(config.circuit_population[c]) == -1 for c in unused)


def _deliver(config, crossbar_input: int, label: int) -> tuple[np.ndarray, np.ndarray]:
    """Per circuit, the excitatory and inhibitory weight one event (input, label) delivers."""
    spec = config.spec
    H, C, B = spec.hemispheres, spec.columns, spec.buses_per_hemisphere
    exc = np.zeros(spec.circuits, dtype=np.int64)
    inh = np.zeros(spec.circuits, dtype=np.int64)
    row_select = (label >> spec.label_bits) & (2 ** spec.row_select_bits - 1)
    syn_label = label & (spec.labels - 1)
    enable = config.crossbar_enable[crossbar_input].numpy()
    mask = config.crossbar_mask[crossbar_input].numpy()
    target = config.crossbar_target[crossbar_input].numpy()
    for out in range(spec.buses):
        if not enable[out] or (label & int(mask[out])) != int(target[out]):
            continue
        h, bus = divmod(out, B)
        drivers = np.arange(bus, spec.drivers_per_hemisphere, B)
        m = config.driver_mask[h].numpy().astype(np.int64)[drivers]
        accept = config.driver_enable[h].numpy()[drivers] & ((row_select & m) == ((drivers // B) & m))
        rows = (drivers[accept][:, None] * spec.rows_per_driver + np.arange(spec.rows_per_driver)[None]).reshape(-1)
        if rows.size == 0:
            continue
        mode = config.row_mode[h].numpy()[rows]
        w = config.synapse_weight[h].numpy()[rows].astype(np.int64)
        hit = config.synapse_label[h].numpy()[rows] == syn_label
        contrib = np.where(hit, w, 0)
        exc[h * C:(h + 1) * C] += contrib[mode == 1].sum(0)
        inh[h * C:(h + 1) * C] += contrib[mode == 2].sum(0)
    return exc, inh


def check_mapping(graph: Graph, config, calibration=None) -> None:
    """Raise `RoutingCheckError` unless every connection of `graph` arrives exactly as intended.

    `calibration` (default `Calibration()`) gives transforms that leave their scale open theirs.
    """
    try:
        _check_physical(graph, config)
    except AssertionError as exc:
        raise RoutingCheckError(f"configuration is not physical: {exc}") from None
    spec = config.spec
    expected = _expected(graph, Calibration() if calibration is None else calibration)
    owner_pop = config.circuit_population.numpy()
    owner_neuron = config.circuit_neuron.numpy()
    targets = [p for p in graph.populations.values() if not p.is_input]
    problems: list[str] = []
    for src in graph.populations.values():
        if not src.neuron_model.spiking:
            continue
        events: dict[int, list[tuple[int, int]]] = defaultdict(list)
        if src.is_input:
            for neuron, link, label in config.input_routes[src.name].tolist():
                events[neuron].append((spec.event_outputs + link, label))
        else:
            emit = config.neuron_circuits[src.name][:, 0].tolist()
            labels = config.neuron_label[src.name].tolist()
            for neuron in range(src.size):
                events[neuron].append(((emit[neuron] % spec.columns) // spec.columns_per_event_output,
                                       labels[neuron]))
        got = {t.name: (np.zeros((t.size, src.size), dtype=np.int64), np.zeros((t.size, src.size), dtype=np.int64))
               for t in targets}
        for neuron, evs in events.items():
            for crossbar_input, label in evs:
                exc, inh = _deliver(config, crossbar_input, label)
                for sign, arr in ((0, exc), (1, inh)):
                    hit = np.flatnonzero(arr)
                    if hit.size and (owner_pop[hit] < 0).any():
                        problems.append(f"{src.name}[{neuron}] reaches unused circuits {hit[owner_pop[hit] < 0][:5]}")
                    for c in hit[owner_pop[hit] >= 0]:
                        name = config.populations[owner_pop[c]]
                        got[name][sign][owner_neuron[c], neuron] += arr[c]
        for t in targets:
            want = expected.get((src.name, t.name))
            for sign, what in ((0, "excitatory"), (1, "inhibitory")):
                w = want[sign] if want is not None else np.zeros((t.size, src.size), dtype=np.int64)
                bad = np.argwhere(got[t.name][sign] != w)
                for ti, si in bad[:5].tolist():
                    problems.append(f"{src.name}[{si}] -> {t.name}[{ti}]: {what} weight {got[t.name][sign][ti, si]}, "
                                    f"expected {w[ti, si]}")
                if len(bad) > 5:
                    problems.append(f"... {len(bad) - 5} more {what} mismatches {src.name} -> {t.name}")
    if problems:
        raise RoutingCheckError("routing check failed:\n  " + "\n  ".join(problems[:40]))
