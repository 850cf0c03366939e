"""Emulator throughput: yin-yang inference (batch 1000) and a full-chip 256-246-10 network.

Run: python benchmarks/emulator.py [--repeat 5]

Yin-yang: the chip version of the example (inputs repeated 5×, weight scale 64) on the
default non-ideal chip; a call maps the inputs, emulates 38 µs per sample and maps the CADC
and spike recordings back to the user's grid (what `hx.emulate(graph)(inputs)` does).
The task records hidden spikes and readout membranes (the CADC reads only those); the
same run reading every membrane is printed too. The real chip infers up to 85,000 frames/s;
the ratio is printed. The mock's inference
speed on the same batch is printed alongside.
"""

from __future__ import annotations

import argparse
import statistics
import time


def timed(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import torch

    import hxgraph as hx
    from hxgraph.datasets import YinYangDataset
    from hxgraph.tasks import yinyang

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.repeat}")
    graph = yinyang.build_experiment(repeat=5).graph
    samples = YinYangDataset(size=1000, seed=40).samples
    spikes = yinyang.Classifier(None, repeat=5).spikes(samples)
    chip = hx.emulate(graph, seed=0)
    mock = hx.mock(graph)
    seconds = timed(lambda: chip({"x": spikes}), args.repeat)
    rate = 1000 / seconds
    print(f"yin-yang on the emulated chip, batch 1000: {1e3 * seconds:.0f} ms, {rate:,.0f} samples/s "
          f"(real chip up to 85,000 frames/s: {rate / 85000:.2f}x)")
    seconds = timed(lambda: chip.emulator.run({"x": spikes}), args.repeat)
    print(f"  the same, reading every membrane through the CADC (hidden too): {1e3 * seconds:.0f} ms, "
          f"{1000 / seconds:,.0f} samples/s (emulator only, no mapping back)")
    with torch.no_grad():
        seconds = timed(lambda: mock({"x": spikes}), args.repeat)
    print(f"yin-yang in the mock (no gradients), batch 1000: {1e3 * seconds:.0f} ms, {1000 / seconds:,.0f} samples/s")

    exp = (hx.Experiment("full", seed=0).input("x", 256)
           .lif("hidden", 246, circuits_per_neuron=2, threshold=1.0, leak=0.0, reset=0.0)
           .li("out", 10, circuits_per_neuron=2, leak=0.0)
           .dense("x", "hidden", init=hx.init.normal(0.05, 0.1))
           .dense("hidden", "out", init=hx.init.normal(0.0, 0.1)))
    start = time.perf_counter()
    net = hx.emulate(exp.graph, seed=0)
    setup = time.perf_counter() - start
    x = (torch.rand(100, 100, 256, generator=torch.Generator().manual_seed(0)) < 0.05).float()
    seconds = timed(lambda: net({"x": x}), args.repeat)
    print(f"full chip 256-246-10 (512 circuits): place, route and load {1e3 * setup:.0f} ms; "
          f"100 runs of 100 µs: {1e3 * seconds:.0f} ms ({100 / seconds:,.0f} runs/s), "
          f"{int(net({'x': x})['hidden'].spikes.sum()):,} hidden spikes")


if __name__ == "__main__":
    main()
