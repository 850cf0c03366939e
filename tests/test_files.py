"""Files are never half-written: graphs, NIR files and figures replace their target atomically.

Faults are injected two ways: a file-size limit (RLIMIT_FSIZE, in a subprocess) that makes
the operating system refuse writes part way, and a patched file whose write stores half of
the data and then fails. After either, the old file must be byte for byte what it was, load
as before, and no temporary file may be left in the folder.
"""

import errno
import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import hxgraph as hx
import hxgraph.files
from hxgraph.files import atomic_write, write_bytes, write_text

from hxgraph.io import read_nir, write_nir

ROOT = Path(__file__).resolve().parents[1]
needs_nir = pytest.mark.skipif(importlib.util.find_spec("nir") is None, reason="the 'nir' extra is not installed")


def small_graph(name="old"):
    return hx.Experiment(name, seed=1).input("x", 3).lif("h", 4).li("o", 2).dense("x", "h").dense("h", "o").graph


def big_graph():
    # About 200 kB of JSON: far beyond the file-size limit the subprocess sets.
    return (hx.Experiment("new", seed=2).input("x", 100).lif("h", 200).li("o", 10)
            .dense("x", "h").dense("h", "o")).graph


def folder_listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------ the mechanism

def test_atomic_write_replaces_the_target_only_on_success(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old content")
    with pytest.raises(RuntimeError, match="half way"):
        with atomic_write(target) as handle:
            handle.write(b"new con")
            raise RuntimeError("failed half way")
    assert target.read_bytes() == b"old content"
    assert folder_listing(tmp_path) == ["data.bin"]
    write_bytes(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert folder_listing(tmp_path) == ["data.bin"]
    assert write_text(tmp_path / "text.txt", "grüße") == tmp_path / "text.txt"
    assert (tmp_path / "text.txt").read_text(encoding="utf-8") == "grüße"


def test_atomic_write_keeps_permissions_and_follows_links(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")
    target.chmod(0o640)
    write_bytes(target, b"new")
    assert target.stat().st_mode & 0o777 == 0o640
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    write_bytes(link, b"through the link")
    assert link.is_symlink() and target.read_bytes() == b"through the link"


def test_atomic_write_refuses_what_is_not_a_file_path(tmp_path):
    with pytest.raises(hx.ParameterError, match="NoneType"):
        write_bytes(None, b"")
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        write_bytes(tmp_path, b"")
    missing = tmp_path / "no such folder" / "f.json"
    with pytest.raises(FileNotFoundError) as info:
        write_bytes(missing, b"")
    assert str(missing) in str(info.value)  # the user's path, not the temporary one
    assert folder_listing(tmp_path) == []


# ------------------------------------------------------------------ a write that fails half way

class HalfWrite:
    """A binary file whose first write stores half the data and then fails like a full disk."""

    def __init__(self, handle):
        self.handle = handle

    def write(self, data):
        self.handle.write(bytes(data)[:len(data) // 2])
        self.handle.flush()
        raise OSError(errno.ENOSPC, "No space left on device (injected)")

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()


def inject_half_writes(monkeypatch):
    """From now on, every file hxgraph.files opens fails half way through its first write."""
    monkeypatch.setattr(hxgraph.files, "open", lambda fd, mode: HalfWrite(open(fd, mode)), raising=False)


@needs_nir
def test_a_write_failing_half_way_leaves_every_kind_of_file_intact(tmp_path, monkeypatch):
    old = small_graph()
    graph_file, nir_file, figure_file = tmp_path / "g.json", tmp_path / "g.nir", tmp_path / "g.png"
    old.save(graph_file)
    write_nir(old, nir_file)
    hx.viz.save_figure(hx.viz.plot_graph(old), figure_file)
    before = {p: p.read_bytes() for p in (graph_file, nir_file, figure_file)}
    inject_half_writes(monkeypatch)
    new = big_graph()
    with pytest.raises(OSError, match="injected"):
        new.save(graph_file)
    with pytest.raises(OSError, match="injected"):
        write_nir(new, nir_file)
    with pytest.raises(OSError, match="injected"):
        hx.viz.save_figure(hx.viz.plot_graph(new), figure_file)
    assert {p: p.read_bytes() for p in before} == before
    assert folder_listing(tmp_path) == ["g.json", "g.nir", "g.png"]
    assert hx.Graph.load(graph_file) == old
    assert read_nir(nir_file) == old


# ------------------------------------------------------------------ the operating system refuses part way

FSIZE_SCRIPT = textwrap.dedent("""
    import resource, signal, sys
    import hxgraph as hx
    from hxgraph.io import write_nir
    graph = hx.Graph.load(sys.argv[2])
    # Past the limit, write() fails with EFBIG instead of killing the process with SIGXFSZ.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[4]), resource.RLIM_INFINITY))
    try:
        if sys.argv[1] == "json":
            graph.save(sys.argv[3])
        else:
            write_nir(graph, sys.argv[3])
    except OSError as exc:
        print("refused:", exc)
        sys.exit(3)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux resource limits")
@pytest.mark.parametrize("kind, limit", [("json", 4096), pytest.param("nir", 8192, marks=needs_nir)])
def test_a_file_size_limit_part_way_leaves_the_old_file_intact(tmp_path, kind, limit):
    # Before the fix, a file-size limit left half a JSON file, and write_nir half an HDF5 file
    # and then crashed the interpreter while h5py cleaned up the file it could not close.
    old = small_graph()
    target = tmp_path / f"graph.{kind}"
    old.save(target) if kind == "json" else write_nir(old, target)
    before = target.read_bytes()
    source = tmp_path / "source" / "new.json"
    source.parent.mkdir()
    big_graph().save(source)
    result = subprocess.run([sys.executable, "-c", FSIZE_SCRIPT, kind, str(source), str(target), str(limit)],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "File too large" in result.stdout
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr
    assert target.read_bytes() == before
    assert folder_listing(tmp_path) == sorted([target.name, "source"])
    assert (hx.Graph.load(target) if kind == "json" else read_nir(target)) == old


def test_every_writer_of_a_user_file_goes_through_hxgraph_files():
    # No direct write_text, savefig to a path, open(..., "w") or nir.write(path) anywhere in
    # the package but hxgraph.files itself (lines quoting code in `backticks` are prose).
    forbidden = (".write_text(", ".write_bytes(", ".savefig(out", ".savefig(args", ".savefig(path", "nir.write(path")
    checked = [p for p in (ROOT / "hxgraph").rglob("*.py") if p.name != "files.py"]
    offenders = [f"{p.relative_to(ROOT)}: {line.strip()}" for p in checked
                 for line in p.read_text(encoding="utf-8").splitlines() if "`" not in line
                 and (any(f in line for f in forbidden) or ("open(" in line and '"w' in line))]
    assert offenders == []


def test_graph_save_returns_the_path_and_json_is_unchanged(tmp_path):
    g = small_graph()
    path = g.save(str(tmp_path / "g.json"), indent=1)
    assert path == tmp_path / "g.json"
    assert json.loads(path.read_text()) == json.loads(g.to_json())
    assert torch.equal(hx.Graph.load(path).projection("x_to_h").weight, g.projection("x_to_h").weight)
