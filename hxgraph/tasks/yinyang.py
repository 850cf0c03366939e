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
from typing import Any, Callable, Optional, Union

import torch

import hxgraph as hx
from hxgraph.datasets import YinYangDataset
from hxgraph.mock import HardwareAware
from hxgraph.progress import progress_bar, show_progress
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
                     repeat: int = 1, weight_scale: Optional[float] = None, hidden_circuits: int = 1,
                     readout_circuits: int = 1) -> hx.Experiment:
    """The yin-yang network; `sparse` names the projection made sparse ("none", "hidden", "input").

    Every weight is drawn from `seed`. Parameters are model values only (leak = reset = 0,
    threshold 1); the chip's calibration derives its CADC values from them (leak 80, threshold
    80 + 1/trace_scale) and the weight scale of the default transform.
    `repeat` sends each input channel that many times (input weights drawn with mean / repeat
    and std / sqrt(repeat), so the summed input keeps its statistics); `weight_scale` fixes the
    software → hardware weight scale of `linear_saturating` (default: the calibration's).
    `hidden_circuits` / `readout_circuits` build every hidden / readout neuron from that many
    neuron circuits (their mismatch averages out; the chip holds 512 circuits).
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
           .lif("hidden", N_HIDDEN, tau_mem=TAU, tau_syn=TAU, leak=0.0, reset=0.0, threshold=1.0,
                record=("spikes",), circuits_per_neuron=hidden_circuits)
           .li("out", N_OUT, tau_mem=TAU, tau_syn=TAU, leak=0.0, circuits_per_neuron=readout_circuits))
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


def make_network(graph: hx.Graph, backend: str, chip_seed: int = 0,
                 hardware_aware: Optional[HardwareAware] = None, gradient: str = "surrogate",
                 **chip_options: Any) -> Callable[..., hx.Run]:
    """The network a `Classifier` runs: the mock, the chip with the mock in the loop, or the chip.

    `chip_seed` picks the emulated chip (mismatch and noise); `chip_options` go to `hx.emulate`;
    `hardware_aware` and `gradient` ("surrogate" or "eventprop") to the mock.
    """
    if backend == "mock":
        if chip_options:
            raise hx.ParameterError(f"options {sorted(chip_options)} only apply to the chip backends")
        return hx.mock(graph, hardware_aware=hardware_aware, gradient=gradient)
    if hardware_aware is not None:
        raise hx.ParameterError("hardware_aware applies to the mock backend; on the chip the chip itself is the noise")
    if backend == "in_the_loop":
        return hx.in_the_loop(graph, seed=chip_seed, gradient=gradient, **chip_options)
    if gradient != "surrogate":
        raise hx.ParameterError(f"gradient={gradient!r} applies to training (mock or in_the_loop); the chip alone "
                                "computes no gradients")
    if backend == "chip":
        return hx.emulate(graph, seed=chip_seed, **chip_options)
    raise hx.ParameterError(f"unknown backend {backend!r}; use one of {TRAIN_BACKENDS + EVAL_BACKENDS[1:]}")


@torch.no_grad()
def accuracy(model: Classifier, samples: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of `samples` whose highest score is the label (in eval mode: no training noise)."""
    was_training = model.training
    model.eval()
    try:
        correct = 0
        for start in range(0, len(labels), batch_size):
            scores = model(samples[start:start + batch_size])
            correct += int((scores.argmax(1) == labels[start:start + batch_size]).sum())
    finally:
        model.train(was_training)
    return correct / len(labels)


