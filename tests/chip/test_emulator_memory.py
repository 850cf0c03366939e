"""The emulator refuses runs whose buffers would not fit in memory, before allocating (#13, item 4)."""

import pytest
import torch

import hxgraph as hx
from hxgraph.chip import Emulator
from hxgraph.errors import AllocationError


def small_graph():
    return (hx.Experiment("memory").input("x", 4).lif("h", 6, leak=0.0, reset=0.0, threshold=1.0)
            .li("o", 2, leak=0.0).dense("x", "h").dense("h", "o")).graph


@pytest.fixture
def no_big_allocation(monkeypatch):
    """torch.zeros and torch.arange of more than 10^8 values fail the test: the run must be refused before."""
    zeros, arange = torch.zeros, torch.arange

    def checked(make):
        def call(*args, **kwargs):
            out = make(*args, **kwargs)
            assert out.numel() <= 1e8, f"allocated {out.numel():,} values before refusing"
            return out
        return call

    monkeypatch.setattr(torch, "zeros", checked(zeros))
    monkeypatch.setattr(torch, "arange", checked(arange))


def test_a_runtime_of_terabytes_is_refused_with_the_memory_it_needs(no_big_allocation):
    emulator = Emulator(hx.place_and_route(small_graph()).config, long_recording=True)
    with pytest.raises(AllocationError) as error:
        emulator.run({"x": torch.zeros(5, 1, 4)}, steps=10**12)
    message = str(error.value)
    assert "1,000,000,000,000 steps × batch 1" in message and "TiB of memory" in message
    assert "shorten the run to at most" in message
    assert isinstance(error.value, hx.HxGraphError) and isinstance(error.value, MemoryError)


def test_a_cadc_interval_of_attoseconds_is_refused_naming_the_samples(no_big_allocation):
    net = hx.emulate(small_graph(), cadc_interval=1e-18, long_recording=True)
    with pytest.raises(AllocationError, match=r"mostly CADC samples: .* PiB\).*a longer cadc_interval"):
        net({"x": torch.zeros(5, 1, 4)})


def test_a_batch_too_large_says_how_many_entries_fit_and_that_many_run(monkeypatch):
    monkeypatch.setenv("HXGRAPH_MEMORY_LIMIT", str(2 * 2**20))  # 2 MiB
    net = hx.emulate(small_graph())
    x = torch.zeros(100, 200, 4)
    with pytest.raises(AllocationError, match=r"100 steps × batch 200 .*in calls of at most (\d+) entries") as error:
        net({"x": x})
    fit = int(error.value.args[0].split("at most ")[1].split(" entries")[0])
    assert 1 <= fit < 200
    net({"x": x[:, :fit]})  # the advice holds
    with pytest.raises(AllocationError):
        net({"x": x[:, :fit + 1]})


def test_memory_needed_counts_the_chunked_buffers_and_the_whole_batchs_samples():
    emulator = Emulator(hx.place_and_route(small_graph()).config, cadc_interval=1e-6)
    one, many = emulator.memory_needed(40, 1), emulator.memory_needed(40, 1000)
    # float32 × steps × entries × 6 buffers (membrane, net, clamp, spikes, arriving weight per sign) × 8 neurons
    assert one["recording buffers"] == 4 * 40 * 1 * 6 * 8
    assert many["recording buffers"] == 1000 * one["recording buffers"]  # 1000 entries still fit one chunk
    long = emulator.memory_needed(10**7, 1000)  # a chunk is then one entry ...
    assert long["recording buffers"] == 4 * 10**7 * 6 * 8
    assert long["CADC samples"] > 1000 * 2 * 10**7  # ... but the samples are kept for all entries
    assert many["MADC traces"] == 0
