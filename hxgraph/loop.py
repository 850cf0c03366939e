"""Running a graph on the emulated chip, and training with the chip in the loop.

This is the one module that composes the two back ends: `hxgraph.chip` (placement,
routing, emulator) and `hxgraph.mock` (the differentiable model). `hx.emulate(graph)`
returns a network that is called like the mock and returns the same `Run` type, its
values coming from the emulator and mapped back to the user's grid and model units.
`hx.in_the_loop(graph)` returns a module whose forward values are the emulator's and
whose gradients are the mock's (hxtorch's "Unterjubel" trick), so the same training loop
trains on the chip.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping, Optional, Union

import torch
from torch import nn

from hxgraph import kernels
from hxgraph.chip.analog import AnalogModel
from hxgraph.chip.emulator import (Emulator, Recording, check_emulator_options, check_input_names, check_run_memory,
                                   check_seed)
from hxgraph.chip.mapping import ChipMapping, place_and_route
from hxgraph.chip.partitioning import Instance, Partition, slice_value
from hxgraph.chip.partitioning import partition as partition_graph
from hxgraph.chip.placement import NeuronPlacement, check_strategy
from hxgraph.chip.routing import check_routing
from hxgraph.chip.spec import HICANN_X, ChipSpec
from hxgraph.errors import MappingError, ParameterError
from hxgraph.graph import Graph, model_value
from hxgraph.mock.hardware_aware import HardwareAware
from hxgraph.mock.network import MockNetwork, check_device
from hxgraph.observables import Observables, Run


class EmulatedNetwork:
    """A graph mapped onto an emulated chip; call it with `{input: spikes (T, B, N)}` for a `Run`.

    The mapping follows the graph: when weights change (e.g. after a training step) the
    chip configuration is updated without placing and routing again; a changed topology
    is placed and routed anew. Membranes are read (CADC) for populations that record
    "membrane"; spikes always. Membranes are mapped back to model units per population as
    `model_leak + (cadc - chip_leak) * trace_scale` (defaults: the population's chip leak and
    the calibration's trace scale, `analog.calibration`); `trace_offset` / `trace_scale` dicts
    override them per population (and the consistency check compares in those units).
    """

    def __init__(self, graph: Graph, chip: Optional[ChipSpec] = None, *, analog: Optional[AnalogModel] = None,
                 seed: int = 0, placement: Any = "balanced", routing: str = "shared",
                 trace_offset: Optional[Mapping[str, float]] = None, trace_scale: Optional[Mapping[str, float]] = None,
                 previous: Optional[ChipMapping] = None, **emulator_options: Any):
        emulator_options = check_run_options(graph, chip, seed=seed, analog=analog, placement=placement,
                                             routing=routing, trace_offset=trace_offset, trace_scale=trace_scale,
                                             options=emulator_options)
        self.graph = graph
        self.analog = AnalogModel() if analog is None else analog
        self.seed = seed
        self.emulator_options = emulator_options
        self._placement, self._routing = placement, routing
        self.trace_offset = dict(trace_offset or {})
        self.trace_scale = dict(trace_scale or {})
        # `previous`: a mapping of this graph made with the same options (e.g. by hx.partition), reused.
        self.mapping: ChipMapping = place_and_route(graph, chip, placement=placement, routing=routing,
                                                    previous=previous, calibration=self.analog.calibration,
                                                    trace_scale=self.trace_scale)
        self.emulator = Emulator(self.mapping.config, self.analog, self.seed, graph.dt, **emulator_options)
        self._weights_seen = weights_snapshot(graph)
        self.last_recording: Optional[Recording] = None

    def sync(self) -> None:
        """Bring the chip configuration up to date with the graph's current weights."""
        if (self.mapping.structure_hash == self.graph.structure_hash()
                and same_weights(self._weights_seen, self.graph)):
            return
        self.mapping = place_and_route(self.graph, self.mapping.spec, placement=self._placement,
                                       routing=self._routing, previous=self.mapping,
                                       calibration=self.analog.calibration, trace_scale=self.trace_scale)
        self.emulator.reconfigure(self.mapping.config)
        self._weights_seen = weights_snapshot(self.graph)

    def __call__(self, inputs: Mapping[str, torch.Tensor]) -> Run:
        self.sync()
        read = [name for name in self.mapping.config.populations if "membrane" in self.graph.population(name).record]
        self._check_memory(inputs, read)
        recording = self.emulator.run(inputs, cadc=read)
        self.last_recording = recording
        return self.observables(recording, inputs)

    def _check_memory(self, inputs: Any, read: list[str]) -> None:
        """Refuse a run whose recording and `Run` would not fit in memory, before the emulator starts.

        (Malformed inputs are left to the emulator, which names what is wrong with them.)
        """
        shapes = [tuple(v.shape[:2]) for v in inputs.values() if isinstance(v, torch.Tensor) and v.dim() == 3] \
            if isinstance(inputs, Mapping) else []
        if not shapes:
            return
        steps, batch = shapes[0]
        if steps < 1 or batch < 1:
            return
        self.emulator.cadc_samples(steps)  # more samples than the chip stores: that error comes first

        def needed(s: int, b: int) -> dict[str, float]:
            return {**self.emulator.memory_needed(s, b, read), "traces on the grid": self._grid_bytes(s, b, read)}

        check_run_memory(needed, steps, batch, f"hx.emulate of graph {self.graph.name!r}")

    def _grid_bytes(self, steps: int, batch: int, read: list[str]) -> float:
        """Bytes of the `Run` on the user's grid: float32 spike counts of every spiking population, and for
        every membrane read its interpolation (about 8 float32 temporaries per value and 7 float64 or int64
        index arrays per sample time and entry)."""
        spiking = sum(p.size for p in self.graph.populations.values() if not p.is_input and p.neuron_model.spiking)
        membranes = sum(self.graph.population(name).size for name in read)
        return 4.0 * steps * batch * (spiking + 8 * membranes) + 56.0 * steps * batch * len(read)

    def observables(self, recording: Recording, inputs: Mapping[str, torch.Tensor]) -> Run:
        """Map a recording to the user's grid and model units (same layout as the mock's `Run`)."""
        out: dict[str, Observables] = {}
        grid = torch.arange(recording.steps, dtype=torch.float64) * recording.dt
        for name, pop in self.graph.populations.items():
            if pop.is_input:
                out[name] = Observables(spikes=inputs[name].detach().float())
                continue
            spikes = grid_spikes(recording, name, pop.size) if pop.neuron_model.spiking else None
            membrane = None
            if name in recording.cadc:
                codes = interpolate_samples(recording.cadc_times, recording.cadc[name].float(), grid)
                offset = self.trace_offset.get(name, self.analog.calibration.chip_values(pop)["leak"].float())
                scale = self.trace_scale.get(name, self.analog.trace_scale)
                membrane = _scalar(model_value(pop.params["leak"]), pop.size) + (codes - offset) * scale
            out[name] = Observables(spikes=spikes, membrane=membrane)
        return Run(out, recording.dt)


# ---------------------------------------------------------------------- option checks
# hx.emulate's own keywords (the emulator's options come on top), for suggestions.
EMULATE_KEYWORDS = ("chip", "seed", "analog", "placement", "routing", "trace_offset", "trace_scale")
_NOT_FOR_EMULATE = {"device": " (hx.emulate runs on the CPU; device= is an option of hx.in_the_loop and hx.mock)"}


def check_run_options(graph: Graph, chip: Any, *, seed: Any, analog: Any, placement: Any, routing: Any,
                      trace_offset: Any, trace_scale: Any, options: Mapping[str, Any], who: str = "hx.emulate",
                      others: tuple[str, ...] = ()) -> dict[str, Any]:
    """Check every option of `hx.emulate` / `hx.in_the_loop` by name and value; returns the emulator's options.

    Only types, ranges and names, so a mistake is a `ParameterError` (or `UnknownNameError`
    for a population, placement or routing name) that names the option before any placement
    or routing work is done (and before `hx.in_the_loop` moves weights to a device).
    """
    if not isinstance(graph, Graph):
        raise ParameterError(f"{who} expects an hxgraph.Graph (e.g. experiment.graph); got {type(graph).__name__}")
    if chip is not None and not isinstance(chip, ChipSpec):
        raise ParameterError(f"{who}: chip must be a hxgraph.chip.ChipSpec (or None for HICANN-X); got {chip!r}")
    check_seed(seed)
    if analog is not None and not isinstance(analog, AnalogModel):
        raise ParameterError(f"{who}: analog must be an hxgraph.chip.AnalogModel or None; got {analog!r}")
    if not isinstance(placement, NeuronPlacement):
        check_strategy(placement)
    check_routing(routing)
    _check_trace_values(graph, trace_offset, "trace_offset", positive=False)
    _check_trace_values(graph, trace_scale, "trace_scale", positive=True)
    return check_emulator_options(options, who, others=EMULATE_KEYWORDS + others, note=_NOT_FOR_EMULATE)


def _check_trace_values(graph: Graph, values: Any, what: str, positive: bool) -> None:
    """`values`: None or {on-chip population: finite number or per-neuron tensor}; > 0 where `positive`."""
    if values is None:
        return
    if not isinstance(values, Mapping):
        raise ParameterError(f"{what} must be a dict {{population: number or per-neuron tensor}}; got {values!r}")
    bound = " > 0" if positive else ""
    for name, value in values.items():
        pop = graph.population(name)  # an unknown name fails here, with a suggestion
        if pop.is_input:
            raise ParameterError(f"{what}[{name!r}]: {name!r} is an input population; it has no membrane to read")
        if isinstance(value, torch.Tensor):
            ok = (value.dim() <= 1 and value.numel() in (1, pop.size) and not value.dtype.is_complex
                  and value.dtype != torch.bool and bool(torch.isfinite(value).all())
                  and (not positive or bool((value > 0).all())))
        else:
            ok = (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
                  and (not positive or value > 0))
        if not ok:
            raise ParameterError(f"{what}[{name!r}] must be a finite number{bound} or a tensor of {pop.size} such "
                                 f"values (one per neuron); got {value!r}")


def _scalar(value: Any, size: int) -> torch.Tensor:
    return value.float() if isinstance(value, torch.Tensor) else torch.full((size,), float(value))


def weights_snapshot(graph: Graph) -> dict[str, torch.Tensor]:
    """Copies of the graph's weights, to notice any later change (also edits through `.data`)."""
    return {name: p.weight.detach().clone() for name, p in graph.projections.items()}


def same_weights(snapshot: Mapping[str, torch.Tensor], graph: Graph) -> bool:
    return snapshot.keys() == graph.projections.keys() and all(
        torch.equal(snapshot[name], p.weight.detach()) for name, p in graph.projections.items())


def grid_spikes(recording: Recording, name: str, size: int) -> torch.Tensor:
    """Spike events (batch, neuron, clock tick) of one population → counts (T, B, N) on the user's grid.

    An event belongs to the first grid step at or after its time: the step in which the
    membrane crossed the threshold.
    """
    batch = recording.cadc_times.shape[0]
    events = recording.spikes[name]
    if kernels.available():  # (compiled: one pass, the same counts)
        return kernels.grid_spikes(events, recording.steps, batch, size, recording.clock_period, recording.dt)
    spikes = torch.zeros(recording.steps, batch, size)
    step = torch.ceil(events[:, 2].double() * recording.clock_period / recording.dt - 1e-6).long()
    keep = step < recording.steps
    spikes.index_put_((step[keep], events[keep, 0], events[keep, 1]), torch.ones(int(keep.sum())), accumulate=True)
    return spikes


def interpolate_samples(times: torch.Tensor, values: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of samples (B, S, N) taken at `times` (B, S) onto `grid` (T,) → (T, B, N).

    Grid points before the first or after the last sample take the nearest sample.
    """
    B, S, N = values.shape
    if (kernels.enabled(values) and values.dtype == torch.float32 and times.dtype == grid.dtype == torch.float64
            and times.device.type == grid.device.type == "cpu"):  # (compiled: one pass, the same bits)
        return kernels.interpolate_samples(times, values, grid)
    query = grid.expand(B, -1).contiguous()
    right = torch.searchsorted(times.contiguous(), query).clamp(1, S - 1) if S > 1 else torch.zeros_like(query, dtype=torch.long)
    left = (right - 1).clamp(min=0)
    t0, t1 = times.gather(1, left), times.gather(1, right)
    span = (t1 - t0).clamp(min=1e-15)
    w = ((query - t0) / span).clamp(0, 1).float()[..., None]
    index = lambda i: values.gather(1, i[..., None].expand(-1, -1, N))  # noqa: E731
    out = index(left) * (1 - w) + index(right) * w
    return out.permute(1, 0, 2).contiguous()


def hardware_aware(analog: Optional[AnalogModel] = None, *, noise: bool = True, noise_scale: float = 1.0,
                   quantize: bool = True) -> HardwareAware:
    """Hardware-aware training settings for the mock, drawn from an emulated chip's analog model.

    Weights go on the grid of `analog.calibration` (default `AnalogModel()`); with `noise`, every
    training pass sees a chip drawn with the analog model's imperfections times `noise_scale`:
    leak/threshold/reset offsets and readout noise converted from CADC units to model units
    through the trace scale, time-constant and synapse-gain mismatch as relative spreads.
    Use it as `hx.mock(graph, hardware_aware=hx.hardware_aware())`.
    """
    analog = AnalogModel() if analog is None else analog
    if not isinstance(analog, AnalogModel):
        raise ParameterError(f"hardware_aware needs an hxgraph.chip.AnalogModel or None; got {analog!r}")
    if isinstance(noise_scale, bool) or not isinstance(noise_scale, (int, float)) or not noise_scale >= 0:
        raise ParameterError(f"hardware_aware: noise_scale must be a number >= 0; got {noise_scale!r}")
    k = noise_scale if noise else 0.0
    ts = analog.trace_scale
    return HardwareAware(weight_scale=analog.weight_scale, quantize=quantize, leak_noise=k * analog.leak_offset * ts,
                         threshold_noise=k * analog.threshold_offset * ts, reset_noise=k * analog.reset_offset * ts,
                         tau_noise=k * analog.tau_mismatch, gain_noise=k * analog.synapse_gain_mismatch,
                         readout_noise=k * analog.readout_noise * ts)


def emulate(graph: Union[Graph, Partition], chip: Optional[ChipSpec] = None, *, seed: int = 0,
            analog: Optional[AnalogModel] = None, partition: Union[None, str, Partition] = None,
            **options: Any) -> Union[EmulatedNetwork, "PartitionedNetwork"]:
    """Map `graph` onto an emulated chip; the result is called like the mock (see `EmulatedNetwork`).

    A graph larger than one chip runs on several: `partition=hx.partition(graph)` (or "auto", or
    a `Partition` given in place of the graph) runs its execution instances in order (see
    `PartitionedNetwork`); the `Run` has the same layout as for one chip.
    """
    graph, partition = _graph_and_partition(graph, partition, "hx.emulate")
    if partition is not None:
        return PartitionedNetwork(graph, partition, chip, analog=analog, seed=seed, **options)
    return EmulatedNetwork(graph, chip, analog=analog, seed=seed, **options)


def _graph_and_partition(graph: Any, partition: Any, who: str) -> tuple[Any, Any]:
    """Accept a `Partition` in place of the graph (it knows its graph), or `partition=` beside it."""
    if isinstance(graph, Partition):
        if partition is not None:
            raise ParameterError(f"{who}: give the partition once, either in place of the graph or as partition=")
        if graph.graph is None:
            raise ParameterError(f"{who}: this partition is not bound to a graph (it was read from a file); pass "
                                 f"the graph and partition=partition, or call partition.bind(graph) first")
        return graph.graph, graph
    if partition is not None and not isinstance(partition, Partition) and partition != "auto":
        raise ParameterError(f"{who}: partition must be a hxgraph Partition (from hx.partition), 'auto' or None; "
                             f"got {partition!r}")
    return graph, partition


class PartitionedNetwork:
    """A graph split into execution instances (`hx.partition`), each run on an emulated chip in order.

    Called like `EmulatedNetwork` with `{input: spikes (T, B, N)}`; returns one `Run` in the
    graph's layout (slices of a population joined back along the neuron axis). An instance's
    inputs are the graph's input spikes and the recorded spikes of the slices earlier instances
    ran, replayed on the same time grid, so on the ideal chip the run equals the mock's.

    `shared_chip=False` (default) runs instance i on chip `seed + i` (several fabricated chips);
    `shared_chip=True` runs every instance on chip `seed`, reconfigured between runs (one chip,
    time-multiplexed). The other options are `hx.emulate`'s, applied to every instance;
    `trace_offset` / `trace_scale` per population are sliced with it. The chip's per-run MADC
    recording (`madc=`) is not supported across instances.

    `engine`: where instances that do not depend on each other run side by side, e.g. an
    engine from `hxgraph.distributed.connect()` (worker processes of a Dask cluster); None runs
    them one after the other here. Either way the results are the same.
    """

    def __init__(self, graph: Graph, partition: Union[str, Partition] = "auto", chip: Optional[ChipSpec] = None, *,
                 analog: Optional[AnalogModel] = None, seed: int = 0, shared_chip: bool = False,
                 placement: str = "balanced", routing: str = "shared",
                 trace_offset: Optional[Mapping[str, Any]] = None, trace_scale: Optional[Mapping[str, Any]] = None,
                 engine: Any = None, **emulator_options: Any):
        emulator_options = check_run_options(graph, chip, seed=seed, analog=analog, placement=placement,
                                             routing=routing, trace_offset=trace_offset, trace_scale=trace_scale,
                                             options=emulator_options, others=("partition", "shared_chip", "engine"))
        if engine is not None and not callable(getattr(engine, "map", None)):
            raise ParameterError(f"engine must have a map(fn, items) method (e.g. from hxgraph.distributed.connect()) "
                                 f"or be None; got {engine!r}")
        self.engine = engine
        if isinstance(placement, NeuronPlacement):
            raise ParameterError("a partitioned graph takes a placement strategy ('balanced', 'first_fit'); a "
                                 "NeuronPlacement describes one chip")
        if not isinstance(shared_chip, bool):
            raise ParameterError(f"shared_chip must be True or False; got {shared_chip!r}")
        if emulator_options.get("madc"):
            raise MappingError("madc= records one chip's run; with a partitioned graph record membranes through the "
                               "CADC (record='membrane') instead, or emulate the instance's graph "
                               "(partition.graphs[i]) alone")
        self.graph = graph
        self.analog = AnalogModel() if analog is None else analog
        self.seed = seed
        spec = HICANN_X if chip is None else chip
        if partition == "auto":
            partition = partition_graph(graph, spec, placement=placement, routing=routing,
                                        calibration=self.analog.calibration)
        self.partition = _bound(partition, graph, spec)
        self.networks: list[EmulatedNetwork] = []
        for inst, sub, mapping in zip(self.partition.instances, self.partition.graphs, self.partition.mappings):
            self.networks.append(EmulatedNetwork(
                sub, spec, analog=self.analog, seed=seed if shared_chip else seed + inst.index, placement=placement,
                routing=routing, trace_offset=_sliced(trace_offset, graph, inst), previous=mapping,
                trace_scale=_sliced(trace_scale, graph, inst), **emulator_options))
        self.last_recordings: list[Recording] = []

    @property
    def mappings(self) -> list[ChipMapping]:
        """The chip mapping of every instance."""
        return [net.mapping for net in self.networks]

    def sync(self) -> None:
        """Bring every instance's configuration up to date with the graph's current weights."""
        if self.graph.structure_hash() != self.partition.structure_hash:
            raise MappingError(f"the structure of graph {self.graph.name!r} changed since it was partitioned "
                               "(populations, sizes or connectivity); partition it again with hx.partition(graph)")
        self.partition.refresh_weights()
        for net in self.networks:
            net.sync()

    def __call__(self, inputs: Mapping[str, torch.Tensor]) -> Run:
        self._check_inputs(inputs)
        self.sync()
        produced: dict[str, torch.Tensor] = {}  # spikes of every slice run so far, by its name
        runs: list[Optional[Run]] = [None] * len(self.networks)
        for level in self.partition.levels():  # a level's instances depend only on earlier levels
            jobs = [(self.networks[i], {name: (inputs[name] if name in inputs else produced[name])
                                        for name in self.partition.instances[i].inputs}) for i in level]
            if self.engine is None or len(jobs) == 1:
                done = [_run_instance(job) for job in jobs]
            else:
                done = self.engine.map(_run_instance, jobs, desc="instances", progress=False)
                for i, (_, recording) in zip(level, done):  # the run happened on a copy of the chip
                    self.networks[i].emulator.advance_runs()
                    self.networks[i].last_recording = recording
            for i, (run, _) in zip(level, done):
                for s in self.partition.instances[i].slices:  # on its chip under its population's name
                    if run[s.population].spikes is not None:
                        produced[s.name] = run[s.population].spikes
                runs[i] = run
        self.last_recordings = [net.last_recording for net in self.networks]
        return self._joined(inputs, runs)

    def _check_inputs(self, inputs: Any) -> None:
        """The graph's input names (each instance's emulator checks the values)."""
        check_input_names(inputs, [p.name for p in self.graph.inputs], f"graph {self.graph.name!r}",
                          "the partitioned network")

    def _joined(self, inputs: Mapping[str, torch.Tensor], runs: list[Run]) -> Run:
        out: dict[str, Observables] = {}
        for name, pop in self.graph.populations.items():
            if pop.is_input:
                out[name] = Observables(spikes=inputs[name].detach().float())
                continue
            parts = [tuple(runs[i][name]) for i, _ in self.partition.slices_of(name)]  # (spikes, membrane, current)
            out[name] = Observables(*(None if parts[0][k] is None else torch.cat([p[k] for p in parts], dim=2)
                                      for k in range(3)))
        return Run(out, self.graph.dt)

    def __repr__(self) -> str:
        return f"<PartitionedNetwork {self.graph.name!r} on {len(self.networks)} execution instances>"


def _run_instance(job: tuple[EmulatedNetwork, Mapping[str, torch.Tensor]]) -> tuple[Run, Recording]:
    """One instance's run: here, or on a worker (then on a copy of the network, returned with its recording)."""
    net, feed = job
    run = net(feed)
    return run, net.last_recording


def _bound(partition: Any, graph: Graph, spec: ChipSpec) -> Partition:
    """`partition` bound to `graph` (a copy when it belongs to another graph object of the same structure)."""
    if not isinstance(partition, Partition):
        raise ParameterError(f"partition must be a hxgraph Partition (from hx.partition) or 'auto'; got {partition!r}")
    if partition.chip != spec.name:
        raise MappingError(f"this partition was made for chip {partition.chip!r}, not {spec.name!r}; partition the "
                           f"graph for this chip with hx.partition(graph, chip)")
    if partition.graph is graph:
        return partition
    if partition.graph is None:
        return partition.bind(graph, spec)
    return Partition.from_dict(partition.to_dict(), graph)


def _sliced(values: Optional[Mapping[str, Any]], graph: Graph, inst: Instance) -> Optional[dict[str, Any]]:
    """Per-population trace values for the slices of one instance (per-neuron tensors sliced)."""
    if not values:
        return None
    return {s.population: slice_value(values[s.population], graph.population(s.population).size, s)
            for s in inst.slices if s.population in values}


class InTheLoop(nn.Module):
    """Forward values (spikes, membranes) from the emulated chip, gradients from the mock model.

    Every population's measured spikes and membrane replace the model's in the forward pass
    (`model + (measured - model).detach()`), so later populations integrate the measured
    spikes, while backward follows the model. Its parameters are the mock's (the graph's
    weights); the chip configuration follows them after every optimizer step.

    With `gradient="eventprop"` the model is the event-exact one (`hxgraph.mock.eventprop`):
    its exact gradients are taken at the model's own spike times, and the measured values
    replace each population's outputs only (later populations integrate the model's spikes,
    whose exact times the chip does not report).

    `partition=` (a `Partition` from `hx.partition`, or "auto") runs a graph larger than one
    chip on its execution instances (`PartitionedNetwork`); training works the same way.
    """

    def __init__(self, graph: Union[Graph, Partition], chip: Optional[ChipSpec] = None, *, seed: int = 0,
                 analog: Optional[AnalogModel] = None, device: Union[str, torch.device, None] = None,
                 gradient: str = "surrogate", partition: Union[None, str, Partition] = None, **options: Any):
        super().__init__()
        graph, partition = _graph_and_partition(graph, partition, "hx.in_the_loop")
        # All options first: the mock moves the graph's weights to `device` when it is built.
        device = check_device(device, "hx.in_the_loop")
        named = {k: options.pop(k) for k in ("placement", "routing", "trace_offset", "trace_scale") if k in options}
        across = {"shared_chip": options.pop("shared_chip")} if partition is not None and "shared_chip" in options else {}
        check_run_options(graph, chip, seed=seed, analog=analog, placement=named.get("placement", "balanced"),
                          routing=named.get("routing", "shared"), trace_offset=named.get("trace_offset"),
                          trace_scale=named.get("trace_scale"), options=options, who="hx.in_the_loop",
                          others=("device", "gradient", "partition"))
        self.mock = MockNetwork(graph, device=device, gradient=gradient)
        self.chip: Union[EmulatedNetwork, PartitionedNetwork] = (
            EmulatedNetwork(graph, chip, analog=analog, seed=seed, **named, **options) if partition is None else
            PartitionedNetwork(graph, partition, chip, analog=analog, seed=seed, **named, **across, **options))

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> Run:
        inputs = self.mock._checked_inputs(inputs)  # the mock's checks first: they name what is wrong
        measured = self.chip({k: v.detach().cpu() for k, v in inputs.items()})
        device = self.mock.device
        measured = Run({name: Observables(*(None if t is None else t.to(device) for t in obs))
                        for name, obs in measured.items()}, measured.dt)
        return self.mock(inputs, measured=measured)


def in_the_loop(graph: Graph, chip: Optional[ChipSpec] = None, **options: Any) -> InTheLoop:
    """Train on the emulated chip: see `InTheLoop`."""
    return InTheLoop(graph, chip, **options)
