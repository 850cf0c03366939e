"""examples/yinyang.py: a shortened training learns clearly, dense and sparse; the command line runs."""

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import torch

import hxgraph as hx

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "yinyang.py"


def load_example() -> ModuleType:
    """Import examples/yinyang.py (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("yinyang_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example() -> ModuleType:
    return load_example()


@pytest.mark.parametrize("sparse", ["none", "hidden", "input"])
def test_short_training_learns_clearly(example, sparse):
    # 2 epochs over 2000 samples (160 steps of 25) reach 0.79–0.92 over seeds 0–4; chance is 1/3.
    history = example.train(epochs=2, sparse=sparse, train_size=2000, test_size=1000, batch_size=25, seed=0,
                            progress=False, log=None)
    assert len(history["test_accuracy"]) == len(history["train_loss"]) == 2
    assert history["test_accuracy"][-1] >= 0.6, history["test_accuracy"]
    assert history["train_loss"][-1] < history["train_loss"][0]
    graph = history["graph"]
    model = history["model"]
    for name, projection in graph.projections.items():  # the graph holds the trained weights
        assert projection.weight.data_ptr() == model.network.weights[name].data_ptr()
    kinds = {name: type(p.connectivity) for name, p in graph.projections.items()}
    expected_sparse = {"none": set(), "hidden": {"hidden_to_out"}, "input": {"x_to_hidden"}}[sparse]
    assert {n for n, k in kinds.items() if k is hx.Sparse} == expected_sparse


def test_sparse_projection_has_the_requested_density(example):
    exp = example.build_experiment(sparse="hidden", density=0.5, seed=3)
    connectivity = exp.graph.projection("hidden_to_out").connectivity
    assert connectivity.count == 180  # round(0.5 · 120 · 3)
    with pytest.raises(hx.ParameterError, match="sparse must be one of"):
        example.build_experiment(sparse="output")


def test_command_line_prints_test_accuracy_per_epoch(example, capsys):
    history = example.main(["--epochs", "2", "--train-size", "200", "--test-size", "100", "--quiet"])
    out = capsys.readouterr().out
    assert out.count("test accuracy") == 3  # one line per epoch and the final one
    assert len(history["test_accuracy"]) == 2
    assert torch.isfinite(torch.tensor(history["train_loss"])).all()
