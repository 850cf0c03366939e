"""The chip as data: every count of CHIP.md §1 in one frozen value.

`ChipSpec()` describes HICANN-X (BrainScaleS-2). Placement, routing, the `ChipConfig` and
the emulator read all their sizes from a spec, never from literals, so a test or a user can
map onto a smaller or larger variant: `ChipSpec().variant(columns=64, synapse_rows=64)`.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from hxgraph.errors import ParameterError


def _positive_int(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"ChipSpec: {attribute.name} must be a positive integer; got {value!r}")


def _positive_float(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ParameterError(f"ChipSpec: {attribute.name} must be a positive number; got {value!r}")


def _is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


@attrs.frozen
class ChipSpec:
    """Resources of one chip (defaults: HICANN-X, see CHIP.md §1).

    Geometry: `hemispheres` rows of `columns` neuron circuits; each hemisphere has a synapse
    array of `synapse_rows` × `columns`, driven by `synapse_rows / rows_per_driver` synapse
    drivers that listen to `buses_per_hemisphere` event buses (driver d on bus d % buses).
    Circuit (h, c) sends its spikes on neuron event output `c // columns_per_event_output`,
    which reaches bus `output % buses_per_hemisphere` of each hemisphere. A multi-circuit
    neuron may not cross a multiple of `quadrant_columns`.
    """

    name: str = "HICANN-X"
    hemispheres: int = attrs.field(default=2, validator=_positive_int)
    columns: int = attrs.field(default=256, validator=_positive_int)
    synapse_rows: int = attrs.field(default=256, validator=_positive_int)
    rows_per_driver: int = attrs.field(default=2, validator=_positive_int)
    buses_per_hemisphere: int = attrs.field(default=4, validator=_positive_int)
    columns_per_event_output: int = attrs.field(default=32, validator=_positive_int)
    quadrant_columns: int = attrs.field(default=128, validator=_positive_int)
    weight_bits: int = attrs.field(default=6, validator=_positive_int)
    label_bits: int = attrs.field(default=6, validator=_positive_int)
    row_select_bits: int = attrs.field(default=5, validator=_positive_int)
    external_links: int = attrs.field(default=4, validator=_positive_int)
    background_generators: int = attrs.field(default=8, validator=_positive_int)
    recording_links: int = attrs.field(default=4, validator=_positive_int)
    # Readout and timing (used by the emulator, kept here so there is one source of truth).
    cadc_bits: int = attrs.field(default=8, validator=_positive_int)
    cadc_sample_interval: float = attrs.field(default=1.7e-6, validator=_positive_float)
    cadc_max_samples: int = attrs.field(default=100, validator=_positive_int)
    madc_bits: int = attrs.field(default=10, validator=_positive_int)
    madc_sample_rate: float = attrs.field(default=29.4e6, validator=_positive_float)
    madc_max_circuits: int = attrs.field(default=2, validator=_positive_int)
    fpga_clock: float = attrs.field(default=125e6, validator=_positive_float)
    speedup: float = attrs.field(default=1000.0, validator=_positive_float)
    # Calibratable ranges (seconds of hardware time; capacitance in its 6-bit code).
    tau_mem_range: tuple[float, float] = (0.1e-6, 200e-6)
    tau_syn_range: tuple[float, float] = (0.1e-6, 50e-6)
    refractory_min: float = 0.04e-6
    capacitance_range: tuple[int, int] = (0, 63)
    # Every circuit has a constant current source (a 10-bit DAC, sourcing or sinking), used to
    # measure a chip's dynamic range. `constant_current_slew`: CADC units per second that one DAC
    # unit drives a membrane of full capacitance (code 63) — an assumed value (docs/emulator.md):
    # about 1 nA per unit on 2.2 pF and ~4.7 mV per CADC unit, so 1000 units move ~100 CADC/µs.
    constant_current_max: int = attrs.field(default=1022, validator=_positive_int)
    constant_current_slew: float = attrs.field(default=2e4, validator=_positive_float)

    def __attrs_post_init__(self) -> None:
        if self.hemispheres > 2:
            raise ParameterError(f"ChipSpec: hemispheres must be 1 or 2 (neuron circuits come in a top and a "
                                 f"bottom row); got {self.hemispheres}")
        if self.synapse_rows % self.rows_per_driver:
            raise ParameterError(f"ChipSpec: synapse_rows ({self.synapse_rows}) must be a multiple of "
                                 f"rows_per_driver ({self.rows_per_driver})")
        drivers = self.synapse_rows // self.rows_per_driver
        if drivers % self.buses_per_hemisphere:
            raise ParameterError(f"ChipSpec: the {drivers} synapse drivers per hemisphere must divide evenly over "
                                 f"{self.buses_per_hemisphere} event buses")
        per_bus = drivers // self.buses_per_hemisphere
        # Driver groups are aligned power-of-two blocks selected by masked row-select bits.
        if not _is_power_of_two(per_bus) or per_bus > 2 ** self.row_select_bits:
            raise ParameterError(f"ChipSpec: drivers per bus ({per_bus}) must be a power of two of at most "
                                 f"2**row_select_bits = {2 ** self.row_select_bits}")
        if self.columns % self.columns_per_event_output:
            raise ParameterError(f"ChipSpec: columns ({self.columns}) must be a multiple of columns_per_event_output "
                                 f"({self.columns_per_event_output})")
        if self.columns % self.quadrant_columns:
            raise ParameterError(f"ChipSpec: columns ({self.columns}) must be a multiple of quadrant_columns "
                                 f"({self.quadrant_columns})")

    # ------------------------------------------------------------------ derived counts
    @property
    def circuits(self) -> int:
        """Neuron circuits on the chip (512), enumerated `hemisphere * columns + column`."""
        return self.hemispheres * self.columns

    @property
    def drivers_per_hemisphere(self) -> int:
        return self.synapse_rows // self.rows_per_driver

    @property
    def drivers_per_bus(self) -> int:
        return self.drivers_per_hemisphere // self.buses_per_hemisphere

    @property
    def rows_per_bus(self) -> int:
        """Synapse rows one event bus reaches in one hemisphere (64): the per-bus fan-in of a circuit."""
        return self.drivers_per_bus * self.rows_per_driver

    @property
    def buses(self) -> int:
        """Event buses on the chip; bus `h * buses_per_hemisphere + b` is bus b of hemisphere h."""
        return self.hemispheres * self.buses_per_hemisphere

    @property
    def event_outputs(self) -> int:
        """Neuron event outputs (8); output o serves columns [o*32, o*32+32) of every hemisphere."""
        return self.columns // self.columns_per_event_output

    @property
    def max_weight(self) -> int:
        return 2 ** self.weight_bits - 1

    @property
    def labels(self) -> int:
        """Distinct 6-bit synapse labels (64): sources a driver group can tell apart."""
        return 2 ** self.label_bits

    @property
    def quadrants(self) -> int:
        return self.circuits // self.quadrant_columns

    @property
    def crossbar_inputs(self) -> int:
        """Neuron event outputs, then external links, then background generators (20)."""
        return self.event_outputs + self.external_links + self.background_generators

    @property
    def crossbar_outputs(self) -> int:
        """Event buses, then recording links (12)."""
        return self.buses + self.recording_links

    @property
    def row_select_shift(self) -> int:
        """Bit position of the row-select bits in an event label (above the synapse label)."""
        return self.label_bits

    @property
    def crossbar_shift(self) -> int:
        """Bit position of the crossbar bits in an event label (above row select)."""
        return self.label_bits + self.row_select_bits

    @property
    def clock_period(self) -> float:
        """Seconds per FPGA clock tick (8 ns): the grid of input and output spike times."""
        return 1.0 / self.fpga_clock

    # ------------------------------------------------------------------ helpers
    def bus_of_column(self, column: int) -> int:
        """The bus (within each hemisphere) that a spike of a circuit in `column` reaches."""
        return (column // self.columns_per_event_output) % self.buses_per_hemisphere

    def hemisphere_name(self, hemisphere: int) -> str:
        return ("top", "bottom")[hemisphere] if self.hemispheres == 2 else f"hemisphere {hemisphere}"

    def variant(self, **changes: Any) -> "ChipSpec":
        """A validated copy with some counts changed, e.g. `variant(columns=64, synapse_rows=64)`.

        Derived counts (drivers, buses per event output, crossbar size) follow automatically.
        """
        unknown = [k for k in changes if k not in attrs.fields_dict(ChipSpec)]
        if unknown:
            raise ParameterError(f"ChipSpec.variant: unknown field {unknown[0]!r}; fields: "
                                 f"{', '.join(attrs.fields_dict(ChipSpec))}")
        changes.setdefault("name", f"{self.name} variant")
        return attrs.evolve(self, **changes)

    @classmethod
    def small(cls) -> "ChipSpec":
        """A small chip for tests and quick experiments: 2 × 64 circuits, 32 rows, 4 drivers per bus."""
        return cls(name="small", columns=64, synapse_rows=32, columns_per_event_output=16, quadrant_columns=32)

    def describe(self) -> str:
        """One line with the counts that decide whether a network fits."""
        return (f"{self.name}: {self.circuits} neuron circuits ({self.hemispheres} × {self.columns}), "
                f"{self.synapse_rows} synapse rows × {self.columns} columns per hemisphere, "
                f"{self.drivers_per_hemisphere} drivers per hemisphere on {self.buses_per_hemisphere} buses "
                f"({self.drivers_per_bus} each), {self.labels} labels, weights 0..{self.max_weight}")


HICANN_X = ChipSpec()
"""The default chip: BrainScaleS-2's HICANN-X."""
