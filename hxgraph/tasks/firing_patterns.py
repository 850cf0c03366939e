"""The classic AdEx firing patterns (Naud et al. 2008) on the mock and on the emulated chip.

Naud, Marcille, Clopath, Gerstner (2008), "Firing patterns in the adaptive exponential
integrate-and-fire model", Biol. Cybern. 99:335, Table 1: seven parameter sets and the
current step that brings out each pattern. Here they run on the chip's accelerated time base
(1000× faster: ms become µs), with voltages in mV as model units, the spike cut at
V_T + 5 ΔT, and the current from t = 0.

    from hxgraph.tasks import firing_patterns as fp
    mock = fp.run_mock("adaptation")          # spike times, membrane and adaptation traces
    chip = fp.run_chip("adaptation")          # the same neuron on the emulated chip (MADC trace)
    fp.classify(mock.spike_times, fp.DURATION)  # -> "adaptation"
"""

from __future__ import annotations

import math
from typing import Optional

import attrs
import torch

from hxgraph.builder import Experiment
from hxgraph.chip import AnalogModel, Calibration, Emulator, place_and_route
from hxgraph.errors import ParameterError, UnknownNameError, did_you_mean, known
from hxgraph.graph.memory import check_allocation
from hxgraph.mock import functional as F

__all__ = ["NAUD_2008", "DURATION", "DT", "SPEEDUP", "CHIP_CALIBRATION", "pattern_parameters", "run_mock",
           "run_chip", "classify", "PatternRun"]

# name: (C pF, gL nS, EL mV, VT mV, ΔT mV, a nS, τw ms, b pA, Vr mV, I pA)
NAUD_2008 = {
    "tonic": (200, 10, -70, -50, 2, 2, 30, 0, -58, 500),
    "adaptation": (200, 12, -70, -50, 2, 2, 300, 60, -58, 500),
    "initial_burst": (130, 18, -58, -50, 2, 4, 150, 120, -50, 400),
    "regular_bursting": (200, 10, -58, -50, 2, 2, 120, 100, -46, 210),
    "delayed_accelerating": (200, 12, -70, -50, 2, -10, 300, 0, -58, 300),
    "transient": (100, 10, -65, -50, 2, 10, 90, 100, -47, 180),
    "irregular": (100, 12, -60, -50, 2, -11, 130, 30, -48, 160),
}
SPEEDUP = 1000.0
DURATION = 500e-6   # seconds of chip time (500 ms of biology)
DT = 0.1e-6
# Model capacitance per pF: 200 pF becomes 2e-6 model units (capacitance code 12.6 on the chip).
CAPACITANCE_PER_PF = 1e-8
# 0.5 mV per CADC unit: the patterns' -70..-40 mV fit the CADC range around the leak at 80.
CHIP_CALIBRATION = Calibration(trace_scale=0.5)


@attrs.frozen(eq=False)
class PatternRun:
    """One neuron's response to the pattern's current step: spike times (s), and traces on `times` (s)."""

    spike_times: list
    times: torch.Tensor
    membrane: torch.Tensor            # mV
    adaptation: Optional[torch.Tensor]  # model current units (None on the chip: it reads the membrane)


def _checked(name: str) -> tuple:
    if not isinstance(name, str) or name not in NAUD_2008:
        raise UnknownNameError(f"unknown firing pattern {name!r}{did_you_mean(name, NAUD_2008)}; patterns: "
                               f"{known(NAUD_2008)}")
    return NAUD_2008[name]


def pattern_parameters(name: str) -> tuple[dict, float]:
    """hxgraph AdEx parameters (mV, seconds of chip time) of a pattern, and its current in model units."""
    C, gL, EL, VT, DT_, a, tau_w, b, Vr, current = _checked(name)
    c = C * CAPACITANCE_PER_PF
    # pA / pF = mV / ms = 1e3 mV/s of biology, SPEEDUP times that on the chip; times c: model current.
    to_model = c * SPEEDUP * 1e3 / C
    params = dict(leak=float(EL), reset=float(Vr), threshold=float(VT + 5 * DT_), exp_threshold=float(VT),
                  exp_slope=float(DT_), tau_mem=C / gL * 1e-3 / SPEEDUP, capacitance=c, a=a * to_model,
                  b=b * to_model, tau_adap=tau_w * 1e-3 / SPEEDUP, refractory_time=0.0)
    return params, current * to_model


