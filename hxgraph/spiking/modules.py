"""hxtorch.spiking's modules, recording into an hxgraph `Graph` instead of computing on call.

Every module registers with its `Experiment` when created, which names it (see
`Experiment`: `<kind>_<k>` in creation order, or the `name=` given). Calling a module
records it with its input handles and returns its own output handle, filled by `run`.

Populations (`InputNeuron`, `LIF`, `LI`) become graph populations, synapses (`Synapse`,
`SparseSynapse`) graph projections whose weight *is* the module's parameter, so an
optimizer over `model.parameters()` trains what the mock and the chip run.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Optional, Union

import torch
from torch import nn

from hxgraph.errors import GraphError, ParameterError, ShapeError
from hxgraph.graph import Mixed, Population
from hxgraph.graph.population import check_count
from hxgraph.graph.values import values_equal
from hxgraph.graph.weights import as_transform, linear_saturating
from hxgraph.spiking.experiment import Experiment
from hxgraph.spiking.halco import placement_from_constraint
from hxgraph.spiking.morphology import SingleCompartmentNeuron
from hxgraph.spiking.handles import AELIFObservables, LIFObservables, LIObservables, SynapseHandle, TensorHandle
from hxgraph.spiking.parameter import (HXBaseParameter, HXParameter, HXTransformedModelParameter,
                                       ParameterType, to_graph_value)

__all__ = ["HXModule", "InputNeuron", "LIF", "AELIF", "LI", "Synapse", "BatchDropout", "HXModuleWrapper",
           "SILENT_THRESHOLD"]

#: Hardware threshold (CADC units) given to neurons a `BatchDropout` masks: far above any membrane
#: the chip can reach (its readout is 8 bit), so they neither spike nor reset — the emulated
#: counterpart of switching a neuron's spike output off.
SILENT_THRESHOLD = 1e9


def same_state(a: Any, b: Any) -> bool:
    """Exact equality of module states (nested tuples of numbers, tensors, `Mixed`, transforms)."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same_state(x, y) for x, y in zip(a, b))
    if isinstance(a, (torch.Tensor, Mixed)) or isinstance(b, (torch.Tensor, Mixed)):
        return values_equal(a, b)
    try:
        return bool(a == b)
    except (TypeError, RuntimeError):
        return a is b


class HXModule(nn.Module):
    """Base of all hxgraph.spiking modules: registration, recording on call, change tracking."""

    output_type: type = TensorHandle
    _kind = "module"  # default name stem

    def __init__(self, experiment: Experiment, name: Optional[str] = None):
        super().__init__()
        if not isinstance(experiment, Experiment):
            raise ParameterError(f"{type(self).__name__}: experiment must be an hxgraph.spiking.Experiment; "
                                 f"got {type(experiment).__name__}")
        self.experiment = experiment
        self._output_handle = self.output_type()
        self._output_handle._owner = self
        self._last_run_state: Any = None  # None: never run
        self._given_name = name
        self.name: str = name or ""  # final once registered
        # Leaf classes call register_hw_entity() at the end of __init__, after validating their
        # arguments, so a failed construction leaves nothing behind in the experiment.

    def _who(self) -> str:
        """How error messages name this module."""
        return f"{type(self).__name__} {self.name!r}" if self.name else type(self).__name__

    def register_hw_entity(self) -> None:
        """Register this module with its experiment (done on creation; calling it again changes nothing)."""
        self.name = self.experiment._register(self, self._given_name)

    @property
    def output_handle(self) -> TensorHandle:
        """The handle this module returns on every call."""
        return self._output_handle

    def forward(self, *input: TensorHandle) -> TensorHandle:  # noqa: A002 (torch's name)
        """Record this module with its input handles; returns the output handle (filled by `run`)."""
        for handle in input:
            if not isinstance(handle, TensorHandle):
                raise GraphError(f"{self._who()}: inputs must be hxgraph.spiking handles (e.g. "
                                 f"LIFObservables(spikes=x) or another module's output); got {type(handle).__name__}")
            # Here, at the call: at run time only the experiment that recorded this call could see it.
            owner = handle._owner
            if owner is not None and owner.experiment is not self.experiment:
                raise GraphError(f"{self._who()}: its input is the output of {owner._who()}, which belongs to another "
                                 "experiment; modules of one network must share their Experiment")
        self.experiment._connect(self, input)
        return self._output_handle

    # ------------------------------------------------------------------ change tracking
    def _run_state(self) -> Any:
        """What the chip configuration depends on (compared between runs)."""
        return ()

    @property
    def changed_since_last_run(self) -> bool:
        """True if the module was never run or what it configures on the chip changed since."""
        return self._last_run_state is None or not same_state(self._run_state(), self._last_run_state)

    def reset_changed_since_last_run(self) -> None:
        """Remember the current state as the one last run."""
        self._last_run_state = self._run_state()

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


# ---------------------------------------------------------------------------- populations

