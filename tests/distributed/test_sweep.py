"""hx.sweep and `hxgraph sweep`: a grid × emulated chips, the same on a Dask cluster as serially."""

import json
import os
import subprocess
import sys
import csv

import pytest

import hxgraph as hx
from hxgraph.cli import main
from hxgraph.distributed import engine as engine_module
from hxgraph.errors import MissingDependencyError, ParameterError, UnknownNameError

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")
# The kill plugin below travels to worker processes by value: they cannot import this test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

# Small: one epoch on 100 samples trains to ~50 % in a second; enough to tell chips apart.
SIZES = dict(epochs=1, train_size=100, test_size=100, batch_size=50)
LRS = [0.01, 0.02]
CHIPS = 8
CLI_SIZES = ["--epochs", "1", "--train-size", "100", "--test-size", "100", "--batch-size", "50"]


@pytest.fixture(scope="module")
def serial():
    return hx.sweep(engine="serial", lr=LRS, chips=CHIPS, progress=False, **SIZES)


def test_serial_sweep_is_one_row_per_point_and_chip(serial, tmp_path):
    assert len(serial) == len(LRS) * CHIPS
    assert serial.columns == ["point", "lr", "epochs", "train_size", "test_size", "batch_size", "chip_seed",
                              "train_loss", "mock_accuracy", "chip_accuracy"]
    assert serial.varied == ["lr"]
    assert [row["chip_seed"] for row in serial.rows] == list(range(CHIPS)) * len(LRS)
    assert [row["lr"] for row in serial.rows] == [lr for lr in LRS for _ in range(CHIPS)]
    for point in range(len(LRS)):
        rows = [row for row in serial.rows if row["point"] == point]
        assert len({row["mock_accuracy"] for row in rows}) == 1  # trained once per point
        assert len({row["chip_accuracy"] for row in rows}) > 1   # every chip is its own chip
    assert all(0.0 <= row["chip_accuracy"] <= 1.0 for row in serial.rows)
    assert "lr=0.01" in serial.summary() and "8 emulated chips" in serial.summary()

    serial.to_csv(tmp_path / "results.csv")
    serial.to_json(tmp_path / "results.json")
    with open(tmp_path / "results.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == len(serial) and float(table[3]["chip_accuracy"]) == serial.rows[3]["chip_accuracy"]
    assert json.loads((tmp_path / "results.json").read_text())["rows"] == serial.rows


def test_plot_sweep(serial):
    fig = hx.viz.plot_sweep(serial)
    labels = [ax.get_label() for ax in fig.axes]
    assert labels == ["distribution", "per_parameter"]
    chip_dots = [line for line in fig.axes[0].lines if line.get_gid() == "chip_accuracy"]
    assert sum(len(line.get_xdata()) for line in chip_dots) == len(serial)
    with pytest.raises(ParameterError, match="SweepResult"):
        hx.viz.plot_sweep(serial.rows)


def test_cli_sweep_on_a_local_cluster_equals_the_serial_runs(serial, tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["sweep", "--lr", *map(str, LRS), "--chips", str(CHIPS), *CLI_SIZES, "--workers", "2", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "local Dask cluster (2 worker processes)" in printed
    result = json.loads((out / "results.json").read_text())
    assert result["rows"] == serial.rows
    assert (out / "results.csv").read_text().count("\n") == len(serial) + 1
    assert (out / "sweep.png").stat().st_size > 10_000


class KillFirstChipTask(distributed.WorkerPlugin):
    """Kills the worker process that starts the first chip task (once per cluster: a marker file)."""

    def __init__(self, marker):
        self.marker = marker

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and str(key).startswith("chips-"):
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return
            os._exit(1)  # as a crash or the OOM killer would: no clean-up, no goodbye to the scheduler


def torch_threads_here(_):
    import torch
    return torch.get_num_threads()


def test_a_sweep_survives_a_killed_worker(serial, tmp_path):
    marker = tmp_path / "killed"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  scheduler_port=0, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.register_plugin(KillFirstChipTask(str(marker)))
        before = set(client.scheduler_info()["workers"])
        result = hx.sweep(lr=LRS, chips=CHIPS, address=cluster.scheduler_address, progress=False, **SIZES)
        assert marker.exists()  # a worker did die mid-sweep ...
        assert set(client.scheduler_info()["workers"]) != before  # ... and its nanny started a new one
        assert result.rows == serial.rows  # every result, and the same as serially
        # Workers of an existing cluster work out their share of the cores themselves (once the
        # restarted worker is back, there are two on this host again).
        client.wait_for_workers(2, timeout=60)
        threads = hx.distributed.map_tasks(torch_threads_here, range(4), address=cluster.scheduler_address)
        assert threads == [engine_module.torch_threads(engine_module.available_cores(), 2)] * 4


def test_finetuning_in_the_loop_adds_a_column():
    result = hx.sweep(engine="serial", lr=0.01, chips=[3, 5], finetune_epochs=1, progress=False, **SIZES)
    assert result.columns[-1] == "finetuned_accuracy" and result.varied == []
    assert [row["chip_seed"] for row in result] == [3, 5]
    assert all(0.0 <= row["finetuned_accuracy"] <= 1.0 for row in result)
    assert [ax.get_label() for ax in hx.viz.plot_sweep(result).axes] == ["distribution"]


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(lrr=[0.1]), UnknownNameError, "unknown yin-yang hyper-parameter 'lrr' (did you mean 'lr'?); valid: 'lr'"),
    (dict(hidden_size=[10]), UnknownNameError, "valid: 'lr', 'epochs'"),
    (dict(), ParameterError, "give at least one hyper-parameter"),
    (dict(lr=[]), ParameterError, "lr=[] has no values"),
    (dict(lr=[0.1, -1]), ParameterError, "lr must be a finite number > 0.0; got -1"),
    (dict(epochs=[1.5]), ParameterError, "epochs must be an integer >= 1"),
    (dict(sparse=["hiden"]), ParameterError, "did you mean 'hidden'"),
    (dict(lr=0.1, chips=0), ParameterError, "chips must be a number of chips >= 1"),
    (dict(lr=0.1, chips=[]), ParameterError, "non-empty list of chip seeds"),
    (dict(lr=0.1, chips=[1, -2]), ParameterError, "every chip seed must be an integer in 0..2**64 - 1; got -2"),
    (dict(lr=0.1, chips=[1, 2, 1]), ParameterError, "chip seeds [1] appear more than once"),
    (dict(lr=0.1, chips="8"), ParameterError, "chips must be a number of chips"),
    (dict(lr=0.1, train_size=20, batch_size=50), ParameterError, "batch_size=50 exceeds train_size=20"),
    (dict(lr=0.1, finetune_epochs=-1), ParameterError, "finetune_epochs must be an integer >= 0"),
    (dict(lr=0.1, engine="ray"), UnknownNameError, "unknown engine 'ray'; valid engines: 'dask', 'serial'"),
    (dict(lr=0.1, workers=-1), ParameterError, "workers must be an integer >= 0"),
    (dict(lr=0.1, retries=-1), ParameterError, "retries must be an integer >= 0"),
    (dict(lr=0.1, address="tcp://127.0.0.1:1", workers=2), ParameterError, "has its own workers"),
])
def test_bad_arguments_fail_before_any_cluster_starts(monkeypatch, kwargs, error, words):
    def no_cluster(*args, **kw):
        raise AssertionError("a cluster was started")
    monkeypatch.setattr(engine_module, "_local_cluster", no_cluster)
    monkeypatch.setattr(engine_module, "_existing_cluster", no_cluster)
    with pytest.raises(error) as info:
        hx.sweep(**kwargs)
    assert words in str(info.value)


