"""plot_placement: circuits per population, synapses per projection, signs, drivers, utilization, errors."""

import numpy as np
import pytest
from matplotlib.colors import to_rgb

import hxgraph as hx
from hxgraph.chip import ROW_EXCITATORY, ROW_INHIBITORY, ChipSpec
from hxgraph.viz import plot_placement
from hxgraph.viz._style import EXCITATORY, INHIBITORY, PROBLEM, UNUSED, lighten, population_colors, projection_colors
from hxgraph.viz.placement import chip_view
from viz_pixels import Rendered, axes_by_label, full_chip_graph, nearest, oversize_graph, ten_neuron_graph


@pytest.fixture(scope="module")
def full_mapping():
    return hx.place_and_route(full_chip_graph())


@pytest.fixture(scope="module")
def small_mapping():
    return hx.place_and_route(ten_neuron_graph())


def check_circuits(rendered: Rendered, mapping) -> None:
    """Every circuit's pixel has its population's colour; unused ones are grey; counts match the placement."""
    spec = mapping.spec
    colors = population_colors(mapping.placement.populations)
    palette = {**colors, "unused": UNUSED}
    owner = np.full((spec.hemispheres, spec.columns), "unused", dtype=object)
    for name, circuits in mapping.placement.circuits.items():
        flat = circuits.numpy().reshape(-1)
        owner[flat // spec.columns, flat % spec.columns] = name
    ax0 = axes_by_label(rendered.figure, "circuits:0")
    shown = int(round(ax0.get_xlim()[1] + 0.5))
    for h in range(spec.hemispheres):
        ax = axes_by_label(rendered.figure, f"circuits:{h}")
        columns = np.arange(shown)
        seen = nearest(rendered.at(ax, np.stack([columns, np.zeros(shown)], 1)), palette)
        assert seen == list(owner[h, :shown]), f"hemisphere {h}"
    # Nothing is placed outside the shown columns, so the colored circuits are all placed circuits.
    assert (owner[:, shown:] == "unused").all()
    colored = sum(1 for h in range(spec.hemispheres) for c in range(shown) if owner[h, c] != "unused")
    assert colored == sum(int(c.numel()) for c in mapping.placement.circuits.values())


def check_legends(figure, mapping) -> None:
    pops = axes_by_label(figure, "legend:populations").get_legend()
    texts = [t.get_text() for t in pops.get_texts()]
    assert len(texts) == len(mapping.placement.populations)
    for text, (name, circuits) in zip(texts, mapping.placement.circuits.items()):
        assert text == f"{name}: {circuits.shape[0]} × {circuits.shape[1]}"
    projs = axes_by_label(figure, "legend:projections").get_legend()
    texts = [t.get_text() for t in projs.get_texts()]
    assert [t.split(":")[0] for t in texts] == list(mapping.stats.projections)
    for text, stats in zip(texts, mapping.stats.projections.values()):
        assert f"{stats.synapses:,} synapses, {stats.rows} rows" in text


def check_synapses(rendered: Rendered, mapping, h: int) -> None:
    """Sampled synapse cells show their projection's colour (pale for weight 0) and free cells grey."""
    routing, spec = mapping.routing, mapping.spec
    colors = projection_colors(mapping.stats.projections)
    palette = {"unused": UNUSED}
    for name, color in colors.items():
        palette[name] = color
        palette[name + " (0)"] = lighten(color, 0.6)
    ax = axes_by_label(rendered.figure, f"synapses:{h}")
    ends = np.cumsum([p.connections for p in mapping.stats.projections.values()])
    names = list(colors)
    mine = routing.syn_h == h
    rows, cols = routing.syn_row[mine], routing.syn_col[mine]
    proj = np.searchsorted(ends, routing.syn_conn[mine], side="right")
    weight = mapping.config.synapse_weight.numpy()[h, rows, cols]
    rng = np.random.default_rng(0)
    pick = rng.choice(rows.size, size=min(300, rows.size), replace=False)
    expected = [names[p] + (" (0)" if w == 0 else "") for p, w in zip(proj[pick], weight[pick])]
    seen = nearest(rendered.at(ax, np.stack([cols[pick], rows[pick]], 1)), palette)
    # A pixel shared by neighbouring rows (about 1.7 pixels per row on the full chip) may show either.
    agree = np.mean([s == e for s, e in zip(seen, expected)])
    assert agree > 0.85, agree
    assert set(seen) - {"unused"} <= set(palette)
    # The image itself holds exactly one cell per placed synapse, in its projection's colour.
    image = ax.get_images()[0].get_array()
    for p, name in enumerate(names):
        on_h = int((proj == p).sum())
        cells = sum(int((np.abs(image[..., :3] - np.array(to_rgb(palette[key]))).sum(-1) < 1e-6).sum())
                    for key in (name, name + " (0)"))
        assert cells == on_h


def check_signs_and_drivers(rendered: Rendered, mapping, h: int) -> None:
    spec = mapping.spec
    mode = mapping.config.row_mode.numpy()[h]
    sign_ax = axes_by_label(rendered.figure, f"row sign:{h}")
    top = int(round(sign_ax.get_ylim()[0] + 0.5))
    rows = np.arange(top)
    seen = nearest(rendered.at(sign_ax, np.stack([np.zeros(top), rows], 1)),
                   {"exc": EXCITATORY, "inh": INHIBITORY, "off": "#fafafa"})
    expected = ["exc" if m == ROW_EXCITATORY else "inh" if m == ROW_INHIBITORY else "off" for m in mode[:top]]
    assert np.mean([a == b for a, b in zip(seen, expected)]) > 0.9
    drivers = axes_by_label(rendered.figure, f"drivers:{h}").get_images()[0].get_array()
    enabled = mapping.config.driver_enable.numpy()[h]
    used_rows = (np.abs(drivers[:, 0, :3] - np.array([0.98, 0.98, 0.98])).sum(-1) > 0.01)
    assert used_rows.sum() == enabled.sum() * spec.rows_per_driver


def check_utilization(figure, mapping) -> None:
    ax = axes_by_label(figure, "utilization")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    texts = [t.get_text() for t in ax.texts]
    s = mapping.stats
    assert labels[0] == "neuron circuits" and texts[0] == f"{s.circuits_used:,} / {s.circuits_available:,}"
    assert texts[1:3] == [f"{r} / {s.rows_available}" for r in s.rows_used]
    assert texts[3:] == [f"{d} / {s.drivers_per_bus}" for hem in s.drivers_used for d in hem]
    assert len(labels) == 1 + 2 + 8


def test_full_chip_mapping(full_mapping):
    fig = plot_placement(full_mapping)
    rendered = Rendered(fig)
    assert full_mapping.stats.circuits_used == 512
    check_legends(fig, full_mapping)
    check_circuits(rendered, full_mapping)
    for h in range(2):
        check_synapses(rendered, full_mapping, h)
        check_signs_and_drivers(rendered, full_mapping, h)
    check_utilization(fig, full_mapping)
    # The whole chip is shown.
    assert axes_by_label(fig, "synapses:0").get_xlim() == (-0.5, 255.5)
    assert axes_by_label(fig, "synapses:0").get_ylim() == (255.5, -0.5)


def test_ten_neuron_mapping_is_cropped_to_the_used_corner(small_mapping):
    fig = plot_placement(small_mapping)
    rendered = Rendered(fig)
    check_legends(fig, small_mapping)
    check_circuits(rendered, small_mapping)
    for h in range(2):
        check_synapses(rendered, small_mapping, h)
        check_signs_and_drivers(rendered, small_mapping, h)
    check_utilization(fig, small_mapping)
    xlim, ylim = axes_by_label(fig, "synapses:0").get_xlim(), axes_by_label(fig, "synapses:0").get_ylim()
    assert xlim == (-0.5, 127.5) and ylim == (15.5, -0.5)  # columns 0–127, rows 0–15
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts) + fig.axes[-1].get_xlabel()
    assert "rows 0–15 of 256 shown" in texts
    # Uncropped, the same mapping shows the whole chip.
    full = plot_placement(small_mapping, crop=False)
    assert axes_by_label(full, "synapses:1").get_ylim() == (255.5, -0.5)