class _Population(HXModule):
    """A module that becomes a graph population of `size` neurons."""

    _model = "input"

    def __init__(self, size: int, experiment: Experiment, name: Optional[str] = None):
        super().__init__(experiment, name)
        self.size = check_count(size, f"{type(self).__name__} size")

    def population(self, name: Optional[str] = None, dropout_mask: Optional[torch.Tensor] = None) -> Population:
        """The graph population of this module (validated)."""
        return Population(name=name or self.name, size=self.size, model=self._model)

    def extra_repr(self) -> str:
        return f"size={self.size}, {super().extra_repr()}"


class InputNeuron(_Population):
    """A spike source of `size` neurons fed with the spikes of the handle it is called with."""

    output_type = LIFObservables
    _kind = "input_neuron"
    _model = "input"

    def __init__(self, size: int, experiment: Experiment, execution_instance: Any = None, chip_coordinate: Any = None,
                 *, name: Optional[str] = None):
        super().__init__(size, experiment, name)
        _check_chip_coordinate(self, chip_coordinate)
        self.register_hw_entity()

    def _run_state(self) -> Any:
        return (self.size,)


def capacitance_code(model_value: Any) -> Any:
    """hxtorch's default chip value of the membrane capacitance: the model value in units of 10e-6 times 63."""
    return model_value / 10e-6 * 63


# hxtorch arguments that configure analog circuits the emulated chip does not model: their
# values are kept (and read back), a value other than hxtorch's default is reported once.
UNMODELLED_DEFAULTS = {"i_synin_gm": 500, "synapse_dac_bias": 600, "holdoff_time": 0.0}


def _unmodelled(module: "HXModule", **values: Any) -> None:
    for key, value in values.items():
        setattr(module, key, value)
        default = UNMODELLED_DEFAULTS[key]
        plain = getattr(value, "model_value", value)
        if not (isinstance(plain, (int, float)) and not isinstance(plain, bool) and float(plain) == default):
            warnings.warn(f"{module._who()}: {key}={value!r} is kept for hxtorch compatibility but the emulated chip "
                          f"does not model it (its synaptic gain and timing come from the calibration, as at "
                          f"{key}={default}); results do not change with it", UserWarning, stacklevel=4)


def _check_chip_coordinate(module: "HXModule", chip_coordinate: Any) -> None:
    if chip_coordinate not in (None, 0, (0, 0)):
        raise ParameterError(f"{module._who()}: chip_coordinate={chip_coordinate!r} names another chip; hxgraph "
                             "emulates one chip (None or 0)")
    module.chip_coordinate = chip_coordinate


def _trace_alias(attribute: str, alias: str) -> property:
    """hxtorch's short name (`scale`, `offset`) for a trace attribute; setting it checks the value
    as the constructor does."""
    def get(self: Any) -> Any:
        return getattr(self, attribute)

    def put(self: Any, value: Any) -> None:
        setattr(self, attribute, _trace_value(value, self.size, f"{self._who()}: {alias}"))

    return property(get, put, doc=f"hxtorch's name for `{attribute}`.")


