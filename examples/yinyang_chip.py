"""Yin-yang on the emulated chip: a mock-trained network on the chip, then training with the chip in the loop.

The network of examples/yinyang.py, built for the chip from model values only: each input
channel is sent 5 times (25 external sources, so an input weight can use up to 5 synapses),
every neuron is made of 2 neuron circuits (their mismatch averages out), and the chip's
calibration gives the chip its values (leak 80 CADC, threshold 80 + 1/0.0147) and the
weights their scale (70 hardware units per model unit). The emulated chip has the default
(non-ideal) mismatch and noise.

1. Train in the mock — hardware-aware by default (6-bit weights, a chip's imperfections
   drawn anew every batch; `--plain` trains the exact model instead) — and evaluate the same
   weights on the mock and on the emulated chip.
2. Train in the loop — forward on the emulated chip, gradients from the mock — from the
   same initial weights (or, with --finetune, from the mock-trained ones).

Run: python examples/yinyang_chip.py [--mock-epochs 10] [--loop-epochs 10] [--finetune] [--plain] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, Optional, Sequence

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see examples/yinyang.py

from hxgraph.tasks import yinyang  # noqa: E402

REPEAT = 5
CIRCUITS = 2


def run(mock_epochs: int = 10, loop_epochs: int = 10, finetune: bool = False, seed: int = 0, chip_seed: int = 0,
        train_size: int = 5000, test_size: int = 1000, hardware_aware: bool = True, progress: Optional[bool] = None,
        log=print) -> dict[str, Any]:
    """Both steps; returns the accuracies and the histories."""
    common = dict(seed=seed, train_size=train_size, test_size=test_size, progress=progress, log=log)

    def network():
        return yinyang.build_experiment(seed=seed, repeat=REPEAT, hidden_circuits=CIRCUITS,
                                        readout_circuits=CIRCUITS).graph

    start = time.perf_counter()
    log("1. training in the mock" + (", hardware-aware" if hardware_aware else ""))
    mock = (yinyang.train_for_chip(epochs=mock_epochs, graph=network(), **common) if hardware_aware
            else yinyang.train(epochs=mock_epochs, graph=network(), **common))
    on_mock = mock["test_accuracy"][-1]
    on_chip = yinyang.evaluate(mock["graph"], "chip", test_size=test_size, chip_seed=chip_seed)
    log(f"mock-trained network: test accuracy {on_mock:.3f} on the mock, {on_chip:.3f} on the emulated chip")
    log("2. training with the emulated chip in the loop" + (" (from the mock-trained weights)" if finetune else ""))
    loop = yinyang.train(epochs=loop_epochs, backend="in_the_loop", graph=mock["graph"] if finetune else network(),
                         chip_seed=chip_seed, **common)
    on_chip_loop = loop["test_accuracy"][-1]
    log(f"in-the-loop-trained network: test accuracy {on_chip_loop:.3f} on the emulated chip "
        f"(best {max(loop['test_accuracy']):.3f}); total {time.perf_counter() - start:.0f} s")
    return {"mock_on_mock": on_mock, "mock_on_chip": on_chip, "loop_on_chip": on_chip_loop,
            "mock": mock, "loop": loop}


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--mock-epochs", type=int, default=10)
    parser.add_argument("--plain", action="store_true", help="train the exact model in the mock (not hardware-aware)")
    parser.add_argument("--loop-epochs", type=int, default=10)
    parser.add_argument("--finetune", action="store_true", help="start in-the-loop training from the mock's weights")
    parser.add_argument("--seed", type=int, default=0, help="weights, shuffling")
    parser.add_argument("--chip-seed", type=int, default=0, help="which emulated chip (mismatch, noise)")
    parser.add_argument("--train-size", type=int, default=5000)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    return run(args.mock_epochs, args.loop_epochs, args.finetune, args.seed, args.chip_seed, args.train_size,
               args.test_size, hardware_aware=not args.plain, progress=False if args.quiet else None)


if __name__ == "__main__":
    main()
