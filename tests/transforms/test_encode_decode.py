"""Encoders and decoders against hand-computed spike tensors."""

from __future__ import annotations

import math

import pytest
import torch

from hxgraph.errors import InputError, ParameterError, ShapeError
from hxgraph.transforms import (
    CoordinatesToSpikes,
    MaxOverTime,
    MeanOverTime,
    PixelsToSpikeTimes,
    SpikeTimesToDense,
    SumOverTime,
)

# ---------------------------------------------------------------------------------------
# CoordinatesToSpikes
# ---------------------------------------------------------------------------------------


def test_coordinates_to_spikes_hand_computed() -> None:
    # t = 2 us + x * (10 us - 2 us); step = round(t / 1 us)
    encoder = CoordinatesToSpikes(seq_length=12, t_early=2e-6, t_late=10e-6, dt=1e-6)
    x = torch.tensor([[0.0, 1.0], [0.5, 0.25]])
    spikes = encoder(x)
    expected = torch.zeros(12, 2, 2)
    expected[2, 0, 0] = 1  # 0.0  -> 2 us
    expected[10, 0, 1] = 1  # 1.0  -> 10 us
    expected[6, 1, 0] = 1  # 0.5  -> 6 us
    expected[4, 1, 1] = 1  # 0.25 -> 4 us
    assert torch.equal(spikes, expected)


def test_coordinates_to_spikes_rounds_to_nearest_step() -> None:
    encoder = CoordinatesToSpikes(seq_length=20, t_early=0.0, t_late=10e-6)
    spikes = encoder(torch.tensor([[0.34, 0.36]]))  # 3.4 us -> 3, 3.6 us -> 4
    assert spikes[:, 0, 0].nonzero().flatten().tolist() == [3]
    assert spikes[:, 0, 1].nonzero().flatten().tolist() == [4]


def test_coordinates_to_spikes_bias_channel() -> None:
    encoder = CoordinatesToSpikes(seq_length=8, t_early=0.0, t_late=4e-6, t_bias=5.5e-6)
    spikes = encoder(torch.tensor([[1.0], [0.0], [0.5]]))
    assert spikes.shape == (8, 3, 2)
    expected_bias = torch.zeros(8, 3)
    expected_bias[5] = 1  # int(5.5) = 5 for every sample
    assert torch.equal(spikes[:, :, 1], expected_bias)
    assert [int(spikes[:, b, 0].argmax()) for b in range(3)] == [4, 0, 2]
    assert torch.equal(spikes.sum(0), torch.ones(3, 2))


def test_coordinates_to_spikes_batch_first_layout() -> None:
    encoder = CoordinatesToSpikes(seq_length=5, t_early=0.0, t_late=4e-6, batch_first=True)
    spikes = encoder(torch.tensor([[0.25, 1.0]]))
    assert spikes.shape == (1, 5, 2)
    assert spikes[0, 1, 0] == 1 and spikes[0, 4, 1] == 1 and spikes.sum() == 2


def test_coordinates_to_spikes_rejects_bad_input() -> None:
    encoder = CoordinatesToSpikes(seq_length=10, t_early=0.0, t_late=9e-6)
    with pytest.raises(InputError, match=r"1\.5 .*step 14.*\[0, 10\)"):
        encoder(torch.tensor([[0.5, 1.5]]))
    with pytest.raises(InputError, match="-0.2"):
        encoder(torch.tensor([[-0.2]]))
    with pytest.raises(InputError, match="NaN"):
        encoder(torch.tensor([[0.1, float("nan")]]))
    with pytest.raises(ShapeError, match=r"\(batch, features\)"):
        encoder(torch.zeros(3))
    with pytest.raises(InputError, match="torch.Tensor"):
        encoder([[0.1]])


def test_coordinates_to_spikes_rejects_bad_options() -> None:
    with pytest.raises(ParameterError, match="seq_length"):
        CoordinatesToSpikes(seq_length=0, t_early=0.0, t_late=1e-6)
    with pytest.raises(ParameterError, match="dt"):
        CoordinatesToSpikes(seq_length=5, t_early=0.0, t_late=1e-6, dt=0.0)
    with pytest.raises(ParameterError, match="t_bias"):
        CoordinatesToSpikes(seq_length=5, t_early=0.0, t_late=1e-6, t_bias=7e-6)


# ---------------------------------------------------------------------------------------
# PixelsToSpikeTimes and SpikeTimesToDense
# ---------------------------------------------------------------------------------------


