"""The `hxgraph` command: `demo` (the whole workflow on yin-yang), `summary`, `place`, `sweep`.

`hxgraph demo` builds the yin-yang experiment with the fluent builder from model values
(hidden → readout sparse; inputs repeated 5×, every neuron of 2 circuits), trains it
hardware-aware in the mock, maps it onto the emulated chip (the calibration derives chip
values and weight scale), evaluates it on 5 emulated chips, fine-tunes it with one chip in
the loop, and writes every figure and a JSON summary. Results go to stdout; progress bars to
stderr, and only when stderr is a terminal (a log file or pipe gets no bar frames); `--quiet`
prints nothing but errors.

`hxgraph sweep` trains yin-yang at every point of a hyper-parameter grid and evaluates it on
many emulated chips, on a local Dask cluster (or `--address`, or `$HXGRAPH_SCHEDULER`), and
writes results.csv, results.json and sweep.png.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from hxgraph.errors import HxGraphError, MappingError, check_choice

EPILOG = """examples:
  hxgraph demo --out out                  the whole workflow, a few minutes on 2 cores; figures
                                          and summary.json in out/
  hxgraph demo --out quick --epochs 2 --loop-epochs 1 --train-size 1000
                                          a shorter run
  hxgraph summary out/yinyang.json        the populations and projections of a saved graph
  hxgraph place out/yinyang.json --out placement.png
                                          map a saved graph onto the chip, print what it uses,
                                          draw it
  hxgraph place big.json --partition --out partition.png --json partition.json
                                          split a network larger than one chip over several,
                                          print and draw the execution instances
  hxgraph place big.json --strategy first_fit --routing simple
                                          the public software's placement and row allocation; a
                                          network that does not fit exits with status 1 and the
                                          reason (and --out draws where it ran out)
  hxgraph sweep --lr 0.01 0.02 --epochs 2 --train-size 1000 --chips 8 --out sweep
                                          2 learning rates x 8 emulated chips on a local Dask
                                          cluster (pip install 'hxgraph[distributed]'); --workers 0
                                          runs them in this process

exit status:
  0  success
  1  the network does not fit the chip (hxgraph place), or cannot be partitioned (--partition)
  2  a usage or input error: a bad option, a missing, unreadable or malformed file, an
     output path that cannot be written; one line "hxgraph: error: ..." on stderr says which
  130  interrupted (Ctrl-C)