def _steps(duration: float, dt: float) -> int:
    """Time steps of a run, refusing what is not a positive duration and step, or would not fit in memory."""
    for what, value in (("duration", duration), ("dt", dt)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ParameterError(f"firing_patterns: {what} must be a positive number of seconds; got {value!r}")
    steps = int(round(duration / dt))
    if steps < 1:
        raise ParameterError(f"firing_patterns: duration {duration:g} s is shorter than one step of {dt:g} s")
    check_allocation(64.0 * steps, f"a firing-pattern run of {steps:,} steps", "a shorter duration or a larger dt")
    return steps


def run_mock(name: str, duration: float = DURATION, dt: float = DT) -> PatternRun:
    """The pattern in the mock (float64): the current enters as synaptic input with tau_syn = dt."""
    params, current = pattern_parameters(name)
    steps = _steps(duration, dt)
    x = torch.full((steps, 1, 1), current, dtype=torch.float64)
    z, v, _, w = F.adex_integration(x, tau_syn=dt, dt=dt, **params)
    times = torch.arange(steps, dtype=torch.float64) * dt
    return PatternRun([float(t) for t in times[z[:, 0, 0] > 0]], times, v[:, 0, 0], w[:, 0, 0])


def run_chip(name: str, duration: float = DURATION, dt: float = DT, analog: Optional[AnalogModel] = None,
             seed: int = 0) -> PatternRun:
    """The pattern on the emulated chip: the neuron's constant current source gives the step, the
    MADC records the membrane. `analog` (default: the ideal chip in `CHIP_CALIBRATION`) and `seed` pick the chip."""
    params, current = pattern_parameters(name)
    analog = AnalogModel.ideal(calibration=CHIP_CALIBRATION) if analog is None else analog
    if not isinstance(analog, AnalogModel):
        raise ParameterError(f"firing_patterns.run_chip: analog must be an hxgraph.chip.AnalogModel; got {analog!r}")
    cal = analog.calibration
    steps = _steps(duration, dt)
    graph = (Experiment(name, dt=dt).input("x", 1).adex("n", 1, **params)
             .dense("x", "n", weight=torch.zeros(1, 1))).graph
    config = place_and_route(graph, calibration=cal).config
    capacitance_code = float(config.circuit_params["capacitance"][config.neuron_circuits["n"][0, 0]])
    per_unit = config.spec.constant_current_slew * 63 / capacitance_code  # CADC units per second per DAC unit
    code = round(current / params["capacitance"] / cal.trace_scale / per_unit)
    emulator = Emulator(config.with_constant_current({"n": code}), analog, seed=seed, dt=dt, long_recording=True,
                        madc=[("n", 0)], progress=False)
    recording = emulator.run({"x": torch.zeros(steps, 1, 1)})
    ticks = recording.spikes["n"][:, 2].double()
    times, codes = recording.madc[("n", 0)]
    scale = 2 ** (config.spec.madc_bits - config.spec.cadc_bits)  # MADC codes per CADC unit
    membrane = params["leak"] + (codes[0].double() / scale - cal.leak) * cal.trace_scale
    return PatternRun(sorted((ticks * config.spec.clock_period).tolist()), times, membrane, None)


def classify(times: list, duration: float) -> str:
    """The firing pattern from the inter-spike intervals, in Naud et al.'s categories."""
    if isinstance(times, torch.Tensor):
        times = times.flatten().tolist()
    if not isinstance(times, (list, tuple)) or not all(isinstance(t, (int, float)) and math.isfinite(t)
                                                        for t in times):
        raise ParameterError(f"classify takes a list of spike times in seconds; got {times!r:.80}")
    times = sorted(times)
    if any(t1 <= t0 for t0, t1 in zip(times, times[1:])):
        raise ParameterError("classify: spike times must be distinct (one neuron's spikes)")
    if len(times) < 2 or (len(times) <= 3 and times[-1] < duration / 2):
        return "transient"
    isi = [t1 - t0 for t0, t1 in zip(times, times[1:])]
    short, long = min(isi), max(isi)
    mean = sum(isi) / len(isi)
    cv = math.sqrt(sum((x - mean) ** 2 for x in isi) / len(isi)) / mean
    if long > 10 * short and all(x < 3 * short or x > 0.5 * long for x in isi):
        first_long = next(k for k, x in enumerate(isi) if x > 0.5 * long)
        if any(x < 3 * short for x in isi[first_long:]):  # bursts that repeat
            return "regular_bursting"
    for k in range(1, min(4, len(isi))):
        rest = isi[k:]
        if isi[k] > 4 * isi[k - 1] and len(rest) >= 3:
            m = sum(rest) / len(rest)
            if math.sqrt(sum((x - m) ** 2 for x in rest) / len(rest)) < 0.1 * m:
                return "initial_burst"
    if all(b >= 0.98 * a for a, b in zip(isi, isi[1:])) and isi[-1] > 2 * isi[0]:
        return "adaptation"
    if all(b <= 1.02 * a for a, b in zip(isi, isi[1:])) and isi[-1] < 0.7 * isi[0]:
        return "delayed_accelerating"
    return "irregular" if cv > 0.3 else "tonic"
