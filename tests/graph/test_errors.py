"""Every bad input raises an hxgraph error at the offending call, naming the call, the value and what is valid."""

import math

import pytest
import torch

import hxgraph as hx


def base():
    return hx.Experiment("e").input("x", 3).lif("h", 4).li("out", 2)


CASES = [
    # (id, action, error type, fragments the message must contain)
    ("unknown source", lambda: base().dense("y", "h"), hx.UnknownNameError,
     ["Experiment.dense('y', 'h')", "unknown source population 'y'", "'x', 'h', 'out'"]),
    ("unknown target with suggestion", lambda: base().dense("x", "hh"), hx.UnknownNameError,
     ["unknown target population 'hh'", "did you mean 'h'?"]),
    ("duplicate population", lambda: base().lif("h", 2), hx.DuplicateNameError,
     ["Experiment.lif('h', 2)", "'h' already exists"]),
    ("duplicate projection", lambda: base().dense("x", "h", name="p").dense("x", "h", name="p"),
     hx.DuplicateNameError, ["projection named 'p' already exists"]),
    ("zero size", lambda: base().lif("z", 0), hx.GraphError, ["size of population 'z'", ">= 1", "got 0"]),
    ("float size", lambda: base().lif("z", 2.5), hx.GraphError, ["must be an integer", "2.5"]),
    ("missing size", lambda: base().lif("z"), hx.ParameterError, ["missing the population size"]),
    ("bad name", lambda: base().lif("a.b", 2), hx.GraphError, ["without dots", "'a.b'"]),
    ("unknown parameter", lambda: base().lif("z", 2, treshold=1.0), hx.UnknownNameError,
     ["unknown LIF parameter 'treshold'", "did you mean 'threshold'?", "valid parameters: leak"]),
    ("LI has no threshold", lambda: base().li("z", 2, threshold=1.0), hx.UnknownNameError,
     ["unknown LI parameter 'threshold'"]),
    ("input has no parameters", lambda: base().input("z", 2, record="membrane"), hx.UnknownNameError,
     ["cannot record 'membrane'", "it can record: 'spikes'"]),
    ("negative time constant", lambda: base().lif("z", 2, tau_syn=-1e-6), hx.ParameterError,
     ["'tau_syn'", "must be > 0", "-1e-06"]),
    ("negative refractory time", lambda: base().lif("z", 2, refractory_time=-1.0), hx.ParameterError,
     ["'refractory_time'", ">= 0"]),
    ("NaN parameter", lambda: base().lif("z", 2, leak=math.nan), hx.ParameterError, ["'leak'", "finite"]),
    ("per-neuron parameter of wrong length", lambda: base().lif("z", 3, leak=[1.0, 2.0]), hx.ShapeError,
     ["shape (2,)", "(3,)"]),
    ("tuple instead of Mixed", lambda: base().lif("z", 3, threshold=(1.0, 150)), hx.ParameterError,
     ["hxgraph.Mixed(model, hardware)"]),
    ("LI cannot record spikes", lambda: base().li("z", 2, record=["spikes"]), hx.UnknownNameError,
     ["cannot record 'spikes'"]),
    ("projection into an input", lambda: base().dense("h", "x"), hx.GraphError,
     ["target 'x' is an input population"]),
    ("projection from a non-spiking LI", lambda: base().dense("out", "h"), hx.GraphError,
     ["source 'out' is an LI population", "does not spike"]),
    ("connections of the wrong shape", lambda: base().sparse("x", "h", torch.ones(4, 3)), hx.ShapeError,
     ["connections have shape (4, 3)", "(in, out) = (3, 4)", "transposed"]),
    ("connections with NaN", lambda: base().sparse("x", "h", torch.full((3, 4), math.nan)), hx.GraphError,
     ["NaN"]),
    ("connections with no connection", lambda: base().sparse("x", "h", torch.zeros(3, 4)), hx.GraphError,
     ["at least one connection"]),
    ("NaN weights", lambda: base().dense("x", "h", weight=torch.full((4, 3), math.nan)), hx.WeightError,
     ["12 NaN or infinite", "finite"]),
    ("weights of the wrong shape", lambda: base().dense("x", "h", weight=torch.zeros(3, 4)), hx.ShapeError,
     ["has shape (3, 4)", "expected (4, 3)"]),
    ("sparse weight off the connections", lambda: base().sparse("x", "h", torch.eye(3, 4), weight=torch.ones(4, 3)),
     hx.WeightError, ["where there is no connection"]),
    ("negative weight on excitatory receptor", lambda: base().dense("x", "h", receptor="excitatory",
                                                                    weight=-torch.ones(4, 3)),
     hx.WeightError, ["negative entries", "'excitatory'"]),
    ("unknown receptor", lambda: base().dense("x", "h", receptor="excitory"), hx.ParameterError,
     ["unknown receptor 'excitory'", "did you mean 'excitatory'?"]),
    ("weight and init both", lambda: base().dense("x", "h", weight=torch.zeros(4, 3), init=hx.init.constant(1)),
     hx.ParameterError, ["either weight=... or init=..."]),
    ("bad init parameter", lambda: hx.init.normal(0.0, -1.0), hx.ParameterError, ["std must be >= 0"]),
    ("non-callable transform", lambda: base().dense("x", "h", transform=3), hx.ParameterError,
     ["transform must be callable"]),
    ("negative dt", lambda: hx.Experiment("e", dt=-1e-6), hx.ParameterError, ["Experiment('e', dt=-1e-06",
                                                                              "dt must be a positive"]),
    ("unknown hemisphere name", lambda: base().lif("k", 1, placement="left"), hx.GraphError,
     ["'left' is not a hemisphere"]),
    ("placement with the wrong number of circuits", lambda: base().lif("k", 2, placement=[0, 1, 2]),
     hx.GraphError, ["lists 3 circuits", "need 2"]),
    ("graph lookup of unknown population", lambda: base().graph.population("hiden"), hx.UnknownNameError,
     ["no population 'hiden'"]),
]


@pytest.mark.parametrize("action, error, fragments", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_a_clear_error(action, error, fragments):
    with pytest.raises(error) as info:
        action()
    assert isinstance(info.value, hx.HxGraphError)
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_at_least_fifteen_distinct_bad_inputs_are_covered():
    assert len(CASES) >= 15


def test_a_failed_call_leaves_the_experiment_unchanged():
    exp = base()
    before = exp.graph
    with pytest.raises(hx.HxGraphError):
        exp.dense("x", "h", weight=torch.full((4, 3), math.nan))
    with pytest.raises(hx.HxGraphError):
        exp.lif("bad", 2, tau_mem=0.0)
    assert exp.graph == before
