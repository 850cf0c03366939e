"""Transforms: weight transforms, spike encoders and decoders."""

from hxgraph.transforms.decode import MaxOverTime, MeanOverTime, SumOverTime
from hxgraph.transforms.encode import CoordinatesToSpikes, PixelsToSpikeTimes, SpikeTimesToDense
from hxgraph.transforms.weight_transforms import LinearSaturating, linear_saturating

__all__ = [
    "CoordinatesToSpikes",
    "LinearSaturating",
    "linear_saturating",
    "MaxOverTime",
    "MeanOverTime",
    "PixelsToSpikeTimes",
    "SpikeTimesToDense",
    "SumOverTime",
]
