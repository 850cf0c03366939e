"""Every malformed graph file is an HxGraphError (a SerializationError saying where), never a crash.

The property tests feed random JSON documents and random mutations of valid graph files
(wrong types, missing and extra keys, huge numbers, deep nesting) to `Graph.from_json` and
`Graph.load`: reading may succeed, or fail with an `HxGraphError`; any other exception (a
TypeError from deep inside, a RecursionError, an OverflowError) fails the test.
"""

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hxgraph as hx
from test_json import sample_graph

# Text spliced into the dumped JSON where a mutation put a marker: what json.dumps cannot
# write (numbers beyond the float range, deep nesting, integers too long to parse).
RAW = {
    "@huge_float@": "1e400",
    "@minus_huge_float@": "-1e400",
    "@huge_int@": "1" + "0" * 400,
    "@too_long_int@": "9" * 5000,
    "@nan@": "NaN",
    "@deep_list@": "[" * 3000 + "]" * 3000,
    "@deep_object@": '{"a":' * 3000 + "1" + "}" * 3000,
    "@deep_mixed@": '{"model":' * 50 + "1" + "}" * 50,
}

json_scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.sampled_from([0, 1, -1, 2**63, 10**30])
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
                | st.sampled_from(["lif", "li", "input", "dense", "sparse", "float32", "int64", "normal", "signed",
                                   "linear_saturating", "spikes", "x", "h", "hxgraph.graph", *RAW]))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=6) | st.sampled_from(["kind", "tensor", "name"]),
                                             inner, max_size=4), max_leaves=12)


def splice(text: str) -> str:
    for marker, raw in RAW.items():
        text = text.replace(json.dumps(marker), raw)
    return text


def refused_or_read(text, load_from=None):
    """Read `text` (from a file when `load_from` is a folder); only an HxGraphError may escape."""
    try:
        if load_from is not None:
            path = load_from / "graph.json"
            path.write_text(text, encoding="utf-8")
            return hx.Graph.load(path)
        return hx.Graph.from_json(text)
    except hx.HxGraphError as error:
        assert str(error)  # a message, composed without failing
        return error


# ------------------------------------------------------------------ random documents

@settings(max_examples=150, deadline=None)
@given(json_values)
def test_random_json_documents_are_read_or_refused(document):
    refused_or_read(splice(json.dumps(document)))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["name", "dt", "populations", "projections", "extra"]), json_values),
       st.sampled_from([1, 2, 0, "1", None]))
def test_random_documents_with_a_valid_header_are_read_or_refused(fields, version):
    refused_or_read(splice(json.dumps({"format": "hxgraph.graph", "version": version, **fields})))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40) | st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
def test_random_text_is_refused(text):
    assert isinstance(refused_or_read(text), hx.SerializationError)


# ------------------------------------------------------------------ mutations of valid files

