"""The lowered mock: hxtorch reference values through a graph, projections, recurrence, training, errors."""

import pytest
import torch

import hxgraph as hx
from hxgraph.mock import functional as F


def single(weight=1.0, **params):
    exp = hx.Experiment().input("x", 1).lif("h", 1, **params).dense("x", "h", weight=torch.full((1, 1), weight))
    return hx.mock(exp.graph)


def test_reference_psp_through_a_graph():
    x = torch.zeros(60, 1, 1)
    x[10] = 1
    v = single(leak=0.0, reset=0.0, threshold=1.0)({"x": x})["h"].membrane.detach().flatten()
    assert float(v[:11].abs().max()) == 0.0
    assert int(v.argmax()) == 19 and abs(float(v[19]) - 0.3874) < 1e-4
    assert abs(float(v[49]) - 0.0712) < 1e-4


@pytest.mark.parametrize("refractory, expected", [(1e-6, [22]), (0.0, [22, 35])])
def test_reference_spike_times_with_default_lif(refractory, expected):
    x = torch.zeros(50, 1, 1)
    x[[10, 15, 20, 30]] = 1
    out = single(50.0, refractory_time=refractory)({"x": x})["h"]
    assert out.spikes.flatten().nonzero().flatten().tolist() == expected
    assert out.current.shape == out.membrane.shape == (50, 1, 1)


def test_observables_layout_and_li_has_no_spikes():
    exp = hx.Experiment().input("x", 4).lif("h", 6).li("o", 2).dense("x", "h").dense("h", "o")
    run = hx.mock(exp.graph)({"x": torch.zeros(7, 3, 4)})
    assert list(run) == ["x", "h", "o"]
    assert run["h"].spikes.shape == (7, 3, 6) and run["o"].membrane.shape == (7, 3, 2)
    assert run["o"].spikes is None
    with pytest.raises(hx.UnknownNameError, match="did you mean 'o'"):
        run["oo"]


def test_parameters_are_named_after_projections_and_share_the_graphs_tensors():
    exp = hx.Experiment().input("x", 3).lif("h", 4, threshold=hx.Mixed(0.5, 150)).li("o", 2) \
        .dense("x", "h", init=hx.init.normal(2.0, 0.5)).dense("h", "o")
    graph = exp.graph
    model = hx.mock(graph)
    assert [n for n, _ in model.named_parameters()] == ["weights.x_to_h", "weights.h_to_o"]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    x = (torch.rand(20, 5, 3) < 0.3).float()
    before = graph.projection("x_to_h").weight.clone()
    loss = model({"x": x})["o"].membrane.sum()
    loss.backward()
    optimizer.step()
    after = graph.projection("x_to_h").weight
    assert not torch.equal(before, after)  # the graph sees the trained values: no stale copy
    assert after.data_ptr() == model.weights["x_to_h"].data_ptr()


def test_model_value_is_used_not_hardware_value():
    x = torch.zeros(30, 1, 1)
    x[2] = 20.0
    spikes = single(leak=0.0, reset=0.0, threshold=hx.Mixed(1.0, 150.0))({"x": x})["h"].spikes
    assert spikes.sum() > 0  # threshold 1 (model) is crossed; 150 (hardware) would not be


def _graph_pair(weight_dense):
    """The same effective weights as a dense and as a sparse projection."""
    connections = (weight_dense != 0).T
    dense = hx.Experiment().input("x", weight_dense.shape[1]).lif("h", weight_dense.shape[0], leak=0., reset=0.,
                                                                   threshold=1.).dense("x", "h", weight=weight_dense)
    sparse = hx.Experiment().input("x", weight_dense.shape[1]).lif("h", weight_dense.shape[0], leak=0., reset=0.,
                                                                    threshold=1.).sparse("x", "h", connections,
                                                                                         weight=weight_dense)
    return hx.mock(dense.graph), hx.mock(sparse.graph)


def test_dense_and_sparse_projections_agree():
    g = torch.Generator().manual_seed(0)
    w = torch.randint(-8, 9, (30, 40), generator=g).float() / 4  # dyadic: sums are exact in any order
    w[torch.rand(30, 40, generator=g) < 0.6] = 0
    dense, sparse = _graph_pair(w)
    x = (torch.rand(25, 4, 40, generator=g) < 0.2).float()
    a, b = dense({"x": x})["h"], sparse({"x": x})["h"]
    assert torch.equal(a.spikes, b.spikes) and torch.equal(a.current, b.current)
    assert torch.allclose(a.membrane, b.membrane, atol=1e-6)


