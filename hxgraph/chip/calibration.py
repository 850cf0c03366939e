"""What the chip's calibration achieves: one place that turns model values into chip values.

On BrainScaleS-2 the calibration (calix) tunes every neuron circuit to targets given in
CADC units (leak, reset, threshold), seconds (time constants) and the synaptic input
strength. A network trained in model units transfers to the chip only if those targets
and the software → hardware weight scale agree with the model: one model unit of membrane
voltage must be the same number of CADC units for the threshold, for the readout and for
the effect of a weight. `Calibration` holds the three numbers that fix this:

- `trace_scale`: model units per CADC unit (the readout's conversion; its inverse is how
  many CADC units one model unit spans between leak and threshold);
- `leak`: the CADC operating point a model leak is placed at;
- `synapse_gain`: CADC units of (model-capacitance normalised) synaptic current that one
  hardware weight unit injects, so a model weight w sent as `weight_scale · w` hardware
  units acts like w in the model when `weight_scale = 1 / (synapse_gain · trace_scale)`.

Chip values are derived per neuron, anchored at the leak (the LIF dynamics depend on
`threshold − leak` and `reset − leak` only): `chip = chip_leak + (model − model_leak) /
trace_scale`. Time constants and the refractory time are seconds of hardware time on both
sides; the capacitance code is `63 · c / 10e-6`. A `Mixed(model, chip)` value is taken as
given; `check_consistency` reports where such a value (or a weight transform's scale)
contradicts the model.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Union

import attrs
import torch

from hxgraph.errors import ParameterError
from hxgraph.graph import Graph, LinearSaturating, Mixed, Population, model_value

# hxtorch's hardware CI trains yin-yang on the real chip with these two numbers (leak/reset 80,
# threshold 150: 70 CADC × 0.0147 = 1.03 model units), so they are the consistent pair we calibrate to.
HXTORCH_CI_TRACE_SCALE = 0.0147
HXTORCH_CI_WEIGHT_SCALE = 70.0
# The model capacitance that the largest capacitance code (63) corresponds to (hxtorch's default pair).
MODEL_CAPACITANCE = 10e-6
CAPACITANCE_CODE = 63.0
CADC_RANGE = (0.0, 255.0)
# A chip threshold this high switches a neuron's spiking off on purpose (hxgraph.spiking's
# BatchDropout does that): such neurons are not checked against the model.
SILENCED_THRESHOLD = 1e6
# Membrane voltages, placed relative to the leak; time parameters, seconds on both sides.
VOLTAGES = ("reset", "threshold", "exp_threshold")
TIMES = ("tau_mem", "tau_syn", "refractory_time", "tau_adap")
# AdEx: the exponential slope (a voltage difference) and the spike-triggered increment (a current,
# which moves the membrane like a voltage per capacitance) scale with 1 / trace_scale; the
# subthreshold adaptation strength relates a current to a voltage and keeps its value.
DIFFERENCES = ("exp_slope", "b")
RATIOS = ("a",)

TraceScales = Mapping[str, Union[float, torch.Tensor]]


def _positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ParameterError(f"Calibration: {attribute.name} must be a finite number > 0; got {value!r}")


def _finite(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParameterError(f"Calibration: {attribute.name} must be a finite number; got {value!r}")


@attrs.frozen
class Calibration:
    """What the emulated chip's calibration achieves (see the module docstring).

    Defaults match the real chip as hxtorch's hardware CI uses it: trace scale 0.0147 model
    units per CADC unit (about 68 CADC between leak and threshold per model unit), leak at
    80 CADC, and a synaptic gain that makes weight scale 70 the consistent choice.
    `tolerance` is the relative deviation `check_consistency` accepts.
    """

    trace_scale: float = attrs.field(default=HXTORCH_CI_TRACE_SCALE, validator=_positive)
    leak: float = attrs.field(default=80.0, validator=_finite)
    synapse_gain: float = attrs.field(default=1.0 / (HXTORCH_CI_WEIGHT_SCALE * HXTORCH_CI_TRACE_SCALE),
                                      validator=_positive)
    tolerance: float = attrs.field(default=0.05, validator=_positive)

    @classmethod
    def from_scales(cls, trace_scale: float, weight_scale: float, **options: Any) -> "Calibration":
        """The calibration in which `weight_scale` hardware units per model weight unit is consistent."""
        if isinstance(weight_scale, bool) or not isinstance(weight_scale, (int, float)) or not weight_scale > 0:
            raise ParameterError(f"Calibration.from_scales: weight_scale must be a number > 0; got {weight_scale!r}")
        return cls(trace_scale=trace_scale, synapse_gain=1.0 / (weight_scale * trace_scale), **options)

    @property
    def weight_scale(self) -> float:
        """Hardware weight units per model weight unit that act like the model's weight."""
        return 1.0 / (self.synapse_gain * self.trace_scale)

    def consistent_weight_scale(self, trace_scale: Optional[float] = None) -> float:
        """The weight scale that matches readout with `trace_scale` (default: this calibration's)."""
        return 1.0 / (self.synapse_gain * (self.trace_scale if trace_scale is None else trace_scale))

    # ------------------------------------------------------------------ model → chip
    def chip_values(self, population: Population) -> dict[str, torch.Tensor]:
        """Chip values (float64, one per neuron) of a population's circuit parameters.

        `Mixed` values give their chip half; plain values are derived (module docstring).
        """
        size = population.size
        params = population.params
        out: dict[str, torch.Tensor] = {}
        if "leak" not in params:
            return out
        model_leak = _per_neuron(model_value(params["leak"]), size)
        leak = params["leak"]
        out["leak"] = (_per_neuron(leak.hardware, size) if isinstance(leak, Mixed)
                       else torch.full((size,), float(self.leak), dtype=torch.float64))
        for key in VOLTAGES:
            if key in params:
                value = params[key]
                out[key] = (_per_neuron(value.hardware, size) if isinstance(value, Mixed)
                            else out["leak"] + (_per_neuron(value, size) - model_leak) / self.trace_scale)
        for key in TIMES + RATIOS:
            if key in params:
                value = params[key]
                out[key] = _per_neuron(value.hardware if isinstance(value, Mixed) else value, size)
        for key in DIFFERENCES:
            if key in params:
                value = params[key]
                out[key] = (_per_neuron(value.hardware, size) if isinstance(value, Mixed)
                            else _per_neuron(value, size) / self.trace_scale)
        if "capacitance" in params:
            value = params["capacitance"]
            out["capacitance"] = (_per_neuron(value.hardware, size) if isinstance(value, Mixed)
                                  else _per_neuron(value, size) * (CAPACITANCE_CODE / MODEL_CAPACITANCE))
        return out

    def resolve_transform(self, transform: Any) -> Any:
        """A projection's transform with the calibrated weight scale filled in where it is left open."""
        if isinstance(transform, LinearSaturating) and transform.scale is None:
            return attrs.evolve(transform, scale=self.weight_scale)
        return transform