class _Neuron(_Population):
    """Shared parts of LIF and LI: parameters, recording options, chip trace post-processing.

    As in hxtorch, every neuron parameter is held as a parameter object (a plain value
    becomes an `HXParameter`), so `lif.threshold.model_value` and `.hardware_value` work and
    `params_dict()` lists them.
    """

    _params: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: Any) -> None:
        if name in type(self)._parameter_attribute_names() and not isinstance(value, HXBaseParameter):
            value = HXParameter(value)
        super().__setattr__(name, value)

    @classmethod
    def _parameter_attribute_names(cls) -> frozenset:
        return frozenset({attr for _, attr in cls._params} | set(UNMODELLED_DEFAULTS))

    def params_dict(self) -> dict[str, HXBaseParameter]:
        """hxtorch's view of the neuron parameters: attribute name → parameter object."""
        return {name: getattr(self, name) for name in sorted(self._parameter_attribute_names())
                if name in self.__dict__}

    scale = _trace_alias("trace_scale", "scale")
    offset = _trace_alias("trace_offset", "offset")

    def _init_neuron(self, membrane_capacitance: Optional[ParameterType], enable_cadc_recording: bool,
                     enable_madc_recording: bool, record_neuron_id: Optional[int],
                     placement_constraint: Any, trace_offset: Any, trace_scale: Any, cadc_time_shift: int,
                     shift_cadc_to_first: bool, interpolation_mode: str, neuron_structure: Any,
                     cadc_in_dram: bool = False) -> None:
        who = self._who()
        # hxtorch's default capacitance: 10e-6 in the model, the code following the model value
        # (10e-6 ↔ the largest code, 63); one object per module, so changing one module's model value
        # moves its chip value and no other module's.
        self.membrane_capacitance = (HXTransformedModelParameter(10e-6, capacitance_code) if membrane_capacitance is None
                                     else membrane_capacitance)
        self.enable_cadc_recording = bool(enable_cadc_recording)
        # hxtorch's DRAM placement of CADC samples: more than the chip's 100 samples per run.
        self.enable_cadc_recording_placement_in_dram = bool(cadc_in_dram)
        self.enable_madc_recording = bool(enable_madc_recording)
        if self.enable_madc_recording:
            if record_neuron_id is None:
                raise ParameterError(f"{who}: enable_madc_recording=True needs record_neuron_id (the neuron whose "
                                     f"membrane the MADC records), an index in [0, {self.size})")
            record_neuron_id = check_count(record_neuron_id, f"{who}: record_neuron_id", minimum=0)
            if record_neuron_id >= self.size:
                raise ParameterError(f"{who}: record_neuron_id must be in [0, {self.size}); got {record_neuron_id}")
        self.record_neuron_id = record_neuron_id
        self.placement_constraint = placement_constraint
        self.trace_offset = _trace_value(trace_offset, self.size, f"{who}: trace_offset")
        self.trace_scale = _trace_value(trace_scale, self.size, f"{who}: trace_scale")
        if isinstance(cadc_time_shift, bool) or not isinstance(cadc_time_shift, int):
            raise ParameterError(f"{who}: cadc_time_shift must be an integer number of time steps; got "
                                 f"{cadc_time_shift!r}")
        self.cadc_time_shift = cadc_time_shift
        self.shift_cadc_to_first = bool(shift_cadc_to_first)
        if interpolation_mode != "linear":
            raise ParameterError(f"{who}: interpolation_mode must be 'linear' (CADC samples are interpolated "
                                 f"linearly onto the time grid); got {interpolation_mode!r}")
        self.interpolation_mode = interpolation_mode
        if isinstance(neuron_structure, SingleCompartmentNeuron):  # hxtorch's morphology object
            neuron_structure = neuron_structure.size
        if neuron_structure is not None:
            check_count(neuron_structure, f"{who}: neuron_structure (circuits per neuron, or a "
                                          "morphology.SingleCompartmentNeuron)")
        self.neuron_structure = neuron_structure
        self.population(name=self.name or "unnamed")  # validate parameters and placement on the line that made it
        self.register_hw_entity()

    def constant_current_code(self) -> int:
        """The DAC code of the neurons' constant current sources on the chip: > 0 sources, < 0 sinks, 0 off.

        Off for the library's modules; `utils.dynamic_range.helper`'s neurons switch it on (the
        mock, as hxtorch's, has no constant current).
        """
        return 0

    def _param_values(self) -> dict[str, Any]:
        """Graph values of the neuron parameters (model value, hardware value)."""
        return {key: to_graph_value(getattr(self, attr), self._model, key, f"{self._who()}: {attr}")
                for key, attr in self._params}

    def population(self, name: Optional[str] = None, dropout_mask: Optional[torch.Tensor] = None) -> Population:
        who = self._who()
        params = self._param_values()
        if dropout_mask is not None:
            params["threshold"] = _silenced_threshold(params["threshold"], dropout_mask, self.size)
        placement, per = placement_from_constraint(self.placement_constraint, self.size, who)
        circuits = self.neuron_structure or per or 1
        if per is not None and self.neuron_structure is not None and per != self.neuron_structure:
            raise GraphError(f"{who}: placement_constraint gives {per} circuits per neuron, neuron_structure "
                             f"{self.neuron_structure}; they must agree")
        record = {"spikes", "current"} if self._model in ("lif", "adex") else {"current"}
        if self._model == "adex":
            record.add("adaptation")
        if self.enable_cadc_recording or self.enable_madc_recording:
            record.add("membrane")
        return Population(name=name or self.name, size=self.size, model=self._model, params=params,
                          record=frozenset(record), placement=placement, circuits_per_neuron=circuits)

    def _run_state(self) -> Any:
        return tuple(sorted(self._param_values().items())) + (str(self.placement_constraint), self.neuron_structure)

    def forward_func(self, *input: SynapseHandle, hw_data: Any = None) -> TensorHandle:  # noqa: A002
        """The neurons' computation in the mock, as in hxtorch: summed `graded_spikes` → output handle.

        A subclass may override it (as hxtorch users write custom neurons); the mock then
        calls the override with this run's synapse handles, in the order the module was
        called with them, and takes `spikes`, `membrane_cadc` and `current` from what it
        returns. The emulated chip runs its own circuits and refuses overrides.
        """
        from hxgraph.mock.network import integrate  # the mock's kernels: one numerics for module and graph

        if not input:
            raise GraphError(f"{self._who()}.forward_func needs at least one synapse handle")
        x = input[0].graded_spikes
        for handle in input[1:]:
            x = x + handle.graded_spikes
        params = {k: (v.model if isinstance(v, Mixed) else v) for k, v in self.population().params.items()}
        params = {k: v.to(x) if isinstance(v, torch.Tensor) else v for k, v in params.items()}
        obs = integrate(self._model, x, self.experiment.dt, **params)
        fields = dict(membrane_cadc=obs.membrane, current=obs.current)
        if obs.spikes is not None:
            fields["spikes"] = obs.spikes
        if obs.adaptation is not None:
            fields["adaptation_cadc"] = obs.adaptation
        handle = {"lif": LIFObservables, "adex": AELIFObservables, "li": LIObservables}[self._model]
        return handle(**fields)

    @property
    def overrides_forward_func(self) -> bool:
        """Whether a subclass replaced `forward_func` (the mock then calls it)."""
        return type(self).forward_func is not _Neuron.forward_func

    def post_process(self, codes: torch.Tensor) -> torch.Tensor:
        """Chip CADC trace (T, B, N) on the time grid → `membrane_cadc`: shift in time, offset, scale.

        As in hxtorch, `cadc_time_shift` steps move the trace earlier (positive: `out[t] =
        raw[t + shift]`) or later (negative); the vacated steps repeat the edge sample instead
        of wrapping around. Then subtract `trace_offset` (or, with `shift_cadc_to_first`, each
        trace's first sample) and multiply by `trace_scale`.
        """
        shift = self.cadc_time_shift
        if shift and codes.shape[0]:
            steps = codes.shape[0]
            index = (torch.arange(steps, device=codes.device) + shift).clamp(0, steps - 1)
            codes = codes[index]
        offset = codes[:1] if self.shift_cadc_to_first else _on(self.trace_offset, codes)
        return (codes - offset) * _on(self.trace_scale, codes)


