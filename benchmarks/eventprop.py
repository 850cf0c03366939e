"""EventProp against surrogate gradients on yin-yang: time per epoch and test accuracy, in the same run.

Both train hxgraph's yin-yang network (5 → 120 LIF → 3 LI, 5000 samples, batch 50, the
task's defaults) in the mock for `--epochs` epochs from the same seed: `gradient="surrogate"`
(hxtorch's Euler numerics, SuperSpike) and `gradient="eventprop"` (the event-exact model,
exact gradients). Printed per method: seconds per epoch (training and the 1000-sample test
pass) and the test accuracy after each epoch. `--loop` adds EventProp with the emulated
chip in the loop (inputs repeated 5×, 2 circuits per neuron, as examples/yinyang_chip.py),
for `--loop-epochs` epochs.

Run on a quiet machine: ``python benchmarks/eventprop.py [--epochs 5] [--loop --loop-epochs 10]``.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from hxgraph.tasks import yinyang


def report(label: str, history: dict) -> None:
    accuracies = " ".join(f"{a:.3f}" for a in history["test_accuracy"])
    print(f"{label:32s} {statistics.median(history['seconds']):6.1f} s/epoch (median)   test accuracy per epoch: "
          f"{accuracies}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loop", action="store_true", help="also train EventProp with the emulated chip in the loop")
    parser.add_argument("--loop-epochs", type=int, default=10)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; yin-yang 5000 train / 1000 test samples, "
          f"batch 50", flush=True)
    for gradient in ("surrogate", "eventprop"):
        history = yinyang.train(epochs=args.epochs, seed=args.seed, gradient=gradient, progress=False, log=None)
        report(f"mock, {gradient}", history)
    if args.loop:
        graph = yinyang.build_experiment(seed=args.seed, repeat=5, hidden_circuits=2, readout_circuits=2).graph
        history = yinyang.train(epochs=args.loop_epochs, seed=args.seed, gradient="eventprop", backend="in_the_loop",
                                graph=graph, progress=False, log=None)
        report("chip in the loop, eventprop", history)


if __name__ == "__main__":
    main()
