"""hxgraph: spiking-network experiments for a BrainScaleS-2-like chip, without the chip.

Build an experiment with the fluent `Experiment` builder, get its `Graph`, and lower it to
a torch mock or onto the emulated chip.
"""

from hxgraph.errors import (
    DuplicateNameError, GraphError, HxGraphError, InputError, ParameterError, SerializationError, ShapeError,
    UnknownNameError, WeightError, MappingError, RoutingUndecidedError, ConsistencyWarning,
)
from hxgraph.graph import Dense, Graph, Mixed, Placement, Population, Projection, Sparse
from hxgraph.builder import Experiment
from hxgraph import chip
from hxgraph.chip import Partition, partition, place_and_route
from hxgraph.loop import EmulatedNetwork, InTheLoop, PartitionedNetwork, emulate, hardware_aware, in_the_loop
from hxgraph import connect, datasets, init, transforms
from hxgraph import mock
from hxgraph import io  # NIR import/export; the 'nir' extra is needed only when called
from hxgraph.mock.network import MockNetwork
from hxgraph.observables import Observables, Run

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """`hx.viz` and `hx.sweep` are imported on first use, so `import hxgraph` loads neither matplotlib
    nor the sweep machinery (Dask itself is imported only when a sweep starts a cluster)."""
    import importlib
    if name == "viz":
        return importlib.import_module("hxgraph.viz")
    if name == "sweep":
        return importlib.import_module("hxgraph.distributed.sweeps").sweep
    raise AttributeError(f"module 'hxgraph' has no attribute {name!r}")


__all__ = [
    "Experiment", "Graph", "chip", "place_and_route", "partition", "Partition", "PartitionedNetwork", "emulate", "in_the_loop", "hardware_aware", "ConsistencyWarning", "EmulatedNetwork", "InTheLoop", "mock", "MockNetwork", "Observables", "Run", "transforms", "datasets", "Population", "Projection", "Dense", "Sparse", "Mixed", "Placement", "init", "connect", "viz", "sweep",
    "HxGraphError", "GraphError", "UnknownNameError", "DuplicateNameError", "ShapeError", "ParameterError",
    "WeightError", "SerializationError", "InputError", "MappingError", "RoutingUndecidedError",
]
