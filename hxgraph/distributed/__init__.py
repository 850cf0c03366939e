"""Runs that outgrow one process: hyper-parameter × chip sweeps on a Dask cluster.

- `sweep(...)` (also `hx.sweep`): a grid of yin-yang hyper-parameters × emulated-chip
  seeds, trained in the mock, evaluated on every chip (optionally fine-tuned in the loop);
  a `SweepResult` table with `to_csv`, `to_json`, and `hxgraph.viz.plot_sweep` to draw it.
- `map_tasks(fn, items)`: the building block, one task per item on a local cluster (the
  default), an existing one (`address=` or `$HXGRAPH_SCHEDULER`) or in this process
  (`engine="serial"`); results in input order, with retries.

Dask is the optional extra `pip install 'hxgraph[distributed]'`, imported only when a
cluster is used: importing this package does not load it.
"""

from hxgraph.distributed.engine import DistributedError, connect, map_tasks
from hxgraph.distributed.sweeps import SweepResult, sweep

__all__ = ["sweep", "SweepResult", "map_tasks", "connect", "DistributedError"]
