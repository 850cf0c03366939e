"""hxtorch's hardware yin-yang example (`examples/spiking/yinyang.py` with `yinyang_model.py`) on hxgraph.

The logic of hxtorch's own example, in its style and with its arguments and defaults, run
by changing the imports (`hxtorch.spiking` → `hxgraph.spiking`, `dlens_vx_v3.halco` →
`hxgraph.spiking.halco`): an `SNN` of a hidden LIF layer and an LI readout with hxtorch's
chip arguments (`i_synin_gm`, `synapse_dac_bias`, `shift_cadc_to_first`), the readout placed
in the bottom row with row-first halco coordinates, and on the chip the weights clamped and
the readout's `weight_transform` scale edited before every batch, as hxtorch does.

    python examples/hxtorch_yinyang_hw.py --mock          # the software model
    python examples/hxtorch_yinyang_hw.py                 # the emulated chip in the loop
    python examples/hxtorch_yinyang_hw.py --mock --gradient-estimator eventprop   # EventProp

hxtorch's defaults (weight scale 64, trace scale 1/50) are not those of the chip it runs on
(its hardware CI uses 70 and 0.0147): on the chip the first run says so with a
`ConsistencyWarning`; `--weight-scale 70 --trace-scale 0.0147` agree with it.
"""

from __future__ import annotations

import argparse
import os
from functools import partial
from typing import Any, Optional, Sequence

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see examples/yinyang.py

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

import hxgraph.spiking as hxsnn  # noqa: E402  (hxtorch: import hxtorch.spiking as hxsnn)
from hxgraph.spiking import halco  # noqa: E402  (hxtorch: from dlens_vx_v3 import halco)
from hxgraph.spiking.datasets.yinyang import YinYangDataset  # noqa: E402
from hxgraph.spiking.transforms import weight_transforms  # noqa: E402
from hxgraph.spiking.transforms.decode import MaxOverTime  # noqa: E402
from hxgraph.spiking.transforms.encode import CoordinatesToSpikes  # noqa: E402


