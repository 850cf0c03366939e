"""Spike encoders: `CoordinatesToSpikes`, `PixelsToSpikeTimes`, `SpikeTimesToDense` (time-major output)."""

from hxgraph.transforms.encode import CoordinatesToSpikes, PixelsToSpikeTimes, SpikeTimesToDense

__all__ = ["CoordinatesToSpikes", "PixelsToSpikeTimes", "SpikeTimesToDense"]