"""

DEMO_REPEAT = 5          # each input channel sent 5 times: an input weight may use up to 5 synapses
DEMO_CIRCUITS = 2        # every neuron of 2 circuits: their mismatch averages out (246 of 512 circuits)
DEMO_SPARSE = "hidden"   # hidden → readout is the sparse projection (50 % of the pairs)
DEMO_POLISH_EPOCHS = 4   # hardware-aware training ends with 4 epochs at half the imperfections (train_for_chip)
DEMO_FILES = ("graph.png", "placement.png", "raster.png", "traces.png", "training.png", "summary.json",
              "yinyang.json")


def _step(number: int, total: int, text: str, say: Callable[..., None] = print) -> None:
    say(f"\n[{number}/{total}] {text}", flush=True)


def _silent(*args: Any, **kwargs: Any) -> None:
    """`print` for `--quiet`: says nothing."""


def mapping_resources(mapping: Any) -> dict[str, Any]:
    """What a mapping uses, as plain JSON data (the numbers of `mapping.summary()`)."""
    s, spec = mapping.stats, mapping.spec
    names = [spec.hemisphere_name(h) for h in range(spec.hemispheres)]
    return {
        "chip": spec.name,
        "placement": mapping.placement.strategy,
        "routing": mapping.routing_mode,
        "neuron_circuits": {"used": s.circuits_used, "available": s.circuits_available,
                            "per_population": dict(s.circuits_per_population)},
        "synapse_rows": {name: {"used": s.rows_used[h], "available": s.rows_available} for h, name in enumerate(names)},
        "synapse_drivers_per_bus": {name: {"used": list(s.drivers_used[h]), "available": s.drivers_per_bus}
                                    for h, name in enumerate(names)},
        "synapses": {"placed": s.synapses, "nonzero": s.synapses_nonzero},
        "projections": {name: {"connections": p.connections, "synapses": p.synapses, "rows": p.rows,
                               "hemispheres": [names[h] for h in p.hemispheres]}
                        for name, p in s.projections.items()},
    }


def accuracy_table(test_size: int, loop_epochs: int, mock_on_mock: float, chips: Sequence[float],
                   loop_on_chip: float) -> str:
    """The demo's closing table: what was trained where, and measured where (the README quotes it).

    `chips`: the mock-trained network's accuracy on each emulated chip (mean ± sd shown).
    """
    mean = statistics.fmean(chips)
    spread = statistics.stdev(chips) if len(chips) > 1 else 0.0
    rows = [("trained in the mock, tested on the mock", f"{mock_on_mock:.3f}"),
            (f"trained in the mock, tested on {len(chips)} emulated chip{'' if len(chips) == 1 else 's'}",
             f"{mean:.3f} ± {spread:.3f}"),
            (f"+ {loop_epochs} epoch{'' if loop_epochs == 1 else 's'} with the chip in the loop, on that chip",
             f"{loop_on_chip:.3f}")]
    width = max(len(label) for label, _ in rows) + 3
    return "\n".join([f"Test accuracy ({test_size} yin-yang samples):"]
                     + [f"  {label:<{width}}{value}" for label, value in rows])


def _history_json(history: dict[str, Any]) -> dict[str, Any]:
    return {k: [round(float(v), 6) for v in history[k]] for k in ("train_loss", "train_accuracy", "test_accuracy",
                                                                    "seconds")}


def _demo(args: argparse.Namespace) -> int:
    import torch

    if "OMP_NUM_THREADS" not in os.environ and "OMP_WAIT_POLICY" not in os.environ:
        # The demo's tensors are small (38 × 50 × 120): a second thread gains little, while
        # OpenMP's spin-waiting makes every step several times slower when another process
        # is busy on a 2-core machine. (OMP_WAIT_POLICY=PASSIVE would help too, but it must
        # be set before torch loads.)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return _run_demo(args)
        finally:
            torch.set_num_threads(threads)
    return _run_demo(args)


def _run_demo(args: argparse.Namespace) -> int:
    import torch

    import hxgraph as hx
    from hxgraph import viz
    from hxgraph.datasets import YinYangDataset
    from hxgraph.files import write_text
    from hxgraph.progress import progress_bar
    from hxgraph.tasks import yinyang

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # Bars by default only where a person watches (hxgraph.progress); --quiet: no output at all.
    progress = False if args.quiet else None
    say = _silent if args.quiet else print
    chip_quiet = {"progress": False} if args.quiet else {}  # the emulator's bar, for long runs
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    total = 6
    common = dict(train_size=args.train_size, test_size=args.test_size, seed=args.seed, progress=progress,
                  log=None if args.quiet else print, batch_size=min(50, args.train_size))

    _step(1, total, "Build the yin-yang experiment with the fluent builder (model values only)", say)
    graph = yinyang.build_experiment(sparse=DEMO_SPARSE, seed=args.seed, repeat=DEMO_REPEAT,
                                     hidden_circuits=DEMO_CIRCUITS, readout_circuits=DEMO_CIRCUITS).graph
    say(graph.summary())
    viz.save_figure(viz.plot_graph(graph), out / "graph.png")

    _step(2, total, f"Train in the mock, hardware-aware ({args.epochs} + {DEMO_POLISH_EPOCHS} epochs on "
                    f"{args.train_size} samples: 6-bit weights, a chip's imperfections drawn anew every batch)", say)
    t = time.perf_counter()
    mock_history = yinyang.train_for_chip(epochs=args.epochs, polish_epochs=DEMO_POLISH_EPOCHS, graph=graph, **common)
    seconds["mock_training"] = time.perf_counter() - t
    mock_on_mock = mock_history["test_accuracy"][-1]

    _step(3, total, "Place and route onto the emulated chip", say)
    mapping = hx.place_and_route(graph)
    say(mapping.summary())
    viz.save_figure(viz.plot_placement(mapping), out / "placement.png")

    chip_seeds = list(range(args.chip_seed, args.chip_seed + args.chips))
    _step(4, total, f"Evaluate the mock-trained network on {args.chips} emulated chips (seeds {chip_seeds[0]}–"
                    f"{chip_seeds[-1]}: each with its own mismatch)", say)
    t = time.perf_counter()
    mock_on_chips = [yinyang.evaluate(graph, "chip", test_size=args.test_size, chip_seed=seed, **chip_quiet)
                     for seed in progress_bar(chip_seeds, progress=progress, desc="chips", unit="chip", leave=False)]
    seconds["chip_evaluation"] = time.perf_counter() - t
    say(f"test accuracy: {mock_on_mock:.3f} on the mock; on the emulated chips "
          + ", ".join(f"{a:.3f}" for a in mock_on_chips))

    _step(5, total, f"Fine-tune with emulated chip {args.chip_seed} in the loop ({args.loop_epochs} epochs)", say)
    t = time.perf_counter()
    loop_history = (yinyang.train(epochs=args.loop_epochs, backend="in_the_loop", graph=graph,
                                  chip_seed=args.chip_seed, **common)
                    if args.loop_epochs else None)
    seconds["in_the_loop_training"] = time.perf_counter() - t
    loop_on_chip = yinyang.evaluate(graph, "chip", test_size=args.test_size, chip_seed=args.chip_seed, **chip_quiet)
    loop_on_mock = yinyang.evaluate(graph, "mock", test_size=args.test_size)

    _step(6, total, "Record one test batch on both back ends and draw the figures", say)
    samples = YinYangDataset(size=8, seed=40)
    classifier = yinyang.Classifier(hx.mock(graph), repeat=yinyang.input_repeat(graph))
    spikes = classifier.spikes(samples.samples)
    with torch.no_grad():
        mock_run = hx.mock(graph)({"x": spikes})
    chip_run = hx.emulate(graph, seed=args.chip_seed, **chip_quiet)({"x": spikes})
    label = int(samples.labels[0])
    phases = {"mock": mock_history}
    marks: dict[str, Any] = {f"mock-trained, on {args.chips} chips (mean)": (len(mock_history["test_accuracy"]),
                                                                            statistics.fmean(mock_on_chips))}
    if loop_history is not None:
        phases["chip in the loop"] = loop_history
        marks["after fine-tuning, on the chip"] = (len(mock_history["test_accuracy"]) + args.loop_epochs, loop_on_chip)
    figures = {
        "raster.png": lambda: viz.plot_raster(chip_run, graph=graph,
                                              title=f"Emulated chip: spikes for test sample 0 (class {label})"),
        "traces.png": lambda: viz.plot_traces({"mock": mock_run, "emulated chip": chip_run}, "out",
                                              neurons=range(graph.population("out").size),
                                              title=f"Readout membranes for test sample 0 (class {label}): mock vs "
                                                    "emulated chip"),
        "training.png": lambda: viz.plot_training(phases, marks=marks, title="Yin-yang: trained hardware-aware in the mock, "
                                                  "fine-tuned with the emulated chip in the loop"),
    }
    for name, draw in progress_bar(figures.items(), progress=progress, desc="figures", unit="figure", leave=False):
        viz.save_figure(draw(), out / name)
    graph.save(out / "yinyang.json", indent=1)
    seconds["total"] = time.perf_counter() - started

    summary = {
        "experiment": {
            "name": graph.name, "structure_hash": graph.structure_hash(),
            "populations": {p.name: {"model": p.model, "size": p.size} for p in graph.populations.values()},
            "projections": {p.name: {"source": p.source, "target": p.target, "connectivity": p.connectivity.kind,
                                     "connections": p.connection_count, "receptor": p.receptor}
                            for p in graph.projections.values()},
            "input_repeat": DEMO_REPEAT, "circuits_per_neuron": DEMO_CIRCUITS,
            "calibration": {"trace_scale": mapping.calibration.trace_scale, "leak": mapping.calibration.leak,
                            "weight_scale": mapping.calibration.weight_scale,
                            "synapse_gain": mapping.calibration.synapse_gain},
            "consistency": [finding.message for finding in mapping.consistency],
        },
        "settings": {"epochs": args.epochs, "loop_epochs": args.loop_epochs, "train_size": args.train_size,
                     "test_size": args.test_size, "seed": args.seed, "chip_seed": args.chip_seed,
                     "chips": args.chips, "hardware_aware": True, "polish_epochs": DEMO_POLISH_EPOCHS},
        "accuracy": {
            "mock_trained": {"mock": mock_on_mock, "chips": dict(zip(map(str, chip_seeds), mock_on_chips)),
                             "chips_mean": statistics.fmean(mock_on_chips),
                             "chips_sd": statistics.stdev(mock_on_chips) if len(mock_on_chips) > 1 else 0.0},
            "after_in_the_loop": {"chip": loop_on_chip, "mock": loop_on_mock},
        },
        "history": {"mock": _history_json(mock_history),
                    "in_the_loop": None if loop_history is None else _history_json(loop_history)},
        "resources": mapping_resources(mapping),
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "files": list(DEMO_FILES),
    }
    write_text(out / "summary.json", json.dumps(summary, indent=1) + "\n")

    say("\n" + accuracy_table(args.test_size, args.loop_epochs, mock_on_mock, mock_on_chips, loop_on_chip))
    say(f"\nWrote {', '.join(DEMO_FILES)} to {out}/ in {seconds['total']:.0f} s")
    return 0


def _summary(args: argparse.Namespace) -> int:
    from hxgraph.graph import Graph

    print(Graph.load(args.file).summary())
    return 0


def _place(args: argparse.Namespace) -> int:
    import hxgraph as hx
    from hxgraph.graph import Graph

    graph = Graph.load(args.file)
    if args.partition or args.max_chips is not None or args.json is not None:
        return _partition(graph, args)
    try:
        mapping = hx.place_and_route(graph, placement=args.strategy, routing=args.routing)
    except MappingError as error:
        _report(f"{graph.name!r} does not fit the chip", error)
        if "hx.partition(graph)" in str(error):
            print(f"on the command line: hxgraph place {args.file} --partition", file=sys.stderr)
        if args.out:
            hx.viz.save_figure(hx.viz.plot_placement(error), args.out)
            print(f"drawing of where it ran out written to {args.out}", file=sys.stderr)
        return 1
    print(mapping.summary())
    if args.out:
        hx.viz.save_figure(hx.viz.plot_placement(mapping), args.out)
        print(f"\nplacement drawing written to {args.out}")
    return 0


def _report(what: str, error: MappingError) -> None:
    """A mapping error on stderr: what failed and why, then the resource's numbers for programs."""
    print(f"hxgraph: {what}: {error}", file=sys.stderr)
    if error.resource is not None:
        print(f"[{error.resource}: needed {error.needed}, available {error.available}]", file=sys.stderr)


