"""hxtorch's decoders over the time dimension: `MaxOverTime`, `SumOverTime`, `MeanOverTime`.

`MaxOverTime` is `torch.amax(input, 0)` as in hxtorch: where several time steps share the
maximum, the gradient is split evenly between them (`max(0).values`, which hxgraph's own
task uses, gives it to one step).
"""

import torch

from hxgraph.transforms.decode import MaxOverTime as _MaxOverTime
from hxgraph.transforms.decode import MeanOverTime, SumOverTime, _time_major

__all__ = ["MaxOverTime", "SumOverTime", "MeanOverTime"]


class MaxOverTime(_MaxOverTime):
    """Maximum over time (dim 0), hxtorch's `torch.amax(input, 0)`: ties share the gradient."""

    def forward(self, trace: torch.Tensor) -> torch.Tensor:
        return torch.amax(_time_major(trace, "MaxOverTime", non_empty=True), 0)
