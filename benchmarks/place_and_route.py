"""Time of `place_and_route` on full-chip networks (bars: case (b) under 100 ms, the others under 1 s).

Run: python benchmarks/place_and_route.py [--repeats 5]

Networks:
- case (b): 256 inputs → 246 hidden → 10 outputs, every neuron 2 circuits, dense signed
  projections — all 512 circuits and all 512 synapse rows in use;
- recurrent: 512 LIF neurons (1 circuit each, both hemispheres) with a signed sparse recurrent
  projection (5 % density) plus 64 inputs projecting sparsely (10 %).
Also times a weight-only update of each (placement and routing reused). Prints the median and
the fastest of `--repeats` runs after one warm-up run, and whether the median meets the bar. The
time is wall-clock on whatever else the machine is doing: compare versions back to back.
"""

from __future__ import annotations

import argparse
import statistics
import time


def case_b():
    import hxgraph as hx
    from hxgraph.graph import LinearSaturating

    scale = LinearSaturating(scale=30.0)
    return (hx.Experiment("case_b").input("x", 256).lif("hidden", 246, circuits_per_neuron=2)
            .li("out", 10, circuits_per_neuron=2)
            .dense("x", "hidden", init=hx.init.normal(0, 1), transform=scale)
            .dense("hidden", "out", init=hx.init.normal(0, 1), transform=scale)).graph


def recurrent():
    import torch
    import hxgraph as hx
    from hxgraph.graph import LinearSaturating

    gen = torch.Generator().manual_seed(1)
    scale = LinearSaturating(scale=30.0)
    return (hx.Experiment("recurrent_512").input("x", 64).lif("r", 512)
            .sparse("r", "r", torch.rand(512, 512, generator=gen) < 0.05, init=hx.init.normal(0, 1), transform=scale)
            .sparse("x", "r", torch.rand(64, 512, generator=gen) < 0.10, init=hx.init.normal(0, 1), transform=scale)
            ).graph


def timed(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up: imports, first-call allocations
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import torch
    from hxgraph.chip import place_and_route

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median / fastest of {args.repeats} runs")
    for name, make, bar in (("case (b) 256-246(x2)-10(x2), full chip", case_b, 0.1),
                            ("512 LIF sparse recurrent + 64 inputs", recurrent, 1.0)):
        graph = make()
        mapping = place_and_route(graph)
        median, fastest = timed(lambda: place_and_route(graph), args.repeats)
        with torch.no_grad():
            for proj in graph.projections.values():
                proj.weight.mul_(0.9)
        update_median, update_fastest = timed(lambda: mapping.update(graph), args.repeats)
        s = mapping.stats
        print(f"{name}:")
        print(f"  place_and_route   {median * 1e3:7.1f} ms (fastest {fastest * 1e3:.1f} ms)  "
              f"{'OK' if median < bar else 'OVER'} the {bar * 1e3:.0f} ms bar")
        print(f"  weight update     {update_median * 1e3:7.1f} ms (fastest {update_fastest * 1e3:.1f} ms)")
        print(f"  circuits {s.circuits_used}/{s.circuits_available}, rows {list(s.rows_used)}, "
              f"driver groups per bus {list(s.driver_groups)}, synapses {s.synapses}")


if __name__ == "__main__":
    main()
