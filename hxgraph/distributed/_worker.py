"""What runs inside a Dask worker process: its share of the cores for torch.

Imported only on workers and by `hxgraph.distributed.engine` when a cluster is used (it
imports `distributed` at module level, as a worker plugin must subclass `WorkerPlugin`).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from distributed.comm.addressing import get_address_host
from distributed.diagnostics.plugin import WorkerPlugin

from hxgraph.distributed.engine import available_cores, torch_threads

# This worker process's torch threads, set when the plugin starts on it; None outside workers.
_threads: Optional[int] = None


class TorchThreads(WorkerPlugin):
    """Sets torch's thread count on every worker to its share of its machine's cores.

    `threads`: the share, when the caller knows it (a local cluster); None: each worker
    counts the worker processes on its own host (asking the scheduler) and their task threads.
    """

    name = "hxgraph-torch-threads"

    def __init__(self, threads: Optional[int] = None):
        self.threads = threads

    async def setup(self, worker: Any) -> None:
        global _threads
        _threads = self.threads or await _share_of_host(worker)
        torch.set_num_threads(_threads)


async def _share_of_host(worker: Any) -> int:
    identity = await worker.scheduler.identity()
    host = get_address_host(worker.address)
    on_host = sum(1 for info in identity["workers"].values() if info.get("host") == host)
    # Every task thread of every worker process on this machine runs torch at the same time.
    return torch_threads(available_cores(), max(1, on_host) * max(1, worker.state.nthreads))


def apply_torch_threads() -> None:
    """Give the calling thread the worker's share (torch's OpenMP thread count is per thread)."""
    if _threads is not None and torch.get_num_threads() != _threads:
        torch.set_num_threads(_threads)
