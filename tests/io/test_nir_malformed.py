"""Every malformed NIR graph or file is an HxGraphError (a SerializationError naming the node), never a crash.

The property test mutates NIR graphs that `to_nir` made from random hxgraph graphs: fields
replaced by values of the wrong type or shape, nodes and edges removed, added or garbled,
metadata (plain and hxgraph's JSON) corrupted. `from_nir` may succeed or raise an
`HxGraphError`; any other exception fails the test. The file tests cut files short,
including a file another writer left half-written (tests/io/data/half_written.nir, whose
HDF5 superblock points past its end: h5py raises RuntimeError on it).
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hxgraph as hx
from hxgraph.errors import ConversionError, SerializationError

nir = pytest.importorskip("nir")
from hxgraph.io import from_nir, read_nir, to_nir, write_nir  # noqa: E402
from nir_graph_strategies import graphs  # noqa: E402

HALF_WRITTEN = Path(__file__).parent / "data" / "half_written.nir"

GARBAGE = [None, "text", b"bytes", 3, -1.0, float("nan"), float("inf"), [], [1, 2], [[1], [1, 2]], {"a": 1},
           10**400, True, np.zeros((2, 3, 4)), np.zeros(0), np.array(["a", "b"]), np.array([1 + 2j]),
           np.full(3, 1e308), np.ones(1), -np.ones(3), np.zeros((7, 7)), np.array(5.0), np.array([None, 1]),
           np.array([[1, 2], [3, 4]], dtype=np.int64)]
FIELDS = ["weight", "bias", "tau_mem", "tau_syn", "r", "v_leak", "v_threshold", "v_reset", "w_in", "tau",
          "input_type", "output_type", "metadata"]
JSON_GARBAGE = [None, "x", 1.5, -3, 10**400, [], ["x"], [["x"]], {}, {"a": [1]}, True, 1e308, [[[[]]]]]


def garbage():
    # Fresh copies: a mutation must never change the shared examples.
    return st.sampled_from(range(len(GARBAGE))).map(lambda i: GARBAGE[i].copy() if hasattr(GARBAGE[i], "copy")
                                                    else GARBAGE[i])


def _json_object(raw):
    try:
        meta = json.loads(raw)
    except (TypeError, ValueError, RecursionError):
        return None
    return meta if isinstance(meta, dict) else None


@st.composite
def mutated_nir_graphs(draw):
    graph = to_nir(draw(graphs(max_populations=3, max_projections=3)))
    for _ in range(draw(st.integers(1, 3))):
        keys = list(graph.nodes)
        key = draw(st.sampled_from(keys)) if keys else None
        node = graph.nodes.get(key)
        action = draw(st.sampled_from(["field", "shape", "drop node", "drop edge", "add edge", "bad edge",
                                       "bad node", "graph metadata", "hxgraph metadata", "containers"]))
        if action == "field" and isinstance(node, nir.NIRNode):
            setattr(node, draw(st.sampled_from(FIELDS)), draw(garbage()))
        elif action == "shape" and isinstance(node, nir.NIRNode):
            field = draw(st.sampled_from(FIELDS[:9]))
            value = np.asarray(getattr(node, field, None))
            if value.dtype.kind in "iuf":  # wrong shape, right type: (n,), (n, n) or (n, n, n) with n in 0..4
                setattr(node, field, np.resize(value, (draw(st.integers(0, 4)),) * draw(st.integers(1, 3))))
        elif action == "drop node" and key is not None:
            del graph.nodes[key]
        elif action == "drop edge" and graph.edges:
            graph.edges.pop(draw(st.integers(0, len(graph.edges) - 1)))
        elif action == "add edge":
            names = keys + ["nope", ""]
            graph.edges.append((draw(st.sampled_from(names)), draw(st.sampled_from(names))))
        elif action == "bad edge":
            graph.edges.append(draw(st.sampled_from([("a",), 5, ("a", "b", "c"), (1, 2), None, "ab", (b"\xff", "x")])))
        elif action == "bad node" and key is not None:
            graph.nodes[key] = draw(st.sampled_from([5, "x", None, nir.Threshold(threshold=np.ones(2)),
                                                     nir.NIRGraph(nodes={}, edges=[], type_check=False)]))
        elif action == "graph metadata":
            graph.metadata = draw(st.sampled_from([None, "x", {}, {"hxgraph": "[[["}, {"hxgraph": "[" * 5000},
                                                   {"hxgraph": 5}, {"hxgraph": b"\xff"}, {"dt": "x"}, {"dt": [1, 2]},
                                                   {"dt": -1}, {"dt": 10**400}, {"convention": ["x"]}]))
        elif action == "hxgraph metadata":
            owner = graph if draw(st.booleans()) else node
            metadata = getattr(owner, "metadata", None)
            meta = _json_object(metadata.get("hxgraph")) if isinstance(metadata, dict) else None
            if meta is not None:  # (an earlier mutation may have garbled it already)
                field = draw(st.sampled_from(sorted(meta) + ["extra"]))
                if field in meta and draw(st.booleans()):
                    del meta[field]
                else:
                    meta[field] = draw(st.sampled_from(JSON_GARBAGE))
                owner.metadata["hxgraph"] = json.dumps(meta)
        elif action == "containers":
            setattr(graph, draw(st.sampled_from(["nodes", "edges"])), draw(st.sampled_from([None, [], {}, "x", 5])))
            break  # nothing more to mutate inside
    return graph


@settings(max_examples=150, deadline=None)
@given(mutated_nir_graphs())
def test_mutated_nir_graphs_convert_or_are_refused(graph):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. the default time step
            result = from_nir(graph)
    except hx.HxGraphError as error:
        assert str(error)
    else:
        assert isinstance(result, hx.Graph)


def sample():
    return (hx.Experiment("s", seed=0).input("x", 3).lif("h", 4).li("o", 2).dense("x", "h")
            .sparse("h", "o", [[1, 0], [0, 1], [1, 1], [0, 0]]).graph)


@pytest.mark.parametrize("change, message", [
    (lambda g: setattr(g.nodes["h"], "tau_mem", "fast"),
     "NIR node 'h' (CubaLIF): tau_mem must be an array of real numbers; got 'fast'"),
    (lambda g: setattr(g.nodes["x_to_h"], "weight", np.array([[1 + 1j] * 3] * 4)), "complex"),
    (lambda g: setattr(g.nodes["x_to_h"], "weight", np.ones(3)), "projections need a matrix (out, in)"),
    (lambda g: setattr(g.nodes["x"], "input_type", {"input": np.array([2.5])}), "expected whole numbers"),
    (lambda g: setattr(g, "edges", g.edges + [("h",)]), "must be a (source, target) pair of node keys"),
    (lambda g: setattr(g, "nodes", {**g.nodes, "junk": 5}), "node 'junk' is not a NIR node; got 5"),
    (lambda g: setattr(g.nodes["h"], "metadata", "x"), "NIR node 'h': metadata must be a dict"),
    (lambda g: g.nodes["h"].metadata.update(hxgraph=json.dumps({**json.loads(g.nodes["h"].metadata["hxgraph"]),
                                                                "record": [["spikes"]]})),
     "NIR node 'h': hxgraph metadata record[0]: expected a string"),
    (lambda g: g.nodes["h_to_o"].metadata.update(hxgraph=json.dumps(
        {**json.loads(g.nodes["h_to_o"].metadata["hxgraph"]), "dtype": ["float32"]})),
     "NIR node 'h_to_o' dtype: expected a string"),
    (lambda g: g.metadata.update(hxgraph=json.dumps({**json.loads(g.metadata["hxgraph"]), "dt": 10**400})),
     "dt: expected a number within the range of a 64-bit float"),
    (lambda g: g.metadata.update(hxgraph="[" * 100000), "nested too deeply"),
], ids=["string field", "complex weight", "1-d weight", "fractional input size", "edge of one node",
        "node that is not a node", "metadata not a dict", "list in stored record", "list as stored dtype",
        "huge stored dt", "deep metadata"])
def test_each_malformed_nir_graph_is_named(change, message):
    graph = to_nir(sample())
    change(graph)
    with pytest.raises(SerializationError) as info:
        from_nir(graph)
    assert message in str(info.value)


def test_files_cut_short_are_refused(tmp_path):
    path = write_nir(sample(), tmp_path / "whole.nir")
    data = path.read_bytes()
    cut = tmp_path / "cut.nir"
    for length in range(0, len(data), max(1, len(data) // 23)):
        cut.write_bytes(data[:length])
        with pytest.raises(SerializationError, match="cut.nir' is not a readable NIR file"):
            read_nir(cut)


def test_a_half_written_file_is_refused_not_a_runtime_error():
    with pytest.raises(SerializationError, match="half_written.nir' is not a readable NIR file: RuntimeError") as info:
        read_nir(HALF_WRITTEN)
    assert isinstance(info.value.__cause__, RuntimeError)  # what h5py raised, kept as the cause


def test_paths_that_are_not_nir_files(tmp_path):
    for path, message in [(None, "must be a file path (str or os.PathLike); got NoneType"),
                          (tmp_path, "is a directory, not a NIR file"), (tmp_path / "missing.nir", "no NIR file at")]:
        with pytest.raises(SerializationError) as info:
            read_nir(path)
        assert message in str(info.value)
    with pytest.raises(SerializationError, match="is a directory"):
        from_nir(tmp_path)
    with pytest.raises(hx.ParameterError, match="must be a file path"):
        write_nir(sample(), None)


def test_unknown_nodes_stay_conversion_errors():
    graph = to_nir(sample())
    graph.nodes["h"] = nir.Threshold(threshold=np.ones(4))
    with pytest.raises(ConversionError, match="Threshold, which hxgraph cannot express"):
        from_nir(graph)
