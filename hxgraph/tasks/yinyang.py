"""The yin-yang task: network, encoding, training and evaluation on the mock, the chip, or both.

5 inputs (4 coordinates + a bias spike) → 120 LIF → 3 LI; the class score is the peak of
each readout membrane (max over time), trained with cross-entropy and Adam. This is the
topology and encoding of hxtorch's yin-yang example, built with the fluent builder. For the
chip, the inputs are usually repeated (each of the 5 channels sent `repeat` times) so that
effective input weights can exceed one synapse's 6-bit range.

Backends: "mock" (the torch mock), "in_the_loop" (forward on the emulated chip, gradients
from the mock) for training; "mock" or "chip" (the emulated chip alone) for evaluation.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Optional

import torch
from tqdm.auto import tqdm

import hxgraph as hx
from hxgraph.datasets import YinYangDataset
from hxgraph.transforms import CoordinatesToSpikes, LinearSaturating, MaxOverTime

# Encoding (as in hxtorch's example): a coordinate x in [0, 1] spikes at 2 µs + x · 24 µs,
# the bias channel at 2 µs; runs last 38 steps of 1 µs.
DT = 1e-6
STEPS = 38
T_EARLY, T_LATE, T_BIAS = 2e-6, 26e-6, 2e-6
N_IN, N_HIDDEN, N_OUT = 5, 120, 3
TAU = 6e-6

SPARSE_CHOICES = ("none", "hidden", "input")
TRAIN_BACKENDS = ("mock", "in_the_loop")
EVAL_BACKENDS = ("mock", "chip")


def build_experiment(sparse: str = "none", density: float = 0.5, seed: int = 0,
                     hidden_init: tuple[float, float] = (1.0, 1.0), out_init: tuple[float, float] = (0.0, 0.1),
                     repeat: int = 1, weight_scale: Optional[float] = None) -> hx.Experiment:
    """The yin-yang network; `sparse` names the projection made sparse ("none", "hidden", "input").

    Every weight is drawn from `seed`. Parameters are `Mixed(model, chip)`: the mock uses the
    model values (leak = reset = 0, threshold 1), the chip its CADC values (80, 80, 150).
    `repeat` sends each input channel that many times (input weights drawn with mean / repeat
    and std / sqrt(repeat), so the summed input keeps its statistics); `weight_scale` sets the
    software → hardware weight scale of `linear_saturating` (default 1).
    """
    if sparse not in SPARSE_CHOICES:
        raise hx.ParameterError(f"sparse must be one of {SPARSE_CHOICES}; got {sparse!r}")
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise hx.ParameterError(f"repeat must be a positive integer; got {repeat!r}")
    transform = None if weight_scale is None else LinearSaturating(scale=weight_scale)
    n_in = N_IN * repeat
    exp = (hx.Experiment("yinyang", dt=DT, seed=seed)
           .input("x", n_in)
           # The task reads hidden spikes and readout membranes only; on the chip that spares
           # reading 120 hidden membranes through the CADC.
           .lif("hidden", N_HIDDEN, tau_mem=TAU, tau_syn=TAU, leak=hx.Mixed(0.0, 80.0),
                reset=hx.Mixed(0.0, 80.0), threshold=hx.Mixed(1.0, 150.0), record=("spikes",))
           .li("out", N_OUT, tau_mem=TAU, tau_syn=TAU, leak=hx.Mixed(0.0, 80.0)))
    # With the default capacitance (input gain dt / c = 0.1) one spike through weight 1 peaks
    # at 0.24 on the membrane, so hidden weights around 1 let a few coincident inputs cross
    # threshold 1. A sparse projection scales its draw (mean by 1/density, std by
    # sqrt(1/density)) so each target's summed input keeps the dense mean and variance.
    mean, std = hidden_init[0] / repeat, hidden_init[1] / math.sqrt(repeat)
    if sparse == "input":
        gain = 1.0 / density
        exp.sparse("x", "hidden", hx.connect.random(n_in, N_HIDDEN, density, seed=seed),
                   init=hx.init.normal(mean * gain, std * math.sqrt(gain)), transform=transform)
    else:
        exp.dense("x", "hidden", init=hx.init.normal(mean, std), transform=transform)
    if sparse == "hidden":
        gain = 1.0 / density
        exp.sparse("hidden", "out", hx.connect.random(N_HIDDEN, N_OUT, density, seed=seed + 1),
                   init=hx.init.normal(out_init[0] * gain, out_init[1] * math.sqrt(gain)), transform=transform)
    else:
        exp.dense("hidden", "out", init=hx.init.normal(*out_init), transform=transform)
    return exp


def input_repeat(graph: hx.Graph) -> int:
    """How often each of the 5 input channels is sent, read off the graph's input size."""
    size = graph.population("x").size
    if size % N_IN:
        raise hx.ParameterError(f"the yin-yang input population must have a multiple of {N_IN} neurons; got {size}")
    return size // N_IN