def test_circuits_error_is_drawn_up_to_the_exhausted_resource():
    with pytest.raises(hx.MappingError) as info:
        hx.place_and_route(oversize_graph())
    error = info.value
    assert error.resource == "neuron circuits" and error.partial is not None
    fig = plot_placement(error)
    rendered = Rendered(fig)
    title = fig.texts[0].get_text()
    assert title == "Does not fit: neuron circuits — needs 514, has 512"
    # The circuits it could place are drawn: all 512, 'out' with 9 of its 10 neurons.
    legend = [t.get_text() for t in axes_by_label(fig, "legend:populations").get_legend().get_texts()]
    assert legend == ["hidden: 247 × 2", "out: 9 × 2"]
    colors = population_colors(["hidden", "out"])
    for h in range(2):
        ax = axes_by_label(fig, f"circuits:{h}")
        assert ax.spines["top"].get_edgecolor()[:3] == pytest.approx(lighten(PROBLEM, 0)[:3])
        seen = nearest(rendered.at(ax, np.stack([np.arange(256), np.zeros(256)], 1)),
                       {**colors, "unused": UNUSED})
        assert seen.count("hidden") == 247 and seen.count("out") == 9
    bars = axes_by_label(fig, "utilization")
    assert [t.get_text() for t in bars.texts] == ["514 / 512"]
    assert bars.get_yticklabels()[0].get_color() == PROBLEM
    assert rendered.count(PROBLEM) > 500  # frames, labels and the bar are red
    assert "try at most 246 neurons" in fig.texts[-1].get_text().replace("\n", " ")