def test_sparse_gradients_exist_only_for_connections_and_match_dense():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(6, 8, generator=g)
    w[torch.rand(6, 8, generator=g) < 0.5] = 0
    dense, sparse = _graph_pair(w)
    x = torch.rand(15, 3, 8, generator=g)
    for model in (dense, sparse):
        model({"x": x})["h"].membrane.pow(2).sum().backward()
    sparse_grad = sparse.weights["x_to_h"].grad
    conn = sparse.graph.projection("x_to_h").connectivity
    assert sparse_grad.shape == (conn.count,)  # one gradient per connection, nothing else exists
    dense_grad = dense.weights["x_to_h"].grad
    assert torch.allclose(sparse_grad, dense_grad[conn.targets, conn.sources], rtol=1e-4, atol=1e-6)


def test_input_gradient_through_sparse_projection():
    w = torch.tensor([[0.5, 0.0], [0.0, -1.0], [2.0, 0.25]])
    dense, sparse = _graph_pair(w)
    grads = []
    for model in (dense, sparse):
        x = torch.rand(10, 2, 2, requires_grad=True)
        torch.manual_seed(0)
        x.data = torch.rand(10, 2, 2)
        model({"x": x})["h"].membrane.sum().backward()
        grads.append(x.grad)
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_several_projections_into_one_population_are_summed():
    exp = (hx.Experiment().input("a", 2).input("b", 3).li("o", 2)
           .dense("a", "o", weight=torch.tensor([[1., 2.], [0., 1.]]))
           .dense("b", "o", weight=torch.tensor([[1., 0., -1.], [2., 2., 2.]])))
    a, b = torch.rand(8, 1, 2), torch.rand(8, 1, 3)
    current = hx.mock(exp.graph)({"a": a, "b": b})["o"].current
    expected_input = a @ exp.graph.projection("a_to_o").weight.T + b @ exp.graph.projection("b_to_o").weight.T
    _, expected_current = F.li_integration_reference(expected_input, leak=80.0, dt=1e-6)
    assert torch.allclose(current, expected_current, atol=1e-5)


def test_recurrent_projection_acts_with_one_step_delay():
    g = torch.Generator().manual_seed(2)
    w_in = torch.rand(5, 3, generator=g) * 3
    w_rec = torch.randn(5, 5, generator=g)
    exp = (hx.Experiment().input("x", 3).lif("h", 5, leak=0., reset=0., threshold=1., refractory_time=0.)
           .dense("x", "h", weight=w_in).dense("h", "h", weight=w_rec))
    x = (torch.rand(40, 2, 3, generator=g) < 0.3).float()
    h = hx.mock(exp.graph)({"x": x})["h"]
    assert h.spikes.sum() > 5
    # Replaying the recurrent input with the recorded spikes shifted by one step reproduces the run.
    delayed = torch.cat([torch.zeros(1, 2, 5), h.spikes[:-1]])
    replay_input = x @ w_in.T + delayed @ w_rec.T
    z, v, _ = F.lif_integration_reference(replay_input, leak=0., reset=0., threshold=1., refractory_time=0.)
    assert torch.equal(z, h.spikes)
    assert torch.allclose(v, h.membrane, atol=1e-5)


def test_cycle_through_two_populations_and_a_readout_after_it():
    exp = (hx.Experiment().input("x", 2).lif("a", 3, leak=0., reset=0., threshold=0.5)
           .lif("b", 3, leak=0., reset=0., threshold=0.5).li("o", 1)
           .dense("x", "a", init=hx.init.constant(4.0)).dense("a", "b", init=hx.init.constant(4.0))
           .dense("b", "a", init=hx.init.constant(-1.0)).dense("b", "o", init=hx.init.constant(1.0)))
    model = hx.mock(exp.graph)
    run = model({"x": torch.ones(30, 1, 2)})
    assert run["a"].spikes.sum() > 0 and run["b"].spikes.sum() > 0
    # b receives a's spikes one step late (inside the cycle); o receives b's in the same step.
    a_spikes, b_spikes = run["a"].spikes.detach()[:, 0, 0], run["b"].spikes.detach()[:, 0, 0]
    b_current, o_current = run["b"].current.detach()[:, 0, 0], run["o"].current.detach()[:, 0, 0]
    first_a = int(a_spikes.nonzero()[0])
    assert float(b_current[first_a]) == 0.0 and float(b_current[first_a + 1]) > 0
    first_b = int(b_spikes.nonzero()[0])
    assert float(o_current[first_b]) > 0 and float(o_current[first_b - 1]) == 0.0
    run["o"].membrane.sum().backward()
    assert model.weights["b_to_a"].grad is not None


