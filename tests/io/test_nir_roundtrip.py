"""hxgraph ⇄ NIR: exact round trips, the unit conversion against NIR's equations, foreign graphs and errors."""

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings

import hxgraph as hx
from hxgraph.errors import ConversionError, SerializationError

nir = pytest.importorskip("nir", reason="NIR support is optional: pip install 'hxgraph[nir]'")
from hxgraph.io import from_nir, read_nir, to_nir, write_nir  # noqa: E402
from nir_graph_strategies import graphs  # noqa: E402


def assert_same(a: hx.Graph, b: hx.Graph) -> None:
    """Equal graphs, equal structure hash, and weights equal bit for bit (dtype included)."""
    assert b.structure_hash() == a.structure_hash()
    for name, proj in a.projections.items():
        wa, wb = proj.weight, b.projection(name).weight
        assert wa.dtype == wb.dtype and wa.shape == wb.shape
        assert torch.equal(wa.view(torch.uint8), wb.view(torch.uint8)), name
    assert b == a


def sample_graph() -> hx.Graph:
    mask = torch.zeros(6, 3)
    mask[[0, 2, 5], [1, 0, 2]] = 1
    return (hx.Experiment("sample", dt=0.5e-6, seed=11)
            .input("x", 6).input("y/2", 2)
            .lif("h", 3, threshold=hx.Mixed(1.0, 150), tau_mem=[1e-6, 2e-6, 3.3e-6], placement="top")
            .lif("r", 2, placement=[4, 260, 5, 261], circuits_per_neuron=2, record=["spikes"])
            .li("o", 2, leak=hx.Mixed(torch.tensor([0.5, 0.25], dtype=torch.float32), 80))
            .lif("idle", 2)
            .sparse("x", "h", mask, receptor="excitatory")
            .dense("y/2", "h", transform=hx.transforms.LinearSaturating(scale=32.0))
            .dense("h", "r", init=hx.init.normal(0.8, 0.25))
            .dense("r", "r", weight=torch.tensor([[0.1, -0.2], [1e-30, 3.0]]))
            .dense("r", "o", init=hx.init.from_tensor(torch.tensor([[1.0, 2.0], [3.0, 4.0]])))
            .dense("h", "o", name="h_to_o_again")
            ).graph


# ------------------------------------------------------------------------- round trip

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_round_trip_is_exact_for_random_graphs(graph):
    assert_same(graph, from_nir(to_nir(graph)))
    with tempfile.TemporaryDirectory() as tmp:
        assert_same(graph, read_nir(write_nir(graph, Path(tmp) / "g.nir")))


def test_round_trip_through_a_file(tmp_path):
    g = sample_graph()
    path = write_nir(g, tmp_path / "sample.nir")
    assert_same(g, read_nir(path))
    assert_same(g, from_nir(str(path)))  # a path works as well
    assert nir.read(path).nodes  # a plain NIR reader (with its type checks) accepts the file


def test_export_structure_is_plain_nir():
    g = sample_graph()
    n = to_nir(g)
    kinds = {key: type(node).__name__ for key, node in n.nodes.items()}
    assert kinds["x"] == "Input" and kinds["y_2"] == "Input"  # '/' cannot be in an HDF5 group name
    assert kinds["h"] == kinds["r"] == kinds["idle"] == "CubaLIF" and kinds["o"] == "CubaLI"
    assert all(kinds[p] == "Linear" for p in ["x_to_h", "y_2_to_h", "h_to_r", "r_to_r", "r_to_o", "h_to_o_again"])
    # Populations without outgoing projections end in Output nodes; NIR adds an Input before 'idle'.
    assert {(a, b) for a, b in n.edges if kinds[b] == "Output"} == {("o", "output_o"), ("idle", "output_idle")}
    assert ("input_idle", "idle") in n.edges
    # Sparse projections are dense Linear matrices with zeros off the connections.
    w = n.nodes["x_to_h"].weight
    assert w.shape == (3, 6) and np.count_nonzero(w) <= 3
    np.testing.assert_array_equal(w, g.projection("x_to_h").dense_weight().numpy())
    assert n.nodes["h"].v_threshold.tolist() == [1.0, 1.0, 1.0]  # model value of Mixed(1.0, 150)
    assert n.metadata["dt"] == 0.5e-6
    extra = to_nir(g, outputs=["h"])
    assert ("h", "output_h") in extra.edges
    with pytest.raises(hx.UnknownNameError, match="did you mean 'h'"):
        to_nir(g, outputs=["hh"])


