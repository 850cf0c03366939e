"""`plot_placement`: a mapping drawn as the chip looks — neuron circuits, synapse arrays, drivers, use.

The picture follows the chip's floor plan: the top synapse array above the two rows of
neuron circuits, the bottom array below them; column c of an array feeds the circuit in
column c. Next to each array a strip shows the sign of every synapse row and one shows the
synapse drivers (two rows each) by the event bus they listen to. A panel on the right lists
the populations and projections and how much of each resource the mapping uses.

A `MappingError` is drawn too: the placement it carries (as far as placement got) and the
resource that ran out, framed and in red, with the error's explanation underneath.
"""

from __future__ import annotations

import textwrap
from typing import Any, Optional, Union

import attrs
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.transforms import blended_transform_factory

from hxgraph.chip.config import ROW_EXCITATORY, ROW_INHIBITORY
from hxgraph.chip.mapping import ChipMapping
from hxgraph.chip.placement import NeuronPlacement
from hxgraph.chip.spec import HICANN_X, ChipSpec
from hxgraph.errors import MappingError, ParameterError
from hxgraph.viz._style import (BUS_COLORS, EMPTY, EXCITATORY, INHIBITORY, PROBLEM, UNUSED, lighten, new_figure,
                                population_colors, projection_colors, rgba)

Drawable = Union[ChipMapping, NeuronPlacement, MappingError]


@attrs.frozen
class Bar:
    """One line of the utilization panel: `used` of `available`; `problem` marks the exhausted resource."""

    label: str
    used: int
    available: int
    problem: bool = False


@attrs.frozen(eq=False)
class ChipView:
    """What `plot_placement` draws, gathered from a mapping, a placement or a failed mapping.

    Arrays are numpy; `synapse_projection` is (H, R, C) with -1 where no synapse is placed,
    `synapse_zero` marks placed synapses of weight 0, `row_mode` is (H, R), `driver_bus`
    (H, drivers) is the bus of every enabled driver and -1 for disabled ones. They are None
    when routing was not reached.
    """

    spec: ChipSpec
    title: str
    populations: tuple[str, ...]
    circuit_population: np.ndarray  # (H, C) index into populations, -1 unused
    neuron_shape: dict[str, tuple[int, int]]  # population -> (neurons placed, circuits per neuron)
    projections: tuple[str, ...] = ()
    projection_text: dict[str, str] = attrs.Factory(dict)
    synapse_projection: Optional[np.ndarray] = None
    synapse_zero: Optional[np.ndarray] = None
    row_mode: Optional[np.ndarray] = None
    driver_bus: Optional[np.ndarray] = None
    bars: tuple[Bar, ...] = ()
    error: Optional[MappingError] = None

    @property
    def routed(self) -> bool:
        return self.synapse_projection is not None

    def problem_areas(self) -> set[str]:
        """Parts of the picture the exhausted resource belongs to: circuits, array:h, drivers:h."""
        if self.error is None:
            return set()
        resource = (self.error.resource or "").lower()
        H = self.spec.hemispheres
        named = [h for h in range(H) if f"({self.spec.hemisphere_name(h)} " in resource]
        placed = [h for h in range(H) if (self.circuit_population[h] >= 0).any()]
        hems = named or placed or list(range(H))
        if "neuron circuit" in resource:
            return {"circuits"}
        if "label" in resource or "driver group" in resource or "event bus" in resource:
            return {f"drivers:{h}" for h in hems}
        if "row" in resource:
            return {f"array:{h}" for h in hems}
        return set()


def chip_view(obj: Drawable) -> ChipView:
    """Collect what the placement figure shows from a `ChipMapping`, `NeuronPlacement` or `MappingError`."""
    if isinstance(obj, ChipMapping):
        return _mapping_view(obj)
    if isinstance(obj, NeuronPlacement):
        return _placement_view(obj, f"Placement ({obj.strategy}) on {obj.spec.name}")
    if isinstance(obj, MappingError):
        return _error_view(obj)
    raise ParameterError(f"plot_placement draws a ChipMapping (from hx.place_and_route), a NeuronPlacement or a "
                         f"MappingError; got {type(obj).__name__}")


