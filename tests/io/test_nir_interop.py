"""Interop through NIR with other simulators: snnTorch (in the test extra) and Norse (when installed).

snnTorch and Norse update a layer's synaptic current first and let the membrane use the new
current in the same step; hxgraph (like hxtorch) uses the previous step's current. With
0/1 spikes and the same dt the trajectories are otherwise identical, so every layer of theirs
runs exactly one step ahead: their spikes at step t are hxgraph's at step t + depth. The
tests check that, allowing a tiny fraction of flipped spikes for float rounding right at the
threshold (none occur with these seeds). docs/nir.md explains the difference.
"""

import numpy as np
import pytest
import torch

import hxgraph as hx

pytest.importorskip("nir", reason="NIR support is optional: pip install 'hxgraph[nir]'")
snn = pytest.importorskip("snntorch", reason="snnTorch interop needs snntorch and nirtorch (the test extra)")
pytest.importorskip("nirtorch", reason="snnTorch's NIR import needs nirtorch (the test extra)")
from snntorch.export_nir import export_to_nir  # noqa: E402
from snntorch.import_nir import import_from_nir  # noqa: E402

from hxgraph.io import from_nir, read_nir, to_nir, write_nir  # noqa: E402

# nirtorch warns that the APIs snnTorch and Norse call are deprecated; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

T, B = 150, 6
DT = 1e-4            # snnTorch's NIR import and export assume this time step
MAX_FLIPPED = 0.002  # allowed fraction of differing spike entries (float rounding at the threshold)


def spikes(n, seed, rate=0.15):
    return (torch.rand(T, B, n, generator=torch.Generator().manual_seed(seed)) < rate).float()


def assert_shifted(theirs: torch.Tensor, ours: torch.Tensor, depth: int) -> None:
    """theirs[t] == ours[t + depth] up to MAX_FLIPPED of the entries, and neither is trivial."""
    a, b = theirs[:T - depth], ours[depth:]
    assert 0.05 < float(b.mean()) < 0.8, "the test network should spike, but not saturate"
    flipped = float((a != b).float().mean())
    assert flipped <= MAX_FLIPPED, f"{flipped:.2%} of the spike entries differ"


def reset_states(module: torch.nn.Module) -> None:
    for m in module.modules():
        if hasattr(m, "reset_mem"):
            m.reset_mem()


def snn_ready_graph() -> hx.Graph:
    """A graph within what snnTorch's importer accepts: v_leak = v_reset = 0, r = tau_mem / 1e-4
    (so capacitance = dt) and w_in = tau_syn / dt, one threshold per layer, no refractoriness."""
    p = dict(leak=0.0, reset=0.0, threshold=1.0, tau_syn=5e-4, capacitance=hx.Mixed(DT, 63.0), refractory_time=0.0)
    return (hx.Experiment("to_snntorch", dt=DT, seed=3).input("x", 10)
            .lif("h", 16, tau_mem=torch.linspace(8e-4, 2e-3, 16).tolist(), **p)
            .lif("o", 4, tau_mem=1e-3, **p)
            .dense("x", "h", init=hx.init.normal(0.05, 0.15)).dense("h", "o", init=hx.init.normal(0.02, 0.12))).graph


def test_hxgraph_network_runs_the_same_in_snntorch(tmp_path):
    g = snn_ready_graph()
    x = spikes(10, seed=0)
    with torch.no_grad():
        ours = hx.mock(g)({"x": x})
    import nir
    net = import_from_nir(nir.read(write_nir(g, tmp_path / "net.nir")))  # through NIR's own file format
    reset_states(net)
    out, mem = [], []
    with torch.no_grad():
        for t in range(T):
            o, _ = net(x[t])
            out.append(o.clone())
            mem.append(net.o.mem.clone())
    assert_shifted(torch.stack(out), ours["o"].spikes, depth=2)
    # Membranes agree too (float32 rounding only) while the spike trains agree.
    torch.testing.assert_close(torch.stack(mem)[:T - 2], ours["o"].membrane[2:], rtol=1e-4, atol=1e-4)