def test_routing_error_frames_the_array_that_ran_out():
    graph = (hx.Experiment("yy", seed=0).input("x", 25).lif("hidden", 120).li("out", 3)
             .dense("x", "hidden").dense("hidden", "out")).graph
    with pytest.raises(hx.MappingError) as info:
        hx.place_and_route(graph, placement="first_fit", routing="simple")
    fig = plot_placement(info.value)
    view = chip_view(info.value)
    assert view.problem_areas() == {"array:0"}
    top = axes_by_label(fig, "synapses:0")
    assert any("needs 290, has 256" in t.get_text() for t in top.texts)
    assert top.spines["left"].get_linewidth() >= 2
    assert axes_by_label(fig, "synapses:1").spines["left"].get_linewidth() < 2
    bars = axes_by_label(fig, "utilization")
    assert [t.get_text() for t in bars.texts] == ["123 / 512", "290 / 256"]
    # Placement was reached, routing was not.
    assert [t.get_text() for t in axes_by_label(fig, "legend:populations").get_legend().get_texts()] == \
        ["hidden: 120 × 1", "out: 3 × 1"]


def test_fan_in_error_carries_a_placement_to_draw():
    graph = hx.Experiment("fan").input("x", 129).lif("h", 4).dense("x", "h").graph
    with pytest.raises(hx.MappingError) as info:
        hx.place_and_route(graph)
    assert info.value.partial is not None
    fig = plot_placement(info.value)
    assert chip_view(info.value).problem_areas() == {"array:0"}  # where the neurons that need the rows are
    assert [t.get_text() for t in axes_by_label(fig, "utilization").texts] == ["4 / 512", "258 / 256"]


def test_placement_and_small_chip():
    spec = ChipSpec.small()
    mapping = hx.place_and_route(ten_neuron_graph(), chip=spec)
    fig = plot_placement(mapping)
    assert axes_by_label(fig, "synapses:0").get_images()[0].get_array().shape[:2] == (32, 64)
    fig = plot_placement(mapping.placement)
    assert [t.get_text() for t in axes_by_label(fig, "utilization").texts] == ["10 / 128"]


def test_refuses_what_it_cannot_draw():
    with pytest.raises(hx.ParameterError, match="ChipMapping"):
        plot_placement(ten_neuron_graph())
