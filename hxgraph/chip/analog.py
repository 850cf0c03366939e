"""The analog side of an emulated chip: calibration facts and imperfections.

A real chip is calibrated, but not perfectly: every neuron circuit keeps small offsets of
its leak, threshold and reset, its time constants deviate by a few percent, every synapse
has its own gain, readout is noisy, and a large summed synaptic input saturates. The
magnitudes are *assumed* (CHIP.md §4 gives no public numbers); they are configurable, and
one `seed` fixes the fixed-pattern part of one emulated chip.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import torch

from hxgraph.chip.spec import ChipSpec
from hxgraph.errors import ParameterError


def _non_negative(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
        raise ParameterError(f"AnalogModel: {attribute.name} must be a number >= 0; got {value!r}")


def _positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value <= 0:
        raise ParameterError(f"AnalogModel: {attribute.name} must be a number > 0; got {value!r}")


@attrs.frozen
class AnalogModel:
    """Calibration facts and imperfection magnitudes of an emulated chip.

    Calibration: `trace_scale` model units per CADC unit (measured near 1/45–1/50) and
    `weight_scale` hardware weight units per model weight unit (measured near 50–70) fix
    the synaptic gain — the current one hardware weight unit injects — as
    `1 / (weight_scale * trace_scale)`, so a model weight w scaled by `weight_scale` moves
    the membrane by the model's PSP divided by `trace_scale` (in CADC units). The capacitance
    code scales the input gain (63 ↔ the model's default capacitance 10e-6).

    Imperfections (standard deviations): `leak_offset`, `threshold_offset`, `reset_offset` in
    CADC units per circuit; `tau_mismatch` relative, per circuit and time constant;
    `synapse_gain_mismatch` relative, per synapse; `readout_noise` CADC units per sample and
    trial; `saturation` the synaptic current (CADC units) at which the summed input saturates
    (soft, `s · tanh(i / s)`; `inf` for none).
    """

    trace_scale: float = attrs.field(default=1 / 50, validator=_positive)
    weight_scale: float = attrs.field(default=64.0, validator=_positive)
    leak_offset: float = attrs.field(default=2.0, validator=_non_negative)
    threshold_offset: float = attrs.field(default=2.0, validator=_non_negative)
    reset_offset: float = attrs.field(default=2.0, validator=_non_negative)
    tau_mismatch: float = attrs.field(default=0.07, validator=_non_negative)
    synapse_gain_mismatch: float = attrs.field(default=0.07, validator=_non_negative)
    readout_noise: float = attrs.field(default=1.5, validator=_non_negative)
    saturation: float = attrs.field(default=800.0, validator=_positive)

    @property
    def synapse_gain(self) -> float:
        """Synaptic current (CADC units, model-capacitance normalised) per hardware weight unit."""
        return 1.0 / (self.weight_scale * self.trace_scale)

    @property
    def is_ideal(self) -> bool:
        return (self.leak_offset == self.threshold_offset == self.reset_offset == self.tau_mismatch
                == self.synapse_gain_mismatch == self.readout_noise == 0.0 and math.isinf(self.saturation))

    @classmethod
    def ideal(cls, trace_scale: float = 1 / 50, weight_scale: float = 64.0) -> "AnalogModel":
        """A perfectly calibrated chip: no mismatch, no noise, no saturation."""
        return cls(trace_scale=trace_scale, weight_scale=weight_scale, leak_offset=0.0, threshold_offset=0.0,
                   reset_offset=0.0, tau_mismatch=0.0, synapse_gain_mismatch=0.0, readout_noise=0.0,
                   saturation=math.inf)


@attrs.frozen(eq=False)
class ChipInstance:
    """The fixed pattern of one emulated chip, drawn once from its seed.

    Offsets are per circuit (CADC units), time-constant factors per circuit, synapse gain
    factors per synapse (hemisphere, row, column).
    """

    leak_offset: torch.Tensor
    threshold_offset: torch.Tensor
    reset_offset: torch.Tensor
    tau_mem_factor: torch.Tensor
    tau_syn_exc_factor: torch.Tensor
    tau_syn_inh_factor: torch.Tensor
    synapse_gain_factor: torch.Tensor

    @classmethod
    def draw(cls, spec: ChipSpec, analog: AnalogModel, seed: int) -> "ChipInstance":
        g = torch.Generator().manual_seed(seed)
        n = spec.circuits

        def normal(shape: tuple, std: float) -> torch.Tensor:
            return torch.randn(shape, generator=g, dtype=torch.float64) * std

        def factor(shape: tuple, std: float) -> torch.Tensor:
            # Clamp far tails so a drawn factor never flips the sign of a time constant or gain.
            return (1.0 + normal(shape, std)).clamp(min=0.5, max=1.5)

        return cls(leak_offset=normal((n,), analog.leak_offset), threshold_offset=normal((n,), analog.threshold_offset),
                   reset_offset=normal((n,), analog.reset_offset), tau_mem_factor=factor((n,), analog.tau_mismatch),
                   tau_syn_exc_factor=factor((n,), analog.tau_mismatch),
                   tau_syn_inh_factor=factor((n,), analog.tau_mismatch),
                   synapse_gain_factor=factor((spec.hemispheres, spec.synapse_rows, spec.columns),
                                              analog.synapse_gain_mismatch).to(torch.float32))
