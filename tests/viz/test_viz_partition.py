"""plot_partition: every instance's bar shows its slices in their populations' colours; arrows carry the traffic."""

import warnings

import numpy as np
import pytest

import hxgraph as hx
from hxgraph.viz import partition_html, plot_partition
from hxgraph.viz._style import UNUSED, population_colors
from hxgraph.viz.partition import BOX_H, BOX_W, GAP_X, GAP_Y
from viz_pixels import Rendered, nearest


@pytest.fixture(scope="module")
def wide():
    graph = (hx.Experiment("wide", seed=0).input("x", 16).lif("h", 1200).li("o", 3)
             .dense("x", "h").dense("h", "o")).graph
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hx.ConsistencyWarning)
        return hx.partition(graph)


def test_instances_show_their_slices_and_the_spikes_between_them(wide):
    fig = plot_partition(wide)
    (ax,) = fig.axes
    texts = [t.get_text() for t in ax.texts]
    for inst in wide.instances:
        assert f"instance {inst.index}" in texts
        assert f"{inst.circuits}/512 circuits" in texts
    for link in wide.links:
        assert f"{link.neurons} neurons" in texts
    assert "x" in texts  # the host's inputs, named on their arrows
    rendered = Rendered(fig)
    colors = population_colors(["h", "o"])
    palette = {**colors, "unused": UNUSED}
    for index, level in ((i, lv) for lv, members in enumerate(wide.levels(), start=1) for i in members):
        inst = wide.instances[index]
        rows = max(len(m) for m in wide.levels())
        members = wide.levels()[level - 1]
        top = (rows - len(members)) * (BOX_H + GAP_Y) / 2
        x = level * (BOX_W + GAP_X)
        y = -(top + members.index(index) * (BOX_H + GAP_Y)) - BOX_H + 0.12 + 0.16  # the bar's middle
        # sample along the bar: the share of each colour follows the circuits of each slice
        xs = x + 0.08 + (np.arange(200) + 0.5) / 200 * (BOX_W - 0.16)
        names = nearest(rendered.at(ax, np.stack([xs, np.full(200, y)], 1)), palette)
        h = sum(s.size for s in inst.slices if s.population == "h")
        assert abs(names.count("h") / 200 - h / 512) < 0.03, index
        assert names.count("unused") / 200 == pytest.approx((512 - inst.circuits) / 512, abs=0.03)
    assert "Partition of 'wide'" in fig._suptitle.get_text()


def test_one_instance_is_drawn_as_its_placement(wide):
    fig = plot_partition(wide, instance=1)
    assert any(t.get_text() == "Instance 1 of 'wide': h[512:1024]" for t in fig.texts)
    with pytest.raises(hx.ParameterError, match="instance must be an index 0..2"):
        plot_partition(wide, instance=3)
    with pytest.raises(hx.ParameterError, match="Partition"):
        plot_partition(wide.graph)


def test_a_partition_displays_in_a_notebook(wide):
    page = partition_html(wide)
    assert "execution instances" in page and "<img" in page
    assert wide._repr_html_() == page
