"""A network trained hardware-aware in the mock keeps its accuracy on emulated chips it never saw."""

import torch

import hxgraph as hx
from hxgraph.tasks import yinyang


def test_hardware_aware_yinyang_transfers_to_three_default_chips():
    # Short and seeded (~10 s): 8 epochs with a chip drawn every batch + 2 polishing epochs on 2000 samples.
    torch.manual_seed(0)
    graph = yinyang.build_experiment(sparse="hidden", seed=0, repeat=5, hidden_circuits=2, readout_circuits=2).graph
    history = yinyang.train_for_chip(epochs=8, polish_epochs=2, graph=graph, train_size=2000, test_size=500,
                                     progress=False, log=None)
    assert history["test_accuracy"][-1] > 0.93
    with torch.no_grad():
        on_chips = [yinyang.evaluate(graph, "chip", test_size=500, chip_seed=seed) for seed in range(3)]
    assert min(on_chips) >= 0.88, on_chips
    # The units, not luck: the same network on the ideal chip is the quantized mock.
    ideal = yinyang.evaluate(graph, "chip", test_size=500, analog=hx.chip.AnalogModel.ideal())
    assert abs(ideal - yinyang.evaluate(graph, "mock", test_size=500)) <= 0.01
