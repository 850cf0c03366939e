"""Yin-yang training written as an hxtorch.spiking script, run on hxgraph by changing the import.

The script is in hxtorch's style — an `Experiment`, `Synapse`, `LIF`, `LI` modules
declared again in every forward pass, `run`, `MaxOverTime` on the readout membrane, the
yin-yang data set — with `import hxgraph.spiking as hxsnn` where hxtorch's script has
`import hxtorch.spiking as hxsnn`. Network: 5 inputs (4 coordinates + a bias spike) → 120 LIF
→ 3 LI, tau 6 µs, 38 steps of 1 µs; model values leak = reset = 0, threshold 1, chip values
80 / 80 / 150 (CADC units).

    python examples/hxtorch_yinyang.py            # mock, 5 epochs
    python examples/hxtorch_yinyang.py --chip     # emulated chip in the loop, 10 epochs

On the chip (`mock=False`) each input channel is sent 5 times so an input weight can use up
to 5 synapses, software weights become hardware weights through `linear_saturating` with
scale 70, and CADC traces are mapped back to model units with `trace_offset=-48` (the
hardware leak 80 in hxtorch's signed CADC convention, code − 128) and `trace_scale=0.0147` — the values hxtorch's hardware CI trains the real
chip with (70 CADC × 0.0147 = 1.03 model units between leak and threshold), and the
calibration hxgraph's emulated chip has. Other values (`--weight-scale 64 --trace-scale 0.02`,
the older hxtorch defaults) contradict the chip, and the first chip run says so with a
`ConsistencyWarning` naming the population and projection.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from functools import partial
from typing import Any, Callable, Optional, Sequence

# Small tensors: passive OpenMP waiting keeps a second busy process from stalling every op (see examples/yinyang.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

import hxgraph.spiking as hxsnn  # noqa: E402  (hxtorch: import hxtorch.spiking as hxsnn)
from hxgraph.spiking.datasets.yinyang import YinYangDataset  # noqa: E402
from hxgraph.spiking.transforms import weight_transforms  # noqa: E402
from hxgraph.spiking.transforms.decode import MaxOverTime  # noqa: E402
from hxgraph.spiking.transforms.encode import CoordinatesToSpikes  # noqa: E402

DT = 1e-6
STEPS = 38
TAU = 6e-6


class SNN(torch.nn.Module):
    """5 (× input_repetitions) → 120 LIF → 3 LI; returns the readout membrane (T, B, 3)."""

    def __init__(self, n_in: int = 5, n_hidden: int = 120, n_out: int = 3, mock: bool = True, dt: float = DT,
                 tau_mem: float = TAU, tau_syn: float = TAU, alpha: float = 50., input_repetitions: int = 1,
                 weight_scale: float = 1., trace_scale: float = 0.0147, weight_init_hidden=(1.0, 1.0),
                 weight_init_output=(0.0, 0.1), chip_seed: int = 0) -> None:
        super().__init__()
        self.experiment = hxsnn.Experiment(mock=mock, dt=dt, chip_seed=chip_seed)
        transform = partial(weight_transforms.linear_saturating, scale=weight_scale)
        self.linear_h = hxsnn.Synapse(n_in * input_repetitions, n_hidden, experiment=self.experiment,
                                      transform=transform)
        self.lif_h = hxsnn.LIF(
            n_hidden, experiment=self.experiment,
            leak=hxsnn.MixedHXModelParameter(0., 80.), reset=hxsnn.MixedHXModelParameter(0., 80.),
            threshold=hxsnn.MixedHXModelParameter(1., 150.), tau_mem=tau_mem, tau_syn=tau_syn, alpha=alpha,
            trace_offset=-48., trace_scale=trace_scale,
            enable_cadc_recording=False)  # only its spikes are used: spares reading 120 membranes on the chip
        self.linear_o = hxsnn.Synapse(n_hidden, n_out, experiment=self.experiment, transform=transform)
        self.li_readout = hxsnn.LI(
            n_out, experiment=self.experiment, leak=hxsnn.MixedHXModelParameter(0., 80.), tau_mem=tau_mem,
            tau_syn=tau_syn, trace_offset=-48., trace_scale=trace_scale)
        # Each input channel is repeated: mean / repetitions and std / sqrt(repetitions) keep the summed input's
        # statistics those of one channel with weights N(mean, std).
        mean, std = weight_init_hidden
        torch.nn.init.normal_(self.linear_h.weight, mean / input_repetitions, std / math.sqrt(input_repetitions))
        torch.nn.init.normal_(self.linear_o.weight, *weight_init_output)

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        hidden = self.lif_h(self.linear_h(hxsnn.LIFObservables(spikes=spikes)))
        readout = self.li_readout(self.linear_o(hidden))
        hxsnn.run(self.experiment, spikes.shape[0])
        self.hidden_spikes = hidden.spikes
        return readout.membrane_cadc


class Model(torch.nn.Module):
    """Encoder → SNN → max over time, scaled: class scores (B, 3)."""

    def __init__(self, network: SNN, input_repetitions: int = 1, readout_scale: float = 10.) -> None:
        super().__init__()
        self.encoder = CoordinatesToSpikes(STEPS, t_early=2e-6, t_late=26e-6, dt=DT, t_bias=2e-6)
        self.network = network
        self.decoder = MaxOverTime()
        self.input_repetitions = input_repetitions
        self.readout_scale = readout_scale

    def forward(self, coordinates: torch.Tensor) -> torch.Tensor:
        spikes = self.encoder(coordinates).repeat(1, 1, self.input_repetitions)
        return self.readout_scale * self.decoder(self.network(spikes))


def test(model: Model, dataset: YinYangDataset, batch_size: int = 1000) -> float:
    """Test accuracy (eval mode, no gradients)."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for samples, labels in torch.utils.data.DataLoader(dataset, batch_size=batch_size):
            correct += int((model(samples).argmax(1) == labels).sum())
    return correct / len(dataset)


