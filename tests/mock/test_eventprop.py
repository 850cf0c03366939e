"""EventProp (`hx.mock(graph, gradient="eventprop")`): exact gradients of the event-exact model.

Gradients are checked against central finite differences of the forward pass (float64),
the forward pass against Brian2 solving the same equations, and every part EventProp
cannot differentiate against its error.
"""

import math

import pytest
import torch

import hxgraph as hx
from hxgraph.mock import eventprop

DT = 1e-6
B2_DT = 5e-9  # Brian2 step


def network(recurrent: bool, refractory: float, seed: int = 0, sparse: bool = False) -> hx.Graph:
    exp = (hx.Experiment("ep", dt=DT, seed=seed).input("x", 6)
           .lif("h", 8, tau_mem=6e-6, tau_syn=4e-6, leak=0.0, reset=-0.2, threshold=1.0, refractory_time=refractory)
           .li("o", 3, tau_mem=6e-6, tau_syn=5e-6, leak=0.0)
           .dense("x", "h", init=hx.init.normal(1.0, 0.7)))
    if sparse:  # hidden → readout through a sparse projection (one weight per connection)
        exp.sparse("h", "o", hx.connect.random(8, 3, 0.6, seed=seed), init=hx.init.normal(0.5, 1.0))
    else:
        exp.dense("h", "o", init=hx.init.normal(0.5, 1.0))
    if recurrent:
        exp.dense("h", "h", init=hx.init.normal(0.0, 0.5))
    graph = exp.graph
    for proj in graph.projections.values():
        proj.weight.data = proj.weight.data.double()
    return graph


def loss_of(net, x):
    run = net({"x": x})
    hidden = run["h"]
    # readout peak (as yin-yang), hidden membranes, and a spike-time term (spike times are differentiable)
    return (run["o"].membrane.amax(0).pow(2).sum() + hidden.membrane.pow(2).mean()
            + torch.sin(hidden.spike_times * 1e5).mul(hidden.spikes).sum())


@pytest.mark.parametrize("recurrent, sparse", [(False, False), (True, False), (True, True)],
                         ids=["feed-forward", "recurrent", "recurrent-sparse"])
@pytest.mark.parametrize("refractory", [0.0, 2e-6, 0.5e-6])
def test_gradients_agree_with_central_finite_differences(recurrent, sparse, refractory):
    torch.manual_seed(1)
    graph = network(recurrent, refractory, sparse=sparse)
    net = hx.mock(graph, gradient="eventprop")
    x = (torch.rand(30, 3, 6, dtype=torch.float64) < 0.15).double()
    loss_of(net, x).backward()
    assert net({"x": x})["h"].spikes.sum() > 20  # the hidden layer spikes: its spike times carry the gradient
    generator = torch.Generator().manual_seed(2)
    eps = 1e-6
    for name, weight in net.weights.items():
        grad = weight.grad.clone()
        entries = torch.randperm(weight.numel(), generator=generator)[:8]
        fd = torch.empty(len(entries), dtype=torch.float64)
        with torch.no_grad():
            flat = weight.view(-1)
            for k, entry in enumerate(entries):
                old = flat[entry].item()
                flat[entry] = old + eps
                up = loss_of(net, x).item()
                flat[entry] = old - eps
                down = loss_of(net, x).item()
                flat[entry] = old
                fd[k] = (up - down) / (2 * eps)
        ours = grad.view(-1)[entries]
        assert fd.abs().max() > 1e-3, name  # a meaningful check: the loss depends on these weights
        rel = (ours - fd).norm() / fd.norm()
        assert rel < 1e-3, f"{name}: relative error {rel:.2e}\nours {ours}\nfd   {fd}"


def test_spike_time_loss_gradient_moves_the_first_spike():
    """A first-spike-time loss: one gradient step on the weights moves the spike the way the gradient says."""
    torch.manual_seed(0)
    graph = network(False, 1e-6)
    net = hx.mock(graph, gradient="eventprop")
    x = torch.zeros(30, 1, 6, dtype=torch.float64)
    x[2, 0, :] = 1.0
    run = net({"x": x})
    h = run["h"]
    assert h.spikes.sum() > 0
    fired = h.spikes.sum(0)[0] > 0
    neuron = int(fired.nonzero()[0])
    first = int(h.spikes[:, 0, neuron].nonzero()[0])
    t_first = h.spike_times[first, 0, neuron]
    t_first.backward()
    weight = net.weights["x_to_h"]
    assert weight.grad[neuron].abs().sum() > 0
    with torch.no_grad():
        weight -= 1e-3 * weight.grad / weight.grad.norm()
        moved = net({"x": x})["h"].spike_times[first, 0, neuron]
    assert moved < t_first.detach()  # stronger input weights: the spike comes earlier


