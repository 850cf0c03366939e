"""The compiled kernels (hxgraph.kernels) give the same bits as the torch loops they replace.

Each case runs twice, once with HXGRAPH_KERNELS=torch (the torch loops, the reference) and once
with the kernels, and compares outputs and gradients with torch.equal.
"""

import pytest
import torch

import hxgraph as hx
from hxgraph import kernels
from hxgraph.chip import AnalogModel
from hxgraph.mock import functional as F


@pytest.fixture
def both(monkeypatch):
    """Run `fn` with the torch loops and with the kernels; return both results."""
    def run(fn):
        results = []
        for setting in ("torch", ""):
            monkeypatch.setenv("HXGRAPH_KERNELS", setting)
            kernels._compiled.cache_clear()
            results.append(fn())
        kernels._compiled.cache_clear()
        return results
    yield run
    kernels._compiled.cache_clear()


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if x is None or y is None:
            assert x is None and y is None
        else:
            assert torch.equal(x, y), float((x - y).abs().max())


def test_kernels_are_used_here():
    # numba is a dependency: the equality tests below must compare two different code paths
    assert kernels.enabled(torch.zeros(2))


def test_kernels_are_refused_where_they_do_not_apply():
    assert not kernels.enabled(torch.zeros(2, dtype=torch.float16))
    assert not kernels.enabled(torch.zeros(2), torch.zeros(2, dtype=torch.float64))
    assert not kernels.enabled(torch.zeros(2, device="meta"))
    assert not kernels.enabled(torch.zeros(3, 4).T)  # not contiguous: the torch loops take it


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("refractory_time", [0.0, 1e-6, 3e-6])
@pytest.mark.parametrize("reset", [0.0, 0.7])  # 0.7 >= a threshold: clamped neurons must not spike
@pytest.mark.parametrize("membrane_grads", [True, False], ids=["all-grads", "input-grads"])
def test_lif_integration_and_gradients(both, dtype, refractory_time, reset, membrane_grads):
    # without gradients for the membrane parameters the backward pass is one fused sweep
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(120, 5, 33, generator=g, dtype=dtype) * 0.4).requires_grad_()
    threshold = (torch.rand(33, generator=g, dtype=dtype) * 0.6 + 0.3).requires_grad_(membrane_grads)
    params = dict(leak=torch.zeros(33, dtype=dtype, requires_grad=membrane_grads),
                  tau_mem=torch.full((33,), 8e-6, dtype=dtype, requires_grad=membrane_grads),
                  tau_syn=torch.full((33,), 4e-6, dtype=dtype, requires_grad=True),
                  capacitance=torch.full((33,), 2e-6, dtype=dtype, requires_grad=membrane_grads),
                  reset=torch.tensor(reset, dtype=dtype, requires_grad=membrane_grads),
                  refractory_time=refractory_time, alpha=torch.full((33,), 30.0, dtype=dtype))
    upstream = torch.randn(120, 5, 33, generator=g, dtype=dtype)

    def run():
        leaves = [v for v in [x, threshold, *params.values()] if isinstance(v, torch.Tensor) and v.requires_grad]
        for leaf in leaves:
            leaf.grad = None
        z, v, i = F.lif_integration(x, threshold=threshold, dt=1e-6, **params)
        (z * upstream).sum().add((v * v).sum()).add(i.sum()).backward()
        return [z.detach(), v.detach(), i.detach()] + [leaf.grad.clone() for leaf in leaves]

    reference, fused = both(run)
    assert reference[0].sum() > 10  # neurons spiked
    assert_same(reference, fused)