def synaptic(n, alpha, beta, **kw):
    # Per-neuron tensors: snnTorch exports scalar parameters as 0-d arrays that NIR's type check refuses.
    return snn.Synaptic(alpha=torch.full((n,), alpha), beta=torch.linspace(beta, beta + 0.05, n), threshold=torch.ones(n),
                        init_hidden=True, reset_mechanism="zero", reset_delay=False, **kw)


def test_snntorch_network_runs_in_the_mock_and_maps_onto_the_chip(tmp_path):
    torch.manual_seed(1)
    fc1, fc2 = torch.nn.Linear(10, 16, bias=False), torch.nn.Linear(16, 4, bias=False)
    with torch.no_grad():
        fc1.weight.normal_(0.05, 0.15)
        fc2.weight.normal_(0.03, 0.12)
    net = torch.nn.Sequential(fc1, synaptic(16, 0.8, 0.9), fc2, synaptic(4, 0.7, 0.85, output=True))
    graph = read_nir(write_nir_graph(export_to_nir(net, torch.zeros(10)), tmp_path / "snn.nir"), dt=DT)
    assert [p.model for p in graph.populations.values()] == ["input", "lif", "lif"]
    first, second = graph.projections.values()
    assert torch.equal(first.weight, fc1.weight.detach()) and torch.equal(second.weight, fc2.weight.detach())
    x = spikes(10, seed=2)
    reset_states(net)
    with torch.no_grad():
        theirs = torch.stack([net(x[t])[0].clone() for t in range(T)])
        ours = hx.mock(graph)({graph.inputs[0].name: x})
    out = list(graph.populations)[-1]
    assert_shifted(theirs, ours[out].spikes, depth=2)
    mapping = hx.place_and_route(graph)
    assert mapping.structure_hash == graph.structure_hash()


def test_snntorch_leaky_network_imports_as_lif_with_one_step_latency():
    torch.manual_seed(4)
    fc = torch.nn.Linear(8, 6, bias=False)
    with torch.no_grad():
        fc.weight.normal_(0.15, 0.3)
    lif = snn.Leaky(beta=torch.linspace(0.8, 0.9, 6), threshold=torch.ones(6), init_hidden=True, reset_mechanism="zero",
                    reset_delay=False, output=True)
    net = torch.nn.Sequential(fc, lif)
    graph = from_nir(export_to_nir(net, torch.zeros(8)), dt=DT)
    x = spikes(8, seed=5, rate=0.3)
    reset_states(net)
    with torch.no_grad():
        theirs = torch.stack([net(x[t])[0].clone() for t in range(T)])
        ours = hx.mock(graph)({graph.inputs[0].name: x})
    # A current-free LIF: hxgraph's one-step synaptic current adds one step to snnTorch's zero-latency update.
    assert_shifted(theirs, ours[list(graph.populations)[-1]].spikes, depth=1)


def write_nir_graph(nir_graph, path):
    import nir
    nir.write(path, nir_graph)
    return path


def test_norse_reads_hxgraph_networks_when_installed():
    norse = pytest.importorskip("norse.torch", reason="Norse is not in the test extra (it requires torchvision)")
    p = dict(leak=0.0, reset=0.0, threshold=1.0, tau_syn=5e-3, refractory_time=0.0)
    g = (hx.Experiment("to_norse", dt=1e-3, seed=3).input("x", 10)
         .lif("h", 16, tau_mem=1e-2, capacitance=hx.Mixed(1e-3, 63.0), **p)
         .lif("o", 4, tau_mem=1.5e-2, capacitance=hx.Mixed(2e-3, 63.0), **p)  # r != tau/dt: Norse honours r and w_in
         .dense("x", "h", init=hx.init.normal(0.05, 0.15)).dense("h", "o", init=hx.init.normal(0.03, 0.12))).graph
    x = spikes(10, seed=7)
    model = norse.from_nir(to_nir(g), dt=1e-3)
    state, out = None, []
    with torch.no_grad():
        ours = hx.mock(g)({"x": x})
        for t in range(T):
            o, state = model(x[t], state)
            out.append(o)
    assert_shifted(torch.stack(out), ours["o"].spikes, depth=2)
    assert np.isfinite(ours["o"].membrane.numpy()).all()