def paths(value, prefix=()):
    """Every position in a JSON document, as a tuple of keys and indices."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, prefix + (index,))


def at(document, path):
    for step in path:
        document = document[step]
    return document


VALID_GRAPHS = [sample_graph(),
                hx.Experiment("tiny").input("x", 2).lif("h", 1).dense("x", "h", init=hx.init.constant(0.5)).graph]
VALID = [json.loads(g.to_json()) for g in VALID_GRAPHS]
POSITIONS = [list(paths(document))[1:] for document in VALID]  # every position but the root


@st.composite
def mutated_files(draw):
    index = draw(st.integers(0, len(VALID) - 1))
    document = json.loads(json.dumps(VALID[index]))  # a deep copy
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(POSITIONS[index]))
        try:
            parent, last = at(document, path[:-1]), path[-1]
            current = parent[last]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this position
        if not isinstance(parent, (dict, list)):
            continue  # ... or replaced its container by a string
        action = draw(st.sampled_from(["replace", "delete", "add", "wrap", "raw"]))
        if action == "replace":
            parent[last] = draw(json_values)
        elif action == "delete":
            del parent[last]
        elif action == "add" and isinstance(current, dict):
            current[draw(st.sampled_from(["extra", "kind", "tensor", "name", "model"]))] = draw(json_values)
        elif action == "add" and isinstance(current, list):
            current.append(draw(json_values))
        elif action == "wrap":
            parent[last] = draw(st.sampled_from([[current], {"tensor": current}, {"model": current, "hardware": 1}]))
        else:
            parent[last] = draw(st.sampled_from(sorted(RAW)))
    return splice(json.dumps(document))


@settings(max_examples=300, deadline=None)
@given(mutated_files())
def test_mutated_graph_files_are_read_or_refused(text):
    refused_or_read(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mutated_files())
def test_mutated_graph_files_load_or_are_refused(tmp_path, text):
    result = refused_or_read(text, load_from=tmp_path)
    if isinstance(result, hx.HxGraphError):
        assert str(tmp_path / "graph.json") in str(result)  # the file is named


# ------------------------------------------------------------------ each kind, with its message

def mutated(change):
    document = json.loads(sample_graph().to_json())
    change(document)
    return json.dumps(document)


CASES = [
    ("list as model", mutated(lambda d: d["populations"][2].update(model=["lif"])),
     "populations[2] ('r').model: expected a string; got a list of 1 item"),
    ("list in record", mutated(lambda d: d["populations"][2].update(record=[["spikes"]])),
     "populations[2] ('r').record[0]: expected a string"),
    ("string as record", mutated(lambda d: d["populations"][2].update(record="spikes")),
     "populations[2] ('r').record: expected a list; got 'spikes'"),
    ("list as dtype", mutated(lambda d: d["projections"][1]["weight"]["tensor"].update(dtype=["float32"])),
     "projections[1] ('h_to_r').weight.tensor.dtype: expected a string"),
    ("list as init kind", mutated(lambda d: d["projections"][1].update(init={"kind": ["normal"]})),
     "projections[1] ('h_to_r').init.kind: expected one of the initializer kinds"),
    ("list as transform kind", mutated(lambda d: d["projections"][1].update(transform={"kind": ["x"]})),
     "projections[1] ('h_to_r').transform.kind: expected one of the transform kinds"),
    ("list as hemisphere", mutated(lambda d: d["populations"][1]["placement"].update(hemisphere=[0])),
     "populations[1] ('h').placement.hemisphere: expected an integer"),
    ("float as size", mutated(lambda d: d["populations"][1].update(size=3.0)),
     "populations[1] ('h').size: expected an integer; got 3.0"),
    ("huge integer parameter", mutated(lambda d: d["populations"][1]["params"].update(leak=10**400)),
     "populations[1] ('h').params.leak: expected a number within the range of a 64-bit float; "
     "got an integer of about 401 digits"),
    ("huge integer init field", mutated(lambda d: d["projections"][1].update(init={"kind": "normal", "mean": -10**400})),
     "projections[1] ('h_to_r').init.mean: expected a number within the range"),
    ("nested Mixed", mutated(lambda d: d["populations"][1]["params"].update(
        leak={"model": {"model": 1, "hardware": 2}, "hardware": 1})),
     "populations[1] ('h').params.leak.model: expected a number or a tensor object"),
    ("unknown initializer field", mutated(lambda d: d["projections"][1].update(
        init={"kind": "normal", "mean": 0, "std": 1, "code": "import os"})),
     "projections[1] ('h_to_r').init: unexpected ['code'] for 'normal'"),
    ("overflowing dt", mutated(lambda d: d.update(dt="@huge_float@")).replace('"@huge_float@"', "1e400"),
     "dt must be a positive, finite number of seconds"),
    ("huge integer dt", mutated(lambda d: d.update(dt=10**400)), "dt: expected a number within the range"),
    ("deep nesting", "[" * 100000, "nested too deeply"),
    ("deep nesting inside", mutated(lambda d: d.update(name="@x@")).replace('"@x@"', "[" * 5000 + "]" * 5000),
     "nested too deeply"),
    ("integer too long to parse", mutated(lambda d: d.update(dt="@x@")).replace('"@x@"', "9" * 5000),
     "not valid JSON"),
]


@pytest.mark.parametrize("text, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_malformed_value_is_named_where_it_is(text, message):
    with pytest.raises(hx.SerializationError) as info:
        hx.Graph.from_json(text)
    assert message in str(info.value)


def test_paths_that_are_not_graph_files(tmp_path):
    for path, message in [(None, "must be a file path (str or os.PathLike); got NoneType"),
                          (3, "got int"), (tmp_path, "is a directory, not a graph file"),
                          (tmp_path / "missing.json", "no graph file at")]:
        with pytest.raises(hx.SerializationError) as info:
            hx.Graph.load(path)
        assert message in str(info.value)
    with pytest.raises(hx.SerializationError, match="expects JSON text"):
        hx.Graph.from_json(None)


def test_placement_circuits_must_be_whole_numbers():
    with pytest.raises(hx.ParameterError, match="non-negative integers; got 1.5"):
        hx.Placement(circuits=(0, 1.5))
    with pytest.raises(hx.ParameterError, match="non-negative integers; got 'a'"):
        hx.Placement(circuits=["a"])
    with pytest.raises(hx.ParameterError, match="sequence of circuit numbers"):
        hx.Placement(circuits=7)
    assert hx.Placement(circuits=np.array([3, 1])).circuits == (3, 1)  # numpy integers are integers


def test_huge_integers_given_in_memory_are_parameter_errors():
    with pytest.raises(hx.ParameterError, match="too large"):
        hx.Experiment().lif("h", 2, leak=10**400)
    with pytest.raises(hx.ParameterError, match="dt must be"):
        hx.Graph("g", dt=10**400)
    with pytest.raises(hx.ParameterError, match="finite number"):
        hx.init.normal(10**400)
    assert math.isinf(float("1e400"))  # what json.loads makes of 1e400
