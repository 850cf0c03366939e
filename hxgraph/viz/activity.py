"""`plot_raster` and `plot_traces`: recorded spikes and membrane traces of a run.

Both read the `Run` that the mock, the emulator and in-the-loop networks return (or a dict
population → `Observables`), laid out (time, batch, neurons); time is drawn in µs of
hardware time from the run's `dt`. `plot_traces` takes several runs under labels to
compare back ends on one axis, e.g. `{"mock": mock_run, "emulator": chip_run}`.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence, Union

import numpy as np
import torch
from matplotlib.figure import Figure

from hxgraph.errors import ParameterError, UnknownNameError, did_you_mean, known
from hxgraph.graph import Graph
from hxgraph.observables import Observables
from hxgraph.viz._style import INPUT_COLOR, new_figure, population_colors, series_colors

RunLike = Mapping[str, Observables]
QUANTITIES = ("membrane", "current", "spikes")


def _is_run(obj: object) -> bool:
    return isinstance(obj, Mapping) and all(isinstance(v, Observables) for v in obj.values())


def _dt(run: object, dt: Optional[float]) -> Optional[float]:
    return dt if dt is not None else getattr(run, "dt", None)


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().float().numpy()


def _batch(t: torch.Tensor, batch: int, what: str) -> np.ndarray:
    if t.dim() != 3:
        raise ParameterError(f"{what} must be laid out (time, batch, neurons); got shape {tuple(t.shape)}")
    if not 0 <= batch < t.shape[1]:
        raise ParameterError(f"batch entry {batch} does not exist: {what} has {t.shape[1]} batch entries")
    return _numpy(t[:, batch])


def plot_raster(observables: Union[RunLike, Observables], *, batch: int = 0,
                populations: Optional[Sequence[str]] = None, graph: Optional[Graph] = None,
                dt: Optional[float] = None, title: Optional[str] = None) -> Figure:
    """Spike raster of one batch entry: one band per spiking population; returns the Figure.

    `observables`: a `Run` (or dict population → `Observables`) or one `Observables`.
    `populations` picks and orders the bands (default: every population with spikes).
    `graph` gives the colours the other drawings use (inputs grey); `dt` overrides the
    run's time step (the x axis is in µs when a time step is known, in steps otherwise).
    """
    if isinstance(observables, Observables):
        observables = {"spikes": observables}
    if not _is_run(observables):
        raise ParameterError(f"plot_raster draws a Run (or a dict population → Observables); got "
                             f"{type(observables).__name__}")
    names = list(populations) if populations is not None else [n for n, o in observables.items()
                                                                if o.spikes is not None]
    for name in names:
        if name not in observables:
            raise UnknownNameError(f"plot_raster: no population {name!r} in this run{did_you_mean(name, observables)};"
                                   f" populations: {known(observables)}")
        if observables[name].spikes is None:
            raise ParameterError(f"plot_raster: population {name!r} has no recorded spikes")
    if not names:
        raise ParameterError("plot_raster: no population of this run has spikes")
    step = _dt(observables, dt)
    scale, unit = (step * 1e6, "time (µs)") if step else (1.0, "time step")
    if graph is not None:
        colors = population_colors([p.name for p in graph.populations.values() if not p.is_input])
        color_of = {n: colors.get(n, INPUT_COLOR) for n in names}
    else:
        palette = population_colors(names)
        color_of = palette
    sizes = [observables[n].spikes.shape[2] for n in names]
    total = sum(sizes)
    height = float(np.clip(1.4 + 0.012 * total + 0.35 * len(names), 2.6, 8.0))
    fig = new_figure(9.0, height, constrained=True)
    marker_size = float(np.clip(0.8 * 72 * (height - 1.2) / total, 3.0, 9.0))  # about a neuron's height, in points
    ax = fig.add_subplot()
    ax.set_label("raster")
    offset = 0
    centres = []
    counts = []
    steps = 0
    for name, size in zip(names, sizes):
        spikes = _batch(observables[name].spikes, batch, f"spikes of {name!r}")
        steps = max(steps, spikes.shape[0])
        t, n = np.nonzero(spikes)
        counts.append(t.size)
        (line,) = ax.plot(t * scale, n + offset, linestyle="none", marker="|", markersize=marker_size,
                          markeredgewidth=1.6, color=color_of[name], label=f"{name} ({t.size} spikes)")
        line.set_gid(f"raster:{name}")
        if len(centres) % 2 == 1:
            ax.axhspan(offset - 0.5, offset + size - 0.5, color="#f3f3f3", zorder=0)
        centres.append(offset + (size - 1) / 2)
        offset += size
    ax.set_yticks(centres)
    ax.set_yticklabels([f"{n}\n{s} neurons\n{c} spikes" for n, s, c in zip(names, sizes, counts)], fontsize=8)
    ax.set_ylim(total - 0.5, -0.5)
    ax.set_xlim(-0.5 * scale, (steps - 0.5) * scale)
    ax.set_xlabel(unit)
    ax.set_ylabel("neuron")
    ax.set_title(title if title is not None else f"Spikes, batch entry {batch}", fontsize=10, loc="left")
    return fig


def _runs(observables: Union[RunLike, Mapping[str, RunLike]]) -> dict[str, RunLike]:
    if _is_run(observables):
        return {"": observables}
    if isinstance(observables, Mapping) and observables and all(_is_run(v) for v in observables.values()):
        return dict(observables)
    raise ParameterError("plot_traces draws a Run (or dict population → Observables), or a dict label → Run to "
                         f"compare runs (e.g. {{'mock': mock_run, 'emulator': chip_run}}); got "
                         f"{type(observables).__name__}")


def _neurons(neurons: Union[None, int, Sequence[int]], size: int) -> list[int]:
    if neurons is None:
        return list(range(min(size, 4)))
    chosen = [neurons] if isinstance(neurons, (int, np.integer)) else list(neurons)
    bad = [n for n in chosen if not (isinstance(n, (int, np.integer)) and 0 <= n < size)]
    if bad or not chosen:
        raise ParameterError(f"plot_traces: neurons must be indices in 0..{size - 1}; got {neurons!r}")
    return [int(n) for n in chosen]


def plot_traces(observables: Union[RunLike, Mapping[str, RunLike]], population: str,
                neurons: Union[None, int, Sequence[int]] = None, *, batch: int = 0, quantity: str = "membrane",
                dt: Optional[float] = None, threshold: Optional[float] = None, title: Optional[str] = None) -> Figure:
    """Membrane (or current) traces of some neurons of one population; returns the Figure.

    `observables`: a `Run`, or a dict label → `Run` whose traces are drawn on the same axes
    for comparison (`{"mock": ..., "emulator": ...}`). `neurons`: an index or a list
    (default: the first four), one panel each. The neuron's spikes, where recorded, are marked
    as ticks along the top in the colour of their run. `threshold` draws a dashed line.
    """
    runs = _runs(observables)
    if not isinstance(population, str):
        raise ParameterError(f"plot_traces: population must be a population's name; got {population!r}")
    if quantity not in QUANTITIES[:2]:
        raise ParameterError(f"plot_traces: quantity must be 'membrane' or 'current'; got {quantity!r}")
    traces: dict[str, np.ndarray] = {}
    spikes: dict[str, Optional[np.ndarray]] = {}
    for label, run in runs.items():
        if population not in run:
            raise UnknownNameError(f"plot_traces: no population {population!r} in run {label or ''!r}"
                                   f"{did_you_mean(population, run)}; populations: {known(run)}")
        obs = run[population]
        values = getattr(obs, quantity)
        if values is None:
            raise ParameterError(f"plot_traces: population {population!r} has no recorded {quantity} in run "
                                 f"{label or ''!r} (record it, e.g. record=('spikes', 'membrane'))")
        traces[label] = _batch(values, batch, f"{quantity} of {population!r}")
        spikes[label] = None if obs.spikes is None else _batch(obs.spikes, batch, f"spikes of {population!r}")
    size = next(iter(traces.values())).shape[1]
    chosen = _neurons(neurons, size)
    step = _dt(next(iter(runs.values())), dt)
    scale, unit = (step * 1e6, "time (µs)") if step else (1.0, "time step")
    colors = dict(zip(runs, series_colors(len(runs))))
    styles = ["-", "--", "-.", ":"]
    fig = new_figure(9.0, 1.0 + 1.7 * len(chosen), constrained=True)
    axes = fig.subplots(len(chosen), 1, sharex=True, squeeze=False)[:, 0]
    for ax, neuron in zip(axes, chosen):
        ax.set_label(f"traces:{neuron}")
        for i, (label, values) in enumerate(traces.items()):
            t = np.arange(values.shape[0]) * scale
            (line,) = ax.plot(t, values[:, neuron], color=colors[label], linestyle=styles[i % len(styles)], lw=1.4,
                              label=label or population)
            line.set_gid(f"trace:{label}:{neuron}")
            if spikes[label] is not None:
                times = np.nonzero(spikes[label][:, neuron])[0] * scale
                for x in times:
                    ax.axvline(x, ymin=0.92 - 0.07 * i, ymax=0.99 - 0.07 * i, color=colors[label], lw=1.5)
        if threshold is not None:
            ax.axhline(threshold, color="#888888", lw=0.8, ls="--")
        ax.set_ylabel(f"neuron {neuron}", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=8, ncol=len(traces))
    axes[-1].set_xlabel(unit)
    fig.suptitle(title if title is not None else f"{quantity.capitalize()} of {population!r}, batch entry {batch}"
                 + (" (ticks: spikes)" if any(s is not None for s in spikes.values()) else ""), fontsize=10, x=0.01,
                 ha="left")
    return fig
