"""hxgraph.spiking.SparseSynapse honours every point of the SparseSynapse seed contract."""

import copy
import functools
import math

import pytest
import torch
from spiking_helpers import ideal_chip, spikes

import hxgraph as hx
import hxgraph.spiking as hxsnn
from hxgraph.spiking.functional import linear_sparse
from hxgraph.spiking.transforms.weight_transforms import linear_saturating


def connections(n_in: int = 6, n_out: int = 4) -> torch.Tensor:
    conn = torch.zeros(n_in, n_out)
    conn[[0, 0, 1, 3, 4, 5, 5], [0, 3, 1, 2, 0, 1, 3]] = 1.0
    return conn  # (in, out), 7 connections


def declare(syn, lif, x):
    return lif(syn(hxsnn.LIFObservables(spikes=x)))


@pytest.mark.parametrize("layout", ["dense", "coo", "csr"])
def test_connections_dense_or_sparse_give_the_same_synapse(layout):
    conn = connections()
    given = {"dense": conn, "coo": conn.to_sparse(), "csr": conn.to_sparse_csr()}[layout]
    syn = hxsnn.SparseSynapse(given, hxsnn.Experiment(mock=True))
    assert (syn.in_features, syn.out_features) == (6, 4)
    assert syn.output_type is hxsnn.SynapseHandle
    assert syn.connection_count == 7 and syn.weight_values.shape == (7,)  # memory ∝ connections
    assert syn.connections.is_sparse and torch.equal(syn.connections.to_dense(), conn)
    assert torch.equal(syn.mask, conn.T.bool())  # hxtorch's attribute: (out, in) bool
    assert syn.weight.shape == (4, 6)  # (out, in): transposed connections


def test_masked_kaiming_init_and_reset_parameters():
    torch.manual_seed(0)
    syn = hxsnn.SparseSynapse(connections(), hxsnn.Experiment(mock=True))
    dense = syn.weight.detach()
    mask = connections().T.bool()
    assert bool((dense[~mask] == 0).all())
    bound = 1 / math.sqrt(6)
    assert bool((dense[mask].abs() <= bound).all()) and bool((dense[mask] != 0).all())
    before = syn.weight_values.detach().clone()
    syn.reset_parameters()
    assert not torch.equal(before, syn.weight_values.detach())
    assert bool((syn.weight.detach()[~mask] == 0).all())


def test_weight_assignment_accepts_dense_or_per_connection_values_and_masks_non_connections():
    syn = hxsnn.SparseSynapse(connections(), hxsnn.Experiment(mock=True))
    dense = torch.zeros(4, 6)
    dense[connections().T.bool()] = torch.arange(1., 8.)
    syn.weight = dense
    torch.testing.assert_close(syn.weight.detach(), dense)
    syn.weight = torch.full((7,), 0.5)
    assert bool((syn.weight_values.detach() == 0.5).all())
    stray = dense.clone()
    stray[1, 0] = 3.0  # source 0 → target 1 is not a connection: hxtorch's mask ignores it
    syn.weight = stray
    torch.testing.assert_close(syn.weight.detach(), dense)
    with pytest.raises(hx.ShapeError):
        syn.weight = torch.zeros(6, 4)


def run_output(exp, syn, li, x):
    """The mock's synapse output (T, B, out) for input spikes x (read by an LI readout)."""
    handle = syn(hxsnn.LIFObservables(spikes=x))
    li(handle)
    hxsnn.run(exp, x.shape[0])
    return handle.graded_spikes.detach()


