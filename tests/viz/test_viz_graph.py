"""plot_graph: one box per population, one arrow per projection, styles by kind and sign, loops visible."""

import numpy as np
import pytest
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

import hxgraph as hx
from hxgraph.viz import plot_graph
from hxgraph.viz._style import INPUT_COLOR, lighten, population_colors, projection_colors
from hxgraph.viz.graph import layers, recurrent_projections
from viz_pixels import Rendered


def recurrent_graph() -> hx.Graph:
    return (hx.Experiment("rec", seed=0).input("x", 20).lif("a", 100).lif("b", 50).li("out", 4)
            .dense("x", "a").sparse("a", "a", hx.connect.random(100, 100, 0.05, seed=0))
            .dense("a", "b", receptor="excitatory").dense("b", "a", receptor="inhibitory")
            .dense("b", "out").dense("x", "out", name="skip")).graph


def by_gid(figure, prefix):
    return {a.get_gid().split(":", 1)[1]: a for ax in figure.axes for a in ax.patches
            if (a.get_gid() or "").startswith(prefix)}


def test_layers_and_recurrence():
    graph = recurrent_graph()
    assert layers(graph) == {"x": 0, "a": 1, "b": 2, "out": 3}
    assert recurrent_projections(graph) == {"a_to_a", "b_to_a"}


def test_boxes_arrows_and_labels():
    graph = recurrent_graph()
    fig = plot_graph(graph)
    rendered = Rendered(fig)
    boxes = by_gid(fig, "population:")
    arrows = by_gid(fig, "projection:")
    assert list(boxes) == list(graph.populations)
    assert list(arrows) == list(graph.projections)
    assert all(isinstance(b, FancyBboxPatch) for b in boxes.values())
    assert all(isinstance(a, FancyArrowPatch) for a in arrows.values())
    # Left to right by depth.
    xs = [boxes[n].get_x() for n in ("x", "a", "b", "out")]
    assert xs == sorted(xs) and len(set(xs)) == 4
    # Dashed = sparse, bar head = inhibitory, width grows with the connections.
    assert arrows["a_to_a"].get_linestyle() == "--" and arrows["a_to_b"].get_linestyle() == "-"
    assert type(arrows["b_to_a"].get_arrowstyle()).__name__ == "BracketB"
    assert type(arrows["a_to_b"].get_arrowstyle()).__name__ == "CurveFilledB"
    assert arrows["a_to_b"].get_linewidth() > arrows["skip"].get_linewidth()
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "a_to_a\nsparse 5% ± · 500" in texts
    assert "b_to_a\ndense − · 5,000" in texts and "a_to_b\ndense + · 5,000" in texts
    assert "LIF · 100" in texts and "input · 20" in texts and "LI · 4" in texts
    # The self-loop rises above its box; the back edge b → a arcs above the straight a → b.
    box_top = boxes["a"].get_y() + boxes["a"].get_height()
    loop = arrows["a_to_a"].get_path()
    assert loop.vertices[:, 1].max() > box_top + 0.3
    back = arrows["b_to_a"].get_path()
    forward = arrows["a_to_b"].get_path()
    assert back.vertices[:, 1].max() > forward.vertices[:, 1].max() + 0.2
    # In the PNG: every box in its population's colour (inputs grey), every arrow in its projection's.
    colors = population_colors(["a", "b", "out"])
    for name, box in boxes.items():
        fill = lighten(INPUT_COLOR if name == "x" else colors[name], 0.6)
        assert rendered.count(fill, tolerance=0.02) > 300, name
    for name, color in projection_colors(graph.projections).items():
        assert rendered.count(color, tolerance=0.03) > 20, name


def test_yinyang_graph_and_errors():
    from hxgraph.tasks import yinyang
    graph = yinyang.build_experiment(sparse="hidden").graph
    fig = plot_graph(graph)
    assert "Graph 'yinyang': 3 populations, 2 projections" in fig._suptitle.get_text()
    assert not recurrent_projections(graph)
    one = hx.Experiment("one").input("x", 1).graph
    assert list(by_gid(plot_graph(one), "population:")) == ["x"]
    with pytest.raises(hx.ParameterError, match="experiment.graph"):
        plot_graph(hx.Experiment("e").input("x", 1))
    assert np.isfinite(fig.get_size_inches()).all()
