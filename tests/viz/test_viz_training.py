"""plot_training: loss and accuracy per epoch, phases one after the other, marks."""

import numpy as np
import pytest

import hxgraph as hx
from hxgraph.viz import plot_training
from hxgraph.viz._style import series_colors
from viz_pixels import Rendered, axes_by_label, nearest

MOCK = {"train_loss": [1.0, 0.5, 0.3, 0.2], "train_accuracy": [0.6, 0.8, 0.9, 0.93],
        "test_accuracy": [0.7, 0.85, 0.92, 0.95], "seconds": [1, 1, 1, 1]}
LOOP = {"train_loss": [0.9, 0.6], "train_accuracy": [0.6, 0.75], "test_accuracy": [0.65, 0.8]}


def lines(ax):
    return {line.get_gid(): line for line in ax.lines if line.get_gid()}


def test_phases_continue_the_epochs_and_marks_show():
    fig = plot_training({"mock": MOCK, "in the loop": LOOP}, marks={"on chip": (4, 0.35), "chance": 1 / 3})
    rendered = Rendered(fig)
    loss, acc = axes_by_label(fig, "loss"), axes_by_label(fig, "accuracy")
    lo, ac = lines(loss), lines(acc)
    assert np.array_equal(lo["train_loss:mock"].get_xdata(), [1, 2, 3, 4])
    assert np.array_equal(lo["train_loss:in the loop"].get_xdata(), [5, 6])
    assert np.allclose(lo["train_loss:in the loop"].get_ydata(), LOOP["train_loss"])
    assert np.allclose(ac["test_accuracy:mock"].get_ydata(), MOCK["test_accuracy"])
    assert np.allclose(ac["train_accuracy:in the loop"].get_ydata(), LOOP["train_accuracy"])
    assert list(ac["mark:on chip"].get_xdata()) == [4] and list(ac["mark:on chip"].get_ydata()) == [0.35]
    assert ac["mark:chance"].get_ydata()[0] == pytest.approx(1 / 3)
    assert acc.get_xlim() == (0.5, 6.5)
    legend = [t.get_text() for t in acc.get_legend().get_texts()]
    assert "on chip: 0.350" in legend and "mock: test" in legend
    # The test-accuracy markers are in the PNG, in their phase's colour.
    mock_color, loop_color = series_colors(2)
    seen = nearest(rendered.at(acc, [[e, a] for e, a in zip(range(1, 5), MOCK["test_accuracy"])]
                               + [[5, 0.65], [6, 0.8]]),
                   {"mock": mock_color, "loop": loop_color, "background": "#ffffff"})
    assert seen == ["mock"] * 4 + ["loop"] * 2


def test_single_history_and_errors():
    fig = plot_training(MOCK)
    assert set(lines(axes_by_label(fig, "accuracy"))) == {"train_accuracy:", "test_accuracy:"}
    fig = plot_training({"test_accuracy": [0.5]})
    assert len(lines(axes_by_label(fig, "loss"))) == 0
    with pytest.raises(hx.ParameterError, match="history"):
        plot_training([0.1, 0.2])
    with pytest.raises(hx.ParameterError, match="phase 'x'"):
        plot_training({"x": {"loss": [1]}, "y": MOCK})