@pytest.mark.parametrize("outputs", [(0,), (1,), (2,), (0, 2), (1, 2)])
def test_lif_gradients_through_some_outputs(both, outputs):
    # gradients flowing into only some of z, v, i (the others None in backward)
    x = torch.rand(60, 3, 16, generator=torch.Generator().manual_seed(2))
    assert_same(*both(lambda: list(F.lif_integration(x, leak=0.0, reset=0.0, threshold=0.5))))
    xg = x.clone().requires_grad_()

    def run():
        xg.grad = None
        out = F.lif_integration(xg, leak=0.0, reset=0.0, threshold=0.5)
        # the gradient of a sum arrives as one value expanded (stride 0): 3.7 of it for the spikes
        sum(out[k].sum() * (3.7 if k == 0 else 1.0) for k in outputs).backward()
        return [xg.grad.clone()]
    assert_same(*both(run))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_li_integration_and_gradients(both, dtype):
    x = torch.randn(80, 4, 7, dtype=dtype, generator=torch.Generator().manual_seed(3)).requires_grad_()
    tau_mem = torch.full((7,), 9e-6, dtype=dtype, requires_grad=True)

    def run():
        x.grad = tau_mem.grad = None
        v, i = F.li_integration(x, leak=0.0, tau_mem=tau_mem, dt=1e-6)
        (v * v).sum().add(i.sum()).backward()
        return [v.detach(), i.detach(), x.grad.clone(), tau_mem.grad.clone()]
    assert_same(*both(run))


def test_work_split_between_threads_gives_the_same_bits(both):
    # large enough for hxgraph.kernels to split the columns between threads
    x = (torch.randn(300, 64, 50, generator=torch.Generator().manual_seed(4)) * 0.4).requires_grad_()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(3)

        def run():
            x.grad = None
            z, v, i = F.lif_integration(x, leak=0.0, reset=0.0, threshold=0.6, dt=1e-6)
            z.sum().add(v.sum()).backward()
            return [z.detach(), v.detach(), x.grad.clone()]
        assert_same(*both(run))
    finally:
        torch.set_num_threads(threads)


def yinyang_like(seed):
    g = torch.Generator().manual_seed(seed)
    exp = (hx.Experiment("kernels", seed=seed).input("x", 10)
           .lif("h", 40, threshold=1.0, leak=0.0, reset=0.0).li("o", 3, leak=0.0)
           .dense("x", "h", init=hx.init.normal(0.4, 0.4)).dense("h", "o", init=hx.init.normal(0.0, 0.3)))
    return exp.graph, (torch.rand(45, 30, 10, generator=g) < 0.1).float()


@pytest.mark.parametrize("analog", [AnalogModel(), AnalogModel.ideal(), AnalogModel(saturation=100.0)],
                         ids=["default", "ideal", "saturated"])
def test_emulator_recordings(both, analog):
    # the compiled feed-forward run (kernels.chip_feedforward) against the torch loops' traces
    graph, x = yinyang_like(5)

    def run():
        rec = hx.emulate(graph, seed=7, analog=analog).emulator.run({"x": x})
        return [rec.spikes[k] for k in sorted(rec.spikes)] + [rec.cadc[k] for k in sorted(rec.cadc)]
    reference, fused = both(run)
    assert reference[0].shape[0] > 20  # the hidden layer spiked
    assert_same(reference, fused)


def test_emulator_recordings_of_several_sources_both_signs_and_the_madc(both):
    # two input populations into one layer (the sources side by side), excitatory and inhibitory weights,
    # refractoriness, a second layer fed by the first; the MADC neuron's population takes the traced path
    g = torch.Generator().manual_seed(3)
    exp = (hx.Experiment("sources", seed=3).input("a", 6).input("b", 4)
           .lif("h", 30, threshold=1.0, leak=0.0, reset=0.0, refractory_time=2e-6)
           .lif("k", 12, threshold=0.8, leak=0.0, reset=0.0).li("o", 2, leak=0.0)
           .dense("a", "h", init=hx.init.normal(0.3, 0.6)).dense("b", "h", init=hx.init.normal(0.2, 0.6))
           .dense("h", "k", init=hx.init.normal(0.3, 0.5)).dense("k", "o", init=hx.init.normal(0.0, 0.5)))
    x = {"a": (torch.rand(40, 9, 6, generator=g) < 0.15).float(),
         "b": (torch.rand(40, 9, 4, generator=g) < 0.2).float()}

    def run():
        rec = hx.emulate(exp.graph, seed=4, madc=[("k", 1)]).emulator.run(x)
        return ([rec.spikes[k] for k in sorted(rec.spikes)] + [rec.cadc[k] for k in sorted(rec.cadc)]
                + [rec.madc[("k", 1)][1]])
    reference, fused = both(run)
    assert all(r.shape[0] > 10 for r in reference[:2])  # h and k spiked
    assert_same(reference, fused)
    for events in fused[:2]:  # rows ordered by batch entry, then time step, then neuron
        step = torch.ceil(events[:, 2].double() * 8e-9 / 1e-6 - 1e-6).long()
        key = (events[:, 0] * 1000 + step) * 1000 + events[:, 1]
        assert bool((key[1:] > key[:-1]).all())


