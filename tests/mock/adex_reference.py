"""Brian2, the reference simulator, on Naud et al.'s (2008) AdEx firing patterns.

The parameter sets and their conversion to hxgraph units are `hxgraph.tasks.firing_patterns`
(the chip's time base, mV as model units); here Brian2 simulates the same neurons in SI units.
"""

from __future__ import annotations


from hxgraph.tasks.firing_patterns import NAUD_2008, SPEEDUP


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
