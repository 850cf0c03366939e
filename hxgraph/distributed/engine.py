"""Where tasks run: a Dask cluster (started on this machine, or an existing one) or this process.

`connect()` yields an engine with one method, `map(fn, items)`: run `fn` on every item and
return the results in input order. Three places to run:

- **a local cluster** (the default): a Dask `LocalCluster` of worker *processes*, one task
  thread each, as many as this machine has cores (`workers=` to choose), started here and
  closed when the block ends;
- **an existing cluster**: `address="tcp://host:8786"`, or the environment variable
  `HXGRAPH_SCHEDULER`, names its scheduler; hxgraph connects and leaves it running;
- **this process**: `engine="serial"` (or `workers=0`) runs the same tasks one after the other,
  with no Dask needed. Seeded tasks give the same results on every engine.

Every Dask worker sets torch's thread count to its share of its machine's cores: torch
otherwise starts one thread per core in every worker process, and on a 2-core machine two
processes of 2 spinning threads ran the emulator 50x slower than one thread each.

A task that raises is retried `retries` times (Dask's `submit(..., retries=)`); a task whose
worker dies (killed, out of memory) is rerun on another worker, and the worker is restarted.
On a local cluster the scheduler allows `retries` such deaths per task; an existing cluster's
scheduler applies its own `distributed.scheduler.allowed-failures` (Dask's default: 3).

Dask is the optional extra `pip install 'hxgraph[distributed]'`; it is imported only here,
only when a cluster is used, so `import hxgraph` does not load it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from typing import Any, Callable, Iterable, Iterator, Optional, Protocol, Sequence

from hxgraph.errors import HxGraphError, MissingDependencyError, ParameterError, check_choice
from hxgraph.progress import progress_bar

__all__ = ["connect", "map_tasks", "Engine", "SerialEngine", "DaskEngine", "DistributedError", "ENGINES",
           "SCHEDULER_ENV", "available_cores", "torch_threads"]

ENGINES = ("dask", "serial")
SCHEDULER_ENV = "HXGRAPH_SCHEDULER"
INSTALL = "pip install 'hxgraph[distributed]'"
CONNECT_TIMEOUT_S = 20  # Dask's own default (30 s) is long to wait for a mistyped address


class DistributedError(HxGraphError, RuntimeError):
    """A cluster could not be reached or started, or a task lost more workers than its retries allow."""


class Engine(Protocol):
    """What `connect()` yields: runs `fn` on every item, returns the results in input order."""

    description: str

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *, desc: str = "tasks",
            progress: Optional[bool] = None) -> list: ...


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells, else all cores)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def torch_threads(cores: int, workers: int) -> int:
    """Torch threads per worker process: its share of the machine's cores, at least one."""
    return max(1, cores // max(1, workers))


def require_dask() -> Any:
    """The `distributed` package, or an error naming the extra that installs it."""
    try:
        import distributed
    except ImportError as exc:
        raise MissingDependencyError(f"running tasks on a Dask cluster needs the optional extra: {INSTALL} "
                                     "(or run them in this process with engine='serial')") from exc
    return distributed


class SerialEngine:
    """Runs tasks one after the other in this process: no Dask, the reference for a cluster's results."""

    description = "serial (this process)"

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *, desc: str = "tasks",
            progress: Optional[bool] = None) -> list:
        return [fn(item) for item in progress_bar(list(items), progress=progress, desc=desc, unit="task")]


class DaskEngine:
    """Runs tasks on a Dask cluster through `client`, each retried `retries` times if it raises."""

    def __init__(self, client: Any, retries: int, description: str):
        self.client = client
        self.retries = retries
        self.description = description

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *, desc: str = "tasks",
            progress: Optional[bool] = None) -> list:
        from distributed import as_completed

        items = list(items)
        # Keys name the phase and the item ("chips-3-…") on the dashboard; the random part keeps
        # equal items separate tasks (a sweep may repeat a point on purpose).
        token = uuid.uuid4().hex
        futures = [self.client.submit(run_task, fn, item, retries=self.retries, key=f"{desc}-{index}-{token}")
                   for index, item in enumerate(items)]
        position = {future.key: index for index, future in enumerate(futures)}
        results: list = [None] * len(items)
        try:
            bar = progress_bar(as_completed(futures), progress=progress, total=len(futures), desc=desc, unit="task")
            for future in bar:
                index = position[future.key]
                results[index] = _result(future, index, desc)
        except BaseException:
            # A failed task (or Ctrl-C) ends the map: the cluster stops working on the others.
            self.client.cancel(futures)
            raise
        return results


def _result(future: Any, index: int, desc: str) -> Any:
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker as exc:
        raise DistributedError(f"{desc} task {index} was running on {exc.allowed_failures + 1} workers that died "
                               "(killed, or out of memory); the scheduler gave up on it. Check the workers' "
                               "memory, or raise retries") from exc


