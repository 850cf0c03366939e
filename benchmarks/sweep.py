"""Sweep throughput: the same yin-yang sweep serially and on a local Dask cluster; a projection.

Run: python benchmarks/sweep.py [--chips 16] [--workers 2] [--test-size 1000] ...

The sweep trains yin-yang in the mock at each learning rate (one task per grid point), then
evaluates each trained network on every emulated chip (one task per point and chip). It runs
twice: serially in this process (`--serial-threads` torch threads, default 1: on a shared
2-core machine one thread is fastest, as for the demo) and on a local Dask cluster of
`--workers` processes with one torch thread each; the rows must be equal.
Printed: wall time per phase, chip tasks per second, the cluster's start-up, and the
projected time of 1,000 chip seeds on a 64-core cluster (a projection from the per-task time
measured here, with its assumptions printed). The load average is printed before and after:
other processes on the machine slow both runs.
"""

from __future__ import annotations

import argparse
import math
import os


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"


def phases(result) -> str:
    s = result.seconds
    return (f"{s['total']:.1f} s total (start {s['start']:.1f} s, training {s['train']:.1f} s, "
            f"chips {s['chips']:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, nargs="+", default=[0.01, 0.02])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=1000)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--chips", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--serial-threads", type=int, default=1)
    parser.add_argument("--project-chips", type=int, default=1000)
    parser.add_argument("--project-cores", type=int, default=64)
    args = parser.parse_args()

    import torch

    import hxgraph as hx
    from hxgraph.distributed.engine import available_cores

    grid = dict(lr=args.lr, epochs=args.epochs, train_size=args.train_size, test_size=args.test_size)
    points, tasks = len(args.lr), len(args.lr) * args.chips
    print(f"torch {torch.__version__}; {available_cores()} cores; load average {load()}")
    print(f"sweep: {points} learning rates x {args.chips} chips ({args.epochs} epochs on {args.train_size} samples, "
          f"{args.test_size} test samples): {points} training tasks, {tasks} chip tasks")

    torch.set_num_threads(args.serial_threads)
    serial = hx.sweep(engine="serial", chips=args.chips, progress=False, **grid)
    print(f"serial ({torch.get_num_threads()} torch threads): {phases(serial)}; "
          f"{tasks / serial.seconds['chips']:.2f} chip tasks/s")
    cluster = hx.sweep(workers=args.workers, chips=args.chips, progress=False, **grid)
    print(f"{cluster.engine}, 1 torch thread each: {phases(cluster)}; "
          f"{tasks / cluster.seconds['chips']:.2f} chip tasks/s")
    assert cluster.rows == serial.rows, "the cluster's rows differ from the serial ones"
    print(f"rows equal; chip-phase speed-up {serial.seconds['chips'] / cluster.seconds['chips']:.2f}x, "
          f"whole sweep {serial.seconds['total'] / cluster.seconds['total']:.2f}x (cluster start-up included)")

    # Projection: every worker process keeps one core busy with one task at a time, so a chip
    # task costs what it cost here on one thread: serially (this process alone on its core) or
    # on a worker (sharing the machine with the other worker and whatever else runs here).
    chip_tasks = points * args.project_chips
    waves = math.ceil(chip_tasks / args.project_cores)
    print(f"projection, {args.project_chips:,} chip seeds x {points} learning rates = {chip_tasks:,} chip tasks on a "
          f"{args.project_cores}-core cluster ({args.project_cores} worker processes, 1 thread each): "
          f"{waves} waves of chip tasks after one wave of training")
    for name, run, share in (("serial", serial, 1), ("cluster", cluster, args.workers)):
        per_task = share * run.seconds["chips"] / tasks
        per_point = share * run.seconds["train"] / points
        projected = per_point + waves * per_task
        print(f"  from the {name} run's {per_task:.2f} s per chip task and {per_point:.1f} s per training: "
              f"{projected:.0f} s ({projected / 60:.1f} min)")
    print("  assumes: cores as fast as these; tasks independent, so they scale with workers (the scheduler adds "
          "~1 ms per task, each task carries the trained graph, ~20 kB); the cluster already running (its start-up "
          "here is above)")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
