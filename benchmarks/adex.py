"""AdEx mock kernel against the LIF kernel on the same workload (the bar: AdEx within 1.5x the LIF).

Workload as `kernels_quick.py`: Linear(N, N) then one neuron layer, input randn(T=500, B=16, N),
loss = sum of spikes, forward + backward, median ms. Rows: the LIF kernel, the AdEx kernel
(hand-written adjoint) with adaptation and exponential term on, and the AdEx reference loop
(autograd through time). Run: ``python benchmarks/adex.py [--repeats 5]`` on a quiet machine.
"""

from __future__ import annotations

import argparse

import torch

from kernels_quick import time_step

from hxgraph.mock.functional import adex_integration, adex_integration_reference, lif_integration

ADEX = dict(exp_slope=0.1, exp_threshold=0.8, a=0.5, b=0.1, tau_adap=50e-6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, T=500, B=16")
    for size in args.sizes:
        torch.manual_seed(0)
        layer = torch.nn.Linear(size, size, bias=False)
        x = torch.randn(500, 16, size) * 2.0
        lif, lif_rate = time_step(lif_integration, layer, x, args.repeats)
        adex, adex_rate = time_step(adex_integration, layer, x, args.repeats, **ADEX)
        reference, _ = time_step(adex_integration_reference, layer, x, 1, **ADEX)
        print(f"N={size:5d}: LIF {lif:7.1f} ms (rate {lif_rate:.3f})   AdEx {adex:7.1f} ms (rate {adex_rate:.3f}, "
              f"{adex / lif:.2f}x the LIF)   AdEx reference {reference:8.1f} ms")


if __name__ == "__main__":
    main()
