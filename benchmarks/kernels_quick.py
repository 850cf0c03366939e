"""Quick timing of the LIF kernels: fast (hand-written adjoint) vs the autograd reference.

Workload (the acceptance benchmark): Linear(N, N) followed by one LIF layer, input
randn(T=500, B=16, N), loss = sum of spikes, forward + backward. Prints ms per iteration
(median of a few repeats) for N = 256 and 1024, and the spike rate so one can see that
neurons do spike. Run: ``python benchmarks/kernels_quick.py [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch

from hxgraph.mock.functional import lif_integration, lif_integration_reference

PARAMS = dict(leak=0.0, reset=0.0, threshold=1.0, tau_mem=10e-6, tau_syn=10e-6,
              capacitance=10e-6, refractory_time=1e-6, alpha=50.0, dt=1e-6)


def time_step(kernel: Callable, layer: torch.nn.Linear, x: torch.Tensor,
              repeats: int, **params: float) -> tuple[float, float]:
    """Median ms of forward+backward, and the spike rate of the last run (`params` beyond the LIF's)."""
    timings = []
    rate = 0.0
    for _ in range(repeats + 1):  # the first run warms up
        layer.zero_grad(set_to_none=True)
        start = time.perf_counter()
        spikes = kernel(layer(x), **PARAMS, **params)[0]
        spikes.sum().backward()
        timings.append((time.perf_counter() - start) * 1e3)
        rate = spikes.mean().item()
    return statistics.median(timings[1:]), rate


def main() -> None:
    """Run the benchmark and print a small table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--scale", type=float, default=2.0,
                        help="input scale; 2.0 gives a spike rate of a few percent")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, T=500, B=16")
    for size in args.sizes:
        torch.manual_seed(0)
        layer = torch.nn.Linear(size, size, bias=False)
        x = torch.randn(500, 16, size) * args.scale
        fast, rate = time_step(lif_integration, layer, x, args.repeats)
        ref, _ = time_step(lif_integration_reference, layer, x, max(1, args.repeats // 2))
        print(f"N={size:5d}: fast {fast:8.1f} ms   reference {ref:8.1f} ms   "
              f"speed-up {ref / fast:4.1f}x   spike rate {rate:.3f}")


if __name__ == "__main__":
    main()