class LIF(_Neuron):
    """Leaky integrate-and-fire neurons; output `LIFObservables(spikes, membrane_cadc, membrane_madc, current)`.

    Parameters take a number (model and chip), a per-neuron tensor, or a parameter type
    (`MixedHXModelParameter(model, hardware)`, ...). `membrane_capacitance=None` means the
    default pair (model 10e-6, hardware 63).
    """

    output_type = LIFObservables
    _kind = "lif"
    _model = "lif"
    _params = (("leak", "leak"), ("reset", "reset"), ("threshold", "threshold"), ("tau_mem", "tau_mem"),
               ("tau_syn", "tau_syn"), ("capacitance", "membrane_capacitance"),
               ("refractory_time", "refractory_time"), ("alpha", "alpha"))

    def __init__(self, size: int, experiment: Experiment, leak: ParameterType = 80., reset: ParameterType = 80.,
                 threshold: ParameterType = 125., tau_mem: ParameterType = 10e-6, tau_syn: ParameterType = 10e-6,
                 i_synin_gm: ParameterType = 500, membrane_capacitance: Optional[ParameterType] = None,
                 refractory_time: ParameterType = 1e-6, synapse_dac_bias: ParameterType = 600,
                 holdoff_time: ParameterType = 0e-6, method: str = "superspike", alpha: float = 50.,
                 execution_instance: Any = None, enable_spike_recording: bool = True,
                 enable_cadc_recording: bool = True, enable_cadc_recording_placement_in_dram: bool = False,
                 enable_madc_recording: bool = False, record_neuron_id: Optional[int] = None,
                 placement_constraint: Any = None, trace_offset: Any = 0., trace_scale: Any = 1.,
                 cadc_time_shift: int = 0, shift_cadc_to_first: bool = False, interpolation_mode: str = "linear",
                 neuron_structure: Any = None, *, name: Optional[str] = None) -> None:
        super().__init__(size, experiment, name)
        if method != "superspike":
            raise ParameterError(f"{self._who()}: method must be 'superspike' (the surrogate gradient the mock "
                                 f"implements); got {method!r}")
        self.method = method
        self.leak, self.reset, self.threshold = leak, reset, threshold
        self.tau_mem, self.tau_syn = tau_mem, tau_syn
        self.refractory_time, self.alpha = refractory_time, alpha
        _unmodelled(self, i_synin_gm=i_synin_gm, synapse_dac_bias=synapse_dac_bias, holdoff_time=holdoff_time)
        # The emulator always reports spikes (the network needs them); the flag is kept for scripts that set it.
        self.enable_spike_recording = bool(enable_spike_recording)
        self._mask: Optional[torch.Tensor] = None
        self._init_neuron(membrane_capacitance, enable_cadc_recording, enable_madc_recording, record_neuron_id,
                          placement_constraint, trace_offset, trace_scale, cadc_time_shift, shift_cadc_to_first,
                          interpolation_mode, neuron_structure, enable_cadc_recording_placement_in_dram)

    @property
    def mask(self) -> Optional[torch.Tensor]:
        """hxtorch's spike mask: a boolean (size,) tensor; False switches a neuron's spikes off (None: all on).

        On the chip the masked neurons are silenced (as `BatchDropout` silences them); in the mock
        their spikes are zeroed too, in this module's output and for every synapse it feeds, so
        both back ends run the same network.
        """
        return self._mask

    @mask.setter
    def mask(self, mask: Optional[torch.Tensor]) -> None:
        if mask is not None:
            if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or tuple(mask.shape) != (self.size,):
                got = f"{mask.dtype} {tuple(mask.shape)}" if isinstance(mask, torch.Tensor) else type(mask).__name__
                raise ParameterError(f"{self._who()}: mask must be a boolean tensor of shape ({self.size},) or None; "
                                     f"got {got}")
            mask = mask.detach().cpu().clone()
        self._mask = mask

    def _run_state(self) -> Any:
        return super()._run_state() + (None if self._mask is None else self._mask.clone(),)


