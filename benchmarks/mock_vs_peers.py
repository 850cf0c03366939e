"""The Open Neuromorphic workload: hxgraph's mock against snnTorch, Norse and SpikingJelly.

One Linear(N, N) (no bias) then one LIF layer; input `randn(T=500, B=16, N)`; loss = sum of
the output spikes; time forward + backward. Each library runs the way its users (and the Open Neuromorphic
benchmark) run it: snnTorch `Leaky` and Norse `LIFBoxCell` step by step in a python loop
with the linear layer applied per step, SpikingJelly `LIFNode` in multi-step mode on the
linear layer's output for all steps, hxgraph through `hx.mock(graph)`. Each (library, N) runs in a fresh
process, so its peak resident memory is its own.

The floor: the two matrix products any implementation of this workload needs (the forward
Linear and the weight gradient, same shapes), timed the same way; hxgraph / floor is printed
against the bar of issue 16 (1.5 at N = 256, 1.2 at N = 1024).

The last row is hxgraph with its torch loops (HXGRAPH_KERNELS=torch) instead of the compiled
kernels, for comparison.

Also: hxgraph sparse vs dense projection at 1 % density for N = 4096.

Run:   python benchmarks/mock_vs_peers.py [--sizes 256 1024] [--repeat 5]
Peers (optional; installed without their torchvision/torchaudio requirements, which would
replace the CPU torch here):
       pip install snntorch==1.0.0 && pip install --no-deps spikingjelly==2.0.0 norse==1.1.0 nir nirtorch
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

T, B = 500, 16


def workload(library: str, n: int, density: float):
    """Return a function running one forward + backward pass, or None if the library is missing."""
    import torch

    torch.manual_seed(0)
    x = torch.randn(T, B, n)
    if library.startswith("hxgraph"):
        import hxgraph as hx

        exp = hx.Experiment("bench").input("x", n).lif("h", n, leak=0.0, reset=0.0, threshold=1.0)
        if library == "hxgraph-sparse":
            exp.sparse("x", "h", hx.connect.random(n, n, density, seed=0))
        else:
            exp.dense("x", "h")
        model = hx.mock(exp.graph)

        def run():
            model({"x": x})["h"].spikes.sum().backward()
        return run

    if library == "floor":
        # The matrix products any implementation needs: the forward product and the weight gradient's.
        weight, flat = torch.randn(n, n), x.reshape(T * B, n)
        upstream = torch.randn(T * B, n)

        def run():
            flat @ weight.T
            upstream.T @ flat
        return run

    linear = torch.nn.Linear(n, n, bias=False)

    def stepwise(step, state):
        """A python loop over time, the linear layer applied per step (how loop-based peers run)."""
        def run():
            s, spikes = state(), []
            for t in range(T):
                z, s = step(linear(x[t]), s)
                spikes.append(z)
            torch.stack(spikes).sum().backward()
        return run

    if library == "snntorch":
        import snntorch as snn

        neuron = snn.Leaky(beta=0.9)
        return stepwise(neuron, neuron.init_leaky)
    if library == "norse":
        from norse.torch import LIFBoxCell

        return stepwise(LIFBoxCell(), lambda: None)
    if library == "spikingjelly":
        from spikingjelly.activation_based import functional, neuron

        node = neuron.LIFNode(tau=10.0, step_mode="m")

        def run():
            functional.reset_net(node)
            node(linear(x)).sum().backward()
        return run
    raise ValueError(library)


def measure(library: str, n: int, repeat: int, density: float) -> dict:
    import resource
    import warnings

    warnings.filterwarnings("ignore")
    try:
        run = workload(library, n, density)
    except ImportError as exc:
        return {"library": library, "n": n, "missing": str(exc)}
    run()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"library": library, "n": n, "ms": 1e3 * statistics.median(times), "min_ms": 1e3 * min(times),
            "peak_mib": peak}


def in_subprocess(library: str, n: int, repeat: int, density: float = 0.01) -> dict:
    env = dict(os.environ)
    if library == "hxgraph-torch-loops":  # hxgraph with its torch loops instead of the compiled kernels
        library, env["HXGRAPH_KERNELS"] = "hxgraph", "torch"
    out = subprocess.run([sys.executable, __file__, "--one", library, str(n), str(repeat), str(density)],
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return {"library": library, "n": n, "missing": out.stderr.strip().splitlines()[-1]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if env.get("HXGRAPH_KERNELS") == "torch":
        result["library"] = "hxgraph-torch-loops"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sparse-n", type=int, default=4096)
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        library, n, repeat, density = args.one
        print(json.dumps(measure(library, int(n), int(repeat), float(density))))
        return

    import torch
    print(f"Linear(N, N) -> LIF, input randn({T}, {B}, N), loss = sum of spikes, forward + backward; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.repeat}")
    print(f"{'N':>6}  {'library':<16} {'median ms':>10} {'min ms':>8} {'peak MiB':>9}")
    for n in args.sizes:
        rows = [in_subprocess(lib, n, args.repeat) for lib in ("hxgraph", "snntorch", "norse", "spikingjelly")]
        floor = in_subprocess("floor", n, args.repeat)
        loops = in_subprocess("hxgraph-torch-loops", n, args.repeat)
        for r in rows + [floor, loops]:
            if "missing" in r:
                print(f"{n:>6}  {r['library']:<16} not available ({r['missing']})")
            else:
                print(f"{n:>6}  {r['library']:<16} {r['ms']:>10.1f} {r['min_ms']:>8.1f} {r['peak_mib']:>9.0f}")
        peers = [r["ms"] for r in rows[1:] if "ms" in r]
        if peers:
            print(f"{'':>6}  hxgraph / fastest peer: {rows[0]['ms'] / min(peers):.2f}")
        bar = 1.5 if n <= 256 else 1.2
        print(f"{'':>6}  hxgraph / matmul floor: {rows[0]['ms'] / floor['ms']:.2f} (bar: {bar})")
    if args.sparse_n:
        n = args.sparse_n
        print(f"\nhxgraph, N = {n}, dense vs sparse (1 % density) projection; median of 3")
        for lib in ("hxgraph", "hxgraph-sparse"):
            r = in_subprocess(lib, n, 3, 0.01)
            print(f"{n:>6}  {lib:<16} {r['ms']:>10.1f} {r['min_ms']:>8.1f} {r['peak_mib']:>9.0f}")


if __name__ == "__main__":
    main()
