"""Exact gradients (EventProp) for LIF and LI networks: an event-exact forward pass.

The surrogate-gradient mock integrates the neurons with forward Euler and puts every spike
on the time grid; the loss is then a step function of the weights and its gradient is a
surrogate. EventProp (Wunderlich & Pehle 2021) instead differentiates the *continuous-time*
model, whose spike times move smoothly with the weights. This module computes that model:

- Between events the current-based LIF / LI equations
  ``C dV/dt = g_l (E_l - V) + I`` (``g_l = C / tau_mem``) and ``dI/dt = -I / tau_syn`` are
  solved exactly (exponentials, no discretisation error).
- A spike of an on-chip population happens at the exact time ``t*`` its membrane crosses
  the threshold (found by a bracketed Newton search inside the step), resets the membrane,
  holds it at reset for ``refractory_time`` and reaches its targets at ``t*`` itself
  (feed-forward) or at ``t* + dt`` (projections inside a cycle: one step of delay, as in the
  surrogate mock and on the chip). An input spike given at step ``k`` arrives at the end of
  that step, ``(k + 1) dt``, where the Euler mock adds it to the synaptic current too.
- Observables are sampled on the grid: the membrane and current at the end of each step,
  the spike in the step it happened in, and its exact time in ``Observables.spike_times``.

Gradients: every spike time is differentiated implicitly,
``dt*/dp = -(dV/dp) / (dV/dt)`` at the crossing, and reverse-mode differentiation through
this forward pass then yields exactly the gradients EventProp's adjoint equations give
(the adjoint jumps at spike times are the chain rule through ``t*``). They agree with
finite differences of the forward pass; spike *counts* are piecewise constant in the
weights, so a loss on counts alone has zero gradient — use membranes (e.g. the max over
time of an LI readout) or spike times.

Limits, each refused with a clear error (`check_applicable`): LIF and LI populations only
(no AdEx); one tau_mem and one tau_syn per population (the kernels factorise per target);
no custom projection or population functions; no hardware-aware *noise* while training
(its drawn time constants differ per neuron). At most one spike per neuron and step: a
neuron that is still above threshold after its reset fires again at the start of the next
step; a crossing that goes up and back down within one step is not seen (dt small against
the time constants keeps both rare).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, NamedTuple, Optional

import torch

from hxgraph.errors import GraphError, ParameterError
from hxgraph.graph import Graph, Population
from hxgraph.mock.functional import _check_dt, _li_args, _lif_args
from hxgraph.mock.sparse import dense_from_values
from hxgraph.observables import Observables

GRADIENTS = ("surrogate", "eventprop")
EVENTPROP_MODELS = ("lif", "li")
_NEWTON_ITERATIONS = 40


def check_gradient(gradient: Any, who: str) -> str:
    """The gradient method by name: "surrogate" (default) or "eventprop"."""
    if not isinstance(gradient, str) or gradient not in GRADIENTS:
        raise ParameterError(f"{who}: gradient must be one of {GRADIENTS} (surrogate: SuperSpike surrogate "
                             f"gradients on the Euler grid; eventprop: exact gradients of the event-exact model); "
                             f"got {gradient!r}")
    return gradient


def _scalar_time_constant(name: str, key: str, value: Any) -> float:
    if isinstance(value, torch.Tensor):
        flat = value.detach().reshape(-1)
        if flat.numel() == 0 or not bool((flat == flat[0]).all()):
            raise GraphError(f"gradient='eventprop' needs one {key} per population; population {name!r} has "
                             f"{key} varying per neuron ({flat[:4].tolist()}...). Give it a single value, or train it "
                             "with gradient='surrogate'")
        return float(flat[0])
    return float(value)


def check_applicable(graph: Graph, funcs: Mapping[str, Any], population_funcs: Mapping[str, Any]) -> None:
    """Raise a `GraphError` naming the first part of `graph` that EventProp cannot differentiate."""
    for pop in graph.populations.values():
        if pop.is_input:
            continue
        if pop.model not in EVENTPROP_MODELS:
            raise GraphError(f"gradient='eventprop' applies to LIF and LI populations; population {pop.name!r} is "
                             f"{pop.neuron_model.label}. Use gradient='surrogate' for it")
        if pop.name in population_funcs:
            raise GraphError(f"gradient='eventprop' computes every population itself; population {pop.name!r} has a "
                             "custom function (e.g. a module overriding forward_func). Use gradient='surrogate'")
    if funcs:
        name = sorted(funcs)[0]
        raise GraphError(f"gradient='eventprop' delivers every spike at its exact time through the projection's "
                         f"weights; projection {name!r} has a custom function. Use gradient='surrogate'")


# --------------------------------------------------------------------------- kernels

class _Neurons:
    """One population's parameters and the exact solution of its linear dynamics over a lag."""

    def __init__(self, name: str, model: str, params: Mapping[str, Any], like: torch.Tensor, dt: float):
        self.spiking = model == "lif"
        self.tau_mem = _scalar_time_constant(name, "tau_mem", params["tau_mem"])
        self.tau_syn = _scalar_time_constant(name, "tau_syn", params["tau_syn"])
        self.rate_gap = 1.0 / self.tau_syn - 1.0 / self.tau_mem
        self.inv_c = 1.0 / _as(params["capacitance"], like)
        self.leak = _as(params["leak"], like)
        if self.spiking:
            self.threshold = _as(params["threshold"], like)
            self.reset = _as(params["reset"], like)
            self.refractory = _scalar_time_constant(name, "refractory_time", params["refractory_time"])
        # Over a whole step: current decay, membrane decay, membrane response to the current at its start.
        self.step_decay_syn = math.exp(-dt / self.tau_syn)
        self.step_decay_mem = math.exp(-dt / self.tau_mem)
        self.step_psp = float(self.psp(torch.tensor(dt, dtype=torch.float64)))

    def current_decay(self, lag: torch.Tensor) -> torch.Tensor:
        return torch.exp(lag * (-1.0 / self.tau_syn))

    def membrane_decay(self, lag: torch.Tensor) -> torch.Tensor:
        return torch.exp(lag * (-1.0 / self.tau_mem))

    def psp(self, lag: torch.Tensor, current_decay: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Membrane response at `lag` to a unit current step at lag 0, without 1/C:
        ∫ e^{-(lag-s)/tau_mem} e^{-s/tau_syn} ds = e^{-lag/tau_mem} (1 - e^{-lag·gap}) / gap,
        gap = 1/tau_syn - 1/tau_mem
        (lag · e^{-lag/tau} when the time constants are equal). `current_decay`, if given, is e^{-lag/tau_syn}."""
        m = self.membrane_decay(lag)
        if self.rate_gap == 0.0:
            return m * lag
        if abs(self.rate_gap) * self.tau_mem < 1e-3:  # nearly equal: the form without cancellation
            return m * torch.expm1(lag * -self.rate_gap) * (-1.0 / self.rate_gap)
        s = self.current_decay(lag) if current_decay is None else current_decay
        return (m - s) * (1.0 / self.rate_gap)


def _as(value: Any, like: torch.Tensor) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.to(device=like.device, dtype=like.dtype)
    return torch.tensor(float(value), device=like.device, dtype=like.dtype)


def _pick(value: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Per-neuron values (scalar or (N,)) at neuron indices `index`."""
    return value.expand(index.shape) if value.dim() == 0 else value[index]


def _cat(tensors: list, dim: int, empty: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    if not tensors:
        return empty
    return tensors[0] if len(tensors) == 1 else torch.cat(tensors, dim)


class _Events(NamedTuple):
    """Events reaching a population in one step: amplitude and arrival time per source, and the weights."""

    amplitude: torch.Tensor  # (B, S): spike count / graded value; 0 where no event
    time: torch.Tensor       # (B, S): arrival time (inside the step where amplitude != 0)
    weight: torch.Tensor     # (N, S)


class _Segment:
    """Membrane and current of (batch, neuron) pairs within one step, as functions of the time t.

    Each pair's membrane is free from `start` (the step's beginning, or where its
    refractory time ends) at `start_v`; its current is `i0` at the step's beginning `t0`
    and jumps by weight × amplitude at every event. Events up to `start` act through the
    current at `start`, later ones through the membrane kernel.
    """

    def __init__(self, n: _Neurons, index: torch.Tensor, weight: torch.Tensor, time: torch.Tensor, t0: float,
                 i0: torch.Tensor, start: torch.Tensor, start_v: torch.Tensor):
        self.n, self.t0, self.i0, self.start, self.start_v = n, t0, i0, start, start_v
        self.weight, self.time = weight, time  # (P, S): weight × amplitude of each event, arrival time
        self.leak, self.inv_c = _pick(n.leak, index), _pick(n.inv_c, index)
        before = time <= start[:, None]
        # lags clamped at 0 for events that have not arrived: their terms are masked, but must stay finite
        early = (weight * n.current_decay((start[:, None] - time).clamp(min=0)) * before).sum(1)
        self.i_start = i0 * n.current_decay(start - t0) + early
        self.weight_later = weight * ~before

    def at(self, t: torch.Tensor, current: bool = False) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Membrane (and, if asked, current) at times `t` (P,) in [start, end of step]."""
        n = self.n
        lag = t[:, None] - self.time
        arrived = lag >= 0
        lag = lag.clamp(min=0)
        decay = n.current_decay(lag)
        since = t - self.start
        v = (self.leak + (self.start_v - self.leak) * n.membrane_decay(since)
             + self.inv_c * (self.i_start * n.psp(since) + (self.weight_later * n.psp(lag, decay) * arrived).sum(1)))
        if not current:
            return v, None
        return v, self.i0 * n.current_decay(t - self.t0) + (self.weight * decay * arrived).sum(1)

    def slope(self, v: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        """dV/dt = (E_l - V) / tau_mem + I / C."""
        return (self.leak - v) * (1.0 / self.n.tau_mem) + self.inv_c * i

    def subset(self, f: torch.Tensor, index: torch.Tensor, start: torch.Tensor, start_v: torch.Tensor) -> "_Segment":
        """Pairs `f` (positions), free from a new `start` at `start_v`."""
        return _Segment(self.n, index, self.weight[f], self.time[f], self.t0, self.i0[f], start, start_v)

    def detached(self, index: torch.Tensor) -> "_Segment":
        return _Segment(self.n, index, self.weight.detach(), self.time.detach(), self.t0, self.i0.detach(),
                        self.start.detach(), self.start_v.detach())


class EventNetwork:
    """The event-exact forward pass of a `MockNetwork`'s graph (see the module docstring)."""

    def __init__(self, network: Any):
        self.net = network
        self.graph: Graph = network.graph
        self.dt = float(self.graph.dt)

    def run(self, spikes: Mapping[str, torch.Tensor], steps: int, batch: int) -> dict[str, Observables]:
        like = torch.empty(0, dtype=self.net.dtype, device=self.net.device)
        net = self.net
        aware = net.hardware_aware
        if aware is not None and net.training and aware.noisy:
            raise GraphError("gradient='eventprop' does not train with hardware-aware noise (its drawn time constants "
                             "differ per neuron); use hxgraph.hardware_aware(noise=False), or gradient='surrogate'")
        # Every population's events: amplitude (T, B, N) and time (T, B, N); inputs arrive at each step's end.
        events: dict[str, tuple[torch.Tensor, Optional[torch.Tensor]]] = {
            name: (s, None) for name, s in spikes.items()}
        results: dict[str, Observables] = {name: Observables(spikes=s) for name, s in spikes.items()}
        for group in net._groups:
            pops = [self.graph.population(name) for name in group]
            out = self._run_group(pops, set(group), events, steps, batch, like)
            for pop in pops:
                obs = out[pop.name]
                results[pop.name] = obs
                if obs.spikes is not None:
                    events[pop.name] = (obs.spikes, obs.spike_times)
        return results

    def _run_group(self, pops: list[Population], group: set[str], events: Mapping[str, tuple],
                   steps: int, batch: int, like: torch.Tensor) -> dict[str, Observables]:
        neurons = {p.name: _Neurons(p.name, p.model, self.net._params(p), like, self.dt) for p in pops}
        stepper = _Stepper(self.dt)

        def arrival(source: str) -> str:
            if source in group:
                return "next step"  # inside a cycle: the previous step's spikes, one step later
            return "step end" if self.graph.population(source).is_input else "spike time"

        incoming = {p.name: [(q, arrival(q.source)) for q in self.graph.projections_into(p.name)] for p in pops}
        weights = {q.name: self._dense_weight(q) for p in pops for q, _ in incoming[p.name]}
        zeros = torch.zeros(batch, 0, dtype=like.dtype, device=like.device)
        empty_events = (dict.fromkeys(group, zeros), dict.fromkeys(group, zeros),
                        {p.name: torch.zeros(p.size, 0, dtype=like.dtype, device=like.device) for p in pops})
        state = {}
        for p in pops:
            n = neurons[p.name]
            v = (n.leak.expand(p.size) if n.leak.dim() == 0 else n.leak).expand(batch, p.size).clone()
            i = torch.zeros(batch, p.size, dtype=like.dtype, device=like.device)
            free_at = torch.zeros(batch, p.size, dtype=like.dtype, device=like.device)
            state[p.name] = (v, i, free_at)
        traces: dict[str, dict[str, list]] = {p.name: {"z": [], "time": [], "v": [], "i": []} for p in pops}
        for k in range(steps):
            for p in pops:
                parts, at_end = [], []
                for q, when in incoming[p.name]:
                    if when == "next step":
                        if k:
                            parts.append((traces[q.source]["z"][k - 1], traces[q.source]["time"][k - 1] + self.dt,
                                          weights[q.name]))
                    elif when == "step end":  # given on the grid
                        at_end.append((events[q.source][0][k], weights[q.name]))
                    else:
                        parts.append((events[q.source][0][k], events[q.source][1][k], weights[q.name]))
                step_events = _Events(*(_cat([part[j] for part in parts], 1, empty_events[j][p.name])
                                        for j in range(3)))
                end_events = None if not at_end else (_cat([a for a, _ in at_end], 1, None),
                                                      _cat([w for _, w in at_end], 1, None))
                z, time, state[p.name] = stepper.step(neurons[p.name], state[p.name], step_events, k, end_events)
                tr = traces[p.name]
                tr["z"].append(z)
                tr["time"].append(time)
                tr["v"].append(state[p.name][0])
                tr["i"].append(state[p.name][1])
        out = {}
        for p in pops:
            tr = traces[p.name]
            empty = torch.zeros(0, batch, p.size, dtype=like.dtype, device=like.device)
            stack = {key: torch.stack(v) if v and v[0] is not None else empty for key, v in tr.items()}
            spiking = neurons[p.name].spiking
            out[p.name] = Observables(spikes=stack["z"] if spiking else None, membrane=stack["v"],
                                      current=stack["i"], spike_times=stack["time"] if spiking else None)
        return out

    def _dense_weight(self, proj: Any) -> torch.Tensor:
        w = self.net.effective_weight(proj)
        patterns = self.net._patterns
        return dense_from_values(w, patterns[proj.name]) if proj.name in patterns else w


class _Stepper:
    """One step of one population: exact integration, threshold crossings, reset and refractory time."""

    def __init__(self, dt: float):
        self.dt = dt

    def step(self, n: _Neurons, state: tuple, ev: _Events, k: int,
             at_end: Optional[tuple[torch.Tensor, Optional[torch.Tensor]]] = None) -> tuple:
        """Advance (v, i, free_at) over step k: `ev` arrive inside the step, `at_end` (amplitude, weight) at its end."""
        v, i, free_at = state
        t0, t1 = k * self.dt, (k + 1) * self.dt
        i_next = i * n.step_decay_syn
        v_free = n.leak + (v - n.leak) * n.step_decay_mem + n.inv_c * (i * n.step_psp)
        if ev.weight.shape[1]:
            lag = t1 - ev.time  # arrival → end of step, in [0, dt]
            decay = n.current_decay(lag)
            i_next = i_next + torch.nn.functional.linear(ev.amplitude * decay, ev.weight)
            v_free = v_free + n.inv_c * torch.nn.functional.linear(ev.amplitude * n.psp(lag, decay), ev.weight)
        if at_end is not None:  # no effect on the membrane within this step (the kernel starts at 0)
            amplitude, weight = at_end
            i_next = i_next + (amplitude if weight is None else torch.nn.functional.linear(amplitude, weight))
        t_end = torch.full_like(v, t1)
        if not n.spiking:
            return None, None, (v_free, i_next, free_at)
        clamped = free_at >= t1
        partial = (free_at > t0) & ~clamped
        crossing_free = ~clamped & ~partial & (v_free >= n.threshold)
        v_next = torch.where(clamped, n.reset.expand_as(v), v_free)
        z = torch.zeros_like(v)
        if not bool((partial | crossing_free).any()):
            return z, t_end, (v_next, i_next, free_at)

        b, idx = torch.nonzero(partial | crossing_free, as_tuple=True)
        is_partial = partial[b, idx]
        start = torch.where(is_partial, free_at[b, idx], torch.full_like(v_free[b, idx], t0))
        start_v = torch.where(is_partial, _pick(n.reset, idx), v[b, idx])
        seg = _Segment(n, idx, ev.weight[idx] * ev.amplitude[b], ev.time[b], t0, i[b, idx], start, start_v)
        end = torch.full_like(start, t1)
        # Pairs free all step have their end-of-step membrane already; those whose refractory time ends
        # inside the step need the within-step solution (and fire if it ends above threshold).
        v_end = torch.where(is_partial, seg.at(end)[0], v_free[b, idx])
        threshold = _pick(n.threshold, idx)
        fires = ~is_partial | (v_end >= threshold)
        v_pair = v_end
        free_pair = free_at[b, idx]
        spike_time = end
        if bool(fires.any()):
            f = fires.nonzero(as_tuple=True)[0]
            firing = seg.subset(f, idx[f], start[f], start_v[f])
            t_star = self._crossing(firing, idx[f], v_end[f] - threshold[f], threshold[f])
            after = t_star + n.refractory
            resumes = after < t1
            reset = _pick(n.reset, idx[f])
            everyone = torch.arange(len(f), device=f.device)
            resumed = firing.subset(everyone, idx[f], torch.where(resumes, after, end[f]), reset)
            v_after = resumed.at(end[f])[0]
            v_after = torch.where(resumes, v_after, reset)
            v_pair = v_pair.index_put((f,), v_after)
            free_pair = free_pair.index_put((f,), after)
            spike_time = spike_time.index_put((f,), t_star)
            z = z.index_put((b[f], idx[f]), torch.ones_like(t_star))
        v_next = v_next.index_put((b, idx), v_pair)
        free_next = free_at.index_put((b, idx), free_pair)
        time = t_end.index_put((b, idx), spike_time)
        return z, time, (v_next, i_next, free_next)

    def _crossing(self, seg: _Segment, index: torch.Tensor, g_end: torch.Tensor,
                  threshold: torch.Tensor) -> torch.Tensor:
        """Threshold-crossing times in [start, end of step], differentiable: t* - (V(t*) - θ) / V'(t*).

        `g_end` is V - θ at the step's end (≥ 0, up to rounding). The root is found without
        gradients by Newton's method kept inside a shrinking bracket (bisection where Newton
        would leave it); the implicit-function step then gives t* the derivative
        -(dV/dp) / V' without changing its value.
        """
        t1 = seg.t0 + self.dt
        eps = torch.finfo(seg.start.dtype).eps
        with torch.no_grad():
            plain = seg.detached(index)
            lo, hi = plain.start.clone(), torch.full_like(plain.start, t1)
            g_lo, g_hi = plain.start_v - threshold, g_end.detach()  # V(start) is start_v
            already = g_lo >= 0  # still above threshold after a reset in the previous step: fires at once
            secant = hi - g_hi.clamp(min=0) * (hi - lo) / (g_hi - g_lo).clamp(min=eps)
            t = torch.where(already, lo, torch.minimum(torch.maximum(secant, lo), hi))
            tol = 64 * eps * float(threshold.abs().max().clamp(min=1.0))
            for _ in range(_NEWTON_ITERATIONS):
                v_t, i_t = plain.at(t, current=True)
                g = v_t - threshold
                slope = plain.slope(v_t, i_t)
                below = g < 0
                lo = torch.where(below, t, lo)
                hi = torch.where(below, hi, t)
                newton = t - g / torch.where(slope > 0, slope, torch.ones_like(slope))
                ok = (slope > 0) & (newton >= lo) & (newton <= hi)
                done = (g.abs() <= tol) | already | (hi - lo <= 4 * eps * t1)
                t = torch.where(done, t, torch.where(ok, newton, (lo + hi) / 2))
                if bool(done.all()):
                    break
            # Near a tangent crossing the exact dt*/dp = -(dV/dp) / V' diverges; V' is bounded below at 1 % of
            # the slope that crosses from leak to threshold in one membrane time constant.
            floor = 0.01 * ((threshold - plain.leak).abs() / plain.n.tau_mem).clamp(min=torch.finfo(t.dtype).tiny)
            slope = torch.maximum(slope, floor)
        if not torch.is_grad_enabled():
            return t
        implicit = t - (seg.at(t)[0] - threshold) / slope
        return torch.where(already, seg.start, implicit)


def integrate(model: str, x: torch.Tensor, dt: float, **params: Any) -> Observables:
    """One LIF or LI population of the event-exact model driven directly by `x` (T, B, N).

    `x[k]` arrives at the end of step k as a jump of the synaptic current (a spike through
    weight `x[k]`, as an input population's spikes through an identity projection). `params`
    as for the mock (leak, reset, threshold, tau_mem, tau_syn, capacitance, refractory_time;
    LI: leak, tau_mem, tau_syn, capacitance). Gradients reach `x` and, through the spike
    times, everything they depend on.
    """
    if model not in EVENTPROP_MODELS:
        raise ParameterError(f"the event-exact model integrates {EVENTPROP_MODELS}; got {model!r}")
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or not x.is_floating_point():
        raise ParameterError(f"x must be a floating-point tensor (time, batch, neurons); got {x!r:.80}")
    steps, batch, size = x.shape
    dt = _check_dt(dt)
    # the surrogate kernels' argument checks: finite values, positive time constants, per-neuron shapes
    checked = (_lif_args(x, alpha=0.0, dt=dt, **params) if model == "lif" else _li_args(x, dt=dt, **params))._asdict()
    n = _Neurons("the population", model, checked, x, dt)
    stepper = _Stepper(dt)
    v = (n.leak if n.leak.dim() else n.leak.expand(size)).expand(batch, size).clone()
    state = (v, torch.zeros_like(v), torch.zeros_like(v))
    no_events = _Events(x.new_zeros(batch, 0), x.new_zeros(batch, 0), x.new_zeros(size, 0))
    traces: dict[str, list] = {"z": [], "time": [], "v": [], "i": []}
    for k in range(steps):
        z, time, state = stepper.step(n, state, no_events, k, (x[k], None))
        for key, value in zip(("z", "time", "v", "i"), (z, time, state[0], state[1])):
            traces[key].append(value)
    empty = x.new_zeros(0, batch, size)
    stack = {key: torch.stack(v) if v and v[0] is not None else empty for key, v in traces.items()}
    return Observables(spikes=stack["z"] if n.spiking else None, membrane=stack["v"], current=stack["i"],
                       spike_times=stack["time"] if n.spiking else None)
