"""How long hx.partition takes: deciding the instances, and placing and routing every one of them.

Graphs: 100 inputs → 5,000 LIF (10 chips), the same with a readout of 10 LI neurons that gathers all
5,000 (11 chips: the readout's instance receives 5,000 sources), the MNIST-sized 784 → 256 → 10 (5
chips), and a chain of 8 sparse layers of 600 LIF neurons. For each: the number of instances, the spike traffic between
them, the time to decide (`verify=False`: the circuit budget alone) and the time with every instance
placed and routed (`verify=True`, the default; instances of equal structure share one routing, and
`hx.emulate` reuses them all). The reference in the
same run: one `place_and_route` of a full chip (256 → 246 → 10, 2 circuits per neuron).

    python benchmarks/partition.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch

import hxgraph as hx


def graphs() -> dict[str, hx.Graph]:
    chain = hx.Experiment("chain", seed=0).input("x", 50)
    previous = "x"
    for k in range(8):
        chain.lif(f"l{k}", 600)
        chain.sparse(previous, f"l{k}", hx.connect.random(chain.graph.population(previous).size, 600, 0.05, seed=k))
        previous = f"l{k}"
    return {
        "100 → 5000 (10 chips)": (hx.Experiment("wide", seed=0).input("x", 100).lif("h", 5000)
                                  .dense("x", "h")).graph,
        "100 → 5000 → 10 (11 chips)": (hx.Experiment("ten", seed=0).input("x", 100).lif("h", 5000).li("o", 10)
                                       .dense("x", "h").dense("h", "o")).graph,
        "784 → 256 → 10 (MNIST-sized)": (hx.Experiment("mnist", seed=0).input("x", 784).lif("h", 256).li("o", 10)
                                         .dense("x", "h").dense("h", "o")).graph,
        "8 × 600 LIF, sparse chain": chain.graph,
    }


def best_of(repeat: int, fn) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    warnings.simplefilter("ignore", hx.ConsistencyWarning)
    full = (hx.Experiment("full", seed=0).input("x", 256).lif("h", 246, circuits_per_neuron=2)
            .lif("o", 10, circuits_per_neuron=2).dense("x", "h").dense("h", "o")).graph
    reference, _ = best_of(args.repeat, lambda: hx.place_and_route(full))
    print(f"{'graph':34} {'instances':>9} {'traffic':>9} {'decide':>9} {'decide+route':>13}")
    for name, graph in graphs().items():
        decide, part = best_of(args.repeat, lambda: hx.partition(graph, verify=False))
        routed, checked = best_of(args.repeat, lambda: hx.partition(graph))
        assert checked.to_dict()["instances"] == part.to_dict()["instances"] or len(checked) >= len(part)
        traffic = sum(link.neurons for link in checked.links)
        print(f"{name:34} {len(checked):>9} {traffic:>9} {decide * 1e3:>7.0f} ms {routed * 1e3:>10.0f} ms")
    print(f"reference: place_and_route of one full chip (256 → 246 → 10): {reference * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