class AELIF(LIF):
    """Adaptive exponential integrate-and-fire neurons (the chip's AdEx circuits); hxtorch's `AELIF`.

    Output `AELIFObservables` (LIF's fields plus `adaptation_cadc`, the adaptation current).
    The terms switch as in hxtorch: `exponential=False` sets the exponential slope to 0,
    `subthreshold_adaptation=False` the strength a to 0, `spike_triggered_adaptation=False`
    the increment b to 0 (in model and on chip). Non-leaky or non-firing neurons are not
    AdEx circuits hxgraph models: `leaky=False` / `fire=False` raise (use `LI` for a readout).
    `clock_scale_adaptation_pulse` and the readout sources are hardware settings kept for
    scripts; only the membrane is read (`"voltage"`).
    """

    output_type = AELIFObservables
    _kind = "aelif"
    _model = "adex"
    _params = LIF._params + (("exp_slope", "exponential_slope"), ("exp_threshold", "exponential_threshold"),
                             ("a", "subthreshold_adaptation_strength"), ("b", "spike_triggered_adaptation_increment"),
                             ("tau_adap", "tau_adap"))
    # the term a flag switches off → the graph parameter set to 0
    _FLAGS = (("exponential", "exp_slope"), ("subthreshold_adaptation", "a"), ("spike_triggered_adaptation", "b"))

    def __init__(self, size: int, experiment: Experiment, leak: ParameterType = 80., reset: ParameterType = 80.,
                 threshold: ParameterType = 125., tau_mem: ParameterType = 10e-6, tau_syn: ParameterType = 10e-6,
                 i_synin_gm: ParameterType = 500, membrane_capacitance: Optional[ParameterType] = None,
                 refractory_time: ParameterType = 1e-6, synapse_dac_bias: ParameterType = 600,
                 holdoff_time: ParameterType = 0e-6, method: str = "superspike", alpha: float = 50.,
                 exponential_slope: ParameterType = 50e-3, exponential_threshold: ParameterType = 110.,
                 subthreshold_adaptation_strength: ParameterType = 1.,
                 spike_triggered_adaptation_increment: ParameterType = 1.,
                 clock_scale_adaptation_pulse: Any = (5, 5), tau_adap: ParameterType = 100e-6,
                 leak_adaptation: Optional[ParameterType] = None, execution_instance: Any = None,
                 chip_coordinate: Any = None, enable_spike_recording: bool = True, enable_cadc_recording: bool = True,
                 enable_cadc_recording_placement_in_dram: bool = False, cadc_readout_source: Any = "voltage",
                 enable_madc_recording: bool = False, record_neuron_id: Optional[int] = None,
                 madc_readout_source: Any = "voltage", placement_constraint: Any = None, trace_offset: Any = 0.,
                 trace_scale: Any = 1., cadc_time_shift: int = 0, shift_cadc_to_first: bool = False,
                 interpolation_mode: str = "linear", neuron_structure: Any = None, leaky: bool = True,
                 fire: bool = True, exponential: bool = True, subthreshold_adaptation: bool = True,
                 spike_triggered_adaptation: bool = True, *, name: Optional[str] = None) -> None:
        who = type(self).__name__  # checked before the module registers, so a refusal leaves nothing behind
        for flag, value in (("leaky", leaky), ("fire", fire)):
            if value is not True:
                raise ParameterError(f"{who}: {flag}={value!r} — hxgraph models AdEx circuits that leak and fire; "
                                     "use LI for a non-spiking readout")
        for source, value in (("cadc_readout_source", cadc_readout_source), ("madc_readout_source", madc_readout_source)):
            if "voltage" not in str(getattr(value, "name", value)).lower():
                raise ParameterError(f"{who}: {source}={value!r} — the emulated chip reads the membrane voltage "
                                     "only; the adaptation current is in the mock's adaptation_cadc")
        if leak_adaptation is not None:
            raise ParameterError(f"{who}: leak_adaptation={leak_adaptation!r} is not modelled: the subthreshold "
                                 "adaptation refers to the leak (leave it None)")
        if chip_coordinate not in (None, 0, (0, 0)):
            raise ParameterError(f"{who}: chip_coordinate={chip_coordinate!r} names another chip; hxgraph emulates one "
                                 "chip (None or 0)")
        self.chip_coordinate = chip_coordinate
        self.exponential, self.subthreshold_adaptation = bool(exponential), bool(subthreshold_adaptation)
        self.spike_triggered_adaptation = bool(spike_triggered_adaptation)
        self.leaky, self.fire = True, True
        self.exponential_slope, self.exponential_threshold = exponential_slope, exponential_threshold
        self.subthreshold_adaptation_strength = subthreshold_adaptation_strength
        self.spike_triggered_adaptation_increment = spike_triggered_adaptation_increment
        self.tau_adap, self.leak_adaptation = tau_adap, leak_adaptation
        self.clock_scale_adaptation_pulse = clock_scale_adaptation_pulse
        self.cadc_readout_source, self.madc_readout_source = cadc_readout_source, madc_readout_source
        super().__init__(size, experiment, leak, reset, threshold, tau_mem, tau_syn, i_synin_gm,
                         membrane_capacitance, refractory_time, synapse_dac_bias, holdoff_time, method, alpha,
                         execution_instance, enable_spike_recording, enable_cadc_recording,
                         enable_cadc_recording_placement_in_dram, enable_madc_recording, record_neuron_id,
                         placement_constraint, trace_offset, trace_scale, cadc_time_shift, shift_cadc_to_first,
                         interpolation_mode, neuron_structure, name=name)

    @property
    def adaptation(self) -> bool:
        """Whether any adaptation term is on (hxtorch's flag)."""
        return self.subthreshold_adaptation or self.spike_triggered_adaptation

    def _param_values(self) -> dict[str, Any]:
        values = super()._param_values()
        for flag, key in self._FLAGS:
            if not getattr(self, flag):
                values[key] = Mixed(0.0, 0.0)
        return values

    def _run_state(self) -> Any:
        return super()._run_state() + tuple(getattr(self, flag) for flag, _ in self._FLAGS)