def _per_neuron(value: Any, size: int) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().to(torch.float64).reshape(-1).expand(size).clone()
    return torch.full((size,), float(value), dtype=torch.float64)


# ---------------------------------------------------------------------- consistency check

@attrs.frozen
class Inconsistency:
    """One place where the chip would not do what the mock does: population or projection, parameter, message."""

    subject: str
    parameter: str
    message: str

    def __str__(self) -> str:
        return self.message


def format_scale(scale: float) -> str:
    """1/50 for 0.02, 0.0147 for 0.0147: trace scales read best as the fraction users write."""
    inverse = 1.0 / scale
    return f"1/{round(inverse)}" if abs(inverse - round(inverse)) < 1e-6 * inverse else f"{scale:.4g}"


def _worst(deviation: torch.Tensor) -> int:
    return int(torch.argmax(deviation.abs()))


def _number(value: torch.Tensor, index: int) -> str:
    """A per-neuron value as one number if all neurons share it, else `value of neuron i`."""
    v = float(value[index])
    same = bool((value == value[0]).all())
    return f"{v:.4g}" if same else f"{v:.4g} (neuron {index})"


def check_consistency(graph: Graph, calibration: Calibration, trace_scale: Optional[TraceScales] = None
                      ) -> tuple[Inconsistency, ...]:
    """Every chip value or weight scale in `graph` that contradicts the model, in model units.

    `trace_scale` optionally maps populations to the trace scale their membranes are read
    back with (default: the calibration's); that is the conversion the comparison uses.
    Also reported: chip voltages outside the CADC range and capacitance codes outside 1..63.
    """
    trace_scale = dict(trace_scale or {})
    found: list[Inconsistency] = []
    for pop in graph.populations.values():
        if pop.is_input:
            continue
        ts = trace_scale.get(pop.name, calibration.trace_scale)
        ts = _per_neuron(ts, pop.size) if isinstance(ts, torch.Tensor) else torch.full((pop.size,), float(ts),
                                                                                      dtype=torch.float64)
        found += _population_findings(pop, calibration, ts)
    for proj in graph.projections.values():
        target = graph.population(proj.target)
        ts = trace_scale.get(target.name, calibration.trace_scale)
        ts = float(ts.double().mean()) if isinstance(ts, torch.Tensor) else float(ts)
        finding = _projection_finding(proj.name, calibration.resolve_transform(proj.transform), calibration, ts)
        if finding is not None:
            found.append(finding)
    return tuple(found)


