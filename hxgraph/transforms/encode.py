"""Spike encoders: turn data (coordinates, pixels, spike times) into spike tensors.

Spike tensors are laid out (time, batch, neurons) with 1.0 where a spike occurs, which is
what the mock and the emulator take as input of an input population.
"""

from __future__ import annotations

import math
from typing import Optional

import torch

from hxgraph.errors import InputError, ParameterError, ShapeError

__all__ = ["CoordinatesToSpikes", "PixelsToSpikeTimes", "SpikeTimesToDense"]


def _finite_number(value: object, name: str, *, positive: bool = False,
                   non_negative: bool = False) -> float:
    """Validate a number option and return it as float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"{name} must be a number, got {value!r}.")
    value = float(value)
    if not math.isfinite(value):
        raise ParameterError(f"{name} must be finite, got {value!r}.")
    if positive and value <= 0:
        raise ParameterError(f"{name} must be > 0, got {value!r}.")
    if non_negative and value < 0:
        raise ParameterError(f"{name} must be >= 0, got {value!r}.")
    return value


def _float_tensor(value: object, what: str) -> torch.Tensor:
    """Validate that ``value`` is a floating tensor without NaN."""
    if not isinstance(value, torch.Tensor):
        raise InputError(f"{what} must be a torch.Tensor, got {type(value).__name__}.")
    if not value.is_floating_point():
        raise InputError(f"{what} must be a floating-point tensor, got dtype {value.dtype}.")
    if bool(torch.isnan(value).any()):
        index = tuple(int(i) for i in torch.isnan(value).nonzero()[0])
        raise InputError(f"{what} contains NaN (first at index {index}); "
                         f"every entry must be a number.")
    return value


class CoordinatesToSpikes(torch.nn.Module):
    """Encode values in [0, 1] as one spike each at a time between ``t_early`` and ``t_late``.

    A value ``x`` spikes at ``t = t_early + x * (t_late - t_early)``, on step
    ``round(t / dt)``. With ``t_bias`` an extra last channel spikes at step
    ``int(t_bias / dt)`` in every sample (a bias input, as in hxtorch's yin-yang example).
    Input (B, F); output (seq_length, B, F [+ 1]), or (B, seq_length, F [+ 1]) with
    ``batch_first=True`` (the layout hxtorch's encoder returns).
    """

    def __init__(self, seq_length: int, t_early: float, t_late: float, dt: float = 1e-6,
                 t_bias: Optional[float] = None, *, batch_first: bool = False) -> None:
        super().__init__()
        if isinstance(seq_length, bool) or not isinstance(seq_length, int) or seq_length <= 0:
            raise ParameterError(
                f"seq_length must be a positive number of time steps, got {seq_length!r}.")
        self.seq_length = seq_length
        self.t_early = _finite_number(t_early, "t_early")
        self.t_late = _finite_number(t_late, "t_late")
        self.dt = _finite_number(dt, "dt", positive=True)
        self.t_bias = None if t_bias is None else _finite_number(t_bias, "t_bias")
        self.batch_first = bool(batch_first)
        if self.t_bias is not None:
            bias_step = int(self.t_bias / self.dt)
            if not 0 <= bias_step < seq_length:
                raise ParameterError(
                    f"t_bias={t_bias!r} falls on step {bias_step}, outside the sequence of "
                    f"{seq_length} steps; choose t_bias in [0, {seq_length * self.dt:g}).")

    def extra_repr(self) -> str:
        """Show the encoding window in the module's repr."""
        return (f"seq_length={self.seq_length}, t_early={self.t_early:g}, "
                f"t_late={self.t_late:g}, dt={self.dt:g}, t_bias={self.t_bias}")

    def forward(self, coordinates: torch.Tensor) -> torch.Tensor:
        """Return the spike tensor for ``coordinates`` of shape (B, F)."""
        coordinates = _float_tensor(coordinates, "CoordinatesToSpikes input")
        if coordinates.dim() != 2:
            raise ShapeError(
                f"CoordinatesToSpikes expects input of shape (batch, features), got shape "
                f"{tuple(coordinates.shape)}.")
        batch, features = coordinates.shape
        times = self.t_early + coordinates * (self.t_late - self.t_early)
        steps = torch.round(times / self.dt)
        outside = (steps < 0) | (steps >= self.seq_length)
        if bool(outside.any()):
            b, f = (int(i) for i in outside.nonzero()[0])
            raise InputError(
                f"Coordinate value {float(coordinates[b, f])!r} (batch {b}, feature {f}) "
                f"maps to step {int(steps[b, f])}, outside [0, {self.seq_length}); "
                f"use values in [0, 1] or widen seq_length / the t_early..t_late window.")
        channels = features + (self.t_bias is not None)
        spikes = coordinates.new_zeros((self.seq_length, batch, channels))
        spikes[:, :, :features].scatter_(0, steps.long().unsqueeze(0), 1.0)
        if self.t_bias is not None:
            spikes[int(self.t_bias / self.dt), :, features] = 1.0
        return spikes.transpose(0, 1).contiguous() if self.batch_first else spikes


class PixelsToSpikeTimes(torch.nn.Module):
    """Latency-encode intensities: brighter pixels spike earlier.

    A pixel ``x >= threshold`` spikes at ``tau * log(x / (x - threshold))``, clamped to
    [0, t_max] (``x`` is kept at least ``threshold + epsilon`` to avoid dividing by zero).
    Pixels below ``threshold`` spike at ``t_max`` (hxtorch's rule) or, with
    ``silent_below_threshold=True``, not at all (time ``inf``). Output has the input's shape.
    """

    def __init__(self, tau: float = 20, threshold: float = 0.2, t_max: float = 1.0,
                 epsilon: float = 1e-7, *, silent_below_threshold: bool = False) -> None:
        super().__init__()
        self.tau = _finite_number(tau, "tau", positive=True)
        self.threshold = _finite_number(threshold, "threshold", positive=True)
        self.t_max = _finite_number(t_max, "t_max", positive=True)
        self.epsilon = _finite_number(epsilon, "epsilon", positive=True)
        self.silent_below_threshold = bool(silent_below_threshold)

    def extra_repr(self) -> str:
        """Show the encoding constants in the module's repr."""
        return (f"tau={self.tau:g}, threshold={self.threshold:g}, t_max={self.t_max:g}, "
                f"silent_below_threshold={self.silent_below_threshold}")

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Return one spike time per pixel (same shape as ``pixels``)."""
        pixels = _float_tensor(pixels, "PixelsToSpikeTimes input")
        below = pixels < self.threshold
        clipped = pixels.clamp(min=self.threshold + self.epsilon)
        times = self.tau * torch.log(clipped / (clipped - self.threshold))
        times = times.clamp(0.0, self.t_max)
        fill = math.inf if self.silent_below_threshold else self.t_max
        return times.masked_fill(below, fill)


class SpikeTimesToDense(torch.nn.Module):
    """Bin spike times into a dense spike tensor of ``size`` time bins of ``bin_width``.

    Input: spike times of any shape, e.g. (B, N), with ``inf`` meaning no spike. A time
    ``t`` lands in bin ``floor(t / bin_width)``; spikes at or after ``size * bin_width``
    are dropped. Output: (size, *input shape), 1.0 at each spike.
    """

    def __init__(self, bin_width: float, size: int = 100) -> None:
        super().__init__()
        self.bin_width = _finite_number(bin_width, "bin_width", positive=True)
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ParameterError(f"size must be a positive number of time bins, got {size!r}.")
        self.size = size

    def extra_repr(self) -> str:
        """Show the binning in the module's repr."""
        return f"bin_width={self.bin_width:g}, size={self.size}"

    def forward(self, times: torch.Tensor) -> torch.Tensor:
        """Return the dense spike tensor for ``times``."""
        times = _float_tensor(times, "SpikeTimesToDense input")
        negative = times < 0
        if bool(negative.any()):
            index = tuple(int(i) for i in negative.nonzero()[0])
            raise InputError(
                f"Spike time {float(times[index])!r} at index {index} is negative; "
                f"spike times must be >= 0 (use inf for 'no spike').")
        bins = torch.floor(torch.clamp(times / self.bin_width, max=float(self.size)))
        spiking = bins < self.size  # also excludes inf
        index = torch.where(spiking, bins, torch.zeros_like(bins)).long()
        dense = times.new_zeros((self.size,) + tuple(times.shape))
        dense.scatter_(0, index.unsqueeze(0), spiking.unsqueeze(0).to(times.dtype))
        return dense
