"""Notebook display: Graph and ChipMapping show HTML with a drawing; figures display in IPython."""

import base64
import re
import subprocess
import sys
import types

import io

import matplotlib.image
from matplotlib.figure import Figure

import hxgraph as hx
from hxgraph.viz import plot_training, register_ipython_display
from viz_pixels import ten_neuron_graph


def embedded_pngs(html: str) -> list:
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    return [matplotlib.image.imread(io.BytesIO(base64.b64decode(data))) for data in images]


def test_graph_html_has_tables_and_a_drawing():
    graph = ten_neuron_graph()
    html = graph._repr_html_()
    assert "<b>Graph &#x27;ten&#x27;</b>" in html
    graph_density = graph.projection("h_to_out").connection_count / 21
    for name in ("x", "h", "out", "x_to_h", "h_to_out", f"sparse ({graph_density:.1%})", "LIF", "LI", "x → h"):
        assert f"<td style='text-align:left'>{name}</td>" in html, name
    (image,) = embedded_pngs(html)
    assert image.shape[0] > 100 and image.shape[1] > 300
    assert image[..., :3].std() > 0.05  # a drawing, not a blank canvas


def test_mapping_html_has_the_summary_and_the_placement():
    mapping = hx.place_and_route(ten_neuron_graph())
    html = mapping._repr_html_()
    assert "<pre>Mapping of &#x27;ten&#x27; onto HICANN-X" in html
    assert "neuron circuits: 10 of 512" in html
    (image,) = embedded_pngs(html)
    assert image.shape[1] > 800


def test_importing_hxgraph_does_not_load_matplotlib():
    code = ("import sys, hxgraph as hx; g = hx.Experiment('e').input('x', 1).lif('h', 1).dense('x', 'h').graph; "
            "hx.place_and_route(g); assert 'matplotlib' not in sys.modules and 'hxgraph.viz' not in sys.modules; "
            "hx.viz.plot_graph; assert 'hxgraph.viz' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_figures_display_in_ipython(monkeypatch):
    class PNGFormatter:
        def __init__(self):
            self.printers = {}

        def lookup_by_type(self, cls):
            if cls not in self.printers:
                raise KeyError(cls)
            return self.printers[cls]

        def for_type(self, cls, func):
            self.printers[cls] = func

    formatter = PNGFormatter()
    shell = types.SimpleNamespace(display_formatter=types.SimpleNamespace(formatters={"image/png": formatter}))
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert register_ipython_display()
    png = formatter.printers[Figure](plot_training({"test_accuracy": [0.5, 0.7]}))
    assert png.startswith(b"\x89PNG")
    assert not register_ipython_display()  # an existing formatter (e.g. pyplot's inline backend) is kept
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))
    assert not register_ipython_display()
