"""hxgraph graphs to and from NIR, the Neuromorphic Intermediate Representation.

NIR describes neurons by continuous-time ODEs; hxgraph's mock integrates them with forward
Euler at the graph's `dt`. The parameters are converted so that a NIR consumer that
discretizes with forward Euler at the same `dt` (spikes entering as 0/1 per step, the
convention of snnTorch and Norse) reproduces hxgraph's numerics:

    r    = tau_mem / C          (C: the capacitance's model value)
    w_in = tau_syn / dt

and on import `C = tau_mem * tau_syn / (r * w_in * dt)` (CubaLIF, CubaLI), `C = tau / r`
with `tau_syn = dt` (current-free LIF, LI). docs/nir.md derives this and lists what is lost.

Everything NIR has no field for (names, sparsity, receptors, `Mixed` hardware values,
placement, recording, weight transforms, initializers, `dt`) travels as JSON text under the
key "hxgraph" of the NIR nodes' `metadata`, so hxgraph → NIR → hxgraph gives an equal graph
while other tools see plain NIR. On import, metadata is used only where it agrees with the
plain NIR content (another tool may have changed the network since).

The `nir` package is imported lazily: without it, every entry point raises
`MissingDependencyError` naming the `hxgraph[nir]` extra.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from collections import defaultdict, deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Optional, Union

import numpy as np
import torch

from hxgraph.errors import (ConversionError, HxGraphError, MissingDependencyError, ParameterError,
                            SerializationError, UnknownNameError, check_choice, did_you_mean, known)
from hxgraph.files import source_path, target_path, write_bytes
from hxgraph.graph import Dense, Graph, Mixed, Placement, Population, Projection, Sparse, model_value
from hxgraph.graph.graph import check_dt
from hxgraph.graph.memory import check_allocation
from hxgraph.graph.neurons import MODELS
from hxgraph.graph.reading import describe, read_int, read_int_list, read_number, read_object, read_str, read_str_list
from hxgraph.graph.values import Param, tensor_from_json, tensor_to_json, value_from_json, value_to_json
from hxgraph.graph.weights import initializer_from_json, transform_from_json, transform_to_json

if TYPE_CHECKING:  # pragma: no cover - typing only
    import nir as nir_module

__all__ = ["to_nir", "from_nir", "write_nir", "read_nir", "DEFAULT_DT", "CONVENTIONS", "ADEX_EXPORT"]

#: Time step assumed on import when neither the caller nor the NIR graph gives one (seconds).
DEFAULT_DT = 1e-6

#: Parameter conventions: "euler" (hxgraph's: seconds, r = tau_mem / C, w_in = tau_syn / dt, what
#: a forward-Euler consumer such as snnTorch or Norse needs) and "hxtorch" (hxtorch's NIR export and
#: import: time constants in milliseconds, r = tau_mem / C, w_in = 1, which hxtorch ignores).
CONVENTIONS = ("euler", "hxtorch")

#: What `to_nir` does with AdEx populations (NIR has no AdEx neuron): refuse, or write a CubaLIF
#: whose hxgraph metadata keeps the adaptation and exponential parameters.
ADEX_EXPORT = ("refuse", "lif_with_metadata")

_KEY = "hxgraph"            # metadata key holding hxgraph's JSON
_FORMAT = "hxgraph.nir"     # graph-level metadata format name
_FORMAT_VERSION = 1
# Metadata parameters are used while they agree with the NIR fields to this relative tolerance
# (float32 re-saving by another tool stays within it; an edited parameter does not).
_RTOL = 1e-6
_SUPPORTED = ("Input, Output, Linear, Affine (with an all-zero bias), CubaLIF, CubaLI, LIF, LI, "
              "and NIRGraph subgraphs of these")
_RESET_KEYS = ("reset_method", "reset_mechanism")
_RESET_TO_VALUE = {"zero", "to_zero", "reset_to_zero", "value", "to_value", "reset_to_value", "reset_value"}
_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64}

Source = Union[str, "os.PathLike[str]", "nir_module.NIRGraph"]


def _nir() -> Any:
    """The `nir` module, or an error that says which extra installs it."""
    try:
        import nir
    except ImportError as exc:
        raise MissingDependencyError(
            "NIR import/export needs the optional package 'nir' (with h5py); install it with "
            "pip install 'hxgraph[nir]'") from exc
    return nir


# =============================================================================== export

def to_nir(graph: Graph, outputs: Optional[Iterable[str]] = None, *,
           convention: str = "euler", adex: str = "refuse") -> "nir_module.NIRGraph":
    """Convert `graph` to a `nir.NIRGraph`.

    Input populations become `Input` nodes, LIF populations `CubaLIF`, LI populations
    `CubaLI`, every projection a `Linear` node (sparse ones as a dense matrix with zeros,
    the connection list in metadata). Populations without outgoing projections, and those
    named in `outputs`, are connected to `Output` nodes. `convention` (see `CONVENTIONS`):
    "euler" for forward-Euler consumers, "hxtorch" for hxtorch's `from_nir` (the real chip).

    NIR has no AdEx neuron. `adex="refuse"` (default) raises a `ConversionError` for an AdEx
    population; `adex="lif_with_metadata"` writes it as a `CubaLIF` whose hxgraph metadata
    holds the adaptation and exponential parameters: hxgraph reads the AdEx back, other
    tools see (and simulate) only its LIF part.
    """
    nir = _nir()
    if not isinstance(graph, Graph):
        raise ParameterError(f"to_nir expects an hxgraph.Graph (e.g. experiment.graph); got {type(graph).__name__}")
    _check_convention(convention)
    check_choice(adex, ADEX_EXPORT, "adex= choice", note=" (what to_nir does with AdEx populations)",
                 error=ParameterError)
    if adex == "refuse":
        for pop in graph.populations.values():
            if pop.model == "adex":
                raise ConversionError(
                    f"population {pop.name!r} is AdEx, and NIR has no AdEx neuron: exporting it as a LIF would drop "
                    "its adaptation and exponential term; pass adex='lif_with_metadata' to write a CubaLIF that "
                    "hxgraph reads back as AdEx (other tools see the LIF part only)")
    if outputs is not None and (isinstance(outputs, (str, bytes)) or not isinstance(outputs, Iterable)
                                or isinstance(outputs, torch.Tensor)):
        raise ParameterError(f"to_nir(outputs=...) takes a list of population names; got {outputs!r}")
    extra = set()
    for name in outputs or ():
        if not isinstance(name, str):
            raise UnknownNameError(f"to_nir(outputs=...): population names are strings; got {name!r}")
        if name not in graph.populations:
            raise UnknownNameError(f"to_nir(outputs=...): unknown population {name!r}"
                                   f"{did_you_mean(name, graph.populations)}; "
                                   f"known populations: {known(graph.populations)}")
        extra.add(name)
    _check_export_memory(graph)
    for proj in graph.projections.values():
        proj.check_storable(dtype=False)  # what read_nir would refuse is not written
    graph.project_signs_()  # the sign constraint, as every use of the weights applies it
    taken: set[str] = set()
    pop_keys = {name: _claim(_safe_key(name), taken) for name in graph.populations}
    proj_keys = {name: _claim(_safe_key(name), taken) for name in graph.projections}
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    for pop in graph.populations.values():
        nodes[pop_keys[pop.name]] = _population_node(nir, pop, graph.dt, convention)
    for proj in graph.projections.values():
        key = proj_keys[proj.name]
        nodes[key] = _projection_node(nir, proj)
        edges += [(pop_keys[proj.source], key), (key, pop_keys[proj.target])]
    for pop in graph.populations.values():
        if pop.name in extra or not graph.projections_from(pop.name):
            out = _claim(_safe_key(f"output_{pop.name}"), taken)
            nodes[out] = nir.Output(output_type=np.array([pop.size]))
            edges.append((pop_keys[pop.name], out))
    metadata = {"dt": graph.dt, "convention": convention, _KEY: json.dumps({
        "format": _FORMAT, "version": _FORMAT_VERSION, "name": graph.name, "dt": graph.dt, "convention": convention,
        "populations": [pop_keys[n] for n in graph.populations],
        "projections": [proj_keys[n] for n in graph.projections]})}
    try:
        # NIR's type inference adds an Input node before every population without input.
        return nir.NIRGraph(nodes=dict(nodes), edges=list(edges), metadata=metadata)
    except (ValueError, NotImplementedError, AssertionError):
        # Inference needs a path from an Input node (a graph without inputs whose populations
        # only feed themselves has none); every node's type is set already, so skip it.
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def _check_export_memory(graph: Graph) -> None:
    """NIR holds per-neuron parameter arrays and dense (out, in) weight matrices: refuse what cannot fit."""
    params = sum(pop.size * len(pop.params) for pop in graph.populations.values())
    weights = sum(proj.shape[0] * proj.shape[1] for proj in graph.projections.values())
    check_allocation(8.0 * (params + weights), f"NIR export of graph {graph.name!r} ({params:,} parameter values, "
                     f"{weights:,} weight matrix entries)", "NIR stores every weight matrix dense: use smaller "
                     "populations")


def write_nir(graph: Graph, path: Union[str, "os.PathLike[str]"], outputs: Optional[Iterable[str]] = None, *,
              convention: str = "euler", adex: str = "refuse") -> Path:
    """Write `graph` to `path` in NIR's own file format (HDF5); returns the path (`convention`, `adex` as in `to_nir`).

    The file is replaced atomically: if writing fails part way (disk full, an error), a
    previous file at `path` stays as it was and no partial file is left behind.
    """
    nir = _nir()
    path = target_path(path, "write_nir: the path")
    nir_graph = to_nir(graph, outputs, convention=convention, adex=adex)
    # HDF5 is assembled in memory and h5py's file is closed before anything touches the
    # disk: an h5py file whose writes failed part way cannot be closed cleanly (its cleanup
    # fails again at garbage collection, and may crash the interpreter).
    buffer = io.BytesIO()
    nir.write(buffer, nir_graph)
    write_bytes(path, buffer.getvalue())
    return path


def _check_convention(convention: Any) -> str:
    return check_choice(convention, CONVENTIONS, "NIR convention", "conventions", " ('euler': hxgraph's, for "
                        "forward-Euler tools; 'hxtorch': hxtorch's from_nir/to_nir)", ParameterError)


# Seconds per unit of the time constants written to NIR, by convention.
_TIME_UNIT = {"euler": 1.0, "hxtorch": 1e-3}


def _population_node(nir: Any, pop: Population, dt: float, convention: str = "euler") -> Any:
    """`Input`, `CubaLIF` or `CubaLI` node for a population, with r and w_in converted (module docstring)."""
    meta = {_KEY: json.dumps({
        "kind": "population", "name": pop.name, "model": pop.model, "size": pop.size,
        "params": {k: value_to_json(v) for k, v in pop.params.items()}, "record": sorted(pop.record),
        "placement": None if pop.placement is None else pop.placement.to_json(),
        "circuits_per_neuron": pop.circuits_per_neuron})}
    if pop.is_input:
        return nir.Input(input_type=np.array([pop.size]), metadata=meta)
    p = {k: _model_array(v, pop.size) for k, v in pop.params.items()}
    unit = _TIME_UNIT[convention]
    w_in = p["tau_syn"] / dt if convention == "euler" else np.ones(pop.size)
    common = dict(tau_syn=p["tau_syn"] / unit, tau_mem=p["tau_mem"] / unit, r=p["tau_mem"] / p["capacitance"],
                  v_leak=p["leak"], w_in=w_in, metadata=meta)
    if pop.model in ("lif", "adex"):  # an AdEx's adaptation lives in the metadata only (to_nir's adex=)
        return nir.CubaLIF(v_threshold=p["threshold"], v_reset=p["reset"], **common)
    return nir.CubaLI(**common)


def _projection_node(nir: Any, proj: Projection) -> Any:
    """A `Linear` node holding the (out, in) weight matrix (zeros off a sparse projection's connections)."""
    weight = proj.dense_weight().detach().cpu()
    dtype = str(weight.dtype).replace("torch.", "")
    if weight.dtype not in (torch.float16, torch.float32, torch.float64):
        weight = weight.to(torch.float32)  # e.g. bfloat16: numpy has no such type; float32 holds it exactly
    meta: dict[str, Any] = {
        "kind": "projection", "name": proj.name, "source": proj.source, "target": proj.target,
        "shape": list(proj.shape), "receptor": proj.receptor, "connectivity": proj.connectivity.kind,
        "dtype": dtype, "init": None if proj.init is None else proj.init.to_json(),
        "transform": transform_to_json(proj.transform, f"projection {proj.name!r}"), "seed": proj.seed}
    if isinstance(proj.connectivity, Sparse):
        meta["indices"] = tensor_to_json(proj.connectivity.indices)
    return nir.Linear(weight=weight.numpy().copy(), metadata={_KEY: json.dumps(meta)})


def _model_array(value: Param, size: int) -> np.ndarray:
    """A parameter's model value as a float64 array of shape (size,)."""
    value = model_value(value)
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().to(torch.float64).numpy().reshape(size).copy()
    return np.full(size, float(value), dtype=np.float64)


def _safe_key(name: str) -> str:
    """A NIR node key: HDF5 group names cannot hold '/', and nirtorch turns '.' into '_'."""
    key = "".join(c if c.isprintable() and c not in "./" else "_" for c in name).strip()
    return key or "node"


def _claim(key: str, taken: set[str]) -> str:
    """`key`, or `key_2`, `key_3`, ... if taken; records the result as taken."""
    candidate, index = key, 2
    while candidate in taken:
        candidate, index = f"{key}_{index}", index + 1
    taken.add(candidate)
    return candidate


# =============================================================================== import

def read_nir(path: Union[str, "os.PathLike[str]"], dt: Optional[float] = None, name: Optional[str] = None, *,
             convention: Optional[str] = None) -> Graph:
    """Read a NIR file (NIR's HDF5 format) as an hxgraph `Graph`; see `from_nir` for `dt` and `name`.

    A file that is not a readable NIR graph (not HDF5, cut short, malformed) raises
    `SerializationError` naming the file.
    """
    nir = _nir()
    path = source_path(path, "read_nir: the path", "a NIR file")
    if not path.is_file():
        raise SerializationError(f"no NIR file at {str(path)!r}")
    try:
        try:
            nir_graph = nir.read(path, type_check=False)  # our own graphs need no re-inference
        except TypeError as exc:
            if "type_check" not in str(exc):
                raise
            nir_graph = nir.read(path)  # older nir without the type_check argument
    except PermissionError:
        raise  # an OS failure, not a malformed file
    except Exception as exc:  # noqa: BLE001
        # h5py and nir raise whatever their parsers meet (OSError, RuntimeError, KeyError,
        # ValueError, ...) on a file that is not HDF5, cut short or not NIR; all of them mean
        # the file cannot be read, and the cause stays chained.
        raise SerializationError(f"{str(path)!r} is not a readable NIR file: {type(exc).__name__}: "
                                 f"{str(exc)[:300]}") from exc
    try:
        return from_nir(nir_graph, dt=dt, name=name, convention=convention)
    except ConversionError:
        raise
    except SerializationError as exc:
        raise SerializationError(f"{str(path)!r}: {exc}") from exc


def from_nir(source: Source, dt: Optional[float] = None, name: Optional[str] = None, *,
             convention: Optional[str] = None) -> Graph:
    """Convert a `nir.NIRGraph` (or the path of a NIR file) to an hxgraph `Graph`.

    `dt`: the time step; default the one stored in the graph's metadata (hxgraph writes it),
    else `DEFAULT_DT` with a warning: NIR's equations are continuous, so the step a network
    was trained with is not part of NIR (snnTorch assumes 1e-4 s, Norse 1e-3 s by default).
    `name`: the graph's name (default the stored one, else "nir"). `convention` (see
    `CONVENTIONS`): default the one the graph's metadata names, else "euler"; "hxtorch" reads
    what hxtorch's `to_nir` writes (milliseconds, `C = tau_mem / r`, `w_in` ignored).

    Unsupported nodes or parameters raise `ConversionError` naming the node; a dense `Linear`
    stays dense (no connection is dropped), sparsity is restored only from hxgraph's metadata.
    """
    nir = _nir()
    if convention is not None:
        _check_convention(convention)
    if isinstance(source, (str, os.PathLike)):
        return read_nir(source, dt=dt, name=name, convention=convention)
    if not isinstance(source, nir.NIRGraph):
        raise ParameterError(f"from_nir expects a nir.NIRGraph or the path of a NIR file; got {type(source).__name__}")
    return _Importer(nir, source, dt, name, convention).build()


class _Importer:
    """One conversion NIR → Graph: flatten subgraphs, classify nodes, build populations and projections."""

    def __init__(self, nir: Any, graph: Any, dt: Optional[float], name: Optional[str],
                 convention: Optional[str] = None):
        self.nir = nir
        self.meta = _graph_meta(graph)
        stored = (self.meta or {}).get("convention") or _text(_metadata(graph, "the NIR graph").get("convention"),
                                                              "the NIR graph: metadata 'convention'")
        self.convention = convention or (stored if isinstance(stored, str) and stored in CONVENTIONS else "euler")
        self.nodes, self.edges = _flatten(nir, graph)
        self.dt = self._resolve_dt(graph, dt)
        self.name = name if name is not None else _safe_key((self.meta or {}).get("name") or "nir")

    # ------------------------------------------------------------------ time step
    def _resolve_dt(self, graph: Any, dt: Optional[float]) -> float:
        if dt is not None:
            return check_dt(dt)
        if self.meta is not None and "dt" in self.meta:
            with _naming("the NIR graph's hxgraph metadata", SerializationError):
                return check_dt(self.meta["dt"])
        plain = _plain_number(_metadata(graph, "the NIR graph").get("dt"))
        if plain is not None:
            with _naming("the NIR graph's metadata", SerializationError):
                return check_dt(plain)
        found = {key: _plain_number(_metadata(n, f"NIR node {key!r}").get("dt")) for key, n in self.nodes.items()}
        found = {key: value for key, value in found.items() if value is not None}
        if len(set(found.values())) > 1:
            listing = ", ".join(f"{k!r}: {v:g}" for k, v in found.items())
            raise ConversionError(f"the NIR nodes were discretized with different time steps ({listing}); an hxgraph "
                                  "graph (and the chip) runs all neurons with one dt: pass from_nir(..., dt=...)")
        if found:
            key, value = next(iter(found.items()))
            with _naming(f"NIR node {key!r}: metadata", SerializationError):
                return check_dt(value)
        warnings.warn(f"the NIR graph does not say which time step it was made for; using dt = {DEFAULT_DT:g} s "
                      "(hxgraph's default). Pass from_nir(..., dt=...) with the step the network was trained "
                      "with (snnTorch assumes 1e-4 s, Norse 1e-3 s)", UserWarning, stacklevel=4)
        return DEFAULT_DT

    # ------------------------------------------------------------------ build
    def build(self) -> Graph:
        nir = self.nir
        tagged = self.meta is not None
        pops: dict[str, str] = {}      # node key -> model ("input", "lif", "li")
        linears: list[str] = []
        for key, node in self.nodes.items():
            if isinstance(node, nir.Input):
                if tagged and self._inferred_input(key, node):
                    continue
                pops[key] = "input"
            elif isinstance(node, (nir.CubaLIF, nir.LIF)):
                # an AdEx written by to_nir(adex="lif_with_metadata") is a CubaLIF tagged "adex"
                meta = _node_meta(node, key) if isinstance(node, nir.CubaLIF) else None
                pops[key] = "adex" if meta is not None and meta.get("model") == "adex" else "lif"
            elif isinstance(node, (nir.CubaLI, nir.LI)):
                pops[key] = "li"
            elif isinstance(node, (nir.Linear, nir.Affine)):
                if isinstance(node, nir.Affine) and np.any(_numbers(key, node, "bias") != 0):
                    raise ConversionError(f"NIR node {key!r} is an Affine with a non-zero bias; hxgraph projections "
                                          "(and the chip's synapses) have no bias: use Linear, or an Affine with an "
                                          "all-zero bias")
                linears.append(key)
            elif not isinstance(node, nir.Output):
                raise ConversionError(f"NIR node {key!r} is a {type(node).__name__}, which hxgraph cannot express; "
                                      f"supported nodes: {_SUPPORTED}")
        kept = set(pops) | set(linears)
        edges = [(a, b) for a, b in self.edges if a in kept or b in kept]
        self.pops, self.linears = pops, set(linears)
        self.succ: dict[str, list[str]] = defaultdict(list)
        self.pred: dict[str, list[str]] = defaultdict(list)
        for a, b in edges:
            self.succ[a].append(b)
            self.pred[b].append(a)
        sizes = {key: self._size(key, model) for key, model in pops.items()}
        order = self._order(kept)
        names = self._names([k for k in order if k in pops], "population")
        populations = [self._population(key, pops[key], sizes[key], names[key]) for key in order if key in pops]
        projections = self._projections([k for k in order if k in linears], edges, names, sizes)
        with _naming(f"NIR graph {self.name!r}"):
            return Graph(self.name, self.dt, populations, projections)

    def _inferred_input(self, key: str, node: Any) -> bool:
        """Whether an Input node is one NIR's type inference added ('input_<node>', no metadata, into neurons)."""
        if not key.startswith("input_") or _node_meta(node, key) is not None:
            return False
        targets = [b for a, b in self.edges if a == key]
        neurons = (self.nir.CubaLIF, self.nir.CubaLI, self.nir.LIF, self.nir.LI)
        return bool(targets) and all(isinstance(self.nodes.get(b), neurons) for b in targets)

    def _order(self, kept: set[str]) -> list[str]:
        """Population and Linear node keys: hxgraph's stored order first, then breadth-first from the inputs."""
        listed = [k for k in (self.meta or {}).get("populations", []) + (self.meta or {}).get("projections", [])
                  if isinstance(k, str) and k in kept]
        order, seen = list(dict.fromkeys(listed)), set(listed)
        queue = deque(k for k, model in self.pops.items() if model == "input")
        visited: set[str] = set()
        while queue:
            key = queue.popleft()
            if key in visited:
                continue
            visited.add(key)
            if key not in seen and key in kept:
                order.append(key)
                seen.add(key)
            queue.extend(b for b in self.succ[key] if b not in visited)
        order += [k for k in self.nodes if k in kept and k not in seen]
        return order

    def _names(self, keys: list[str], kind: str) -> dict[str, str]:
        """hxgraph names for node keys: the stored name where metadata has one, else the key made valid."""
        taken: set[str] = set()
        out = {}
        for key in keys:
            meta = _node_meta(self.nodes[key], key)
            stored = meta.get("name") if meta is not None and meta.get("kind") == kind else None
            out[key] = _claim(stored if isinstance(stored, str) and stored else _safe_key(key), taken)
        return out

    def _size(self, key: str, model: str) -> int:
        node = self.nodes[key]
        if model == "input":
            input_type = getattr(node, "input_type", None)
            shape = input_type.get("input") if isinstance(input_type, dict) else None
            dims = _integers(shape, f"NIR node {key!r} (Input): input_type['input'] (the input's shape)")
        else:
            dims = list(_numbers(key, node, "v_leak").shape)
        if model != "input" and not dims:  # scalar parameters: take the size from a neighbouring Linear
            for a in self.pred[key]:
                if a in self.linears:
                    return int(self._weight(a).shape[-2])
            for b in self.succ[key]:
                if b in self.linears:
                    return int(self._weight(b).shape[-1])
            raise ConversionError(f"NIR node {key!r} ({type(node).__name__}) has scalar parameters and no Linear "
                                  "neighbour to tell its size; give per-neuron arrays")
        if not dims or any(d != 1 for d in dims[:-1]) or dims[-1] < 1:
            raise ConversionError(f"NIR node {key!r} ({type(node).__name__}) has shape {tuple(dims)}; hxgraph "
                                  "populations are one-dimensional (shape (N,) or (1, N)): flatten the network "
                                  "before exporting it")
        return dims[-1]

    # ------------------------------------------------------------------ populations
    def _population(self, key: str, model: str, size: int, name: str) -> Population:
        node = self.nodes[key]
        meta = _node_meta(node, key)
        if meta is not None and (meta.get("kind") != "population" or meta.get("model") != model
                                 or meta.get("size") != size):
            meta = None  # metadata of another node kind, or the node was resized by another tool
        fields: dict[str, Any] = {}
        if meta is not None:
            where = f"NIR node {key!r}: hxgraph metadata"
            with _naming(where):
                if meta.get("record") is not None:
                    fields["record"] = frozenset(read_str_list(meta["record"], f"{where} record"))
                if meta.get("placement") is not None:
                    placement = read_object(meta["placement"], f"{where} placement")
                    circuits, hemisphere = placement.get("circuits"), placement.get("hemisphere")
                    fields["placement"] = Placement(
                        circuits=None if circuits is None else read_int_list(circuits, f"{where} placement.circuits"),
                        hemisphere=None if hemisphere is None else read_int(hemisphere, f"{where} placement.hemisphere"))
                fields["circuits_per_neuron"] = read_int(meta.get("circuits_per_neuron", 1),
                                                         f"{where} circuits_per_neuron")
        params = {} if model == "input" else self._params(key, node, model, size, meta)
        with _naming(f"NIR node {key!r} ({type(node).__name__})"):
            return Population(name=name, size=size, model=model, params=params, **fields)

    def _params(self, key: str, node: Any, model: str, size: int, meta: Optional[dict]) -> dict[str, Param]:
        """hxgraph parameters from the NIR fields; a stored parameter wins where it agrees with them."""
        _check_reset(key, node)
        derived = _derive(self.nir, key, node, size, self.dt, self.convention)
        stored: dict[str, Param] = {}
        if meta is not None and meta.get("params") is not None:
            where = f"NIR node {key!r}: hxgraph metadata params"
            stored = {k: value_from_json(v, f"{where}.{k}") for k, v in read_object(meta["params"], where).items()}
        params: dict[str, Param] = {}
        for k, values in derived.items():
            chosen = stored.get(k)
            if chosen is None or not _agrees(values, chosen, size):
                chosen = _plain(values)
                old = stored.get(k, MODELS[model].params[k].default)
                if k == "capacitance" and isinstance(old, Mixed):
                    chosen = Mixed(chosen, old.hardware)  # the chip's capacitance setting is no NIR quantity
            params[k] = chosen
        for k in MODELS[model].params:
            if k not in params:
                if k in stored:
                    params[k] = stored[k]
                elif k == "refractory_time":
                    params[k] = 0.0  # NIR neurons have no refractory period
        return params

    # ------------------------------------------------------------------ projections
    def _projections(self, linears: list[str], edges: list[tuple[str, str]], pop_names: Mapping[str, str],
                     sizes: Mapping[str, int]) -> list[Projection]:
        taken: set[str] = set()
        # The mock computes in one dtype: weights hxgraph did not write get the widest dtype among them.
        self.common_dtype = torch.float32
        for index, key in enumerate(linears):
            dtype = self._weight(key).dtype
            self.common_dtype = dtype if index == 0 else torch.promote_types(self.common_dtype, dtype)
        out: list[Projection] = []
        # Stored names first, so that names of new nodes never displace them.
        metas = {key: _node_meta(self.nodes[key], key) for key in linears}
        for key in linears:
            meta = metas[key]
            if meta is not None and meta.get("kind") == "projection" and isinstance(meta.get("name"), str):
                taken.add(meta["name"])
        for key in linears:
            sources, targets = self.pred[key], self.succ[key]
            for end, role in [(e, "source") for e in sources] + [(e, "target") for e in targets]:
                self._check_end(key, end, role)
            if not sources or not targets:
                raise ConversionError(f"NIR node {key!r} ({type(self.nodes[key]).__name__}) has no "
                                      f"{'input' if not sources else 'output'} edge; hxgraph projections connect "
                                      "two populations")
            pairs = [(s, t) for s in sources for t in targets]
            meta = metas[key] if len(pairs) == 1 else None
            if meta is not None and meta.get("kind") != "projection":
                meta = None
            for index, (s, t) in enumerate(pairs):
                if meta is not None:
                    name = meta["name"] if isinstance(meta.get("name"), str) else _claim(_safe_key(key), taken)
                else:
                    name = _claim(_safe_key(key if len(pairs) == 1 else f"{key}_{index}"), taken)
                out.append(self._projection(key, name, pop_names[s], pop_names[t], (sizes[t], sizes[s]), meta))
        # Edges straight from one population into another: one-to-one synapses of weight 1.
        for a, b in edges:
            if a in self.pops and b in self.pops:
                if sizes[a] != sizes[b]:
                    raise ConversionError(f"NIR edge {a!r} → {b!r} joins {sizes[a]} to {sizes[b]} neurons without "
                                          "a Linear node; a direct edge means one-to-one connections, so sizes must "
                                          "match")
                index = torch.arange(sizes[a])
                name = _claim(_safe_key(f"{pop_names[a]}_to_{pop_names[b]}"), taken)
                with _naming(f"NIR edge {a!r} → {b!r}"):
                    out.append(Projection(name=name, source=pop_names[a], target=pop_names[b],
                                          connectivity=Sparse.from_pairs(index, index, sizes[a], sizes[b]),
                                          weight=torch.ones(sizes[a], dtype=self.common_dtype)))
            elif b in self.pops and self.pops[b] == "input":
                raise ConversionError(f"NIR edge {a!r} → {b!r} leads into an Input node; inputs take no edges")
        return out

    def _check_end(self, key: str, end: str, role: str) -> None:
        kind = type(self.nodes[key]).__name__
        if end in self.linears:
            raise ConversionError(f"NIR nodes {key!r} and {end!r} are chained {kind}/Linear nodes; hxgraph "
                                  "projections go from a population straight into a population (multiply the "
                                  "matrices before exporting)")
        if role == "target" and isinstance(self.nodes.get(end), self.nir.Output):
            raise ConversionError(f"NIR node {key!r} ({kind}) feeds the Output {end!r} directly; hxgraph needs a "
                                  "neuron population after every projection (e.g. a CubaLI readout)")
        if end not in self.pops:
            raise ConversionError(f"NIR node {key!r} ({kind}) is connected to {end!r}, which is not a population")
        if role == "target" and self.pops[end] == "input":
            raise ConversionError(f"NIR node {key!r} ({kind}) feeds the Input node {end!r}; inputs take no edges")

    def _weight(self, key: str) -> torch.Tensor:
        """A Linear/Affine node's weight as an (out, in) tensor."""
        array = _numbers(key, self.nodes[key], "weight")
        if array.ndim != 2:
            raise ConversionError(f"NIR node {key!r} has a weight of shape {array.shape}; hxgraph projections need a "
                                  "matrix (out, in)")
        if array.dtype not in (np.float16, np.float32, np.float64):
            array = array.astype(np.float32)
        return torch.from_numpy(np.array(array, copy=True))

    def _projection(self, key: str, name: str, source: str, target: str, shape: tuple[int, int],
                    meta: Optional[dict]) -> Projection:
        weight = self._weight(key)
        if tuple(weight.shape) != shape:
            raise ConversionError(f"NIR node {key!r} has a weight of shape {tuple(weight.shape)}; between {source!r} "
                                  f"and {target!r} it needs (out, in) = {shape}")
        if meta is not None and meta.get("shape") not in (None, list(shape)):
            meta = None
        fields: dict[str, Any] = {}
        connectivity: Any = Dense(shape)
        if meta is None:
            weight = weight.to(self.common_dtype)  # widening: exact
        with _naming(f"NIR node {key!r}: hxgraph metadata"):
            if meta is not None:
                stored_dtype = meta.get("dtype")
                dtype = _DTYPES.get(read_str(stored_dtype, f"NIR node {key!r} dtype")) if stored_dtype is not None \
                    else None
                if dtype is not None and dtype != weight.dtype:
                    narrowed = weight.to(dtype)  # e.g. bfloat16 stored as float32: restore it if that is exact
                    weight = narrowed if torch.equal(narrowed.to(weight.dtype), weight) else weight
                if meta.get("connectivity") == "sparse":
                    connectivity = Sparse(shape, tensor_from_json(meta.get("indices"), f"NIR node {key!r} indices"))
                    off = weight.clone()
                    off[connectivity.targets, connectivity.sources] = 0
                    stray = torch.nonzero(off)
                    if stray.numel():
                        t, s = stray[0].tolist()
                        raise ConversionError(
                            f"NIR node {key!r} has {stray.shape[0]} non-zero weights outside the {connectivity.count} "
                            f"connections its hxgraph metadata lists (first: source {s} → target {t}); connections "
                            "are never dropped: delete the node's 'hxgraph' metadata to import it as dense")
                    weight = weight[connectivity.targets, connectivity.sources].clone()
                fields["receptor"] = read_str(meta.get("receptor", "signed"), f"NIR node {key!r} receptor")
                if meta.get("init") is not None:
                    fields["init"] = initializer_from_json(meta["init"], f"NIR node {key!r} init")
                if meta.get("transform") is not None:
                    fields["transform"] = transform_from_json(meta["transform"], f"NIR node {key!r} transform")
                seed = meta.get("seed")
                fields["seed"] = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
        with _naming(f"NIR node {key!r} ({type(self.nodes[key]).__name__})"):
            return Projection(name=name, source=source, target=target, connectivity=connectivity, weight=weight,
                              **fields)


# =============================================================================== helpers

def _derive(nir: Any, key: str, node: Any, size: int, dt: float, convention: str = "euler") -> dict[str, np.ndarray]:
    """Model values of hxgraph's parameters from a NIR neuron node (see the module docstring)."""
    def field(attr: str) -> np.ndarray:
        if getattr(node, attr, None) is None:  # v_reset left out: NIR's default is 0
            return np.zeros(size)
        array = _numbers(key, node, attr).astype(np.float64)
        if array.size == 1:
            array = np.full(size, float(array.reshape(-1)[0]))
        elif array.size != size:
            raise ConversionError(f"NIR node {key!r}: {attr} has shape {array.shape}; expected ({size},)")
        array = array.reshape(size)
        if not np.all(np.isfinite(array)):
            raise ConversionError(f"NIR node {key!r}: {attr} has non-finite entries; all parameters must be finite")
        return array

    def positive(attr: str, why: str) -> np.ndarray:
        array = field(attr)
        if np.any(array <= 0):
            raise ConversionError(f"NIR node {key!r} ({type(node).__name__}): {attr} must be > 0 for every neuron "
                                  f"(smallest: {array.min():g}); {why}")
        return array

    cuba = isinstance(node, (nir.CubaLIF, nir.CubaLI))
    gain = "hxgraph's input gain dt/C = r·w_in·dt/(tau_mem·tau_syn) must be positive"
    unit = _TIME_UNIT[convention]
    if cuba and convention == "hxtorch":  # hxtorch's from_nir: C = tau_mem / r, w_in ignored
        tau_mem = positive("tau_mem", "time constants are positive") * unit
        tau_syn = positive("tau_syn", "time constants are positive") * unit
        capacitance = tau_mem / positive("r", "hxgraph's input gain dt/C = r·dt/tau_mem must be positive")
    elif cuba:
        tau_mem = positive("tau_mem", "time constants are positive") * unit
        tau_syn = positive("tau_syn", "time constants are positive") * unit
        capacitance = tau_mem * tau_syn / (positive("r", gain) * positive("w_in", gain) * dt)
    else:  # current-free LIF / LI: the synaptic current lasts one step
        tau_mem = positive("tau", "time constants are positive") * unit
        tau_syn = np.full(size, dt)
        capacitance = tau_mem / positive("r", "hxgraph's input gain dt/C = r·dt/tau must be positive")
    params = {"leak": field("v_leak"), "tau_mem": tau_mem, "tau_syn": tau_syn, "capacitance": capacitance}
    if isinstance(node, (nir.CubaLIF, nir.LIF)):
        params["threshold"] = field("v_threshold")
        params["reset"] = field("v_reset")
    return params


def _check_reset(key: str, node: Any) -> None:
    """Refuse neurons whose metadata declares a reset other than 'to v_reset' (the only one the chip has)."""
    metadata = _metadata(node, f"NIR node {key!r}")
    for name in _RESET_KEYS:
        value = _text(metadata.get(name), f"NIR node {key!r}: metadata {name!r}")
        if isinstance(value, str) and value.strip().lower() not in _RESET_TO_VALUE:
            raise ConversionError(f"NIR node {key!r} declares {name} = {value!r} in its metadata; hxgraph neurons "
                                  "(like the chip's) set the membrane to v_reset after a spike, so only a reset "
                                  "to a value (e.g. 'zero') is supported, not a subtractive one")


def _plain(values: np.ndarray) -> Param:
    """One number if all neurons agree, else a per-neuron float64 tensor."""
    if values.size and np.all(values == values[0]):
        return float(values[0])
    return torch.from_numpy(values.astype(np.float64, copy=True))


def _plain_number(value: Any) -> Optional[float]:
    """A metadata entry as a float, if it is a single real number."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    return float(array.reshape(-1)[0]) if value is not None and array.size == 1 and array.dtype.kind == "f" else None


def _agrees(values: np.ndarray, stored: Param, size: int) -> bool:
    """Whether a parameter stored in the metadata has the values derived from the NIR fields."""
    model = model_value(stored)
    if isinstance(model, torch.Tensor) and model.numel() != size:
        return False  # stored for another size: the node was resized since
    return bool(np.allclose(values, _model_array(stored, size), rtol=_RTOL, atol=0.0))


def _integers(value: Any, where: str) -> list[int]:
    """A shape given as an array of whole numbers (floats only when integral: nothing is truncated)."""
    try:
        array = np.asarray(value).reshape(-1)
    except (TypeError, ValueError, OverflowError):
        array = None
    if array is None or value is None or array.dtype.kind not in "iuf" or not np.all(np.isfinite(array)) \
            or np.any(array != np.round(array)):
        raise SerializationError(f"{where}: expected whole numbers; got {describe(value)}")
    return [int(d) for d in array]


def _metadata(obj: Any, where: str) -> dict:
    """The `metadata` dict of a NIR node or graph ({} when it has none)."""
    metadata = getattr(obj, "metadata", None)
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise SerializationError(f"{where}: metadata must be a dict; got {describe(metadata)}")
    return metadata


def _text(value: Any, where: str) -> Any:
    """A string as NIR files hold it (bytes, 0-d arrays) as str; other values unchanged."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    if isinstance(value, bytes):
        try:
            return value.decode("utf8")
        except UnicodeDecodeError:
            raise SerializationError(f"{where}: not valid UTF-8 text (corrupt file?)") from None
    return value


def _numbers(key: str, node: Any, attr: str) -> np.ndarray:
    """A NIR node's array field as a real-valued numpy array, or an error naming node and field."""
    value = getattr(node, attr, None)
    try:
        array = np.asarray(value)
    except (TypeError, ValueError, OverflowError):  # ragged nested lists and the like
        array = None
    where = f"NIR node {key!r} ({type(node).__name__}): {attr}"
    if array is not None and array.dtype.kind == "c":  # well-formed, but nothing hxgraph can express
        raise ConversionError(f"{where} must be an array of real numbers; got complex numbers (hxgraph values are "
                              "real)")
    if array is None or array.dtype.kind not in "biuf":
        raise SerializationError(f"{where} must be an array of real numbers; got {describe(value)}")
    return array


def _node_meta(node: Any, key: str) -> Optional[dict]:
    """A node's hxgraph metadata as a dict, or None when it has none."""
    where = "the NIR graph" if key == "(graph)" else f"NIR node {key!r}"
    raw = _text(_metadata(node, where).get(_KEY), f"{where}: its 'hxgraph' metadata")
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise SerializationError(f"{where}: its 'hxgraph' metadata must be JSON text; got {describe(raw)}")
    try:
        meta = json.loads(raw)
    except RecursionError:
        raise SerializationError(f"{where}: its 'hxgraph' metadata is nested too deeply to read (corrupt file?)") \
            from None
    except ValueError as exc:
        raise SerializationError(f"{where}: its 'hxgraph' metadata is not valid JSON (corrupt file?)") from exc
    if not isinstance(meta, dict):
        raise SerializationError(f"{where}: its 'hxgraph' metadata is not a JSON object (corrupt file?)")
    return meta


def _graph_meta(graph: Any) -> Optional[dict]:
    """The graph-level hxgraph metadata (fields checked), or None for a graph hxgraph did not write."""
    meta = _node_meta(graph, "(graph)")
    if meta is None or meta.get("format") != _FORMAT:
        return None
    where = "the NIR graph's hxgraph metadata"
    version = read_int(meta.get("version"), f"{where}: version", minimum=1)
    if version > _FORMAT_VERSION:
        raise SerializationError(f"this NIR graph carries hxgraph metadata version {describe(version)}, written by "
                                 f"a newer hxgraph; this one reads versions up to {_FORMAT_VERSION}: upgrade hxgraph")
    for field in ("populations", "projections"):
        if field in meta:
            read_str_list(meta[field], f"{where}: {field}")
    if "name" in meta:
        read_str(meta["name"], f"{where}: name")
    if "dt" in meta:
        read_number(meta["dt"], f"{where}: dt")
    if "convention" in meta:
        convention = read_str(meta["convention"], f"{where}: convention")
        if convention not in CONVENTIONS:
            raise SerializationError(f"{where}: unknown convention {convention!r}; known: {known(CONVENTIONS)}")
    return meta


def _checked_graph(nir: Any, graph: Any, where: str) -> tuple[dict, list]:
    """A NIR graph's nodes (a dict of NIR nodes under string keys) and edges (a list of pairs of keys)."""
    nodes, edges = getattr(graph, "nodes", None), getattr(graph, "edges", None)
    if not isinstance(nodes, dict):
        raise SerializationError(f"{where}: nodes must be a dict of NIR nodes; got {describe(nodes)}")
    for key, node in nodes.items():
        if not isinstance(key, str):
            raise SerializationError(f"{where}: node keys must be strings; got {describe(key)}")
        if not isinstance(node, nir.NIRNode):
            raise SerializationError(f"{where}: node {key!r} is not a NIR node; got {describe(node)}")
    if not isinstance(edges, (list, tuple)):
        raise SerializationError(f"{where}: edges must be a list of (source, target) pairs; got {describe(edges)}")
    pairs = []
    for index, edge in enumerate(edges):
        if isinstance(edge, (str, bytes)) or not isinstance(edge, (list, tuple, np.ndarray)) or len(edge) != 2:
            raise SerializationError(f"{where}: edge {index} must be a (source, target) pair of node keys; "
                                     f"got {describe(edge)}")
        a, b = (_text(end, f"{where}: edge {index}") for end in edge)
        if not isinstance(a, str) or not isinstance(b, str):
            raise SerializationError(f"{where}: edge {index} must name its nodes by their string keys; "
                                     f"got ({describe(a)}, {describe(b)})")
        pairs.append((a, b))
    return nodes, pairs


def _flatten(nir: Any, graph: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Nodes and edges with subgraphs inlined (keys 'outer.inner'), their Input/Output nodes bridged over."""
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    entry: dict[str, str] = {}
    exit_: dict[str, str] = {}
    bridges: list[str] = []
    where = f"NIR subgraph {prefix[:-1]!r}" if prefix else "the NIR graph"
    graph_nodes, graph_edges = _checked_graph(nir, graph, where)
    for key, node in graph_nodes.items():
        full = f"{prefix}{key}"
        if isinstance(node, nir.NIRGraph):
            inner, _ = _checked_graph(nir, node, f"NIR subgraph {full!r}")
            inputs = [k for k, n in inner.items() if isinstance(n, nir.Input)]
            outputs = [k for k, n in inner.items() if isinstance(n, nir.Output)]
            if len(inputs) != 1 or len(outputs) != 1:
                raise ConversionError(f"NIR subgraph {full!r} has {len(inputs)} Input and {len(outputs)} Output nodes; "
                                      "hxgraph inlines subgraphs with exactly one of each")
            sub_nodes, sub_edges = _flatten(nir, node, f"{full}.")
            entry[full], exit_[full] = f"{full}.{inputs[0]}", f"{full}.{outputs[0]}"
            bridges += [entry[full], exit_[full]]
            nodes.update(sub_nodes)
            edges += sub_edges
        else:
            nodes[full] = node
    for a, b in graph_edges:
        a, b = f"{prefix}{a}", f"{prefix}{b}"
        edges.append((exit_.get(a, a), entry.get(b, b)))
    for key in bridges:  # a subgraph's own Input/Output nodes only pass signals through
        ins = [a for a, b in edges if b == key]
        outs = [b for a, b in edges if a == key]
        edges = [(a, b) for a, b in edges if key not in (a, b)] + [(a, b) for a in ins for b in outs]
        nodes.pop(key, None)
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise ConversionError(f"NIR edge {a!r} → {b!r} names the node {end!r}, which the graph does not have")
    return nodes, list(dict.fromkeys(edges))


@contextlib.contextmanager
def _naming(where: str, error: Optional[type] = None) -> Iterator[None]:
    """Prefix hxgraph errors raised inside with the NIR node (or graph) being converted (as `error` if given)."""
    try:
        yield
    except ConversionError:
        raise
    except HxGraphError as exc:
        raise (error or type(exc))(f"{where}: {exc}") from None
