"""hxtorch.spiking.functional's names on hxgraph's mock kernels.

`linear`, `linear_sparse`, `cuba_lif_integration`, `cuba_refractory_lif_integration`,
`cuba_li_integration`, `cuba_aelif_integration`, `superspike` (and `SuperSpike`), `batch_dropout`. The integration
functions are hxtorch's functional API: they return tuples, integrate with the input gain
`dt / tau_mem`, and take `hw_data` as hxtorch's do — measured values replace the model's
step by step in the forward pass while gradients follow the model (Unterjubel).
"""

from __future__ import annotations

import math

from typing import Any, Optional, Sequence, Union

import torch

from hxgraph.errors import GraphError, ParameterError, ShapeError
from hxgraph.mock import eventprop
from hxgraph.mock.functional import (EXPONENT_CAP, EXPONENT_FLOOR, Param, SuperSpike, adex_args, adex_integration,
                                     li_integration, lif_integration, superspike)

__all__ = ["linear", "linear_sparse", "cuba_lif_integration", "cuba_refractory_lif_integration", "cuba_li_integration",
           "cuba_aelif_integration",
           "superspike", "superspike_func", "SuperSpike", "linear_exponential_clamp",
           "batch_dropout", "EventPropLIFFunction", "EventPropSynapseFunction"]


def linear(input: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None  # noqa: A002
           ) -> torch.Tensor:
    """`input @ weight.T (+ bias)`: a synapse's output for (…, in) spikes and an (out, in) weight."""
    return torch.nn.functional.linear(input, weight, bias)