class EventPropLIF(LIF):
    """LIF neurons trained with EventProp (hxtorch's `EventPropLIF`; same signature and parameters as `LIF`).

    A run whose neuron modules are EventPropLIF (and LI readouts) runs the whole network on
    the event-exact model (`hxgraph.mock.eventprop`: exact integration, spikes at their exact
    threshold crossings) and back-propagates exact gradients through the spike times. A run
    cannot mix EventPropLIF with surrogate-gradient LIF modules. On the chip (`mock=False`)
    the measured values replace the model's outputs and the gradients are the event-exact
    model's. Unlike hxtorch's mock EventPropLIF, `membrane_capacitance` and
    `refractory_time` are honoured (docs/migration.md).
    """

    _kind = "eventprop_lif"


class LI(_Neuron):
    """Leaky integrators (non-spiking readout); output `LIObservables(membrane_cadc, membrane_madc, current)`."""

    output_type = LIObservables
    _kind = "li"
    _model = "li"
    _params = (("leak", "leak"), ("tau_mem", "tau_mem"), ("tau_syn", "tau_syn"),
               ("capacitance", "membrane_capacitance"))

    def __init__(self, size: int, experiment: Experiment, leak: ParameterType = 80., tau_mem: ParameterType = 10e-6,
                 tau_syn: ParameterType = 10e-6, i_synin_gm: ParameterType = 500,
                 membrane_capacitance: Optional[ParameterType] = None, synapse_dac_bias: ParameterType = 600,
                 execution_instance: Any = None, enable_cadc_recording: bool = True,
                 enable_cadc_recording_placement_in_dram: bool = False, enable_madc_recording: bool = False,
                 record_neuron_id: Optional[int] = None, placement_constraint: Any = None,
                 trace_offset: Any = 0., trace_scale: Any = 1., cadc_time_shift: int = 0,
                 shift_cadc_to_first: bool = False, interpolation_mode: str = "linear",
                 neuron_structure: Any = None, *, name: Optional[str] = None) -> None:
        super().__init__(size, experiment, name)
        self.leak, self.tau_mem, self.tau_syn = leak, tau_mem, tau_syn
        _unmodelled(self, i_synin_gm=i_synin_gm, synapse_dac_bias=synapse_dac_bias)
        self._init_neuron(membrane_capacitance, enable_cadc_recording, enable_madc_recording, record_neuron_id,
                          placement_constraint, trace_offset, trace_scale, cadc_time_shift, shift_cadc_to_first,
                          interpolation_mode, neuron_structure, enable_cadc_recording_placement_in_dram)


def _trace_value(value: Any, size: int, what: str) -> Union[float, torch.Tensor]:
    """trace_offset / trace_scale: a number or a per-neuron tensor of shape (size,)."""
    if isinstance(value, dict):
        raise ParameterError(f"{what}: a dict keyed by chip coordinates is not supported; give a number or a "
                             f"per-neuron tensor of shape ({size},) in neuron order")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(value, torch.Tensor) and value.dim() <= 1 and value.numel() in (1, size):
        return value.detach().float().reshape(-1) if value.numel() == size else float(value)
    raise ParameterError(f"{what} must be a finite number or a tensor of shape ({size},); got {value!r}")


