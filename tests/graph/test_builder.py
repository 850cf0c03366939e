"""The fluent builder records what it is told, with defaults, generated names and seeded weights."""

import math

import pytest
import torch

import hxgraph as hx


def yinyang(seed=0):
    mask = torch.zeros(120, 3)
    mask[::2, :] = 1
    return (hx.Experiment("yinyang", dt=1e-6, seed=seed)
            .input("x", 5)
            .lif("hidden", 120, tau_mem=6e-6, tau_syn=6e-6, leak=0.0, reset=0.0, threshold=hx.Mixed(1.0, 150))
            .li("out", 3, tau_mem=6e-6, tau_syn=6e-6)
            .dense("x", "hidden", init=hx.init.normal(0.8, 0.25))
            .sparse("hidden", "out", connections=mask))


def test_calls_chain_and_record_populations_and_projections():
    graph = yinyang().graph
    assert list(graph.populations) == ["x", "hidden", "out"]
    assert list(graph.projections) == ["x_to_hidden", "hidden_to_out"]
    hidden = graph.population("hidden")
    assert (hidden.size, hidden.model) == (120, "lif")
    assert hidden.params["tau_mem"] == 6e-6 and hidden.params["leak"] == 0.0
    assert hidden.params["threshold"] == hx.Mixed(1.0, 150.0)
    # unspecified parameters take hxtorch's defaults
    assert hidden.params["refractory_time"] == 1e-6 and hidden.params["alpha"] == 50.0
    assert hidden.params["capacitance"] == hx.Mixed(10e-6, 63.0)
    out = graph.population("out")
    assert set(out.params) == {"leak", "tau_mem", "tau_syn", "capacitance"} and out.params["leak"] == 80.0
    assert out.record == {"membrane", "current"} and hidden.record == {"spikes", "membrane", "current"}


def test_lif_defaults_are_hxtorchs():
    params = hx.Experiment().lif("n", 2).graph.population("n").params
    assert {k: params[k] for k in ("leak", "reset", "threshold", "tau_mem", "tau_syn")} == {
        "leak": 80.0, "reset": 80.0, "threshold": 125.0, "tau_mem": 10e-6, "tau_syn": 10e-6}


def test_dense_weights_have_out_in_shape_and_kaiming_bound():
    graph = hx.Experiment().input("x", 400).lif("h", 30).dense("x", "h").graph
    w = graph.projection("x_to_h").weight
    assert w.shape == (30, 400) and w.dtype == torch.float32
    bound = 1 / math.sqrt(400)
    assert float(w.abs().max()) <= bound
    assert float(w.abs().max()) > 0.9 * bound  # the draw actually spans the range
    assert abs(float(w.mean())) < 0.05 * bound * 10


def test_normal_init_statistics():
    w = hx.Experiment().input("x", 200).lif("h", 100).dense("x", "h", init=hx.init.normal(0.8, 0.25)).graph \
        .projection("x_to_h").weight
    assert abs(float(w.mean()) - 0.8) < 0.01 and abs(float(w.std()) - 0.25) < 0.01


def test_constant_and_uniform_and_from_tensor_init():
    exp = (hx.Experiment().input("x", 4).lif("h", 3)
           .dense("x", "h", name="c", init=hx.init.constant(0.5))
           .dense("x", "h", name="u", init=hx.init.uniform(2.0, 3.0))
           .dense("x", "h", name="t", init=hx.init.from_tensor(torch.arange(12.).reshape(3, 4))))
    g = exp.graph
    assert torch.equal(g.projection("c").weight, torch.full((3, 4), 0.5))
    u = g.projection("u").weight
    assert bool(((u >= 2) & (u < 3)).all())
    assert torch.equal(g.projection("t").weight, torch.arange(12.).reshape(3, 4))


def test_same_seed_same_weights_and_other_seed_other_weights():
    a, b, c = yinyang(1).graph, yinyang(1).graph, yinyang(2).graph
    assert a == b
    assert not torch.equal(a.projection("x_to_hidden").weight, c.projection("x_to_hidden").weight)


