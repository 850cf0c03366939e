"""Spike decoders: reduce a (time, batch, neurons) trace over time to (batch, neurons)."""

from __future__ import annotations

import torch

from hxgraph.errors import InputError, ShapeError

__all__ = ["MaxOverTime", "SumOverTime", "MeanOverTime"]


def _time_major(trace: object, who: str, *, non_empty: bool) -> torch.Tensor:
    """Validate a trace whose first dimension is time."""
    if not isinstance(trace, torch.Tensor):
        raise InputError(f"{who} expects a torch.Tensor of shape (time, ...), "
                         f"got {type(trace).__name__}.")
    if trace.dim() == 0:
        raise ShapeError(f"{who} expects a tensor with a time dimension first, got a scalar.")
    if non_empty and trace.shape[0] == 0:
        raise ShapeError(f"{who} needs at least one time step, got shape {tuple(trace.shape)}.")
    return trace


class MaxOverTime(torch.nn.Module):
    """Maximum over time (dim 0), e.g. the peak membrane of a readout; values only."""

    def forward(self, trace: torch.Tensor) -> torch.Tensor:
        """Return ``trace.max(0).values``."""
        return _time_major(trace, "MaxOverTime", non_empty=True).max(dim=0).values


class SumOverTime(torch.nn.Module):
    """Sum over time (dim 0), e.g. spike counts."""

    def forward(self, trace: torch.Tensor) -> torch.Tensor:
        """Return ``trace.sum(0)``."""
        return _time_major(trace, "SumOverTime", non_empty=False).sum(dim=0)


class MeanOverTime(torch.nn.Module):
    """Mean over time (dim 0), e.g. firing rates per step."""

    def forward(self, trace: torch.Tensor) -> torch.Tensor:
        """Return ``trace.mean(0)``."""
        return _time_major(trace, "MeanOverTime", non_empty=True).mean(dim=0)
