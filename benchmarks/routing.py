"""Routing times: the greedy router on the full chip, the exact router on placements where greedy fails.

Run: python benchmarks/routing.py [--repeats 5]

- greedy: `route` on the 256 → 246 (×2) → 10 (×2) network (every circuit and row in use), after
  placement (median and fastest of `--repeats` runs after a warm-up), and the whole
  `place_and_route` of it (bar: under 100 ms);
- exact: `route` on the placements of tests/chip/data/routing_cases.json, where the greedy router
  fails (the exact router finds a routing or proves that none exists), and on a hand-made
  infeasible placement; one run each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import torch
    import hxgraph as hx
    from hxgraph.chip import ChipSpec, place_and_route
    from hxgraph.chip.placement import NeuronPlacement, place
    from hxgraph.chip.routing import connection_demand, route
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from place_and_route import case_b

    torch.set_num_threads(1)
    spec = ChipSpec()
    graph = case_b()
    demand = connection_demand(graph, spec)
    placement = place(graph, spec, "balanced")
    times = []
    for _ in range(args.repeats + 1):
        t0 = time.perf_counter()
        route(graph, placement, demand, spec)
        times.append(time.perf_counter() - t0)
    print(f"greedy route, 256-246-10 full chip: median {statistics.median(times[1:]) * 1e3:.1f} ms, "
          f"fastest {min(times[1:]) * 1e3:.1f} ms")
    t0 = time.perf_counter()
    for _ in range(args.repeats):
        place_and_route(graph)
    mean = (time.perf_counter() - t0) / args.repeats
    print(f"place_and_route, 256-246-10 full chip: mean {mean * 1e3:.1f} ms ({'OK' if mean < 0.1 else 'OVER'} "
          "the 100 ms bar)")

    small = ChipSpec.small()
    cases = json.loads((ROOT / "tests" / "chip" / "data" / "routing_cases.json").read_text())
    for name, data in cases.items():
        g = hx.Graph.from_json(json.dumps(data["graph"]))
        pl = NeuronPlacement(small, {k: torch.tensor(v) for k, v in data["circuits"].items()}, "given")
        t0 = time.perf_counter()
        try:
            route(g, pl, connection_demand(g, small), small, data["routing"], exact_time_limit=30)
            outcome = "routed"
        except hx.MappingError as exc:
            outcome = type(exc).__name__
        print(f"exact router, {name} ({data['routing']}): {outcome} in {time.perf_counter() - t0:.2f} s")
    exp = hx.Experiment("bus0", seed=1).lif("a", 8).lif("t", 2)
    for target, sign in ((0, 1.0), (1, -1.0)):
        mask = torch.zeros(8, 2, dtype=torch.bool)
        mask[:, target] = True
        exp.sparse("a", "t", mask, weight=sign * 0.5 * mask.T.float(),
                   receptor="excitatory" if sign > 0 else "inhibitory", name=f"a_to_t{target}")
    g = exp.graph
    pl = NeuronPlacement(small, {"a": torch.arange(8).reshape(-1, 1), "t": torch.tensor([[64], [65]])})
    t0 = time.perf_counter()
    try:
        route(g, pl, connection_demand(g, small), small)
        outcome = "routed"
    except hx.MappingError as exc:
        outcome = f"{type(exc).__name__} (needed {exc.needed}, available {exc.available})"
    print(f"exact router, infeasible 8 exc + 8 inh on one bus: {outcome} in {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
