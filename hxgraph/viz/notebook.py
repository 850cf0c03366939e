"""Jupyter display: HTML for graphs and mappings, and PNG display of hxgraph's figures.

`Graph._repr_html_`, `ChipMapping._repr_html_` and `Partition._repr_html_` call `graph_html`,
`mapping_html` and `partition_html` (imported only when a notebook shows one, so
`hxgraph.graph` does not load matplotlib). Each gives the
text summary as HTML and embed the drawing as a PNG, which every notebook front end shows
and which survives in a saved notebook. Figures themselves display through IPython's PNG
formatter, registered by `register_ipython_display` when hxgraph.viz is imported inside
IPython (pyplot's inline backend does that only once pyplot is imported, and hxgraph's
figures do not use pyplot).
"""

from __future__ import annotations

import base64
import html
import sys
from typing import TYPE_CHECKING, Iterable, Sequence

from matplotlib.figure import Figure

from hxgraph.viz._style import figure_png

if TYPE_CHECKING:
    from hxgraph.chip.mapping import ChipMapping
    from hxgraph.chip.partitioning import Partition
    from hxgraph.graph import Graph

MAX_DRAWN_POPULATIONS = 40  # beyond this a graph drawing is unreadable; the tables remain


def png_img(figure: Figure, dpi: float = 72, alt: str = "") -> str:
    """An <img> tag with the figure embedded as base64 PNG."""
    data = base64.b64encode(figure_png(figure, dpi=dpi)).decode("ascii")
    return (f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" '
            'style="max-width: 100%; height: auto;"/>')


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def graph_html(graph: "Graph", picture: bool = True) -> str:
    """Tables of populations and projections, and the `plot_graph` drawing (small graphs)."""
    from hxgraph.viz.graph import plot_graph

    pops = []
    for p in graph.populations.values():
        placement = "-" if p.placement is None else (f"hemisphere {p.placement.hemisphere}"
                                                     if p.placement.hemisphere is not None
                                                     else f"{len(p.placement.circuits)} circuits")
        pops.append((p.name, p.neuron_model.label, p.size, "-" if p.is_input else p.circuits_per_neuron, placement,
                     ", ".join(sorted(p.record))))
    projs = []
    for p in graph.projections.values():
        density = p.connection_count / (p.shape[0] * p.shape[1])
        kind = f"sparse ({density:.1%})" if p.is_sparse else p.connectivity.kind
        projs.append((p.name, f"{p.source} → {p.target}", f"{p.shape[0]} × {p.shape[1]}", kind,
                      f"{p.connection_count:,}", p.receptor))
    parts = [f"<p><b>Graph {html.escape(repr(graph.name))}</b>: dt = {graph.dt:g} s, "
             f"{len(graph.populations)} populations, {len(graph.projections)} projections, "
             f"structure hash {graph.structure_hash()[:12]}</p>",
             _table(("population", "model", "size", "circuits/neuron", "placement", "records"), pops)]
    if projs:
        parts.append(_table(("projection", "source → target", "shape (out × in)", "connectivity", "connections",
                             "receptor"), projs))
    if picture and 0 < len(graph.populations) <= MAX_DRAWN_POPULATIONS:
        parts.append(png_img(plot_graph(graph), alt=f"graph {graph.name}"))
    return "<div>" + "".join(parts) + "</div>"


def mapping_html(mapping: "ChipMapping", picture: bool = True) -> str:
    """The mapping summary and the `plot_placement` drawing."""
    from hxgraph.viz.placement import plot_placement

    parts = [f"<pre>{html.escape(mapping.summary())}</pre>"]
    if picture:
        parts.append(png_img(plot_placement(mapping), dpi=64, alt=f"placement of {mapping.graph_name}"))
    return "<div>" + "".join(parts) + "</div>"


def partition_html(partition: "Partition", picture: bool = True) -> str:
    """The partition summary and the `plot_partition` drawing."""
    from hxgraph.viz.partition import plot_partition

    parts = [f"<pre>{html.escape(partition.summary())}</pre>"]
    if picture:
        parts.append(png_img(plot_partition(partition), dpi=64, alt=f"partition of {partition.graph_name}"))
    return "<div>" + "".join(parts) + "</div>"


def register_ipython_display() -> bool:
    """Inside IPython, show matplotlib Figures as PNG (unless a formatter exists); True if registered."""
    module = sys.modules.get("IPython")
    get_ipython = getattr(module, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    formatters = getattr(getattr(shell, "display_formatter", None), "formatters", None)
    if not formatters or "image/png" not in formatters:
        return False
    png = formatters["image/png"]
    try:
        png.lookup_by_type(Figure)
        return False  # pyplot's inline backend (or the user) already shows figures
    except KeyError:
        png.for_type(Figure, lambda figure: figure_png(figure, dpi=80))
        return True