def _partition(graph: Any, args: argparse.Namespace) -> int:
    """`hxgraph place FILE --partition`: execution instances over several chips, their summary and drawing."""
    import hxgraph as hx
    from hxgraph.files import write_text

    try:
        partition = hx.partition(graph, placement=args.strategy, routing=args.routing, max_chips=args.max_chips)
    except MappingError as error:
        _report(f"{graph.name!r} cannot be partitioned", error)
        return 1
    print(partition.summary())
    if args.json:
        write_text(args.json, partition.to_json())
        print(f"\npartition written to {args.json}")
    if args.out:
        hx.viz.save_figure(hx.viz.plot_partition(partition), args.out)
        print(f"\npartition drawing written to {args.out}")
    return 0


# Grid options of `hxgraph sweep`: each takes one or more values (an axis of the grid).
SWEEP_GRID = ("lr", "epochs", "train_size", "test_size", "batch_size", "seed", "sparse", "repeat", "hardware_aware")


def _sweep(args: argparse.Namespace) -> int:
    from hxgraph import viz
    from hxgraph.distributed import sweep

    grid = {name: getattr(args, name) for name in SWEEP_GRID if getattr(args, name) is not None}
    if not grid:
        raise UsageError("give at least one hyper-parameter to sweep, e.g. --lr 0.01 0.02 (grid options: "
                         + ", ".join("--" + name.replace("_", "-") for name in SWEEP_GRID) + ")")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    say = _silent if args.quiet else print
    result = sweep(args.task, chips=list(range(args.chip_seed, args.chip_seed + args.chips)),
                   finetune_epochs=args.finetune_epochs, finetune_lr=args.finetune_lr,
                   engine="serial" if args.workers == 0 else "dask", address=args.address, workers=args.workers,
                   retries=args.retries, progress=False if args.quiet else None, **grid)
    result.to_csv(out / "results.csv")
    result.to_json(out / "results.json")
    viz.save_figure(viz.plot_sweep(result), out / "sweep.png")
    say(result.summary())
    say(f"\nWrote results.csv, results.json, sweep.png to {out}/")
    return 0


