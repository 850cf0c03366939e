"""`plot_graph`: populations as boxes, projections as arrows, laid out left to right by depth.

Depth is the longest path from a population without feed-forward inputs, after setting
aside the projections that close a cycle (recurrent ones: self-loops and back edges, found
by a depth-first search in creation order). Those are drawn as arcs, so a recurrent network
reads as a feed-forward chain plus visible loops.
"""

from __future__ import annotations

import math
from typing import Optional

import networkx as nx
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from hxgraph.errors import ParameterError
from hxgraph.graph import Graph, Projection
from hxgraph.viz._style import INPUT_COLOR, lighten, new_figure, population_colors, projection_colors

SIGN = {"signed": "±", "excitatory": "+", "inhibitory": "−"}
DX, DY = 3.5, 1.5  # layer spacing and row spacing, in inches (the axes have equal aspect)
BOX_W, BOX_H = 1.7, 0.72


def recurrent_projections(graph: Graph) -> set[str]:
    """Projections that close a cycle: self-loops and back edges of a DFS in creation order."""
    out: dict[str, list[Projection]] = {name: [] for name in graph.populations}
    for proj in graph.projections.values():
        out[proj.source].append(proj)
    state = {name: 0 for name in graph.populations}  # 0 new, 1 on the stack, 2 done
    back: set[str] = set()
    has_input = {p.target for p in graph.projections.values() if p.source != p.target}
    roots = [n for n in graph.populations if n not in has_input] + list(graph.populations)
    for root in roots:
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(out[root]))]
        while stack:
            node, edges = stack[-1]
            proj = next(edges, None)
            if proj is None:
                state[node] = 2
                stack.pop()
                continue
            if state[proj.target] == 1:
                back.add(proj.name)
            elif state[proj.target] == 0:
                state[proj.target] = 1
                stack.append((proj.target, iter(out[proj.target])))
    return back


def layers(graph: Graph) -> dict[str, int]:
    """Depth of every population: the longest feed-forward path that reaches it."""
    recurrent = recurrent_projections(graph)
    dag = nx.DiGraph()
    dag.add_nodes_from(graph.populations)
    dag.add_edges_from((p.source, p.target) for p in graph.projections.values() if p.name not in recurrent)
    depth = {name: 0 for name in graph.populations}
    for node in nx.topological_sort(dag):
        for succ in dag.successors(node):
            depth[succ] = max(depth[succ], depth[node] + 1)
    return depth


def _edge_text(proj: Projection) -> str:
    count = proj.connection_count
    if proj.is_sparse:
        density = count / (proj.shape[0] * proj.shape[1])
        kind = f"sparse {density:.0%}" if density >= 0.01 else f"sparse {density:.2%}"
    else:
        kind = "dense"
    return f"{proj.name}\n{kind} {SIGN[proj.receptor]} · {count:,}"


