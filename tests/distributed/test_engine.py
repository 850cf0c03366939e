"""map_tasks / connect: results in input order, retries, torch threads per worker, serial = cluster."""

import os
import sys

import pytest

from hxgraph.distributed import connect, map_tasks
from hxgraph.distributed.engine import available_cores, torch_threads

pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")
# The task functions travel to worker processes by value: they cannot import this test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def square(x):
    return x * x


def fail_once(item):
    """Raises the first time it runs for `item` (a marker file remembers), then returns the value."""
    marker, value = item
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return value
    raise RuntimeError(f"first attempt at {value}")


def fail_at_seven(value):
    if value == 7:
        raise RuntimeError(f"task {value} always fails")
    return value


def torch_threads_here(_):
    import torch
    return torch.get_num_threads()


def test_serial_engine_maps_in_order():
    assert map_tasks(square, range(6), engine="serial") == [0, 1, 4, 9, 16, 25]
    assert map_tasks(square, [3], workers=0) == [9]


def test_local_cluster_maps_in_order_retries_and_shares_the_cores(tmp_path):
    with connect(workers=2, retries=1) as engine:
        assert engine.description == "local Dask cluster (2 worker processes)"
        assert engine.map(square, range(20)) == [x * x for x in range(20)]
        # Each task thread runs torch with its process's share of the cores.
        assert engine.map(torch_threads_here, range(4)) == [torch_threads(available_cores(), 2)] * 4
        items = [(str(tmp_path / f"once-{k}"), k) for k in range(4)]
        assert engine.map(fail_once, items) == [0, 1, 2, 3]  # every task failed once and was retried
        with pytest.raises(RuntimeError, match="task 7 always fails"):  # after its one retry
            engine.map(fail_at_seven, [1, 7, 2])


def test_torch_threads_share():
    assert torch_threads(64, 8) == 8
    assert torch_threads(2, 2) == 1
    assert torch_threads(2, 4) == 1  # never zero
