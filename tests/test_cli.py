"""The `hxgraph` command: demo (tiny settings), summary, place (fits and does not fit), help."""

import json
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import pytest
import torch

import hxgraph as hx
from hxgraph.cli import DEMO_FILES, accuracy_table, build_parser, main


def test_demo_writes_every_file_and_a_consistent_summary(tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["demo", "--out", str(out), "--epochs", "1", "--loop-epochs", "1", "--train-size", "50",
                   "--test-size", "50", "--chips", "2"])
    assert status == 0
    printed, errors = capsys.readouterr()
    assert "\r" not in errors  # stderr is not a terminal here: no progress-bar frames (--quiet: tests/test_progress.py)
    assert sorted(p.name for p in out.iterdir()) == sorted(DEMO_FILES)
    for name in DEMO_FILES:
        if name.endswith(".png"):
            image = matplotlib.image.imread(out / name)
            assert image.shape[0] > 200 and image.shape[1] > 400 and image[..., :3].std() > 0.05, name
    summary = json.loads((out / "summary.json").read_text())
    graph = hx.Graph.load(out / "yinyang.json")  # the trained graph
    assert summary["experiment"]["structure_hash"] == graph.structure_hash()
    assert summary["experiment"]["calibration"]["weight_scale"] == pytest.approx(70.0)
    assert summary["experiment"]["consistency"] == []  # model values through the calibration: nothing contradicts
    assert summary["experiment"]["populations"] == {"x": {"model": "input", "size": 25},
                                                    "hidden": {"model": "lif", "size": 120},
                                                    "out": {"model": "li", "size": 3}}
    projections = summary["experiment"]["projections"]
    assert projections["hidden_to_out"]["connectivity"] == "sparse"
    assert projections["hidden_to_out"]["connections"] == graph.projection("hidden_to_out").connection_count
    assert summary["settings"] == {"epochs": 1, "loop_epochs": 1, "train_size": 50, "test_size": 50, "seed": 0,
                                   "chip_seed": 0, "chips": 2, "hardware_aware": True, "polish_epochs": 4}
    accuracy = summary["accuracy"]
    chips = accuracy["mock_trained"]["chips"]
    assert sorted(chips) == ["0", "1"]
    for value in (accuracy["mock_trained"]["mock"], *chips.values(),
                  accuracy["after_in_the_loop"]["chip"], accuracy["after_in_the_loop"]["mock"]):
        assert 0.0 <= value <= 1.0 and value * 50 == pytest.approx(round(value * 50))  # a fraction of 50 samples
    assert accuracy["mock_trained"]["chips_mean"] == pytest.approx(sum(chips.values()) / 2)
    for proj in graph.projections.values():  # hardware-aware training left the weights on the 6-bit grid
        hw = proj.weight.double() * 70
        assert torch.allclose(hw, hw.round(), atol=1e-3) and float(hw.abs().max()) <= 63 + 1e-6
    assert len(summary["history"]["mock"]["test_accuracy"]) == 1 + 4  # and 4 polishing epochs
    assert len(summary["history"]["in_the_loop"]["test_accuracy"]) == 1
    assert summary["history"]["mock"]["test_accuracy"][0] == accuracy["mock_trained"]["mock"]
    # The resources are those of mapping the trained graph (same structure, so the same placement and use).
    mapping = hx.place_and_route(graph)
    resources = summary["resources"]
    assert resources["neuron_circuits"] == {"used": 246, "available": 512, "per_population": {"hidden": 240, "out": 6}}
    assert resources["synapse_rows"] == {"top": {"used": mapping.stats.rows_used[0], "available": 256},
                                         "bottom": {"used": mapping.stats.rows_used[1], "available": 256}}
    assert resources["synapse_drivers_per_bus"]["top"]["used"] == list(mapping.stats.drivers_used[0])
    assert resources["projections"]["x_to_hidden"]["synapses"] == 6000
    # What it printed: every step, the mapping summary and the three accuracies.
    for step in range(1, 7):
        assert f"[{step}/6]" in printed
    assert "neuron circuits: 246 of 512" in printed and "chip values consistent with the model" in printed
    table = accuracy_table(50, 1, accuracy["mock_trained"]["mock"], list(chips.values()),
                           accuracy["after_in_the_loop"]["chip"])
    assert table in printed
    assert "trained in the mock, tested on 2 emulated chips" in table
    assert "+ 1 epoch with the chip in the loop, on that chip" in table


