"""`hx.sweep`: a grid of hyper-parameters × emulated chips for a task, on a cluster or serially.

For every point of the grid the task's network is trained once in the mock (seeded), then
evaluated on every emulated chip seed, and optionally fine-tuned with that chip in the loop
and evaluated again. Training and chips are tasks for `hxgraph.distributed.engine`: one
per grid point, then one per (point, chip). Every task is seeded, so a local cluster, an
existing cluster and `engine="serial"` give the same table.
"""

from __future__ import annotations

import csv
import inspect
import io
import itertools
import json
import math
import numbers
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence, Union

from hxgraph.chip.emulator import check_seed
from hxgraph.distributed.engine import check_engine_options, connect
from hxgraph.errors import ParameterError, UnknownNameError, check_choice, did_you_mean, known
from hxgraph.files import write_text
from hxgraph.graph import Graph
from hxgraph.tasks import yinyang

__all__ = ["sweep", "SweepResult", "TASKS", "YINYANG_PARAMETERS"]

TASKS = ("yinyang",)
RESULT_COLUMNS = ("chip_seed", "train_loss", "mock_accuracy", "chip_accuracy", "finetuned_accuracy")


# ------------------------------------------------------------------ hyper-parameter checks
# Each check returns the value in its canonical type (an integer learning rate 1 becomes 1.0,
# so the table's columns have one type) or raises a ParameterError naming the parameter.

def _integer(minimum: int) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            raise ParameterError(f"sweep: {name} must be an integer >= {minimum}; got {value!r}")
        return int(value)
    return check


def _real(minimum: float, inclusive: bool, maximum: Optional[float] = None) -> Callable[[str, Any], float]:
    def check(name: str, value: Any) -> float:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and (value >= minimum if inclusive else value > minimum) and (maximum is None or value <= maximum)
        if not ok:
            bound = f"{'>=' if inclusive else '>'} {minimum}" + ("" if maximum is None else f" and <= {maximum}")
            raise ParameterError(f"sweep: {name} must be a finite number {bound}; got {value!r}")
        return float(value)
    return check


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ParameterError(f"sweep: {name} must be True or False; got {value!r}")
    return value


def _sparse(name: str, value: Any) -> str:
    return check_choice(value, yinyang.SPARSE_CHOICES, f"{name} choice", "valid choices", error=ParameterError)


# The yin-yang hyper-parameters a sweep may vary (keywords of hxgraph.tasks.yinyang.train); the
# hidden layer's size is fixed by the task (120 neurons).
YINYANG_PARAMETERS: dict[str, Callable[[str, Any], Any]] = {
    "lr": _real(0.0, inclusive=False),
    "epochs": _integer(1),
    "train_size": _integer(1),
    "test_size": _integer(1),
    "batch_size": _integer(1),
    "gamma": _real(0.0, inclusive=False),
    "seed": _integer(0),
    "sparse": _sparse,
    "density": _real(0.0, inclusive=False, maximum=1.0),
    "repeat": _integer(1),
    "readout_scale": _real(0.0, inclusive=False),
    "rate_reg": _real(0.0, inclusive=True),
    "hardware_aware": _flag,
}
_DEFAULTS = {name: p.default for name, p in inspect.signature(yinyang.train).parameters.items()}
# What fine-tuning in the loop keeps from the point (the network itself comes from the mock training).
_FINETUNE_KEYS = ("train_size", "test_size", "batch_size", "seed", "gamma", "readout_scale", "rate_reg")


def grid_axes(grid: Mapping[str, Any]) -> dict[str, list]:
    """Each hyper-parameter's values, checked: a list, tuple or range is an axis, anything else one value."""
    if not grid:
        raise ParameterError(f"sweep: give at least one hyper-parameter, e.g. lr=[1e-3, 1e-2]; valid: "
                             f"{known(YINYANG_PARAMETERS)}")
    axes = {}
    for name, values in grid.items():
        if name not in YINYANG_PARAMETERS:
            raise UnknownNameError(f"sweep: unknown yin-yang hyper-parameter {name!r}"
                                   f"{did_you_mean(name, YINYANG_PARAMETERS)}; valid: {known(YINYANG_PARAMETERS)}")
        values = list(values) if isinstance(values, (list, tuple, range)) else [values]
        if not values:
            raise ParameterError(f"sweep: {name}=[] has no values; give at least one")
        axes[name] = [YINYANG_PARAMETERS[name](name, value) for value in values]
    return axes