def test_spike_times_lie_in_their_step_and_count_spikes_have_no_gradient():
    graph = network(True, 1e-6)
    net = hx.mock(graph, gradient="eventprop")
    x = (torch.rand(30, 4, 6, generator=torch.Generator().manual_seed(3)) < 0.2).double()
    h = net({"x": x})["h"]
    steps = torch.arange(30, dtype=torch.float64)[:, None, None]
    spiked = h.spikes > 0
    assert spiked.any()
    assert ((h.spike_times[spiked] > (steps * DT).expand_as(h.spikes)[spiked] - 1e-15)).all()
    assert ((h.spike_times[spiked] <= ((steps + 1) * DT).expand_as(h.spikes)[spiked] + 1e-15)).all()
    assert not h.spikes.requires_grad  # counts are piecewise constant in the weights


# ----------------------------------------------------------------------------- Brian2

brian2 = pytest.importorskip("brian2")


def brian2_run(graph, input_times, input_indices, duration):
    """The same network in Brian2 (exact linear integration at a 5 ns step)."""
    b2 = brian2
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = B2_DT * b2.second
    params_h = {k: hx.graph.model_value(v) for k, v in graph.population("h").params.items()}
    params_o = {k: hx.graph.model_value(v) for k, v in graph.population("o").params.items()}
    eqs = "dv/dt = (El - v) / tau_m + Ic : 1 (unless refractory)\ndIc/dt = -Ic / tau_s : Hz\n"
    h = b2.NeuronGroup(graph.population("h").size, eqs, threshold="v > theta", reset="v = v_reset",
                       refractory=params_h["refractory_time"] * b2.second, method="exact",
                       namespace={"El": params_h["leak"], "tau_m": params_h["tau_mem"] * b2.second,
                                  "tau_s": params_h["tau_syn"] * b2.second, "theta": params_h["threshold"],
                                  "v_reset": params_h["reset"]})
    h.v = params_h["leak"]
    o = b2.NeuronGroup(graph.population("o").size, "dv/dt = (El - v) / tau_m + Ic : 1\ndIc/dt = -Ic / tau_s : Hz\n",
                       method="exact", namespace={"El": params_o["leak"], "tau_m": params_o["tau_mem"] * b2.second,
                                                  "tau_s": params_o["tau_syn"] * b2.second})
    o.v = params_o["leak"]
    source = b2.SpikeGeneratorGroup(graph.population("x").size, input_indices, input_times * b2.second)
    synapses = []
    for proj, pre, post, cap in ((graph.projection("x_to_h"), source, h, params_h["capacitance"]),
                                 (graph.projection("h_to_o"), h, o, params_o["capacitance"])):
        syn = b2.Synapses(pre, post, "w : Hz", on_pre="Ic_post += w")
        w = proj.weight.detach().double()
        target, src = torch.nonzero(torch.ones_like(w), as_tuple=True)
        syn.connect(i=src.numpy(), j=target.numpy())
        syn.w = (w[target, src] / cap).numpy() * b2.Hz
        synapses.append(syn)
    spikes = b2.SpikeMonitor(h)
    trace = b2.StateMonitor(o, "v", record=True, dt=DT * b2.second)
    net = b2.Network(h, o, source, *synapses, spikes, trace)
    net.run(duration * b2.second)
    return spikes, trace