def plot_graph(graph: Graph, *, title: Optional[str] = None) -> Figure:
    """Draw a graph: populations as boxes (name, model, size), projections as arrows; returns the Figure.

    Boxes are coloured by population (inputs grey) and placed left to right by depth. An
    arrow is solid for a dense projection, dashed for a sparse one, with a triangular head
    for signed (±) or excitatory (+) synapses and a bar for inhibitory (−) ones; its label
    gives the name, density and connection count, its width grows with the count.
    Recurrent projections are drawn as arcs (self-loops above the box).
    """
    if not isinstance(graph, Graph):
        hint = " (use experiment.graph)" if hasattr(graph, "graph") else ""
        raise ParameterError(f"plot_graph draws an hxgraph.Graph; got {type(graph).__name__}{hint}")
    depth = layers(graph)
    recurrent = recurrent_projections(graph)
    columns: dict[int, list[str]] = {}
    for name in graph.populations:
        columns.setdefault(depth[name], []).append(name)
    n_layers = max(columns) + 1 if columns else 1
    tallest = max((len(v) for v in columns.values()), default=1)
    pos = {}
    for d, names in columns.items():
        for i, name in enumerate(names):
            pos[name] = np.array([d * DX, ((len(names) - 1) / 2 - i) * DY])

    # Edge geometry first (the limits must include arcs and their labels).
    edges = []
    pair_count: dict[tuple[str, str], int] = {}
    for proj in graph.projections.values():
        pair = (proj.source, proj.target)
        k = pair_count.get(pair, 0)
        pair_count[pair] = k + 1
        a, b = pos[proj.source], pos[proj.target]
        if proj.source == proj.target:
            start, end = a + [-BOX_W / 4, BOX_H / 2], a + [BOX_W / 4, BOX_H / 2]
            rad = -1.6 - 0.5 * k
        else:
            # Back edges bend upwards, edges that skip a layer downwards (around the boxes between).
            backward = proj.name in recurrent or b[0] <= a[0]
            skips = abs(b[0] - a[0]) > DX * 1.5
            rad = (0.35 if backward else 0.2 if skips else 0.0) + 0.22 * k * (-1) ** k
            start, end = a, b
        # The label sits at the middle of the quadratic Bezier curve that arc3 draws.
        d = end - start
        control = (start + end) / 2 + rad * np.array([d[1], -d[0]])
        edges.append((proj, start, end, rad, (start + 2 * control + end) / 4))

    label_y = [e[4][1] for e in edges]
    xmin, xmax = -BOX_W / 2 - 0.5, (n_layers - 1) * DX + BOX_W / 2 + 0.5
    ymax = max([(tallest - 1) / 2 * DY + BOX_H / 2 + 0.6] + [y + 0.45 for y in label_y])
    ymin = min([-(tallest - 1) / 2 * DY - BOX_H / 2 - 0.5] + [y - 0.45 for y in label_y])
    width, height = xmax - xmin, ymax - ymin
    fig = new_figure(width + 0.4, height + 1.0)
    ax = fig.add_axes((0.2 / (width + 0.4), 0.55 / (height + 1.0), width / (width + 0.4), height / (height + 1.0)))
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_label("graph")

    on_chip = [p.name for p in graph.populations.values() if not p.is_input]
    colors = population_colors(on_chip)
    boxes = {}
    for name, pop in graph.populations.items():
        color = INPUT_COLOR if pop.is_input else colors[name]
        x, y = pos[name]
        box = FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H, boxstyle="round,pad=0.02,rounding_size=0.1",
                             facecolor=lighten(color, 0.6), edgecolor=color, linewidth=2.0, zorder=3)
        box.set_gid(f"population:{name}")
        ax.add_patch(box)
        boxes[name] = box
        detail = f"{pop.neuron_model.label} · {pop.size:,}"
        if not pop.is_input and pop.circuits_per_neuron > 1:
            detail += f" × {pop.circuits_per_neuron} circuits"
        ax.text(x, y + 0.1, name, ha="center", va="center", fontsize=10, fontweight="bold", zorder=4)
        ax.text(x, y - 0.17, detail, ha="center", va="center", fontsize=8, zorder=4)

    edge_colors = projection_colors(graph.projections)
    for proj, start, end, rad, label_at in edges:
        lw = 0.8 + 0.55 * math.log10(proj.connection_count + 1)
        arrowstyle = ("-[,widthB=0.5,lengthB=0.25" if proj.receptor == "inhibitory"
                      else "-|>,head_width=0.35,head_length=0.7")
        style = dict(arrowstyle=arrowstyle, mutation_scale=14, color=edge_colors[proj.name], linewidth=lw,
                     linestyle="--" if proj.is_sparse else "-", zorder=2, shrinkA=1, shrinkB=1)
        if proj.source != proj.target:
            style.update(patchA=boxes[proj.source], patchB=boxes[proj.target])
        arrow = FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={rad}", **style)
        arrow.set_gid(f"projection:{proj.name}")
        ax.add_patch(arrow)
        straight = rad == 0.0
        ax.text(label_at[0], label_at[1] + (0.08 if straight else 0.0), _edge_text(proj), ha="center",
                va="bottom" if straight else "center", fontsize=7.5, color=edge_colors[proj.name], zorder=5,
                bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.85))

    keys = [Line2D([], [], color="#444444", lw=2, label="dense"),
            Line2D([], [], color="#444444", lw=2, ls="--", label="sparse"),
            Line2D([], [], color="none", label="head ▶: signed (±) or excitatory (+); bar ⊣: inhibitory (−)"),
            Line2D([], [], color="none", label="label: density, sign, connections")]
    fig.legend(handles=keys, loc="lower left", ncol=4, fontsize=7.5, frameon=False, handlelength=2.2,
               bbox_to_anchor=(0.0, 0.0))
    summary = (f"{len(graph.populations)} populations, {len(graph.projections)} projections"
               + (f", {len(recurrent)} recurrent" if recurrent else "") + f", dt = {graph.dt:g} s")
    fig.suptitle(title if title is not None else f"Graph {graph.name!r}: {summary}", fontsize=11, x=0.02,
                 ha="left", y=0.985)
    return fig
