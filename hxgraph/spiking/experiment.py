"""`Experiment`: the object hxgraph.spiking modules record into, and what `run` executes.

Modules register with their experiment when they are created (that fixes their names);
calling a module records it and its input handles for the next run. `run` turns the
records into an hxgraph `Graph`, executes it, fills the handles and clears the records,
so a training loop declares the network again before every run while modules, their
weights and implicitly created input populations persist.
"""

from __future__ import annotations

import copy

from typing import TYPE_CHECKING, Any, Optional, Union

from hxgraph.chip.analog import AnalogModel
from hxgraph.chip.mapping import ChipMapping
from hxgraph.chip.placement import NeuronPlacement
from hxgraph.chip.routing import ROUTINGS
from hxgraph.chip.spec import ChipSpec
from hxgraph.errors import DuplicateNameError, GraphError, ParameterError, known
from hxgraph.graph import Graph
from hxgraph.graph.graph import check_dt
from hxgraph.graph.population import check_count, check_name

if TYPE_CHECKING:  # imported for annotations only: the modules import this file
    from hxgraph.chip.emulator import Recording
    from hxgraph.mock.network import MockNetwork
    from hxgraph.spiking.handles import TensorHandle
    from hxgraph.spiking.modules import HXModule, HXModuleWrapper, InputNeuron

__all__ = ["Experiment"]

# Options passed on to hxgraph.chip.Emulator (its `madc` is derived from the neuron modules).
_EMULATOR_OPTIONS = frozenset({"cadc_interval", "cadc_jitter", "long_recording", "progress"})


class ExecutionInstance:
    """hxtorch's execution instance: hxgraph emulates one chip, so there is one and nothing to configure."""

    def load_calib(self, calib_path: Any = None) -> None:
        raise ParameterError(
            "ExecutionInstance.load_calib: calibrations of a real chip cannot be loaded into the emulated chip; it "
            "is calibrated by hxgraph.chip.Calibration (pass Experiment(analog=AnalogModel(calibration=...)))")

    def __repr__(self) -> str:
        return "ExecutionInstance(the emulated chip)"


