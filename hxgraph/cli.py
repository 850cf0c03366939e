"""The `hxgraph` command: `hxgraph demo`, `hxgraph summary FILE.json`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from hxgraph.errors import HxGraphError

EPILOG = """examples:
  hxgraph demo --out out/          build the yin-yang example experiment, print and save its graph
  hxgraph summary out/yinyang.json print the summary of a saved graph
"""


def demo_experiment():
    """The yin-yang network of the demo: 5 inputs → 120 LIF → 3 LI, the readout sparse."""
    import hxgraph as hx

    connections = hx.connect.random(120, 3, 0.5, seed=0)
    return (hx.Experiment("yinyang", dt=1e-6, seed=1234)
            .input("x", 5)
            .lif("hidden", 120, tau_mem=6e-6, tau_syn=6e-6, leak=hx.Mixed(0.0, 80.0), reset=hx.Mixed(0.0, 80.0),
                 threshold=hx.Mixed(1.0, 150.0))
            .li("out", 3, tau_mem=6e-6, tau_syn=6e-6, leak=hx.Mixed(0.0, 80.0))
            .dense("x", "hidden", init=hx.init.normal(0.8, 0.25))
            .sparse("hidden", "out", connections, init=hx.init.normal(0.0, 0.1)))


def _demo(args: argparse.Namespace) -> int:
    graph = demo_experiment().graph
    print(graph.summary())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = graph.save(out / "yinyang.json", indent=1)
    print(f"\ngraph written to {path} (structure hash {graph.structure_hash()[:16]})")
    return 0


def _summary(args: argparse.Namespace) -> int:
    from hxgraph.graph import Graph

    print(Graph.load(args.file).summary())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hxgraph", description="Spiking-network experiments for an emulated "
                                     "BrainScaleS-2-like chip.", epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the demo experiment")
    demo.add_argument("--out", default="out", help="folder for the results (default: out)")
    demo.set_defaults(run=_demo)
    summary = commands.add_parser("summary", help="print the summary of a graph JSON file")
    summary.add_argument("file", help="a graph written by Graph.save / to_json")
    summary.set_defaults(run=_summary)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except HxGraphError as exc:
        print(f"hxgraph: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
