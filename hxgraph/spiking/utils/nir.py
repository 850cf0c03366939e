"""hxtorch's NIR functions: `to_nir`, `from_nir` (with `ConversionConfig`), `to_nir_data`, `from_nir_data`.

`to_nir(snn, input_sample)` runs the model once on `input_sample` to record its network and
exports it with hxtorch's parameter conventions (`hxgraph.io.to_nir(..., convention="hxtorch")`:
time constants in ms, `r = tau_mem / C`), so the file loads into hxtorch's `from_nir` and runs
on a real BrainScaleS-2 system. `from_nir(graph, cfg)` builds an `hxgraph.spiking` model from a
NIR graph the way hxtorch's does — chip values leak/reset 80 and threshold 150 CADC, weights
through `linear_saturating` with `cfg.weight_scale`, readout traces with `cfg.trace_scale`
and `shift_cadc_to_first` — and its `forward({input key: spikes})` returns the spikes of every
spiking node by key. Node keys are the populations' names (what hxgraph writes as NIR keys).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Optional

import networkx as nx
import numpy as np
import torch

from hxgraph.errors import GraphError, InputError, MissingDependencyError, ParameterError
from hxgraph.graph import Graph, Sparse, model_value
from hxgraph.spiking.experiment import Experiment
from hxgraph.spiking.handles import LIFObservables
from hxgraph.spiking.modules import LI, LIF, HXModule, InputNeuron, Synapse
from hxgraph.spiking.parameter import HXTransformedModelParameter, MixedHXModelParameter
from hxgraph.spiking.run import run
from hxgraph.spiking.sparse_synapse import SparseSynapse
from hxgraph.spiking.transforms.weight_transforms import linear_saturating

__all__ = ["ConversionConfig", "to_nir", "from_nir", "to_nir_data", "from_nir_data"]


@dataclasses.dataclass
class ConversionConfig:
    """hxtorch's settings for `from_nir` (its field names and defaults).

    `calib_path` must stay None (the emulated chip is calibrated by `hxgraph.chip.Calibration`);
    `input_loopback` is accepted and has no effect (inputs are always available to the mock);
    `trace_shift` is in seconds and becomes `cadc_time_shift = round(trace_shift / dt)` steps.
    """

    dt: float = 1e-6
    calib_path: Optional[str] = None
    weight_scale: float = 64.
    trace_scale: float = 1. / 50.
    trace_shift: float = 0e-6
    cadc_recording: bool = True
    mock: bool = True
    input_loopback: bool = True
    device: torch.device = dataclasses.field(default_factory=lambda: torch.device("cpu"))


def _experiment_of(model: torch.nn.Module) -> Experiment:
    """The experiment a model records into: its `exp` / `experiment` attribute, else its modules'."""
    for attr in ("exp", "experiment"):
        found = getattr(model, attr, None)
        if isinstance(found, Experiment):
            return found
    experiments = {id(m.experiment): m.experiment for m in model.modules() if isinstance(m, HXModule)}
    if len(experiments) != 1:
        raise ParameterError(f"to_nir: cannot tell which Experiment {type(model).__name__} records into (found "
                             f"{len(experiments)}); give the model an `exp` attribute, as hxtorch's SNN base class does")
    return next(iter(experiments.values()))


def to_nir(snn: torch.nn.Module, input_sample: Any) -> Any:
    """Run `snn` on `input_sample` once and return its network as a `nir.NIRGraph` in hxtorch's conventions."""
    from hxgraph.io import to_nir as graph_to_nir
    experiment = _experiment_of(snn)
    with torch.no_grad():
        snn(input_sample)
    graph = experiment.last_graph
    if graph is None:
        raise GraphError("to_nir: running the model recorded nothing; its forward must call the modules and "
                         "hxgraph.spiking.run(experiment, ...)")
    return graph_to_nir(graph, convention="hxtorch")