def test_an_unreachable_scheduler_is_one_clear_error(monkeypatch, capsys):
    monkeypatch.setattr(engine_module, "CONNECT_TIMEOUT_S", 1)
    monkeypatch.setenv("HXGRAPH_SCHEDULER", "tcp://127.0.0.1:9")  # the discard port: nothing listens
    assert main(["sweep", "--lr", "0.01", "--chips", "1", *CLI_SIZES, "--quiet"]) == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("hxgraph: error: cannot reach a Dask scheduler at 'tcp://127.0.0.1:9' "
                              "(from $HXGRAPH_SCHEDULER)") and "\n" not in message


def test_cli_usage_errors_are_one_line(capsys):
    assert main(["sweep", "--chips", "2"]) == 2
    assert "give at least one hyper-parameter to sweep, e.g. --lr" in capsys.readouterr().err
    assert main(["sweep", "--lr", "0.01", "--epochs", "0"]) == 2
    assert "--epochs must be a positive integer; got '0'" in capsys.readouterr().err
    assert main(["sweep", "--lr", "0.01", "--sparse", "hiden"]) == 2
    assert "did you mean 'hidden'" in capsys.readouterr().err


def test_without_the_extra_a_cluster_run_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now fails
    with pytest.raises(MissingDependencyError, match=r"pip install 'hxgraph\[distributed\]'"):
        hx.sweep(lr=0.01, chips=1, workers=2, **SIZES)


def test_import_hxgraph_does_not_import_dask():
    code = ("import sys, hxgraph; hxgraph.sweep; import hxgraph.distributed; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