def test_recurrent_graph_without_inputs_round_trips():
    g = (hx.Experiment("loop").lif("a", 3, leak=130.0).dense("a", "a", init=hx.init.constant(0.5))).graph
    assert_same(g, from_nir(to_nir(g)))


# ---------------------------------------------------------------- unit conversion

def nir_euler(n, inputs, steps):
    """Forward Euler of NIR's CubaLIF/CubaLI equations with 0/1 spikes per step, nodes in topological order.

    This is what a NIR consumer integrating at the same dt computes; hxgraph's mock must agree.
    """
    dt = float(n.metadata["dt"])
    order = [k for k, node in n.nodes.items() if isinstance(node, (nir.CubaLIF, nir.CubaLI))]
    state = {k: (n.nodes[k].v_leak.copy(), np.zeros_like(n.nodes[k].v_leak)) for k in order}
    out = {k: {"v": [], "z": []} for k in order}
    for t in range(steps):
        spikes = {k: x[t] for k, x in inputs.items()}
        for k in order:
            node = n.nodes[k]
            s = sum(n.nodes[lin].weight @ spikes[src] for src, lin in n.edges if lin in n.nodes and
                    isinstance(n.nodes[lin], nir.Linear) and (lin, k) in n.edges)
            v, i = state[k]
            v_new = v + dt / node.tau_mem * ((node.v_leak - v) + node.r * i)
            i_new = i + dt / node.tau_syn * (-i + node.w_in * s)
            z = np.zeros_like(v)
            if isinstance(node, nir.CubaLIF):
                z = (v_new > node.v_threshold).astype(float)
                v_new = np.where(z > 0, node.v_reset, v_new)
            state[k] = (v_new, i_new)
            spikes[k] = z
            out[k]["v"].append(v_new)
            out[k]["z"].append(z)
    return {k: {f: np.stack(vals) for f, vals in d.items()} for k, d in out.items()}