def evaluate(graph: hx.Graph, backend: str = "mock", test_size: int = 1000, readout_scale: float = 10.0,
             chip_seed: int = 0, **chip_options: Any) -> float:
    """Test accuracy of `graph` (data seed 40) on the mock or on the emulated chip `chip_seed`."""
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
          graph: Optional[hx.Graph] = None, progress: Optional[bool] = None,
          log: Optional[Callable[[str], Any]] = print, chip_seed: int = 0,
          hardware_aware: Union[bool, HardwareAware, None] = None, average: bool = False,
          gradient: str = "surrogate", **chip_options: Any) -> dict[str, Any]:
    """Train the network; returns the history and the trained graph and model.

    Keys: `train_loss`, `train_accuracy`, `test_accuracy` (one entry per epoch, the test
    accuracy measured with the training backend), `seconds` (wall time per epoch), `graph`
    (its weights are the trained ones), `model`. `graph` continues training an existing
    network (e.g. fine-tuning a mock-trained one in the loop); otherwise one is built from
    the options. `lr` decays by `gamma` after every epoch. `rate_reg` weighs a penalty on
    the mean squared hidden spike count per neuron (0 disables it). `log` receives one line
    per epoch; `progress` draws a tqdm bar per epoch (None: only when stderr is a terminal or
    a notebook, so logs and pipes get no bar frames; True forces the bars, False hides them).
    `log=None` silences the run: no lines, and no bars unless `progress=True`. `chip_seed`
    picks the emulated chip and `chip_options` go to it (`analog`, ...).

    `hardware_aware` (mock backend; True for `hx.hardware_aware()`, or a `HardwareAware`)
    trains for the chip: 6-bit weights (straight-through), the analog spread drawn anew every
    batch, weights clipped to the chip's range after every step and written onto the chip's
    grid at the end, so the graph holds exactly what the chip will run. With the chip in the
    loop, weights are clipped to the chip's range after every step and end on its grid as well. `average` ends
    with the mean of the weights after every step of this run (stochastic weight averaging:
    flatter, more robust solutions than the last noisy step).

    `gradient="eventprop"` trains with exact gradients of the event-exact model
    (`hxgraph.mock.eventprop`) instead of surrogate gradients; the test accuracy is then
    measured on that model too (mock backend). Spike counts have no gradient there, so
    `rate_reg` is refused with it.
    """
    if backend not in TRAIN_BACKENDS:
        raise hx.ParameterError(f"training backend must be one of {TRAIN_BACKENDS}; got {backend!r}")
    if not 0 < batch_size <= train_size:
        raise hx.ParameterError(f"batch_size must be in [1, train_size={train_size}]; got {batch_size}")
    if hardware_aware is True:
        hardware_aware = hx.hardware_aware()
    elif hardware_aware is False:
        hardware_aware = None
    if hardware_aware is not None and backend != "mock":
        raise hx.ParameterError("hardware_aware applies to training in the mock; with the chip in the loop the "
                                "chip itself supplies quantization and imperfections")
    hx.mock.eventprop.check_gradient(gradient, "yinyang.train")
    if gradient == "eventprop" and rate_reg:
        raise hx.ParameterError("rate_reg penalises spike counts, which have no gradient with gradient='eventprop'; "
                                "set rate_reg=0")
    bars = _bars(progress, log)
    if backend != "mock":  # the emulator's own bar (long runs only) follows the same rule
        chip_options = {"progress": None if bars else False, **chip_options}
    torch.manual_seed(seed)
    trainset = YinYangDataset(size=train_size, seed=42)
    testset = YinYangDataset(size=test_size, seed=40)
    if graph is None:
        graph = build_experiment(sparse, density, seed, hidden_init, out_init, repeat, weight_scale).graph
    network = make_network(graph, backend, chip_seed, hardware_aware, gradient, **chip_options)
    model = Classifier(network, input_repeat(graph), readout_scale)
    # The mock that holds the weights: clipping keeps them inside what the chip can send.
    mock = network if backend == "mock" else network.mock
    if backend == "in_the_loop":
        mock.hardware_aware = hx.hardware_aware(network.chip.analog, noise=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=gamma)
    shuffle = torch.Generator().manual_seed(seed)
    weights = {name: proj.weight for name, proj in graph.projections.items()}
    mean = {name: torch.zeros_like(w, dtype=torch.float64) for name, w in weights.items()} if average else None
    steps = 0
    history: dict[str, Any] = {"train_loss": [], "train_accuracy": [], "test_accuracy": [], "seconds": []}

    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(train_size, generator=shuffle)
        batches = [order[k:k + batch_size] for k in range(0, train_size - batch_size + 1, batch_size)]
        total_loss, correct, seen = 0.0, 0, 0
        bar = progress_bar(batches, progress=bars, desc=f"epoch {epoch}/{epochs}", unit="batch", leave=False)
        for index in bar:
            samples, labels = trainset.samples[index], trainset.labels[index]
            scores = model(samples)
            loss = torch.nn.functional.cross_entropy(scores, labels)
            if rate_reg:
                loss = loss + rate_reg * model.last_run["hidden"].spikes.sum(0).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if mock.hardware_aware is not None:
                mock.clip_weights()
            if mean is not None:
                steps += 1
                for name, w in weights.items():
                    mean[name] += (w.detach().double() - mean[name]) / steps
            total_loss += loss.item() * len(labels)
            correct += int((scores.argmax(1) == labels).sum())
            seen += len(labels)
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{correct / seen:.3f}")
        scheduler.step()
        if mean is not None and epoch == epochs:
            with torch.no_grad():
                for name, w in weights.items():
                    w.copy_(mean[name].to(w.dtype))
        test_accuracy = accuracy(model, testset.samples, testset.labels)
        history["train_loss"].append(total_loss / seen)
        history["train_accuracy"].append(correct / seen)
        history["test_accuracy"].append(test_accuracy)
        history["seconds"].append(time.perf_counter() - start)
        if log is not None:
            log(f"epoch {epoch:2d}: train loss {total_loss / seen:.4f}, train accuracy {correct / seen:.3f}, "
                f"test accuracy {test_accuracy:.3f} ({history['seconds'][-1]:.1f} s)")
    if mock.hardware_aware is not None:
        mock.quantize_weights()  # the graph holds exactly what the chip runs
    history["graph"] = graph
    history["model"] = model
    return history


