"""Hardware-aware training in the mock: the chip's weight grid and its analog spread, seen while training.

A network trained on exact float weights and perfect neurons loses accuracy on the chip:
weights become 6-bit integers (`round(scale · w)`, clipped to ±63), and every circuit
deviates a little from its target. `HardwareAware` makes the mock see both while it trains:

- weights are quantized to the chip's grid in the forward pass, with a straight-through
  gradient (the latent float weight keeps learning below one grid step);
- in training mode only, each forward pass draws fresh deviations — per-neuron offsets of
  leak, threshold and reset, per-neuron time-constant factors, per-connection gain factors,
  readout noise on recorded membranes — so the trained network tolerates any one chip.

The magnitudes are in model units (relative for time constants and gains); build them from
a chip's analog model with `hxgraph.hardware_aware(analog)`, which converts CADC units
through the calibration's trace scale.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import attrs
import torch

from hxgraph.errors import ParameterError
from hxgraph.graph import LinearSaturating

NOISES = ("leak_noise", "threshold_noise", "reset_noise", "tau_noise", "gain_noise", "readout_noise")


def _non_negative(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ParameterError(f"HardwareAware: {attribute.name} must be a finite number >= 0; got {value!r}")


def _positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ParameterError(f"HardwareAware: {attribute.name} must be a finite number > 0; got {value!r}")


@attrs.frozen
class HardwareAware:
    """How the mock imitates the chip while training (see the module docstring).

    `weight_scale`: hardware units per model weight unit for projections whose transform
    leaves the scale to the calibration (the calibration's `weight_scale`); projections with
    an explicit `LinearSaturating` use their own scale and limits; custom transforms are not
    quantized (their grid is unknown). `quantize`: round to the grid (straight-through).
    Noise standard deviations: `leak_noise`, `threshold_noise`, `reset_noise`,
    `readout_noise` in model units; `tau_noise`, `gain_noise` relative.
    """

    weight_scale: float = attrs.field(validator=_positive)
    quantize: bool = True
    leak_noise: float = attrs.field(default=0.0, validator=_non_negative)
    threshold_noise: float = attrs.field(default=0.0, validator=_non_negative)
    reset_noise: float = attrs.field(default=0.0, validator=_non_negative)
    tau_noise: float = attrs.field(default=0.0, validator=_non_negative)
    gain_noise: float = attrs.field(default=0.0, validator=_non_negative)
    readout_noise: float = attrs.field(default=0.0, validator=_non_negative)

    def without_noise(self) -> "HardwareAware":
        """Quantization only."""
        return attrs.evolve(self, **{k: 0.0 for k in NOISES})

    @property
    def noisy(self) -> bool:
        return any(getattr(self, k) > 0 for k in NOISES)

    # ------------------------------------------------------------------ weights
    def grid(self, transform: Any) -> Optional[tuple[float, float, float]]:
        """(scale, lowest, highest hardware weight) of a projection's transform, or None if unknown."""
        if not isinstance(transform, LinearSaturating):
            return None
        scale = self.weight_scale if transform.scale is None else transform.scale
        if scale == 0:
            return None
        return scale, transform.min_weight, transform.max_weight

    def quantized(self, weight: torch.Tensor, transform: Any) -> torch.Tensor:
        """The weight the chip would get, in model units, with a straight-through gradient."""
        grid = self.grid(transform) if self.quantize else None
        if grid is None:
            return weight
        scale, low, high = grid
        on_grid = torch.round(weight.detach() * scale).clamp(min(low, high), max(low, high)) / scale
        return weight + (on_grid - weight.detach())

    def clipped(self, weight: torch.Tensor, transform: Any) -> torch.Tensor:
        """`weight` clipped to what the transform can send (model units); unchanged if the grid is unknown."""
        grid = self.grid(transform)
        if grid is None:
            return weight
        scale, low, high = grid
        bounds = sorted((low / scale, high / scale))
        return weight.clamp(*bounds)

    # ------------------------------------------------------------------ noise
    def noisy_weight(self, weight: torch.Tensor) -> torch.Tensor:
        """Each connection's gain drawn anew: `w · (1 + gain_noise · N(0, 1))`."""
        if self.gain_noise == 0:
            return weight
        return weight * _factor(weight.shape, self.gain_noise, weight)

    def noisy_params(self, params: dict[str, Any], size: int, like: torch.Tensor, circuits: int = 1
                     ) -> dict[str, Any]:
        """Per-neuron deviations of one draw added to a population's model values.

        A neuron made of `circuits` circuits averages their deviations, as on the chip: its
        spread is the circuit's divided by sqrt(circuits).
        """
        out = dict(params)
        shrink = 1.0 / math.sqrt(circuits)
        for key, std in (("leak", self.leak_noise), ("threshold", self.threshold_noise), ("reset", self.reset_noise)):
            if key in out and std > 0:
                out[key] = out[key] + torch.randn(size, dtype=like.dtype, device=like.device) * (std * shrink)
        for key in ("tau_mem", "tau_syn"):
            if key in out and self.tau_noise > 0:
                out[key] = out[key] * _factor((size,), self.tau_noise * shrink, like)
        return out

    def noisy_membrane(self, membrane: torch.Tensor) -> torch.Tensor:
        if self.readout_noise == 0:
            return membrane
        return membrane + torch.randn_like(membrane) * self.readout_noise


def _factor(shape: Any, std: float, like: torch.Tensor) -> torch.Tensor:
    # Clamped like the emulated chip's factors, so a draw never flips a sign.
    return (1 + torch.randn(shape, dtype=like.dtype, device=like.device) * std).clamp(0.5, 1.5)