def test_mock_is_forward_euler_of_the_exported_nir_equations():
    g = (hx.Experiment("euler", dt=1e-6, seed=5)
         .input("x", 8)
         .lif("h", 12, tau_mem=torch.linspace(6e-6, 20e-6, 12).tolist(), tau_syn=5e-6, refractory_time=0.0,
              capacitance=hx.Mixed(torch.linspace(5e-6, 15e-6, 12, dtype=torch.float64), 63))
         .li("o", 3, tau_mem=8e-6, tau_syn=4e-6, leak=10.0)
         .dense("x", "h", weight=torch.rand(12, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 60)
         .dense("h", "o", weight=torch.randn(3, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(2)))
         ).graph
    x = (torch.rand(120, 1, 8, generator=torch.Generator().manual_seed(3)) < 0.3).double()
    with torch.no_grad():
        run = hx.mock(g)({"x": x})
    ref = nir_euler(to_nir(g), {"x": x[:, 0].numpy()}, 120)
    assert run["h"].spikes.sum() > 50
    np.testing.assert_array_equal(run["h"].spikes[:, 0].numpy(), ref["h"]["z"])
    np.testing.assert_allclose(run["h"].membrane[:, 0].numpy(), ref["h"]["v"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(run["o"].membrane[:, 0].numpy(), ref["o"]["v"], rtol=1e-9, atol=1e-9)


def test_conversion_formulas():
    g = (hx.Experiment("f", dt=2e-6).input("x", 1)
         .lif("h", 1, tau_mem=12e-6, tau_syn=3e-6, capacitance=hx.Mixed(4e-6, 63), leak=1.0, reset=-2.0, threshold=5.0)
         .dense("x", "h", weight=[[1.0]])).graph
    node = to_nir(g).nodes["h"]
    assert node.r[0] == pytest.approx(12e-6 / 4e-6) and node.w_in[0] == pytest.approx(3e-6 / 2e-6)
    assert (node.tau_mem[0], node.tau_syn[0], node.v_leak[0], node.v_reset[0], node.v_threshold[0]) == \
        (12e-6, 3e-6, 1.0, -2.0, 5.0)


# ---------------------------------------------------------------- foreign and edited graphs

def strip_metadata(n):
    """What another tool writing the same network would produce: no hxgraph metadata at all."""
    n.metadata = {}
    for node in n.nodes.values():
        node.metadata = {}
    return n


def plain_graph():
    return (hx.Experiment("plain", dt=1e-6, seed=2).input("x", 5)
            .lif("h", 7, refractory_time=0.0, threshold=110.0).lif("h2", 4, refractory_time=0.0, tau_syn=4e-6)
            .li("o", 2, tau_syn=4e-6)
            .dense("x", "h", init=hx.init.normal(40, 20)).sparse("h", "h2", torch.rand(7, 4) < 0.5, init=hx.init.normal(30, 10))
            .dense("h2", "o")).graph


def test_plain_nir_without_metadata_runs_the_same():
    g = plain_graph()
    n = strip_metadata(to_nir(g))
    with pytest.warns(UserWarning, match="time step"):
        back = from_nir(n)
    assert back.dt == 1e-6 and back.name == "nir"
    assert [p.model for p in back.populations.values()] == ["input", "lif", "lif", "li"]
    assert not any(p.is_sparse for p in back.projections.values())  # a dense Linear stays dense
    assert back.projection("h_to_h2").connection_count == 28  # zeros included: nothing is dropped
    x = (torch.rand(60, 3, 5, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    a, b = hx.mock(g)({"x": x}), hx.mock(back)({"x": x})
    assert a["h2"].spikes.sum() > 0
    for pop in ["h", "h2"]:
        assert torch.equal(a[pop].spikes, b[pop].spikes)
    torch.testing.assert_close(a["o"].membrane, b["o"].membrane, rtol=1e-5, atol=1e-4)
    assert hx.place_and_route(back).stats is not None


def test_dt_comes_from_the_argument_or_plain_metadata():
    n = strip_metadata(to_nir(plain_graph()))
    assert from_nir(n, dt=2e-6).dt == 2e-6
    n.metadata = {"dt": 3e-6}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert from_nir(n).dt == 3e-6


def test_edited_parameters_win_over_stale_metadata():
    g = sample_graph()
    n = to_nir(g)
    n.nodes["h"].tau_mem = n.nodes["h"].tau_mem * 2  # e.g. trained in another tool
    back = from_nir(n)
    h, old = back.population("h").params, g.population("h").params
    torch.testing.assert_close(h["tau_mem"], old["tau_mem"] * 2)
    assert h["threshold"] == old["threshold"]  # untouched: still Mixed(1.0, 150)
    # r = tau_mem / C was not edited, so the capacitance scales with tau_mem; its chip setting stays.
    assert h["capacitance"].hardware == 63.0
    assert h["capacitance"].model == pytest.approx(2 * 10e-6)
    assert back.structure_hash() == g.structure_hash()


def test_sparse_metadata_never_drops_connections():
    g = sample_graph()
    n = to_nir(g)
    inside = g.projection("x_to_h").connectivity.indices[:, 0].tolist()
    n.nodes["x_to_h"].weight[inside[0], inside[1]] = 7.5  # a new value on a connection: kept, still sparse
    back = from_nir(n)
    assert back.projection("x_to_h").is_sparse and back.projection("x_to_h").weight[0].item() == 7.5
    n.nodes["x_to_h"].weight[:] = 1.0  # values off the listed connections: refused, not dropped
    with pytest.raises(ConversionError, match="'x_to_h'.*outside the 3 connections"):
        from_nir(n)


def test_current_free_lif_imports_with_one_step_latency():
    tau, r, dt = 5e-3, 40.0, 1e-4
    w = np.array([[0.02, 0.05], [0.04, -0.01], [0.03, 0.03]])
    n = nir.NIRGraph.from_list(nir.Linear(weight=w), nir.LIF(tau=np.full(3, tau), r=np.full(3, r), v_leak=np.zeros(3),
                                                               v_threshold=np.full(3, 0.1), v_reset=np.zeros(3)))
    g = from_nir(n, dt=dt)
    lif = next(p for p in g.populations.values() if p.model == "lif")
    assert lif.params["tau_syn"] == dt and lif.params["capacitance"].model == pytest.approx(tau / r)
    x = (np.random.default_rng(0).random((80, 2)) < 0.5).astype(float)
    v, ref = np.zeros(3), []
    for t in range(80):  # Euler of tau dv/dt = (v_leak - v) + r I with I = W s
        v = v + dt / tau * (-v + r * (w @ x[t]))
        z = v > 0.1
        v[z] = 0.0
        ref.append(z)
    ref = np.stack(ref).astype(float)
    with torch.no_grad():
        ours = hx.mock(g)({g.inputs[0].name: torch.tensor(x, dtype=torch.bool)[:, None]})[lif.name].spikes[:, 0].numpy()
    assert ref.sum() > 5
    np.testing.assert_array_equal(ours[1:], ref[:-1])  # the synaptic current adds one step


def test_subgraphs_are_inlined():
    """snnTorch writes a recurrent layer as a subgraph Input → CubaLIF ⇄ Linear → Output."""
    cuba = dict(tau_syn=np.full(3, 5e-4), tau_mem=np.full(3, 1e-3), r=np.full(3, 10.0), v_leak=np.zeros(3),
                v_threshold=np.ones(3), v_reset=np.zeros(3), w_in=np.full(3, 5.0))
    inner = nir.NIRGraph(nodes={"input": nir.Input(input_type=[3]), "lif": nir.CubaLIF(**cuba),
                                "w_rec": nir.Linear(weight=np.eye(3) * 0.1), "output": nir.Output(output_type=[3])},
                         edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    outer = nir.NIRGraph(nodes={"input": nir.Input(input_type=[2]), "fc": nir.Linear(weight=np.ones((3, 2))),
                                "rsyn": inner, "output": nir.Output(output_type=[3])},
                         edges=[("input", "fc"), ("fc", "rsyn"), ("rsyn", "output")])
    g = from_nir(outer, dt=1e-4)
    assert [(p.source, p.target) for p in g.projections.values()] == [("input", "rsyn_lif"), ("rsyn_lif", "rsyn_lif")]
    run = hx.mock(g)({"input": torch.ones(5, 1, 2, dtype=torch.bool)})  # float64 weights: bool spikes fit
    assert run["rsyn_lif"].spikes.shape == (5, 1, 3)


def test_direct_edges_are_one_to_one_synapses():
    cuba = dict(tau_syn=np.full(2, 1e-5), tau_mem=np.full(2, 1e-5), r=np.ones(2), v_leak=np.zeros(2),
                v_threshold=np.ones(2), w_in=np.full(2, 10.0))
    n = nir.NIRGraph.from_list(nir.CubaLIF(**cuba))  # Input → CubaLIF without a Linear
    g = from_nir(n, dt=1e-6)
    (proj,) = g.projections.values()
    assert proj.is_sparse and proj.connectivity.indices.tolist() == [[0, 1], [0, 1]] and proj.weight.tolist() == [1, 1]


def test_zero_bias_affine_is_a_projection_and_biased_one_is_refused():
    cuba = dict(tau_syn=np.full(2, 1e-5), tau_mem=np.full(2, 1e-5), r=np.ones(2), v_leak=np.zeros(2),
                v_threshold=np.ones(2), w_in=np.full(2, 10.0))
    ok = nir.NIRGraph.from_list(nir.Affine(weight=np.ones((2, 3), dtype=np.float32), bias=np.zeros(2)), nir.CubaLIF(**cuba))
    assert from_nir(ok, dt=1e-6).projection("affine").weight.dtype == torch.float32
    bad = nir.NIRGraph.from_list(nir.Affine(weight=np.ones((2, 3)), bias=np.ones(2)), nir.CubaLIF(**cuba))
    with pytest.raises(ConversionError, match="'affine' is an Affine with a non-zero bias"):
        from_nir(bad, dt=1e-6)


# ---------------------------------------------------------------- errors

def cuba(n=4, **changes):
    params = dict(tau_syn=np.full(n, 1e-5), tau_mem=np.full(n, 2e-5), r=np.ones(n), v_leak=np.zeros(n),
                  v_threshold=np.ones(n), w_in=np.full(n, 10.0))
    params.update(changes)
    return nir.CubaLIF(**params)


@pytest.mark.parametrize("node, kind", [
    (lambda: nir.Conv2d(input_shape=(4, 4), weight=np.ones((1, 1, 2, 2)), stride=1, padding=0, dilation=1, groups=1,
                        bias=np.zeros(1)), "Conv2d"),
    (lambda: nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])), "SumPool2d"),
    (lambda: nir.Delay(delay=np.ones(4)), "Delay"),
    (lambda: nir.IF(r=np.ones(4), v_threshold=np.ones(4)), "IF"),
    (lambda: nir.Threshold(threshold=np.ones(4)), "Threshold"),
])
def test_unsupported_nodes_are_named(node, kind):
    n = nir.NIRGraph(nodes={"input": nir.Input(input_type=[4]), "bad": node(), "output": nir.Output(output_type=[4])},
                     edges=[("input", "bad"), ("bad", "output")], type_check=False)
    with pytest.raises(ConversionError, match=f"'bad' is a {kind}.*supported nodes: Input, Output, Linear"):
        from_nir(n, dt=1e-6)


@pytest.mark.parametrize("changes, match", [
    (dict(r=np.array([1.0, -1.0, 1.0, 1.0])), "r must be > 0"),
    (dict(w_in=np.zeros(4)), "w_in must be > 0"),
    (dict(tau_mem=np.full(4, -1e-5)), "tau_mem must be > 0"),
    (dict(v_leak=np.array([0.0, np.nan, 0.0, 0.0])), "v_leak has non-finite"),
])
def test_parameters_the_chip_cannot_express_are_refused(changes, match):
    n = nir.NIRGraph.from_list(nir.Linear(weight=np.ones((4, 2))), cuba(**changes))
    with pytest.raises(ConversionError, match=f"'cubalif'.*{match}"):
        from_nir(n, dt=1e-6)


def test_subtractive_reset_and_mixed_time_steps_are_refused():
    n = nir.NIRGraph.from_list(nir.Linear(weight=np.ones((4, 2))), cuba())
    n.nodes["cubalif"].metadata = {"reset_method": "subtract"}
    with pytest.raises(ConversionError, match="'cubalif' declares reset_method = 'subtract'.*v_reset"):
        from_nir(n, dt=1e-6)
    n.nodes["cubalif"].metadata = {"reset_method": "zero", "dt": 1e-4}
    n.nodes["linear"].metadata = {"dt": 1e-3}
    with pytest.raises(ConversionError, match="different time steps"):
        from_nir(n)
    n.nodes["linear"].metadata = {}
    assert from_nir(n).dt == 1e-4  # one node's dt is the graph's


def test_shapes_and_wiring_hxgraph_cannot_express():
    image = nir.NIRGraph(nodes={"input": nir.Input(input_type=[2, 3]), "output": nir.Output(output_type=[2, 3])},
                         edges=[("input", "output")])
    with pytest.raises(ConversionError, match=r"'input'.*shape \(2, 3\).*one-dimensional"):
        from_nir(image, dt=1e-6)
    readout = nir.NIRGraph.from_list(nir.Linear(weight=np.ones((3, 2))))  # Input → Linear → Output
    with pytest.raises(ConversionError, match="'linear'.*feeds the Output 'output' directly"):
        from_nir(readout, dt=1e-6)
    chained = nir.NIRGraph.from_list(nir.Linear(weight=np.ones((3, 2))), nir.Linear(weight=np.ones((4, 3))), cuba())
    with pytest.raises(ConversionError, match="chained"):
        from_nir(chained, dt=1e-6)
    li_source = nir.NIRGraph.from_list(nir.Linear(weight=np.ones((4, 2))), nir.CubaLI(
        tau_syn=np.ones(4), tau_mem=np.ones(4), r=np.ones(4), v_leak=np.zeros(4)), nir.Linear(weight=np.ones((4, 4))), cuba())
    with pytest.raises(hx.GraphError, match="only input and LIF populations can be sources"):
        from_nir(li_source, dt=1e-6)


def test_bad_arguments_and_files(tmp_path):
    with pytest.raises(hx.ParameterError, match="nir.NIRGraph"):
        from_nir(nir.Input(input_type=[3]))
    with pytest.raises(hx.ParameterError, match="hxgraph.Graph"):
        to_nir("graph")
    with pytest.raises(SerializationError, match="no NIR file"):
        read_nir(tmp_path / "missing.nir")
    (tmp_path / "junk.nir").write_text("not hdf5")
    with pytest.raises(SerializationError, match="not a readable NIR file"):
        read_nir(tmp_path / "junk.nir")
    n = to_nir(sample_graph())
    n.metadata["hxgraph"] = n.metadata["hxgraph"].replace('"version": 1', '"version": 99')
    with pytest.raises(SerializationError, match="newer hxgraph"):
        from_nir(n)
    n = to_nir(sample_graph())
    n.nodes["h"].metadata["hxgraph"] = "{not json"
    with pytest.raises(SerializationError, match="'h'.*not valid JSON"):
        from_nir(n)


def test_custom_weight_transforms_cannot_be_exported():
    g = (hx.Experiment("t").input("x", 2).lif("h", 2).dense("x", "h", transform=lambda w: w * 2)).graph
    with pytest.raises(SerializationError, match="custom callable"):
        to_nir(g)


def test_foreign_weights_share_one_dtype():
    """The mock computes in one dtype, so weights of plain NIR graphs are widened to a common one."""
    n = nir.NIRGraph.from_list(nir.Linear(weight=np.ones((4, 2), dtype=np.float32)), cuba(),
                               nir.Linear(weight=np.ones((4, 4), dtype=np.float64)), cuba())
    g = from_nir(n, dt=1e-6)
    assert {p.weight.dtype for p in g.projections.values()} == {torch.float64}
    with torch.no_grad():
        assert hx.mock(g)({"input": torch.ones(3, 1, 2, dtype=torch.bool)})["cubalif_1"].spikes.shape == (3, 1, 4)


def test_hxtorch_convention_is_what_hxtorchs_nir_import_reads():
    # hxtorch's to_nir writes tau in ms (tau_mem * 1e3), r = tau_mem / C, no w_in; its from_nir reads
    # tau_mem[0] * 1e-3 and C = tau_mem / r.
    g = plain_graph()
    n = to_nir(g, convention="hxtorch")
    h = n.nodes["h2"]
    np.testing.assert_allclose(h.tau_mem, 10e-6 * 1e3)
    np.testing.assert_allclose(h.tau_syn, 4e-6 * 1e3)
    np.testing.assert_allclose(h.r, 10e-6 / 10e-6)
    np.testing.assert_allclose(h.w_in, 1.0)
    assert_same(g, from_nir(n))  # the metadata names the convention
    plain = strip_metadata(to_nir(g, convention="hxtorch"))
    back = from_nir(plain, dt=1e-6, convention="hxtorch")
    assert float(back.population("h2").params["tau_syn"]) == pytest.approx(4e-6)
    assert float(hx.graph.model_value(back.population("h").params["capacitance"])) == pytest.approx(10e-6)
    x = (torch.rand(60, 3, 5, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    a, b = hx.mock(g)({"x": x}), hx.mock(back)({"x": x})
    assert a["h2"].spikes.sum() > 0 and torch.equal(a["h2"].spikes, b["h2"].spikes)
    torch.testing.assert_close(a["o"].membrane, b["o"].membrane, rtol=1e-5, atol=1e-4)
    with pytest.raises(hx.ParameterError, match="unknown NIR convention 'hxtroch' \\(did you mean 'hxtorch'\\?\\)"):
        to_nir(g, convention="hxtroch")


def test_hxtorch_convention_through_a_file(tmp_path):
    g = plain_graph()
    path = write_nir(g, tmp_path / "g.nir", convention="hxtorch")
    assert_same(g, read_nir(path))