def _on(value: Union[float, torch.Tensor], like: torch.Tensor) -> Union[float, torch.Tensor]:
    return value.to(device=like.device, dtype=like.dtype) if isinstance(value, torch.Tensor) else value


def _silenced_threshold(threshold: Any, mask: torch.Tensor, size: int) -> Mixed:
    """The threshold with the hardware value of masked-out neurons raised to `SILENT_THRESHOLD`."""
    model = threshold.model if isinstance(threshold, Mixed) else threshold
    hardware = threshold.hardware if isinstance(threshold, Mixed) else threshold
    hardware = torch.as_tensor(hardware.detach() if isinstance(hardware, torch.Tensor) else hardware,
                               dtype=torch.float64).cpu().expand(size).clone()
    hardware[~mask.cpu()] = SILENT_THRESHOLD
    return Mixed(model, hardware)


# ---------------------------------------------------------------------------- synapses

class _Projection(HXModule):
    """A module that becomes a graph projection; its output is a `SynapseHandle`."""

    output_type = SynapseHandle
    in_features: int
    out_features: int

    def hardware_transform(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """The software → hardware weight transform as the graph stores it (read anew at every run)."""
        return as_transform(self.transform, self._who())

    @property
    def weight_transform(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """hxtorch's name for `transform`; editing a partial in place (`.keywords["scale"] = s`) takes effect
        at the next run."""
        return self.transform

    @weight_transform.setter
    def weight_transform(self, value: Callable[[torch.Tensor], torch.Tensor]) -> None:
        as_transform(value, self._who())  # validate
        self.transform = value

    def graph_weight(self) -> torch.Tensor:
        """The tensor the graph projection holds: the module's parameter itself."""
        raise NotImplementedError

    def dense_weight(self) -> torch.Tensor:
        """The (out, in) weight the module's function is applied with."""
        raise NotImplementedError

    def apply_func(self, input: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:  # noqa: A002
        """The module's forward function on (…, in) spikes with an (out, in) weight."""
        return torch.nn.functional.linear(input, weight)

    def forward_func(self, input: TensorHandle) -> SynapseHandle:  # noqa: A002
        """The synapses' computation in the mock, as in hxtorch: input spikes → `SynapseHandle(graded_spikes)`.

        A subclass may override it (e.g. an EventProp-style synapse); the mock then calls the
        override with a `LIFObservables(spikes=...)` of the source's spikes.
        """
        return SynapseHandle(graded_spikes=self.apply_func(input.spikes, self.dense_weight()))

    @property
    def overrides_forward_func(self) -> bool:
        """Whether a subclass replaced `forward_func` (the mock then calls it)."""
        return type(self).forward_func is not _Projection.forward_func

    def _run_state(self) -> Any:
        return (self.graph_weight().detach().clone(), self.hardware_transform())

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, {super().extra_repr()}"


class Synapse(_Projection):
    """All-to-all synapses; `weight` (out, in), Kaiming-uniform, no bias; output `SynapseHandle(graded_spikes)`.

    `transform` maps the software weight to the chip's (default `linear_saturating`:
    clamp(scale · w, -63, 63)); it applies only on the chip, where weights are then
    rounded half to even.
    """

    _kind = "synapse"

    def __init__(self, in_features: int, out_features: int, experiment: Experiment, execution_instance: Any = None,
                 chip_coordinate: Any = None, device: Union[str, torch.device, None] = None,
                 dtype: Optional[torch.dtype] = None,
                 transform: Callable[[torch.Tensor], torch.Tensor] = linear_saturating,
                 plasticity_rule: Any = None, *, name: Optional[str] = None) -> None:
        super().__init__(experiment, name)
        _check_chip_coordinate(self, chip_coordinate)
        if plasticity_rule is not None:
            raise ParameterError(f"{self._who()}: plasticity rules run on the chip's embedded processors, which "
                                 "hxgraph does not emulate; drop plasticity_rule or run the script on the chip")
        self.plasticity_rule = None
        self.in_features = check_count(in_features, "Synapse in_features")
        self.out_features = check_count(out_features, "Synapse out_features")
        self.transform = transform
        self.hardware_transform()  # validate now
        self.weight = nn.Parameter(torch.empty((self.out_features, self.in_features), device=device, dtype=dtype))
        self.reset_parameters()
        self.register_hw_entity()

    def reset_parameters(self) -> None:
        """Kaiming-uniform weights, U(-1/sqrt(in), 1/sqrt(in)), drawn from torch's global generator."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def graph_weight(self) -> torch.Tensor:
        if not isinstance(self.weight, torch.Tensor) or tuple(self.weight.shape) != (self.out_features,
                                                                                     self.in_features):
            raise ShapeError(f"{self._who()}: weight must be a tensor of shape (out, in) = "
                             f"({self.out_features}, {self.in_features}); got {getattr(self.weight, 'shape', None)}")
        return self.weight

    def dense_weight(self) -> torch.Tensor:
        return self.graph_weight()


# ---------------------------------------------------------------------------- dropout and wrapper

class EventPropSynapse(Synapse):
    """hxtorch's `EventPropSynapse` (same signature as `Synapse`): the synapse in front of an `EventPropLIF`.

    hxtorch needs it to route its two adjoint channels; in hxgraph the event-exact model
    delivers every spike through the weights itself, so it acts exactly like `Synapse` (and
    a plain `Synapse` in front of an `EventPropLIF` works the same).
    """

    _kind = "eventprop_synapse"


class BatchDropout(HXModule):
    """Drops the neurons of the spiking population it follows, with one mask per batch (run).

    In training a new mask `rand(size) > dropout` is drawn at every call (from torch's
    global generator); in eval mode the mask is all ones. The output handle carries the
    input's spikes times the mask in `spikes` (other fields passed through). On the chip the
    masked neurons are switched off (they neither spike nor reset; see `SILENT_THRESHOLD`).
    """

    output_type = LIFObservables
    _kind = "batch_dropout"

    def __init__(self, size: int, dropout: float, experiment: Experiment, func: Any = None,
                 execution_instance: Any = None, *, name: Optional[str] = None) -> None:
        super().__init__(experiment, name)
        self.size = check_count(size, "BatchDropout size")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ParameterError(f"BatchDropout: dropout must be a probability in [0, 1); got {dropout!r}")
        self._dropout = float(dropout)
        self._mask: Optional[torch.Tensor] = None
        self.register_hw_entity()

    @property
    def dropout(self) -> float:
        return self._dropout

    @property
    def mask(self) -> Optional[torch.Tensor]:
        """The current boolean mask (size,): True keeps a neuron."""
        return self._mask

    @mask.setter
    def mask(self, mask: torch.Tensor) -> None:
        if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != (self.size,):
            raise ShapeError(f"{self._who()}: mask must be a tensor of shape ({self.size},)")
        self._mask = mask.to(torch.bool)

    def set_mask(self) -> torch.Tensor:
        """Draw the mask for the next run: random in training, all ones in eval mode."""
        self.mask = torch.rand(self.size) > self._dropout if self.training else torch.ones(self.size, dtype=torch.bool)
        return self._mask

    def forward(self, *input: TensorHandle) -> TensorHandle:  # noqa: A002
        self.set_mask()
        return super().forward(*input)

    def _run_state(self) -> Any:
        return (None if self._mask is None else self._mask.clone(),)

    def extra_repr(self) -> str:
        return f"size={self.size}, dropout={self._dropout}, {super().extra_repr()}"


class HXModuleWrapper(HXModule):
    """Groups modules that form a cycle (recurrence), as hxtorch requires.

    Subclass it, create it with the member modules as keywords, call the members as
    usual and then call the wrapper (no arguments) in the same declaration. In hxgraph
    the members record into the graph themselves and the mock/chip computes them together
    (projections inside a cycle act with a one-step delay), so `forward_func` — hxtorch's
    place for the members' joint computation — is kept for compatibility but not called.
    """

    _kind = "wrapper"

    def __init__(self, experiment: Experiment, **modules: HXModule) -> None:
        super().__init__(experiment)
        for key, module in modules.items():
            if not isinstance(module, HXModule) or isinstance(module, HXModuleWrapper):
                raise ParameterError(f"{type(self).__name__}: {key}= must be an hxgraph.spiking module; got "
                                     f"{type(module).__name__}")
            if module.experiment is not experiment:
                raise ParameterError(f"{type(self).__name__}: {key}= ({module.name}) belongs to another experiment")
        self.modules = modules  # hxtorch's attribute: the members by keyword
        for key, module in modules.items():
            setattr(self, key, module)
        self.register_hw_entity()

    def forward(self) -> tuple:  # type: ignore[override]
        """Mark the members as one group for the next run; returns their output handles."""
        self.experiment._connect_wrapper(self)
        return tuple(m.output_handle for m in self.modules.values())

    def forward_func(self, *input: Any, hw_data: Any = None) -> Any:  # noqa: A002
        """hxtorch's joint computation of the members; not used by hxgraph (see the class docstring)."""
        return input

    def contains(self, modules: Union[HXModule, list]) -> bool:
        """Whether all of `modules` are members."""
        modules = modules if isinstance(modules, list) else [modules]
        return all(any(m is member for member in self.modules.values()) for m in modules)

    def isdisjoint(self, wrapper: "HXModuleWrapper") -> bool:
        return not any(wrapper.contains(m) for m in self.modules.values())

    def update(self, **modules: HXModule) -> None:
        """Replace the members."""
        self.modules = modules

    def extra_repr(self) -> str:
        return f"modules=({', '.join(f'{k}: {m.name}' for k, m in self.modules.items())})"
