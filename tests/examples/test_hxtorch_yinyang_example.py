"""examples/hxtorch_yinyang.py: the hxtorch-style script learns in the mock and runs on the emulated chip."""

import importlib.util
import warnings
from pathlib import Path
from types import ModuleType

import pytest

import hxgraph as hx

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hxtorch_yinyang.py"


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hxtorch_yinyang_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mock_training_learns_clearly(example):
    # One epoch over 2000 samples in batches of 25 (80 steps); the full run (5 epochs of 5000) reaches ~0.95.
    lines = []
    history = example.main(["--epochs", "1", "--train-size", "2000", "--test-size", "500", "--batch-size", "25"],
                           log=lines.append)
    assert history["test_accuracy"][0] > 0.7, history["test_accuracy"]
    assert len(lines) == 1 and "mock" in lines[0]
    snn = history["model"].network
    graph = snn.experiment.last_graph
    assert [p.name for p in graph.populations.values()] == ["synapse_0_input", "lif_0", "li_0"]
    assert graph.projection("synapse_0").weight is snn.linear_h.weight  # trained in place


def test_chip_training_runs_in_the_loop_with_one_placement(example):
    with warnings.catch_warnings():
        warnings.simplefilter("error", hx.ConsistencyWarning)  # hxtorch's CI values agree with the chip
        history = example.main(["--chip", "--epochs", "1", "--train-size", "100", "--test-size", "100"], log=None)
    assert len(history["test_accuracy"]) == 1 and 0.0 <= history["test_accuracy"][0] <= 1.0
    experiment = history["model"].network.experiment
    assert not experiment.mock
    assert experiment._session.placements == 1 and experiment.mapping.reused == "placement and routing"
    assert experiment.last_graph.population("synapse_0_input").size == 25  # inputs repeated 5 times
    assert experiment.last_graph.projection("synapse_0").transform == hx.transforms.LinearSaturating(scale=70.)
    assert experiment.mapping.consistency == ()


def test_older_hxtorch_scales_get_the_consistency_warning_naming_the_population(example):
    # Weight scale 64 and trace scale 1/50: threshold 150 over leak 80 reads as 1.4 model units.
    with pytest.warns(hx.ConsistencyWarning) as caught:
        history = example.main(["--chip", "--epochs", "1", "--train-size", "50", "--test-size", "50",
                                "--weight-scale", "64", "--trace-scale", "0.02"], log=None)
    messages = [str(w.message) for w in caught if issubclass(w.category, hx.ConsistencyWarning)]
    assert any(m.startswith("lif_0: chip threshold 150 with leak 80 is 1.4 model units") for m in messages), messages
    assert any(m.startswith("synapse_0: weight scale 64") for m in messages), messages
    assert {f.subject for f in history["model"].network.experiment.mapping.consistency} >= {"lif_0", "synapse_0"}