class Experiment:
    """An hxtorch-style experiment: records modules into an hxgraph `Graph` and runs it.

    `mock=True` runs the differentiable mock; `mock=False` runs the emulated chip in the
    loop (forward values from the emulator, gradients from the mock). `dt` is the time
    step in seconds. `hw_routing_func` picks hxgraph's routing: None or "shared" (sources
    share synapse rows through labels), or "simple".

    hxgraph additions (keyword-only): `name` of the graph; `chip` (a `ChipSpec`, default
    HICANN-X), `chip_seed` (which emulated chip: its mismatch and noise), `analog` (its
    `AnalogModel`), `placement` ("balanced", "first_fit" or a `NeuronPlacement`), and
    further emulator options (`cadc_interval`, `long_recording`, ...).
    """

    def __init__(self, mock: bool = False, dt: float = 1e-6, hw_routing_func: Any = None, *,
                 name: str = "experiment", chip: Optional[ChipSpec] = None, chip_seed: int = 0,
                 analog: Optional[AnalogModel] = None, placement: Union[str, NeuronPlacement] = "balanced",
                 **emulator_options: Any):
        if not isinstance(mock, bool):
            raise ParameterError(f"Experiment: mock must be True (software model) or False (emulated chip); got {mock!r}")
        self.mock = mock
        self.dt = check_dt(dt)
        self.name = check_name(name, "experiment")
        if hw_routing_func is None:
            hw_routing_func = "shared"
        if hw_routing_func not in ROUTINGS:
            raise ParameterError(f"Experiment: hw_routing_func must be None or one of {known(ROUTINGS)} (hxgraph's "
                                 f"routings; hxtorch's grenade routing functions do not apply); got {hw_routing_func!r}")
        self.routing: str = hw_routing_func
        if chip is not None and not isinstance(chip, ChipSpec):
            raise ParameterError(f"Experiment: chip must be a hxgraph.chip.ChipSpec or None (HICANN-X); got {chip!r}")
        if analog is not None and not isinstance(analog, AnalogModel):
            raise ParameterError(f"Experiment: analog must be a hxgraph.chip.AnalogModel or None; got {analog!r}")
        self.chip = chip
        self.chip_seed = check_count(chip_seed, "chip_seed", minimum=0)
        self.analog = analog
        self.placement = placement
        unknown = sorted(set(emulator_options) - _EMULATOR_OPTIONS)
        if unknown:
            raise ParameterError(f"Experiment: unknown option {unknown[0]!r}; emulator options are "
                                 f"{known(sorted(_EMULATOR_OPTIONS))} (MADC recording is set per neuron module)")
        self.emulator_options = emulator_options
        # Persistent: modules in creation order, their names, implicit inputs by synapse.
        self._modules: list[HXModule] = []
        self._names: dict[str, HXModule] = {}
        self._counters: dict[str, int] = {}
        self._implicit_inputs: dict[HXModule, InputNeuron] = {}
        # This declaration: called modules with their input handles, called wrappers.
        self._calls: dict[HXModule, list[TensorHandle]] = {}
        self._wrappers: list[HXModuleWrapper] = []
        # Results of the last run.
        self._last_graph: Optional[Graph] = None
        self._last_hash: Optional[str] = None
        self._mock_network: Optional[MockNetwork] = None
        self._session: Any = None  # the chip session (hxgraph.spiking.run.ChipSession), created on the first chip run
        self.last_recording: Optional[Recording] = None

    # Results of a run: a copied experiment starts without them (the next run lowers anew), as
    # graphs, chip mappings and emulators are caches of what the modules define.
    _RUN_RESULTS = ("_last_graph", "_last_hash", "_mock_network", "_session", "last_recording")

    def __deepcopy__(self, memo: dict) -> "Experiment":
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            clone.__dict__[key] = None if key in self._RUN_RESULTS else copy.deepcopy(value, memo)
        return clone

    # ------------------------------------------------------------------ registration
    def _register(self, module: HXModule, name: Optional[str]) -> str:
        """Add `module` (idempotent) and return its name: `name`, or `<kind>_<k>` in creation order."""
        if module in self._modules:
            return module.name
        if name is None:
            kind = module._kind
            index = self._counters.get(kind, 0)
            while f"{kind}_{index}" in self._names:
                index += 1
            self._counters[kind] = index + 1
            name = f"{kind}_{index}"
        else:
            check_name(name, f"{type(module).__name__}")
            if name in self._names:
                raise DuplicateNameError(f"{type(module).__name__}(name={name!r}): the name is taken by another module "
                                         f"of this experiment ({type(self._names[name]).__name__}); names must be unique")
        self._modules.append(module)
        self._names[name] = module
        return name

    def free_name(self, stem: str) -> str:
        """`stem`, or `stem_2`, `stem_3`, ... if taken (for implicitly created modules)."""
        name, index = stem, 2
        while name in self._names:
            name, index = f"{stem}_{index}", index + 1
        return name

    def _implicit_input(self, synapse: HXModule) -> InputNeuron:
        """The input population created for `synapse` when it is fed raw spikes (kept across runs)."""
        from hxgraph.spiking.modules import InputNeuron
        module = self._implicit_inputs.get(synapse)
        if module is None or module.size != synapse.in_features:
            module = InputNeuron(synapse.in_features, self, name=self.free_name(f"{synapse.name}_input"))
            self._implicit_inputs[synapse] = module
        return module

    def _connect(self, module: HXModule, inputs: tuple) -> None:
        """Record a call of `module` with its input handles for the next run."""
        if module not in self._calls:
            self._calls[module] = []
            module.output_handle.clear()  # empty until the run fills it
        self._calls[module].extend(inputs)

    def _connect_wrapper(self, wrapper: HXModuleWrapper) -> None:
        for other in self._wrappers:
            if other is not wrapper and not other.isdisjoint(wrapper):
                shared = [m.name for m in wrapper.modules.values() if other.contains(m)]
                raise GraphError(f"modules {shared} are in two HXModuleWrappers; a module can belong to one wrapper")
        if wrapper not in self._wrappers:
            self._wrappers.append(wrapper)

    def clear(self) -> None:
        """Forget what was recorded since the last run (modules and their weights stay)."""
        self._calls = {}
        self._wrappers = []

    # ------------------------------------------------------------------ hxtorch's public members
    def connect(self, module: HXModule, input_handles: Any, output_handle: Any = None) -> Any:
        """hxtorch's way to record a call of `module` with `input_handles` (what calling the module does).

        Returns the module's output handle (the only one a module has; `output_handle`, if given,
        must be it).
        """
        from hxgraph.spiking.modules import HXModule as _Module
        if not isinstance(module, _Module) or module.experiment is not self:
            raise ParameterError(f"Experiment.connect: {module!r} is not a module of this experiment")
        if output_handle is not None and output_handle is not module.output_handle:
            raise ParameterError(f"Experiment.connect: {module._who()} writes into its own output handle; pass "
                                 "module.output_handle or None")
        handles = input_handles if isinstance(input_handles, (tuple, list)) else (input_handles,)
        return module(*handles)

    def register_population(self, module: HXModule) -> None:
        """Add a population module (modules register themselves when created; idempotent)."""
        self._register_public(module, "population")

    def register_projection(self, module: HXModule) -> None:
        """Add a projection module (modules register themselves when created; idempotent)."""
        self._register_public(module, "projection")

    def _register_public(self, module: HXModule, what: str) -> None:
        from hxgraph.spiking.modules import _Population, _Projection
        kind = _Population if what == "population" else _Projection
        if not isinstance(module, kind):
            raise ParameterError(f"Experiment.register_{what}: {module!r} is not a {what} module")
        if module.experiment is not self:
            raise ParameterError(f"Experiment.register_{what}: {module._who()} belongs to another experiment")
        self._register(module, module.name)

    @property
    def default_execution_instance(self) -> "ExecutionInstance":
        """The one execution instance of the emulated chip (hxtorch scripts load calibrations through it)."""
        return ExecutionInstance()

    @property
    def last_run_chip_configs(self) -> Optional[list]:
        """The chip configuration(s) of the last chip run, one per execution instance (None before a chip run)."""
        session = self._session
        return None if session is None or session.emulator is None else [session.emulator.config]

    # ------------------------------------------------------------------ views
    @property
    def modules(self) -> tuple:
        """All modules of this experiment in creation order (including implicit input populations)."""
        return tuple(self._modules)

    @property
    def graph(self) -> Graph:
        """The recorded network as an hxgraph `Graph`: the current declaration, else the last run's graph.

        Weight tensors are the modules' parameters (shared, not copied).
        """
        if self._calls:
            from hxgraph.spiking.lowering import lower
            return lower(self).graph
        if self._last_graph is not None:
            return self._last_graph
        return Graph(self.name, self.dt)

    @property
    def last_graph(self) -> Optional[Graph]:
        """The graph the last run executed (None before the first run)."""
        return self._last_graph

    @property
    def mapping(self) -> Optional[ChipMapping]:
        """The chip mapping of the last chip run (`mapping.reused` says whether it was placed and routed anew)."""
        return None if self._session is None else self._session.mapping

    @property
    def mock_network(self) -> Optional[MockNetwork]:
        """The `MockNetwork` the last run used (reused while the structure does not change)."""
        return self._mock_network

    @property
    def changed_since_last_run(self) -> bool:
        """True if the topology or any module (weights, parameters, dropout mask) changed since the last run."""
        if self._last_hash is None or any(m.changed_since_last_run for m in self._modules):
            return True
        if not self._calls:
            return False
        from hxgraph.spiking.lowering import lower
        return lower(self).graph.structure_hash() != self._last_hash

    def reset_changed_since_last_run(self) -> None:
        """Mark the current state as run: module flags cleared, topology remembered."""
        if self._calls:
            from hxgraph.spiking.lowering import lower
            self._last_hash = lower(self).graph.structure_hash()
        elif self._last_graph is not None:
            self._last_hash = self._last_graph.structure_hash()
        for module in self._modules:
            module.reset_changed_since_last_run()

    @property
    def runtime_in_s(self) -> Optional[float]:
        """Duration of the last run in seconds (hardware time)."""
        return None if self.last_recording is None else self.last_recording.steps * self.dt

    def __repr__(self) -> str:
        mode = "mock" if self.mock else "emulated chip"
        return f"<hxgraph.spiking.Experiment {self.name!r} ({mode}, dt={self.dt:g}): {len(self._modules)} modules>"
