"""hxtorch's spike encoders: `CoordinatesToSpikes`, `PixelsToSpikeTimes`, `SpikeTimesToDense`, `SpikeTimesToSparseTensor`.

hxgraph's encoders (time-major output) with hxtorch's output dtypes: `CoordinatesToSpikes`
gives float32 whatever the input's dtype; `SpikeTimesToDense` gives int64 (hxtorch bins into
an integer sparse tensor) and `SpikeTimesToSparseTensor` that sparse tensor itself.
"""

import torch

from hxgraph.transforms.encode import CoordinatesToSpikes as _CoordinatesToSpikes
from hxgraph.transforms.encode import PixelsToSpikeTimes
from hxgraph.transforms.encode import SpikeTimesToDense as _SpikeTimesToDense

__all__ = ["CoordinatesToSpikes", "PixelsToSpikeTimes", "SpikeTimesToDense", "SpikeTimesToSparseTensor"]


class CoordinatesToSpikes(_CoordinatesToSpikes):
    """Values in [0, 1] → one spike each between `t_early` and `t_late`; float32 (seq_length, batch, features[+1])."""

    def forward(self, coordinates: torch.Tensor) -> torch.Tensor:
        if isinstance(coordinates, torch.Tensor) and not coordinates.is_floating_point():
            coordinates = coordinates.to(torch.float64)
        return super().forward(coordinates).to(torch.float32)


class SpikeTimesToDense(_SpikeTimesToDense):
    """Spike times → int64 (size, *shape) of 0/1 per time bin of `bin_width` (later spikes dropped)."""

    def forward(self, times: torch.Tensor) -> torch.Tensor:
        return super().forward(times).to(torch.int64)


class SpikeTimesToSparseTensor(_SpikeTimesToDense):
    """Spike times → the same bins as a sparse COO int64 tensor of shape (size, *shape)."""

    def forward(self, times: torch.Tensor) -> torch.Tensor:
        return super().forward(times).to(torch.int64).to_sparse()
