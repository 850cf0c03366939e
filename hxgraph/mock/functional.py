"""Integration kernels of the mock: current-based LIF and LI neurons, SuperSpike surrogate.

Tensors are laid out (time T, batch B, neurons N). The numerics are those of
hxtorch.spiking's mock mode (see DESIGN.md §5). Per step t, starting from ``v = leak``,
``i = 0`` and a refractory counter ``r = 0``::

    dv = dt / c * (i + g_l * (leak - v))          # g_l = c / tau_mem, previous step's i
    i  = i * (1 - dt / tau_syn) + x[t]
    v  = v + dv
    z  = H(v - threshold)                          # SuperSpike surrogate in backward
    v  = (1 - z) * v + z * reset                   # z detached: no gradient through reset
    # refractory (refractory_time > 0), m = (r > 0) from before this step:
    v  = (1 - m) * v + m * reset;  z = (1 - m) * z
    r  = (1 - z) * relu(r - m) + z * refractory_time / dt

LI (readout) neurons integrate the same way without spikes, reset or refractoriness.

AdEx neurons (the chip's adaptive exponential model, hxtorch's AELIF) add an adaptation
current ``w`` (starting at 0) and an exponential term; per step::

    dv = dt / c * (i + g_l * (leak - v) + g_l * dT * exp((v - V_T) / dT) - w)
    i  = i * (1 - dt / tau_syn) + x[t]
    v  = v + dv
    z  = H(v - threshold)                          # masked while refractory, as for the LIF
    w  = w * (1 - dt / tau_adap) + dt / tau_adap * a * (min(v, threshold) - leak) + b * z  # before reset
    v  = reset where z or refractory;  r as for the LIF

``dT = 0`` switches the exponential term off; with ``a = b = 0`` as well it is the LIF. The
exponent is capped at 40 so that a membrane far above V_T stays finite (it spikes anyway).

``initial_state``, ``lif_step`` and ``li_step`` advance neurons one step at a time (for
recurrent networks that must be stepped). Two implementations of whole runs are provided:

* ``*_integration_reference``: the readable per-step loop on autograd ops; it is the
  specification and what the tests compare against.
* ``lif_integration`` / ``li_integration``: custom autograd functions that run the time
  loop without autograd on preallocated buffers and compute the adjoint (BPTT) by hand.
  They are several times faster and need far less memory; forward values agree with the
  reference up to floating-point rounding (the update is algebraically rearranged into
  ``v' = alpha_m * v + beta * i + gamma``), gradients agree likewise.

This module depends on torch and ``hxgraph.errors`` only (not on the graph package).
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any, NamedTuple, Optional, Union

import torch

from hxgraph import kernels
from hxgraph.errors import InputError, ParameterError, ShapeError

__all__ = [
    "superspike",
    "SuperSpike",
    "LIFState",
    "LIState",
    "initial_state",
    "lif_step",
    "li_step",
    "lif_integration",
    "li_integration",
    "lif_integration_reference",
    "li_integration_reference",
    "refractory_steps",
    "AdExState",
    "adex_step",
    "adex_integration",
    "adex_integration_reference",
    "adex_args",
]

#: A neuron parameter: a number, or a tensor of shape () / (1,) / (N,) (per neuron).
Param = Union[float, torch.Tensor]

# ---------------------------------------------------------------------------------------
# SuperSpike surrogate
# ---------------------------------------------------------------------------------------


class SuperSpike(torch.autograd.Function):
    """Heaviside step in forward, SuperSpike derivative ``1 / (alpha |x| + 1)^2`` in backward."""

    @staticmethod
    def forward(ctx: Any, v_minus_threshold: torch.Tensor, alpha: Param) -> torch.Tensor:
        ctx.save_for_backward(v_minus_threshold)
        ctx.alpha = alpha
        return torch.gt(v_minus_threshold, 0).to(v_minus_threshold.dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[Optional[torch.Tensor], None]:
        (v_minus_threshold,) = ctx.saved_tensors
        denominator = ctx.alpha * v_minus_threshold.abs() + 1.0
        return grad_output / (denominator * denominator), None


def superspike(v_minus_threshold: torch.Tensor, alpha: Param = 50.0) -> torch.Tensor:
    """Spike where ``v_minus_threshold > 0`` (strictly); gradient by the SuperSpike surrogate.

    ``alpha`` sets the steepness of the surrogate ``1 / (alpha * |v - threshold| + 1)^2``.
    """
    if not isinstance(v_minus_threshold, torch.Tensor):
        raise InputError(
            f"superspike expects a torch.Tensor, got {type(v_minus_threshold).__name__}.")
    alpha = _scalar_or_tensor(alpha, "alpha", v_minus_threshold, minimum=0.0, strict=False)
    return SuperSpike.apply(v_minus_threshold, alpha)


# ---------------------------------------------------------------------------------------
# Argument validation
# ---------------------------------------------------------------------------------------


def _check_input(x: object) -> torch.Tensor:
    """Validate the input current tensor: a floating tensor of shape (T, B, N)."""
    if not isinstance(x, torch.Tensor):
        raise InputError(
            f"The input must be a torch.Tensor of shape (time, batch, neurons), "
            f"got {type(x).__name__}.")
    if x.dim() != 3:
        raise ShapeError(
            f"The input must have shape (time, batch, neurons), i.e. 3 dimensions; got "
            f"shape {tuple(x.shape)}. Add a batch dimension with x.unsqueeze(1) if needed.")
    if not x.is_floating_point():
        raise InputError(
            f"The input must be a floating-point tensor (float32 or float64), got {x.dtype}.")
    return x


def _check_dt(dt: object) -> float:
    """Validate the time step: a finite number > 0."""
    if isinstance(dt, bool) or not isinstance(dt, (int, float)):
        raise ParameterError(f"dt must be a number of seconds > 0, got {dt!r}.")
    dt = float(dt)
    if not math.isfinite(dt) or dt <= 0:
        raise ParameterError(f"dt must be a finite number of seconds > 0, got {dt!r}.")
    return dt


def _scalar_or_tensor(value: object, name: str, like: torch.Tensor,
                      minimum: Optional[float] = None, strict: bool = True) -> Param:
    """Validate one neuron parameter and bring a tensor to ``like``'s device and dtype.

    Numbers stay python floats; tensors must have shape (), (1,) or (N,) with N the last
    dimension of ``like``. ``minimum`` (exclusive when ``strict``) bounds all values.
    """
    bound = "" if minimum is None else f" {'>' if strict else '>='} {minimum:g}"
    n = like.shape[-1] if like.dim() else 1
    if isinstance(value, bool):
        raise ParameterError(f"{name} must be a number or a tensor, got the bool {value!r}.")
    if isinstance(value, (int, float)):
        value = float(value)
        bad = not math.isfinite(value) or (
            minimum is not None and (value <= minimum if strict else value < minimum))
        if bad:
            raise ParameterError(f"{name} must be a finite number{bound}, got {value!r}.")
        return value
    if isinstance(value, torch.Tensor):
        if value.is_complex() or value.dtype == torch.bool:
            raise ParameterError(f"{name} must be a real-valued tensor, got dtype {value.dtype}.")
        if value.dim() > 1 or (value.dim() == 1 and value.shape[0] not in (1, n)):
            raise ShapeError(
                f"{name} must be a number or a tensor of shape () or ({n},) (one value per "
                f"neuron), got shape {tuple(value.shape)}.")
        value = value.to(device=like.device, dtype=like.dtype)
        with torch.no_grad():
            finite = bool(torch.isfinite(value).all())
            ok = finite and (minimum is None or bool(
                (value > minimum).all() if strict else (value >= minimum).all()))
        if not ok:
            raise ParameterError(
                f"{name} must be finite{bound} for every neuron, got {value.detach().cpu()}.")
        return value
    raise ParameterError(
        f"{name} must be a number or a torch.Tensor, got {type(value).__name__}.")


class _LIFArgs(NamedTuple):
    """Validated LIF arguments (numbers stay floats, tensors are on x's device/dtype)."""

    leak: Param
    reset: Param
    threshold: Param
    tau_mem: Param
    tau_syn: Param
    capacitance: Param
    refractory_time: Param
    alpha: Param
    dt: float


class _LIArgs(NamedTuple):
    """Validated LI arguments."""

    leak: Param
    tau_mem: Param
    tau_syn: Param
    capacitance: Param
    dt: float


def _lif_args(x: torch.Tensor, leak: Param, reset: Param, threshold: Param, tau_mem: Param,
              tau_syn: Param, capacitance: Param, refractory_time: Param, alpha: Param,
              dt: float) -> _LIFArgs:
    """Validate the LIF arguments against the input ``x``."""
    return _LIFArgs(
        leak=_scalar_or_tensor(leak, "leak", x),
        reset=_scalar_or_tensor(reset, "reset", x),
        threshold=_scalar_or_tensor(threshold, "threshold", x),
        tau_mem=_scalar_or_tensor(tau_mem, "tau_mem", x, minimum=0.0),
        tau_syn=_scalar_or_tensor(tau_syn, "tau_syn", x, minimum=0.0),
        capacitance=_scalar_or_tensor(capacitance, "capacitance", x, minimum=0.0),
        refractory_time=_scalar_or_tensor(
            refractory_time, "refractory_time", x, minimum=0.0, strict=False),
        alpha=_scalar_or_tensor(alpha, "alpha", x, minimum=0.0, strict=False),
        dt=_check_dt(dt),
    )


def _li_args(x: torch.Tensor, leak: Param, tau_mem: Param, tau_syn: Param,
             capacitance: Param, dt: float) -> _LIArgs:
    """Validate the LI arguments against the input ``x``."""
    return _LIArgs(
        leak=_scalar_or_tensor(leak, "leak", x),
        tau_mem=_scalar_or_tensor(tau_mem, "tau_mem", x, minimum=0.0),
        tau_syn=_scalar_or_tensor(tau_syn, "tau_syn", x, minimum=0.0),
        capacitance=_scalar_or_tensor(capacitance, "capacitance", x, minimum=0.0),
        dt=_check_dt(dt),
    )


def _is_refractory(refractory_time: Param) -> bool:
    """Whether a refractory period is configured for any neuron."""
    if isinstance(refractory_time, torch.Tensor):
        return bool((refractory_time != 0).any())
    return refractory_time != 0


# ---------------------------------------------------------------------------------------
# Reference implementations (the specification)
# ---------------------------------------------------------------------------------------


class LIFState(NamedTuple):
    """State of LIF neurons between steps: membrane, synaptic current, refractory counter."""

    v: torch.Tensor
    i: torch.Tensor
    r: torch.Tensor


class LIState(NamedTuple):
    """State of LI (readout) neurons between steps: membrane and synaptic current."""

    v: torch.Tensor
    i: torch.Tensor


def initial_state(model: str, batch: int, size: int, params: Optional[dict[str, Any]] = None,
                  like: Optional[torch.Tensor] = None) -> Union[LIFState, LIState]:
    """Resting state of ``batch x size`` neurons of ``model`` ("lif", "li" or "adex"): v = leak, i = 0 (w = 0).

    ``params`` supplies ``leak`` (default 80); ``like`` the device and dtype (default float32
    on the CPU).
    """
    if model not in ("lif", "li", "adex"):
        raise ParameterError(f"model must be 'lif', 'li' or 'adex', got {model!r}.")
    for name, value in (("batch", batch), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ParameterError(f"{name} must be a non-negative integer, got {value!r}.")
    template = torch.zeros(batch, size, dtype=like.dtype if like is not None else None,
                           device=like.device if like is not None else None)
    leak = _scalar_or_tensor((params or {}).get("leak", 80.0), "leak", template)
    v = template + leak
    if model == "li":
        return LIState(v=v, i=template.clone())
    if model == "adex":
        return AdExState(v=v, i=template.clone(), r=template.clone(), w=template.clone())
    return LIFState(v=v, i=template.clone(), r=template.clone())


def _check_step(x_t: object, state: tuple, kind: type) -> torch.Tensor:
    """Validate one step's input (B, N) against the state it updates."""
    if not isinstance(state, kind):
        raise InputError(f"state must be a {kind.__name__} (see initial_state), "
                         f"got {type(state).__name__}.")
    if not isinstance(x_t, torch.Tensor) or not x_t.is_floating_point():
        raise InputError(f"The step input must be a floating-point torch.Tensor of shape "
                         f"(batch, neurons), got {x_t!r:.80}.")
    if tuple(x_t.shape) != tuple(state.v.shape):
        raise ShapeError(f"The step input has shape {tuple(x_t.shape)}, but the state is for "
                         f"shape {tuple(state.v.shape)} (batch, neurons).")
    return x_t


def _lif_step(x_t: torch.Tensor, state: LIFState, p: _LIFArgs,
              refractory: bool) -> tuple[torch.Tensor, LIFState]:
    """One LIF step on validated arguments (the specification, autograd ops)."""
    v, i, r = state
    dt = p.dt
    g_l = p.capacitance / p.tau_mem
    dv = dt / p.capacitance * (i + g_l * (p.leak - v))
    i = i * (1 - dt / p.tau_syn) + x_t
    v = v + dv
    z = superspike(v - p.threshold, p.alpha)
    v = (1 - z.detach()) * v + z.detach() * p.reset
    if refractory:
        m = (r > 0).to(x_t.dtype)
        v = (1 - m) * v + m * p.reset
        z = (1 - m) * z
        r = (1 - z) * torch.relu(r - m) + z * (p.refractory_time / dt)
    return z, LIFState(v=v, i=i, r=r)


def _li_step(x_t: torch.Tensor, state: LIState, p: _LIArgs) -> LIState:
    """One LI step on validated arguments (the specification, autograd ops)."""
    v, i = state
    dt = p.dt
    g_l = p.capacitance / p.tau_mem
    dv = dt / p.capacitance * (i + g_l * (p.leak - v))
    i = i * (1 - dt / p.tau_syn) + x_t
    return LIState(v=v + dv, i=i)


def lif_step(x_t: torch.Tensor, state: LIFState, *, leak: Param = 80.0, reset: Param = 80.0,
             threshold: Param = 125.0, tau_mem: Param = 10e-6, tau_syn: Param = 10e-6,
             capacitance: Param = 10e-6, refractory_time: Param = 1e-6, alpha: Param = 50.0,
             dt: float = 1e-6) -> tuple[torch.Tensor, LIFState]:
    """Advance LIF neurons by one step with input ``x_t`` (B, N); returns ``(z, state)``.

    For networks that must be stepped (recurrence); uses autograd ops, so gradients flow
    through time as in :func:`lif_integration_reference`.
    """
    x_t = _check_step(x_t, state, LIFState)
    p = _lif_args(x_t, leak, reset, threshold, tau_mem, tau_syn, capacitance,
                  refractory_time, alpha, dt)
    return _lif_step(x_t, state, p, _is_refractory(p.refractory_time))


def li_step(x_t: torch.Tensor, state: LIState, *, leak: Param = 80.0, tau_mem: Param = 10e-6,
            tau_syn: Param = 10e-6, capacitance: Param = 10e-6, dt: float = 1e-6) -> LIState:
    """Advance LI (readout) neurons by one step with input ``x_t`` (B, N)."""
    x_t = _check_step(x_t, state, LIState)
    return _li_step(x_t, state, _li_args(x_t, leak, tau_mem, tau_syn, capacitance, dt))


def lif_integration_reference(
        x: torch.Tensor, *, leak: Param = 80.0, reset: Param = 80.0,
        threshold: Param = 125.0, tau_mem: Param = 10e-6, tau_syn: Param = 10e-6,
        capacitance: Param = 10e-6, refractory_time: Param = 1e-6, alpha: Param = 50.0,
        dt: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Integrate current-based LIF neurons step by step with autograd ops.

    Readable reference of :func:`lif_integration`. Returns ``(z, v, i)``: spikes,
    membrane (after reset/clamp) and synaptic current, each of shape (T, B, N).
    """
    x = _check_input(x)
    p = _lif_args(x, leak, reset, threshold, tau_mem, tau_syn, capacitance,
                  refractory_time, alpha, dt)
    refractory = _is_refractory(p.refractory_time)
    state = initial_state("lif", x.shape[1], x.shape[2], {"leak": p.leak}, x)
    spikes, membrane, current = [], [], []
    for x_t in x.unbind(0):  # unbind: one gradient op for all steps, not one per step
        z, state = _lif_step(x_t, state, p, refractory)
        spikes.append(z)
        membrane.append(state.v)
        current.append(state.i)
    if not spikes:
        empty = x.new_empty(x.shape)
        return empty, empty.clone(), empty.clone()
    return torch.stack(spikes), torch.stack(membrane), torch.stack(current)


def li_integration_reference(
        x: torch.Tensor, *, leak: Param = 80.0, tau_mem: Param = 10e-6,
        tau_syn: Param = 10e-6, capacitance: Param = 10e-6,
        dt: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrate current-based LI (readout) neurons step by step with autograd ops.

    Readable reference of :func:`li_integration`. Returns ``(v, i)``, each (T, B, N).
    """
    x = _check_input(x)
    p = _li_args(x, leak, tau_mem, tau_syn, capacitance, dt)
    state = initial_state("li", x.shape[1], x.shape[2], {"leak": p.leak}, x)
    membrane, current = [], []
    for x_t in x.unbind(0):
        state = _li_step(x_t, state, p)
        membrane.append(state.v)
        current.append(state.i)
    if not membrane:
        return x.new_empty(x.shape), x.new_empty(x.shape)
    return torch.stack(membrane), torch.stack(current)


class AdExState(NamedTuple):
    """State of AdEx neurons between steps: membrane, synaptic current, refractory counter, adaptation."""

    v: torch.Tensor
    i: torch.Tensor
    r: torch.Tensor
    w: torch.Tensor


class _AdExArgs(NamedTuple):
    """Validated AdEx arguments: the LIF's and the adaptation/exponential ones."""

    lif: _LIFArgs
    exp_slope: Param
    exp_threshold: Param
    a: Param
    b: Param
    tau_adap: Param


#: Cap of the exponent (v - V_T) / dT: exp(40) is finite in float32, and a membrane that far above
#: V_T crosses any sensible threshold in the same step.
EXPONENT_CAP = 40.0
#: Floor of the exponent: below it the term is under 1e-35 (nothing next to float32's resolution
#: of the membrane), and float32 exponentials that end in denormals are ~100× slower on CPUs.
EXPONENT_FLOOR = -80.0


def adex_args(x: torch.Tensor, leak: Param, reset: Param, threshold: Param, tau_mem: Param,
              tau_syn: Param, capacitance: Param, refractory_time: Param, alpha: Param,
              exp_slope: Param, exp_threshold: Param, a: Param, b: Param, tau_adap: Param,
              dt: float) -> _AdExArgs:
    """Validate AdEx arguments against the input `x` (a `ParameterError` naming the parameter)."""
    return _AdExArgs(
        lif=_lif_args(x, leak, reset, threshold, tau_mem, tau_syn, capacitance, refractory_time, alpha, dt),
        exp_slope=_scalar_or_tensor(exp_slope, "exp_slope", x, minimum=0.0, strict=False),
        exp_threshold=_scalar_or_tensor(exp_threshold, "exp_threshold", x),
        a=_scalar_or_tensor(a, "a", x),
        b=_scalar_or_tensor(b, "b", x),
        tau_adap=_scalar_or_tensor(tau_adap, "tau_adap", x, minimum=0.0),
    )


def _as_tensor(value: Param, like: torch.Tensor) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.full_like(like, value)


def _exponential_term(v: torch.Tensor, slope: Param, v_t: Param) -> Union[torch.Tensor, float]:
    """``dT * exp((v - V_T) / dT)``, 0 where dT = 0 (the term switched off)."""
    if not isinstance(slope, torch.Tensor):
        if slope == 0:
            return 0.0
        return slope * torch.exp(((v - v_t) / slope).clamp(EXPONENT_FLOOR, EXPONENT_CAP))
    on = slope > 0
    safe = torch.where(on, slope, torch.ones_like(slope))
    return torch.where(on, safe * torch.exp(((v - v_t) / safe).clamp(EXPONENT_FLOOR, EXPONENT_CAP)), torch.zeros_like(v))


def _adex_step(x_t: torch.Tensor, state: AdExState, p: _AdExArgs,
               refractory: bool) -> tuple[torch.Tensor, AdExState]:
    """One AdEx step on validated arguments (the specification, autograd ops)."""
    v, i, r, w = state
    q = p.lif
    dt = q.dt
    g_l = q.capacitance / q.tau_mem
    dv = dt / q.capacitance * (i + g_l * (q.leak - v) + g_l * _exponential_term(v, p.exp_slope, p.exp_threshold) - w)
    i = i * (1 - dt / q.tau_syn) + x_t
    v = v + dv
    z = superspike(v - q.threshold, q.alpha)
    m = (r > 0).to(x_t.dtype) if refractory else None
    if m is not None:
        z = (1 - m) * z
    # The membrane the adaptation sees is capped at the threshold: past it, the exponential term can
    # throw v arbitrarily far within one step (hxtorch's AELIF uses that value); a continuous-time
    # AdEx spikes at the threshold, so this is what it sees.
    w = w * (1 - dt / p.tau_adap) + dt / p.tau_adap * p.a * (torch.minimum(v, _as_tensor(q.threshold, v)) - q.leak) \
        + p.b * z
    v = (1 - z.detach()) * v + z.detach() * q.reset
    if m is not None:
        v = (1 - m) * v + m * q.reset
        r = (1 - z) * torch.relu(r - m) + z * (q.refractory_time / dt)
    return z, AdExState(v=v, i=i, r=r, w=w)


def adex_step(x_t: torch.Tensor, state: AdExState, *, leak: Param = 80.0, reset: Param = 80.0,
              threshold: Param = 125.0, tau_mem: Param = 10e-6, tau_syn: Param = 10e-6,
              capacitance: Param = 10e-6, refractory_time: Param = 1e-6, alpha: Param = 50.0,
              exp_slope: Param = 50e-3, exp_threshold: Param = 110.0, a: Param = 1.0, b: Param = 1.0,
              tau_adap: Param = 100e-6, dt: float = 1e-6) -> tuple[torch.Tensor, AdExState]:
    """Advance AdEx neurons by one step with input ``x_t`` (B, N); returns ``(z, state)``."""
    x_t = _check_step(x_t, state, AdExState)
    p = adex_args(x_t, leak, reset, threshold, tau_mem, tau_syn, capacitance, refractory_time, alpha,
                   exp_slope, exp_threshold, a, b, tau_adap, dt)
    return _adex_step(x_t, state, p, _is_refractory(p.lif.refractory_time))


def adex_integration_reference(
        x: torch.Tensor, *, leak: Param = 80.0, reset: Param = 80.0, threshold: Param = 125.0,
        tau_mem: Param = 10e-6, tau_syn: Param = 10e-6, capacitance: Param = 10e-6,
        refractory_time: Param = 1e-6, alpha: Param = 50.0, exp_slope: Param = 50e-3,
        exp_threshold: Param = 110.0, a: Param = 1.0, b: Param = 1.0, tau_adap: Param = 100e-6,
        dt: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Integrate AdEx neurons step by step with autograd ops; returns ``(z, v, i, w)``, each (T, B, N)."""
    x = _check_input(x)
    p = adex_args(x, leak, reset, threshold, tau_mem, tau_syn, capacitance, refractory_time, alpha,
                   exp_slope, exp_threshold, a, b, tau_adap, dt)
    refractory = _is_refractory(p.lif.refractory_time)
    state = initial_state("adex", x.shape[1], x.shape[2], {"leak": p.lif.leak}, x)
    traces: list[list[torch.Tensor]] = [[], [], [], []]
    for x_t in x.unbind(0):
        z, state = _adex_step(x_t, state, p, refractory)
        for trace, value in zip(traces, (z, state.v, state.i, state.w)):
            trace.append(value)
    if not traces[0]:
        return tuple(x.new_empty(x.shape) for _ in range(4))
    return tuple(torch.stack(t) for t in traces)


def _is_zero(value: Param) -> bool:
    return bool((value == 0).all()) if isinstance(value, torch.Tensor) else value == 0


def adex_integration(
        x: torch.Tensor, *, leak: Param = 80.0, reset: Param = 80.0, threshold: Param = 125.0,
        tau_mem: Param = 10e-6, tau_syn: Param = 10e-6, capacitance: Param = 10e-6,
        refractory_time: Param = 1e-6, alpha: Param = 50.0, exp_slope: Param = 50e-3,
        exp_threshold: Param = 110.0, a: Param = 1.0, b: Param = 1.0, tau_adap: Param = 100e-6,
        dt: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Integrate AdEx neurons; returns ``(z, v, i, w)``, each (T, B, N).

    Where adaptation and the exponential term are off for every neuron (a = b = 0, dT = 0)
    this is the LIF and runs on :func:`lif_integration` (w = 0). Otherwise a custom autograd
    function runs the loop in place and computes the adjoint by hand (gradients to ``x``);
    where a parameter tensor requires grad it is :func:`adex_integration_reference`.
    """
    lif = dict(leak=leak, reset=reset, threshold=threshold, tau_mem=tau_mem, tau_syn=tau_syn,
               capacitance=capacitance, refractory_time=refractory_time, alpha=alpha, dt=dt)
    x = _check_input(x)
    p = adex_args(x, exp_slope=exp_slope, exp_threshold=exp_threshold, a=a, b=b, tau_adap=tau_adap, **lif)
    if _is_zero(exp_slope) and _is_zero(a) and _is_zero(b):
        z, v, i = lif_integration(x, **lif)
        return z, v, i, torch.zeros_like(v)
    if _needs_traces(*p.lif[:-1], *p[1:]):  # a parameter that wants its gradient: autograd through the loop
        return adex_integration_reference(x, exp_slope=exp_slope, exp_threshold=exp_threshold, a=a, b=b,
                                          tau_adap=tau_adap, **lif)
    return _AdExFunction.apply(x, p)


# ---------------------------------------------------------------------------------------
# Fast implementations: hand-written forward and adjoint loops
# ---------------------------------------------------------------------------------------


def refractory_steps(refractory_time: Param, dt: float, *, dtype: torch.dtype = torch.float32,
                     max_steps: Optional[int] = None) -> torch.Tensor:
    """Number of steps after a spike during which a neuron is clamped, as int64 tensor.

    Replays the reference counter (set to ``refractory_time / dt``, then
    ``r = relu(r - 1)`` while ``r > 0``) in ``dtype``, so rounding of the ratio is
    honoured exactly. ``max_steps`` caps the count (a period longer than the run).
    """
    if isinstance(refractory_time, numbers.Real):  # a number: replayed once per value (training repeats it)
        return _refractory_steps_of(refractory_time, dt, dtype, max_steps).clone()
    return _replayed_refractory_steps(refractory_time, dt, dtype, max_steps)


@functools.lru_cache(maxsize=64)
def _refractory_steps_of(refractory_time: float, dt: float, dtype: torch.dtype,
                         max_steps: Optional[int]) -> torch.Tensor:
    return _replayed_refractory_steps(refractory_time, dt, dtype, max_steps)


def _replayed_refractory_steps(refractory_time: Param, dt: float, dtype: torch.dtype,
                               max_steps: Optional[int]) -> torch.Tensor:
    with torch.no_grad():
        ratio = refractory_time / dt
        counter = torch.as_tensor(ratio, dtype=dtype).clone()
        if isinstance(refractory_time, torch.Tensor):
            counter = counter.to(refractory_time.device)
        steps = torch.zeros(counter.shape, dtype=torch.int64, device=counter.device)
        limit = max_steps if max_steps is not None else 1 << 62
        taken = 0
        while taken < limit:
            active = counter > 0
            if not bool(active.any()):
                break
            steps += active
            counter = torch.relu(counter - active.to(dtype))
            taken += 1
        return steps


def _vector(value: Param, size: int, like: torch.Tensor) -> torch.Tensor:
    """A parameter as a (N,) tensor on ``like``'s device and dtype, without autograd."""
    if isinstance(value, torch.Tensor):
        value = value.detach()
        if value.dim() == 0 or value.shape[0] == 1:
            return value.reshape(()).expand(size).contiguous()
        return value.contiguous()
    return torch.full((size,), value, dtype=like.dtype, device=like.device)


def _sum_to(grad: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
    """Sum a (..., N) gradient down to the shape of ``param`` ((), (1,) or (N,))."""
    if param.dim() == 0 or param.shape[0] == 1:
        return grad.sum().reshape(param.shape)
    return grad.reshape(-1, grad.shape[-1]).sum(0)


def _needs(ctx: Any, index: int, value: Any) -> bool:
    """Whether the autograd input at ``index`` is a tensor that needs a gradient."""
    return isinstance(value, torch.Tensor) and ctx.needs_input_grad[index]


class _Coefficients(NamedTuple):
    """Per-neuron (N,) coefficients of ``i' = a i + x``, ``v' = alpha_m v + beta i + gamma``."""

    a: torch.Tensor  # 1 - dt / tau_syn
    alpha_m: torch.Tensor  # 1 - dt / tau_mem
    beta: torch.Tensor  # dt / c
    gamma: torch.Tensor  # dt / tau_mem * leak
    leak: torch.Tensor


def _coefficients(x: torch.Tensor, leak: Param, tau_mem: Param, tau_syn: Param,
                  capacitance: Param, dt: float) -> _Coefficients:
    """Precompute the per-neuron coefficients of the linear part of the update."""
    if all(isinstance(v, numbers.Real) for v in (leak, tau_mem, tau_syn, capacitance)):
        # numbers: computed once per value (a training loop calls with the same ones), copies handed out
        cached = _coefficients_of(x.shape[-1], x.dtype, x.device, leak, tau_mem, tau_syn, capacitance, dt)
        return _Coefficients(*(t.clone() for t in cached))
    return _computed_coefficients(x, leak, tau_mem, tau_syn, capacitance, dt)


@functools.lru_cache(maxsize=64)
def _coefficients_of(size: int, dtype: torch.dtype, device: torch.device, leak: float, tau_mem: float,
                     tau_syn: float, capacitance: float, dt: float) -> _Coefficients:
    return _computed_coefficients(torch.empty(0, size, dtype=dtype, device=device), leak, tau_mem, tau_syn,
                                  capacitance, dt)


def _computed_coefficients(x: torch.Tensor, leak: Param, tau_mem: Param, tau_syn: Param,
                           capacitance: Param, dt: float) -> _Coefficients:
    size = x.shape[-1]
    leak_v = _vector(leak, size, x)
    tau_mem_v = _vector(tau_mem, size, x)
    tau_syn_v = _vector(tau_syn, size, x)
    c_v = _vector(capacitance, size, x)
    beta = dt / c_v
    g_l = c_v / tau_mem_v
    leak_gain = beta * g_l  # dt / tau_mem, computed as the reference does
    return _Coefficients(
        a=1 - dt / tau_syn_v, alpha_m=1 - leak_gain, beta=beta, gamma=leak_gain * leak_v,
        leak=leak_v)


def _synaptic_current(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Run ``i_t = a * i_{t-1} + x_t`` (i_{-1} = 0) over time into a new tensor."""
    if kernels.enabled(x, a):
        return kernels.scan_(kernels.OUTPUTS.empty_like(x).copy_(x), a)
    current = torch.empty_like(x)
    if x.shape[0]:
        current[0] = x[0]
    steps_x = x.unbind(0)
    steps_i = current.unbind(0)
    for t in range(1, x.shape[0]):
        torch.addcmul(steps_x[t], a, steps_i[t - 1], out=steps_i[t])
    return current


def _membrane_drive(current: torch.Tensor, k: _Coefficients) -> torch.Tensor:
    """``beta * i_{t-1} + gamma`` for every step, with v_{-1} = leak folded into step 0."""
    drive = torch.empty_like(current)
    if current.shape[0]:
        drive[0] = torch.addcmul(k.gamma, k.alpha_m, k.leak)
        torch.addcmul(k.gamma, k.beta, current[:-1], out=drive[1:])
    return drive


def _reverse_scan_(buffer: torch.Tensor, decay: torch.Tensor, stop: int = 0) -> torch.Tensor:
    """In place: ``buffer[t] += decay * buffer[t + 1]`` for t from the end down to ``stop``.

    ``decay`` is constant per neuron (N,) or given per step (same shape as ``buffer``).
    """
    if kernels.enabled(buffer, decay):
        return kernels.reverse_scan_(buffer, decay, stop)
    rows = buffer.unbind(0)
    if decay.dim() == buffer.dim():
        factors = decay.unbind(0)
        for t in range(len(rows) - 2, stop - 1, -1):
            rows[t].addcmul_(factors[t], rows[t + 1])
    else:
        for t in range(len(rows) - 2, stop - 1, -1):
            rows[t].addcmul_(decay, rows[t + 1])
    return buffer


def _surrogate_factor_(potential: torch.Tensor, threshold: torch.Tensor,
                       alpha: Param) -> torch.Tensor:
    """In place: ``p -> 1 / (alpha * |p - threshold| + 1)^2``, the SuperSpike derivative."""
    potential.sub_(threshold).abs_()
    if isinstance(alpha, torch.Tensor):
        potential.mul_(alpha.detach())
    else:
        potential.mul_(alpha)
    return potential.add_(1).pow_(-2)


def _input_adjoint_(buffer: torch.Tensor, grad_i: Optional[torch.Tensor],
                    k: _Coefficients) -> torch.Tensor:
    """Turn ``buffer[:T]`` = adjoint of p into ``buffer[1:]`` = adjoint of i (= grad of x).

    ``lambda_i[t] = grad_i[t] + beta * lambda_p[t + 1] + a * lambda_i[t + 1]``: i_t enters
    the next membrane update with weight beta and the next current with weight a.
    ``buffer`` has T + 1 rows; ``lambda_i[t]`` is written over ``lambda_p[t + 1]``, which
    is its last use, so no second (T, B, N) buffer is needed.
    """
    steps = buffer.shape[0] - 1
    if steps == 0:
        return buffer[1:]
    if kernels.enabled(buffer, k.beta, k.a, *(() if grad_i is None else (grad_i,))):
        return kernels.input_adjoint_(buffer, grad_i, k.beta, k.a)[1:]  # the same in one pass
    buffer[1:steps].mul_(k.beta)
    if grad_i is not None:
        buffer[1:steps].add_(grad_i[:-1])
        buffer[steps].copy_(grad_i[-1])
    else:
        buffer[steps].zero_()
    _reverse_scan_(buffer, k.a, stop=1)
    return buffer[1:]


def _membrane_param_grads(ctx: Any, offsets: dict[str, int], params: dict[str, Any],
                          grad_p: torch.Tensor, k: _Coefficients, dt: float,
                          membrane: Optional[torch.Tensor],
                          current: Optional[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Gradients w.r.t. leak, tau_mem and capacitance from the adjoint ``grad_p`` of p.

    ``p_t = v_{t-1} + dt/c * i_{t-1} + dt/tau_mem * (leak - v_{t-1})`` with
    ``v_{-1} = leak`` and ``i_{-1} = 0``.
    """
    grads: dict[str, torch.Tensor] = {}
    size = grad_p.shape[-1]
    if _needs(ctx, offsets["leak"], params["leak"]):
        full = (1 - k.alpha_m) * grad_p.sum(0) + k.alpha_m * grad_p[0]
        grads["leak"] = _sum_to(full, params["leak"])
    if _needs(ctx, offsets["tau_mem"], params["tau_mem"]):
        tau = _vector(params["tau_mem"], size, grad_p)
        deviation = k.leak - membrane[:-1]
        full = (grad_p[1:] * deviation).sum(0) * (-dt / (tau * tau))
        grads["tau_mem"] = _sum_to(full, params["tau_mem"])
    if _needs(ctx, offsets["capacitance"], params["capacitance"]):
        c = _vector(params["capacitance"], size, grad_p)
        full = (grad_p[1:] * current[:-1]).sum(0) * (-dt / (c * c))
        grads["capacitance"] = _sum_to(full, params["capacitance"])
    return grads


def _tau_syn_grad(ctx: Any, offsets: dict[str, int], params: dict[str, Any],
                  grad_i: torch.Tensor, dt: float,
                  current: Optional[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Gradient w.r.t. tau_syn from the adjoint of i: ``d i_t / d tau_syn = dt/tau^2 i_{t-1}``."""
    if not _needs(ctx, offsets["tau_syn"], params["tau_syn"]):
        return {}
    tau = _vector(params["tau_syn"], grad_i.shape[-1], grad_i)
    full = (grad_i[1:] * current[:-1]).sum(0) * (dt / (tau * tau))
    return {"tau_syn": _sum_to(full, params["tau_syn"])}


def _detached(**params: Param) -> dict[str, Param]:
    """Parameters as kept for backward: values and shapes only, no autograd history."""
    return {name: value.detach() if isinstance(value, torch.Tensor) else value
            for name, value in params.items()}


def _needs_traces(*params: Param) -> bool:
    """Whether a parameter gradient needs the recorded membrane and current traces."""
    return any(isinstance(v, torch.Tensor) and v.requires_grad for v in params)


class _Refractory:
    """Which neurons are refractory at each step of a kernel's forward loop.

    A spike clamps a neuron for `refractory_steps` following steps. With one step everywhere
    (the default 1 µs at dt = 1 µs) the mask of step t is the spikes of step t - 1 and nothing is
    stored; otherwise `masks` (T, B, N) records them (neuron refractory at t iff its last spike
    s satisfies s >= t - steps).
    """

    def __init__(self, refractory_time: Param, dt: float, x: torch.Tensor):
        steps, _, size = x.shape
        self.active = _is_refractory(refractory_time)
        self.one_step = False
        self.masks: Optional[torch.Tensor] = None
        if not self.active:
            return
        counts = refractory_steps(refractory_time, dt, dtype=x.dtype, max_steps=steps + 1).to(x.device)
        counts = counts.reshape(-1).expand(size)
        self.one_step = bool((counts == 1).all())
        if not self.one_step:
            self.masks = torch.empty_like(x)
            self._last_spike = torch.full_like(x[0], -float(int(counts.max()) + 1))
            times = torch.arange(steps, dtype=x.dtype, device=x.device)
            self._earliest = (times[:, None] - counts.to(x.dtype)[None, :]).unbind(0)
            self._times = times.unbind(0)

    def mask(self, t: int, spikes: torch.Tensor) -> Optional[torch.Tensor]:
        """The refractory mask of step t (None: nobody), given the spikes (T, B, N) filled up to t - 1."""
        if self.one_step:
            return spikes[t - 1] if t else None
        if self.masks is None:
            return None
        return torch.ge(self._last_spike, self._earliest[t], out=self.masks[t])

    def record(self, t: int, spiked: torch.Tensor) -> None:
        """Remember the spikes of step t (needed when the period is longer than one step)."""
        if self.masks is not None:
            torch.lerp(self._last_spike, self._times[t].expand_as(self._last_spike), spiked, out=self._last_spike)


class _LIFFunction(torch.autograd.Function):
    """LIF integration with a hand-written BPTT adjoint (see :func:`lif_integration`).

    Forward keeps, besides the outputs, one (T, B, N) tensor: the SuperSpike derivative at
    every step (zero where the neuron is refractory), and the refractory masks when the
    refractory period is longer than one step (for one step they are the shifted spikes).
    """

    _ORDER = ("x", "leak", "reset", "threshold", "tau_mem", "tau_syn", "capacitance",
              "refractory_time", "alpha", "dt")

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, leak: Param, reset: Param, threshold: Param,
                tau_mem: Param, tau_syn: Param, capacitance: Param, refractory_time: Param,
                alpha: Param, dt: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ctx.set_materialize_grads(False)
        x = x.contiguous()
        steps, _, size = x.shape
        k = _coefficients(x, leak, tau_mem, tau_syn, capacitance, dt)
        reset_v = _vector(reset, size, x)
        threshold_v = _vector(threshold, size, x)

        refractory = _Refractory(refractory_time, dt, x)
        one_step, masks = refractory.one_step, refractory.masks
        # a reset at or above threshold would make the clamped value spike: mask explicitly
        mask_spikes = refractory.active and bool((reset_v >= threshold_v).any())
        wants_surrogate = any(ctx.needs_input_grad)
        alpha_v = _vector(alpha, size, x)
        if masks is None and kernels.enabled(x, *k, reset_v, threshold_v, alpha_v):
            # the loops below in one compiled pass (hxgraph.kernels), the same to the bit
            # (memory used again once the previous call's outputs are gone: `kernels.Recycler`)
            current, potential, membrane, spikes = (kernels.OUTPUTS.empty_like(x) for _ in range(4))
            kernels.lif_forward(x, k, reset_v, threshold_v, alpha_v, one_step, mask_spikes, wants_surrogate,
                                current, potential, membrane, spikes)
            surrogate = potential if wants_surrogate else None
        else:
            current = _synaptic_current(x, k.a)
            # p: membrane after integration, before spike/reset (clamped while refractory)
            potential = _membrane_drive(current, k)
            membrane = torch.empty_like(x)
            spikes = torch.empty_like(x)
            p_rows, v_rows, z_rows = potential.unbind(0), membrane.unbind(0), spikes.unbind(0)
            for t in range(steps):
                p_t, z_t = p_rows[t], z_rows[t]
                if t:
                    p_t.addcmul_(k.alpha_m, v_rows[t - 1])
                refractory_mask = refractory.mask(t, spikes)
                if refractory_mask is not None:
                    torch.lerp(p_t, reset_v, refractory_mask, out=p_t)
                torch.gt(p_t, threshold_v, out=z_t)
                if mask_spikes and refractory_mask is not None:
                    z_t.mul_(1 - refractory_mask)
                torch.lerp(p_t, reset_v, z_t, out=v_rows[t])
                refractory.record(t, z_t)

            surrogate = None
            if wants_surrogate:
                # d z / d p, zero in refractory steps (spikes masked there)
                surrogate = _surrogate_factor_(potential, threshold_v, alpha_v)
                if one_step and steps > 1:
                    surrogate[1:].addcmul_(surrogate[1:], spikes[:-1], value=-1)
                elif masks is not None:
                    surrogate.addcmul_(surrogate, masks, value=-1)
        ctx.one_step = one_step
        ctx.dt = dt
        ctx.params = _detached(leak=leak, reset=reset, threshold=threshold, tau_mem=tau_mem,
                               tau_syn=tau_syn, capacitance=capacitance)
        traces = _needs_traces(tau_mem, tau_syn, capacitance)
        ctx.save_for_backward(
            surrogate, spikes, masks, membrane if traces else None,
            current if traces else None, *k)
        return spikes, membrane, current

    @staticmethod
    def backward(ctx: Any, grad_z: Optional[torch.Tensor], grad_v: Optional[torch.Tensor],
                 grad_i: Optional[torch.Tensor]) -> tuple[Optional[torch.Tensor], ...]:
        surrogate, spikes, masks, membrane, current, *coefficients = ctx.saved_tensors
        k = _Coefficients(*coefficients)
        offsets = {name: index for index, name in enumerate(_LIFFunction._ORDER)}
        params = ctx.params
        steps = spikes.shape[0]
        grads: dict[str, torch.Tensor] = {}
        membrane_params = ("leak", "reset", "threshold", "tau_mem", "capacitance")
        fusable = (masks is None and not any(_needs(ctx, offsets[name], params[name]) for name in membrane_params)
                   and kernels.enabled(spikes, *k))
        # upstream gradients may be broadcast views (the gradient of a sum): the kernel reads them contiguous, or,
        # one value expanded to every spike (kernels.uniform), as that value
        single = grad_z is not None and kernels.uniform(grad_z)
        upstream = [None if g is None or not fusable else g if k == 0 and single else g.contiguous()
                    for k, g in enumerate((grad_z, grad_v, grad_i))]
        if fusable and kernels.enabled(spikes, *(g.reshape(-1)[:1] if k == 0 and single else g
                                                 for k, g in enumerate(upstream) if g is not None)):
            # only the input (and tau_syn) gradient: the steps below in one compiled sweep, the same to the bit
            grad_x = kernels.lif_adjoint(*upstream[:1], surrogate, *upstream[1:], spikes, k.alpha_m, k.beta, k.a,
                                         ctx.one_step)
            grads.update(_tau_syn_grad(ctx, offsets, params, grad_x, ctx.dt, current))
            return tuple(grad_x if name == "x" else grads.get(name) for name in _LIFFunction._ORDER)

        # Adjoint of p (membrane before reset), in rows 0..T-1; row T is lambda_p[T] = 0.
        # lambda_p[t] = keep[t] * (grad_v[t] + alpha_m * lambda_p[t + 1])
        #               + grad_z[t] * surrogate[t]
        # keep[t] = d v_t / d p_t = 1 - z_t - m_t (the reset is detached, the clamp holds)
        buffer = spikes.new_zeros((steps + 1,) + tuple(spikes.shape[1:]))
        lambda_p = buffer[:steps]
        if grad_z is not None:
            torch.mul(grad_z, surrogate, out=lambda_p)
            if _needs(ctx, offsets["threshold"], params["threshold"]):
                grads["threshold"] = _sum_to(-lambda_p.sum(0), params["threshold"])

        # removed[t] = z_t + m_t: where the membrane was set to reset
        if ctx.one_step:
            def subtract_removed_(out: torch.Tensor, factor: torch.Tensor) -> None:
                out.addcmul_(spikes, factor, value=-1)
                if steps > 1:
                    out[1:].addcmul_(spikes[:-1], factor[1:] if factor.dim() == 3
                                     else factor, value=-1)
        else:
            def subtract_removed_(out: torch.Tensor, factor: torch.Tensor) -> None:
                out.addcmul_(spikes, factor, value=-1)
                if masks is not None:
                    out.addcmul_(masks, factor, value=-1)

        if grad_v is not None:
            lambda_p.add_(grad_v)
            subtract_removed_(lambda_p, grad_v)
        if grad_z is not None or grad_v is not None:
            if masks is None and kernels.enabled(buffer, k.alpha_m):
                kernels.lif_membrane_adjoint_(lambda_p, spikes, k.alpha_m, ctx.one_step)  # the same, fused
            else:
                decay = torch.empty_like(spikes)
                decay.copy_(k.alpha_m.expand_as(decay))
                subtract_removed_(decay, k.alpha_m)
                _reverse_scan_(lambda_p, decay)
                del decay

        # without a gradient on z or v the membrane parameters get none (as with autograd)
        membrane_used = grad_z is not None or grad_v is not None
        if membrane_used:
            grads.update(_membrane_param_grads(ctx, offsets, params, lambda_p, k, ctx.dt,
                                               membrane, current))
        if membrane_used and _needs(ctx, offsets["reset"], params["reset"]):
            # d v_t / d reset = z_t + m_t; lambda_v[t] = grad_v[t] + alpha_m lambda_p[t + 1]
            lambda_v = buffer[1:] * k.alpha_m
            if grad_v is not None:
                lambda_v.add_(grad_v)
            hit = spikes.clone()
            if ctx.one_step and steps > 1:
                hit[1:].add_(spikes[:-1])
            elif masks is not None:
                hit.add_(masks)
            grads["reset"] = _sum_to((hit * lambda_v).sum(0), params["reset"])

        grad_x = _input_adjoint_(buffer, grad_i, k)
        grads.update(_tau_syn_grad(ctx, offsets, params, grad_x, ctx.dt, current))
        return tuple(
            grad_x if name == "x" else grads.get(name) for name in _LIFFunction._ORDER)


class _LIFunction(torch.autograd.Function):
    """LI integration with a hand-written adjoint (see :func:`li_integration`)."""

    _ORDER = ("x", "leak", "tau_mem", "tau_syn", "capacitance", "dt")

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, leak: Param, tau_mem: Param, tau_syn: Param,
                capacitance: Param, dt: float) -> tuple[torch.Tensor, torch.Tensor]:
        ctx.set_materialize_grads(False)
        x = x.contiguous()
        k = _coefficients(x, leak, tau_mem, tau_syn, capacitance, dt)
        current = _synaptic_current(x, k.a)
        membrane = _membrane_drive(current, k)
        if kernels.enabled(membrane, k.alpha_m):
            kernels.scan_(membrane, k.alpha_m)
        else:
            rows = membrane.unbind(0)
            for t in range(1, x.shape[0]):
                rows[t].addcmul_(k.alpha_m, rows[t - 1])
        ctx.dt = dt
        ctx.params = _detached(leak=leak, tau_mem=tau_mem, tau_syn=tau_syn,
                               capacitance=capacitance)
        traces = _needs_traces(tau_mem, tau_syn, capacitance)
        ctx.save_for_backward(
            membrane if traces else None, current if traces else None, *k)
        return membrane, current

    @staticmethod
    def backward(ctx: Any, grad_v: Optional[torch.Tensor],
                 grad_i: Optional[torch.Tensor]) -> tuple[Optional[torch.Tensor], ...]:
        membrane, current, *coefficients = ctx.saved_tensors
        k = _Coefficients(*coefficients)
        offsets = {name: index for index, name in enumerate(_LIFunction._ORDER)}
        like = grad_v if grad_v is not None else grad_i
        if like is None:
            return (None,) * len(_LIFunction._ORDER)
        steps = like.shape[0]
        # the membrane is linear: lambda_v[t] = grad_v[t] + alpha_m * lambda_v[t + 1]
        buffer = like.new_zeros((steps + 1,) + tuple(like.shape[1:]))
        lambda_v = buffer[:steps]
        if grad_v is not None:
            lambda_v.copy_(grad_v)
            _reverse_scan_(lambda_v, k.alpha_m)
        grads: dict[str, torch.Tensor] = {}
        if grad_v is not None:
            grads = _membrane_param_grads(ctx, offsets, ctx.params, lambda_v, k, ctx.dt,
                                          membrane, current)
        grad_x = _input_adjoint_(buffer, grad_i, k)
        grads.update(_tau_syn_grad(ctx, offsets, ctx.params, grad_x, ctx.dt, current))
        return tuple(
            grad_x if name == "x" else grads.get(name) for name in _LIFunction._ORDER)


class _AdExFunction(torch.autograd.Function):
    """AdEx integration with a hand-written BPTT adjoint (see :func:`adex_integration`).

    Gradients flow to the input ``x`` only; parameters are values (the reference path takes
    parameter gradients). Forward keeps the membrane before reset ``p`` (for the surrogate and
    the threshold cap of the adaptation), the spikes, the refractory masks and the membrane.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, p: "_AdExArgs") -> tuple[torch.Tensor, ...]:
        ctx.set_materialize_grads(False)
        x = x.contiguous()
        q = p.lif
        steps, _, size = x.shape
        dt = q.dt
        k = _coefficients(x, q.leak, q.tau_mem, q.tau_syn, q.capacitance, dt)
        reset_v, threshold_v = _vector(q.reset, size, x), _vector(q.threshold, size, x)
        slope = _vector(p.exp_slope, size, x)
        on = slope > 0
        inv_slope = torch.where(on, 1 / torch.where(on, slope, torch.ones_like(slope)), torch.zeros_like(slope))
        leak_gain = 1 - k.alpha_m                               # dt / tau_mem
        exp_gain = leak_gain * slope                            # dt/tau_mem · ΔT: 0 where the term is off
        exp_offset = -_vector(p.exp_threshold, size, x) * inv_slope
        exponential = bool(on.any())
        tau_adap = _vector(p.tau_adap, size, x)
        decay_w, gain_w = 1 - dt / tau_adap, dt / tau_adap
        strength = gain_w * _vector(p.a, size, x)               # dt/tau_adap · a
        increment = _vector(p.b, size, x)
        w_rest = strength * k.leak                              # subtracted every step: a·(v − leak)

        current = _synaptic_current(x, k.a)
        potential = _membrane_drive(current, k)                 # β i_{t-1} + γ (+ α_m leak at t = 0)
        membrane, spikes = torch.empty_like(x), torch.empty_like(x)
        w = torch.zeros_like(x[0])
        adaptation = torch.empty_like(x)
        scratch = torch.empty_like(x[0])

        refractory = _Refractory(q.refractory_time, dt, x)
        one_step, masks = refractory.one_step, refractory.masks

        p_rows, v_rows, z_rows, w_rows = potential.unbind(0), membrane.unbind(0), spikes.unbind(0), adaptation.unbind(0)
        previous = k.leak.expand_as(x[0])
        for t in range(steps):
            p_t, z_t = p_rows[t], z_rows[t]
            if t:
                p_t.addcmul_(k.alpha_m, previous).addcmul_(k.beta, w, value=-1)
            if exponential:
                torch.addcmul(exp_offset, previous, inv_slope, out=scratch).clamp_(EXPONENT_FLOOR, EXPONENT_CAP).exp_()
                p_t.addcmul_(exp_gain, scratch)
            torch.gt(p_t, threshold_v, out=z_t)
            mask = refractory.mask(t, spikes)
            if mask is not None:
                z_t.mul_(1 - mask)
            # adaptation from the membrane capped at the threshold, and the emitted spikes
            torch.minimum(p_t, threshold_v, out=scratch)
            w = w.mul(decay_w).addcmul_(strength, scratch).sub_(w_rest).addcmul_(increment, z_t)
            w_rows[t].copy_(w)
            torch.lerp(p_t, reset_v, z_t if mask is None else torch.maximum(z_t, mask), out=v_rows[t])
            refractory.record(t, z_t)
            previous = v_rows[t]

        if any(ctx.needs_input_grad):
            ctx.save_for_backward(potential, spikes, masks, membrane, *k)
            ctx.one_step = one_step
            ctx.vectors = (threshold_v, inv_slope, exp_offset, leak_gain, decay_w, strength, increment)
            ctx.alpha = q.alpha
            ctx.exponential = exponential
        return spikes, membrane, current, adaptation

    @staticmethod
    def backward(ctx: Any, grad_z: Optional[torch.Tensor], grad_v: Optional[torch.Tensor],
                 grad_i: Optional[torch.Tensor], grad_w: Optional[torch.Tensor]) -> tuple[Optional[torch.Tensor], None]:
        potential, spikes, masks, membrane, *coefficients = ctx.saved_tensors
        k = _Coefficients(*coefficients)
        threshold_v, inv_slope, exp_offset, leak_gain, decay_w, strength, increment = ctx.vectors
        steps = spikes.shape[0]
        # removed[t]: where the membrane was set to reset (spike or refractory clamp); refractory
        # steps also mask the spike, so its surrogate.
        clamped = masks
        if ctx.one_step:
            clamped = torch.zeros_like(spikes)
            clamped[1:] = spikes[:-1]
        keep = 1 - spikes if clamped is None else (1 - spikes) * (1 - clamped)
        surrogate = _surrogate_factor_(potential.clone(), threshold_v, ctx.alpha)
        if clamped is not None:
            surrogate.mul_(1 - clamped)
        below = (potential < threshold_v).to(potential.dtype).mul_(strength)   # d w_t / d p_t
        # d p_{t+1} / d v_t = alpha_m + dt/tau_mem · exp((v_t - V_T) / ΔT) (0 where the exponent is capped)
        slope_term = k.alpha_m.expand_as(membrane).clone()
        if ctx.exponential:
            exponent = torch.addcmul(exp_offset, membrane, inv_slope)
            inside = (exponent < EXPONENT_CAP) & (exponent > EXPONENT_FLOOR)  # the clamp passes no gradient
            slope_term.addcmul_(leak_gain * (inv_slope > 0), exponent.clamp(EXPONENT_FLOOR, EXPONENT_CAP).exp_() * inside)
        # lambda_p[t] = C[t] + KA[t] · lambda_p[t+1] + SBG[t] · lambda_w[t]
        # lambda_w[t] = grad_w[t] + decay_w · lambda_w[t+1] - beta · lambda_p[t+1]
        constant = torch.zeros_like(spikes)
        if grad_v is not None:
            constant.addcmul_(keep, grad_v)
        if grad_z is not None:
            constant.addcmul_(surrogate, grad_z)
        carry = keep.mul_(slope_term)
        via_w = surrogate.mul_(increment).add_(below)
        buffer = spikes.new_zeros((steps + 1,) + tuple(spikes.shape[1:]))
        lambda_w = torch.zeros_like(spikes[0])
        rows, c_rows, ka_rows, w_rows = buffer.unbind(0), constant.unbind(0), carry.unbind(0), via_w.unbind(0)
        for t in range(steps - 1, -1, -1):
            lambda_w = lambda_w * decay_w
            if grad_w is not None:
                lambda_w.add_(grad_w[t])
            if t < steps - 1:
                lambda_w.addcmul_(k.beta, rows[t + 1], value=-1)
                torch.addcmul(c_rows[t], ka_rows[t], rows[t + 1], out=rows[t])
            else:
                rows[t].copy_(c_rows[t])
            rows[t].addcmul_(w_rows[t], lambda_w)
        return _input_adjoint_(buffer, grad_i, k), None


def lif_integration(
        x: torch.Tensor, *, leak: Param = 80.0, reset: Param = 80.0,
        threshold: Param = 125.0, tau_mem: Param = 10e-6, tau_syn: Param = 10e-6,
        capacitance: Param = 10e-6, refractory_time: Param = 1e-6, alpha: Param = 50.0,
        dt: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Integrate current-based LIF neurons; returns ``(z, v, i)``, each (T, B, N).

    ``x`` is the synaptic input (T, B, N). Every parameter is a number or a per-neuron
    tensor of shape (N,) (gradients flow into tensors that require them). Same numerics
    as :func:`lif_integration_reference`, computed by a custom autograd function whose
    backward is the analytic adjoint, which is much faster than autograd through the loop.
    """
    x = _check_input(x)
    p = _lif_args(x, leak, reset, threshold, tau_mem, tau_syn, capacitance,
                  refractory_time, alpha, dt)
    return _LIFFunction.apply(x, *p)


def li_integration(
        x: torch.Tensor, *, leak: Param = 80.0, tau_mem: Param = 10e-6,
        tau_syn: Param = 10e-6, capacitance: Param = 10e-6,
        dt: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrate current-based LI (readout) neurons; returns ``(v, i)``, each (T, B, N).

    Same numerics as :func:`li_integration_reference` with a hand-written adjoint.
    """
    x = _check_input(x)
    p = _li_args(x, leak, tau_mem, tau_syn, capacitance, dt)
    return _LIFunction.apply(x, *p)
