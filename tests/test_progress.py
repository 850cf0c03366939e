"""Progress bars only where a person watches; `log=None` and `--quiet` are silent (#13, item 10)."""

import io
import subprocess
import sys

import pytest

from hxgraph.cli import main
from hxgraph.progress import person_watches, progress_bar, show_progress
from hxgraph.tasks import yinyang

TINY = dict(epochs=1, train_size=20, test_size=20, batch_size=10)


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


class NotebookStream(io.StringIO):
    """Stands in for ipykernel's OutStream: isatty() is False, but a person watches the notebook."""


NotebookStream.__module__ = "ipykernel.iostream"


class NoIsatty:
    def write(self, text):
        return len(text)


def closed_stream():
    stream = io.StringIO()
    stream.close()
    return stream


@pytest.mark.parametrize("stream, watched", [
    (FakeTerminal(), True), (NotebookStream(), True), (io.StringIO(), False), (NoIsatty(), False),
    (closed_stream(), False)])
def test_person_watches_a_terminal_or_a_notebook_only(stream, watched):
    assert person_watches(stream) is watched


def test_person_watches_nobody_without_a_stderr(monkeypatch):
    monkeypatch.setattr(sys, "stderr", None)
    assert person_watches() is False


@pytest.mark.parametrize("progress, stream, shown", [
    (None, FakeTerminal(), True), (None, io.StringIO(), False), (True, io.StringIO(), True),
    (False, FakeTerminal(), False)])
def test_progress_true_forces_bars_and_false_hides_them(progress, stream, shown):
    assert show_progress(progress, stream) is shown


def test_a_bar_on_a_terminal_draws_and_in_a_file_does_not(monkeypatch):
    for stream, drawn in ((FakeTerminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr(sys, "stderr", stream)
        assert list(progress_bar(range(3), desc="work")) == [0, 1, 2]
        assert ("\r" in stream.getvalue()) is drawn


def test_training_draws_epoch_bars_only_on_a_terminal(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    yinyang.train(**TINY, log=lambda line: None)
    assert "epoch 1/1" in terminal.getvalue() and "\r" in terminal.getvalue()
    log_file = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log_file)
    yinyang.train(**TINY, log=lambda line: None)
    assert log_file.getvalue() == ""
    yinyang.train(**TINY, log=lambda line: None, progress=True)  # asked for: drawn even into a file
    assert "epoch 1/1" in log_file.getvalue()


def test_log_none_silences_training_completely(capsys, monkeypatch):
    yinyang.train(**TINY, log=None)
    assert capsys.readouterr() == ("", "")
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    yinyang.train(**TINY, log=None, backend="in_the_loop")  # also the emulator's bar
    assert terminal.getvalue() == ""


def test_demo_quiet_prints_nothing(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--epochs", "1", "--loop-epochs", "0", "--train-size", "20",
                 "--test-size", "20", "--chips", "1", "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")
    assert (tmp_path / "summary.json").exists()


def test_demo_logged_to_a_file_has_no_bar_frames(tmp_path):
    """`hxgraph demo > log 2>&1`-style runs: results in the log, no carriage-return frames."""
    stdout, stderr = tmp_path / "out.txt", tmp_path / "err.txt"
    with stdout.open("w") as out, stderr.open("w") as err:
        status = subprocess.run([sys.executable, "-m", "hxgraph", "demo", "--out", str(tmp_path / "out"), "--epochs",
                                 "1", "--loop-epochs", "1", "--train-size", "20", "--test-size", "20", "--chips", "1"],
                                stdout=out, stderr=err, timeout=300).returncode
    assert status == 0
    printed, errors = stdout.read_text(), stderr.read_text()
    assert "Test accuracy (20 yin-yang samples)" in printed and "epoch  1:" in printed
    assert "\r" not in printed + errors
    assert "it/s" not in errors and "batch/s" not in errors
