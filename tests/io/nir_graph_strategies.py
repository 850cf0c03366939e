"""Hypothesis strategy for random graphs exercising everything the NIR round trip must keep.

Dense, sparse (dense-mask and torch-sparse connections), recurrent and repeated projections,
several inputs, scalar / per-neuron (float64 and float32) / Mixed parameters, placements,
recording subsets, weight dtypes, initializers, transforms, and names that are awkward as
NIR node keys (slashes, spaces, clashes with the keys NIR invents).
"""

import torch
from hypothesis import strategies as st

import hxgraph as hx

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False, width=64)
positive = st.floats(min_value=1e-7, max_value=1e-3, allow_nan=False, width=64)
NAMES = ["x", "in/0", "hidden layer", "input_p0", "output_p1", "p0", "p1", "lif", "x_to_p0"]


@st.composite
def param_values(draw, size, strategy):
    """A parameter as a number, a per-neuron list (float64), a float32 tensor or a Mixed pair."""
    kind = draw(st.sampled_from(["scalar", "per_neuron", "float32", "mixed"]))
    if kind == "scalar":
        return draw(strategy)
    if kind == "per_neuron":
        return draw(st.lists(strategy, min_size=size, max_size=size))
    if kind == "float32":
        return torch.tensor(draw(st.lists(strategy, min_size=size, max_size=size)), dtype=torch.float32)
    return hx.Mixed(draw(strategy), draw(strategy))


@st.composite
def graphs(draw, max_populations=5, max_projections=6):
    exp = hx.Experiment(draw(st.sampled_from(["g", "net", "yin yang"])),
                        dt=draw(st.sampled_from([1e-6, 5e-7, 1.3e-6, 1e-4])), seed=draw(st.integers(0, 2**31)))
    names = iter(draw(st.permutations(NAMES)))
    sizes, models = {}, {}
    for _ in range(draw(st.integers(1, 2))):
        name = next(names)
        sizes[name], models[name] = draw(st.integers(1, 10)), "input"
        exp.input(name, sizes[name])
    for _ in range(draw(st.integers(1, max_populations - len(sizes)))):
        name, size = next(names), draw(st.integers(1, 10))
        model = draw(st.sampled_from(["lif", "li"]))
        params = {}
        for key, strategy in [("leak", finite), ("tau_mem", positive), ("tau_syn", positive), ("capacitance", positive)]:
            if draw(st.booleans()):
                params[key] = draw(param_values(size, strategy))
        if model == "lif":
            for key, strategy in [("threshold", finite), ("reset", finite), ("refractory_time", positive)]:
                if draw(st.booleans()):
                    params[key] = draw(param_values(size, strategy))
        observables = hx.graph.MODELS[model].observables
        record = draw(st.one_of(st.none(), st.sets(st.sampled_from(observables))))
        placement = draw(st.sampled_from([None, "top", "bottom", "circuits"]))
        per = draw(st.integers(1, 2))
        if placement == "circuits":
            placement = draw(st.permutations(range(512)))[:size * per]
        getattr(exp, model)(name, size, placement=placement, circuits_per_neuron=per, record=record, **params)
        sizes[name], models[name] = size, model
    sources = [n for n in sizes if models[n] in ("input", "lif")]
    targets = [n for n in sizes if models[n] != "input"]
    dtype = draw(st.sampled_from([torch.float32, torch.float32, torch.float64, torch.bfloat16]))
    for k in range(draw(st.integers(0, max_projections))):
        src, tgt = draw(st.sampled_from(sources)), draw(st.sampled_from(targets))  # src == tgt: recurrent
        receptor = draw(st.sampled_from(["signed", "excitatory", "inhibitory"]))
        init = draw(st.sampled_from([None, hx.init.normal(0.1, 0.5), hx.init.uniform(-2, 3), hx.init.constant(0.25)]))
        transform = draw(st.sampled_from([None, hx.transforms.LinearSaturating(scale=64.0)]))
        options = dict(name=f"proj {k}" if draw(st.booleans()) else None, receptor=receptor, transform=transform)
        g = torch.Generator().manual_seed(draw(st.integers(0, 1000)))
        if draw(st.booleans()):
            if dtype == torch.float32:
                exp.dense(src, tgt, init=init, **options)
            else:
                weight = torch.randn(sizes[tgt], sizes[src], generator=g).to(dtype)
                weight = weight.abs() if receptor == "excitatory" else -weight.abs() if receptor == "inhibitory" else weight
                exp.dense(src, tgt, weight=weight, **options)
        else:
            mask = torch.rand(sizes[src], sizes[tgt], generator=g) < draw(st.floats(0.1, 0.9))
            if not mask.any():
                mask[0, 0] = True
            connections = mask.to_sparse() if draw(st.booleans()) else mask
            exp.sparse(src, tgt, connections, init=init, **options)
    return exp.graph