def _circuits(placement: Optional[NeuronPlacement], spec: ChipSpec) -> tuple[tuple[str, ...], np.ndarray, dict]:
    grid = np.full((spec.hemispheres, spec.columns), -1, dtype=np.int64)
    if placement is None:
        return (), grid, {}
    names = tuple(placement.circuits)
    shapes = {}
    for i, name in enumerate(names):
        c = placement.circuits[name].numpy()
        shapes[name] = (int(c.shape[0]), int(c.shape[1]))
        flat = c.reshape(-1)
        grid[flat // spec.columns, flat % spec.columns] = i
    return names, grid, shapes


def _placement_view(placement: NeuronPlacement, title: str, **extra: Any) -> ChipView:
    spec = placement.spec
    names, grid, shapes = _circuits(placement, spec)
    bars = (Bar("neuron circuits", placement.circuits_used, spec.circuits),)
    return ChipView(spec, title, names, grid, shapes, bars=extra.pop("bars", bars), **extra)


def _mapping_view(mapping: ChipMapping) -> ChipView:
    spec, stats, routing = mapping.spec, mapping.stats, mapping.routing
    H, R, C = spec.hemispheres, spec.synapse_rows, spec.columns
    names = tuple(stats.projections)
    # Synapses are listed per connection; connections are numbered projection after projection.
    ends = np.cumsum([p.connections for p in stats.projections.values()], dtype=np.int64)
    syn_proj = np.searchsorted(ends, routing.syn_conn, side="right")
    projection = np.full((H, R, C), -1, dtype=np.int64)
    projection[routing.syn_h, routing.syn_row, routing.syn_col] = syn_proj
    weight = mapping.config.synapse_weight.numpy()
    zero = (projection >= 0) & (weight == 0)
    enabled = mapping.config.driver_enable.numpy()
    B = spec.buses_per_hemisphere
    driver_bus = np.where(enabled, np.arange(enabled.shape[1])[None] % B, -1)
    text = {name: f"{p.synapses:,} synapses, {p.rows} rows" for name, p in stats.projections.items()}
    bars = [Bar("neuron circuits", stats.circuits_used, stats.circuits_available)]
    bars += [Bar(f"synapse rows, {spec.hemisphere_name(h)}", stats.rows_used[h], stats.rows_available)
             for h in range(H)]
    bars += [Bar(f"drivers, {spec.hemisphere_name(h)} bus {b}", stats.drivers_used[h][b], stats.drivers_per_bus)
             for h in range(H) for b in range(B)]
    title = (f"Mapping of {mapping.graph_name!r} onto {spec.name} "
             f"(placement: {mapping.placement.strategy}, routing: {mapping.routing_mode})")
    return _placement_view(mapping.placement, title, projections=names, projection_text=text,
                           synapse_projection=projection, synapse_zero=zero,
                           row_mode=mapping.config.row_mode.numpy(), driver_bus=driver_bus, bars=tuple(bars))


def _error_view(error: MappingError) -> ChipView:
    placement = error.partial if isinstance(error.partial, NeuronPlacement) else None
    spec = placement.spec if placement is not None else HICANN_X
    resource = error.resource or "a chip resource"
    needed = "?" if error.needed is None else f"{error.needed:,}"
    available = "?" if error.available is None else f"{error.available:,}"
    title = f"Does not fit: {resource} — needs {needed}, has {available}"
    used = placement.circuits_used if placement is not None else 0
    bars = []
    if resource == "neuron circuits":
        bars.append(Bar("neuron circuits", int(error.needed or used), spec.circuits, problem=True))
    else:
        bars.append(Bar("neuron circuits", used, spec.circuits))
        if error.needed is not None and error.available is not None:
            bars.append(Bar(resource, int(error.needed), int(error.available), problem=True))
    if placement is None:
        return ChipView(spec, title, (), np.full((spec.hemispheres, spec.columns), -1), {}, bars=tuple(bars),
                        error=error)
    return _placement_view(placement, title, bars=tuple(bars), error=error)


# --------------------------------------------------------------------------- drawing

def _extent(view: ChipView, crop: bool) -> tuple[int, int]:
    """Columns and rows to show: the used region rounded up (32 columns, 16 rows), or the whole chip."""
    spec = view.spec
    columns, rows = spec.columns, spec.synapse_rows
    if not crop:
        return columns, rows
    used_cols = np.flatnonzero((view.circuit_population >= 0).any(0))
    if view.routed:
        used_cols = np.union1d(used_cols, np.flatnonzero((view.synapse_projection >= 0).any((0, 1))))
    step = spec.columns_per_event_output
    show_c = columns if used_cols.size == 0 else min(columns, step * -(-(int(used_cols.max()) + 1) // step))
    show_r = rows
    if view.routed:
        used_rows = np.flatnonzero((view.row_mode != 0).any(0))
        if used_rows.size:
            show_r = min(rows, 16 * -(-(int(used_rows.max()) + 1) // 16))
    # Crop only when it helps: the used part must be small compared with the chip.
    if show_c > columns // 2:
        show_c = columns
    if show_r > rows // 2:
        show_r = rows
    return show_c, show_r


def _frame(ax: Axes, label: str) -> None:
    """Mark the part of the chip whose resource ran out: red spines and, if given, a label."""
    for spine in ax.spines.values():
        spine.set_edgecolor(PROBLEM)
        spine.set_linewidth(2.0)
    if label:
        ax.text(0.5, 0.5, label, transform=ax.transAxes, ha="center", va="center", color=PROBLEM, fontsize=11,
                fontweight="bold", bbox=dict(boxstyle="round", facecolor="white", edgecolor=PROBLEM, alpha=0.9))


def plot_placement(mapping: Drawable, *, crop: bool = True, title: Optional[str] = None,
                   width: float = 15.0) -> Figure:
    """Draw where a network sits on the chip and what it uses; returns the Figure.

    `mapping`: a `ChipMapping` (from `hx.place_and_route`), a `NeuronPlacement`, or a
    `MappingError` (drawn up to the resource that ran out, which is framed in red). Neuron
    circuits are coloured by population, synapses by projection (pale: weight 0, kept for
    weight updates); the strips beside each array show the row sign (excitatory red,
    inhibitory blue) and the enabled synapse drivers shaded by event bus. `crop` shows only
    the used corner of the arrays when it is small (for a network of a few neurons); the
    axes say which part is shown.
    """
    view = chip_view(mapping)
    spec = view.spec
    H = spec.hemispheres
    show_c, show_r = _extent(view, crop)
    pop_colors = population_colors(view.populations)
    proj_colors = projection_colors(view.projections)
    problems = view.problem_areas()

    height = 2.6 * H + 0.45 * H + 1.6 + (1.0 if view.error is not None else 0.0)
    fig = new_figure(width, height)
    bottom = (1.15 if view.error is not None else 0.45) / height
    outer = fig.add_gridspec(1, 2, width_ratios=[width - 5.1, 3.9], left=0.95 / width, right=1 - 0.15 / width,
                             top=1 - 0.75 / height, bottom=bottom, wspace=0.06)
    # Left: arrays and circuit rows in floor-plan order (top array, circuits, bottom array...).
    order = []  # (kind, hemisphere)
    for h in range(H):
        if h % 2 == 0:
            order += [("array", h), ("circuits", h)]
        else:
            order += [("circuits", h), ("array", h)]
    ratios = [2.6 if kind == "array" else 0.22 for kind, _ in order]
    left = outer[0].subgridspec(len(order), 3, height_ratios=ratios, width_ratios=[40, 0.8, 1.2], hspace=0.08,
                                wspace=0.02)
    axes: dict[tuple[str, int], Axes] = {}
    main_axes: list[Axes] = []
    for i, (kind, h) in enumerate(order):
        ax = fig.add_subplot(left[i, 0], sharex=main_axes[0] if main_axes else None)
        main_axes.append(ax)
        axes[(kind, h)] = ax
        if kind == "array":
            axes[("sign", h)] = fig.add_subplot(left[i, 1], sharey=ax)
            axes[("drivers", h)] = fig.add_subplot(left[i, 2], sharey=ax)

    boundaries = np.arange(spec.columns_per_event_output, show_c, spec.columns_per_event_output) - 0.5
    for (kind, h), ax in list(axes.items()):
        if kind == "array":
            _draw_array(ax, view, h, proj_colors, show_r)
            _draw_sign(axes[("sign", h)], view, h)
            _draw_drivers(axes[("drivers", h)], view, h)
            for x in boundaries:
                ax.axvline(x, color="#bbbbbb", lw=0.6, ls=":", zorder=3)
            if f"array:{h}" in problems:
                _frame(ax, _problem_label(view))
            if f"drivers:{h}" in problems:
                _frame(axes[("drivers", h)], "")
        elif kind == "circuits":
            _draw_circuits(ax, view, h, pop_colors, show_c)
            for x in boundaries:
                ax.axvline(x, color="white", lw=1.2, zorder=3)
    # Event buses: the circuits of each block of 32 columns send their spikes on one bus.
    first_circuits = axes[("circuits", 0)]
    step = spec.columns_per_event_output
    below = blended_transform_factory(first_circuits.transData, first_circuits.transAxes)
    for start in range(0, show_c, step):
        first_circuits.text(start + step / 2 - 0.5, -0.08, f"spikes → bus {spec.bus_of_column(start)}", ha="center",
                            va="top", fontsize=7, color="#444444", transform=below, clip_on=False)
    last = main_axes[-1]
    last.set_xlim(-0.5, show_c - 0.5)
    last.set_xticks(np.arange(0, show_c, spec.columns_per_event_output if show_c > 64 else 8))
    last.tick_params(axis="x", labelbottom=True)
    last.set_xlabel(f"column (neuron circuit / synapse column){_shown(show_c, spec.columns, 'columns')}")
    if "circuits" in problems:
        ax = axes[("circuits", 0)]
        _frame(ax, "")
        if H > 1:
            _frame(axes[("circuits", 1)], "")
        ax.text(0.5, 1.15, _problem_label(view), transform=ax.transAxes, ha="center", va="bottom", color=PROBLEM,
                fontsize=11, fontweight="bold",
                bbox=dict(boxstyle="round", facecolor="white", edgecolor=PROBLEM), zorder=10)

    _draw_panel(fig, outer[1], view, pop_colors, proj_colors)
    heading = title if title is not None else view.title
    fig.text(0.95 / width, 1 - 0.12 / height, heading, ha="left", va="top", fontsize=13, fontweight="bold",
             color=PROBLEM if view.error is not None else "black")
    fig.text(0.95 / width, 1 - 0.45 / height, spec.describe(), ha="left", va="top", fontsize=8.5, color="#555555")
    if view.error is not None:
        wrapped = textwrap.fill(str(view.error), width=int(width * 15))
        fig.text(0.95 / width, 0.12 / height, wrapped, ha="left", va="bottom", fontsize=8.5, color="#7a0c0c",
                 bbox=dict(boxstyle="round", facecolor="#fff3f3", edgecolor=PROBLEM))
    return fig


def _shown(shown: int, total: int, what: str) -> str:
    return "" if shown >= total else f"; {what} 0–{shown - 1} of {total} shown"


def _problem_label(view: ChipView) -> str:
    e = view.error
    if e is None:
        return ""
    if e.needed is None or e.available is None:
        return f"{e.resource}: exhausted"
    return f"{e.resource}: needs {e.needed:,}, has {e.available:,}"


def _draw_array(ax: Axes, view: ChipView, h: int, colors: dict[str, str], show_r: int) -> None:
    """One synapse array: every placed synapse in its projection's colour (pale for weight 0)."""
    spec = view.spec
    R, C = spec.synapse_rows, spec.columns
    image = np.empty((R, C, 4))
    image[:] = rgba(EMPTY)
    if view.routed:
        image[:] = rgba(UNUSED)
        proj = view.synapse_projection[h]
        for i, name in enumerate(view.projections):
            mine = proj == i
            image[mine & ~view.synapse_zero[h]] = rgba(colors[name])
            image[mine & view.synapse_zero[h]] = lighten(colors[name], 0.6)
    ax.imshow(image, aspect="auto", interpolation="nearest", extent=(-0.5, C - 0.5, R - 0.5, -0.5))
    ax.set_ylim(show_r - 0.5, -0.5)
    ax.set_ylabel(f"{spec.hemisphere_name(h)} synapse rows", fontsize=9)
    ax.tick_params(axis="x", labelbottom=False, labeltop=False)
    ax.tick_params(labelsize=8)
    ax.set_label(f"synapses:{h}")
    if show_r < R:
        ax.text(1.0, 1.0, f"rows 0–{show_r - 1} of {R} shown", transform=ax.transAxes, ha="right", va="bottom",
                fontsize=7.5, color="#555555")
    if not view.routed:
        ax.text(0.5, 0.3, "not routed", transform=ax.transAxes, ha="center", va="center", color="#999999",
                fontsize=12)


def _draw_sign(ax: Axes, view: ChipView, h: int) -> None:
    """The ± strip: each synapse row's mode (excitatory, inhibitory, disabled)."""
    R = view.spec.synapse_rows
    image = np.empty((R, 1, 4))
    image[:] = rgba(EMPTY)
    if view.routed:
        mode = view.row_mode[h]
        image[mode == ROW_EXCITATORY, 0] = rgba(EXCITATORY)
        image[mode == ROW_INHIBITORY, 0] = rgba(INHIBITORY)
    ax.imshow(image, aspect="auto", interpolation="nearest", extent=(-0.5, 0.5, R - 0.5, -0.5))
    ax.set_xticks([0])
    ax.set_xticklabels(["±"], fontsize=8)
    ax.tick_params(axis="x", length=0, labelbottom=h == view.spec.hemispheres - 1, labeltop=h == 0)
    ax.tick_params(axis="y", left=False, labelleft=False)
    ax.set_label(f"row sign:{h}")


def _draw_drivers(ax: Axes, view: ChipView, h: int) -> None:
    """The drv strip: every enabled synapse driver (two rows) shaded by the event bus it listens to."""
    spec = view.spec
    R = spec.synapse_rows
    image = np.empty((R, 1, 4))
    image[:] = rgba(EMPTY)
    if view.routed:
        bus = np.repeat(view.driver_bus[h], spec.rows_per_driver)[:R]
        for b in range(spec.buses_per_hemisphere):
            image[bus == b, 0] = rgba(BUS_COLORS[b % len(BUS_COLORS)])
    ax.imshow(image, aspect="auto", interpolation="nearest", extent=(-0.5, 0.5, R - 0.5, -0.5))
    ax.set_xticks([0])
    ax.set_xticklabels(["drv"], fontsize=7.5)
    ax.tick_params(axis="x", length=0, labelbottom=h == spec.hemispheres - 1, labeltop=h == 0)
    ax.tick_params(axis="y", left=False, labelleft=False)
    ax.set_label(f"drivers:{h}")


def _draw_circuits(ax: Axes, view: ChipView, h: int, colors: dict[str, str], show_c: int) -> None:
    """One row of neuron circuits, each in its population's colour (grey: unused)."""
    spec = view.spec
    C = spec.columns
    image = np.empty((1, C, 4))
    image[:] = rgba(UNUSED)
    owner = view.circuit_population[h]
    for i, name in enumerate(view.populations):
        image[0, owner == i] = rgba(colors[name])
    ax.imshow(image, aspect="auto", interpolation="nearest", extent=(-0.5, C - 0.5, 0.5, -0.5))
    if show_c <= 64:  # few columns: separate the circuits so they can be counted
        for x in np.arange(0.5, show_c - 1, 1.0):
            ax.axvline(x, color="white", lw=0.5, zorder=2)
    ax.set_yticks([0])
    ax.set_yticklabels([f"{spec.hemisphere_name(h)} circuits"], fontsize=8)
    ax.tick_params(axis="y", length=0)
    ax.tick_params(axis="x", labelbottom=False, bottom=False)
    ax.set_label(f"circuits:{h}")


def _draw_panel(fig: Figure, spec_area: Any, view: ChipView, pop_colors: dict[str, str],
                proj_colors: dict[str, str]) -> None:
    """The right-hand panel: legends of populations, projections and strips, then utilization."""
    npop, nproj = max(len(view.populations), 1), max(len(view.projections), 1)
    slots = max(len(view.bars), 1 + view.spec.hemispheres * (1 + view.spec.buses_per_hemisphere))
    grid = spec_area.subgridspec(4, 1, height_ratios=[npop + 1.6, nproj + 1.6, 4.2, slots * 0.85 + 1.4], hspace=0.05)
    ax = fig.add_subplot(grid[0])
    ax.axis("off")
    ax.set_label("legend:populations")
    handles = [Patch(facecolor=pop_colors[name], label=f"{name}: {n} × {per}")
               for name, (n, per) in view.neuron_shape.items()]
    if handles:
        ax.legend(handles=handles, title="populations (neurons × circuits)", loc="upper left", fontsize=8.5,
                  title_fontsize=9, frameon=False, alignment="left")
    else:
        ax.text(0, 1, "no neurons placed", va="top", fontsize=9, color="#777777", transform=ax.transAxes)
    ax = fig.add_subplot(grid[1])
    ax.axis("off")
    ax.set_label("legend:projections")
    if view.routed:
        handles = [Patch(facecolor=proj_colors[name], label=f"{name}: {view.projection_text.get(name, '')}")
                   for name in view.projections]
        if handles:
            ax.legend(handles=handles, title="projections (synapses; pale: weight 0)", loc="upper left",
                      fontsize=8.5, title_fontsize=9, frameon=False, alignment="left")
    else:
        ax.text(0, 1, "projections: not routed", va="top", fontsize=9, color="#777777", transform=ax.transAxes)
    ax = fig.add_subplot(grid[2])
    ax.axis("off")
    ax.set_label("legend:keys")
    keys = [Patch(facecolor=EXCITATORY, label="excitatory row"), Patch(facecolor=INHIBITORY, label="inhibitory row")]
    keys += [Patch(facecolor=BUS_COLORS[b % len(BUS_COLORS)], label=f"driver on event bus {b}")
             for b in range(view.spec.buses_per_hemisphere)]
    ax.legend(handles=keys, title="strips: row sign (±), synapse drivers (drv)", loc="upper left", fontsize=8,
              title_fontsize=9, frameon=False, ncol=2, alignment="left")
    # The bar labels need room on the left: the bars take the right part of the panel.
    _draw_bars(fig.add_subplot(grid[3].subgridspec(1, 2, width_ratios=[1.45, 2.45], wspace=0)[1]), view.bars, slots)


def _draw_bars(ax: Axes, bars: tuple[Bar, ...], slots: int) -> None:
    """Used / available per resource; the exhausted one red, with its overflow hatched."""
    ax.set_label("utilization")
    y = np.arange(len(bars))
    for i, bar in enumerate(bars):
        fraction = bar.used / bar.available if bar.available else 0.0
        color = PROBLEM if bar.problem else ("#4c72b0" if fraction < 0.9 else "#dd8452")
        ax.barh(i, min(fraction, 1.0), color=color, height=0.65)
        if fraction > 1:
            ax.barh(i, min(fraction, 1.6) - 1, left=1.0, color="white", edgecolor=PROBLEM, hatch="////", height=0.65)
        ax.text(min(fraction, 1.6) + 0.03, i, f"{bar.used:,} / {bar.available:,}", va="center", fontsize=8,
                color=PROBLEM if bar.problem else "black", fontweight="bold" if bar.problem else "normal")
    ax.axvline(1.0, color="#333333", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([b.label for b in bars], fontsize=8)
    for label, bar in zip(ax.get_yticklabels(), bars):
        if bar.problem:
            label.set_color(PROBLEM)
    ax.set_ylim(slots - 0.5, -0.5)
    ax.set_xlim(0, 2.0)
    ax.set_xticks([0, 0.5, 1.0])
    ax.set_xticklabels(["0", "50%", "100%"], fontsize=7.5)
    ax.set_title("utilization (used / available)", fontsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
