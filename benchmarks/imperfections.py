"""What each imperfection of the emulated chip costs on yin-yang: transfer and with the chip in the loop.

For the demo's network (5×5 inputs → 120 LIF → 3 LI, every neuron of 2 circuits, readout
projection sparse), trained in the mock twice — plainly (the exact model, `yinyang.train`)
and hardware-aware (the demo's recipe, `yinyang.train_for_chip`) — this measures
the test accuracy on emulated chips that have exactly one imperfection at its default
magnitude (the others off), on the ideal chip, and on the default chip with all of them;
then fine-tunes the plainly trained network with such a chip in the loop for a few epochs.
Transfer numbers are means over `--chips` chip seeds; in-the-loop numbers use chip 0.

    python benchmarks/imperfections.py              # ~6 minutes on 2 cores
    python benchmarks/imperfections.py --loop-epochs 0 --chips 2

docs/emulator.md quotes its table.
"""

from __future__ import annotations

import argparse
import statistics
import time

import attrs
import torch

import hxgraph as hx
from hxgraph.chip import IMPERFECTIONS, AnalogModel
from hxgraph.tasks import yinyang


def chips_with_one_imperfection() -> dict[str, AnalogModel]:
    """The ideal chip, one chip per imperfection at its default magnitude, and the default chip."""
    default, ideal = AnalogModel(), AnalogModel.ideal()
    out = {"ideal": ideal}
    for name in IMPERFECTIONS:
        out[f"{name} only"] = attrs.evolve(ideal, **{name: getattr(default, name)})
    out["all (default chip)"] = default
    return out


def trained(hardware_aware: bool, epochs: int, seed: int) -> hx.Graph:
    graph = yinyang.build_experiment(sparse="hidden", seed=seed, repeat=5, hidden_circuits=2,
                                     readout_circuits=2).graph
    train = yinyang.train_for_chip if hardware_aware else yinyang.train
    train(epochs=epochs, graph=graph, seed=seed, progress=False, log=None)
    return graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="epochs in the mock")
    parser.add_argument("--loop-epochs", type=int, default=2, help="epochs with the chip in the loop (0: skip)")
    parser.add_argument("--chips", type=int, default=3, help="chip seeds per transfer measurement")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    plain = trained(False, args.epochs, args.seed)
    aware = trained(True, args.epochs, args.seed)
    print(f"trained in the mock ({args.epochs} epochs): plain {yinyang.evaluate(plain, 'mock'):.3f}, "
          f"hardware-aware {yinyang.evaluate(aware, 'mock'):.3f} (mock test accuracy)")
    header = f"{'chip':<28}{'plain → chip':>14}{'aware → chip':>14}"
    if args.loop_epochs:
        header += f"{'plain + ' + str(args.loop_epochs) + ' loop ep.':>20}"
    print(header)
    for label, analog in chips_with_one_imperfection().items():
        seeds = range(args.chips) if not analog.is_ideal else range(1)
        row = [statistics.fmean(yinyang.evaluate(g, "chip", chip_seed=s, analog=analog) for s in seeds)
               for g in (plain, aware)]
        line = f"{label:<28}{row[0]:>14.3f}{row[1]:>14.3f}"
        if args.loop_epochs:
            graph = hx.Graph.from_json(plain.to_json())
            history = yinyang.train(epochs=args.loop_epochs, graph=graph, backend="in_the_loop", seed=args.seed,
                                    analog=analog, progress=False, log=None)
            line += f"{history['test_accuracy'][-1]:>20.3f}"
        print(line, flush=True)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
