"""Yin-yang trained with EventProp: hxtorch's CI bars (> 0.84 in 5 epochs in the mock; > 0.60 on the chip)."""

import pytest

from hxgraph.tasks import yinyang


def test_yinyang_with_eventprop_passes_hxtorchs_mock_bar_in_five_epochs():
    history = yinyang.train(epochs=5, gradient="eventprop", log=None, progress=False)
    assert history["test_accuracy"][-1] > 0.84, history["test_accuracy"]


def test_yinyang_with_eventprop_learns_with_the_emulated_chip_in_the_loop():
    """A shortened run (2 epochs of 1000 samples; benchmarks/eventprop.py --loop runs the full 10 epochs)."""
    graph = yinyang.build_experiment(repeat=5, hidden_circuits=2, readout_circuits=2).graph
    before = yinyang.evaluate(graph, "chip", test_size=500)
    history = yinyang.train(epochs=2, gradient="eventprop", backend="in_the_loop", graph=graph, train_size=1000,
                            test_size=500, log=None, progress=False)
    assert history["test_accuracy"][-1] > max(0.55, before + 0.1), (before, history["test_accuracy"])


def test_eventprop_refuses_a_spike_count_penalty():
    with pytest.raises(Exception, match="rate_reg"):
        yinyang.train(epochs=1, gradient="eventprop", rate_reg=1e-3, log=None, progress=False)