def test_fixed_sign_projection_cannot_flip_sign_in_the_mock():
    exp = hx.Experiment().input("x", 2).li("o", 1).dense("x", "o", receptor="excitatory",
                                                          weight=torch.tensor([[1.0, 2.0]]))
    model = hx.mock(exp.graph)
    with torch.no_grad():
        model.weights["x_to_o"][0, 0] = -5.0  # e.g. after an optimizer step
    assert torch.equal(model.effective_weight(exp.graph.projection("x_to_o")), torch.tensor([[0.0, 2.0]]))


def test_custom_projection_function():
    calls = []

    def doubled(inputs, weight):
        calls.append(weight.shape)
        return 2 * torch.nn.functional.linear(inputs, weight)

    w = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    exp = hx.Experiment().input("x", 2).li("o", 2).sparse("x", "o", torch.eye(2), weight=w)
    plain = hx.mock(exp.graph)({"x": torch.ones(5, 1, 2)})["o"].current
    custom = hx.mock(exp.graph, funcs={"x_to_o": doubled})({"x": torch.ones(5, 1, 2)})["o"].current
    assert calls == [(2, 2)]  # called with the (out, in) weight, zero off the connections
    assert torch.allclose(custom, 2 * plain)
    with pytest.raises(hx.UnknownNameError):
        hx.mock(exp.graph, funcs={"nope": doubled})


def _model():
    return hx.mock(hx.Experiment().input("x", 3).input("y", 1).lif("h", 2).dense("x", "h").dense("y", "h").graph)


@pytest.mark.parametrize("inputs, error, fragment", [
    ({"x": torch.zeros(5, 1, 3)}, hx.InputError, "missing spikes for input population(s) 'y'"),
    ({"x": torch.zeros(5, 1, 3), "y": torch.zeros(5, 1, 1), "z": torch.zeros(5, 1, 1)}, hx.UnknownNameError,
     "input 'z' is an unknown population"),
    ({"x": torch.zeros(5, 1, 3), "y": torch.zeros(5, 1, 1), "h": torch.zeros(5, 1, 2)}, hx.UnknownNameError,
     "'h' is a non-input population"),
    ({"x": torch.zeros(5, 3), "y": torch.zeros(5, 1, 1)}, hx.InputError, "expected (time, batch, 3)"),
    ({"x": torch.zeros(5, 1, 4), "y": torch.zeros(5, 1, 1)}, hx.InputError, "has shape (5, 1, 4)"),
    ({"x": torch.zeros(5, 1, 3), "y": torch.zeros(6, 1, 1)}, hx.InputError, "all inputs must share"),
    ({"x": torch.zeros(5, 1, 3, dtype=torch.float64), "y": torch.zeros(5, 1, 1)}, hx.InputError, "float64"),
    ({"x": torch.full((5, 1, 3), float("nan")), "y": torch.zeros(5, 1, 1)}, hx.InputError, "NaN"),
    ({"x": torch.zeros(5, 1, 3, device="meta"), "y": torch.zeros(5, 1, 1)}, hx.InputError, "is on meta"),
    ([torch.zeros(5, 1, 3)], hx.InputError, "takes a dict"),
])
def test_bad_inputs(inputs, error, fragment):
    with pytest.raises(error) as info:
        _model()(inputs)
    assert fragment in str(info.value), str(info.value)


def test_boolean_spike_trains_are_accepted():
    run = _model()({"x": torch.ones(4, 2, 3, dtype=torch.bool), "y": torch.zeros(4, 2, 1, dtype=torch.bool)})
    assert run["h"].membrane.dtype == torch.float32


def test_mixed_weight_dtypes_are_refused():
    exp = hx.Experiment().input("x", 2).li("o", 2).dense("x", "o").dense("x", "o", weight=torch.eye(2, dtype=torch.float64))
    with pytest.raises(hx.ParameterError, match="mixes weight dtypes"):
        hx.mock(exp.graph)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_cuda_and_keeps_the_graph_in_sync():
    exp = hx.Experiment().input("x", 3).lif("h", 4).li("o", 2).dense("x", "h").sparse("h", "o", torch.ones(4, 2))
    cpu = hx.mock(exp.graph)({"x": torch.ones(10, 2, 3)})["o"].membrane
    model = hx.mock(exp.graph, device="cuda")
    assert exp.graph.projection("x_to_h").weight.is_cuda
    gpu = model({"x": torch.ones(10, 2, 3, device="cuda")})["o"].membrane
    assert torch.allclose(cpu, gpu.cpu(), atol=1e-4)
    model.cpu()
    assert not exp.graph.projection("x_to_h").weight.is_cuda