# ------------------------------------------------------------------------------ arguments

class UsageError(Exception):
    """A bad command line (unknown option, invalid value); `main` reports it on one line with status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is raised (one line from `main`) instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        match = re.fullmatch(r"argument ([^:\s]+): (.*)", message, re.S)
        if match:  # "argument --epochs: must be ..." -> "--epochs must be ..."
            flag, text = match.groups()
            message = f"{flag} {text}" if text.startswith("must ") else f"{flag}: {text}"
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _integer(minimum: Optional[int], words: str):
    """An argparse type: an integer of at least `minimum`; the message says what was expected."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or (minimum is not None and value < minimum):
            raise argparse.ArgumentTypeError(f"must be {words}; got {text!r}")
        return value
    return parse


_positive = _integer(1, "a positive integer")
_non_negative = _integer(0, "an integer >= 0")
_any_integer = _integer(None, "an integer")


def _positive_real(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0; got {text!r}")
    return value


def _choice(choices: Sequence[str], what: str, valid: str):
    """An argparse type: one of `choices`, else hxgraph's "unknown ... (did you mean ...)" message."""
    def parse(text: str) -> str:
        try:
            return check_choice(text, choices, what, valid)
        except HxGraphError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def _image_path(text: str) -> str:
    """An image to write: a known image extension and an existing folder, checked before any work is done."""
    from hxgraph.viz import figure_format

    try:
        figure_format(text)
    except HxGraphError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    _check_folder_of(Path(text))
    return text


def _output_folder(text: str) -> str:
    """A folder for results: created later if missing, but not an existing file."""
    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"must be a folder; {text!r} is a file")
    return text