class NIRModel(torch.nn.Module):
    """The model `from_nir` builds: one `hxgraph.spiking` module per NIR node, called in graph order."""

    def __init__(self, graph: Graph, cfg: ConversionConfig, keep_refractory: bool = True):
        super().__init__()
        self.cfg = cfg
        self.graph = graph
        self.exp = Experiment(mock=cfg.mock, dt=cfg.dt)
        self.hxnodes = torch.nn.ModuleDict()
        shift = int(round(cfg.trace_shift / cfg.dt))
        # Feed-forward (from_nir refuses cycles): call the populations in dependency order.
        self.order = [name for name in nx.topological_sort(graph.to_networkx())]
        for pop in graph.populations.values():
            self.hxnodes[pop.name] = _population_module(self.exp, pop, cfg, shift, keep_refractory)
        for proj in graph.projections.values():
            self.hxnodes[proj.name] = _projection_module(self.exp, proj, cfg)
        self.spike_keys = [p.name for p in graph.populations.values() if p.neuron_model.spiking]
        self.device = cfg.device
        self.to(self.device)

    def forward(self, spikes_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Spikes (T, B, N) per input key → the spikes of every spiking node (inputs and LIF) by key."""
        inputs = [p.name for p in self.graph.inputs]
        missing = [name for name in inputs if name not in spikes_dict]
        if missing:
            raise InputError(f"from_nir model: spikes missing for input node(s) {missing}; inputs: {inputs}")
        handles: dict[str, Any] = {}
        steps = None
        for name in inputs:
            spikes = spikes_dict[name].to(self.device)
            steps = spikes.shape[0]
            handles[name] = self.hxnodes[name](LIFObservables(spikes=spikes))
        for name in self.order:
            pop = self.graph.population(name)
            if pop.is_input:
                continue
            incoming = [self.hxnodes[p.name](handles[p.source]) for p in self.graph.projections_into(pop.name)]
            handles[pop.name] = self.hxnodes[pop.name](*incoming)
        run(self.exp, steps)
        return {key: handles[key].spikes for key in self.spike_keys}


def _population_module(exp: Experiment, pop: Any, cfg: ConversionConfig, shift: int,
                       keep_refractory: bool) -> HXModule:
    if pop.is_input:
        return InputNeuron(pop.size, exp, name=pop.name)
    values = {k: model_value(v) for k, v in pop.params.items()}
    tau_mem, capacitance = values["tau_mem"], values["capacitance"]
    r = tau_mem / capacitance  # NIR's r; the chip code follows the model value as in hxtorch (63 at C = tau_mem / r)
    membrane = HXTransformedModelParameter(capacitance, functools.partial(_capacitance_code, r=r, tau_mem=tau_mem))
    common = dict(leak=MixedHXModelParameter(values["leak"], 80.), tau_mem=tau_mem, tau_syn=values["tau_syn"],
                  membrane_capacitance=membrane, trace_scale=cfg.trace_scale, cadc_time_shift=shift,
                  shift_cadc_to_first=True, name=pop.name)
    if pop.model == "lif":
        return LIF(pop.size, exp, reset=MixedHXModelParameter(values["reset"], 80.),
                   threshold=MixedHXModelParameter(values["threshold"], 150.),
                   refractory_time=values["refractory_time"] if keep_refractory else 1e-6,
                   enable_cadc_recording=cfg.cadc_recording, **common)
    return LI(pop.size, exp, **common)


def _capacitance_code(model_value: Any, r: Any, tau_mem: Any) -> Any:
    return model_value / tau_mem * r * 63


def _projection_module(exp: Experiment, proj: Any, cfg: ConversionConfig) -> HXModule:
    transform = functools.partial(linear_saturating, scale=cfg.weight_scale)
    out_features, in_features = proj.shape
    if isinstance(proj.connectivity, Sparse):
        connections = torch.zeros(in_features, out_features)
        connections[proj.connectivity.sources, proj.connectivity.targets] = 1.0
        module = SparseSynapse(connections, exp, transform=transform, name=proj.name)
        module.weight = proj.weight.detach().clone()
        return module
    module = Synapse(in_features, out_features, exp, transform=transform, name=proj.name)
    with torch.no_grad():
        module.weight.copy_(proj.weight.detach())
    return module


def from_nir(graph: Any, cfg: Optional[ConversionConfig] = None) -> NIRModel:
    """Build an `hxgraph.spiking` model from a `nir.NIRGraph` as hxtorch's `from_nir` does (see the module)."""
    from hxgraph.io import from_nir as nir_to_graph
    cfg = ConversionConfig() if cfg is None else cfg
    if not isinstance(cfg, ConversionConfig):
        raise ParameterError(f"from_nir: cfg must be a ConversionConfig; got {cfg!r}")
    if cfg.calib_path is not None:
        raise ParameterError("from_nir: calib_path names a calibration of a real chip, which the emulated chip cannot "
                             "load; leave it None (the emulated chip is calibrated by hxgraph.chip.Calibration)")
    metadata = getattr(graph, "metadata", None) or {}
    hx_graph = nir_to_graph(graph, dt=cfg.dt, convention=metadata.get("convention", "hxtorch"))
    try:
        _, _, closing = nx.find_cycle(hx_graph.to_networkx())[-1]
    except nx.NetworkXNoCycle:
        pass
    else:
        raise GraphError(f"from_nir: projection {closing!r} closes a cycle; hxtorch's from_nir and this one "
                         "build feed-forward networks only")
    # A graph hxgraph wrote carries its neurons' refractory time; for others hxtorch's LIF default applies.
    return NIRModel(hx_graph, cfg, keep_refractory="hxgraph" in metadata)


def _data_ir() -> Any:
    try:
        from nir import data_ir
    except ImportError as exc:
        raise MissingDependencyError("NIR data conversion needs the 'nir' package with nir.data_ir: "
                                     "pip install 'hxgraph[nir]'") from exc
    return data_ir


def to_nir_data(hxtorch_dict: dict[str, torch.Tensor], hxtorch_model: Any) -> Any:
    """Spikes (T, B, N) by node key → `nir.data_ir.NIRGraphData` of time-gridded boolean spikes (B, T, N)."""
    data_ir = _data_ir()
    dt = _experiment_of(hxtorch_model).dt
    nodes = {}
    for key, spikes in hxtorch_dict.items():
        array = np.moveaxis(spikes.detach().cpu().numpy().astype(bool), 1, 0)
        nodes[key] = data_ir.NIRNodeData({"spikes": data_ir.TimeGriddedData(array, dt)})
    return data_ir.NIRGraphData(nodes)


def from_nir_data(nir_graph_data: Any, hxtorch_model: Any) -> dict[str, torch.Tensor]:
    """`nir.data_ir.NIRGraphData` → float spikes (T, B, N) by node key (event data binned to the model's dt)."""
    data_ir = _data_ir()
    dt = _experiment_of(hxtorch_model).dt
    out = {}
    for key, node in nir_graph_data.nodes.items():
        if not isinstance(node, data_ir.NIRNodeData):
            raise ParameterError(f"from_nir_data: node {key!r} holds nested graph data; only node data converts")
        for observable, data in node.observables.items():
            if observable != "spikes":
                raise ParameterError(f"from_nir_data: node {key!r} holds {observable!r}; only spikes convert")
            if isinstance(data, data_ir.EventData):
                data = data.to_time_gridded(dt)
            out[key] = torch.as_tensor(np.asarray(data.data)).permute(1, 0, 2).float()
    return out
