"""Graph ⇄ plain JSON-able dict, exact (floats by repr, tensors as base64 bytes).

Loading builds every object through its validating constructor, so a hand-edited or
corrupt file fails with a message naming the entry, never with a half-built graph.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from hxgraph.errors import GraphError, SerializationError
from hxgraph.graph.connectivity import Dense, Sparse
from hxgraph.graph.population import Placement, Population
from hxgraph.graph.projection import Projection
from hxgraph.graph.values import tensor_from_json, tensor_to_json, value_from_json, value_to_json
from hxgraph.graph.weights import initializer_from_json, transform_from_json, transform_to_json

FORMAT = "hxgraph.graph"
FORMAT_VERSION = 1

T = TypeVar("T")


def graph_to_dict(graph: Any) -> dict:
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "name": graph.name,
        "dt": graph.dt,
        "populations": [_population_to_dict(p) for p in graph.populations.values()],
        "projections": [_projection_to_dict(p) for p in graph.projections.values()],
    }


def _population_to_dict(pop: Population) -> dict:
    return {
        "name": pop.name,
        "size": pop.size,
        "model": pop.model,
        "params": {k: value_to_json(v) for k, v in pop.params.items()},
        "record": sorted(pop.record),
        "placement": None if pop.placement is None else pop.placement.to_json(),
        "circuits_per_neuron": pop.circuits_per_neuron,
    }


def _projection_to_dict(proj: Projection) -> dict:
    connectivity: dict = {"kind": proj.connectivity.kind, "shape": list(proj.shape)}
    if isinstance(proj.connectivity, Sparse):
        connectivity["indices"] = tensor_to_json(proj.connectivity.indices)
    return {
        "name": proj.name,
        "source": proj.source,
        "target": proj.target,
        "connectivity": connectivity,
        "receptor": proj.receptor,
        "weight": tensor_to_json(proj.weight),
        "init": None if proj.init is None else proj.init.to_json(),
        "transform": transform_to_json(proj.transform, f"projection {proj.name!r}"),
        "seed": proj.seed,
    }


def graph_from_dict(data: Any) -> Any:
    from hxgraph.graph.graph import Graph

    if not isinstance(data, dict):
        raise SerializationError(f"expected a JSON object with format {FORMAT!r}; got {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise SerializationError(f"not an hxgraph graph: 'format' is {data.get('format')!r}, expected {FORMAT!r}")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SerializationError(f"'version' must be a positive integer; got {version!r}")
    if version > FORMAT_VERSION:
        raise SerializationError(f"this file has graph format version {version}, written by a newer hxgraph; "
                                 f"this hxgraph reads versions up to {FORMAT_VERSION}: upgrade hxgraph to read it")
    _expect_keys(data, {"format", "version", "name", "dt", "populations", "projections"}, "graph")
    populations = [_entry(f"populations[{i}]", item, _population_from_dict)
                   for i, item in enumerate(_list(data["populations"], "populations"))]
    projections = [_entry(f"projections[{i}]", item, _projection_from_dict)
                   for i, item in enumerate(_list(data["projections"], "projections"))]
    try:
        return Graph(data["name"], data["dt"], populations, projections)
    except GraphError as exc:
        raise SerializationError(f"graph is inconsistent: {exc}") from exc


def _entry(where: str, item: Any, build: Callable[[dict, str], T]) -> T:
    if not isinstance(item, dict):
        raise SerializationError(f"{where}: expected an object; got {type(item).__name__}")
    label = f"{where} ({item['name']!r})" if isinstance(item.get("name"), str) else where
    try:
        return build(item, label)
    except SerializationError:
        raise
    except GraphError as exc:
        raise SerializationError(f"{label}: {exc}") from exc


def _population_from_dict(item: dict, where: str) -> Population:
    _expect_keys(item, {"name", "size", "model", "params", "record", "placement", "circuits_per_neuron"}, where)
    params = item["params"]
    if not isinstance(params, dict):
        raise SerializationError(f"{where}: 'params' must be an object")
    placement = item["placement"]
    if placement is not None:
        if not isinstance(placement, dict):
            raise SerializationError(f"{where}: 'placement' must be an object or null")
        _expect_keys(placement, {"circuits", "hemisphere"}, f"{where}.placement")
        circuits = placement["circuits"]
        placement = Placement(circuits=None if circuits is None else tuple(_list(circuits, f"{where}.placement.circuits")),
                              hemisphere=placement["hemisphere"])
    return Population(
        name=item["name"], size=item["size"], model=item["model"],
        params={k: value_from_json(v, f"{where}.params.{k}") for k, v in params.items()},
        record=frozenset(_list(item["record"], f"{where}.record")),
        placement=placement, circuits_per_neuron=item["circuits_per_neuron"])


def _projection_from_dict(item: dict, where: str) -> Projection:
    _expect_keys(item, {"name", "source", "target", "connectivity", "receptor", "weight", "init",
                        "transform", "seed"}, where)
    conn = item["connectivity"]
    if not isinstance(conn, dict) or conn.get("kind") not in ("dense", "sparse"):
        raise SerializationError(f"{where}: 'connectivity' must be an object with kind 'dense' or 'sparse'")
    shape = conn.get("shape")
    if not (isinstance(shape, list) and len(shape) == 2
            and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)):
        raise SerializationError(f"{where}: connectivity shape must be two positive integers [out, in]; got {shape!r}")
    if conn["kind"] == "dense":
        _expect_keys(conn, {"kind", "shape"}, f"{where}.connectivity")
        connectivity: Any = Dense((shape[0], shape[1]))
    else:
        _expect_keys(conn, {"kind", "shape", "indices"}, f"{where}.connectivity")
        connectivity = Sparse((shape[0], shape[1]), tensor_from_json(conn["indices"], f"{where}.connectivity.indices"))
    seed = item["seed"]
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise SerializationError(f"{where}: 'seed' must be an integer or null; got {seed!r}")
    return Projection(
        name=item["name"], source=item["source"], target=item["target"], connectivity=connectivity,
        weight=tensor_from_json(item["weight"], f"{where}.weight"), receptor=item["receptor"],
        init=None if item["init"] is None else initializer_from_json(item["init"], f"{where}.init"),
        transform=transform_from_json(item["transform"], f"{where}.transform"), seed=seed)


def _expect_keys(obj: dict, keys: set, where: str) -> None:
    missing, extra = keys - set(obj), set(obj) - keys
    if missing:
        raise SerializationError(f"{where}: missing {sorted(missing)}")
    if extra:
        raise SerializationError(f"{where}: unexpected {sorted(extra)} (expected exactly {sorted(keys)})")


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise SerializationError(f"{where}: expected a list; got {type(value).__name__}")
    return value
