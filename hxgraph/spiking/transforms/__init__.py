"""hxtorch.spiking.transforms: weight transforms, spike encoders and decoders (hxgraph's, with hxtorch's dtypes and ties)."""

from hxgraph.spiking.transforms import decode, encode, weight_transforms
from hxgraph.spiking.transforms.decode import MaxOverTime, MeanOverTime, SumOverTime
from hxgraph.spiking.transforms.encode import (CoordinatesToSpikes, PixelsToSpikeTimes, SpikeTimesToDense,
                                               SpikeTimesToSparseTensor)
from hxgraph.spiking.transforms.weight_transforms import linear_saturating

__all__ = ["decode", "encode", "weight_transforms", "MaxOverTime", "MeanOverTime", "SumOverTime",
           "CoordinatesToSpikes", "PixelsToSpikeTimes", "SpikeTimesToDense", "SpikeTimesToSparseTensor", "linear_saturating"]
