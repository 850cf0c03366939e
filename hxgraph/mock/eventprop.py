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
from typing import Any, Mapping, NamedTuple, Optional, Union

import torch

from hxgraph.errors import GraphError, ParameterError
from hxgraph.graph import Graph, Population
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


def _scalar_time_constant(pop: Population, key: str, value: Any) -> float:
    if isinstance(value, torch.Tensor):
        flat = value.detach().reshape(-1)
        if flat.numel() == 0 or not bool((flat == flat[0]).all()):
            raise GraphError(f"gradient='eventprop' needs one {key} per population; population {pop.name!r} has "
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

def _phi(x: torch.Tensor) -> torch.Tensor:
    """(1 - exp(-x)) / x, continued to 1 at x = 0 (tau_mem = tau_syn)."""
    small = x.abs() < 1e-4
    safe = torch.where(small, torch.ones_like(x), x)
    return torch.where(small, 1.0 - x / 2.0 + x * x / 6.0, -torch.expm1(-safe) / safe)


class _Neurons:
    """The exact solution of one population's linear dynamics over lags within a step."""

    def __init__(self, pop: Population, params: Mapping[str, Any], like: torch.Tensor):
        self.pop = pop
        self.spiking = pop.model == "lif"
        self.tau_mem = _scalar_time_constant(pop, "tau_mem", params["tau_mem"])
        self.tau_syn = _scalar_time_constant(pop, "tau_syn", params["tau_syn"])
        self.rate_gap = 1.0 / self.tau_syn - 1.0 / self.tau_mem
        self.inv_c = 1.0 / _as(params["capacitance"], like)
        self.leak = _as(params["leak"], like)
        if self.spiking:
            self.threshold = _as(params["threshold"], like)
            self.reset = _as(params["reset"], like)
            refractory = params["refractory_time"]
            self.refractory = _scalar_time_constant(pop, "refractory_time", refractory)

    def current_decay(self, lag: torch.Tensor) -> torch.Tensor:
        return torch.exp(-lag / self.tau_syn)

    def membrane_decay(self, lag: torch.Tensor) -> torch.Tensor:
        return torch.exp(-lag / self.tau_mem)

    def psp(self, lag: torch.Tensor) -> torch.Tensor:
        """Membrane response at `lag` to a unit current step at lag 0, without 1/C."""
        return torch.exp(-lag / self.tau_mem) * lag * _phi(lag * self.rate_gap)


def _as(value: Any, like: torch.Tensor) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.to(device=like.device, dtype=like.dtype)
    return torch.tensor(float(value), device=like.device, dtype=like.dtype)


def _pick(value: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Per-neuron values (scalar or (N,)) at neuron indices `index`."""
    return value.expand(index.shape) if value.dim() == 0 else value[index]


class _Events(NamedTuple):
    """Events reaching a population in one step: amplitude and arrival time per source, and the weights."""

    amplitude: torch.Tensor  # (B, S): spike count / graded value; 0 where no event
    time: torch.Tensor       # (B, S): arrival time (inside the step where amplitude != 0)
    weight: torch.Tensor     # (N, S)


class _Pairs(NamedTuple):
    """The (batch, neuron) pairs whose membrane needs the within-step solution."""

    b: torch.Tensor
    n: torch.Tensor
    amplitude_weight: torch.Tensor  # (P, S): weight × amplitude of each event for the pair's neuron
    time: torch.Tensor              # (P, S)


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
        grid_end = (torch.arange(steps, dtype=like.dtype, device=like.device) + 1.0) * self.dt
        # Every population's events: amplitude (T, B, N) and time (T, B, N).
        events: dict[str, tuple[torch.Tensor, torch.Tensor]] = {
            name: (s, grid_end[:, None, None].expand_as(s)) for name, s in spikes.items()}
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
        neurons = {p.name: _Neurons(p, self.net._params(p), like) for p in pops}
        incoming = {p.name: [(q, q.source in group) for q in self.graph.projections_into(p.name)] for p in pops}
        weights = {q.name: self._dense_weight(q) for p in pops for q, _ in incoming[p.name]}
        zeros = torch.zeros(batch, 0, dtype=like.dtype, device=like.device)
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
                parts = []
                for q, internal in incoming[p.name]:
                    if internal:  # inside a cycle: the previous step's spikes, one step later
                        if k == 0:
                            continue
                        amp, time = traces[q.source]["z"][k - 1], traces[q.source]["time"][k - 1] + self.dt
                    else:
                        amp, time = events[q.source][0][k], events[q.source][1][k]
                    parts.append((amp, time, weights[q.name]))
                if parts:
                    step_events = _Events(torch.cat([a for a, _, _ in parts], 1), torch.cat([t for _, t, _ in parts], 1),
                                          torch.cat([w for _, _, w in parts], 1))
                else:
                    step_events = _Events(zeros, zeros, torch.zeros(p.size, 0, dtype=like.dtype, device=like.device))
                z, time, state[p.name] = self._step(neurons[p.name], state[p.name], step_events, k)
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
        from hxgraph.mock.sparse import dense_from_values
        w = self.net.effective_weight(proj)
        patterns = self.net._patterns
        return dense_from_values(w, patterns[proj.name]) if proj.name in patterns else w

    # ------------------------------------------------------------------ one step
    def _step(self, n: _Neurons, state: tuple, ev: _Events, k: int) -> tuple:
        v, i, free_at = state
        t0, t1 = k * self.dt, (k + 1) * self.dt
        dt = torch.tensor(self.dt, dtype=v.dtype, device=v.device)
        lag = t1 - ev.time  # arrival → end of step, in [0, dt]
        i_next = i * n.current_decay(dt) + torch.nn.functional.linear(ev.amplitude * n.current_decay(lag), ev.weight)
        drive = torch.nn.functional.linear(ev.amplitude * n.psp(lag), ev.weight)
        v_free = n.leak + (v - n.leak) * n.membrane_decay(dt) + n.inv_c * (i * n.psp(dt) + drive)
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
        pairs = _Pairs(b, idx, ev.weight[idx] * ev.amplitude[b], ev.time[b])
        is_partial = partial[b, idx]
        start = torch.where(is_partial, free_at[b, idx], torch.full_like(b, 0, dtype=v.dtype) + t0)
        start_v = torch.where(is_partial, _pick(n.reset, idx), v[b, idx])
        i_start = i[b, idx]
        end = torch.full_like(start, t1)
        v_end, _ = self._solution(n, pairs, t0, i_start, start, start_v, end)
        threshold = _pick(n.threshold, idx)
        fires = torch.where(is_partial, v_end >= threshold, torch.ones_like(is_partial))
        # Pairs that do not fire: the within-step solution is their membrane (refractory ends inside the step).
        v_pair = v_end
        free_pair = free_at[b, idx]
        spike_time = end
        if bool(fires.any()):
            f = fires.nonzero(as_tuple=True)[0]
            sub = _Pairs(b[f], idx[f], pairs.amplitude_weight[f], pairs.time[f])
            t_star = self._crossing(n, sub, t0, i_start[f], start[f], start_v[f], threshold[f])
            after = t_star + n.refractory
            resumes = after < t1
            reset = _pick(n.reset, idx[f])
            v_after, _ = self._solution(n, sub, t0, i_start[f], torch.where(resumes, after, end[f]), reset, end[f])
            v_after = torch.where(resumes, v_after, reset)
            v_pair = v_pair.index_put((f,), v_after)
            free_pair = free_pair.index_put((f,), after)
            spike_time = spike_time.index_put((f,), t_star)
            z = z.index_put((b[f], idx[f]), torch.ones_like(t_star))
        v_next = v_next.index_put((b, idx), v_pair)
        free_next = free_at.index_put((b, idx), free_pair)
        time = t_end.index_put((b, idx), spike_time)
        return z, time, (v_next, i_next, free_next)

    def _solution(self, n: _Neurons, pairs: _Pairs, t0: float, i0: torch.Tensor, start: torch.Tensor,
                  start_v: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Membrane and current at times `t` (P,) of neurons free from `start` at membrane `start_v`.

        The current starts at `i0` at the step's beginning `t0` and jumps at every event;
        events up to `start` act through the current at `start`, later ones through the
        membrane kernel.
        """
        leak = _pick(n.leak, pairs.n)
        inv_c = _pick(n.inv_c, pairs.n)
        w, te = pairs.amplitude_weight, pairs.time
        before = (te <= start[:, None]).to(w.dtype)
        arrived = (te <= t[:, None]).to(w.dtype)
        # clamp lags at 0 for events that have not arrived: their terms are masked, but must stay finite
        i_start = i0 * n.current_decay(start - t0) + (w * before * n.current_decay((start[:, None] - te).clamp(min=0))).sum(1)
        i_t = i0 * n.current_decay(t - t0) + (w * arrived * n.current_decay((t[:, None] - te).clamp(min=0))).sum(1)
        later = arrived * (1.0 - before)
        v_t = (leak + (start_v - leak) * n.membrane_decay(t - start)
               + inv_c * (i_start * n.psp(t - start) + (w * later * n.psp((t[:, None] - te).clamp(min=0))).sum(1)))
        return v_t, i_t

    def _crossing(self, n: _Neurons, pairs: _Pairs, t0: float, i0: torch.Tensor, start: torch.Tensor,
                  start_v: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
        """Threshold-crossing times in (start, end of step], differentiable: t* - (V(t*) - θ) / V'(t*).

        The root is found without gradients by Newton's method kept inside a shrinking
        bracket (bisection where Newton would leave it); the implicit-function step then
        gives t* the derivative -(dV/dp) / V' without changing its value.
        """
        t1 = t0 + self.dt
        leak, inv_c = _pick(n.leak, pairs.n), _pick(n.inv_c, pairs.n)
        with torch.no_grad():
            s_t, s_v, s_i = start.detach(), start_v.detach(), i0.detach()
            lo, hi = s_t.clone(), torch.full_like(start, t1)
            dp = _Pairs(pairs.b, pairs.n, pairs.amplitude_weight.detach(), pairs.time.detach())
            g_lo = self._solution(n, dp, t0, s_i, s_t, s_v, lo)[0] - threshold
            already = g_lo >= 0  # still above threshold after a reset in the previous step: fires at once
            g_hi = self._solution(n, dp, t0, s_i, s_t, s_v, hi)[0] - threshold
            t = torch.where(already, lo, hi - g_hi * (hi - lo) / (g_hi - g_lo).clamp(min=1e-300))
            tol = 64 * torch.finfo(start.dtype).eps * float(threshold.abs().max().clamp(min=1.0))
            for _ in range(_NEWTON_ITERATIONS):
                v_t, i_t = self._solution(n, dp, t0, s_i, s_t, s_v, t)
                g = v_t - threshold
                slope = (leak - v_t) / n.tau_mem + inv_c * i_t
                below = g < 0
                lo = torch.where(below, t, lo)
                hi = torch.where(below, hi, t)
                newton = t - g / torch.where(slope > 0, slope, torch.ones_like(slope))
                ok = (slope > 0) & (newton >= lo) & (newton <= hi)
                done = (g.abs() <= tol) | already | (hi - lo <= 4 * torch.finfo(t.dtype).eps * t1)
                t = torch.where(done, t, torch.where(ok, newton, (lo + hi) / 2))
                if bool(done.all()):
                    break
            slope = ((leak - v_t) / n.tau_mem + inv_c * i_t).clamp(min=torch.finfo(t.dtype).tiny)
        if not torch.is_grad_enabled():
            return t
        v_root, _ = self._solution(n, pairs, t0, i0, start, start_v, t)
        implicit = t - (v_root - threshold) / slope
        return torch.where(already, start, implicit)