def _bars(progress: Optional[bool], log: Optional[Callable[[str], Any]]) -> bool:
    """Epoch bars: as `progress` says; by default only where a person watches, and not in a silent run."""
    if progress is None and log is None:
        return False
    return show_progress(progress)


def train_for_chip(epochs: int = 10, polish_epochs: int = 4, lr: float = 1e-2, polish_lr: float = 1e-3,
                   polish_noise: float = 0.5, analog: Optional[hx.chip.AnalogModel] = None, seed: int = 0,
                   **options: Any) -> dict[str, Any]:
    """Hardware-aware training in the mock that transfers to emulated chips it never saw.

    `epochs` with a chip drawn anew every batch at the analog model's magnitudes (`analog`,
    default `AnalogModel()`) at learning rate `lr`; then `polish_epochs` at the constant rate
    `polish_lr` with the imperfections scaled by `polish_noise`, ending with the average of
    the weights over those steps (stochastic weight averaging). The polish recovers most of
    the accuracy the noise costs on the mock; the average keeps the solution robust. Weights
    end on the chip's 6-bit grid. Other options go to `train`; the history covers both phases.
    """
    first = train(epochs=epochs, lr=lr, seed=seed, hardware_aware=hx.hardware_aware(analog), **options)
    if polish_epochs <= 0:
        return first
    options["graph"] = first["graph"]
    options.pop("gamma", None)
    second = train(epochs=polish_epochs, lr=polish_lr, gamma=1.0, seed=seed + 1, average=True,
                   hardware_aware=hx.hardware_aware(analog, noise_scale=polish_noise), **options)
    merged = {key: first[key] + second[key] for key in ("train_loss", "train_accuracy", "test_accuracy", "seconds")}
    return {**merged, "graph": second["graph"], "model": second["model"]}
