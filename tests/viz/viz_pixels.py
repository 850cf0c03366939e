"""Read rendered figures back: PNG pixels at data coordinates, colour matching, example networks."""

from __future__ import annotations

import io
from typing import Iterable, Sequence

import matplotlib.image
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

import hxgraph as hx
from hxgraph.graph import LinearSaturating
from hxgraph.viz import figure_png

DPI = 150


class Rendered:
    """A figure rendered to PNG, with a way to find the pixel under a data point of an axes."""

    def __init__(self, figure: Figure, dpi: float = DPI):
        self.figure = figure
        self.png = figure_png(figure, dpi=dpi)
        assert self.png[:8] == b"\x89PNG\r\n\x1a\n"
        self.pixels = matplotlib.image.imread(io.BytesIO(self.png))[..., :3]
        self.scale = dpi / figure.dpi  # transforms are in display units at figure.dpi (savefig drew the layout)

    def at(self, ax: Axes, points: Sequence[Sequence[float]]) -> np.ndarray:
        """RGB (n, 3) of the pixels under data points of `ax`."""
        xy = ax.transData.transform(np.asarray(points, dtype=float)) * self.scale
        # Pixel i covers [i, i + 1) in x; display y counts from the bottom.
        cols = np.clip(np.floor(xy[:, 0]).astype(int), 0, self.pixels.shape[1] - 1)
        rows = np.clip(np.floor(self.pixels.shape[0] - xy[:, 1]).astype(int), 0, self.pixels.shape[0] - 1)
        return self.pixels[rows, cols]

    def count(self, color: str, tolerance: float = 0.04) -> int:
        """Pixels within `tolerance` (per channel) of `color`."""
        return int((np.abs(self.pixels - np.array(to_rgb(color))) <= tolerance).all(-1).sum())


def nearest(rgb: np.ndarray, palette: dict[str, Iterable[float]]) -> list[str]:
    """For each RGB row, the palette key of the closest colour."""
    names = list(palette)
    colors = np.array([to_rgb(palette[n]) if isinstance(palette[n], str) else tuple(palette[n])[:3] for n in names])
    distance = ((rgb[:, None, :] - colors[None]) ** 2).sum(-1)
    return [names[i] for i in distance.argmin(1)]


def axes_by_label(figure: Figure, label: str) -> Axes:
    found = [ax for ax in figure.axes if ax.get_label() == label]
    assert len(found) == 1, [ax.get_label() for ax in figure.axes]
    return found[0]


TO_CHIP = LinearSaturating(scale=40.0)


def full_chip_graph() -> hx.Graph:
    """256 inputs → 246 hidden → 10 out, every neuron 2 circuits, dense signed: all 512 circuits."""
    return (hx.Experiment("full", seed=0).input("x", 256)
            .lif("hidden", 246, circuits_per_neuron=2).lif("out", 10, circuits_per_neuron=2)
            .dense("x", "hidden", init=hx.init.normal(0.0, 0.5), transform=TO_CHIP)
            .dense("hidden", "out", init=hx.init.normal(0.0, 0.5), transform=TO_CHIP)).graph


def ten_neuron_graph() -> hx.Graph:
    """4 inputs → 7 LIF → 3 LI with a sparse readout: 10 circuits."""
    return (hx.Experiment("ten", seed=0).input("x", 4).lif("h", 7).li("out", 3)
            .dense("x", "h", init=hx.init.normal(0.0, 1.0), transform=TO_CHIP)
            .sparse("h", "out", hx.connect.random(7, 3, 0.5, seed=1), init=hx.init.normal(0.0, 1.0),
                    transform=TO_CHIP)).graph


def oversize_graph() -> hx.Graph:
    """The full-chip network with one hidden neuron too many: 514 circuits."""
    return (hx.Experiment("oversize", seed=0).input("x", 256)
            .lif("hidden", 247, circuits_per_neuron=2).lif("out", 10, circuits_per_neuron=2)
            .dense("x", "hidden").dense("hidden", "out")).graph
