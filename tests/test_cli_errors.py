"""The command line never shows a traceback for a user mistake.

Each bad invocation prints exactly one line, "hxgraph: error: ...", on stderr (naming the
flag or the file) and exits with the documented status: 2 for usage and input errors (as
argparse does), 1 only for a network that does not fit the chip, 130 when interrupted.
"""

import subprocess
import sys
from pathlib import Path

import pytest

import hxgraph as hx
import hxgraph.cli
from hxgraph.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def files(tmp_path):
    good = hx.Experiment("e").input("x", 2).lif("h", 2).dense("x", "h").graph.save(tmp_path / "good.json")
    (tmp_path / "binary.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    (tmp_path / "deep.json").write_text("[" * 100000)
    (tmp_path / "model.json").write_text(good.read_text().replace('"model": "lif"', '"model": ["lif"]'))
    (tmp_path / "truncated.json").write_text(good.read_text()[:200])
    (tmp_path / "folder").mkdir()
    (tmp_path / "drawings.png").mkdir()
    return tmp_path


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("hxgraph: error: ") and "Traceback" not in captured.err
    return lines[0]


BAD = [
    (["summary", "{tmp}/missing.json"], "no graph file at '{tmp}/missing.json'"),
    (["summary", "{tmp}/folder"], "'{tmp}/folder' is a directory, not a graph file"),
    (["summary", "{tmp}/binary.json"], "'{tmp}/binary.json' is not a UTF-8 text file"),
    (["summary", "{tmp}/deep.json"], "nested too deeply"),
    (["summary", "{tmp}/model.json"], "populations[1] ('h').model: expected a string; got a list of 1 item"),
    (["summary", "{tmp}/truncated.json"], "not valid JSON"),
    (["place", "{tmp}/deep.json"], "nested too deeply"),
    (["place", "{tmp}/good.json", "--out", "{tmp}/no/such/folder/p.png"],
     "--out: cannot write '{tmp}/no/such/folder/p.png': the folder '{tmp}/no/such/folder' does not exist"),
    (["place", "{tmp}/good.json", "--out", "{tmp}/p.docx"], "--out: cannot write a figure to '{tmp}/p.docx': it has "
                                                           "the extension '.docx'; supported image formats: "),
    (["place", "{tmp}/good.json", "--out", "{tmp}/folder"], "--out: cannot write a figure to '{tmp}/folder': it has "
                                                            "no extension"),
    (["place", "{tmp}/good.json", "--out", "{tmp}/drawings.png"], "--out: '{tmp}/drawings.png' is a directory"),
    (["place", "{tmp}/good.json", "--strategy", "first_fitt"], "--strategy: unknown placement strategy 'first_fitt' "
                                                               "(did you mean 'first_fit'?)"),
    (["place", "{tmp}/good.json", "--routing", "sharde"], "--routing: unknown routing 'sharde'"),
    (["demo", "--test-size", "0"], "--test-size must be a positive integer; got '0'"),
    (["demo", "--train-size", "-5"], "--train-size must be a positive integer; got '-5'"),
    (["demo", "--epochs", "ten"], "--epochs must be a positive integer; got 'ten'"),
    (["demo", "--loop-epochs", "-1"], "--loop-epochs must be an integer >= 0; got '-1'"),
    (["demo", "--chips", "0"], "--chips must be a positive integer"),
    (["demo", "--out", "{tmp}/good.json"], "--out must be a folder; '{tmp}/good.json' is a file"),
    (["demo", "--bogus"], "unrecognized arguments: --bogus"),
    (["summary"], "the following arguments are required: file"),
    ([], "the following arguments are required"),
    (["bogus"], "invalid choice: 'bogus'"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) or "(nothing)" for a, _ in BAD])
def test_bad_invocations_print_one_line_and_exit_2(files, capsys, argv, message):
    status = main([a.format(tmp=files) for a in argv])
    line = one_error_line(capsys)
    assert status == 2
    assert message.format(tmp=files) in line


def test_usage_errors_point_to_the_help(files, capsys):
    main(["demo", "--test-size", "0"])
    assert one_error_line(capsys).endswith("(see 'hxgraph demo --help')")


def test_os_failures_are_one_line_naming_the_path(files, capsys, monkeypatch):
    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(hx.Graph, "load", staticmethod(refuse))
    assert main(["summary", str(files / "good.json")]) == 2
    assert one_error_line(capsys) == f"hxgraph: error: Permission denied: '{files / 'good.json'}'"


def test_an_interrupt_exits_130_without_a_traceback(files, capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(hxgraph.cli, "_summary", interrupted)
    assert main(["summary", str(files / "good.json")]) == 130
    assert capsys.readouterr().err == "hxgraph: interrupted\n"


def test_a_network_that_does_not_fit_still_exits_1(tmp_path, capsys):
    exp = hx.Experiment("oversize").input("x", 4).lif("hidden", 600).dense("x", "hidden")
    path = exp.graph.save(tmp_path / "oversize.json")
    assert main(["place", str(path)]) == 1
    err = capsys.readouterr().err
    assert "does not fit the chip" in err and "Traceback" not in err


def test_help_documents_the_exit_statuses(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "exit status:" in text
    for line in ("0  success", "1  the network does not fit the chip", "2  a usage or input error",
                 "130  interrupted"):
        assert line in text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert ("Exit statuses: 0 success; 1 the network does not fit the chip (with `--partition`: cannot be\n"
            "partitioned); 2 a usage or input error") in readme


def test_the_installed_command_reports_on_one_line(files):
    # As a user runs it: a real process, the real recursion limit, nothing caught by pytest.
    runs = {name: subprocess.Popen([sys.executable, "-m", "hxgraph", *argv], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, cwd=ROOT)
            for name, argv in {"deep": ["summary", str(files / "deep.json")],
                               "flag": ["demo", "--test-size", "0"]}.items()}
    for name, run in runs.items():
        out, err = run.communicate(timeout=120)
        assert run.returncode == 2, (name, err)
        assert len(err.splitlines()) == 1 and err.startswith("hxgraph: error: ") and "Traceback" not in err, err
