"""The chip back end: chip description, placement, routing and the routed `ChipConfig`.

`place_and_route(graph)` maps a graph onto a chip described by a `ChipSpec` (default
HICANN-X) and returns a `ChipMapping`: the `NeuronPlacement`, the `ChipConfig` the emulator
reads, and statistics. Networks that do not fit raise `hxgraph.MappingError`.
"""

from hxgraph.chip.analog import IMPERFECTIONS, AnalogModel, ChipInstance
from hxgraph.chip.calibration import Calibration, Inconsistency, check_consistency
from hxgraph.chip.config import CIRCUIT_PARAMS, ROW_DISABLED, ROW_EXCITATORY, ROW_INHIBITORY, ChipConfig
from hxgraph.chip.delivery import Delivery, compile_delivery
from hxgraph.chip.emulator import Emulator, Recording
from hxgraph.chip.mapping import ChipMapping, MappingStats, ProjectionStats, place_and_route
from hxgraph.chip.partitioning import Instance, Link, Partition, Slice, partition
from hxgraph.chip.placement import STRATEGIES, NeuronPlacement, place
from hxgraph.chip.routing import ROUTINGS, hardware_weights, split_weight
from hxgraph.chip.spec import HICANN_X, ChipSpec

__all__ = [
    "AnalogModel", "ChipInstance", "IMPERFECTIONS", "Calibration", "Inconsistency", "check_consistency", "Delivery", "compile_delivery", "Emulator", "Recording",
    "ChipSpec", "HICANN_X", "NeuronPlacement", "place", "STRATEGIES", "ROUTINGS", "ChipConfig", "ChipMapping",
    "MappingStats", "ProjectionStats", "place_and_route", "split_weight", "hardware_weights", "CIRCUIT_PARAMS",
    "ROW_DISABLED", "ROW_EXCITATORY", "ROW_INHIBITORY", "partition", "Partition", "Instance", "Slice", "Link",
]