@pytest.mark.parametrize("idiom", ["init", "data_index", "data_clamp", "no_grad_mask", "held_view"])
def test_in_place_edits_of_the_dense_weight_reach_the_connections(idiom):
    """hxtorch's SparseSynapse weight is a dense parameter: every in-place idiom changes what runs."""
    torch.manual_seed(1)
    exp = hxsnn.Experiment(mock=True)
    syn = hxsnn.SparseSynapse(connections(), exp)
    li = hxsnn.LI(4, exp)
    x = spikes(steps=12, batch=2, size=6, rate=0.4)
    before = run_output(exp, syn, li, x)
    syn.reset_changed_since_last_run()
    mask = connections().T.bool()
    expected = syn.weight.detach().clone()
    if idiom == "init":
        torch.manual_seed(2)
        torch.nn.init.normal_(syn.weight, 0.0, 1.0)
        torch.manual_seed(2)
        expected = torch.empty(4, 6).normal_(0.0, 1.0) * mask
    elif idiom == "data_index":
        syn.weight.data[0, :] = 2.0  # off-connection entries of the row are ignored
        expected[0, mask[0]] = 2.0
    elif idiom == "data_clamp":
        syn.weight = torch.linspace(-3, 3, 7)
        expected = syn.weight.detach().clamp(-1.0, 1.0)
        syn.weight.data.clamp_(-1.0, 1.0)
    elif idiom == "no_grad_mask":
        with torch.no_grad():
            syn.weight[mask] += 1.0
        expected = expected + mask.float()
    else:
        view = syn.weight
        exp_after = run_output(exp, syn, li, x)  # a run in between
        syn.reset_changed_since_last_run()
        assert torch.equal(exp_after, before)
        view.data.mul_(3.0)
        expected = expected * 3
    assert syn.changed_since_last_run
    torch.testing.assert_close(syn.weight.detach(), expected)
    assert bool((syn.weight.detach()[~mask] == 0).all())
    after = run_output(exp, syn, li, x)
    torch.testing.assert_close(after, torch.nn.functional.linear(x, expected))
    assert not torch.allclose(after, before)
    assert syn.weight_values.shape == (7,)  # still one value per connection


def test_edits_reach_the_state_dict_and_the_optimizer_still_trains_the_connections():
    torch.manual_seed(0)
    exp = hxsnn.Experiment(mock=True)
    syn = hxsnn.SparseSynapse(connections(), exp)
    lif = hxsnn.LIF(4, exp, threshold=0.05, leak=0.0, reset=0.0)
    optimizer = torch.optim.SGD(syn.parameters(), lr=0.1)
    torch.nn.init.constant_(syn.weight, 0.3)
    assert torch.equal(syn.state_dict()["weight_values"], torch.full((7,), 0.3))
    torch.testing.assert_close(copy.deepcopy(syn).weight_values, syn.weight_values)
    x = spikes(steps=20, batch=3, size=6, rate=0.3)
    out = declare(syn, lif, x)
    hxsnn.run(exp, 20)
    out.membrane_cadc.sum().backward()
    grad = syn.weight_values.grad
    assert grad is not None and grad.shape == (7,) and bool((grad != 0).any())
    optimizer.step()
    torch.testing.assert_close(syn.weight_values.detach(), 0.3 - 0.1 * grad)
    assert len(syn._views) <= 1  # nothing dense kept around once nobody holds a view


def test_forward_only_connections_contribute_and_gradients_of_non_connections_are_zero():
    exp = hxsnn.Experiment(mock=True)
    syn = hxsnn.SparseSynapse(connections(), exp)
    lif = hxsnn.LIF(4, exp, leak=0., reset=0., threshold=0.3, tau_mem=6e-6, tau_syn=6e-6)
    with torch.no_grad():
        syn.weight_values.fill_(1.0)
    x = spikes(size=6, rate=0.3)
    out = declare(syn, lif, x)
    hxsnn.run(exp, 20)
    expected_input = x @ connections()  # only the connections carry weight 1
    torch.testing.assert_close(syn.output_handle.graded_spikes.detach(), expected_input)
    dense = syn.weight  # the dense view: gradients reach the values at the connections only
    dense.retain_grad()
    (x @ dense.T).sum().backward()
    assert dense.grad.abs().sum() > 0 and syn.weight_values.grad.shape == (7,)
    (out.membrane_cadc.sum() + out.spikes.sum()).backward()
    assert syn.weight_values.grad.abs().sum() > 0