def test_adding_a_projection_keeps_the_others_weights():
    a = yinyang(3)
    before = a.graph.projection("x_to_hidden").weight.clone()
    b = hx.Experiment("yinyang", seed=3).input("x", 5).input("y", 2).lif("hidden", 120).dense("y", "hidden") \
        .dense("x", "hidden", init=hx.init.normal(0.8, 0.25))
    assert torch.equal(b.graph.projection("x_to_hidden").weight, before)


def test_generated_names():
    g = (hx.Experiment().input(3).lif(4).lif(5).li(2)
         .dense("input0", "lif0").dense("input0", "lif0").dense("lif0", "lif1").dense("lif1", "li0")).graph
    assert list(g.populations) == ["input0", "lif0", "lif1", "li0"]
    assert list(g.projections) == ["input0_to_lif0", "input0_to_lif0_2", "lif0_to_lif1", "lif1_to_li0"]


def test_recurrent_and_multiple_projections_into_one_population():
    g = (hx.Experiment().input("a", 3).input("b", 2).lif("h", 4).lif("k", 4)
         .dense("a", "h").dense("b", "h").dense("h", "h").dense("h", "k").dense("k", "h")).graph
    assert [p.name for p in g.projections_into("h")] == ["a_to_h", "b_to_h", "h_to_h", "k_to_h"]
    assert g.projection("h_to_h").shape == (4, 4)


def test_per_neuron_parameters_are_kept_exactly():
    taus = [1e-6, 2.5e-6, 3.3e-6]
    p = hx.Experiment().lif("n", 3, tau_mem=taus, leak=torch.tensor([1., 2., 3.])).graph.population("n")
    assert p.params["tau_mem"].dtype == torch.float64 and p.params["tau_mem"].tolist() == taus
    assert p.params["leak"].dtype == torch.float32


def test_fixed_sign_receptors_draw_signed_magnitudes():
    g = (hx.Experiment().input("x", 20).lif("h", 10)
         .dense("x", "h", name="e", receptor="excitatory").dense("x", "h", name="i", receptor="inhibitory")).graph
    assert bool((g.projection("e").weight >= 0).all()) and bool((g.projection("i").weight <= 0).all())


def test_explicit_weights_are_copied_not_aliased():
    w = torch.ones(2, 3)
    g = hx.Experiment().input("x", 3).lif("h", 2).dense("x", "h", weight=w).graph
    w += 1
    assert torch.equal(g.projection("x_to_h").weight, torch.ones(2, 3))
    assert g.projection("x_to_h").seed is None  # not drawn


def test_placement_options():
    g = (hx.Experiment().lif("a", 2, placement="bottom").lif("b", 2, placement=[0, 1, 2, 3], circuits_per_neuron=2)
         .lif("c", 1, placement=hx.Placement(hemisphere=0))).graph
    assert g.population("a").placement == hx.Placement(hemisphere=1)
    assert g.population("b").placement.circuits == (0, 1, 2, 3)
    assert g.population("c").placement.hemisphere == 0


def test_graph_is_shared_not_copied_weights():
    exp = yinyang()
    exp.graph.projection("x_to_hidden").weight.zero_()
    assert float(exp.graph.projection("x_to_hidden").weight.abs().sum()) == 0.0


def test_summary_lists_populations_and_projections():
    text = yinyang().graph.summary()
    for piece in ("hidden", "LIF", "120", "LI", "x_to_hidden", "120 x 5", "dense", "sparse (50.0%)", "180", "signed"):
        assert piece in text, piece


def test_linear_saturating_partial_becomes_serializable_transform():
    import functools
    from hxgraph.graph import LinearSaturating, linear_saturating
    g = hx.Experiment().input("x", 2).lif("h", 2).dense(
        "x", "h", transform=functools.partial(linear_saturating, scale=64.)).graph
    t = g.projection("x_to_h").transform
    assert t == LinearSaturating(scale=64.0)
    assert torch.equal(t(torch.tensor([0.5, 2.0, -3.0])), torch.tensor([32.0, 63.0, -63.0]))
