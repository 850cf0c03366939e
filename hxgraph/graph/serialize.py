"""Graph ⇄ plain JSON-able dict, exact (floats by repr, tensors as base64 bytes).

Loading builds every object through its validating constructor, so a hand-edited or
corrupt file fails with a message naming the entry, never with a half-built graph.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, TypeVar

from hxgraph.errors import GraphError, SerializationError
from hxgraph.graph.connectivity import Dense, Sparse
from hxgraph.graph.population import Placement, Population, check_name
from hxgraph.graph.projection import Projection
from hxgraph.graph.reading import (describe, expect_keys, read_int, read_int_list, read_list, read_number,
                                   read_object, read_str, read_str_list)
from hxgraph.graph.values import tensor_from_json, tensor_to_json, value_from_json, value_to_json
from hxgraph.graph.weights import initializer_from_json, transform_from_json, transform_to_json

FORMAT = "hxgraph.graph"
FORMAT_VERSION = 1

T = TypeVar("T")


def graph_to_dict(graph: Any) -> dict:
    """The graph as plain data. Refuses (naming the projection) what `graph_from_dict` would refuse,
    and applies the sign constraint first, as every use of the weights does (`project_sign_`)."""
    for proj in graph.projections.values():
        proj.check_storable()
    graph.project_signs_()
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
    from hxgraph.graph.graph import Graph, check_dt

    if not isinstance(data, dict):
        raise SerializationError(f"expected a JSON object with format {FORMAT!r}; got {describe(data)}")
    if data.get("format") != FORMAT:
        raise SerializationError(f"not an hxgraph graph: 'format' is {describe(data.get('format'))}, "
                                 f"expected {FORMAT!r}")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SerializationError(f"'version' must be a positive integer; got {describe(version)}")
    if version > FORMAT_VERSION:
        raise SerializationError(f"this file has graph format version {describe(version)}, written by a newer "
                                 f"hxgraph; this hxgraph reads versions up to {FORMAT_VERSION}: upgrade hxgraph to "
                                 "read it")
    expect_keys(data, {"format", "version", "name", "dt", "populations", "projections"}, "graph")
    name = _checked("name", check_name, read_str(data["name"], "name"), "graph")
    dt = _checked("dt", check_dt, read_number(data["dt"], "dt"))
    populations = [_entry(f"populations[{i}]", item, _population_from_dict)
                   for i, item in enumerate(read_list(data["populations"], "populations"))]
    projections = [_entry(f"projections[{i}]", item, _projection_from_dict)
                   for i, item in enumerate(read_list(data["projections"], "projections"))]
    try:
        return Graph(name, dt, populations, projections)
    except GraphError as exc:
        raise SerializationError(f"graph is inconsistent: {exc}") from exc


def _checked(where: str, check: Callable[..., T], *args: Any) -> T:
    """`check(*args)`, its error prefixed with where the value is in the file."""
    try:
        return check(*args)
    except GraphError as exc:
        message = str(exc)
        raise SerializationError(message if message.startswith(where) else f"{where}: {message}") from exc


def _entry(where: str, item: Any, build: Callable[[dict, str], T]) -> T:
    item = read_object(item, where)
    label = f"{where} ({item['name']!r})" if isinstance(item.get("name"), str) else where
    try:
        return build(item, label)
    except SerializationError:
        raise
    except GraphError as exc:
        raise SerializationError(f"{label}: {exc}") from exc


def _population_from_dict(item: dict, where: str) -> Population:
    expect_keys(item, {"name", "size", "model", "params", "record", "placement", "circuits_per_neuron"}, where)
    params = read_object(item["params"], f"{where}.params")
    return Population(
        name=read_str(item["name"], f"{where}.name"), size=read_int(item["size"], f"{where}.size"),
        model=read_str(item["model"], f"{where}.model"),
        params={k: value_from_json(v, f"{where}.params.{k}") for k, v in params.items()},
        record=frozenset(read_str_list(item["record"], f"{where}.record")),
        placement=_placement_from_dict(item["placement"], f"{where}.placement"),
        circuits_per_neuron=read_int(item["circuits_per_neuron"], f"{where}.circuits_per_neuron"))


def _placement_from_dict(placement: Any, where: str) -> Optional[Placement]:
    if placement is None:
        return None
    placement = read_object(placement, where)
    expect_keys(placement, {"circuits", "hemisphere"}, where)
    circuits, hemisphere = placement["circuits"], placement["hemisphere"]
    return Placement(circuits=None if circuits is None else tuple(read_int_list(circuits, f"{where}.circuits")),
                     hemisphere=None if hemisphere is None else read_int(hemisphere, f"{where}.hemisphere"))


def _projection_from_dict(item: dict, where: str) -> Projection:
    expect_keys(item, {"name", "source", "target", "connectivity", "receptor", "weight", "init",
                       "transform", "seed"}, where)
    seed = item["seed"]
    return Projection(
        name=read_str(item["name"], f"{where}.name"), source=read_str(item["source"], f"{where}.source"),
        target=read_str(item["target"], f"{where}.target"),
        connectivity=_connectivity_from_dict(item["connectivity"], f"{where}.connectivity"),
        weight=tensor_from_json(item["weight"], f"{where}.weight"),
        receptor=read_str(item["receptor"], f"{where}.receptor"),
        init=None if item["init"] is None else initializer_from_json(item["init"], f"{where}.init"),
        transform=transform_from_json(item["transform"], f"{where}.transform"),
        seed=None if seed is None else read_int(seed, f"{where}.seed"))


def _connectivity_from_dict(conn: Any, where: str) -> Any:
    conn = read_object(conn, where)
    kind = conn.get("kind")
    if kind not in ("dense", "sparse"):
        raise SerializationError(f"{where}.kind: expected 'dense' or 'sparse'; got {describe(kind)}")
    shape = conn.get("shape")
    if not (isinstance(shape, list) and len(shape) == 2
            and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)):
        raise SerializationError(f"{where}.shape: expected two positive integers [out, in]; got {describe(shape)}")
    if kind == "dense":
        expect_keys(conn, {"kind", "shape"}, where)
        return Dense((shape[0], shape[1]))
    expect_keys(conn, {"kind", "shape", "indices"}, where)
    return Sparse((shape[0], shape[1]), tensor_from_json(conn["indices"], f"{where}.indices"))
