"""Naud et al. 2008 AdEx firing patterns, simulated by Brian2 (the reference) and converted to hxgraph units.

Naud, Marcille, Clopath, Gerstner (2008), "Firing patterns in the adaptive exponential
integrate-and-fire model", Biol. Cybern. 99:335, Table 1. Times are scaled to the chip's
accelerated time base (1000× faster: ms → µs), voltages stay in mV (model units), the spike is
cut at V_T + 5 ΔT, and the input is a current step from t = 0.
"""

from __future__ import annotations

import math

import torch

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
MODEL_CAPACITANCE_PER_PF = 1e-8  # 200 pF -> 2e-6 model units (hardware code 12.6)


def model_params(name: str) -> tuple[dict, float]:
    """hxgraph AdEx parameters (mV, accelerated seconds) and the input current in model units."""
    C, gL, EL, VT, DT, a, tau_w, b, Vr, I = NAUD_2008[name]
    c = C * MODEL_CAPACITANCE_PER_PF
    # dv/dt = I / C: a current in model units is I / C (mV per model second) times c.
    to_model = c * SPEEDUP * 1e3  # pA / pF = mV/ms = 1e3 mV/s; accelerated: × SPEEDUP
    params = dict(leak=float(EL), reset=float(Vr), threshold=float(VT + 5 * DT), exp_threshold=float(VT),
                  exp_slope=float(DT), tau_mem=C / gL * 1e-3 / SPEEDUP, capacitance=c,
                  a=a / C * to_model, b=b / C * to_model, tau_adap=tau_w * 1e-3 / SPEEDUP, refractory_time=0.0)
    return params, I / C * to_model


def brian2_spike_times(name: str, duration: float, dt: float, method: str = "hxtorch", lag: int = 1) -> list[float]:
    """Spike times (accelerated seconds) of Brian2's AdEx for a current step, integrated at `dt`.

    `method`: "hxtorch" (forward Euler for v, then w from the new v: the scheme of hxtorch's and
    hxgraph's mock) or a Brian2 method ("rk4", "euler") for the continuous equations. The current
    step starts after `lag` steps of `dt`: 1 for the mock, whose membrane sees the synaptic current of
    the previous step; 0 for a constant current source on the chip.
    """
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    C, gL, EL, VT, DT, a, tau_w, b, Vr, I = NAUD_2008[name]
    ns = dict(C=C * b2.pF, gL=gL * SPEEDUP * b2.nS, EL=EL * b2.mV, VT=VT * b2.mV, DT=DT * b2.mV,
              a=a * SPEEDUP * b2.nS, tau_w=tau_w * b2.ms / SPEEDUP, b=b * SPEEDUP * b2.pA,
              Vr=Vr * b2.mV, I=I * SPEEDUP * b2.pA, Vcut=(VT + 5 * DT) * b2.mV)
    ns["t_on"] = lag * dt * b2.second
    if method == "hxtorch":
        # hxtorch's scheme: forward Euler for v, then w from the new v (capped at the spike cut-off,
        # as hxgraph does) before the threshold check.
        eqs = """dv/dt = (gL * (EL - v) + gL * DT * exp((v - VT) / DT) + I * int(t >= t_on) - w) / C : volt
                 w : amp"""
        group = b2.NeuronGroup(1, eqs, threshold="v > Vcut", reset="v = Vr; w += b", method="euler",
                               namespace=ns, dt=dt * b2.second)
        group.run_regularly("w = w + dt / tau_w * (a * (clip(v, -1 * volt, Vcut) - EL) - w)", when="groups", order=1)
    else:
        eqs = """dv/dt = (gL * (EL - v) + gL * DT * exp((v - VT) / DT) + I * int(t >= t_on) - w) / C : volt
                 dw/dt = (a * (v - EL) - w) / tau_w : amp"""
        group = b2.NeuronGroup(1, eqs, threshold="v > Vcut", reset="v = Vr; w += b", method=method,
                               namespace=ns, dt=dt * b2.second)
    group.v = EL * b2.mV
    monitor = b2.SpikeMonitor(group)
    b2.run(duration * b2.second, namespace=ns)
    return [float(t) for t in monitor.t / b2.second]


def spike_times(spikes: torch.Tensor, dt: float) -> list[float]:
    """Times of a (T,) spike train on the grid (step k at k·dt)."""
    return [float(k) * dt for k in spikes.nonzero().flatten()]


def classify(times: list[float], duration: float) -> str:
    """The firing pattern from the inter-spike intervals, in Naud et al.'s categories."""
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
