"""Lowering a graph to a differentiable torch module with hxtorch.spiking's mock numerics.

Feed-forward populations are integrated a whole layer at a time: their input over all
time steps is one product per projection, then one fast integration kernel call.
Populations on a cycle (a recurrent projection, or a loop through several populations)
are integrated step by step together; projections inside such a group act with a delay of
one step (the source's spikes of the previous step), projections into the group from
outside act within the same step, like feed-forward ones.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Union

import attrs
import networkx as nx
import torch
from torch import nn

from hxgraph.errors import GraphError, InputError, ParameterError, UnknownNameError, did_you_mean, known
from hxgraph.graph import Graph, Population, Projection, Sparse, model_value
from hxgraph.graph.memory import check_allocation
from hxgraph.graph.projection import project_sign_
from hxgraph.mock import eventprop
from hxgraph.mock import functional as F
from hxgraph.mock.hardware_aware import HardwareAware
from hxgraph.mock.sparse import SparsePattern, dense_from_values, sparse_linear
from hxgraph.observables import Observables, Run

ProjectionFunc = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# A population computed by the user: the outputs (T, B, N) of its incoming projections by name → Observables.
PopulationFunc = Callable[[Mapping[str, torch.Tensor]], Observables]


def lower(graph: Graph, device: Union[str, torch.device, None] = None,
          funcs: Optional[Mapping[str, ProjectionFunc]] = None,
          hardware_aware: Optional[HardwareAware] = None, gradient: str = "surrogate") -> "MockNetwork":
    """Lower `graph` to a `MockNetwork` (a `torch.nn.Module`) on `device` (default: where the weights are).

    `funcs` optionally maps projection names to a forward function `func(input, weight)`
    (a callable or `torch.autograd.Function.apply`) replacing the default product; it gets
    the (T, B, in) spikes and the (out, in) weight (zero off the connections for sparse).
    `hardware_aware` (e.g. `hxgraph.hardware_aware()`) trains for the chip: weights on its
    6-bit grid, and in training mode the analog spread of a chip drawn anew every pass.
    `gradient="eventprop"` runs the event-exact model and gives exact gradients
    (`hxgraph.mock.eventprop`); the default "surrogate" runs hxtorch's Euler numerics with
    SuperSpike surrogate gradients.
    """
    return MockNetwork(graph, device=device, funcs=funcs, hardware_aware=hardware_aware, gradient=gradient)


class MockNetwork(nn.Module):
    """The mock of a graph. Call it with `{input_name: spikes (T, B, N)}`; it returns a `Run`.

    Its parameters (`weights[projection_name]`) share storage with the graph's weight
    tensors, so training updates the graph itself; moving the module moves the graph's
    weights along. `hardware_aware` (a `HardwareAware`, or None for the exact model; may be
    set at any time) makes it train for the chip (see `hxgraph.mock.hardware_aware`).
    `gradient` ("surrogate" or "eventprop"; may be set at any time) picks the numerics and
    gradients (see `lower`).
    """

    def __init__(self, graph: Graph, device: Union[str, torch.device, None] = None,
                 funcs: Optional[Mapping[str, ProjectionFunc]] = None,
                 hardware_aware: Optional[HardwareAware] = None,
                 population_funcs: Optional[Mapping[str, PopulationFunc]] = None, gradient: str = "surrogate"):
        super().__init__()
        if not isinstance(graph, Graph):
            raise ParameterError(f"hxgraph.mock expects an hxgraph.Graph (e.g. experiment.graph); got {type(graph).__name__}")
        device = check_device(device, "hxgraph.mock")
        if funcs is not None and not isinstance(funcs, Mapping):
            raise ParameterError(f"hxgraph.mock: funcs must map projection names to functions func(input, weight); "
                                 f"got {type(funcs).__name__}")
        _check_time_constants(graph)
        self.graph = graph
        self.hardware_aware = hardware_aware
        self.population_funcs = population_funcs
        self.funcs = dict(funcs or {})
        for name, func in self.funcs.items():
            graph.projection(name)  # raises UnknownNameError for a typo
            if not callable(func):
                raise ParameterError(f"funcs[{name!r}] must be callable as func(input, weight); got {func!r}")
        dtypes = {p.weight.dtype for p in graph.projections.values()}
        if len(dtypes) > 1:
            raise ParameterError(f"graph {graph.name!r} mixes weight dtypes {sorted(map(str, dtypes))}; the mock "
                                 "computes in one dtype: give every projection weights of the same dtype")
        self.dtype = dtypes.pop() if dtypes else torch.get_default_dtype()
        self.weights = nn.ParameterDict()
        self._patterns: dict[str, SparsePattern] = {}
        for proj in graph.projections.values():
            if device is not None:
                proj.weight.data = proj.weight.data.to(device)  # move the graph's tensor itself: no copy
            # A graph weight that is already a Parameter (e.g. an hxgraph.spiking module's) is used as is,
            # so gradients reach the owner's optimizer; otherwise wrap it, sharing storage with the graph.
            weight = proj.weight
            self.weights[proj.name] = weight if isinstance(weight, nn.Parameter) else nn.Parameter(weight)
            if isinstance(proj.connectivity, Sparse):
                # row pointers of both orientations and the index pairs
                check_allocation(8.0 * (sum(proj.shape) + 2) + 24.0 * proj.connection_count,
                                 f"the sparse layout of projection {proj.name!r} {proj.shape}",
                                 "use smaller populations")
                self._patterns[proj.name] = SparsePattern(proj.connectivity.indices, proj.shape).to(proj.weight.device)
        self._groups = _integration_groups(graph)
        self.gradient = gradient

    # --------------------------------------------------------------- devices
    def _apply(self, fn: Callable, *args: Any, **kwargs: Any) -> "MockNetwork":
        super()._apply(fn, *args, **kwargs)
        # nn.Module.to() may give parameters new storage; point the graph's tensors at it again.
        for proj in self.graph.projections.values():
            param = self.weights[proj.name]
            if proj.weight.data_ptr() != param.data_ptr() or proj.weight.device != param.device:
                proj.weight.data = param.data
            if proj.name in self._patterns:
                self._patterns[proj.name].to(param.device)
        self.dtype = next((p.dtype for p in self.parameters()), self.dtype)
        return self

    @property
    def population_funcs(self) -> dict[str, PopulationFunc]:
        """Populations the user computes (e.g. hxgraph.spiking modules overriding `forward_func`)."""
        return self._population_funcs

    @population_funcs.setter
    def population_funcs(self, value: Optional[Mapping[str, PopulationFunc]]) -> None:
        value = dict(value or {})
        for name, func in value.items():
            pop = self.graph.population(name)  # an unknown name fails here, with a suggestion
            if pop.is_input or not callable(func):
                raise ParameterError(f"population_funcs[{name!r}] must be a callable for an on-chip population; got "
                                     f"{func!r} for a {pop.neuron_model.label} population")
        self._population_funcs = value

    @property
    def gradient(self) -> str:
        """"surrogate" (Euler grid, SuperSpike) or "eventprop" (event-exact model, exact gradients)."""
        return self._gradient

    @gradient.setter
    def gradient(self, value: str) -> None:
        value = eventprop.check_gradient(value, "hxgraph.mock")
        if value == "eventprop":
            eventprop.check_applicable(self.graph, self.funcs, self.population_funcs)
        self._gradient = value

    @property
    def hardware_aware(self) -> Optional[HardwareAware]:
        return self._hardware_aware

    @hardware_aware.setter
    def hardware_aware(self, value: Optional[HardwareAware]) -> None:
        if value is not None and not isinstance(value, HardwareAware):
            raise ParameterError(f"hardware_aware must be an hxgraph.mock.HardwareAware (e.g. hxgraph.hardware_aware())"
                                 f" or None; got {value!r}")
        self._hardware_aware = value

    @torch.no_grad()
    def clip_weights(self) -> None:
        """Clip the stored weights to what the chip can send (±63 hardware units); call after an optimizer step.

        Only with `hardware_aware` set: without it the mock has no chip grid to clip to. Weights
        beyond the range act like the limit anyway, and a straight-through gradient would let
        them grow without bound.
        """
        if self.hardware_aware is None:
            raise ParameterError("clip_weights needs hardware_aware (the chip's weight grid); set "
                                 "network.hardware_aware = hxgraph.hardware_aware()")
        for proj in self.graph.projections.values():
            weight = self.weights[proj.name]
            weight.copy_(self.hardware_aware.clipped(weight, proj.transform))

    @torch.no_grad()
    def quantize_weights(self) -> None:
        """Write the chip's grid values into the graph's weights (what the chip will run), e.g. after training."""
        if self.hardware_aware is None:
            raise ParameterError("quantize_weights needs hardware_aware (the chip's weight grid); set "
                                 "network.hardware_aware = hxgraph.hardware_aware()")
        grid = attrs.evolve(self.hardware_aware, quantize=True)
        for proj in self.graph.projections.values():
            weight = self.weights[proj.name]
            weight.copy_(grid.quantized(weight, proj.transform))

    @property
    def device(self) -> torch.device:
        return next((p.device for p in self.parameters()), torch.device("cpu"))

    # --------------------------------------------------------------- running
    def forward(self, inputs: Mapping[str, torch.Tensor], measured: Optional[Mapping[str, Observables]] = None) -> Run:
        """Run the model. With `measured` (e.g. from the emulated chip), each population's measured
        spikes and membrane replace the model's values in the forward pass while gradients flow
        through the model's (`model + (measured - model).detach()`); later populations then
        integrate the measured spikes."""
        spikes = self._checked_inputs(inputs)
        steps, batch = next(iter(spikes.values())).shape[:2] if spikes else (0, 0)
        self._check_memory(steps, batch)
        for proj in self.graph.projections.values():  # the chip's sign constraint: projected gradient descent
            project_sign_(self.weights[proj.name], proj.receptor)
        if self.gradient == "eventprop":
            return self._forward_events(spikes, steps, batch, measured)
        results: dict[str, Observables] = {name: Observables(spikes=s) for name, s in spikes.items()}
        for group in self._groups:
            if len(group) == 1 and not self._is_recurrent(group):
                pop = self.graph.population(group[0])
                if pop.name in self.population_funcs:
                    results[pop.name] = self._custom_population(pop, results, steps, batch)
                else:
                    x = self._external_input(pop, group, results, steps, batch)
                    results[pop.name] = self._integrate_layer(pop, x)
            else:
                custom = [name for name in group if name in self.population_funcs]
                if custom:
                    raise GraphError(f"population {custom[0]!r} is computed by a custom function but lies on a "
                                     f"cycle ({', '.join(group)}); custom populations must be feed-forward")
                results.update(self._integrate_recurrent(group, results, steps, batch))
            if self.hardware_aware is not None and self.training:
                for name in group:
                    obs = results[name]
                    if obs.membrane is not None:
                        results[name] = attrs.evolve(obs, membrane=self.hardware_aware.noisy_membrane(obs.membrane))
            if measured is not None:
                for name in group:
                    if name in measured:
                        results[name] = _substitute(results[name], measured[name], name)
        return Run({name: results[name] for name in self.graph.populations}, self.graph.dt)

    def _forward_events(self, spikes: dict[str, torch.Tensor], steps: int, batch: int,
                        measured: Optional[Mapping[str, Observables]]) -> Run:
        """The event-exact model; measured values replace each population's outputs (not what later ones integrate)."""
        eventprop.check_applicable(self.graph, self.funcs, self.population_funcs)  # both may have changed since
        results = eventprop.EventNetwork(self).run(spikes, steps, batch)
        if measured is not None:
            for name in self.graph.populations:
                if not self.graph.population(name).is_input and name in measured:
                    results[name] = attrs.evolve(_substitute(results[name], measured[name], name),
                                                 spike_times=results[name].spike_times)
        return Run({name: results[name] for name in self.graph.populations}, self.graph.dt)

    def _check_memory(self, steps: int, batch: int) -> None:
        """Refuse a run whose traces would not fit in memory, before allocating them."""
        neurons = sum(p.size for p in self.graph.populations.values() if not p.is_input)
        itemsize = torch.empty(0, dtype=self.dtype).element_size()
        # per neuron and step: spikes, membrane, current, the kernels' work buffers and what
        # backward keeps, and the projections' outputs — about ten values
        check_allocation(10.0 * steps * batch * neurons * itemsize,
                         f"a mock run of {steps} steps × batch {batch} over {neurons:,} neurons",
                         "run fewer steps or a smaller batch (in chunks), or use smaller populations")

    def _custom_population(self, pop: Population, results: Mapping[str, Observables], steps: int,
                           batch: int) -> Observables:
        """Call the user's function with every incoming projection's output and check what it returns."""
        outputs = {proj.name: self._project(proj, results[proj.source].spikes)
                   for proj in self.graph.projections_into(pop.name)}
        observed = self.population_funcs[pop.name](outputs)
        if not isinstance(observed, Observables):
            raise InputError(f"the custom function of population {pop.name!r} returned {type(observed).__name__}; "
                             "expected hxgraph.Observables(spikes, membrane, current)")
        for field, value in zip(("spikes", "membrane", "current"), observed):
            if value is not None and (not isinstance(value, torch.Tensor)
                                      or tuple(value.shape) != (steps, batch, pop.size)):
                got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise InputError(f"the custom function of population {pop.name!r} returned {field} of shape {got}; "
                                 f"expected (time, batch, neurons) = {(steps, batch, pop.size)}")
        if pop.neuron_model.spiking and observed.spikes is None:
            raise InputError(f"the custom function of LIF population {pop.name!r} returned no spikes")
        return observed

    def _is_recurrent(self, group: list[str]) -> bool:
        return any(p.source in group for name in group for p in self.graph.projections_into(name))

    def effective_weight(self, proj: Projection) -> torch.Tensor:
        """The weight the mock uses: fixed-sign projections cannot change sign (clamped at zero);
        with `hardware_aware`, on the chip's grid (and with drawn gains while training)."""
        w = self.weights[proj.name]
        if proj.receptor == "excitatory":
            w = w.clamp(min=0)
        elif proj.receptor == "inhibitory":
            w = w.clamp(max=0)
        aware = self.hardware_aware
        if aware is not None:
            w = aware.quantized(w, proj.transform)
            if self.training:
                w = aware.noisy_weight(w)
        return w

    def _project(self, proj: Projection, s: torch.Tensor) -> torch.Tensor:
        """Output of one projection for source spikes `s` (…, in) → (…, out)."""
        w = self.effective_weight(proj)
        func = self.funcs.get(proj.name)
        if func is not None:
            weight = dense_from_values(w, self._patterns[proj.name]) if proj.name in self._patterns else w
            out = func(s, weight)
            expected = (*s.shape[:-1], proj.shape[0])
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected:
                got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise InputError(f"funcs[{proj.name!r}] returned {got}; expected a tensor of shape {expected}")
            return out
        if proj.name in self._patterns:
            return sparse_linear(s, w, self._patterns[proj.name])
        return torch.nn.functional.linear(s, w)

    def _external_input(self, pop: Population, group: list[str], results: Mapping[str, Observables],
                        steps: int, batch: int) -> torch.Tensor:
        """Summed input over all steps from projections whose source lies outside `group`."""
        x = None
        for proj in self.graph.projections_into(pop.name):
            if proj.source not in group:
                out = self._project(proj, results[proj.source].spikes)
                x = out if x is None else x + out
        return x if x is not None else torch.zeros(steps, batch, pop.size, dtype=self.dtype, device=self.device)

    def _params(self, pop: Population) -> dict[str, Any]:
        """Model values of the population's parameters, as floats or tensors on the module's device."""
        out = {}
        for key, value in pop.params.items():
            value = model_value(value)
            out[key] = value.to(device=self.device, dtype=self.dtype) if isinstance(value, torch.Tensor) else value
        if self.hardware_aware is not None and self.training and self.hardware_aware.noisy:
            like = torch.empty(0, dtype=self.dtype, device=self.device)
            out = self.hardware_aware.noisy_params(out, pop.size, like, pop.circuits_per_neuron)
        return out

    def _integrate_layer(self, pop: Population, x: torch.Tensor) -> Observables:
        return integrate(pop.model, x, self.graph.dt, **self._params(pop))

    def _integrate_recurrent(self, group: list[str], results: Mapping[str, Observables],
                             steps: int, batch: int) -> dict[str, Observables]:
        pops = [self.graph.population(name) for name in group]
        external = {p.name: self._external_input(p, group, results, steps, batch) for p in pops}
        internal = {p.name: [q for q in self.graph.projections_into(p.name) if q.source in group] for p in pops}
        params = {p.name: self._params(p) for p in pops}
        state = {p.name: F.initial_state(p.model, batch, p.size, params[p.name], external[p.name]) for p in pops}
        last = {p.name: torch.zeros(batch, p.size, dtype=self.dtype, device=self.device) for p in pops}
        traces: dict[str, dict[str, list]] = {p.name: {"spikes": [], "membrane": [], "current": [], "adaptation": []}
                                              for p in pops}
        steppers = {"lif": F.lif_step, "adex": F.adex_step}
        for t in range(steps):
            for p in pops:
                x_t = external[p.name][t]
                for q in internal[p.name]:
                    x_t = x_t + self._project(q, last[q.source])
                if p.model in steppers:
                    z, state[p.name] = steppers[p.model](x_t, state[p.name], dt=self.graph.dt, **params[p.name])
                    traces[p.name]["spikes"].append(z)
                    if p.model == "adex":
                        traces[p.name]["adaptation"].append(state[p.name].w)
                else:
                    state[p.name] = F.li_step(x_t, state[p.name], dt=self.graph.dt, **params[p.name])
                traces[p.name]["membrane"].append(state[p.name].v)
                traces[p.name]["current"].append(state[p.name].i)
            for p in pops:  # spikes of step t reach the group's targets at step t + 1
                if p.model in steppers:
                    last[p.name] = traces[p.name]["spikes"][-1]
        out = {}
        for p in pops:
            stack = {k: (torch.stack(v) if v else torch.zeros(0, batch, p.size, dtype=self.dtype, device=self.device))
                     for k, v in traces[p.name].items()}
            out[p.name] = Observables(spikes=stack["spikes"] if p.model in steppers else None,
                                      membrane=stack["membrane"], current=stack["current"],
                                      adaptation=stack["adaptation"] if p.model == "adex" else None)
        return out

    # --------------------------------------------------------------- input checks
    def _checked_inputs(self, inputs: Any) -> dict[str, torch.Tensor]:
        expected = {p.name: p for p in self.graph.inputs}
        if not isinstance(inputs, Mapping):
            raise InputError(f"the mock takes a dict {{input population name: spikes (T, B, N)}}; got "
                             f"{type(inputs).__name__}. Input populations: {known(expected)}")
        for name in inputs:
            if name not in expected:
                kind = "a non-input population" if name in self.graph.populations else "an unknown population"
                raise UnknownNameError(f"input {name!r} is {kind}{did_you_mean(name, expected)}; "
                                       f"the graph's input populations are {known(expected)}")
        missing = [n for n in expected if n not in inputs]
        if missing:
            raise InputError(f"missing spikes for input population(s) {known(missing)}; "
                             f"give every input population: {known(expected)}")
        out: dict[str, torch.Tensor] = {}
        shape_seen: Optional[tuple[int, int]] = None
        for name, pop in expected.items():
            s = inputs[name]
            if not isinstance(s, torch.Tensor):
                raise InputError(f"input {name!r} must be a torch.Tensor of shape (T, B, {pop.size}); got {type(s).__name__}")
            if s.dim() != 3 or s.shape[2] != pop.size:
                raise InputError(f"input {name!r} has shape {tuple(s.shape)}; expected (time, batch, {pop.size}) "
                                 f"for the {pop.size} neurons of {name!r}")
            if shape_seen is not None and tuple(s.shape[:2]) != shape_seen:
                raise InputError(f"input {name!r} has (time, batch) = {tuple(s.shape[:2])} but other inputs have "
                                 f"{shape_seen}; all inputs must share time steps and batch size")
            shape_seen = tuple(s.shape[:2])
            if s.shape[1] == 0:
                raise InputError(f"input {name!r} has an empty batch (shape {tuple(s.shape)}); give at least one "
                                 "batch entry")
            if s.device != self.device:
                raise InputError(f"input {name!r} is on {s.device} but the model is on {self.device}; "
                                 f"move it with .to({str(self.device)!r})")
            if s.is_complex():
                raise InputError(f"input {name!r} is complex ({s.dtype}); spikes must be real")
            if s.is_floating_point():
                if s.dtype != self.dtype:
                    raise InputError(f"input {name!r} has dtype {s.dtype} but the model computes in {self.dtype}; "
                                     f"convert it with .to({self.dtype})")
                if not _all_finite(s):
                    raise InputError(f"input {name!r} contains NaN or infinite values")
                # Graded values are allowed here (the weight is scaled by the value, as hxtorch's mock does);
                # the chip sends events and refuses anything but spike counts (docs/mock.md).
            else:
                s = s.to(self.dtype)  # bool / integer spike trains: same values, model dtype
            out[name] = s
        return out


