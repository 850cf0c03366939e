"""`plot_partition`: which population slice runs on which execution instance, and the spikes between them.

Each instance is drawn as a chip: a box whose bar shows its neuron circuits in use, split by
the population slices it runs (in their populations' colours, as in every other drawing).
Instances that depend only on earlier ones stand in one column, so the columns read left to
right in the order they run. Arrows carry the spike traffic between instances, as wide as the
number of neurons whose spikes they carry; the graph's inputs come from the host on the left.
`plot_partition(partition, instance=i)` draws instance i's placement as `plot_placement` does.
"""

from __future__ import annotations

from typing import Optional

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from hxgraph.chip.mapping import place_and_route
from hxgraph.chip.partitioning import Partition
from hxgraph.errors import ParameterError
from hxgraph.viz._style import INPUT_COLOR, UNUSED, new_figure, population_colors

BOX_W, BOX_H = 2.4, 1.0  # an instance's box, in data units
GAP_X, GAP_Y = 1.6, 0.6


def plot_partition(partition: Partition, *, instance: Optional[int] = None, title: Optional[str] = None) -> Figure:
    """The partition's instances, their slices and the traffic between them; or one instance's placement."""
    if not isinstance(partition, Partition):
        raise ParameterError(f"plot_partition draws a hxgraph Partition (from hx.partition); got "
                             f"{type(partition).__name__}")
    if instance is not None:
        return _instance_placement(partition, instance, title)
    levels = partition.levels()
    rows = max(len(level) for level in levels)
    height = max(2.6, 0.25 + rows * (BOX_H + GAP_Y) * 0.9)
    fig = new_figure(min(16.0, 2.2 + 2.2 * (len(levels) + 1)), height)
    ax = fig.add_axes((0.01, 0.02, 0.98, 0.86))
    ax.set_axis_off()
    populations = list(dict.fromkeys(s.population for inst in partition.instances for s in inst.slices))
    colors = population_colors(populations)
    where = {}
    for col, level in enumerate(levels, start=1):
        top = (rows - len(level)) * (BOX_H + GAP_Y) / 2
        for row, index in enumerate(level):
            x, y = col * (BOX_W + GAP_X), -(top + row * (BOX_H + GAP_Y))
            where[index] = (x, y)
            _draw_instance(ax, partition, index, x, y, colors)
    _draw_inputs(ax, partition, where, rows)
    widest = max((link.neurons for link in partition.links), default=1)
    for link in partition.links:
        (x0, y0), (x1, y1) = where[link.source], where[link.target]
        _arrow(ax, (x0 + BOX_W, y0 - BOX_H / 2), (x1, y1 - BOX_H / 2), 1 + 5 * link.neurons / widest,
               f"{link.neurons} neurons")
    ax.set_xlim(-0.3, (len(levels) + 1) * (BOX_W + GAP_X) - GAP_X + 0.3)
    ax.set_ylim(-(rows * (BOX_H + GAP_Y)), 0.5)
    n = len(partition.instances)
    fig.suptitle(title or f"Partition of {partition.graph_name!r}: {n} execution instance{'s' if n != 1 else ''} "
                 f"of {partition.chip}", fontsize=11)
    return fig


def _draw_instance(ax, partition: Partition, index: int, x: float, y: float, colors: dict[str, str]) -> None:
    inst = partition.instances[index]
    total = _chip_circuits(partition)
    ax.add_patch(Rectangle((x, y - BOX_H), BOX_W, BOX_H, facecolor="white", edgecolor="#333333", lw=1.2))
    ax.text(x + 0.08, y - 0.08, f"instance {index}", ha="left", va="top", fontsize=9, weight="bold")
    bar_y, bar_h = y - BOX_H + 0.12, 0.32
    ax.add_patch(Rectangle((x + 0.08, bar_y), BOX_W - 0.16, bar_h, facecolor=UNUSED, edgecolor="none"))
    left = x + 0.08
    cpn = dict(partition.circuits_per_neuron)
    for s in inst.slices:
        per = cpn.get(s.population, _circuits_per_neuron(partition, s.population))
        width = (BOX_W - 0.16) * s.size * per / total
        ax.add_patch(Rectangle((left, bar_y), width, bar_h, facecolor=colors[s.population], edgecolor="white",
                               lw=0.5))
        left += width
    names = ", ".join(s.name for s in inst.slices)
    if len(names) > 34:
        names = names[:31] + "..."
    ax.text(x + 0.08, bar_y + bar_h + 0.06, names, ha="left", va="bottom", fontsize=8)
    ax.text(x + BOX_W - 0.08, y - 0.08, f"{inst.circuits}/{total} circuits", ha="right", va="top", fontsize=7,
            color="#555555")


def _draw_inputs(ax, partition: Partition, where: dict[int, tuple[float, float]], rows: int) -> None:
    """The host on the left, with an arrow to every instance that receives the graph's input spikes."""
    slices = {s.name for inst in partition.instances for s in inst.slices}
    fed = [(inst.index, [n for n in inst.inputs if n not in slices]) for inst in partition.instances]
    fed = [(i, names) for i, names in fed if names]
    if not fed:
        return
    y = -(rows * (BOX_H + GAP_Y) - GAP_Y) / 2
    ax.add_patch(Rectangle((0, y - BOX_H / 2), BOX_W * 0.6, BOX_H, facecolor=INPUT_COLOR, alpha=0.25,
                           edgecolor=INPUT_COLOR))
    ax.text(BOX_W * 0.3, y, "host\ninputs", ha="center", va="center", fontsize=8)
    for index, names in fed:
        x1, y1 = where[index]
        _arrow(ax, (BOX_W * 0.6, y), (x1, y1 - BOX_H / 2), 1.0, ", ".join(names), color=INPUT_COLOR)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], width: float, label: str,
           color: str = "#444444") -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, lw=width, color=color,
                                 alpha=0.7, shrinkA=2, shrinkB=2))
    mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
    ax.text(mx, my + 0.05, label, ha="center", va="bottom", fontsize=7, color=color,
            bbox=dict(facecolor="white", edgecolor="none", pad=0.5, alpha=0.8))


def _chip_circuits(partition: Partition) -> int:
    if partition.spec is not None:
        return partition.spec.circuits
    return max([512] + [inst.circuits for inst in partition.instances])


def _circuits_per_neuron(partition: Partition, population: str) -> int:
    if partition.graph is not None:
        return partition.graph.population(population).circuits_per_neuron
    inst = next(i for i in partition.instances if any(s.population == population for s in i.slices))
    sizes = sum(s.size for s in inst.slices)
    return max(1, inst.circuits // max(sizes, 1))


def _instance_placement(partition: Partition, instance: int, title: Optional[str]) -> Figure:
    from hxgraph.viz.placement import plot_placement
    if isinstance(instance, bool) or not isinstance(instance, int) or not 0 <= instance < len(partition.instances):
        raise ParameterError(f"instance must be an index 0..{len(partition.instances) - 1} of the partition's "
                             f"instances; got {instance!r}")
    mapping = partition.mappings[instance] if partition.mappings else None
    if mapping is None:  # a partition made with verify=False (or read from a file): route the instance now
        mapping = place_and_route(partition.graphs[instance], partition.spec)
    names = ", ".join(s.name for s in partition.instances[instance].slices)
    return plot_placement(mapping, title=title or f"Instance {instance} of {partition.graph_name!r}: {names}")
