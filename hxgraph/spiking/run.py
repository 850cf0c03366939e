"""`run(experiment, runtime)`: execute the recorded graph and fill every handle.

Mock (`experiment.mock`): the graph is lowered to hxgraph's `MockNetwork` (reused while
the structure and the weight tensors stay the same) and run.

Chip (`mock=False`): the graph is placed and routed onto the emulated chip — only the
first time and when the structure changes; weight or parameter changes rewrite the
configuration in place — and emulated. The measured spikes and (post-processed) membranes
replace the model's in the forward pass while gradients come from the mock model, so the
same training loop trains on the chip. Later populations integrate the measured spikes.

What the handles carry:

=================  =====================================  =============================================
field              mock                                   chip (emulated, in the loop)
=================  =====================================  =============================================
spikes             model spikes                           measured spikes (model gradient)
membrane_cadc      model membrane                         CADC samples on the time grid, post-processed
                                                          by the module (shift, offset, scale); None if
                                                          `enable_cadc_recording=False`
membrane_madc      None                                   MADC codes (samples, batch) of
                                                          `record_neuron_id`; the module's `madc_times`
current            model synaptic current                 model synaptic current (not measurable)
=================  =====================================  =============================================
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from typing import Any, Optional

import torch

from hxgraph.chip.analog import AnalogModel
from hxgraph.chip.emulator import Emulator, Recording
from hxgraph.chip.mapping import ChipMapping, place_and_route
from hxgraph.chip.spec import HICANN_X
from hxgraph.errors import GraphError, InputError, ParameterError
from hxgraph.graph import Graph
from hxgraph.graph.population import check_count
from hxgraph.loop import grid_spikes, interpolate_samples
from hxgraph.mock.network import MockNetwork
from hxgraph.observables import Observables, Run
from hxgraph.spiking.experiment import Experiment
from hxgraph.spiking.functional import batch_dropout
from hxgraph.spiking.handles import LIFObservables
from hxgraph.spiking.lowering import Lowered, lower
from hxgraph.spiking.modules import AELIF, LIF, same_state

# hxtorch's raw membrane_cadc is the CADC code as a signed 8-bit value: code − 128.
CADC_SIGNED_OFFSET = 128.0

__all__ = ["run", "ChipSession", "ExecutionInfo", "ExecutionTimeInfo"]


@dataclasses.dataclass(frozen=True)
class ExecutionTimeInfo:
    """How long a chip run took: `execution_duration` on this machine (the emulation), and
    `realtime_duration`, the chip time it stands for (batch entries × runtime, run one after another)."""

    execution_duration: datetime.timedelta
    realtime_duration: datetime.timedelta


@dataclasses.dataclass(frozen=True)
class ExecutionInfo:
    """What a chip run returns (hxtorch's `ExecutionInfo`): its timing and the chip configuration(s) it ran."""

    time: ExecutionTimeInfo
    chip_configs: list


def run(experiment: Experiment, runtime: Optional[int]) -> Optional[ExecutionInfo]:
    """Execute what was recorded in `experiment` for `runtime` time steps and fill the handles.

    `runtime` may be None in mock mode (the inputs' length). Inputs shorter than the
    runtime are padded with silence; spikes after it are an error. Afterwards the records
    are cleared (declare the network again before the next run). Returns an
    `ExecutionInfo` after a chip run and None in the mock, as hxtorch does.
    """
    if not isinstance(experiment, Experiment):
        raise ParameterError(f"run expects an hxgraph.spiking.Experiment; got {type(experiment).__name__}")
    try:
        lowered = lower(experiment)
        steps = None if runtime is None else check_count(runtime, "runtime (time steps)")
        if steps is None and not experiment.mock:
            raise ParameterError("run: the chip (mock=False) needs a runtime in time steps, e.g. run(experiment, 38)")
        inputs = _inputs(lowered, steps)
        info = None
        if experiment.mock:
            result = _mock(experiment, lowered)(inputs)
            chip: dict[str, dict[str, Any]] = {}
        else:
            started = time.perf_counter()
            result, chip = _chip_in_the_loop(experiment, lowered, inputs)
            recording = experiment.last_recording
            batch = next(iter(inputs.values())).shape[1]
            info = ExecutionInfo(
                ExecutionTimeInfo(datetime.timedelta(seconds=time.perf_counter() - started),
                                  datetime.timedelta(seconds=batch * recording.steps * recording.dt)),
                [experiment.mapping.config])
        _fill(lowered, inputs, result, chip, experiment.mock)
        experiment._last_graph = lowered.graph
        experiment._last_hash = lowered.graph.structure_hash()
        for module in experiment._modules:
            module.reset_changed_since_last_run()
    finally:
        experiment.clear()
    return info


def _inputs(lowered: Lowered, steps: Optional[int]) -> dict[str, torch.Tensor]:
    """Input spikes by population name, cut or padded to `steps`."""
    if not lowered.inputs:
        raise InputError("the network has no input: feed spikes to a synapse (syn(LIFObservables(spikes=x))) or "
                         "an InputNeuron")
    out = {}
    for module, spikes in lowered.inputs.items():
        if steps is not None and spikes.shape[0] > steps:
            late = spikes[steps:].nonzero()
            if late.numel():
                raise InputError(f"{module._who()}: input has spikes at step {int(late[0, 0]) + steps}, beyond the "
                                 f"runtime of {steps} steps")
            spikes = spikes[:steps]
        elif steps is not None and spikes.shape[0] < steps:
            spikes = torch.cat([spikes, spikes.new_zeros(steps - spikes.shape[0], *spikes.shape[1:])])
        out[module.name] = spikes
    return out


def _mock(experiment: Experiment, lowered: Lowered) -> MockNetwork:
    """The experiment's MockNetwork for this graph: reused if structure and weight tensors are unchanged."""
    graph = lowered.graph
    first = next(iter(graph.projections.values()), None)
    key = (graph.structure_hash(), None if first is None else (first.weight.device, first.weight.dtype))
    net = experiment._mock_network
    reusable = (net is not None and getattr(net, "_spiking_key", None) == key
                and all(net.weights[name] is proj.weight for name, proj in graph.projections.items()))
    if reusable:
        net.graph = graph  # same structure: only parameter values may differ, which the net reads from its graph
    else:
        net = MockNetwork(graph)
        net._spiking_key = key
    net.funcs = dict(lowered.funcs)
    net.population_funcs = lowered.population_funcs
    net.gradient = lowered.gradient
    experiment._mock_network = net
    return net


class ChipSession:
    """An experiment's emulated chip: the current mapping and the emulator that runs it.

    The mapping is placed and routed on the first run and whenever the graph's structure
    changes; otherwise a changed weight, transform or neuron parameter is written into the
    existing configuration (`ChipMapping.reused == "placement and routing"`).
    """

    def __init__(self, experiment: Experiment):
        self.spec = HICANN_X if experiment.chip is None else experiment.chip
        self.analog = AnalogModel() if experiment.analog is None else experiment.analog
        self.seed = experiment.chip_seed
        self.placement = experiment.placement
        self.routing = experiment.routing
        self.options = dict(experiment.emulator_options)
        self.mapping: Optional[ChipMapping] = None
        self.emulator: Optional[Emulator] = None
        self.placements = 0  # how often the graph was placed and routed from scratch
        self._state: Any = None
        self._emulator_key: Any = None

    def sync(self, graph: Graph, madc: tuple, dt: float, trace_scale: Optional[dict] = None,
             cadc_in_dram: bool = False, currents: Optional[dict] = None) -> None:
        """Bring the mapping and the emulator up to date with `graph`.

        `trace_scale` maps populations to their modules' trace scales: the units the
        consistency check compares chip values in (hxtorch scripts choose them per module).
        `currents` maps populations to the DAC codes of their constant current sources.
        """
        state = (_chip_state(graph), tuple((k, torch.as_tensor(v)) for k, v in (trace_scale or {}).items()))
        changed = self.mapping is None or not same_state(state, self._state)
        if changed:
            self.mapping = place_and_route(graph, self.spec, placement=self.placement, routing=self.routing,
                                           previous=self.mapping, calibration=self.analog.calibration,
                                           trace_scale=trace_scale)
            if self.mapping.reused == "nothing":
                self.placements += 1
            self._state = state
        config = self.mapping.config.with_constant_current(currents or {})
        key = (madc, dt, cadc_in_dram)
        if self.emulator is None or key != self._emulator_key:
            options = dict(self.options)
            if cadc_in_dram:  # hxtorch's enable_cadc_recording_placement_in_dram: samples beyond the chip's 100
                options["long_recording"] = True
            self.emulator = Emulator(config, self.analog, self.seed, dt, madc=madc, **options)
            self._emulator_key = key
        elif changed or not torch.equal(self.emulator.config.constant_current, config.constant_current):
            self.emulator.reconfigure(config)

    def run(self, graph: Graph, inputs: dict[str, torch.Tensor], steps: int, cadc: list[str], madc: tuple,
            dt: float, trace_scale: Optional[dict] = None, cadc_in_dram: bool = False,
            currents: Optional[dict] = None) -> Recording:
        self.sync(graph, madc, dt, trace_scale, cadc_in_dram, currents)
        return self.emulator.run({k: v.detach().cpu() for k, v in inputs.items()}, steps, cadc=cadc)


def _chip_state(graph: Graph) -> tuple:
    """Everything the chip configuration depends on, for change detection (weights by value)."""
    return (graph.structure_hash(),
            tuple((p.name, p.weight.detach().clone(), p.transform) for p in graph.projections.values()),
            tuple(graph.populations.values()))


def _chip_in_the_loop(experiment: Experiment, lowered: Lowered, inputs: dict[str, torch.Tensor]
                      ) -> tuple[Run, dict[str, dict[str, Any]]]:
    """Emulate, post-process, and run the mock with the measured values substituted."""
    for neuron in lowered.neurons:
        if neuron.overrides_forward_func:
            raise GraphError(f"{neuron._who()} ({type(neuron).__name__}) overrides forward_func; the emulated chip "
                             "runs its own neuron circuits and cannot honour it — run it in the mock "
                             "(Experiment(mock=True)) or use the module's own dynamics on the chip")
    if experiment._session is None:
        experiment._session = ChipSession(experiment)
    session: ChipSession = experiment._session
    net = _mock(experiment, lowered)
    steps = next(iter(inputs.values())).shape[0]
    cadc = [n.name for n in lowered.neurons if n.enable_cadc_recording]
    madc = tuple((n.name, n.record_neuron_id) for n in lowered.neurons if n.enable_madc_recording)
    scales = {n.name: n.trace_scale for n in lowered.neurons}
    dram = any(n.enable_cadc_recording_placement_in_dram for n in lowered.neurons if n.enable_cadc_recording)
    currents = {n.name: n.constant_current_code() for n in lowered.neurons}
    recording = session.run(lowered.graph, inputs, steps, cadc, madc, experiment.dt, scales, dram, currents)
    experiment.last_recording = recording
    device, dtype = net.device, net.dtype
    measured: dict[str, Observables] = {}
    chip: dict[str, dict[str, Any]] = {}
    for neuron in lowered.neurons:
        spikes = grid_spikes(recording, neuron.name, neuron.size) if isinstance(neuron, LIF) else None
        membrane = None
        if neuron.name in recording.cadc:
            codes = interpolate_samples(recording.cadc_times, recording.cadc[neuron.name].float(),
                                 torch.arange(recording.steps, dtype=torch.float64) * recording.dt)
            # hxtorch hands out the CADC value as a signed 8-bit number (code − 128), so trace_offset
            # values copied from hxtorch scripts mean the same here.
            membrane = neuron.post_process(codes - CADC_SIGNED_OFFSET)
        measured[neuron.name] = Observables(*(None if t is None else t.to(device=device, dtype=dtype)
                                              for t in (spikes, membrane, None)))
        chip[neuron.name] = {"cadc": membrane is not None}
        if neuron.enable_madc_recording:
            times, codes = recording.madc[(neuron.name, neuron.record_neuron_id)]
            chip[neuron.name]["madc"] = codes.T.to(device=device, dtype=dtype)
            neuron.madc_times = times
    return net(inputs, measured=Run(measured, recording.dt)), chip


def _fill(lowered: Lowered, inputs: dict[str, torch.Tensor], result: Run, chip: dict[str, dict[str, Any]],
          mock: bool) -> None:
    """Write the run's tensors into every handle."""
    for module in lowered.inputs:
        module.output_handle.put(spikes=inputs[module.name])
    for neuron in lowered.neurons:
        obs = result[neuron.name]
        info = chip.get(neuron.name, {})
        membrane = obs.membrane if mock or info.get("cadc") else None
        fields = dict(membrane_cadc=membrane, membrane_madc=info.get("madc"), current=obs.current)
        if isinstance(neuron, LIF):
            fields["spikes"] = obs.spikes if neuron.mask is None else batch_dropout(obs.spikes, neuron.mask)
        if isinstance(neuron, AELIF):  # the chip reads the membrane only: its adaptation is not measured
            fields["adaptation_cadc"] = obs.adaptation if mock else None
        neuron.output_handle.put(**fields)
    for dropout, lif in lowered.dropouts.items():
        source = lif.output_handle
        dropout.output_handle.put(spikes=batch_dropout(source.spikes, dropout.mask), membrane_cadc=source.membrane_cadc,
                                  membrane_madc=source.membrane_madc, current=source.current)
    for synapse, (source, mask) in lowered.sources.items():
        spikes = source.output_handle.spikes
        if mask is not None:
            spikes = batch_dropout(spikes, mask)
        synapse.output_handle.put_lazy(
            lambda s=synapse, x=spikes: s.forward_func(LIFObservables(spikes=x)).graded_spikes)