class Classifier(torch.nn.Module):
    """Encoder → network (mock, in-the-loop or emulated chip) → max over time; class scores (B, 3)."""

    def __init__(self, network: Callable[..., hx.Run], repeat: int = 1, readout_scale: float = 10.0) -> None:
        super().__init__()
        self.encoder = CoordinatesToSpikes(STEPS, T_EARLY, T_LATE, dt=DT, t_bias=T_BIAS)
        self.network = network
        self.decoder = MaxOverTime()
        self.repeat = repeat
        self.readout_scale = readout_scale
        self.last_run: Optional[hx.Run] = None

    def spikes(self, coordinates: torch.Tensor) -> torch.Tensor:
        """Input spike trains (T, B, 5 · repeat) for coordinates (B, 4)."""
        return self.encoder(coordinates).repeat(1, 1, self.repeat)

    def forward(self, coordinates: torch.Tensor) -> torch.Tensor:
        run = self.network({"x": self.spikes(coordinates)})
        self.last_run = run
        return self.readout_scale * self.decoder(run["out"].membrane)


def make_network(graph: hx.Graph, backend: str, chip_seed: int = 0, **chip_options: Any) -> Callable[..., hx.Run]:
    """The network a `Classifier` runs: the mock, the chip with the mock in the loop, or the chip.

    `chip_seed` picks the emulated chip (mismatch and noise); `chip_options` go to `hx.emulate`.
    """
    if backend == "mock":
        if chip_options:
            raise hx.ParameterError(f"options {sorted(chip_options)} only apply to the chip backends")
        return hx.mock(graph)
    if backend == "in_the_loop":
        return hx.in_the_loop(graph, seed=chip_seed, **chip_options)
    if backend == "chip":
        return hx.emulate(graph, seed=chip_seed, **chip_options)
    raise hx.ParameterError(f"unknown backend {backend!r}; use one of {TRAIN_BACKENDS + EVAL_BACKENDS[1:]}")


