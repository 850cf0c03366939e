"""Drawings of graphs, chip mappings, recorded activity and training curves (matplotlib).

Every function returns a `matplotlib.figure.Figure` and never shows it: save it with
`save_figure(fig, path)` (atomic: never a half-written file) or `fig.savefig(path)`, or let
Jupyter display it. The figures belong to no pyplot state, so
nothing needs closing. A population has the same colour in every drawing.

- `plot_graph(graph)`: populations and projections, left to right by depth.
- `plot_placement(mapping)`: neuron circuits, synapse arrays, drivers and utilization; also
  draws a `MappingError` up to the resource that ran out.
- `plot_partition(partition)`: execution instances, their population slices and the spikes between
  them; `plot_partition(partition, instance=i)` draws instance i's placement.
- `plot_raster(run)`, `plot_traces(run_or_runs, population)`: spikes and membranes.
- `plot_training(history)`: loss and accuracy per epoch.
- `plot_sweep(result)`: a sweep's accuracy over emulated chips and per hyper-parameter.
"""

from hxgraph.viz._style import figure_format, figure_png, save_figure
from hxgraph.viz.activity import plot_raster, plot_traces
from hxgraph.viz.graph import plot_graph
from hxgraph.viz.notebook import graph_html, mapping_html, partition_html, register_ipython_display
from hxgraph.viz.partition import plot_partition
from hxgraph.viz.placement import plot_placement
from hxgraph.viz.sweep import plot_sweep
from hxgraph.viz.training import plot_training

__all__ = ["plot_graph", "plot_placement", "plot_partition", "partition_html", "plot_raster", "plot_traces", "plot_training", "plot_sweep", "figure_png", "save_figure",
           "figure_format", "graph_html", "mapping_html", "register_ipython_display"]

register_ipython_display()