def _population_findings(pop: Population, calibration: Calibration, ts: torch.Tensor) -> list[Inconsistency]:
    chip = calibration.chip_values(pop)
    params = pop.params
    tol = calibration.tolerance
    name = pop.name
    found = []
    if "leak" not in chip:
        return found
    model_leak = _per_neuron(model_value(params["leak"]), pop.size)
    # Voltages compare relative to the leak, scaled by the span that matters (threshold − leak).
    span = (_per_neuron(model_value(params["threshold"]), pop.size) - model_leak).abs() if "threshold" in params \
        else torch.ones(pop.size, dtype=torch.float64)
    span = torch.where(span > 0, span, torch.ones_like(span))
    checked = (chip["threshold"] < SILENCED_THRESHOLD) if "threshold" in chip else torch.ones(pop.size, dtype=torch.bool)
    for key in VOLTAGES:
        if key not in params or not isinstance(params[key], Mixed):
            continue
        model = _per_neuron(model_value(params[key]), pop.size) - model_leak
        on_chip = (chip[key] - chip["leak"]) * ts
        deviation = torch.where(checked, (on_chip - model) / span, torch.zeros_like(span))
        if bool((deviation.abs() > tol).any()):
            i = _worst(deviation)
            suggest = float(chip["leak"][i] + model[i] / ts[i])
            found.append(Inconsistency(name, key, (
                f"{name}: chip {key} {_number(chip[key], i)} with leak {_number(chip['leak'], i)} is "
                f"{float(on_chip[i]):.3g} model units above the leak at trace scale {format_scale(float(ts[i]))}; the "
                f"mock uses {float(model[i]):.3g} — use {key}=Mixed({float(model_value_at(params[key], i)):.4g}, "
                f"{suggest:.1f}) or drop the chip value")))
    for key in TIMES:
        if key in params and isinstance(params[key], Mixed):
            model = _per_neuron(params[key].model, pop.size)
            deviation = (chip[key] - model) / torch.where(model > 0, model, torch.ones_like(model))
            if bool((deviation.abs() > tol).any()):
                i = _worst(deviation)
                found.append(Inconsistency(name, key, (
                    f"{name}: chip {key} {_number(chip[key], i)} s differs from the mock's {float(model[i]):.4g} s "
                    f"by {100 * float(deviation[i]):+.0f} % — give one value for both, or drop the chip value")))
    if "capacitance" in params and isinstance(params["capacitance"], Mixed):
        model = _per_neuron(params["capacitance"].model, pop.size) * (CAPACITANCE_CODE / MODEL_CAPACITANCE)
        deviation = chip["capacitance"] / model - 1
        if bool((deviation.abs() > tol).any()):
            i = _worst(deviation)
            found.append(Inconsistency(name, "capacitance", (
                f"{name}: chip capacitance code {_number(chip['capacitance'], i)} is not the mock's capacitance "
                f"{model_value_at(params['capacitance'], i):.4g} "
                f"(code {float(model[i]):.4g} = 63 · c / 10e-6), so inputs move the membrane "
                f"{float(model[i] / chip['capacitance'][i]):.2f}× as much as in the mock — drop the chip value")))
    low, high = CADC_RANGE
    for key in ("leak",) + VOLTAGES:
        if key not in chip:
            continue
        outside = ((chip[key] < low) | (chip[key] > high)) & checked
        if not bool(outside.any()):
            continue
        i = int(outside.nonzero()[0, 0])
        where = f"{name}: chip {key} {float(chip[key][i]):.4g} CADC is outside the CADC range {low:.0f}..{high:.0f}"
        if key == "leak":
            found.append(Inconsistency(name, key, f"{where}, so the chip cannot reach it — give a leak in range "
                                                  "with Mixed(model, chip) or Calibration(leak=...)"))
            continue
        model = float(_per_neuron(model_value(params[key]), pop.size)[i] - model_leak[i])
        scale = float(ts[i]) if isinstance(params[key], Mixed) else calibration.trace_scale  # derived: calibration's
        found.append(Inconsistency(name, key, (
            f"{where}, so the chip cannot reach it (the model's {key} − leak of {model:.4g} spans "
            f"{float(chip[key][i] - chip['leak'][i]):.4g} CADC at trace scale {format_scale(scale)}) — "
            f"give model values in units where threshold − leak is about 1, or a chip value with Mixed(model, chip)")))
    if "capacitance" in chip:
        bad = (chip["capacitance"] < 1) | (chip["capacitance"] > CAPACITANCE_CODE)
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            found.append(Inconsistency(name, "capacitance", (
                f"{name}: capacitance code {float(chip['capacitance'][i]):.4g} is outside the chip's 1..63 "
                f"(model capacitance up to {MODEL_CAPACITANCE:g} maps to codes up to 63)")))
    return found


def model_value_at(param: Any, index: int) -> float:
    value = model_value(param)
    return float(value[index]) if isinstance(value, torch.Tensor) else float(value)


def _projection_finding(name: str, transform: Any, calibration: Calibration, ts: float) -> Optional[Inconsistency]:
    """A linear transform's scale against the one that makes a hardware weight act like the model's."""
    if not isinstance(transform, LinearSaturating):
        return None  # a custom callable: we cannot tell its scale
    expected = calibration.consistent_weight_scale(ts)
    ratio = transform.scale / expected
    if abs(ratio - 1) <= calibration.tolerance:
        return None
    return Inconsistency(name, "transform", (
        f"{name}: weight scale {transform.scale:.4g} makes one model weight unit "
        f"{transform.scale * calibration.synapse_gain:.3g} CADC of synaptic input = {ratio:.3g} model units at "
        f"trace scale {format_scale(ts)} (the chip's gain is {calibration.synapse_gain:.4g} CADC per hardware weight "
        f"unit); the mock uses 1 — use LinearSaturating(scale={expected:.4g}) or the default transform"))
