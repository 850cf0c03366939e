"""One yin-yang epoch with the emulated chip in the loop (5,000 samples, batch 50), time per stage.

Stages per batch: reconfiguration (the chip configuration follows the weights the optimizer
changed: `EmulatedNetwork.sync`), emulator (the chip's forward pass, mapped back to the grid),
mock forward (the model's forward pass with the measured values substituted), backward,
optimizer (Adam step and the clipping to the chip's weight range). The network is the chip
version of the example (inputs repeated 5×, `yinyang.train(..., backend="in_the_loop")`'s
set-up). Run on a quiet machine:

    python benchmarks/in_the_loop.py [--epochs 2]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs to time (the first includes warm-up)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import hxgraph as hx
    from hxgraph.datasets import YinYangDataset
    from hxgraph.tasks import yinyang

    graph = yinyang.build_experiment(repeat=5).graph
    model = hx.in_the_loop(graph, seed=0, progress=False)
    model.mock.hardware_aware = hx.hardware_aware(model.chip.analog, noise=False)
    classifier = yinyang.Classifier(None, repeat=5)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    data = YinYangDataset(size=5000, seed=42)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; yin-yang, 5,000 samples, batch 50")
    for epoch in range(1, args.epochs + 1):
        stage: dict[str, float] = defaultdict(float)

        def timed(name, fn):
            start = time.perf_counter()
            out = fn()
            stage[name] += time.perf_counter() - start
            return out

        order = torch.randperm(5000, generator=torch.Generator().manual_seed(epoch))
        begin = time.perf_counter()
        for k in range(0, 5000, 50):
            index = order[k:k + 50]
            inputs = {"x": timed("encoding", lambda: classifier.spikes(data.samples[index]))}
            timed("reconfiguration", model.chip.sync)
            measured = timed("emulator", lambda: model.chip(inputs))
            run = timed("mock forward", lambda: model.mock(inputs, measured=measured))
            loss = torch.nn.functional.cross_entropy(10 * run["out"].membrane.max(0).values, data.labels[index])
            optimizer.zero_grad()
            timed("backward", loss.backward)

            def step():
                optimizer.step()
                model.mock.clip_weights()
            timed("optimizer", step)
        total = time.perf_counter() - begin
        parts = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in stage.items())
        print(f"epoch {epoch}: {total:.2f} s ({parts}; bar: 1.5 s)")


if __name__ == "__main__":
    main()