def test_pixels_to_spike_times_hand_computed() -> None:
    encoder = PixelsToSpikeTimes(tau=2.0, threshold=0.2, t_max=5.0)
    pixels = torch.tensor([[1.0, 0.4, 0.1, 0.2000001]], dtype=torch.float64)
    times = encoder(pixels)
    expected = torch.tensor([[2.0 * math.log(1.0 / 0.8),  # 0.446
                              2.0 * math.log(0.4 / 0.2),  # 1.386
                              5.0,  # below threshold: t_max
                              5.0]], dtype=torch.float64)  # just above: clamped to t_max
    assert torch.allclose(times, expected, rtol=1e-12)
    assert times[0, 0] < times[0, 1]  # brighter is earlier


def test_pixels_below_threshold_can_be_silent() -> None:
    encoder = PixelsToSpikeTimes(tau=1.0, threshold=0.5, t_max=3.0, silent_below_threshold=True)
    times = encoder(torch.tensor([0.0, 0.49, 1.0]))
    assert math.isinf(times[0]) and math.isinf(times[1])
    assert float(times[2]) == pytest.approx(math.log(2.0))


def test_pixels_to_spike_times_rejects_nan_and_bad_options() -> None:
    with pytest.raises(InputError, match="NaN"):
        PixelsToSpikeTimes()(torch.tensor([0.3, float("nan")]))
    with pytest.raises(ParameterError, match="tau"):
        PixelsToSpikeTimes(tau=0)
    with pytest.raises(ParameterError, match="threshold"):
        PixelsToSpikeTimes(threshold=-0.1)


def test_spike_times_to_dense_hand_computed() -> None:
    to_dense = SpikeTimesToDense(bin_width=0.5, size=4)
    times = torch.tensor([[0.0, 0.49, 0.5, math.inf],
                          [1.99, 2.0, 7.0, 1.25]])
    dense = to_dense(times)
    expected = torch.zeros(4, 2, 4)
    expected[0, 0, 0] = 1  # 0.0  -> bin 0
    expected[0, 0, 1] = 1  # 0.49 -> bin 0
    expected[1, 0, 2] = 1  # 0.5  -> bin 1
    expected[3, 1, 0] = 1  # 1.99 -> bin 3
    expected[2, 1, 3] = 1  # 1.25 -> bin 2; 2.0 and 7.0 are past the window, inf never
    assert torch.equal(dense, expected)


def test_pixel_pipeline_gives_one_spike_per_bright_pixel() -> None:
    encoder = PixelsToSpikeTimes(tau=1.0, threshold=0.2, t_max=2.0, silent_below_threshold=True)
    dense = SpikeTimesToDense(bin_width=0.1, size=30)(encoder(torch.tensor([[1.0, 0.1, 0.3]])))
    assert dense.shape == (30, 1, 3)
    assert dense.sum(0).tolist() == [[1.0, 0.0, 1.0]]
    assert int(dense[:, 0, 0].argmax()) == 2  # log(1.25) = 0.223 -> bin 2
    assert int(dense[:, 0, 2].argmax()) == 10  # log(0.3 / 0.1) = 1.099 -> bin 10


def test_spike_times_to_dense_rejects_bad_input() -> None:
    to_dense = SpikeTimesToDense(bin_width=1.0, size=3)
    with pytest.raises(InputError, match="-1.0"):
        to_dense(torch.tensor([0.5, -1.0]))
    with pytest.raises(InputError, match="NaN"):
        to_dense(torch.tensor([float("nan")]))
    with pytest.raises(ParameterError, match="bin_width"):
        SpikeTimesToDense(bin_width=0.0)
    with pytest.raises(ParameterError, match="size"):
        SpikeTimesToDense(bin_width=1.0, size=0)


# ---------------------------------------------------------------------------------------
# Decoders
# ---------------------------------------------------------------------------------------

TRACE = torch.tensor([[[1.0, -2.0]], [[3.0, -1.0]], [[2.0, -5.0]]])  # (T=3, B=1, N=2)


def test_decoders_hand_computed() -> None:
    assert torch.equal(MaxOverTime()(TRACE), torch.tensor([[3.0, -1.0]]))
    assert torch.equal(SumOverTime()(TRACE), torch.tensor([[6.0, -8.0]]))
    assert torch.allclose(MeanOverTime()(TRACE), torch.tensor([[2.0, -8.0 / 3.0]]))


def test_max_over_time_passes_gradient_to_the_maximum() -> None:
    trace = TRACE.clone().requires_grad_(True)
    MaxOverTime()(trace).sum().backward()
    expected = torch.zeros_like(TRACE)
    expected[1, 0, 0] = 1
    expected[1, 0, 1] = 1
    assert torch.equal(trace.grad, expected)


def test_decoders_reject_bad_input() -> None:
    with pytest.raises(InputError):
        SumOverTime()([1.0, 2.0])
    with pytest.raises(ShapeError, match="time dimension"):
        MeanOverTime()(torch.tensor(1.0))
    with pytest.raises(ShapeError, match="at least one time step"):
        MaxOverTime()(torch.zeros(0, 2, 3))
