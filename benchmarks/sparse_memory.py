"""Memory and time of a large sparse projection: 10,000 × 10,000 possible pairs at 0.1 % density.

Run: python benchmarks/sparse_memory.py [--size 10000] [--density 0.001]

Prints the bytes hxgraph stores for the projection, the process's peak-memory growth while
building it and round-tripping it through JSON, and, for comparison, what a dense in×out
float32 weight plus boolean mask (hxtorch's SparseSynapse storage) would need.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--density", type=float, default=0.001)
    args = parser.parse_args()

    import torch
    import hxgraph as hx

    torch.zeros(1)  # settle torch's own start-up allocations before the baseline
    baseline = peak_rss_mb()
    t0 = time.perf_counter()
    connections = hx.connect.random(args.size, args.size, args.density, seed=1)
    t1 = time.perf_counter()
    exp = hx.Experiment("big").input("x", args.size).lif("h", args.size).sparse("x", "h", connections)
    graph = exp.graph
    t2 = time.perf_counter()
    text = graph.to_json()
    back = hx.Graph.from_json(text)
    t3 = time.perf_counter()
    assert back == graph
    peak = peak_rss_mb() - baseline

    proj = graph.projection("x_to_h")
    stored = proj.weight.nbytes + proj.connectivity.indices.nbytes
    dense = args.size * args.size * (4 + 1)
    print(f"sparse projection {args.size} x {args.size}, density {args.density:g}: "
          f"{proj.connection_count:,} connections")
    print(f"  stored by hxgraph (weights + index pairs): {stored / 2**20:8.2f} MiB")
    print(f"  dense weight + mask (hxtorch's layout):     {dense / 2**20:8.2f} MiB")
    print(f"  peak memory growth, build + JSON round trip: {peak:8.2f} MiB")
    print(f"  JSON text: {len(text) / 2**20:.2f} MiB")
    print(f"  time: connections {1e3 * (t1 - t0):.0f} ms, build {1e3 * (t2 - t1):.0f} ms, "
          f"JSON round trip {1e3 * (t3 - t2):.0f} ms")


if __name__ == "__main__":
    main()