def get_parser() -> argparse.ArgumentParser:
    """hxtorch's options and defaults."""
    parser = argparse.ArgumentParser(description="hxtorch spiking YinYang example, on hxgraph",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--mock", action="store_true", default=False, help="enable mock mode")
    parser.add_argument("--testset-size", type=int, default=1000)
    parser.add_argument("--trainset-size", type=int, default=5000)
    parser.add_argument("--t-shift", type=float, default=0e-6)
    parser.add_argument("--t-bias", type=float, default=2e-6)
    parser.add_argument("--t-early", type=float, default=2e-6)
    parser.add_argument("--t-late", type=float, default=26e-6)
    parser.add_argument("--t-sim", type=float, default=38e-6)
    parser.add_argument("--dt", type=float, default=1e-6)
    parser.add_argument("--n-hidden", type=int, default=120)
    parser.add_argument("--tau-mem", type=float, default=6e-6)
    parser.add_argument("--tau-syn", type=float, default=6e-6)
    parser.add_argument("--weight-init-hidden-mean", type=float, default=0.2)
    parser.add_argument("--weight-init-hidden-std", type=float, default=0.2)
    parser.add_argument("--weight-init-out-mean", type=float, default=0.0)
    parser.add_argument("--weight-init-out-std", type=float, default=0.1)
    parser.add_argument("--alpha", type=int, default=150)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--gamma", type=float, default=0.5)
    parser.add_argument("--step-size", type=int, default=50)
    parser.add_argument("--lr", type=float, default=0.0005)
    parser.add_argument("--reg-bursts", type=float, default=0.0)
    parser.add_argument("--reg-weights-hidden", type=float, default=0.0)
    parser.add_argument("--reg-readout", type=float, default=0.0004)
    parser.add_argument("--reg-weights-output", type=float, default=0.0)
    parser.add_argument("--gradient-estimator", type=str, default="surrogate_gradient",
                        help="surrogate_gradient or eventprop")
    parser.add_argument("--readout-scaling", type=float, default=10.0)
    parser.add_argument("--weight-scale", type=float, default=64.)
    parser.add_argument("--trace-scale", type=float, default=1. / 50.)
    return parser


class SNN(torch.nn.Module):
    """A hidden LIF layer and an LI readout placed in the bottom row, as hxtorch's yin-yang model."""

    def __init__(self, n_in: int, n_hidden: int, n_out: int, mock: bool, dt: float = 1e-6, tau_mem: float = 8e-6,
                 tau_syn: float = 8e-6, alpha: float = 50, trace_shift_hidden: int = 0, trace_shift_out: int = 0,
                 weight_init_hidden: Optional[tuple] = None, weight_init_output: Optional[tuple] = None,
                 weight_scale: float = 1., trace_scale: float = 1., input_repetitions: int = 1,
                 hidden_cadc_recording: bool = False, synapse_type: type = hxsnn.Synapse,
                 neuron_type: type = hxsnn.LIF) -> None:
        super().__init__()
        self.exp = hxsnn.Experiment(mock=mock, dt=dt)
        self.input_repetitions = input_repetitions
        to_chip = partial(weight_transforms.linear_saturating, scale=weight_scale)
        self.linear_h = synapse_type(n_in * input_repetitions, n_hidden, experiment=self.exp, transform=to_chip)
        if weight_init_hidden:
            w = torch.zeros(n_hidden, n_in)
            torch.nn.init.normal_(w, *weight_init_hidden)
            self.linear_h.weight.data = w.repeat(1, input_repetitions)
        self.lif_h = neuron_type(
            n_hidden, experiment=self.exp, tau_mem=tau_mem, tau_syn=tau_syn, alpha=alpha,
            membrane_capacitance=hxsnn.HXTransformedModelParameter(tau_mem, partial(_capacitance, tau_mem=tau_mem)),
            leak=hxsnn.MixedHXModelParameter(0., 80), reset=hxsnn.MixedHXModelParameter(0., 80),
            threshold=hxsnn.MixedHXModelParameter(1., 150), i_synin_gm=500, synapse_dac_bias=1000,
            trace_scale=trace_scale, cadc_time_shift=trace_shift_hidden, shift_cadc_to_first=True,
            enable_cadc_recording=hidden_cadc_recording)
        self.linear_o = hxsnn.Synapse(n_hidden, n_out, experiment=self.exp,
                                      transform=partial(weight_transforms.linear_saturating, scale=weight_scale))
        # The readout in the bottom row, neuron n on column n (halco coordinates, row first).
        self.li_readout = hxsnn.LI(
            n_out, experiment=self.exp, tau_mem=tau_mem, tau_syn=tau_syn, leak=hxsnn.MixedHXModelParameter(0., 80),
            i_synin_gm=500, synapse_dac_bias=1000, trace_scale=trace_scale, cadc_time_shift=trace_shift_out,
            shift_cadc_to_first=True,
            placement_constraint=[halco.LogicalNeuronOnDLS(
                hxsnn.morphology.SingleCompartmentNeuron(1).compartments,
                halco.AtomicNeuronOnDLS(halco.NeuronRowOnDLS(1), halco.NeuronColumnOnDLS(n))) for n in range(n_out)])
        if weight_init_output:
            torch.nn.init.normal_(self.linear_o.weight, *weight_init_output)
        self.s_h = None

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        spikes = spikes.repeat(1, 1, self.input_repetitions)
        c_h = self.linear_h(hxsnn.LIFObservables(spikes=spikes))
        self.s_h = self.lif_h(c_h)
        y_o = self.li_readout(self.linear_o(self.s_h))
        hxsnn.run(self.exp, spikes.shape[0])
        return y_o.membrane_cadc


def _capacitance(model_value: float, tau_mem: float) -> float:
    return model_value / tau_mem * 63


class Model(torch.nn.Module):
    """Encoder → SNN → decoder; the scores are scaled without scaling their gradient, as in hxtorch."""

    def __init__(self, encoder: torch.nn.Module, network: SNN, decoder: torch.nn.Module,
                 readout_scale: float = 1.) -> None:
        super().__init__()
        self.encoder, self.network, self.decoder = encoder, network, decoder
        self.readout_scale = readout_scale

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        traces = self.network(self.encoder(inputs))
        self.scores = self.decoder(traces).clone()
        with torch.no_grad():
            self.scores *= self.readout_scale
        return self.scores

    def regularize(self, reg_readout: float, reg_bursts: float, reg_w_hidden: float, reg_w_output: float
                   ) -> torch.Tensor:
        reg = torch.tensor(0.)
        reg = reg + reg_readout * torch.mean(self.scores ** 2)
        reg = reg + reg_bursts * torch.mean(torch.sum(self.network.s_h.spikes, dim=0) ** 2.)
        reg = reg + reg_w_hidden * torch.mean(self.network.linear_h.weight ** 2.)
        reg = reg + reg_w_output * torch.mean(self.network.linear_o.weight ** 2.)
        return reg


def train(model: Model, loader: DataLoader, optimizer: torch.optim.Optimizer, args: argparse.Namespace
          ) -> tuple[float, float]:
    model.train()
    loss, correct, seen = 0., 0, 0
    for data, target in loader:
        model.zero_grad()
        if not args.mock:
            with torch.no_grad():
                limit = 63. / args.weight_scale  # the largest hidden weight the chip can send
                model.network.linear_h.weight.data.clamp_(-limit, limit)
                scale = min(63. / np.abs(model.network.linear_o.weight.cpu().detach()).max(), args.weight_scale)
                model.network.linear_o.weight_transform.keywords["scale"] = float(scale)
        scores = model(data)
        loss_b = torch.nn.functional.cross_entropy(scores, target) + model.regularize(
            args.reg_readout, args.reg_bursts, args.reg_weights_hidden, args.reg_weights_output)
        loss_b.backward()
        optimizer.step()
        loss += float(loss_b) * len(target)
        correct += int((scores.argmax(1) == target).sum())
        seen += len(target)
    return loss / seen, correct / seen


def test(model: Model, loader: DataLoader) -> float:
    model.eval()
    correct, seen = 0, 0
    with torch.no_grad():
        for data, target in loader:
            correct += int((model(data).argmax(1) == target).sum())
            seen += len(target)
    return correct / seen


def main(argv: Optional[Sequence[str]] = None, log: Any = print) -> dict[str, Any]:
    args = get_parser().parse_args(argv)
    # hxtorch's choice of module types per gradient estimator (EventProp: no hidden CADC recording)
    estimators = {"surrogate_gradient": (hxsnn.Synapse, hxsnn.LIF, True),
                  "eventprop": (hxsnn.EventPropSynapse, hxsnn.EventPropLIF, False)}
    if args.gradient_estimator not in estimators:
        raise SystemExit(f"--gradient-estimator {args.gradient_estimator}: use one of {sorted(estimators)}")
    synapse_type, neuron_type, hidden_cadc_recording = estimators[args.gradient_estimator]
    torch.manual_seed(args.seed)
    trainset = YinYangDataset(size=args.trainset_size, seed=42)
    testset = YinYangDataset(size=args.testset_size, seed=41)
    train_loader = DataLoader(trainset, batch_size=args.batch_size, shuffle=True, drop_last=True)
    test_loader = DataLoader(testset, batch_size=args.batch_size, shuffle=True)
    shift = int(args.t_shift / args.dt)
    model = Model(
        CoordinatesToSpikes(seq_length=int(args.t_sim / args.dt), t_early=args.t_early, t_late=args.t_late,
                            dt=args.dt, t_bias=args.t_bias),
        SNN(n_in=5, n_hidden=args.n_hidden, n_out=3, mock=args.mock, dt=args.dt, tau_mem=args.tau_mem,
            tau_syn=args.tau_syn, alpha=args.alpha, trace_shift_hidden=shift, trace_shift_out=shift,
            weight_init_hidden=(args.weight_init_hidden_mean, args.weight_init_hidden_std),
            weight_init_output=(args.weight_init_out_mean, args.weight_init_out_std),
            weight_scale=args.weight_scale, trace_scale=args.trace_scale,
            input_repetitions=1 if args.mock else 5, hidden_cadc_recording=hidden_cadc_recording,
            synapse_type=synapse_type, neuron_type=neuron_type),
        MaxOverTime(), args.readout_scaling)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=args.step_size, gamma=args.gamma)
    history: dict[str, Any] = {"train_loss": [], "train_accuracy": [], "test_accuracy": []}
    for epoch in range(1, args.epochs + 1):
        loss, accuracy = train(model, train_loader, optimizer, args)
        history["train_loss"].append(loss)
        history["train_accuracy"].append(accuracy)
        history["test_accuracy"].append(test(model, test_loader))
        scheduler.step()
        if log is not None:
            log(f"epoch {epoch}: train loss {loss:.4f}, train accuracy {accuracy:.3f}, test accuracy "
                f"{history['test_accuracy'][-1]:.3f} ({'mock' if args.mock else 'emulated chip'})")
    history["model"] = model
    return history


if __name__ == "__main__":
    main()
