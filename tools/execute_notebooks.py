"""Execute the notebooks from a clean kernel and store them with their outputs.

    python tools/execute_notebooks.py                      # every notebook in notebooks/
    python tools/execute_notebooks.py notebooks/02_placement_and_routing.ipynb

The notebooks are kept in git with the outputs of a clean, in-order run at full size, so that
they read well, figures included, on a code host or in Jupyter without running anything. Each
one records in its metadata (`hxgraph`) the SHA-256 of its code cells at the time of that run;
tests/test_notebooks.py fails when the code changed since (run this script again) or when the
outputs are not those of one in-order run.

Each notebook runs in a scratch directory (the files it writes do not land in the repository)
with a fresh ipykernel of this Python. `--quick` runs the small sizes the test suite uses
(HXGRAPH_NOTEBOOK_QUICK=1) and `--out DIR` writes the results elsewhere: handy to time a
change; the test refuses stored quick runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
META = "hxgraph"


def code_hash(notebook: dict[str, Any]) -> str:
    """SHA-256 of the code cells' sources in order (cell boundaries included), nothing else."""
    sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
               for c in notebook["cells"] if c["cell_type"] == "code"]
    return hashlib.sha256(json.dumps(sources).encode("utf-8")).hexdigest()


def execute(path: Path, quick: bool = False, timeout: int = 1800) -> tuple[Any, float]:
    """Run `path` top to bottom in a new kernel in a scratch directory; (notebook, seconds)."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    env_before = os.environ.get("HXGRAPH_NOTEBOOK_QUICK")
    # The kernel inherits this process's environment: that is how the notebook sees the size.
    os.environ["HXGRAPH_NOTEBOOK_QUICK"] = "1" if quick else "0"
    try:
        with tempfile.TemporaryDirectory(prefix="hxgraph-notebook-") as scratch:
            # record_timing off: no per-cell timestamps, so a re-run with the same outputs diffs clean;
            # coalesce_streams: one text output per stream and cell, carriage-return redraws resolved.
            client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=False,
                                    record_timing=False, coalesce_streams=True,
                                    resources={"metadata": {"path": scratch}})
            start = time.perf_counter()
            client.execute()
            seconds = time.perf_counter() - start
    finally:
        if env_before is None:
            os.environ.pop("HXGRAPH_NOTEBOOK_QUICK", None)
        else:
            os.environ["HXGRAPH_NOTEBOOK_QUICK"] = env_before
    notebook.metadata[META] = {"code_sha256": code_hash(notebook), "quick": quick,
                               "seconds": round(seconds, 1)}
    # The kernel's version string changes with every patch release and says nothing about the outputs.
    notebook.metadata.get("language_info", {}).pop("version", None)
    return notebook, seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    parser.add_argument("--quick", action="store_true", help="the test suite's small sizes (not for committing)")
    parser.add_argument("--out", type=Path, help="write the executed notebooks into this folder instead")
    args = parser.parse_args(argv)
    import nbformat

    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        notebook, seconds = execute(path, quick=args.quick)
        target = (args.out / path.name) if args.out else path
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, target)
        print(f"{path.name}: {seconds:.1f} s{' (quick)' if args.quick else ''} -> {target}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