def test_emulator_recordings_split_between_threads(both):
    # a batch large enough for two threads (each a part of the entries, its events joined in order)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        graph, _ = yinyang_like(4)
        x = (torch.rand(45, 80, 10, generator=torch.Generator().manual_seed(8)) < 0.1).float()
        assert 45 * 80 * 40 >= kernels._PARALLEL_MIN

        def run():
            rec = hx.emulate(graph, seed=5).emulator.run({"x": x})
            return [rec.spikes["h"], rec.cadc["h"], rec.cadc["o"]]
        reference, fused = both(run)
        assert reference[0].shape[0] > 100 and len(set(reference[0][:, 0].tolist())) > 40
        assert_same(reference, fused)
    finally:
        torch.set_num_threads(threads)


def test_emulator_events_beyond_the_first_buffer(both):
    # every neuron fires in most steps: the compiled run stops where its event buffer is full and resumes
    graph, _ = yinyang_like(2)
    x = torch.ones(60, 3, 10)

    def run():
        rec = hx.emulate(graph, seed=1, analog=AnalogModel.ideal()).emulator.run({"x": x})
        return [rec.spikes["h"], rec.cadc["h"]]
    reference, fused = both(run)
    assert reference[0].shape[0] > 3 * 40 * 10  # far beyond the first buffer (64 rows)
    assert_same(reference, fused)


def test_emulator_parts_in_numba_threads_beyond_their_first_buffers(both):
    # two parts of the batch at once (numba's threads), both overflowing their first event buffers: each
    # goes on from where it stopped, and the parts join in order
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        graph, _ = yinyang_like(2)
        x = torch.ones(60, 40, 10)
        assert 60 * 40 * 40 >= kernels._PARALLEL_MIN

        def run():
            rec = hx.emulate(graph, seed=1, analog=AnalogModel.ideal()).emulator.run({"x": x})
            return [rec.spikes["h"], rec.cadc["h"], rec.cadc["o"]]
        reference, fused = both(run)
        per_part = max(64, 20 * 60 * 40 // 32)  # the first buffer of each part (see kernels.chip_feedforward)
        first, second = (int((reference[0][:, 0] < 20).sum()), int((reference[0][:, 0] >= 20).sum()))
        assert first > per_part and second > per_part
        assert_same(reference, fused)
    finally:
        torch.set_num_threads(threads)


def test_split_kernels_run_through_their_parallel_drivers(monkeypatch):
    # where numba's threading layer is thread-safe (OpenMP here), the parts of a split kernel run at once
    # through its driver (numba's threads), not on a pool of our own
    from hxgraph import _numba_kernels
    try:
        from numba.np.ufunc import omppool  # noqa: F401  (numba's OpenMP layer can load here)
    except ImportError:
        pytest.skip("numba's OpenMP threading layer cannot load here")
    assert kernels._numba_threads()
    calls = []
    driver = _numba_kernels.scan_parts

    def spy(bounds, *args):
        calls.append(bounds.tolist())
        return driver(bounds, *args)
    monkeypatch.setattr(_numba_kernels, "scan_parts", spy)
    monkeypatch.setattr(kernels, "_pool", None)  # the pool is not used
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        g = torch.Generator().manual_seed(2)
        rows, decay = torch.randn(300, 64, 50, generator=g), torch.rand(50, generator=g)
        expected = rows.clone()
        for t in range(1, 300):
            expected[t].addcmul_(decay, expected[t - 1])
        assert torch.equal(kernels.scan_(rows, decay), expected)
    finally:
        torch.set_num_threads(threads)
    assert len(calls) == 1 and len(calls[0]) == 2 and calls[0][0][0] == 0 and calls[0][-1][1] == 64 * 50


def test_saturation_curve_is_a_bounded_odd_tanh():
    from hxgraph.chip.analog import saturate_
    x = torch.linspace(-30, 30, 600_001)
    s = 800.0
    curve = saturate_(x * s, s) / s
    reference = torch.tanh(x.double())
    assert float((curve.double() - reference).abs().max()) < 4e-7
    assert float(curve.abs().max()) <= 1.0 and torch.equal(curve, -saturate_(-x * s, s) / s)
    small = torch.tensor([0.0, 1e-30, 1e-8, -1e-8])
    assert torch.equal(saturate_(small.clone(), 1.0), small)  # tanh(x) = x in float32 there


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0, 0.5])
def test_inputs_that_are_no_spike_counts(both, bad):
    graph, x = yinyang_like(1)
    x[7, 3, 2] = bad

    def run():
        with pytest.raises(hx.InputError, match="whole numbers") as info:
            hx.emulate(graph, seed=0).emulator.run({"x": x})
        return str(info.value)
    reference, fused = both(run)
    assert reference == fused
    assert kernels.invalid_count(x) == (7 * 30 + 3) * 10 + 2
    assert kernels.invalid_count(torch.zeros(3, 2).sub_(0.0).neg_()) == -1  # -0.0 is a count of 0