def test_training_changes_what_runs():
    exp = hxsnn.Experiment(mock=True)
    syn = hxsnn.SparseSynapse(connections(), exp)
    lif = hxsnn.LI(4, exp, leak=0., tau_mem=6e-6, tau_syn=6e-6)
    optimizer = torch.optim.SGD(syn.parameters(), lr=1.0)
    x = spikes(size=6, rate=0.3)
    peaks = []
    for _ in range(3):
        out = declare(syn, lif, x)
        hxsnn.run(exp, 20)
        assert exp.last_graph.projection(syn.name).weight is syn.weight_values
        loss = -out.membrane_cadc.max(0).values.sum()
        peaks.append(-loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert peaks[2] > peaks[1] > peaks[0]


class Doubling(torch.autograd.Function):
    """A custom forward (2 W s) with its own backward."""

    @staticmethod
    def forward(ctx, inputs, weight):
        ctx.save_for_backward(inputs, weight)
        return 2 * inputs @ weight.T

    @staticmethod
    def backward(ctx, grad):
        inputs, weight = ctx.saved_tensors
        return 2 * grad @ weight, 2 * grad.flatten(0, -2).T @ inputs.flatten(0, -2)


@pytest.mark.parametrize("func", ["callable", "autograd"])
def test_func_is_used_as_the_forward_function(func):
    exp = hxsnn.Experiment(mock=True)
    calls = []

    def doubling(inputs, weight):
        calls.append(weight.shape)
        return 2 * torch.nn.functional.linear(inputs, weight)

    syn = hxsnn.SparseSynapse(connections(), exp, func=doubling if func == "callable" else Doubling)
    reference = hxsnn.SparseSynapse(connections(), exp)
    with torch.no_grad():
        reference.weight_values.copy_(2 * syn.weight_values)
    lif, lif_ref = hxsnn.LI(4, exp, leak=0.), hxsnn.LI(4, exp, leak=0.)
    x = spikes(size=6, rate=0.3)
    out, out_ref = declare(syn, lif, x), declare(reference, lif_ref, x)
    hxsnn.run(exp, 20)
    torch.testing.assert_close(out.membrane_cadc, out_ref.membrane_cadc)
    out.membrane_cadc.sum().backward()
    assert syn.weight_values.grad is not None and syn.weight_values.grad.abs().sum() > 0
    if func == "callable":
        assert calls and calls[0] == (4, 6)
    with pytest.raises(hx.ParameterError, match="func must be callable"):
        hxsnn.SparseSynapse(connections(), exp, func=3)


def test_transform_device_and_dtype():
    exp = hxsnn.Experiment(mock=True)
    default = hxsnn.SparseSynapse(connections(), exp)
    assert default.hardware_transform() == hx.transforms.LinearSaturating(scale=1.0)  # hxtorch's default scale
    scaled = hxsnn.SparseSynapse(connections(), exp, transform=functools.partial(linear_saturating, scale=64.),
                                 device="cpu", dtype=torch.float64)
    assert scaled.hardware_transform() == hx.transforms.LinearSaturating(scale=64.)
    assert scaled.weight_values.dtype == scaled.weight.dtype == torch.float64
    assert scaled.weight_values.device.type == "cpu"
    with pytest.raises(hx.ParameterError, match="transform must be callable"):
        hxsnn.SparseSynapse(connections(), exp, transform="scale")


def test_transform_applies_on_the_chip_only_with_round_half_to_even():
    exp = ideal_chip()
    syn = hxsnn.SparseSynapse(connections(), exp, transform=functools.partial(linear_saturating, scale=10.))
    lif = hxsnn.LIF(4, exp)
    syn.weight = torch.tensor([0.25, -0.35, 0.45, 1.0, 9.0, -0.05, 0.0])  # × 10: 2.5, -3.5, 4.5, 10, 63 (clamped)…
    declare(syn, lif, spikes(size=6))
    hxsnn.run(exp, 20)
    demand = hx.chip.routing.hardware_weights(exp.last_graph.projection(syn.name), exp.mapping.spec)
    assert demand.tolist() == [2, -4, 4, 10, 63, 0, 0]  # half to even: 2.5 → 2, -3.5 → -4, 4.5 → 4


def test_add_to_network_graph_returns_excitatory_and_inhibitory_projections_of_the_connections():
    exp = hxsnn.Experiment(mock=True)
    syn = hxsnn.SparseSynapse(connections(), exp, transform=functools.partial(linear_saturating, scale=20.))
    syn.weight = torch.tensor([0.5, -0.5, 1.0, -1.0, 0.0, 2.0, -2.0])
    builder = hx.Experiment("hw").input("x", 6).lif("h", 4)
    exc, inh = syn.add_to_network_graph("x", "h", builder)
    assert (exc.name, exc.receptor, inh.name, inh.receptor) == ("sparse_synapse_0_exc", "excitatory",
                                                                "sparse_synapse_0_inh", "inhibitory")
    for proj in (exc, inh):  # exactly the listed connections, in the same order
        assert torch.equal(proj.connectivity.indices, syn.connectivity.indices)
        assert proj.transform == hx.transforms.LinearSaturating(scale=20.)
    torch.testing.assert_close(exc.weight, syn.weight_values.detach().clamp(min=0))
    torch.testing.assert_close(inh.weight, syn.weight_values.detach().clamp(max=0))
    # On the chip the two fixed-sign projections carry the same hardware weights as the signed one.
    signed = hx.Experiment("signed").input("x", 6).lif("h", 4).sparse(
        "x", "h", connections(), weight=syn.weight_values.detach(), transform=syn.transform).graph
    spec = hx.chip.HICANN_X
    hw = hx.chip.routing.hardware_weights
    combined = hw(exc, spec) + hw(inh, spec)
    assert combined.tolist() == hw(signed.projection("x_to_h"), spec).tolist()
    with pytest.raises(hx.ShapeError):
        syn.add_to_network_graph("h", "x", hx.Experiment().input("x", 6).lif("h", 4).lif("y", 6))
    with pytest.raises(hx.ParameterError, match="fluent builder"):
        syn.add_to_network_graph("x", "h", exp)


def test_changed_since_last_run_and_reset():
    exp = hxsnn.Experiment(mock=True)
    syn = hxsnn.SparseSynapse(connections(), exp)
    lif = hxsnn.LIF(4, exp)
    assert syn.changed_since_last_run  # never run
    declare(syn, lif, spikes(size=6))
    hxsnn.run(exp, 20)
    assert not syn.changed_since_last_run
    with torch.no_grad():
        syn.weight_values[0] += 1.0
    assert syn.changed_since_last_run
    syn.reset_changed_since_last_run()
    assert not syn.changed_since_last_run
    syn.transform = functools.partial(linear_saturating, scale=3.)
    assert syn.changed_since_last_run


def test_register_hw_entity_and_extra_repr():
    exp = hxsnn.Experiment(mock=True)
    syn = hxsnn.SparseSynapse(connections(), exp)
    assert exp.modules == (syn,) and syn.name == "sparse_synapse_0"
    syn.register_hw_entity()  # idempotent
    assert exp.modules == (syn,)
    assert "connections=7" in syn.extra_repr() and "in_features=6" in repr(syn) and "out_features=4" in repr(syn)


def test_bad_connections_are_refused():
    exp = hxsnn.Experiment(mock=True)
    with pytest.raises(hx.GraphError, match="at least one connection"):
        hxsnn.SparseSynapse(torch.zeros(3, 2), exp)
    with pytest.raises(hx.ShapeError, match="2-d"):
        hxsnn.SparseSynapse(torch.ones(3), exp)
    assert exp.modules == ()


def test_loads_hxtorch_checkpoints_with_a_dense_weight():
    syn = hxsnn.SparseSynapse(connections(), hxsnn.Experiment(mock=True))
    dense = torch.zeros(4, 6)
    dense[connections().T.bool()] = torch.arange(1., 8.)
    syn.load_state_dict({"weight": dense})
    torch.testing.assert_close(syn.weight.detach(), dense)
    assert list(syn.state_dict()) == ["weight_values"]


def test_linear_sparse_masks_without_modifying_the_weight():
    weight = torch.ones(4, 6, requires_grad=True)
    mask = connections().T.bool()
    x = spikes(size=6)
    out = linear_sparse(x, weight, mask)
    torch.testing.assert_close(out, x @ connections())
    out.sum().backward()
    assert bool((weight.grad[~mask] == 0).all()) and bool((weight.grad[mask] != 0).any())
    assert bool((weight == 1).all())  # hxtorch's version zeroes the weight in place; ours does not
