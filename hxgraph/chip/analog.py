"""The analog side of an emulated chip: its calibration and the imperfections it keeps.

A real chip is calibrated, but not perfectly: every neuron circuit keeps small offsets of
its leak, threshold and reset, its time constants deviate by a few percent, every synapse
has its own gain, readout is noisy, and a large summed synaptic input saturates. The
magnitudes are configurable (`docs/emulator.md` says which rest on published calibration
results and which are assumed), and one `seed` fixes the fixed-pattern part of one chip.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

import attrs
import torch

from hxgraph.chip.calibration import Calibration
from hxgraph.chip.spec import ChipSpec
from hxgraph.errors import ParameterError, UnknownNameError, did_you_mean, known


def _non_negative(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
        raise ParameterError(f"AnalogModel: {attribute.name} must be a number >= 0; got {value!r}")


def _positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value <= 0:
        raise ParameterError(f"AnalogModel: {attribute.name} must be a number > 0; got {value!r}")


def _as_pair(value: Any) -> Any:
    return tuple(float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value) \
        if isinstance(value, (tuple, list)) else value


def _membrane_range(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    ok = (isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)
                                  for v in value) and value[0] < value[1])
    if not ok:
        raise ParameterError(f"AnalogModel: membrane_range must be (lowest, highest) membrane in CADC units with "
                             f"lowest < highest (infinite for no rails); got {value!r}")


@attrs.frozen(init=False)
class AnalogModel:
    """The calibration an emulated chip achieves and the imperfections it keeps.

    `calibration` (`Calibration`): how model values become chip values — trace scale, leak
    operating point, synaptic gain per hardware weight unit (`weight_scale` follows).

    Imperfections (standard deviations): `leak_offset`, `threshold_offset`, `reset_offset` in
    CADC units per circuit; `tau_mismatch` relative, per circuit and time constant;
    `synapse_gain_mismatch` relative, per synapse; `readout_noise` CADC units per sample and
    trial; `saturation` the synaptic current (CADC units) at which the summed input saturates
    (soft, `s · tanh(i / s)`, see `saturate_`; `inf` for none); `membrane_range` the rails the membrane cannot leave
    (CADC units; `(-inf, inf)` for none). `docs/emulator.md` gives each default's source
    (or says it is assumed); `from_measurements` builds a model from your own chip's numbers.

    `trace_scale=` / `weight_scale=` (instead of `calibration`) build the calibration in which
    that pair is consistent (`Calibration.from_scales`), as the emulator's earlier API took them.
    """

    calibration: Calibration = attrs.field(factory=Calibration)
    leak_offset: float = attrs.field(default=2.0, validator=_non_negative)
    threshold_offset: float = attrs.field(default=2.0, validator=_non_negative)
    reset_offset: float = attrs.field(default=2.0, validator=_non_negative)
    tau_mismatch: float = attrs.field(default=0.07, validator=_non_negative)
    synapse_gain_mismatch: float = attrs.field(default=0.07, validator=_non_negative)
    readout_noise: float = attrs.field(default=1.5, validator=_non_negative)
    saturation: float = attrs.field(default=800.0, validator=_positive)
    membrane_range: tuple[float, float] = attrs.field(default=(25.0, 228.0), converter=_as_pair,
                                                      validator=_membrane_range)

    def __init__(self, calibration: Optional[Calibration] = None, *, trace_scale: Optional[float] = None,
                 weight_scale: Optional[float] = None, **imperfections: Any) -> None:
        if trace_scale is not None or weight_scale is not None:
            if calibration is not None:
                raise ParameterError("AnalogModel: give calibration=... or trace_scale/weight_scale, not both")
            default = Calibration()
            calibration = Calibration.from_scales(default.trace_scale if trace_scale is None else trace_scale,
                                                  default.weight_scale if weight_scale is None else weight_scale)
        fields = IMPERFECTIONS + ("membrane_range",)
        unknown = [k for k in imperfections if k not in fields]
        if unknown:
            raise UnknownNameError(f"AnalogModel: unknown field {unknown[0]!r}{did_you_mean(unknown[0], fields)}"
                                   f"; fields: calibration, {', '.join(fields)}")
        self.__attrs_init__(calibration=Calibration() if calibration is None else calibration, **imperfections)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.calibration, Calibration):
            raise ParameterError(f"AnalogModel: calibration must be a hxgraph.chip.Calibration; got "
                                 f"{self.calibration!r}")

    @property
    def trace_scale(self) -> float:
        """Model units per CADC unit (the calibration's)."""
        return self.calibration.trace_scale

    @property
    def weight_scale(self) -> float:
        """Hardware weight units per model weight unit that act like the model's weight (the calibration's)."""
        return self.calibration.weight_scale

    @property
    def synapse_gain(self) -> float:
        """Synaptic current (CADC units, model-capacitance normalised) per hardware weight unit."""
        return self.calibration.synapse_gain

    @property
    def is_ideal(self) -> bool:
        return (self.leak_offset == self.threshold_offset == self.reset_offset == self.tau_mismatch
                == self.synapse_gain_mismatch == self.readout_noise == 0.0 and math.isinf(self.saturation)
                and self.membrane_range == (-math.inf, math.inf))

    @classmethod
    def ideal(cls, calibration: Optional[Calibration] = None, *, trace_scale: Optional[float] = None,
              weight_scale: Optional[float] = None) -> "AnalogModel":
        """A perfectly calibrated chip: no mismatch, no noise, no saturation, no membrane rails."""
        return cls(calibration, trace_scale=trace_scale, weight_scale=weight_scale, leak_offset=0.0,
                   threshold_offset=0.0, reset_offset=0.0, tau_mismatch=0.0, synapse_gain_mismatch=0.0,
                   readout_noise=0.0, saturation=math.inf, membrane_range=(-math.inf, math.inf))

    def scaled(self, factor: float) -> "AnalogModel":
        """The same chip with every imperfection `factor` times as large (saturation sets in `factor` times earlier).

        The membrane rails stay where they are, except that `factor=0` (the ideal chip) has none.
        """
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor >= 0:
            raise ParameterError(f"AnalogModel.scaled: factor must be a number >= 0; got {factor!r}")
        return attrs.evolve(self, **{k: getattr(self, k) * factor for k in IMPERFECTIONS if k != "saturation"},
                            saturation=math.inf if factor == 0 else self.saturation / factor,
                            membrane_range=(-math.inf, math.inf) if factor == 0 else self.membrane_range)

    @classmethod
    def from_measurements(cls, measured: Mapping[str, Any], calibration: Optional[Calibration] = None
                          ) -> "AnalogModel":
        """An analog model from your own chip's numbers, e.g. `{"threshold_offset": 3.1, "tau_mismatch": 0.04}`.

        Keys are the imperfection names (standard deviations in the units above); what you
        did not measure keeps its default. `calibration` gives your trace scale, leak and gain.
        """
        if not isinstance(measured, Mapping):
            raise ParameterError(f"AnalogModel.from_measurements takes a mapping of measured values; got "
                                 f"{type(measured).__name__}")
        for key in measured:
            if key not in IMPERFECTIONS:
                raise UnknownNameError(f"unknown imperfection {key!r}{did_you_mean(key, IMPERFECTIONS)}; "
                                       f"measurable imperfections: {known(IMPERFECTIONS)}")
        values = {k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                  for k, v in measured.items()}
        return cls(calibration, **values)


# The saturation curve's tanh as an odd rational function x·P(x²)/Q(x²) of x = i/s, clamped to |x| <= 9
# and to |tanh| <= 1; coefficients (highest power first) fitted to tanh on [0, 9] by weighted least
# squares, within 4e-7 of it in float32. Only multiplications, additions and one division, in a fixed
# order: the torch loops and the compiled kernels (hxgraph.kernels) compute it to the same bit, which two
# library tanh functions (torch's and libm's) do not. The analog saturation is no exact tanh anyway.
SATURATION_NUMERATOR = (1.3355374584023139e-08, 2.0609595594578423e-05, 0.0034956191666424274,
                        0.13381052017211914, 1.0)
SATURATION_DENOMINATOR = (7.776849884066905e-07, 0.00032856856705620885, 0.025877099484205246,
                          0.4671436846256256, 1.0)
SATURATION_LIMIT = 9.0


def saturate_(current: torch.Tensor, saturation: float) -> torch.Tensor:
    """In place: the summed synaptic current i becomes s · tanh(i / s) (s = `saturation`, finite; i/s is
    i times the float32 reciprocal of s). The operations and their order are those of the compiled kernel
    (`hxgraph._numba_kernels._saturated`); change both together."""
    x = current.mul_(torch.tensor(1 / saturation, dtype=current.dtype).item()).clamp_(-SATURATION_LIMIT,
                                                                                      SATURATION_LIMIT)
    u = x * x
    numerator, denominator = (u * c[0] + c[1] for c in (SATURATION_NUMERATOR, SATURATION_DENOMINATOR))
    for a, b in zip(SATURATION_NUMERATOR[2:], SATURATION_DENOMINATOR[2:]):
        numerator.mul_(u).add_(a)
        denominator.mul_(u).add_(b)
    return x.mul_(numerator).div_(denominator).clamp_(-1.0, 1.0).mul_(saturation)


IMPERFECTIONS = ("leak_offset", "threshold_offset", "reset_offset", "tau_mismatch", "synapse_gain_mismatch",
                 "readout_noise", "saturation")


@attrs.frozen(eq=False)
class ChipInstance:
    """The fixed pattern of one emulated chip, drawn once from its seed.

    Offsets are per circuit (CADC units), time-constant factors per circuit, synapse gain
    factors per synapse (hemisphere, row, column); the AdEx circuits' exponential threshold,
    adaptation time constant and adaptation strength have their own per-circuit draws.
    """

    leak_offset: torch.Tensor
    threshold_offset: torch.Tensor
    reset_offset: torch.Tensor
    tau_mem_factor: torch.Tensor
    tau_syn_exc_factor: torch.Tensor
    tau_syn_inh_factor: torch.Tensor
    synapse_gain_factor: torch.Tensor
    exp_threshold_offset: torch.Tensor  # AdEx circuits: V_T offset like the threshold's, CADC units
    tau_adap_factor: torch.Tensor       # AdEx circuits: adaptation time constant, like tau_mem's
    adaptation_factor: torch.Tensor     # AdEx circuits: strength of a and b (assumed: the tau mismatch)

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
                                              analog.synapse_gain_mismatch).to(torch.float32),
                   # drawn last, so the draws above are those of chips drawn before AdEx existed
                   exp_threshold_offset=normal((n,), analog.threshold_offset),
                   tau_adap_factor=factor((n,), analog.tau_mismatch),
                   adaptation_factor=factor((n,), analog.tau_mismatch))