def test_readme_quotes_the_demo_output_as_printed():
    # The README shows what `hxgraph demo --out out` printed; its table must have the command's format.
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    quoted = readme.split("```text\n", 1)[1].split("```", 1)[0].rstrip("\n")
    mock, mean, sd, loop = map(float, re.findall(r"(\d\.\d{3})", quoted))
    # Five chips with that mean and spread: the table prints only mean ± sd.
    chips = [mean - sd * 2 ** 0.5, mean, mean, mean, mean + sd * 2 ** 0.5]
    assert quoted == accuracy_table(1000, 10, mock, chips, loop)
    assert "--loop-epochs LOOP_EPOCHS" in build_parser()._subparsers._group_actions[0].choices["demo"].format_help()
    defaults = build_parser().parse_args(["demo"])
    assert (defaults.epochs, defaults.loop_epochs, defaults.test_size) == (10, 10, 1000)
    assert ".venv/bin/hxgraph demo --out out" in readme.split("```sh\n", 1)[1].split("```", 1)[0]

def test_demo_refuses_bad_settings(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--epochs", "0"]) == 2
    assert "--epochs must be a positive integer; got '0'" in capsys.readouterr().err


def test_summary_and_place_of_a_network_that_fits(tmp_path, capsys):
    exp = (hx.Experiment("small", seed=0).input("x", 4).lif("h", 7).li("out", 3)
           .dense("x", "h").sparse("h", "out", hx.connect.random(7, 3, 0.5, seed=1)))
    path = exp.graph.save(tmp_path / "small.json")
    assert main(["summary", str(path)]) == 0
    assert "sparse" in capsys.readouterr().out
    picture = tmp_path / "placement.png"
    assert main(["place", str(path), "--out", str(picture)]) == 0
    out = capsys.readouterr().out
    assert "Mapping of 'small' onto HICANN-X (placement: balanced, routing: shared)" in out
    assert f"placement drawing written to {picture}" in out
    assert matplotlib.image.imread(picture).shape[1] > 1000
    assert main(["place", str(path), "--strategy", "first_fit", "--routing", "simple"]) == 0
    assert "(placement: first_fit, routing: simple)" in capsys.readouterr().out


def test_place_of_an_oversize_network_exits_non_zero_with_the_explanation(tmp_path, capsys):
    exp = (hx.Experiment("oversize").input("x", 256).lif("hidden", 247, circuits_per_neuron=2)
           .lif("out", 10, circuits_per_neuron=2).dense("x", "hidden").dense("hidden", "out"))
    path = exp.graph.save(tmp_path / "oversize.json")
    picture = tmp_path / "why.png"
    assert main(["place", str(path), "--out", str(picture)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    assert "'oversize' does not fit the chip: population 'hidden': the network needs 514 neuron circuits" in err
    assert "try at most 246 neurons in 'hidden'" in err
    assert "[neuron circuits: needed 514, available 512]" in err
    assert picture.exists() and "Traceback" not in err
    # Through the installed entry point, as a user runs it.
    result = subprocess.run([sys.executable, "-m", "hxgraph", "place", str(path)], capture_output=True, text=True)
    assert result.returncode == 1 and "514 neuron circuits" in result.stderr


def test_bad_input_exits_2_without_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "hxgraph.graph", "version": 7}')
    assert main(["summary", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "newer hxgraph" in err and "Traceback" not in err
    path = hx.Experiment("e").input("x", 1).lif("h", 1).dense("x", "h").graph.save(tmp_path / "e.json")
    assert main(["place", str(path), "--strategy", "first_fitt"]) == 2
    assert "did you mean 'first_fit'" in capsys.readouterr().err


def test_help_shows_examples(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "hxgraph demo --out out" in text and "hxgraph place" in text
    for command in ("demo", "summary", "place"):
        assert command in text
    demo_help = build_parser()._subparsers._group_actions[0].choices["demo"].format_help()
    assert "--epochs EPOCHS" in demo_help and "--loop-epochs LOOP_EPOCHS" in demo_help
    assert "(default: 10)" in " ".join(demo_help.split())