@pytest.mark.parametrize("steps", [0, 1, 2])
def test_short_runs(both, steps):
    x = torch.rand(steps, 2, 3, generator=torch.Generator().manual_seed(6)).requires_grad_()

    def run():
        x.grad = None
        z, v, i = F.lif_integration(x, leak=0.0, reset=0.0, threshold=0.3)
        li_v, _ = F.li_integration(x, leak=0.0)
        (z.sum() + v.sum() + li_v.sum()).backward()
        return [z.detach(), v.detach(), i.detach(), li_v.detach(), x.grad.clone()]
    assert_same(*both(run))


def test_workspace_reuses_and_bounds():
    space = kernels.Workspace(limit=1000)
    a = space.take((10, 10))
    space.give(a)
    assert space.take((10, 10)) is a                       # the same buffer again
    assert space.take((10, 10)) is not a                   # ... once only
    space.give(a)
    assert torch.count_nonzero(space.take((10, 10), zero=True)) == 0
    space.give(torch.empty(1000))                          # 4000 bytes: over the limit, dropped
    assert space._kept == 0


def test_emulator_runs_reuse_buffers_without_changing_results():
    # a second run takes the traces the first gave back; its results equal a fresh emulator's second run
    graph, x = yinyang_like(8)
    first = hx.emulate(graph, seed=2)
    runs = [first.emulator.run({"x": x}) for _ in range(2)]
    other = hx.emulate(graph, seed=2).emulator
    other.advance_runs()
    again = other.run({"x": x})
    assert all(torch.equal(runs[1].spikes[k], again.spikes[k]) for k in again.spikes)
    assert all(torch.equal(runs[1].cadc[k], again.cadc[k]) for k in again.cadc)


_FORKED: dict = {}


def _scan_in_child(queue):
    rows, decay = _FORKED["case"]  # made by the parent; the child runs no torch operation of its own
    queue.put(kernels.scan_(rows, decay).numpy().tobytes())


def test_threads_work_in_a_forked_child():
    # A child forked after the parent ran split kernels (in numba's threads, or on the kernels' own pool) must
    # not wait on the parent's threads, which a fork does not copy: it runs the parts on a pool of its own
    # (numba ends a child that starts its OpenMP threads after a fork). Only kernels run in the child:
    # torch's own OpenMP threads do not survive a fork either, which is torch's matter.
    import multiprocessing
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        g = torch.Generator().manual_seed(4)
        rows, decay = torch.randn(300, 64, 50, generator=g), torch.rand(50, generator=g)
        _FORKED["case"] = (rows.clone(), decay)
        expected = kernels.scan_(rows, decay).numpy().tobytes()  # large enough to be split: the pool exists now
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_scan_in_child, args=(queue,))
        child.start()
        try:
            got = queue.get(timeout=60)  # before join: the child exits only once its result is read
        finally:
            child.join(timeout=10)
            if child.exitcode is None:
                child.kill()
        assert child.exitcode == 0
        assert got == expected
    finally:
        torch.set_num_threads(threads)
        _FORKED.clear()