def run_task(fn: Callable[[Any], Any], item: Any) -> Any:
    """`fn(item)` on a worker, with torch's thread count set to the worker's share first.

    The thread count is set here, in the thread that runs the task, because torch's OpenMP
    thread count belongs to the calling thread: the worker plugin computes the share when
    the worker starts, in another thread.
    """
    from hxgraph.distributed import _worker

    _worker.apply_torch_threads()
    return fn(item)


def check_engine_options(engine: Any, address: Any, workers: Any, retries: Any) -> None:
    """Refuse bad engine options before a cluster starts, naming the option and what is valid."""
    check_choice(engine, ENGINES, "engine", "valid engines")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise ParameterError(f"workers must be an integer >= 0 (0 runs the tasks in this process) or None (one "
                             f"per core); got {workers!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ParameterError(f"retries must be an integer >= 0; got {retries!r}")
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise ParameterError(f"address must be a scheduler address such as 'tcp://host:8786'; got {address!r}")
    if address is not None and workers:
        raise ParameterError(f"workers={workers} applies to the local cluster that hxgraph starts; the cluster at "
                             f"{address!r} has its own workers (omit workers, or omit address)")


@contextlib.contextmanager
def connect(engine: str = "dask", *, address: Optional[str] = None, workers: Optional[int] = None,
            retries: int = 2) -> Iterator[Engine]:
    """An engine to run tasks on; a cluster started here is closed when the block ends.

    `engine="serial"` or `workers=0`: this process. Otherwise Dask: the scheduler at
    `address`, else at `$HXGRAPH_SCHEDULER`, else a new local cluster of `workers`
    processes (default: one per core). `retries`: how often a task that raises, or (local
    cluster) whose worker dies, is run again.
    """
    check_engine_options(engine, address, workers, retries)
    if engine == "serial" or workers == 0:
        yield SerialEngine()
        return
    require_dask()
    from hxgraph.distributed._worker import TorchThreads

    if address is None:
        address = os.environ.get(SCHEDULER_ENV, "").strip() or None
    with contextlib.ExitStack() as stack:
        if address is None:
            count = workers or available_cores()
            client = stack.enter_context(_local_cluster(count, retries))
            threads: Optional[int] = torch_threads(available_cores(), count)
            description = f"local Dask cluster ({count} worker process{'es' if count > 1 else ''})"
        else:
            client = stack.enter_context(_existing_cluster(address))
            threads = None  # each worker works out its share of its own machine
            description = f"Dask cluster at {address}"
        client.register_plugin(TorchThreads(threads))
        yield DaskEngine(client, retries, description)


@contextlib.contextmanager
def _local_cluster(workers: int, retries: int) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    # Processes, not threads: the emulator holds the GIL for much of its work. Port 0 and no
    # dashboard: several clusters (parallel test runs, two sweeps) never compete for a port.
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           scheduler_port=0, dashboard_address=None, silence_logs=logging.ERROR,
                           scheduler_kwargs={"allowed_failures": retries})
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


@contextlib.contextmanager
def _existing_cluster(address: str) -> Iterator[Any]:
    from distributed import Client

    source = "" if os.environ.get(SCHEDULER_ENV, "").strip() != address else f" (from ${SCHEDULER_ENV})"
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except ValueError as exc:  # Dask's parser refused the address itself
        raise DistributedError(f"{address!r}{source} is not a Dask scheduler address ({exc}); give one such as "
                               "'tcp://head:8786'") from exc
    except (OSError, TimeoutError) as exc:
        raise DistributedError(f"cannot reach a Dask scheduler at {address!r}{source}: {exc}. Start one with "
                               f"`dask scheduler` and `dask worker {address}`, or leave the address unset to start "
                               "a local cluster") from exc
    with client:
        yield client


def map_tasks(fn: Callable[[Any], Any], items: Iterable[Any], *, engine: str = "dask",
              address: Optional[str] = None, workers: Optional[int] = None, retries: int = 2,
              progress: Optional[bool] = None, desc: str = "tasks") -> list:
    """`[fn(item) for item in items]`, each call a task on a Dask cluster; results in input order.

    `fn` and the items travel to worker processes: `fn` must be a module-level function
    (importable where the workers run) and the items picklable. The cluster is chosen as in
    `connect` (local by default, `address` or `$HXGRAPH_SCHEDULER` for an existing one,
    `engine="serial"` or `workers=0` for this process) and closed afterwards if started here.
    A task that raises is retried `retries` times, then its exception is raised here; the
    other tasks are cancelled. `progress`: a bar over finished tasks (None: only where a
    person watches stderr).
    """
    items = list(items)
    with connect(engine, address=address, workers=workers, retries=retries) as runner:
        return runner.map(fn, items, desc=desc, progress=progress)