def _substitute(model: Observables, measured: Observables, name: str) -> Observables:
    """Measured values forward, the model's gradients backward, field by field where measured."""
    def pick(mine: Optional[torch.Tensor], theirs: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        if mine is None or theirs is None:
            return mine
        if theirs.shape != mine.shape:
            raise InputError(f"measured values of {name!r} have shape {tuple(theirs.shape)}; the model's have "
                             f"{tuple(mine.shape)}")
        with torch.no_grad():  # (the difference carries no gradient: no graph for it)
            difference = theirs.to(mine.dtype) - mine
        return mine + difference

    return Observables(spikes=pick(model.spikes, measured.spikes), membrane=pick(model.membrane, measured.membrane),
                       adaptation=pick(model.adaptation, measured.adaptation),
                       current=pick(model.current, measured.current))


def integrate(model: str, x: torch.Tensor, dt: float, **params: Any) -> Observables:
    """A whole run of one population of `model` ("lif", "adex" or "li") on its summed input x (T, B, N)."""
    if model == "lif":
        z, v, i = F.lif_integration(x, dt=dt, **params)
        return Observables(spikes=z, membrane=v, current=i)
    if model == "adex":
        z, v, i, w = F.adex_integration(x, dt=dt, **params)
        return Observables(spikes=z, membrane=v, current=i, adaptation=w)
    v, i = F.li_integration(x, dt=dt, **params)
    return Observables(membrane=v, current=i)


def check_device(device: Any, who: str) -> Optional[torch.device]:
    """`device` as a torch.device, or a `ParameterError` naming it when it does not exist here."""
    if device is None:
        return None
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ParameterError(f"{who}: device={device!r} is not a torch device; use 'cpu', 'cuda', 'cuda:0', ...") \
            from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(f"{who}: device={str(device)!r} but this machine has no CUDA device; use 'cpu'")
    if device.type not in ("cpu", "cuda"):
        raise ParameterError(f"{who}: device={str(device)!r} is not supported; use 'cpu' or 'cuda'")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ParameterError(f"{who}: device={str(device)!r} does not exist; this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    return device


def _check_time_constants(graph: Graph) -> None:
    """Time constants below the step make the Euler step overshoot (and blow up): refuse them, as the chip does."""
    dt = graph.dt
    for pop in graph.populations.values():
        for key in ("tau_mem", "tau_syn", "tau_adap"):
            if key not in pop.params:
                continue
            value = model_value(pop.params[key])
            low = float(value.min()) if isinstance(value, torch.Tensor) else float(value)
            if low < dt:
                raise ParameterError(f"population {pop.name!r}: {key} down to {low:.3g} s is shorter than the time "
                                     f"step dt = {dt:g} s; the mock's Euler step needs time constants of at least "
                                     "dt (the chip's, with mismatch, longer than dt)")


def _integration_groups(graph: Graph) -> list[list[str]]:
    """On-chip populations in dependency order, grouped by strongly connected component."""
    g = nx.DiGraph()
    order = {name: k for k, name in enumerate(graph.populations)}
    g.add_nodes_from(name for name, pop in graph.populations.items() if not pop.is_input)
    g.add_edges_from((p.source, p.target) for p in graph.projections.values() if p.source in g)
    dag = nx.condensation(g)
    first = {c: min(order[m] for m in dag.nodes[c]["members"]) for c in dag.nodes}
    components = nx.lexicographical_topological_sort(dag, key=lambda c: first[c])
    return [sorted(dag.nodes[c]["members"], key=order.__getitem__) for c in components]


def _all_finite(values: torch.Tensor) -> bool:
    """Whether every entry is finite. One sum decides the usual case (NaN and ±inf make it non-finite);
    only a sum that overflowed, or a bad input, is checked entry by entry."""
    return bool(torch.isfinite(values.sum())) or bool(torch.isfinite(values).all())
