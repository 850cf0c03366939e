"""Decoders over the time dimension: `MaxOverTime`, `SumOverTime`, `MeanOverTime`."""

from hxgraph.transforms.decode import MaxOverTime, MeanOverTime, SumOverTime

__all__ = ["MaxOverTime", "SumOverTime", "MeanOverTime"]
