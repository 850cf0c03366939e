"""`plot_sweep`: what a hyper-parameter × chip sweep (`hx.sweep`) found."""

from __future__ import annotations

import itertools
import numbers
from typing import Any, Optional

import numpy as np
from matplotlib.figure import Figure

from hxgraph.errors import ParameterError
from hxgraph.viz._style import new_figure, series_colors

CHIP, MOCK, FINETUNED = "#1f77b4", "#333333", "#d62728"


def plot_sweep(result: Any, *, title: Optional[str] = None) -> Figure:
    """The accuracy distribution over emulated chips per grid point (left) and the accuracy per
    hyper-parameter (right); returns the Figure.

    `result`: a `hxgraph.distributed.SweepResult`. Left: each grid point's chip accuracies
    (dots, one per chip, over a box of their quartiles), the mock accuracy (diamond) and,
    with fine-tuning, the fine-tuned accuracies. Right (when a hyper-parameter varies): the
    mean ± sd over chips against the first varied hyper-parameter, one line per combination
    of the others, the mock accuracy dashed. A single point draws the left panel only.
    """
    if not all(hasattr(result, key) for key in ("rows", "grid", "varied", "per_point")):
        raise ParameterError(f"plot_sweep draws the SweepResult that hx.sweep returns; got {type(result).__name__}")
    varied = result.varied
    points, chips = len(result.per_point()), len(result.chip_seeds)
    left = max(5.0, 0.9 * points * (2 if result.finetune_epochs else 1))  # room for each point's label
    fig = new_figure(left + (5.5 if varied else 0.0), 4.4, constrained=True)
    axes = fig.subplots(1, 2 if varied else 1, squeeze=False, width_ratios=[left, 5.5] if varied else None)[0]
    _distribution(axes[0], result)
    if varied:
        _per_parameter(axes[1], result)
    fig.suptitle(title or f"{result.task} sweep: {points} grid point{'s' if points != 1 else ''} × "
                          f"{chips} emulated chip{'s' if chips != 1 else ''}")
    return fig


def _label(point: dict[str, Any], names: list[str]) -> str:
    return "\n".join(f"{name}={_short(point[name])}" for name in names) or "all"


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _distribution(ax: Any, result: Any) -> None:
    ax.set_label("distribution")
    entries = result.per_point()
    finetuned = bool(result.finetune_epochs)
    jitter = np.random.default_rng(0)  # fixed: the same result gives the same picture
    series = [("chip_accuracy", CHIP, "chips")] + ([("finetuned_accuracy", FINETUNED,
                                                    "chips, fine-tuned in the loop")] if finetuned else [])
    width = 0.35 if finetuned else 0.6
    for k, (key, color, text) in enumerate(series):
        offset = (k - (len(series) - 1) / 2) * (width + 0.05)
        values = [[row[key] for row in result.rows if row["point"] == e["point"]] for e in entries]
        positions = np.arange(len(entries)) + offset
        ax.boxplot(values, positions=positions, widths=width, showfliers=False, patch_artist=True,
                   boxprops={"facecolor": "none", "edgecolor": color}, medianprops={"color": color},
                   whiskerprops={"color": color}, capprops={"color": color})
        for position, chips in zip(positions, values):
            x = position + jitter.uniform(-width / 3, width / 3, len(chips))
            ax.plot(x, chips, "o", ms=4, alpha=0.7, color=color, gid=key,
                    label=text if position == positions[0] else None)
    ax.plot(np.arange(len(entries)), [e["mock_accuracy"] for e in entries], "D", ms=7, color=MOCK,
            label="mock", gid="mock_accuracy")
    names = result.varied or list(result.grid)  # a single point is labelled by its settings
    ax.set_xticks(np.arange(len(entries)), [_label(e, names) for e in entries], fontsize=8)
    ax.set_xlim(-0.6, len(entries) - 0.4)
    ax.set_ylabel("test accuracy")
    ax.grid(axis="y", alpha=0.3)
    _legend_above(ax, columns=3)


def _per_parameter(ax: Any, result: Any) -> None:
    ax.set_label("per_parameter")
    first, others = result.varied[0], result.varied[1:]
    values = result.grid[first]
    numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)
    x_of = (lambda v: v) if numeric else (lambda v: values.index(v))
    entries = result.per_point()
    groups = list(itertools.product(*(result.grid[name] for name in others)))
    for color, group in zip(series_colors(len(groups)), groups):
        chosen = [e for e in entries if all(e[name] == value for name, value in zip(others, group))]
        x = [x_of(e[first]) for e in chosen]
        name = ", ".join(f"{n}={_short(v)}" for n, v in zip(others, group))
        ax.errorbar(x, [e["chip_accuracy_mean"] for e in chosen], yerr=[e["chip_accuracy_sd"] for e in chosen],
                    fmt="o-", capsize=3, color=color, label=f"chips (mean ± sd){': ' + name if name else ''}",
                    gid=f"chips:{name}")
        ax.plot(x, [e["mock_accuracy"] for e in chosen], "D--", ms=5, color=color, alpha=0.6,
                label=f"mock{': ' + name if name else ''}", gid=f"mock:{name}")
        if result.finetune_epochs:
            ax.plot(x, [e["finetuned_accuracy_mean"] for e in chosen], "s:", ms=5, color=color,
                    label=f"fine-tuned (mean){': ' + name if name else ''}", gid=f"finetuned:{name}")
    if numeric and min(values) > 0 and max(values) / min(values) >= 10:
        ax.set_xscale("log")  # learning rates and sizes are swept over decades
        ax.minorticks_off()
    # Ticks at the swept values, written as given (not 3×10⁻² on a log axis).
    ax.set_xticks([x_of(v) for v in values], [_short(v) for v in values])
    ax.set_xlabel(first)
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    _legend_above(ax, columns=2)


def _legend_above(ax: Any, columns: int) -> None:
    """The legend above the axes: inside, it would hide the points it explains."""
    ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.01), ncols=columns,
              frameon=False)