def linear_sparse(input: torch.Tensor, weight: torch.Tensor, connections: Optional[torch.Tensor] = None,  # noqa: A002
                  bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """`linear` with only the connected entries of `weight` taking part.

    `connections` is a boolean mask of the weight's shape (out, in) (None: all connected).
    Entries without a connection contribute nothing and get zero gradient. Unlike hxtorch's
    version, the weight itself is not modified.
    """
    if connections is not None:
        if tuple(connections.shape) != tuple(weight.shape):
            raise ShapeError(f"linear_sparse: connections must have the weight's shape (out, in) = "
                             f"{tuple(weight.shape)}; got {tuple(connections.shape)}")
        weight = weight * connections.to(device=weight.device, dtype=weight.dtype)
    return torch.nn.functional.linear(input, weight, bias)


def _unterjubel(model: torch.Tensor, measured: Optional[torch.Tensor]) -> torch.Tensor:
    """Measured values forward, the model's gradient backward (hxtorch's Unterjubel)."""
    if measured is None:
        return model
    if tuple(measured.shape) != tuple(model.shape):
        raise ShapeError(f"hw_data has shape {tuple(measured.shape)}; the model computes {tuple(model.shape)}")
    return model + (measured.to(model) - model).detach()


def _hw_fields(hw_data: Optional[Sequence[Optional[torch.Tensor]]], count: int, what: str) -> list:
    """hxtorch's hw_data tuple, padded with None to `count` entries."""
    if hw_data is None:
        return [None] * count
    fields = list(hw_data)
    if len(fields) > count:
        raise ParameterError(f"{what}: hw_data holds {len(fields)} tensors; expected at most {count} ({what} takes "
                             f"{'(spikes, membrane_cadc, membrane_madc)' if count == 3 else '(membrane_cadc, membrane_madc)'})")
    return fields + [None] * (count - len(fields))


def _steps(input: torch.Tensor, *measured: Optional[torch.Tensor]) -> int:  # noqa: A002
    """hxtorch integrates only as long as every measured trace lasts."""
    return min([input.shape[0]] + [m.shape[0] for m in measured if m is not None])


def _vector(value: Param, like: torch.Tensor) -> torch.Tensor:
    return value.to(like) if isinstance(value, torch.Tensor) else torch.full(like.shape[-1:], float(value)).to(like)


def cuba_refractory_lif_integration(input: torch.Tensor, *, leak: Param = 80., reset: Param = 80.,  # noqa: A002
                                    threshold: Param = 125., tau_syn: Param = 10e-6, tau_mem: Param = 10e-6,
                                    refractory_time: Param = 1e-6, method: str = "superspike", alpha: Param = 50.,
                                    hw_data: Optional[Sequence[Optional[torch.Tensor]]] = None,
                                    membrane_capacitance: Optional[Param] = None, dt: float = 1e-6) -> tuple:
    """hxtorch's current-based LIF with refractory period: returns `(spikes, membrane, current, membrane_madc)`.

    As in hxtorch's functional API the input gain is `dt / tau_mem` (pass
    `membrane_capacitance` for the modules' `dt / c`), and `hw_data = (spikes, membrane_cadc,
    membrane_madc)` measured on the chip is injected step by step: the measured membrane
    replaces the model's after each step (then there is no model reset), the measured spikes
    the model's, with the model's gradients (Unterjubel). Integration stops where a measured
    trace ends. `membrane_madc` is passed through.
    """
    if method != "superspike":
        raise ParameterError(f"cuba_lif_integration: method must be 'superspike'; got {method!r}")
    spikes_hw, membrane_hw, madc = _hw_fields(hw_data, 3, "cuba_lif_integration")
    capacitance = tau_mem if membrane_capacitance is None else membrane_capacitance
    if spikes_hw is None and membrane_hw is None:
        z, v, i = lif_integration(input, leak=leak, reset=reset, threshold=threshold, tau_mem=tau_mem, tau_syn=tau_syn,
                                  capacitance=capacitance, refractory_time=refractory_time, alpha=alpha, dt=dt)
        return z, v, i, madc
    T = _steps(input, spikes_hw, membrane_hw)
    x = input[:T]
    leak_, reset_, threshold_ = (_vector(p, x[0]) for p in (leak, reset, threshold))
    gain = dt / _vector(capacitance, x[0])
    decay_mem, decay_syn = dt / _vector(tau_mem, x[0]), dt / _vector(tau_syn, x[0])
    ref_steps = _vector(refractory_time, x[0]) / dt
    v = leak_.expand_as(x[0]).clone()
    i = torch.zeros_like(x[0])
    counter = torch.zeros_like(x[0])
    spikes, membrane, current = [], [], []
    for t in range(T):
        dv = gain * i + decay_mem * (leak_ - v)
        i = i * (1 - decay_syn) + x[t]
        v = _unterjubel(v + dv, None if membrane_hw is None else membrane_hw[t])
        z = superspike(v - threshold_, alpha)
        z = _unterjubel(z, None if spikes_hw is None else spikes_hw[t])
        if membrane_hw is None:
            v = (1 - z.detach()) * v + z.detach() * reset_
        # hxtorch's refractory update: clamp and silence while counting, restart on a spike.
        refractory = (counter > 0).to(v.dtype)
        v = _unterjubel((1 - refractory) * v + refractory * reset_, None if membrane_hw is None else membrane_hw[t])
        z = _unterjubel((1 - refractory) * z, None if spikes_hw is None else spikes_hw[t])
        counter = (1 - z.detach()) * torch.relu(counter - refractory) + z.detach() * ref_steps
        spikes.append(z)
        membrane.append(v)
        current.append(i)
    return torch.stack(spikes), torch.stack(membrane), torch.stack(current), madc


def cuba_lif_integration(input: torch.Tensor, *, leak: Param = 80., reset: Param = 80.,  # noqa: A002
                         threshold: Param = 125., tau_syn: Param = 10e-6, tau_mem: Param = 10e-6,
                         method: str = "superspike", alpha: Param = 50.,
                         hw_data: Optional[Sequence[Optional[torch.Tensor]]] = None,
                         membrane_capacitance: Optional[Param] = None, refractory_time: Param = 0.,
                         dt: float = 1e-6) -> tuple:
    """hxtorch's current-based LIF (no refractory period): `(spikes, membrane, current, membrane_madc)`.

    See `cuba_refractory_lif_integration` (input gain `dt / tau_mem`, step-wise `hw_data`).
    """
    return cuba_refractory_lif_integration(input, leak=leak, reset=reset, threshold=threshold, tau_syn=tau_syn,
                                           tau_mem=tau_mem, refractory_time=refractory_time, method=method,
                                           alpha=alpha, hw_data=hw_data, membrane_capacitance=membrane_capacitance,
                                           dt=dt)


def cuba_li_integration(input: Union[torch.Tensor, Sequence[torch.Tensor]], *, leak: Param = 80.,  # noqa: A002
                        tau_syn: Param = 10e-6, tau_mem: Param = 10e-6,
                        hw_data: Optional[Sequence[Optional[torch.Tensor]]] = None,
                        membrane_capacitance: Optional[Param] = None, dt: float = 1e-6) -> tuple:
    """hxtorch's current-based leaky integrator: returns `(membrane, current, membrane_madc)`.

    `input` is one (T, B, N) tensor or a tuple of them (summed, as hxtorch sums several
    synapses). Input gain `dt / tau_mem` unless `membrane_capacitance` is given; `hw_data =
    (membrane_cadc, membrane_madc)` injects the measured membrane step by step.
    """
    if isinstance(input, (tuple, list)):
        input = torch.stack(list(input)).sum(0)  # noqa: A001
    membrane_hw, madc = _hw_fields(hw_data, 2, "cuba_li_integration")
    capacitance = tau_mem if membrane_capacitance is None else membrane_capacitance
    if membrane_hw is None:
        v, i = li_integration(input, leak=leak, tau_mem=tau_mem, tau_syn=tau_syn, capacitance=capacitance, dt=dt)
        return v, i, madc
    T = _steps(input, membrane_hw)
    x = input[:T]
    leak_ = _vector(leak, x[0])
    gain, decay_mem = dt / _vector(capacitance, x[0]), dt / _vector(tau_mem, x[0])
    decay_syn = dt / _vector(tau_syn, x[0])
    v, i = leak_.expand_as(x[0]).clone(), torch.zeros_like(x[0])
    membrane, current = [], []
    for t in range(T):
        dv = gain * i + decay_mem * (leak_ - v)
        v = _unterjubel(v + dv, membrane_hw[t])
        i = i * (1 - decay_syn) + x[t]
        membrane.append(v)
        current.append(i)
    return torch.stack(membrane), torch.stack(current), madc


def linear_exponential_clamp(inputs: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                             cap: float = 1.5, start_weight: float = 61., quantize: bool = False) -> torch.Tensor:
    """hxtorch's synapse function that saturates weights smoothly where the chip's do: `linear` with clamped weights.

    Weights whose magnitude exceeds `start_weight / 63 · cap` roll off exponentially towards
    ±`cap` (value and slope continuous at the start, `cap` never exceeded); choose `cap =
    63 / weight_scale` so software weights saturate where their hardware weights do. With
    `quantize`, weights are rounded to multiples of `cap / 63` (the chip's grid) and the
    gradient passes straight through the rounding.
    """
    if not 0 < start_weight < 63 or not cap > 0:
        raise ParameterError(f"linear_exponential_clamp: start_weight must lie in (0, 63) and cap be > 0; got "
                             f"start_weight={start_weight!r}, cap={cap!r}")
    knee = start_weight / 63.0  # where the roll-off starts, as a fraction of cap
    steepness = 1.0 / (1.0 - knee)
    magnitude = weight.abs() / cap
    rolled = cap * (1.0 - torch.exp(-steepness * (magnitude - knee)) / steepness)
    clamped = torch.where(magnitude > knee, torch.sign(weight) * rolled, weight)
    if quantize:
        step = cap / 63.0
        clamped = clamped + (torch.round(clamped.detach() / step) * step - clamped.detach())
    return torch.nn.functional.linear(inputs, clamped, bias)


def superspike_func(input: torch.Tensor, alpha: float) -> torch.Tensor:  # noqa: A002
    """hxtorch's name: the Heaviside step forward, SuperSpike's surrogate gradient backward."""
    return superspike(input, alpha)


def batch_dropout(input: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # noqa: A002
    """Spikes (…, N) of the neurons `mask` (N,) keeps; the others are silenced (no rescaling)."""
    if mask.shape[-1] != input.shape[-1]:
        raise ShapeError(f"batch_dropout: mask has {mask.shape[-1]} entries for {input.shape[-1]} neurons")
    return input * mask.to(device=input.device, dtype=input.dtype)


def _hw_trace(hw_data: Any, field: str, part: Optional[str] = None) -> Optional[torch.Tensor]:
    """A measured trace of hxtorch's AELIF `hw_data` (`Handle(voltage, adaptation, spikes)`), or None."""
    if hw_data is None:
        return None
    value = getattr(hw_data, field, None)
    if part is not None and value is not None:
        value = getattr(value, part, None)
    if value is not None and not isinstance(value, torch.Tensor):
        raise ParameterError(f"cuba_aelif_integration: hw_data.{field}{'.' + part if part else ''} must be a tensor "
                             f"(time, batch, neurons) or None; got {type(value).__name__}")
    return value


def cuba_aelif_integration(input: Union[torch.Tensor, Sequence[torch.Tensor]], *, leak: Param = 80.,  # noqa: A002
                           reset: Param = 80., threshold: Param = 125., tau_syn: Param = 10e-6,
                           c_mem: Param = 10e-6, g_l: Optional[Param] = None, refractory_time: Param = 1e-6,
                           method: str = "superspike", alpha: Param = 50., exp_slope: Param = 50e-3,
                           exp_threshold: Param = 110., subthreshold_adaptation_strength: Param = 1.,
                           spike_triggered_adaptation_increment: Param = 1., tau_adap: Param = 100e-6,
                           hw_data: Any = None, dt: float = 1e-6, leaky: bool = True, fire: bool = True,
                           refractory: bool = False, exponential: bool = False, subthreshold_adaptation: bool = False,
                           spike_triggered_adaptation: bool = False, integration_step_code: Optional[str] = None
                           ) -> tuple:
    """hxtorch's AdEx integration: `(membrane, membrane_madc, current, adaptation, adaptation_madc, spikes)`.

    The flags switch terms as in hxtorch (`leaky`, `fire`, `refractory`, `exponential`,
    `subthreshold_adaptation`, `spike_triggered_adaptation`); `g_l` defaults to 1 as there.
    `integration_step_code` (hxtorch's generated step) is redundant with the flags and not
    executed. `hw_data` (`Handle(voltage=Handle(cadc, madc), adaptation=Handle(cadc, madc),
    spikes)`) injects measured values step by step with the model's gradients (Unterjubel);
    integration stops where a measured trace ends. One difference to hxtorch: the adaptation
    sees the membrane capped at the threshold (docs/migration.md).
    """
    if method != "superspike":
        raise ParameterError(f"cuba_aelif_integration: method must be 'superspike'; got {method!r}")
    if integration_step_code is not None and not isinstance(integration_step_code, str):
        raise ParameterError("cuba_aelif_integration: integration_step_code must be a string (hxtorch's generated "
                             f"step, not executed here) or None; got {type(integration_step_code).__name__}")
    if isinstance(input, (tuple, list)):
        input = torch.stack(list(input)).sum(0)  # noqa: A001
    g_l = 1. if g_l is None else g_l
    # every parameter checked as the mock's kernels check them (names in the message)
    adex_args(input, leak=leak, reset=reset, threshold=threshold, tau_mem=1.0, tau_syn=tau_syn, capacitance=c_mem,
              refractory_time=refractory_time, alpha=alpha, exp_slope=exp_slope, exp_threshold=exp_threshold,
              a=subthreshold_adaptation_strength, b=spike_triggered_adaptation_increment, tau_adap=tau_adap, dt=dt)
    if not isinstance(g_l, torch.Tensor) and (isinstance(g_l, bool) or not isinstance(g_l, (int, float))
                                              or not g_l > 0 or not math.isfinite(g_l)):
        raise ParameterError(f"cuba_aelif_integration: g_l must be a positive number or tensor; got {g_l!r}")
    a = subthreshold_adaptation_strength if subthreshold_adaptation else 0.
    b = spike_triggered_adaptation_increment if spike_triggered_adaptation else 0.
    slope = exp_slope if exponential else 0.
    membrane_hw, madc = _hw_trace(hw_data, "voltage", "cadc"), _hw_trace(hw_data, "voltage", "madc")
    adaptation_hw, adaptation_madc = _hw_trace(hw_data, "adaptation", "cadc"), _hw_trace(hw_data, "adaptation", "madc")
    spikes_hw = _hw_trace(hw_data, "spikes")
    if leaky and fire and membrane_hw is None and adaptation_hw is None and spikes_hw is None:
        # the mock's kernel: tau_mem = c / g_l
        tau_mem = c_mem / g_l
        z, v, i, w = adex_integration(input, leak=leak, reset=reset, threshold=threshold, tau_mem=tau_mem,
                                      tau_syn=tau_syn, capacitance=c_mem, refractory_time=refractory_time if refractory
                                      else 0., alpha=alpha, exp_slope=slope, exp_threshold=exp_threshold, a=a, b=b,
                                      tau_adap=tau_adap, dt=dt)
        return v, madc, i, w, adaptation_madc, z
    T = _steps(input, membrane_hw, adaptation_hw, spikes_hw)
    x = input[:T]
    vec = {k: _vector(v, x[0]) for k, v in dict(leak=leak, reset=reset, threshold=threshold, tau_syn=tau_syn, c=c_mem,
                                               g_l=g_l, slope=slope, v_t=exp_threshold, a=a, b=b, tau_adap=tau_adap,
                                               ref=refractory_time).items()}
    v = vec["leak"].expand_as(x[0]).clone() if leaky else torch.zeros_like(x[0])
    i, w, z = torch.zeros_like(x[0]), torch.zeros_like(x[0]), torch.zeros_like(x[0])
    counter = torch.zeros_like(x[0])
    on = vec["slope"] > 0
    slope_safe = torch.where(on, vec["slope"], torch.ones_like(vec["slope"]))
    traces: list[list[torch.Tensor]] = [[], [], [], []]
    for t in range(T):
        drive = i - w
        if leaky:
            drive = drive + vec["g_l"] * (vec["leak"] - v)
        exponential_term = slope_safe * torch.exp(((v - vec["v_t"]) / slope_safe).clamp(EXPONENT_FLOOR, EXPONENT_CAP))
        drive = drive + vec["g_l"] * torch.where(on, exponential_term, torch.zeros_like(v))
        dv = dt / vec["c"] * drive
        i = i * (1 - dt / vec["tau_syn"]) + x[t]
        v = _unterjubel(v + dv, None if membrane_hw is None else membrane_hw[t])
        if fire:
            z = _unterjubel(superspike(v - vec["threshold"], alpha), None if spikes_hw is None else spikes_hw[t])
        reference = torch.minimum(v, vec["threshold"]) if fire else v
        w = w * (1 - dt / vec["tau_adap"]) + dt / vec["tau_adap"] * vec["a"] * (reference - vec["leak"]) + vec["b"] * z
        w = _unterjubel(w, None if adaptation_hw is None else adaptation_hw[t])
        if fire and membrane_hw is None:
            v = (1 - z.detach()) * v + z.detach() * vec["reset"]
        if fire and refractory:
            clamped = (counter > 0).to(v.dtype)
            v = _unterjubel((1 - clamped) * v + clamped * vec["reset"], None if membrane_hw is None else membrane_hw[t])
            z = _unterjubel((1 - clamped) * z, None if spikes_hw is None else spikes_hw[t])
            counter = (1 - z.detach()) * torch.relu(counter - clamped) + z.detach() * vec["ref"] / dt
        for trace, value in zip(traces, (v, i, w, z)):
            trace.append(value)
    v, i, w, z = (torch.stack(trace) if trace else x.new_zeros(x.shape) for trace in traces)
    return v, madc, i, w, adaptation_madc, z


class _NoSpikeTimeGradient(torch.autograd.Function):
    """The spikes of `EventPropLIFFunction`: their values, and an error if a loss needs their gradient.

    A (T, B, N) spike tensor cannot carry the exact spike times that EventProp's gradients
    flow through, so a later layer fed from it would silently learn nothing upstream.
    """

    @staticmethod
    def forward(ctx: Any, spikes: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        # `times` (differentiable) ties the spikes into the graph, so a loss through them reaches backward
        return spikes.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[None, torch.Tensor]:
        if bool((grad != 0).any()):
            raise GraphError("EventPropLIFFunction: a loss depends on its spikes, but a (time, batch, neurons) spike "
                             "tensor does not carry the exact spike times EventProp differentiates. Build the network "
                             "from hxgraph.spiking modules (EventPropSynapse, EventPropLIF), which run the whole "
                             "network event-exactly, or use hx.mock(graph, gradient='eventprop')")
        return None, torch.zeros_like(grad)


class EventPropLIFFunction:
    """hxtorch's `EventPropLIFFunction.apply(input, leak, reset, threshold, tau_syn, tau_mem, hw_data, dt)`.

    `input` is `EventPropSynapseFunction`'s stacked (2, T, B, N) output (or a (T, B, N)
    tensor); `input[0][k]` is the synaptic current's jump at the end of step k. Returns
    `(spikes, membrane, current)`, each (T, B, N), of the event-exact LIF (exact integration,
    spikes at their exact threshold crossings; `hxgraph.mock.eventprop`) with hxtorch's input
    gain `dt / tau_mem` and no refractory time, as its EventProp neuron. Gradients are exact
    and reach the input and, through it, the weights. hxtorch's version integrates on the
    grid and back-propagates a discretised adjoint (docs/migration.md). The spikes cannot
    carry their exact times to a further layer: a loss that depends on them raises an error
    in backward. `hw_data` (hxtorch's `Handle(voltage, adaptation, spikes)` or a tuple
    `(spikes, membrane)`) replaces the values in the forward pass (gradients: the model's).
    """

    @staticmethod
    def apply(input: torch.Tensor, leak: Param, reset: Param, threshold: Param,  # noqa: A002
              tau_syn: Param, tau_mem: Param, hw_data: Any = None, dt: float = 1e-6) -> tuple:
        if not isinstance(input, torch.Tensor) or input.dim() not in (3, 4):
            raise ShapeError(f"EventPropLIFFunction: input must be EventPropSynapseFunction's (2, time, batch, neurons)"
                             f" output or a (time, batch, neurons) tensor; got {getattr(input, 'shape', type(input))}")
        x = input[0] if input.dim() == 4 else input
        obs = eventprop.integrate("lif", x, dt, leak=leak, reset=reset, threshold=threshold, tau_mem=tau_mem,
                                  tau_syn=tau_syn, capacitance=tau_mem, refractory_time=0.0)
        spikes_hw, membrane_hw = _event_prop_hw(hw_data)
        spikes = _NoSpikeTimeGradient.apply(obs.spikes, obs.spike_times) if torch.is_grad_enabled() else obs.spikes
        return (_unterjubel(spikes, spikes_hw), _unterjubel(obs.membrane, membrane_hw), obs.current)


def _event_prop_hw(hw_data: Any) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
    if hw_data is None:
        return None, None
    if isinstance(hw_data, (tuple, list)):
        spikes, membrane = (list(hw_data) + [None, None])[:2]
        return spikes, membrane
    return _hw_trace(hw_data, "spikes"), _hw_trace(hw_data, "voltage", "cadc")


class EventPropSynapseFunction:
    """hxtorch's `EventPropSynapseFunction.apply(input, weight, bias=None)`: `stack((input @ weight.T, zeros))`.

    The second entry is hxtorch's placeholder for its adjoint's second channel; with exact
    gradients one channel carries them, so the placeholder gets none.
    """

    @staticmethod
    def apply(input: torch.Tensor, weight: torch.Tensor, _: Any = None) -> torch.Tensor:  # noqa: A002
        if _ is not None:
            raise ParameterError("EventPropSynapseFunction: a bias is not supported (hxtorch ignores it; hxgraph "
                                 "refuses rather than drop it)")
        output = torch.nn.functional.linear(input, weight)
        return torch.stack((output, torch.zeros_like(output)))
