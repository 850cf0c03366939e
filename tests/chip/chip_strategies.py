"""Hypothesis strategies for random graphs to map onto the chip (full-size or small)."""

import torch
from hypothesis import strategies as st

import hxgraph as hx
from hxgraph.chip import ChipSpec
from hxgraph.graph import LinearSaturating

SMALL = ChipSpec.small()
FULL = ChipSpec()

# Transforms: default (|w| <= 63), a scale that saturates often, and one allowing splits.
TRANSFORMS = [None, LinearSaturating(scale=40.0), LinearSaturating(scale=60.0, min_weight=-200.0, max_weight=200.0)]


@st.composite
def chip_graphs(draw, spec=None, max_size=None):
    """A random graph: inputs, LIF and LI populations, dense/sparse/recurrent projections of any receptor."""
    spec = spec if spec is not None else draw(st.sampled_from([SMALL, SMALL, FULL]))
    max_size = max_size or (40 if spec is SMALL else 160)
    exp = hx.Experiment("g", seed=draw(st.integers(0, 2**31)))
    sizes, models = {}, {}
    for k in range(draw(st.integers(1, 2))):
        sizes[f"in{k}"] = draw(st.integers(1, max_size))
        models[f"in{k}"] = "input"
        exp.input(f"in{k}", sizes[f"in{k}"])
    for k in range(draw(st.integers(1, 3))):
        name, model = f"p{k}", draw(st.sampled_from(["lif", "lif", "li"]))
        size = draw(st.integers(1, max_size))
        per = draw(st.sampled_from([1, 1, 1, 2, 3]))
        placement = draw(st.sampled_from([None, None, None, "top", "bottom"]))
        getattr(exp, model)(name, size, circuits_per_neuron=per, placement=placement)
        sizes[name], models[name] = size, model
    sources = [n for n in sizes if models[n] in ("input", "lif")]
    targets = [n for n in sizes if models[n] != "input"]
    for _ in range(draw(st.integers(1, 4))):
        src, tgt = draw(st.sampled_from(sources)), draw(st.sampled_from(targets))
        receptor = draw(st.sampled_from(["signed", "signed", "excitatory", "inhibitory"]))
        init = hx.init.normal(0.0, draw(st.sampled_from([0.3, 1.0, 3.0])))
        transform = draw(st.sampled_from(TRANSFORMS))
        if draw(st.booleans()):
            exp.dense(src, tgt, receptor=receptor, init=init, transform=transform)
        else:
            g = torch.Generator().manual_seed(draw(st.integers(0, 10_000)))
            mask = torch.rand(sizes[src], sizes[tgt], generator=g) < draw(st.sampled_from([0.05, 0.2, 0.5]))
            if not mask.any():
                mask[0, 0] = True
            exp.sparse(src, tgt, mask, receptor=receptor, init=init, transform=transform)
    return spec, exp.graph


@st.composite
def model_value_networks(draw):
    """A random network built from model values only (no Mixed, default transforms) with representable weights.

    Weights are k / weight_scale for integers k, so the chip's 6-bit weights are exact; the
    parameters are random model values (threshold − leak between 0.5 and 1.5) so the
    calibration's chip values stay in the CADC range. Returns (graph, input spikes).
    """
    from hxgraph.chip import Calibration

    scale = Calibration().weight_scale
    seed = draw(st.integers(0, 2**31))
    g = torch.Generator().manual_seed(seed)
    exp = hx.Experiment("model values", seed=seed).input("x", draw(st.integers(1, 12)))
    names = ["x"]
    for k in range(draw(st.integers(1, 3))):
        name, model = f"p{k}", draw(st.sampled_from(["lif", "lif", "li"]))
        leak = draw(st.floats(-0.3, 0.3))
        params = dict(leak=leak, tau_mem=draw(st.sampled_from([4e-6, 6e-6, 10e-6])),
                      tau_syn=draw(st.sampled_from([3e-6, 6e-6, 8e-6])),
                      circuits_per_neuron=draw(st.sampled_from([1, 1, 2])))
        if model == "lif":
            params.update(threshold=leak + draw(st.floats(0.5, 1.5)), reset=leak - draw(st.floats(0.0, 0.3)),
                          refractory_time=draw(st.sampled_from([0.0, 1e-6, 2e-6])))
        getattr(exp, model)(name, draw(st.integers(1, 12)), **params)
        names.append(name)
    graph = exp.graph
    spiking = [n for n in names if graph.population(n).neuron_model.spiking]
    targets = names[1:]
    for _ in range(draw(st.integers(1, 4))):
        src, tgt = draw(st.sampled_from(spiking)), draw(st.sampled_from(targets))
        shape = (graph.population(tgt).size, graph.population(src).size)
        receptor = draw(st.sampled_from(["signed", "signed", "excitatory", "inhibitory"]))
        low, high = {"signed": (-20, 40), "excitatory": (0, 40), "inhibitory": (-20, 0)}[receptor]
        if src == tgt:
            low, high = max(low, -8), min(high, 8)  # recurrent: keep the membranes in the CADC range
        weight = torch.randint(low, high + 1, shape, generator=g).float() / scale
        if draw(st.booleans()):
            exp.dense(src, tgt, weight=weight, receptor=receptor)
        else:
            mask = torch.rand(shape[1], shape[0], generator=g) < 0.5
            if not mask.any():
                mask[0, 0] = True
            exp.sparse(src, tgt, mask, weight=weight * mask.T, receptor=receptor)
        graph = exp.graph
    steps = draw(st.integers(10, 40))
    x = (torch.rand(steps, 3, graph.population("x").size, generator=g) < 0.2).float()
    return exp.graph, x