def test_forward_pass_matches_brian2():
    """Spike times within 2 Brian2 steps (10 ns, against dt = 1 µs) and the readout membrane at the grid points."""
    torch.manual_seed(4)
    graph = network(False, 2e-6, seed=4)
    steps = 30
    x = torch.zeros(steps, 1, 6, dtype=torch.float64)
    pattern = torch.rand(steps, 6, generator=torch.Generator().manual_seed(5)) < 0.12
    x[:, 0, :] = pattern.double()
    run = hx.mock(graph, gradient="eventprop")({"x": x})
    k, index = torch.nonzero(pattern, as_tuple=True)
    # an input spike given at step k arrives at the end of that step, (k + 1) dt
    spikes, trace = brian2_run(graph, ((k + 1) * DT).numpy(), index.numpy(), steps * DT + B2_DT / 2)
    h = run["h"]
    for neuron in range(graph.population("h").size):
        ours = h.spike_times[:, 0, neuron][h.spikes[:, 0, neuron] > 0].detach()
        theirs = torch.tensor(spikes.spike_trains()[neuron] / brian2.second, dtype=torch.float64)
        assert len(ours) == len(theirs), f"neuron {neuron}: {ours} vs {theirs}"
        if len(ours):
            assert (ours - theirs).abs().max() <= 2 * B2_DT + 1e-15, f"neuron {neuron}: {ours} vs {theirs}"
    assert h.spikes.sum() >= 5
    # Brian2 records at the start of each 1 µs interval: its sample k + 1 is our membrane after step k
    theirs = torch.tensor(trace.v[:, 1:steps + 1], dtype=torch.float64).T
    ours = run["o"].membrane[:, 0, :].detach()
    assert torch.allclose(ours[:theirs.shape[0]], theirs, atol=5e-3 * float(ours.abs().max()))


# ----------------------------------------------------------------------------- where it does not apply

def test_refuses_what_it_cannot_differentiate():
    adex = (hx.Experiment("a", dt=DT).input("x", 2).adex("n", 2).dense("x", "n")).graph
    with pytest.raises(hx.GraphError, match="LIF and LI populations.*'n'"):
        hx.mock(adex, gradient="eventprop")
    graph = network(False, 0.0)
    with pytest.raises(hx.GraphError, match="custom function"):
        hx.mock(graph, gradient="eventprop", funcs={"x_to_h": lambda s, w: s @ w.T})
    with pytest.raises(hx.ParameterError, match="gradient must be one of"):
        hx.mock(graph, gradient="exact")
    varying = (hx.Experiment("v", dt=DT).input("x", 2)
               .lif("n", 3, tau_mem=torch.tensor([5e-6, 6e-6, 7e-6])).dense("x", "n")).graph
    with pytest.raises(hx.GraphError, match="one tau_mem per population.*'n'"):
        hx.mock(varying, gradient="eventprop")({"x": torch.zeros(5, 1, 2)})
    net = hx.mock(network(False, 0.0), gradient="eventprop", hardware_aware=hx.hardware_aware())
    net.train()
    with pytest.raises(hx.GraphError, match="hardware-aware noise"):
        net({"x": torch.zeros(5, 1, 6, dtype=torch.float64)})


def test_surrogate_remains_the_default_and_the_method_can_be_switched():
    graph = network(False, 0.0)
    net = hx.mock(graph)
    assert net.gradient == "surrogate"
    x = (torch.rand(20, 2, 6, generator=torch.Generator().manual_seed(0)) < 0.2).double()
    surrogate = net({"x": x})
    assert surrogate["h"].spike_times is None
    net.gradient = "eventprop"
    exact = net({"x": x})
    assert exact["h"].spike_times is not None
    # the same equations: the two forward passes agree up to the Euler grid's discretisation error
    diff = (exact["o"].membrane - surrogate["o"].membrane).abs().max()
    assert diff < 0.25 * surrogate["o"].membrane.abs().max()


def test_standalone_integration_matches_a_closed_form():
    """One LI neuron, one current jump w at the end of step 0: v(t) = w/C · e^{-t/τ} · t (τ_mem = τ_syn)."""
    tau, cap, w = 5e-6, 2e-6, 0.7
    x = torch.zeros(10, 1, 1, dtype=torch.float64)
    x[0] = w
    obs = eventprop.integrate("li", x, DT, leak=0.0, tau_mem=tau, tau_syn=tau, capacitance=cap)
    t = torch.arange(10, dtype=torch.float64) * DT  # time since the jump at the end of step 0
    expected = w / cap * torch.exp(-t / tau) * t
    assert torch.allclose(obs.membrane[:, 0, 0], expected, rtol=1e-12, atol=1e-15)
    assert torch.allclose(obs.current[:, 0, 0], w * torch.exp(-t / tau), rtol=1e-12)
    assert math.isclose(float(obs.membrane[3, 0, 0]), w / cap * math.exp(-3e-6 / tau) * 3e-6, rel_tol=1e-12)
