"""Colours, figure creation and PNG export shared by the drawings.

Figures are made with `matplotlib.figure.Figure` directly, not with pyplot: no global
figure registry, no backend switch, nothing shown behind the caller's back, and nothing to
close. A population has the same colour in every drawing (its index among the on-chip
populations), so the graph, the placement and the raster can be read side by side.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Iterable, Sequence

from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from hxgraph.errors import ParameterError
from hxgraph.files import atomic_write, target_path

# On-chip populations: tab10 without its red and blue (those mark synapse signs) and grey,
# then the light tab20 variants.
POPULATION_COLORS = ("#ff7f0e", "#2ca02c", "#9467bd", "#e377c2", "#bcbd22", "#17becf", "#8c564b",
                     "#ffbb78", "#98df8a", "#c5b0d5", "#f7b6d2", "#dbdb8d", "#9edae5", "#c49c94")
INPUT_COLOR = "#7f7f7f"
# Projections: dark, saturated hues away from the first population colours and from red/blue.
PROJECTION_COLORS = ("#00838f", "#d81b60", "#6d4c41", "#546e7a", "#9e9d24", "#6a1b9a", "#ef6c00", "#2e7d32",
                     "#ad1457", "#00695c", "#4e342e", "#37474f", "#827717")
EXCITATORY = "#c0392b"
INHIBITORY = "#2e5fa8"
SIGNED = "#555555"
RECEPTOR_COLORS = {"excitatory": EXCITATORY, "inhibitory": INHIBITORY, "signed": SIGNED}
BUS_COLORS = ("#3b3b3b", "#7a7a7a", "#a9a9a9", "#d0d0d0")  # drivers by event bus (bus % 4)
UNUSED = "#eeeeee"
EMPTY = "#fafafa"
PROBLEM = "#d7191c"


def population_colors(names: Iterable[str]) -> dict[str, str]:
    """Colour of each on-chip population, by its position among them (cycles after 14)."""
    return {name: POPULATION_COLORS[i % len(POPULATION_COLORS)] for i, name in enumerate(names)}


def projection_colors(names: Iterable[str]) -> dict[str, str]:
    """Colour of each projection, by its position (cycles after 13)."""
    return {name: PROJECTION_COLORS[i % len(PROJECTION_COLORS)] for i, name in enumerate(names)}


def series_colors(count: int) -> list[str]:
    """Distinct colours for compared series (back ends, training phases)."""
    base = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
    return [base[i % len(base)] for i in range(count)]


def rgba(color: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    return to_rgba(color, alpha)


def lighten(color: str, amount: float) -> tuple[float, float, float, float]:
    """`color` blended with white by `amount` (0: unchanged, 1: white)."""
    r, g, b, _ = to_rgba(color)
    return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount, 1.0)


def new_figure(width: float, height: float, constrained: bool = False) -> Figure:
    """A figure that belongs to no pyplot state (it is garbage-collected like any object)."""
    return Figure(figsize=(width, height), layout="constrained" if constrained else None)


def figure_png(figure: Figure, dpi: float = 100) -> bytes:
    """The figure as PNG bytes (for notebooks, files and tests)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def figure_format(path: "str | os.PathLike[str]") -> str:
    """The image format a file name asks for (its extension), or a `ParameterError` listing the supported ones."""
    suffix = Path(path).suffix.lower().lstrip(".")
    supported = Figure().canvas.get_supported_filetypes()
    if suffix not in supported:
        found = f"the extension {'.' + suffix!r}" if suffix else "no extension"
        raise ParameterError(f"cannot write a figure to {str(path)!r}: it has {found}; supported image formats: "
                             f"{', '.join('.' + s for s in sorted(supported))}")
    return suffix


def save_figure(figure: Figure, path: "str | os.PathLike[str]", dpi: float = 100) -> Path:
    """Write `figure` to `path` in the format its extension names (.png, .svg, .pdf, ...); returns the path.

    Unlike `figure.savefig(path)`, the file is replaced atomically (a failure part way leaves
    a previous file as it was) and an unknown extension is refused before anything is drawn.
    """
    target = target_path(path, "save_figure: the path")
    image_format = figure_format(target)
    with atomic_write(target) as handle:
        figure.savefig(handle, format=image_format, dpi=dpi, facecolor="white")
    return target


def short_count(n: int) -> str:
    """1234 → '1,234'; keeps labels readable."""
    return f"{n:,}"


def plural(n: int, word: str, words: str = "") -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


def clip_names(names: Sequence[str], limit: int = 28) -> list[str]:
    return [n if len(n) <= limit else n[:limit - 1] + "…" for n in names]