def grid_points(axes: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, the last axis varying fastest; each checked as a whole."""
    points = [dict(zip(axes, values)) for values in itertools.product(*axes.values())]
    for point in points:
        batch, size = (point.get(k, _DEFAULTS[k]) for k in ("batch_size", "train_size"))
        if batch > size:
            raise ParameterError(f"sweep: batch_size={batch} exceeds train_size={size} at the point {point}; "
                                 "batch_size must be at most train_size")
    return points


def chip_seeds(chips: Any) -> list[int]:
    """`chips` as a list of emulated-chip seeds: a count n gives 0..n-1; a sequence is taken as it is."""
    if isinstance(chips, numbers.Integral) and not isinstance(chips, bool):
        if chips < 1:
            raise ParameterError(f"sweep: chips must be a number of chips >= 1 or a list of chip seeds; got {chips}")
        return list(range(int(chips)))
    if not isinstance(chips, (list, tuple, range)) or not chips:
        raise ParameterError("sweep: chips must be a number of chips >= 1 or a non-empty list of chip seeds "
                             f"(integers >= 0); got {chips!r}")
    seeds = [check_seed(seed, "sweep: every chip seed") for seed in chips]
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        raise ParameterError(f"sweep: chip seeds {repeated} appear more than once; each seed is one emulated chip")
    return seeds


# ------------------------------------------------------------------ the tasks (run on workers)

def train_point(point: dict[str, Any]) -> dict[str, Any]:
    """Train the yin-yang network in the mock at one grid point; the trained graph as JSON (exact)."""
    history = yinyang.train(**point, log=None, progress=False)
    return {"graph": history["graph"].to_json(), "train_loss": history["train_loss"][-1],
            "mock_accuracy": history["test_accuracy"][-1]}


def on_chip(job: dict[str, Any]) -> dict[str, Any]:
    """Evaluate a trained graph on one emulated chip; with `finetune_epochs`, fine-tune it in the loop
    on that chip and evaluate again."""
    point, seed = job["point"], job["chip_seed"]
    graph = Graph.from_json(job["graph"])
    test = {"test_size": point.get("test_size", _DEFAULTS["test_size"]),
            "readout_scale": point.get("readout_scale", _DEFAULTS["readout_scale"])}
    row = {"chip_accuracy": yinyang.evaluate(graph, "chip", chip_seed=seed, progress=False, **test)}
    if job["finetune_epochs"]:
        options = {key: point[key] for key in _FINETUNE_KEYS if key in point}
        yinyang.train(epochs=job["finetune_epochs"], lr=job["finetune_lr"], backend="in_the_loop", graph=graph,
                      chip_seed=seed, log=None, progress=False, **options)
        row["finetuned_accuracy"] = yinyang.evaluate(graph, "chip", chip_seed=seed, progress=False, **test)
    return row


# ------------------------------------------------------------------ the result

class SweepResult:
    """The table of a sweep: one row per (grid point, emulated chip), in grid order then chip order.

    Each row holds `point` (the grid point's index), the hyper-parameters given to `sweep`,
    `chip_seed`, `train_loss` and `mock_accuracy` (after training in the mock, on the mock),
    `chip_accuracy` (that network on this chip) and, with fine-tuning, `finetuned_accuracy`
    (after fine-tuning with this chip in the loop, on this chip). Accuracies are fractions of
    the test set. `grid` maps each hyper-parameter to its values; `varied` names those with
    more than one; `seconds` is the wall time of each phase (not part of the rows, which are
    the same on every engine).
    """

    def __init__(self, task: str, grid: dict[str, list], chip_seeds: list[int], rows: list[dict[str, Any]], *,
                 finetune_epochs: int, finetune_lr: Optional[float], engine: str, seconds: dict[str, float]):
        self.task = task
        self.grid = grid
        self.chip_seeds = chip_seeds
        self.rows = rows
        self.finetune_epochs = finetune_epochs
        self.finetune_lr = finetune_lr
        self.engine = engine
        self.seconds = seconds

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __repr__(self) -> str:
        return (f"SweepResult({self.task}: {len(self.points)} points × {len(self.chip_seeds)} chips = "
                f"{len(self.rows)} rows, {self.engine})")

    @property
    def columns(self) -> list[str]:
        """The table's columns: `point`, the hyper-parameters, then the results."""
        results = [c for c in RESULT_COLUMNS if c != "finetuned_accuracy" or self.finetune_epochs]
        return ["point", *self.grid, *results]

    @property
    def varied(self) -> list[str]:
        """The hyper-parameters with more than one value."""
        return [name for name, values in self.grid.items() if len(values) > 1]

    @property
    def points(self) -> list[dict[str, Any]]:
        """The grid points in order, as hyper-parameter dicts."""
        return grid_points(self.grid)

    def per_point(self) -> list[dict[str, Any]]:
        """One summary row per grid point: hyper-parameters, mock accuracy, chip accuracy mean/sd/min/max."""
        out = []
        for index, point in enumerate(self.points):
            rows = [row for row in self.rows if row["point"] == index]
            entry = {"point": index, **point, "mock_accuracy": rows[0]["mock_accuracy"]}
            keys = ["chip_accuracy"] + (["finetuned_accuracy"] if self.finetune_epochs else [])
            for key in keys:
                values = [row[key] for row in rows]
                entry[f"{key}_mean"] = statistics.fmean(values)
                entry[f"{key}_sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
                entry[f"{key}_min"], entry[f"{key}_max"] = min(values), max(values)
            out.append(entry)
        return out

    def summary(self) -> str:
        """A readable table: per grid point, the mock accuracy and the accuracy over the chips."""
        lines = [f"{self.task} sweep: {len(self.points)} grid point{'s' if len(self.points) != 1 else ''} × "
                 f"{len(self.chip_seeds)} emulated chip{'s' if len(self.chip_seeds) != 1 else ''} on {self.engine} "
                 f"({self.seconds.get('total', 0.0):.1f} s)"]
        for entry in self.per_point():
            label = ", ".join(f"{name}={entry[name]}" for name in self.grid) or "defaults"
            text = (f"  {label}: mock {entry['mock_accuracy']:.3f}; chips {entry['chip_accuracy_mean']:.3f} ± "
                    f"{entry['chip_accuracy_sd']:.3f} ({entry['chip_accuracy_min']:.3f}–{entry['chip_accuracy_max']:.3f})")
            if self.finetune_epochs:
                text += (f"; fine-tuned in the loop {entry['finetuned_accuracy_mean']:.3f} ± "
                         f"{entry['finetuned_accuracy_sd']:.3f}")
            lines.append(text)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Settings, timing and rows as plain JSON data."""
        return {"task": self.task, "grid": self.grid, "chip_seeds": self.chip_seeds,
                "finetune_epochs": self.finetune_epochs, "finetune_lr": self.finetune_lr, "engine": self.engine,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}, "columns": self.columns,
                "rows": self.rows}

    def to_json(self, path: Union[str, Path]) -> Path:
        """Write `to_dict()` as JSON to `path` (atomically: never a half-written file)."""
        return write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")

    def to_csv(self, path: Union[str, Path]) -> Path:
        """Write the rows as CSV to `path` (atomically); floats keep every digit."""
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return write_text(path, text.getvalue())


# ------------------------------------------------------------------ the sweep

def sweep(task: str = "yinyang", *, chips: Union[int, Sequence[int]] = 8, finetune_epochs: int = 0,
          finetune_lr: Optional[float] = None, engine: str = "dask", address: Optional[str] = None,
          workers: Optional[int] = None, retries: int = 2, progress: Optional[bool] = None,
          **grid: Any) -> SweepResult:
    """Train at every grid point in the mock, evaluate on every emulated chip; one table.

    `grid`: yin-yang hyper-parameters (keywords of `hxgraph.tasks.yinyang.train`: lr,
    epochs, train_size, test_size, batch_size, gamma, seed, sparse, density, repeat,
    readout_scale, rate_reg, hardware_aware); a list is an axis of the grid, a single value
    is used at every point, an omitted one keeps the task's default. `chips`: a number of
    emulated chips (seeds 0..n-1) or a list of chip seeds. `finetune_epochs` > 0 fine-tunes
    a copy of each point's network with each chip in the loop (at `finetune_lr`, default the
    point's lr) and evaluates it again on that chip.

    Where it runs (see `hxgraph.distributed.engine.connect`): by default a local Dask
    cluster of `workers` processes (one per core), started and closed here; `address` or
    `$HXGRAPH_SCHEDULER` for an existing cluster; `engine="serial"` or `workers=0` in this
    process. A task that raises or loses its worker is retried `retries` times. Every task
    is seeded, so all engines give the same rows. Arguments are checked before a cluster
    starts. `progress`: bars for the training and chip phases (None: only where a person
    watches stderr). Needs `pip install 'hxgraph[distributed]'` for Dask.

    >>> result = hx.sweep(lr=[1e-2, 2e-2], epochs=2, train_size=500, chips=8)  # doctest: +SKIP
    >>> result.to_csv("sweep.csv"); hx.viz.plot_sweep(result)                   # doctest: +SKIP
    """
    check_choice(task, TASKS, "sweep task", "valid tasks")
    axes = grid_axes(grid)
    points = grid_points(axes)
    seeds = chip_seeds(chips)
    finetune_epochs = _integer(0)("finetune_epochs", finetune_epochs)
    if finetune_lr is not None:
        finetune_lr = _real(0.0, inclusive=False)("finetune_lr", finetune_lr)
    check_engine_options(engine, address, workers, retries)

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    with connect(engine, address=address, workers=workers, retries=retries) as runner:
        seconds["start"] = time.perf_counter() - started
        phase = time.perf_counter()
        trained = runner.map(train_point, points, desc="train", progress=progress)
        seconds["train"] = time.perf_counter() - phase
        jobs = [{"point": point, "graph": result["graph"], "chip_seed": seed, "finetune_epochs": finetune_epochs,
                 "finetune_lr": point.get("lr", _DEFAULTS["lr"]) if finetune_lr is None else finetune_lr}
                for point, result in zip(points, trained) for seed in seeds]
        phase = time.perf_counter()
        measured = runner.map(on_chip, jobs, desc="chips", progress=progress)
        seconds["chips"] = time.perf_counter() - phase
        description = runner.description
    seconds["total"] = time.perf_counter() - started

    rows = []
    for index, (point, result) in enumerate(zip(points, trained)):
        for offset, seed in enumerate(seeds):
            chip = measured[index * len(seeds) + offset]
            rows.append({"point": index, **point, "chip_seed": seed, "train_loss": result["train_loss"],
                         "mock_accuracy": result["mock_accuracy"], **chip})
    return SweepResult(task, axes, seeds, rows, finetune_epochs=finetune_epochs, finetune_lr=finetune_lr,
                       engine=description, seconds=seconds)
