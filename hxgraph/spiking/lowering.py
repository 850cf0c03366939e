"""From recorded module calls to an hxgraph `Graph` (plus what `run` needs to fill the handles).

Rules:

- Populations are the called (or referenced) `InputNeuron`, `LIF` and `LI` modules, input
  populations first, each group in module creation order; projections are the called
  synapse modules in creation order. Every graph element carries its module's name, so the
  same script gives the same graph — and the same `structure_hash()` — at every step.
- A synapse called with a handle no module produced (e.g. `LIFObservables(spikes=x)`) gets an
  implicit input population named `<synapse name>_input`, created once and kept; synapses
  called with the same handle in one run share it.
- A synapse fed by a `BatchDropout` projects from the dropout's LIF; in the mock its input
  spikes are multiplied by the mask, on the chip the masked neurons are switched off.
- A cycle of modules must be grouped in one called `HXModuleWrapper`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

import attrs
import networkx as nx
import torch

from hxgraph.errors import GraphError, InputError, ShapeError
from hxgraph.graph import Dense, Graph, Projection
from hxgraph.observables import Observables
from hxgraph.spiking.handles import LIFObservables, SynapseHandle, TensorHandle
from hxgraph.spiking.modules import LIF, BatchDropout, EventPropLIF, HXModule, InputNeuron, _Neuron, _Population, _Projection
from hxgraph.spiking.sparse_synapse import SparseSynapse

if TYPE_CHECKING:
    from hxgraph.spiking.experiment import Experiment

__all__ = ["Lowered", "lower"]

ProjectionFunc = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@attrs.frozen(eq=False)
class Lowered:
    """A recorded declaration as a graph, and how its modules map onto it."""

    graph: Graph
    funcs: dict[str, ProjectionFunc]                       # projection name → mock forward function
    population_funcs: dict[str, Callable]                  # population name → a module's own forward_func
    inputs: dict[InputNeuron, torch.Tensor]                # input module → spikes (T, B, N)
    neurons: list[_Neuron]                                 # LIF / LI modules, graph order
    sources: dict[_Projection, tuple[_Population, Optional[torch.Tensor]]]  # synapse → (source, dropout mask)
    dropouts: dict[BatchDropout, LIF]
    gradient: str = "surrogate"                            # "eventprop" when the neurons are EventPropLIF


def lower(experiment: "Experiment") -> Lowered:
    """Build the graph of the modules called since the last run (see the module docstring)."""
    if not experiment._calls:
        raise GraphError("nothing is recorded: call the modules (e.g. lif(syn(LIFObservables(spikes=x)))) "
                         "before hxgraph.spiking.run(experiment, runtime)")
    used: dict[HXModule, list[TensorHandle]] = {m: list(h) for m, h in experiment._calls.items()}
    for handles in list(used.values()):
        for handle in handles:
            owner = handle._owner
            if owner is not None and owner.experiment is not experiment:
                raise GraphError(f"{owner._who()} belongs to another experiment; modules of one network must "
                                 "share their Experiment")
            if owner is not None and owner not in used:
                used[owner] = []  # referenced before (or without) being called: still part of the network
    order = {m: k for k, m in enumerate(experiment._modules)}

    def ordered(kind: type) -> list:
        return sorted((m for m in used if isinstance(m, kind)), key=order.__getitem__)

    dropouts = _dropout_sources(ordered(BatchDropout), used)
    targets = _synapse_targets(ordered(_Neuron), used)
    inputs: dict[InputNeuron, torch.Tensor] = {}
    sources: dict[_Projection, tuple[_Population, Optional[torch.Tensor]]] = {}
    by_handle: dict[int, InputNeuron] = {}
    for synapse in ordered(_Projection):
        handle = _single_input(synapse, used[synapse], "the spikes it projects (e.g. a LIF's output or "
                                                         "LIFObservables(spikes=x))")
        owner, mask = handle._owner, None
        if owner is None:  # raw data: an implicit input population
            source = by_handle.get(id(handle))
            if source is None:
                source = experiment._implicit_input(synapse)
                by_handle[id(handle)] = source
                inputs[source] = _spikes_of(handle, source, synapse)
        elif isinstance(owner, (InputNeuron, LIF)):
            source = owner
            mask = owner.mask if isinstance(owner, LIF) else None
        elif isinstance(owner, BatchDropout):
            source, mask = dropouts[owner], _both(owner.mask, dropouts[owner].mask)
        else:
            raise GraphError(f"{synapse._who()}: its input must carry spikes (the output of an InputNeuron, LIF or "
                             f"BatchDropout, or LIFObservables(spikes=x)); got the output of {owner._who()}")
        if synapse not in targets:
            raise GraphError(f"{synapse._who()}: its output is not fed into any LIF or LI module in this run; call "
                             f"a neuron module with it, e.g. lif({synapse.name}(...))")
        target = targets[synapse]
        if source.size != synapse.in_features:
            raise ShapeError(f"{synapse._who()} has in_features={synapse.in_features} but its source "
                             f"{source._who()} has {source.size} neurons")
        if target.size != synapse.out_features:
            raise ShapeError(f"{synapse._who()} has out_features={synapse.out_features} but its target "
                             f"{target._who()} has {target.size} neurons")
        sources[synapse] = (source, mask)
    for module in ordered(InputNeuron):
        handle = _single_input(module, used[module], "its spikes, e.g. input_neuron(LIFObservables(spikes=x))")
        if handle._owner is not None:
            raise GraphError(f"{module._who()}: an InputNeuron takes spike data (LIFObservables(spikes=x)), not the "
                             f"output of {handle._owner._who()}")
        inputs[module] = _spikes_of(handle, module, module)

    _check_cycles(experiment, sources, targets)

    masks: dict[LIF, torch.Tensor] = {n: n.mask for n in ordered(LIF) if n.mask is not None}
    for dropout, lif in dropouts.items():
        masks[lif] = _both(masks.get(lif), dropout.mask)
    order = {m: k for k, m in enumerate(experiment._modules)}  # now including new implicit inputs
    input_modules = sorted(inputs, key=order.__getitem__)
    neurons = ordered(_Neuron)
    populations = [m.population() for m in input_modules]
    populations += [n.population(dropout_mask=masks.get(n)) for n in neurons]
    projections, funcs = [], {}
    for synapse, (source, mask) in sources.items():
        connectivity = (synapse.connectivity if isinstance(synapse, SparseSynapse)
                        else Dense((synapse.out_features, synapse.in_features)))
        projections.append(Projection(name=synapse.name, source=source.name, target=targets[synapse].name,
                                      connectivity=connectivity, weight=synapse.graph_weight(),
                                      transform=synapse.hardware_transform()))
        func = _mock_func(synapse, mask)
        if func is not None:
            funcs[synapse.name] = func
    graph = Graph(experiment.name, experiment.dt, populations, projections)
    population_funcs = {n.name: _population_func(n, [h._owner.name for h in used[n]])
                        for n in neurons if n.overrides_forward_func}
    return Lowered(graph, funcs, population_funcs, {m: inputs[m] for m in input_modules}, neurons, sources, dropouts,
                   _gradient(neurons))


def _gradient(neurons: list[_Neuron]) -> str:
    """EventProp for a run of EventPropLIF modules; one method per run."""
    eventprop = [n for n in neurons if isinstance(n, EventPropLIF)]
    if not eventprop:
        return "surrogate"
    surrogate = [n for n in neurons if isinstance(n, LIF) and not isinstance(n, EventPropLIF)]
    if surrogate:
        raise GraphError(f"{eventprop[0]._who()} is an EventPropLIF but {surrogate[0]._who()} is a "
                         f"{type(surrogate[0]).__name__}: one run computes its gradients one way — make every "
                         "spiking neuron module an EventPropLIF (LI readouts may stay) or none")
    return "eventprop"


def _both(a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """Two spike masks in one (either may be None: no mask)."""
    if a is None or b is None:
        return b if a is None else a
    return a & b


def _single_input(module: HXModule, handles: list[TensorHandle], what: str) -> TensorHandle:
    distinct = list({id(h): h for h in handles}.values())
    if len(distinct) != 1:
        got = "was not called" if not distinct else f"was called with {len(distinct)} different handles"
        raise GraphError(f"{module._who()} {got} in this run; it takes exactly one input: {what}")
    return distinct[0]


def _spikes_of(handle: TensorHandle, population: _Population, who: HXModule) -> torch.Tensor:
    spikes = getattr(handle, "spikes", None)
    if not isinstance(spikes, torch.Tensor):
        raise InputError(f"{who._who()}: its input handle {handle!r} holds no spikes; wrap the input spikes as "
                         f"LIFObservables(spikes=x) with x of shape (time, batch, {population.size})")
    if spikes.dim() != 3 or spikes.shape[2] != population.size:
        raise InputError(f"{who._who()}: input spikes have shape {tuple(spikes.shape)}; expected (time, batch, "
                         f"{population.size})")
    return spikes


def _dropout_sources(dropouts: list[BatchDropout], used: dict) -> dict[BatchDropout, LIF]:
    out = {}
    for dropout in dropouts:
        handle = _single_input(dropout, used[dropout], "the output of the LIF module whose neurons it drops")
        lif = handle._owner
        if not isinstance(lif, LIF):
            got = "spike data" if lif is None else f"the output of {lif._who()}"
            raise GraphError(f"{dropout._who()} must follow a LIF module (it switches that population's neurons "
                             f"off); got {got}")
        if lif.size != dropout.size:
            raise ShapeError(f"{dropout._who()} has size {dropout.size} but follows {lif._who()} of size {lif.size}")
        out[dropout] = lif
    return out


def _synapse_targets(neurons: list[_Neuron], used: dict) -> dict[_Projection, _Neuron]:
    targets: dict[_Projection, _Neuron] = {}
    for neuron in neurons:
        for handle in used[neuron]:
            synapse = handle._owner
            if not isinstance(synapse, _Projection):
                got = "spike data" if synapse is None else f"the output of {synapse._who()}"
                raise GraphError(f"{neuron._who()}: a neuron module's inputs must be outputs of Synapse or "
                                 f"SparseSynapse modules; got {got}")
            if targets.get(synapse, neuron) is not neuron:
                raise GraphError(f"{synapse._who()} feeds both {targets[synapse]._who()} and {neuron._who()}; a "
                                 "synapse module has one target population")
            targets[synapse] = neuron
    return targets


def _check_cycles(experiment: "Experiment", sources: dict, targets: dict) -> None:
    """Every cycle must lie within one HXModuleWrapper called in this run."""
    g = nx.DiGraph()
    for synapse, (source, _) in sources.items():
        g.add_edge(source, synapse)
        g.add_edge(synapse, targets[synapse])
    order = {m: k for k, m in enumerate(experiment._modules)}
    for component in nx.strongly_connected_components(g):
        if len(component) < 2:
            continue
        members = sorted(component, key=order.__getitem__)
        if any(w.contains(members) for w in experiment._wrappers):
            continue
        cycle = [m.name for m, _ in nx.find_cycle(g.subgraph(component))]
        raise GraphError(
            f"modules {', '.join(m.name for m in members)} form a cycle ({' → '.join(cycle + cycle[:1])}); "
            "recurrent connections must be grouped in an HXModuleWrapper: create "
            f"hxgraph.spiking.HXModuleWrapper(experiment, {', '.join(f'{m.name}={m.name}' for m in members)}) "
            "(or a subclass) and call it after its members in every declaration")


def _population_func(neuron: _Neuron, synapses: list[str]) -> Callable:
    """The mock's function for a neuron module that overrides `forward_func`: handles in call order."""
    def forward(outputs: dict[str, torch.Tensor]) -> Observables:
        handle = neuron.forward_func(*(SynapseHandle(graded_spikes=outputs[name]) for name in synapses))
        return Observables(spikes=getattr(handle, "spikes", None), membrane=getattr(handle, "membrane_cadc", None),
                           current=getattr(handle, "current", None))
    return forward


def _mock_func(synapse: _Projection, mask: Optional[torch.Tensor]) -> Optional[ProjectionFunc]:
    """The mock's forward function for a projection, when it is not the mock's own product."""
    if synapse.overrides_forward_func:  # the module's own computation, as hxtorch calls it
        def overridden(spikes: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
            if mask is not None:
                spikes = spikes * mask.to(device=spikes.device, dtype=spikes.dtype)
            return synapse.forward_func(LIFObservables(spikes=spikes)).graded_spikes
        return overridden
    custom = isinstance(synapse, SparseSynapse) and not synapse.uses_default_func
    if mask is None and not custom:
        return None
    base = synapse.apply_func if custom else torch.nn.functional.linear

    def forward(spikes: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if mask is not None:
            spikes = spikes * mask.to(device=spikes.device, dtype=spikes.dtype)
        return base(spikes, weight)
    return forward

