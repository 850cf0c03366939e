"""`ChipConfig`: everything the emulator reads about a mapped network, and nothing else.

Plain tensors, indexed the way the chip is: synapse arrays per hemisphere, drivers per
hemisphere, crossbar nodes per (input, output), and per population the circuits and event
labels of its neurons. The event path an emulator (or the test checker) follows:

1. A spike of on-chip neuron i of population P leaves its first circuit `(h, c)` on neuron
   event output `o = c // columns_per_event_output` carrying label `neuron_label[P][i]`.
   A spike of input neuron i is sent once per row of `input_routes[P]` whose neuron is i,
   on external link `link` (crossbar input `event_outputs + link`) carrying `label`.
2. Crossbar node (input, output) passes the event to output `output` if `crossbar_enable`
   and `label & crossbar_mask == crossbar_target`. Outputs `0 .. buses-1` are event buses
   (bus `h * buses_per_hemisphere + b` is bus b of hemisphere h), the rest recording links.
3. On bus b of hemisphere h, driver d (with `d % buses_per_hemisphere == b`) accepts the event
   if `driver_enable[h, d]` and `(rs & driver_mask[h, d]) == ((d // buses_per_hemisphere) &
   driver_mask[h, d])`, where `rs = (label >> label_bits) & (2**row_select_bits - 1)`.
4. An accepting driver activates its rows `rows_per_driver * d + r`. In an active row with
   `row_mode != 0`, every synapse whose `synapse_label` equals `label & (2**label_bits - 1)`
   adds `synapse_weight` to the excitatory (mode 1) or inhibitory (mode 2) input of circuit
   `(h, column)`; `circuit_population` / `circuit_neuron` say whose circuit that is (a neuron
   of several circuits sums the input of all of them).
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any, Mapping, Optional

import attrs
import torch

from hxgraph.chip.calibration import Calibration
from hxgraph.chip.spec import ChipSpec
from hxgraph.errors import ParameterError, UnknownNameError, did_you_mean, known
from hxgraph.graph import Graph

ROW_DISABLED, ROW_EXCITATORY, ROW_INHIBITORY = 0, 1, 2

# Neuron parameters the chip's circuits take, in hardware units (CADC units, seconds of
# hardware time, the 6-bit capacitance code). `alpha` is a surrogate-gradient setting, not
# a circuit parameter, so it is not here.
CIRCUIT_PARAMS = ("leak", "reset", "threshold", "tau_mem", "tau_syn", "capacitance", "refractory_time",
                  "exp_slope", "exp_threshold", "a", "b", "tau_adap")  # the last five: AdEx circuits only


def _frozen_mapping(value: Mapping) -> Mapping:
    return MappingProxyType(dict(value))


@attrs.frozen(eq=False)
class ChipConfig:
    """The routed configuration of one chip (see the module docstring for the event path).

    Synapses: `synapse_weight`, `synapse_label` — uint8 (hemispheres, synapse_rows, columns);
    `row_mode` — uint8 (hemispheres, synapse_rows), 0 disabled / 1 excitatory / 2 inhibitory.
    Drivers: `driver_enable` bool and `driver_mask` uint8 (5-bit), (hemispheres, drivers).
    Crossbar: `crossbar_enable` bool, `crossbar_mask` and `crossbar_target` int64, all
    (crossbar_inputs, crossbar_outputs).
    Sources: `neuron_label[P]` int64 (size,) for every on-chip population (LI neurons and
    neurons without targets carry a label no crossbar node passes); `input_routes[P]` int64
    (routes, 3) of (neuron, external link, label) for every input population.
    Neurons: `neuron_circuits[P]` int64 (size, circuits_per_neuron), first circuit emits;
    `circuit_population` (index into `populations`, -1 unused) and `circuit_neuron` int64
    (circuits,); `circuit_spiking` bool (circuits,) — threshold comparator on (LIF);
    `circuit_params[name]` float64 (circuits,) hardware values, NaN where unused or not
    applicable (an LI circuit has no threshold, reset or refractory time).
    Inputs: `input_sizes[P]` — neurons of every input population (routed or not).
    Constant current sources: `constant_current` int64 (circuits,) DAC codes, positive sourcing,
    negative sinking, 0 off (`with_constant_current` sets them per population).
    """

    spec: ChipSpec
    synapse_weight: torch.Tensor
    synapse_label: torch.Tensor
    row_mode: torch.Tensor
    driver_enable: torch.Tensor
    driver_mask: torch.Tensor
    crossbar_enable: torch.Tensor
    crossbar_mask: torch.Tensor
    crossbar_target: torch.Tensor
    neuron_circuits: Mapping[str, torch.Tensor] = attrs.field(converter=_frozen_mapping)
    neuron_label: Mapping[str, torch.Tensor] = attrs.field(converter=_frozen_mapping)
    input_routes: Mapping[str, torch.Tensor] = attrs.field(converter=_frozen_mapping)
    populations: tuple[str, ...]
    circuit_population: torch.Tensor
    circuit_neuron: torch.Tensor
    circuit_spiking: torch.Tensor
    circuit_params: Mapping[str, torch.Tensor] = attrs.field(converter=_frozen_mapping)
    input_sizes: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_mapping)
    structure_hash: str = ""
    constant_current: Optional[torch.Tensor] = None

    def __attrs_post_init__(self) -> None:
        if self.constant_current is None:  # every source switched off
            object.__setattr__(self, "constant_current", torch.zeros(self.spec.circuits, dtype=torch.int64))

    # ------------------------------------------------------------------ label helpers
    def decode_label(self, label: int) -> tuple[int, int, int]:
        """(crossbar bits, row select, synapse label) of an event label."""
        spec = self.spec
        return (label >> spec.crossbar_shift, (label >> spec.row_select_shift) & (2 ** spec.row_select_bits - 1),
                label & (spec.labels - 1))

    def with_synapse_weight(self, synapse_weight: torch.Tensor) -> "ChipConfig":
        """The same configuration with other synapse weights (used for weight-only updates)."""
        return attrs.evolve(self, synapse_weight=synapse_weight)

    def with_circuit_params(self, circuit_params: Mapping[str, torch.Tensor]) -> "ChipConfig":
        return attrs.evolve(self, circuit_params=circuit_params)

    def with_constant_current(self, currents: Mapping[str, Any]) -> "ChipConfig":
        """The same configuration with the constant current sources of some populations set.

        `currents` maps on-chip populations to a DAC code per neuron (an int, or a tensor of
        shape (size,)): positive sources current onto the membrane, negative sinks it, 0 is off.
        As hxtorch does, the source of a neuron's first circuit is used. Populations not named
        keep their sources.
        """
        codes = self.constant_current.clone()
        limit = self.spec.constant_current_max
        for name, value in currents.items():
            if name not in self.neuron_circuits:
                raise UnknownNameError(f"constant current for unknown on-chip population {name!r}"
                                       f"{did_you_mean(name, self.neuron_circuits)}; on-chip populations: "
                                       f"{known(self.neuron_circuits)}")
            circuits = self.neuron_circuits[name]
            if isinstance(value, bool) or not isinstance(value, (int, torch.Tensor)) or (
                    isinstance(value, int) and abs(value) > limit):
                raise ParameterError(f"constant current of {name!r} must be an integer DAC code in -{limit}..{limit} "
                                     f"(negative sinks) or a tensor of {circuits.shape[0]} such codes; got {value!r}")
            value = torch.as_tensor(value)
            if value.dim() > 1 or value.numel() not in (1, circuits.shape[0]) or value.is_complex() or (
                    value.is_floating_point() and not bool((value == value.round()).all())) or value.dtype == torch.bool:
                raise ParameterError(f"constant current of {name!r} must be an integer DAC code or a tensor of "
                                     f"{circuits.shape[0]} integer codes; got {value!r}")
            value = value.to(torch.int64).expand(circuits.shape[0])
            if bool((value.abs() > limit).any()):
                raise ParameterError(f"constant current of {name!r}: DAC codes are -{limit}..{limit} (negative "
                                     f"sinks); got {int(value.abs().max())}")
            codes[circuits[:, 0]] = value
        return self if torch.equal(codes, self.constant_current) else attrs.evolve(self, constant_current=codes)

    def to_dict(self) -> dict[str, Any]:
        """Tensors, ints and strings only, so `torch.save(config.to_dict())` loads with `weights_only=True`."""
        out: dict[str, Any] = {"spec": attrs.asdict(self.spec), "populations": list(self.populations),
                               "structure_hash": self.structure_hash}
        for field in attrs.fields(ChipConfig):
            if field.name in out:
                continue
            value = getattr(self, field.name)
            out[field.name] = dict(value) if isinstance(value, Mapping) else value
        return out

    def __repr__(self) -> str:
        used_rows = int((self.row_mode != ROW_DISABLED).sum())
        return (f"<ChipConfig {self.spec.name}: {len(self.populations)} on-chip populations, "
                f"{used_rows} synapse rows enabled, {int(self.driver_enable.sum())} drivers enabled>")


def circuit_parameters(graph: Graph, neuron_circuits: Mapping[str, torch.Tensor], spec: ChipSpec,
                       calibration: Optional[Calibration] = None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Chip values of every circuit's parameters, and which circuits spike.

    Every circuit of a multi-circuit neuron gets the neuron's values. Values come from
    `calibration.chip_values` (default `Calibration()`): a `Mixed(model, chip)` gives its chip
    half, a plain model value is converted through the calibration.
    """
    calibration = Calibration() if calibration is None else calibration
    params = {name: torch.full((spec.circuits,), math.nan, dtype=torch.float64) for name in CIRCUIT_PARAMS}
    spiking = torch.zeros(spec.circuits, dtype=torch.bool)
    for name, circuits in neuron_circuits.items():
        pop = graph.population(name)
        per = circuits.shape[1]
        flat = circuits.reshape(-1)
        for key, values in calibration.chip_values(pop).items():
            params[key][flat] = values.repeat_interleave(per)
        if pop.neuron_model.spiking:
            spiking[flat] = True
    return params, spiking