@torch.no_grad()
def accuracy(model: Classifier, samples: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of `samples` whose highest score is the label."""
    correct = 0
    for start in range(0, len(labels), batch_size):
        scores = model(samples[start:start + batch_size])
        correct += int((scores.argmax(1) == labels[start:start + batch_size]).sum())
    return correct / len(labels)


def evaluate(graph: hx.Graph, backend: str = "mock", test_size: int = 1000, readout_scale: float = 10.0,
             chip_seed: int = 0, **chip_options: Any) -> float:
    """Test accuracy of `graph` (data seed 40) on the mock or on the emulated chip."""
    if backend not in EVAL_BACKENDS:
        raise hx.ParameterError(f"evaluation backend must be one of {EVAL_BACKENDS}; got {backend!r}")
    testset = YinYangDataset(size=test_size, seed=40)
    model = Classifier(make_network(graph, backend, chip_seed, **chip_options), input_repeat(graph), readout_scale)
    return accuracy(model, testset.samples, testset.labels)


def train(epochs: int = 20, sparse: str = "none", density: float = 0.5, train_size: int = 5000,
          test_size: int = 1000, seed: int = 0, batch_size: int = 50, lr: float = 2e-3,
          gamma: float = 0.9, readout_scale: float = 10.0, rate_reg: float = 0.0,
          hidden_init: tuple[float, float] = (1.0, 1.0), out_init: tuple[float, float] = (0.0, 0.1),
          repeat: int = 1, weight_scale: Optional[float] = None, backend: str = "mock",
          graph: Optional[hx.Graph] = None, progress: bool = True,
          log: Optional[Callable[[str], Any]] = print, chip_seed: int = 0, **chip_options: Any) -> dict[str, Any]:
    """Train the network; returns the history and the trained graph and model.

    Keys: `train_loss`, `train_accuracy`, `test_accuracy` (one entry per epoch, the test
    accuracy measured with the training backend), `seconds` (wall time per epoch), `graph`
    (its weights are the trained ones), `model`. `graph` continues training an existing
    network (e.g. fine-tuning a mock-trained one in the loop); otherwise one is built from
    the options. `lr` decays by `gamma` after every epoch. `rate_reg` weighs a penalty on
    the mean squared hidden spike count per neuron (0 disables it). `log` receives one line
    per epoch (None: silent); `progress` shows a tqdm bar per epoch. `chip_seed` picks the
    emulated chip and `chip_options` go to it (`analog`, ...).
    """
    if backend not in TRAIN_BACKENDS:
        raise hx.ParameterError(f"training backend must be one of {TRAIN_BACKENDS}; got {backend!r}")
    if not 0 < batch_size <= train_size:
        raise hx.ParameterError(f"batch_size must be in [1, train_size={train_size}]; got {batch_size}")
    torch.manual_seed(seed)
    trainset = YinYangDataset(size=train_size, seed=42)
    testset = YinYangDataset(size=test_size, seed=40)
    if graph is None:
        graph = build_experiment(sparse, density, seed, hidden_init, out_init, repeat, weight_scale).graph
    model = Classifier(make_network(graph, backend, chip_seed, **chip_options), input_repeat(graph), readout_scale)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=gamma)
    shuffle = torch.Generator().manual_seed(seed)
    history: dict[str, Any] = {"train_loss": [], "train_accuracy": [], "test_accuracy": [], "seconds": []}

    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(train_size, generator=shuffle)
        batches = [order[k:k + batch_size] for k in range(0, train_size - batch_size + 1, batch_size)]
        total_loss, correct, seen = 0.0, 0, 0
        bar = tqdm(batches, desc=f"epoch {epoch}/{epochs}", unit="batch", leave=False, disable=not progress)
        for index in bar:
            samples, labels = trainset.samples[index], trainset.labels[index]
            scores = model(samples)
            loss = torch.nn.functional.cross_entropy(scores, labels)
            if rate_reg:
                loss = loss + rate_reg * model.last_run["hidden"].spikes.sum(0).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(labels)
            correct += int((scores.argmax(1) == labels).sum())
            seen += len(labels)
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{correct / seen:.3f}")
        scheduler.step()
        test_accuracy = accuracy(model, testset.samples, testset.labels)
        history["train_loss"].append(total_loss / seen)
        history["train_accuracy"].append(correct / seen)
        history["test_accuracy"].append(test_accuracy)
        history["seconds"].append(time.perf_counter() - start)
        if log is not None:
            log(f"epoch {epoch:2d}: train loss {total_loss / seen:.4f}, train accuracy {correct / seen:.3f}, "
                f"test accuracy {test_accuracy:.3f} ({history['seconds'][-1]:.1f} s)")
    history["graph"] = graph
    history["model"] = model
    return history
