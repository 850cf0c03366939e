"""`plot_training`: loss and accuracy per epoch, for one training run or several phases in sequence."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Union

import numpy as np
from matplotlib.figure import Figure

from hxgraph.errors import ParameterError
from hxgraph.viz._style import lighten, new_figure, series_colors

History = Mapping[str, Any]
KEYS = ("train_loss", "train_accuracy", "test_accuracy")


def _phases(history: Union[History, Mapping[str, History]]) -> dict[str, History]:
    if isinstance(history, Mapping) and any(k in history for k in KEYS):
        return {"": history}
    if isinstance(history, Mapping) and history and all(isinstance(h, Mapping) for h in history.values()):
        for label, h in history.items():
            if not any(k in h for k in KEYS):
                raise ParameterError(f"plot_training: phase {label!r} has none of the keys {', '.join(KEYS)}")
        return dict(history)
    raise ParameterError("plot_training draws a history dict (train_loss, train_accuracy, test_accuracy per epoch, as "
                         "hxgraph.tasks.yinyang.train returns) or a dict label → history of phases trained one after "
                         f"the other; got {type(history).__name__}")


def plot_training(history: Union[History, Mapping[str, History]], *,
                  marks: Optional[Mapping[str, Union[float, tuple[float, float]]]] = None,
                  title: Optional[str] = None) -> Figure:
    """Loss (left) and accuracy (right) per epoch; returns the Figure.

    `history`: a dict with per-epoch lists `train_loss`, `train_accuracy`, `test_accuracy`
    (any of them), or a dict label → such a history for phases trained one after the other
    (e.g. `{"mock": ..., "in the loop": ...}`): epochs continue across phases, each phase
    has its colour and a shaded span. `marks`: label → accuracy (a dotted horizontal line) or
    label → (epoch, accuracy) (a marked point), e.g. a separate evaluation on the chip.
    """
    phases = _phases(history)
    colors = dict(zip(phases, series_colors(len(phases))))
    fig = new_figure(10.0, 3.8, constrained=True)
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss_ax.set_label("loss")
    acc_ax.set_label("accuracy")
    start = 0
    for i, (label, h) in enumerate(phases.items()):
        epochs = max((len(h.get(k, ())) for k in KEYS), default=0)
        x = np.arange(start + 1, start + epochs + 1)
        name = f"{label}: " if label else ""
        if len(phases) > 1:
            for ax in (loss_ax, acc_ax):
                ax.axvspan(start + 0.5, start + epochs + 0.5, color=lighten(colors[label], 0.9), zorder=0)
            acc_ax.text(start + 0.6, 1.0, label, transform=acc_ax.get_xaxis_transform(), va="top", ha="left",
                        fontsize=8, color=colors[label])
        if "train_loss" in h:
            (line,) = loss_ax.plot(x[:len(h["train_loss"])], h["train_loss"], "o-", ms=3, color=colors[label],
                                   label=f"{name}train loss")
            line.set_gid(f"train_loss:{label}")
        if "train_accuracy" in h:
            (line,) = acc_ax.plot(x[:len(h["train_accuracy"])], h["train_accuracy"], "o--", ms=3, color=colors[label],
                                  alpha=0.7, label=f"{name}train")
            line.set_gid(f"train_accuracy:{label}")
        if "test_accuracy" in h:
            (line,) = acc_ax.plot(x[:len(h["test_accuracy"])], h["test_accuracy"], "o-", ms=4, color=colors[label],
                                  label=f"{name}test")
            line.set_gid(f"test_accuracy:{label}")
        start += epochs
    for i, (label, value) in enumerate((marks or {}).items()):
        color = "#333333" if i == 0 else series_colors(len(phases) + i)[-1]
        if isinstance(value, (tuple, list)):
            epoch, acc = value
            (line,) = acc_ax.plot([epoch], [acc], marker="*", ms=13, color=color, linestyle="none",
                                  label=f"{label}: {acc:.3f}")
        else:
            line = acc_ax.axhline(float(value), color=color, ls=":", lw=1.5, label=f"{label}: {float(value):.3f}")
        line.set_gid(f"mark:{label}")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("cross-entropy loss")
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("accuracy")
    acc_ax.set_ylim(0, 1.02)
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        if start:
            ax.set_xlim(0.5, start + 0.5)
            ax.xaxis.get_major_locator().set_params(integer=True)
    for ax in (loss_ax, acc_ax):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="best")
    fig.suptitle(title if title is not None else "Training", fontsize=11, x=0.01, ha="left")
    return fig
