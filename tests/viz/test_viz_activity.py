"""plot_raster and plot_traces: every spike drawn where it happened, traces of each run on one axis."""

import numpy as np
import pytest
import torch

import hxgraph as hx
from hxgraph.viz import plot_raster, plot_traces
from hxgraph.viz._style import INPUT_COLOR, population_colors, series_colors
from viz_pixels import Rendered, axes_by_label, nearest


def handmade_run() -> hx.Run:
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(40, 2, 5, generator=g) < 0.1).float()
    hidden = (torch.rand(40, 2, 30, generator=g) < 0.05).float()
    t = torch.arange(40, dtype=torch.float32)[:, None, None]
    membrane = torch.sin(t / 6 + torch.arange(3)[None, None, :]) * torch.ones(1, 2, 1)
    return hx.Run({"x": hx.Observables(spikes=x), "hidden": hx.Observables(spikes=hidden),
                   "out": hx.Observables(membrane=membrane)}, dt=1e-6)


def test_raster_draws_every_spike_at_its_time_and_neuron():
    run = handmade_run()
    graph = (hx.Experiment("g").input("x", 5).lif("hidden", 30).li("out", 3)
             .dense("x", "hidden").dense("hidden", "out")).graph
    fig = plot_raster(run, batch=1, graph=graph)
    rendered = Rendered(fig)
    ax = axes_by_label(fig, "raster")
    lines = {line.get_gid(): line for line in ax.lines}
    assert set(lines) == {"raster:x", "raster:hidden"}  # 'out' has no spikes
    offset = {"x": 0, "hidden": 5}
    colors = {"x": INPUT_COLOR, "hidden": population_colors(["hidden", "out"])["hidden"]}
    for name in ("x", "hidden"):
        steps, neurons = np.nonzero(run[name].spikes[:, 1].numpy())
        line = lines[f"raster:{name}"]
        assert np.allclose(line.get_xdata(), steps * 1.0)  # µs
        assert np.array_equal(line.get_ydata(), neurons + offset[name])
        assert line.get_label() == f"{name} ({steps.size} spikes)"
        seen = nearest(rendered.at(ax, np.stack([steps * 1.0, neurons + offset[name]], 1)),
                       {"spike": colors[name], "background": "#ffffff", "band": "#f3f3f3"})
        assert seen.count("spike") == steps.size
    assert ax.get_xlabel() == "time (µs)"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [f"x\n5 neurons\n{int(run['x'].spikes[:, 1].sum())} spikes",
                      f"hidden\n30 neurons\n{int(run['hidden'].spikes[:, 1].sum())} spikes"]


def test_raster_options_and_errors():
    run = handmade_run()
    fig = plot_raster(run, populations=["hidden"], dt=None)
    assert [line.get_gid() for line in fig.axes[0].lines] == ["raster:hidden"]
    fig = plot_raster(run["x"])  # one Observables
    assert len(fig.axes[0].lines) == 1
    with pytest.raises(hx.UnknownNameError, match="did you mean 'hidden'"):
        plot_raster(run, populations=["hiden"])
    with pytest.raises(hx.ParameterError, match="no recorded spikes"):
        plot_raster(run, populations=["out"])
    with pytest.raises(hx.ParameterError, match="batch entry 5"):
        plot_raster(run, batch=5)
    with pytest.raises(hx.ParameterError, match="Run"):
        plot_raster([1, 2])


def test_traces_compare_runs_on_one_axis():
    run = handmade_run()
    other = hx.Run({"out": hx.Observables(membrane=run["out"].membrane * 0.5),
                    "hidden": run["hidden"]}, dt=1e-6)
    fig = plot_traces({"mock": run, "emulator": other}, "out", neurons=[0, 2], batch=0, threshold=0.5)
    rendered = Rendered(fig)
    assert [ax.get_label() for ax in fig.axes] == ["traces:0", "traces:2"]
    mock_color, emu_color = series_colors(2)
    for ax, neuron in zip(fig.axes, (0, 2)):
        lines = {line.get_gid(): line for line in ax.lines if line.get_gid()}
        assert set(lines) == {f"trace:mock:{neuron}", f"trace:emulator:{neuron}"}
        expected = run["out"].membrane[:, 0, neuron].numpy()
        assert np.allclose(lines[f"trace:mock:{neuron}"].get_ydata(), expected)
        assert np.allclose(lines[f"trace:emulator:{neuron}"].get_ydata(), expected * 0.5)
        # The solid mock trace is in the PNG where the data says.
        t = np.arange(3, 37, 3)
        seen = nearest(rendered.at(ax, np.stack([t * 1.0, expected[t]], 1)),
                       {"mock": mock_color, "emulator": emu_color, "white": "#ffffff", "grid": "#dddddd"})
        assert seen.count("mock") >= len(t) - 1
    assert rendered.count(emu_color, tolerance=0.05) > 100
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["mock", "emulator"]


def test_traces_mark_spikes_and_check_input():
    run = handmade_run()
    hidden = hx.Run({"h": hx.Observables(spikes=run["hidden"].spikes, membrane=run["hidden"].spikes * 0.3)}, dt=1e-6)
    fig = plot_traces(hidden, "h", 3)
    spikes = int(run["hidden"].spikes[:, 0, 3].sum())
    ticks = [line for line in fig.axes[0].lines if not line.get_gid()]
    assert len(ticks) == spikes
    assert len(plot_traces(run, "out").axes) == 3  # default: the first four neurons (out has 3)
    with pytest.raises(hx.ParameterError, match="no recorded membrane"):
        plot_traces(run, "x")
    with pytest.raises(hx.UnknownNameError):
        plot_traces(run, "outt")
    with pytest.raises(hx.ParameterError, match="neurons must be indices"):
        plot_traces(run, "out", neurons=[7])
    with pytest.raises(hx.ParameterError, match="quantity"):
        plot_traces(run, "out", quantity="voltage")
