"""Hypothesis strategies for random graphs with dense, sparse and recurrent projections."""

import torch
from hypothesis import strategies as st

import hxgraph as hx

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-7, max_value=1e-3, allow_nan=False)


@st.composite
def param_values(draw, size, strategy):
    """A parameter as a number, a per-neuron list (float64) or a Mixed pair."""
    kind = draw(st.sampled_from(["scalar", "per_neuron", "mixed"]))
    if kind == "scalar":
        return draw(strategy)
    if kind == "per_neuron":
        return draw(st.lists(strategy, min_size=size, max_size=size))
    return hx.Mixed(draw(strategy), draw(strategy))


@st.composite
def graphs(draw, max_populations=5, max_projections=6):
    seed = draw(st.integers(0, 2**31))
    exp = hx.Experiment(draw(st.sampled_from(["g", "net", "yin yang"])),
                        dt=draw(st.sampled_from([1e-6, 5e-7, 1.3e-6])), seed=seed)
    n_inputs = draw(st.integers(1, 2))
    n_neurons = draw(st.integers(1, max_populations - n_inputs))
    sizes = {}
    for k in range(n_inputs):
        sizes[f"in{k}"] = draw(st.integers(1, 12))
        exp.input(f"in{k}", sizes[f"in{k}"])
    models = {}
    for k in range(n_neurons):
        size = draw(st.integers(1, 12))
        model = draw(st.sampled_from(["lif", "li"]))
        name = f"p{k}"
        params = {}
        if draw(st.booleans()):
            params["leak"] = draw(param_values(size, finite))
        if draw(st.booleans()):
            params["tau_mem"] = draw(param_values(size, positive))
        if model == "lif" and draw(st.booleans()):
            params["threshold"] = draw(param_values(size, finite))
        placement = draw(st.sampled_from([None, "top", "bottom"]))
        getattr(exp, model)(name, size, placement=placement,
                            circuits_per_neuron=draw(st.integers(1, 2)), **params)
        sizes[name], models[name] = size, model
    sources = [n for n in sizes if n.startswith("in") or models[n] == "lif"]
    targets = [n for n in sizes if not n.startswith("in")]
    for _ in range(draw(st.integers(0, max_projections))):
        src, tgt = draw(st.sampled_from(sources)), draw(st.sampled_from(targets))  # src == tgt: recurrent
        receptor = draw(st.sampled_from(["signed", "excitatory", "inhibitory"]))
        init = draw(st.sampled_from([None, hx.init.normal(0.1, 0.5), hx.init.uniform(-2, 3), hx.init.constant(0.25)]))
        if draw(st.booleans()):
            exp.dense(src, tgt, receptor=receptor, init=init)
        else:
            g = torch.Generator().manual_seed(draw(st.integers(0, 1000)))
            mask = torch.rand(sizes[src], sizes[tgt], generator=g) < draw(st.floats(0.1, 0.9))
            if not mask.any():
                mask[0, 0] = True
            exp.sparse(src, tgt, mask.to_sparse() if draw(st.booleans()) else mask, receptor=receptor, init=init)
    return exp.graph
