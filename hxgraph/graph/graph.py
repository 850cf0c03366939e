"""The graph: ordered populations and projections, the time step, and what can be asked of them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Optional, Union

import networkx as nx

from hxgraph.errors import (DuplicateNameError, GraphError, ParameterError, SerializationError,
                            UnknownNameError, did_you_mean, known)
from hxgraph.files import source_path, target_path, write_text
from hxgraph.graph.connectivity import Sparse
from hxgraph.graph.population import Population, check_name
from hxgraph.graph.projection import Projection
from hxgraph.graph.reading import describe
from hxgraph.graph.values import is_finite


def check_dt(dt: Any) -> float:
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or dt <= 0 or not is_finite(dt):
        raise ParameterError("dt must be a positive, finite number of seconds (hardware time, e.g. 1e-6); "
                             f"got {describe(dt)}")
    return float(dt)


def lookup_population(name: Any, populations: Mapping[str, Population], role: str, projection: Optional[str]) -> Population:
    """The population a projection endpoint names, or an error listing the known ones."""
    of = f" of projection {projection!r}" if projection else ""
    if not isinstance(name, str):
        raise ParameterError(f"the {role}{of} must be a population name (str); got {name!r}")
    if name not in populations:
        raise UnknownNameError(f"unknown {role} population {name!r}{of}"
                               f"{did_you_mean(name, populations)}; known populations: {known(populations)}")
    return populations[name]


def check_projection_endpoints(projection: Projection, populations: Mapping[str, Population]) -> None:
    """A projection needs existing endpoints, a spiking source, an on-chip target and matching sizes."""
    source = lookup_population(projection.source, populations, "source", projection.name)
    target = lookup_population(projection.target, populations, "target", projection.name)
    if not source.neuron_model.spiking:
        raise GraphError(f"projection {projection.name!r}: source {source.name!r} is an {source.neuron_model.label} "
                         "population, which does not spike; only input and LIF populations can be sources")
    if target.is_input:
        raise GraphError(f"projection {projection.name!r}: target {target.name!r} is an input population "
                         "(a spike source); projections can only go into LIF or LI populations")
    if projection.shape != (target.size, source.size):
        raise GraphError(f"projection {projection.name!r} has shape (out, in) = {projection.shape}, but "
                         f"{target.name!r} has {target.size} and {source.name!r} has {source.size} neurons")


def _check_name_type(name: Any, kind: str, names: Mapping[str, Any]) -> None:
    if not isinstance(name, str):
        raise UnknownNameError(f"{kind} names are strings; got {name!r} ({type(name).__name__}); known: {known(names)}")


class Graph:
    """An experiment as data: populations (nodes) and projections (keyed edges), plus `dt`.

    Graphs are validated on construction and compare by value. Weight tensors are shared,
    not copied: training a lowered model updates the weights this graph holds.
    """

    def __init__(self, name: str = "experiment", dt: float = 1e-6,
                 populations: Iterable[Population] = (), projections: Iterable[Projection] = ()):
        self._name = check_name(name, "graph")
        self._dt = check_dt(dt)
        self._populations: dict[str, Population] = {}
        for population in populations:
            if not isinstance(population, Population):
                raise GraphError(f"graph {name!r}: populations must be Population objects; got {population!r}")
            if population.name in self._populations:
                raise DuplicateNameError(f"graph {name!r}: two populations are named {population.name!r}")
            self._populations[population.name] = population
        self._projections: dict[str, Projection] = {}
        for projection in projections:
            if not isinstance(projection, Projection):
                raise GraphError(f"graph {name!r}: projections must be Projection objects; got {projection!r}")
            if projection.name in self._projections:
                raise DuplicateNameError(f"graph {name!r}: two projections are named {projection.name!r}")
            check_projection_endpoints(projection, self._populations)
            self._projections[projection.name] = projection

    # ----------------------------------------------------------------- access
    @property
    def name(self) -> str:
        return self._name

    @property
    def dt(self) -> float:
        return self._dt

    @property
    def populations(self) -> Mapping[str, Population]:
        """Populations by name, in creation order (read-only view)."""
        return _ReadOnly(self._populations)

    @property
    def projections(self) -> Mapping[str, Projection]:
        """Projections by name, in creation order (read-only view)."""
        return _ReadOnly(self._projections)

    def population(self, name: str) -> Population:
        _check_name_type(name, "population", self._populations)
        if name not in self._populations:
            raise UnknownNameError(f"graph {self._name!r} has no population {name!r}"
                                   f"{did_you_mean(name, self._populations)}; known: {known(self._populations)}")
        return self._populations[name]

    def projection(self, name: str) -> Projection:
        _check_name_type(name, "projection", self._projections)
        if name not in self._projections:
            raise UnknownNameError(f"graph {self._name!r} has no projection {name!r}"
                                   f"{did_you_mean(name, self._projections)}; known: {known(self._projections)}")
        return self._projections[name]

    @property
    def inputs(self) -> list[Population]:
        """Input (spike source) populations, in creation order."""
        return [p for p in self._populations.values() if p.is_input]

    def projections_into(self, target: str) -> list[Projection]:
        return [p for p in self._projections.values() if p.target == target]

    def projections_from(self, source: str) -> list[Projection]:
        return [p for p in self._projections.values() if p.source == source]

    # ---------------------------------------------------------------- views
    def to_networkx(self) -> nx.MultiDiGraph:
        """Populations as nodes, projections as edges keyed by projection name (specs as attributes)."""
        g = nx.MultiDiGraph(name=self._name, dt=self._dt)
        for pop in self._populations.values():
            g.add_node(pop.name, population=pop, size=pop.size, model=pop.model)
        for proj in self._projections.values():
            g.add_edge(proj.source, proj.target, key=proj.name, projection=proj,
                       connectivity=proj.connectivity.kind, connections=proj.connection_count,
                       receptor=proj.receptor)
        return g

    def summary(self) -> str:
        """A readable table of populations and projections."""
        lines = [f"Graph {self._name!r}: dt = {self._dt:g} s, {len(self._populations)} populations, "
                 f"{len(self._projections)} projections"]
        pop_rows = [("population", "model", "size", "circuits/neuron", "placement", "records")]
        for p in self._populations.values():
            placement = "" if p.placement is None else (
                f"hemisphere {p.placement.hemisphere}" if p.placement.hemisphere is not None
                else f"{len(p.placement.circuits)} circuits")
            pop_rows.append((p.name, p.neuron_model.label, str(p.size),
                             "-" if p.is_input else str(p.circuits_per_neuron), placement or "-",
                             ", ".join(sorted(p.record))))
        proj_rows = [("projection", "source -> target", "shape (out x in)", "connectivity", "connections", "receptor")]
        for p in self._projections.values():
            density = p.connection_count / (p.shape[0] * p.shape[1])
            proj_rows.append((p.name, f"{p.source} -> {p.target}", f"{p.shape[0]} x {p.shape[1]}",
                              p.connectivity.kind if not p.is_sparse else f"sparse ({density:.1%})",
                              str(p.connection_count), p.receptor))
        lines += ["", *_table(pop_rows)]
        if self._projections:
            lines += ["", *_table(proj_rows)]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<hxgraph.Graph {self._name!r}: {len(self._populations)} populations, "
                f"{len(self._projections)} projections, dt={self._dt:g}>")

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """Jupyter: the summary as tables, and a drawing (hxgraph.viz loads only when a notebook shows one)."""
        from hxgraph.viz.notebook import graph_html
        return graph_html(self)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Graph) and self._name == other._name and self._dt == other._dt
                and list(self._populations.values()) == list(other._populations.values())
                and list(self._projections.values()) == list(other._projections.values()))

    __hash__ = None  # type: ignore[assignment]  # graphs hold mutable weight tensors

    # ------------------------------------------------------------- identity
    def structure_hash(self) -> str:
        """A hex digest of everything that decides placement and routing, but not weight values.

        Covered: population names, models, sizes, circuits per neuron, placement constraints;
        projection names, endpoints, connectivity (every pair of a sparse projection) and
        receptors. Not covered: weights, neuron parameters, recording, dt, the graph name.
        """
        populations, projections = tuple(self._populations.values()), tuple(self._projections.values())
        # The JSON of each (frozen) population and projection, kept while the graph holds the same objects
        # (the chip in the loop asks several times per step); a sparse projection's pairs are read every time.
        cached = getattr(self, "_structure_parts", None)
        if (cached is None or len(cached[0]) != len(populations) or len(cached[1]) != len(projections)
                or not all(a is b for a, b in zip(cached[0] + cached[1], populations + projections))):
            parts = []
            for p in populations:
                placement = None if p.placement is None else p.placement.to_json()
                parts.append(json.dumps(["population", p.name, p.model, p.size, p.circuits_per_neuron,
                                         placement]).encode())
            for p in projections:
                parts.append(json.dumps(["projection", p.name, p.source, p.target, p.receptor,
                                         p.connectivity.kind, list(p.shape)]).encode())
            cached = self._structure_parts = (populations, projections, parts)
        h = hashlib.sha256(b"hxgraph-structure-v1")
        for part in cached[2][:len(populations)]:
            h.update(part)
        for p, part in zip(projections, cached[2][len(populations):]):
            h.update(part)
            if isinstance(p.connectivity, Sparse):
                h.update(p.connectivity.indices.contiguous().numpy().astype("<i8").tobytes())
        return h.hexdigest()

    # ----------------------------------------------------------------- JSON
    def project_signs_(self) -> int:
        """The chip's sign constraint on every fixed-sign projection, in place (`Projection.project_sign_`)."""
        return sum(p.project_sign_() for p in self._projections.values())

    def to_dict(self) -> dict:
        from hxgraph.graph.serialize import graph_to_dict
        return graph_to_dict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "Graph":
        from hxgraph.graph.serialize import graph_from_dict
        return graph_from_dict(data)

    def to_json(self, indent: Optional[int] = None) -> str:
        """Exact JSON text: structure, parameters and weights (bit-exact) with a format version."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: Union[str, bytes]) -> "Graph":
        """Read `to_json` output; never executes anything from the text.

        Anything that is not such output (invalid JSON, wrong types or values, a structure
        nested too deeply to parse) raises `SerializationError` saying where and what.
        """
        if not isinstance(text, (str, bytes, bytearray)):
            raise SerializationError(f"Graph.from_json expects JSON text (str or bytes); got {type(text).__name__}")
        try:
            data = json.loads(text)
        except RecursionError:
            raise SerializationError("not an hxgraph graph: the JSON is nested too deeply to read "
                                     "(corrupt or hostile file?)") from None
        except UnicodeDecodeError as exc:
            raise SerializationError(f"not valid JSON: {exc}") from exc
        except ValueError as exc:  # JSONDecodeError, and integers too long to convert
            raise SerializationError(f"not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    def save(self, path: Union[str, Path], indent: Optional[int] = None) -> Path:
        """Write the graph's JSON to `path` (returns the path).

        The file is replaced atomically: if writing fails part way (disk full, an error),
        a previous file at `path` stays as it was and no partial file is left behind.
        """
        target = target_path(path, "Graph.save: the path")
        write_text(target, self.to_json(indent=indent))
        return target

    @classmethod
    def load(cls, path: Union[str, Path]) -> "Graph":
        """Read a graph written by `save`; a file that is not one raises `SerializationError`."""
        path = source_path(path, "Graph.load: the path", "a graph file")
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SerializationError(f"no graph file at {str(path)!r}") from None
        except UnicodeDecodeError as exc:
            raise SerializationError(f"{str(path)!r} is not a UTF-8 text file (not an hxgraph JSON graph?)") from exc
        try:
            return cls.from_json(text)
        except SerializationError as exc:
            raise SerializationError(f"{str(path)!r}: {exc}") from exc


class _ReadOnly(Mapping):
    """A read-only, ordered view of a dict."""

    def __init__(self, data: dict):
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"{{{', '.join(map(repr, self._data))}}}"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return out
