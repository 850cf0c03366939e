"""Small networks shared by the hxgraph.spiking tests."""

from __future__ import annotations

from functools import partial

import torch

import hxgraph.spiking as hxsnn
from hxgraph.chip import AnalogModel
from hxgraph.spiking import MixedHXModelParameter as Mixed
from hxgraph.spiking.transforms.weight_transforms import linear_saturating

TAU = 6e-6


def spikes(steps: int = 20, batch: int = 3, size: int = 4, rate: float = 0.2, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, batch, size, generator=generator) < rate).float()


def small_net(experiment: hxsnn.Experiment, n_in: int = 4, n_hidden: int = 6, n_out: int = 2, scale: float = 64.,
              threshold=None, **lif_options):
    """input → LIF (model 0/0/1, chip 80/80/150) → LI, with weights that make the hidden layer spike."""
    transform = partial(linear_saturating, scale=scale)
    threshold = Mixed(1., 150.) if threshold is None else threshold
    syn = hxsnn.Synapse(n_in, n_hidden, experiment, transform=transform)
    lif = hxsnn.LIF(n_hidden, experiment, leak=Mixed(0., 80.), reset=Mixed(0., 80.), threshold=threshold,
                    tau_mem=TAU, tau_syn=TAU, **lif_options)
    out = hxsnn.Synapse(n_hidden, n_out, experiment, transform=transform)
    li = hxsnn.LI(n_out, experiment, leak=Mixed(0., 80.), tau_mem=TAU, tau_syn=TAU)
    with torch.no_grad():
        syn.weight.normal_(0.8, 0.3, generator=torch.Generator().manual_seed(1))
        out.weight.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(2))
    return syn, lif, out, li


def ideal_chip(**options) -> hxsnn.Experiment:
    """An experiment on an emulated chip without mismatch and noise (deterministic, close to the mock)."""
    return hxsnn.Experiment(mock=False, analog=AnalogModel.ideal(), **options)