def main(argv: Optional[Sequence[str]] = None, log: Optional[Callable[[str], Any]] = print) -> dict[str, Any]:
    """Train; returns per-epoch `test_accuracy`, `train_loss`, `seconds` and the `model`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chip", action="store_true", help="train on the emulated chip in the loop (mock=False)")
    parser.add_argument("--epochs", type=int, default=None, help="default 5 (mock) or 10 (chip)")
    parser.add_argument("--train-size", type=int, default=5000)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--gamma", type=float, default=0.9, help="learning-rate decay per epoch")
    parser.add_argument("--seed", type=int, default=0, help="weights and shuffling")
    parser.add_argument("--chip-seed", type=int, default=0, help="which emulated chip (mismatch, noise)")
    parser.add_argument("--weight-scale", type=float, default=70., help="hardware units per model weight (chip)")
    parser.add_argument("--trace-scale", type=float, default=0.0147, help="model units per CADC unit (chip)")
    args = parser.parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (10 if args.chip else 5)
    repetitions, weight_scale = (5, args.weight_scale) if args.chip else (1, 1.)

    torch.manual_seed(args.seed)
    trainset = YinYangDataset(size=args.train_size, seed=42)
    testset = YinYangDataset(size=args.test_size, seed=40)
    snn = SNN(mock=not args.chip, input_repetitions=repetitions, weight_scale=weight_scale,
              trace_scale=args.trace_scale, chip_seed=args.chip_seed)
    model = Model(snn, input_repetitions=repetitions)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=args.gamma)
    loader = torch.utils.data.DataLoader(trainset, batch_size=args.batch_size, shuffle=True, drop_last=True,
                                         generator=torch.Generator().manual_seed(args.seed))
    history: dict[str, Any] = {"test_accuracy": [], "train_loss": [], "seconds": []}
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        total, seen = 0.0, 0
        for samples, labels in loader:
            scores = model(samples)
            loss = torch.nn.functional.cross_entropy(scores, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(labels)
            seen += len(labels)
        scheduler.step()
        accuracy = test(model, testset)
        history["test_accuracy"].append(accuracy)
        history["train_loss"].append(total / seen)
        history["seconds"].append(time.perf_counter() - start)
        if log is not None:
            log(f"epoch {epoch:2d}: train loss {total / seen:.4f}, test accuracy {accuracy:.3f} "
                f"({history['seconds'][-1]:.1f} s, {'emulated chip' if args.chip else 'mock'})")
    history["model"] = model
    return history


if __name__ == "__main__":
    main()