def _check_folder_of(path: Path) -> None:
    folder = path.parent
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{str(path)!r} is a directory; give a file name such as "
                                         f"{str(path / 'placement.png')!r}")
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {str(path)!r}: the folder {str(folder)!r} does not exist")


def build_parser() -> argparse.ArgumentParser:
    from hxgraph.chip import ROUTINGS, STRATEGIES

    parser = _Parser(prog="hxgraph", description="Spiking-network experiments for an emulated "
                     "BrainScaleS-2-like chip.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="{demo,summary,place,sweep}")
    demo = commands.add_parser(
        "demo", help="yin-yang: build, train in the mock, map, evaluate on the chip, fine-tune in the loop",
        description="Build the yin-yang experiment (5 coordinates repeated 5x -> 120 LIF -> 3 LI, each neuron of 2 circuits, "
                    "readout projection sparse), train it hardware-aware in the mock, map it onto the emulated chip, "
                    "evaluate it on several emulated chips, fine-tune it with one chip in the loop, and write graph.png, placement.png, raster.png, "
                    "traces.png, training.png, summary.json and the trained graph yinyang.json into OUT.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    demo.add_argument("--out", default="out", type=_output_folder, help="folder for the results (created if needed)")
    demo.add_argument("--epochs", type=_positive, default=10, help="epochs of training in the mock (~1-2 s each)")
    demo.add_argument("--loop-epochs", type=_non_negative, default=10,
                      help="epochs of fine-tuning with the chip in the loop (~10 s each; 0 skips it)")
    demo.add_argument("--train-size", type=_positive, default=5000, help="training samples")
    demo.add_argument("--test-size", type=_positive, default=1000, help="test samples")
    demo.add_argument("--seed", type=_any_integer, default=0, help="weights and shuffling")
    demo.add_argument("--chip-seed", type=_any_integer, default=0,
                      help="the first emulated chip (mismatch, noise); the one fine-tuned in the loop")
    demo.add_argument("--chips", type=_positive, default=5, help="emulated chips the mock-trained network is tested on")
    demo.add_argument("--quiet", action="store_true",
                      help="print nothing but errors (no steps, tables or progress bars); the results are in "
                           "OUT/summary.json. Without it, progress bars are drawn only when stderr is a terminal")
    demo.set_defaults(run=_demo)
    summary = commands.add_parser("summary", help="print the summary of a graph JSON file")
    summary.add_argument("file", help="a graph written by Graph.save / to_json (e.g. out/yinyang.json)")
    summary.set_defaults(run=_summary)
    place = commands.add_parser("place", help="map a graph JSON file onto the chip and print (or draw) the result",
                                description="Place and route a saved graph onto the emulated chip (HICANN-X) and "
                                            "print what it uses. A network that does not fit prints the mapping "
                                            "error (what ran out, how much was needed, what to try) and exits with "
                                            "status 1.")
    place.add_argument("file", help="a graph written by Graph.save / to_json")
    place.add_argument("--out", type=_image_path,
                       help="write the placement drawing here (.png, .svg, .pdf, ...); for a network that does not "
                            "fit, the drawing of where it ran out")
    place.add_argument("--strategy", default="balanced",
                       type=_choice(STRATEGIES, "placement strategy", "valid strategies"),
                       help="placement: balanced (default) or first_fit")
    place.add_argument("--routing", default="shared", type=_choice(ROUTINGS, "routing", "valid routings"),
                       help="routing: shared (default) or simple")
    place.add_argument("--partition", action="store_true",
                       help="split the graph over as many chips (execution instances) as it needs and print the "
                            "partition; --out then draws the instances and the spikes between them")
    place.add_argument("--max-chips", type=_positive, default=None,
                       help="with --partition: at most this many chips (exit status 1 if it needs more)")
    place.add_argument("--json", type=Path, default=None,
                       help="with --partition: write the partition as JSON here (hxgraph.Partition.from_json reads it)")
    place.set_defaults(run=_place)
    _add_sweep_parser(commands)
    return parser


class _ShownDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default only where there is one to show (not None, not an unset flag)."""

    def _get_help_string(self, action: argparse.Action) -> Optional[str]:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _add_sweep_parser(commands: Any) -> None:
    from hxgraph.tasks.yinyang import SPARSE_CHOICES

    sweep = commands.add_parser(
        "sweep", help="yin-yang over a grid of hyper-parameters x emulated chips, on a Dask cluster",
        description="Train the yin-yang network in the mock at every point of a hyper-parameter grid (each grid "
                    "option takes one or more values), evaluate it on CHIPS emulated chips, optionally fine-tune it "
                    "with each chip in the loop, and write results.csv, results.json and sweep.png into OUT. Runs on "
                    "a local Dask cluster started for the run (pip install 'hxgraph[distributed]'), on the cluster at "
                    "--address or $HXGRAPH_SCHEDULER, or with --workers 0 in this process; the results are the same. "
                    "Omitted hyper-parameters keep the task's defaults (hxgraph.tasks.yinyang.train: 20 epochs, "
                    "5000 training samples, lr 0.002, ...).",
        formatter_class=_ShownDefaults)
    sweep.add_argument("--task", default="yinyang", type=_choice(("yinyang",), "sweep task", "valid tasks"),
                       help="the task")
    grid = sweep.add_argument_group("grid (one or more values each)")
    grid.add_argument("--lr", nargs="+", type=_positive_real, help="learning rates of the mock training")
    grid.add_argument("--epochs", nargs="+", type=_positive, help="epochs of mock training")
    grid.add_argument("--train-size", nargs="+", type=_positive, help="training samples")
    grid.add_argument("--test-size", nargs="+", type=_positive, help="test samples (mock and chips)")
    grid.add_argument("--batch-size", nargs="+", type=_positive, help="samples per batch")
    grid.add_argument("--seed", nargs="+", type=_non_negative, help="seeds of weights and shuffling")
    grid.add_argument("--sparse", nargs="+", type=_choice(SPARSE_CHOICES, "sparse choice", "valid choices"),
                      help="which projection is sparse: none, hidden or input")
    grid.add_argument("--repeat", nargs="+", type=_positive, help="times each input channel is sent")
    grid.add_argument("--hardware-aware", action="store_const", const=True,
                      help="train hardware-aware in the mock (6-bit weights, a chip's imperfections)")
    chips = sweep.add_argument_group("chips")
    chips.add_argument("--chips", type=_positive, default=8, help="emulated chips each trained network is tested on")
    chips.add_argument("--chip-seed", type=_non_negative, default=0, help="the first chip's seed (then +1, +2, ...)")
    chips.add_argument("--finetune-epochs", type=_non_negative, default=0,
                       help="epochs of fine-tuning with each chip in the loop (0: none)")
    chips.add_argument("--finetune-lr", type=_positive_real, help="fine-tuning learning rate (default: the point's lr)")
    where = sweep.add_argument_group("where it runs")
    where.add_argument("--workers", type=_non_negative,
                       help="worker processes of the local cluster (default: one per core); 0 runs in this process")
    where.add_argument("--address", help="scheduler of an existing Dask cluster, e.g. tcp://host:8786 (default: "
                                         "$HXGRAPH_SCHEDULER, else a local cluster)")
    where.add_argument("--retries", type=_non_negative, default=2,
                       help="times a task that fails or loses its worker is run again")
    sweep.add_argument("--out", default="sweep", type=_output_folder, help="folder for the results (created if needed)")
    sweep.add_argument("--quiet", action="store_true", help="print nothing but errors (no table, no progress bars)")
    sweep.set_defaults(run=_sweep)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command; returns the exit status: 0 ok, 1 the network does not fit the chip, 2 a usage or
    input error (reported on one line, "hxgraph: error: ..."), 130 interrupted."""
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except (UsageError, HxGraphError) as exc:
        return _error(str(exc))
    except OSError as exc:  # the file system refused (permissions, a full disk, a vanished folder)
        return _error(_os_message(exc))
    except KeyboardInterrupt:
        print("hxgraph: interrupted", file=sys.stderr)
        return 130


def _error(message: str) -> int:
    # One line, whatever the message holds: scripts and people read the last line of stderr.
    print(f"hxgraph: error: {' '.join(message.split())}", file=sys.stderr)
    return 2


def _os_message(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.strerror}: {str(exc.filename)!r}"
    return str(exc) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