def test_spike_time_exponential_is_within_2e7_of_exp():
    # the search's e^x (emulator.exp_, computed alike by the compiled search) against float64 exp
    from hxgraph.chip.emulator import exp_
    x = torch.cat([-torch.rand(1_000_000, generator=torch.Generator().manual_seed(0)) * 87,
                   torch.tensor([0.0, -1e-30, -1e-8, -0.34657, -0.34658, -1.0, -86.99])])
    relative = (exp_(x).double() / torch.exp(x.double()) - 1).abs()
    assert float(relative.max()) < 2e-7
    assert float(exp_(torch.tensor([-200.0]))) == float(exp_(torch.tensor([-87.0]))) > 0  # floored, never 0


def test_grid_mapping_of_recordings(both):
    # hx.emulate's mapping of a recording to the grid (spike counts, interpolated CADC samples), compiled
    # and with torch: the same bits, with several events in one step, events beyond the runtime, unsorted
    # sample times, a single sample and grid points outside the samples
    from hxgraph.loop import grid_spikes, interpolate_samples
    from hxgraph.chip.emulator import Recording
    g = torch.Generator().manual_seed(6)
    events = torch.stack([torch.randint(0, 7, (400,), generator=g), torch.randint(0, 5, (400,), generator=g),
                          torch.randint(0, 30 * 125 + 400, (400,), generator=g)], dim=1)
    events[:20, 2] = 125 * torch.arange(20)  # ticks exactly at grid points
    times = torch.sort(torch.rand(7, 9, generator=g, dtype=torch.float64) * 30e-6, dim=1).values
    times[3] = times[3].flip(0)  # unsorted: the search must take the same steps as torch's
    values = torch.randint(0, 256, (7, 9, 5), generator=g).float()
    grid = torch.arange(30, dtype=torch.float64) * 1e-6 - 2e-6
    single = torch.rand(7, 1, generator=g, dtype=torch.float64) * 30e-6

    def run():
        rec = Recording({"h": events}, times, {}, {}, 30, 1e-6, 8e-9)
        return [grid_spikes(rec, "h", 5), interpolate_samples(times, values, grid),
                interpolate_samples(single, values[:, :1], grid)]
    reference, fused = both(run)
    assert float(reference[0].sum()) < 400 and float(reference[0].max()) >= 2
    assert_same(reference, fused)


def test_split_kernels_run_where_numba_has_no_threading_layer(tmp_path):
    # numba asked for a threading layer it cannot load (TBB is not installed here): the parts run on the
    # kernels' own pool instead of failing, with the same bits
    import subprocess
    import sys
    script = tmp_path / "child.py"
    script.write_text(
        "import torch\n"
        "torch.set_num_threads(2)\n"
        "from hxgraph import kernels\n"
        "from hxgraph.mock import functional as F\n"
        "x = torch.randn(300, 64, 50, generator=torch.Generator().manual_seed(9))\n"
        "z, v, i = F.lif_integration(x, leak=0.0, reset=0.0, threshold=0.6, dt=1e-6)\n"
        "print(kernels._numba_threads(), z.sum().item(), v.double().sum().item())\n")
    env = {**__import__("os").environ, "NUMBA_THREADING_LAYER": "tbb"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    threads, spikes, membrane = out.stdout.split()
    x = torch.randn(300, 64, 50, generator=torch.Generator().manual_seed(9))
    z, v, _ = F.lif_integration(x, leak=0.0, reset=0.0, threshold=0.6, dt=1e-6)
    try:
        import tbb  # noqa: F401  (where TBB is installed, numba loads it: a thread-safe layer)
    except ImportError:
        assert threads == "False"
    assert float(spikes) == z.sum().item() and float(membrane) == v.double().sum().item()
