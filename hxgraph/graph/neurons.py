"""Neuron models the graph knows: their parameters (defaults, valid ranges) and observables.

Defaults are hxtorch.spiking's: LIF leak 80, reset 80, threshold 125 (CADC-like units),
time constants 10 µs, membrane capacitance 10e-6 in the model and 63 on the chip.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

import attrs

from hxgraph.graph.values import Mixed


@attrs.frozen
class ParamSpec:
    """A neuron parameter: default value, which values are valid, and what it means."""

    default: object
    check: str  # "finite", "positive" or "non_negative"
    doc: str


@attrs.frozen
class NeuronModel:
    """A kind of population: input spike source, LIF, LI or AdEx."""

    name: str
    label: str
    params: Mapping[str, ParamSpec]
    observables: tuple[str, ...]
    spiking: bool   # emits spikes, so it can be the source of a projection
    on_chip: bool   # occupies neuron circuits (input sources are sent from the FPGA)


_CAPACITANCE = ParamSpec(Mixed(10e-6, 63.0), "positive",
                         "membrane capacitance: model value in farad-like units, hardware value 0..63")
_LI_PARAMS = {
    "leak": ParamSpec(80.0, "finite", "resting potential"),
    "tau_mem": ParamSpec(10e-6, "positive", "membrane time constant in seconds (hardware time)"),
    "tau_syn": ParamSpec(10e-6, "positive", "synaptic time constant in seconds (hardware time)"),
    "capacitance": _CAPACITANCE,
}
_LIF_PARAMS = {
    **_LI_PARAMS,
    "reset": ParamSpec(80.0, "finite", "membrane potential after a spike"),
    "threshold": ParamSpec(125.0, "finite", "spike threshold (a spike when the membrane is strictly above it)"),
    "refractory_time": ParamSpec(1e-6, "non_negative", "refractory period in seconds; 0 disables it"),
    "alpha": ParamSpec(50.0, "positive", "steepness of the SuperSpike surrogate gradient"),
}

# The adaptive exponential integrate-and-fire neuron (AdEx) of the chip's circuits, as hxtorch's
# AELIF integrates it (defaults are hxtorch's). Setting a = b = 0 and exp_slope = 0 gives the LIF.
_ADEX_PARAMS = {
    **_LIF_PARAMS,
    "exp_slope": ParamSpec(50e-3, "non_negative", "slope factor ΔT of the exponential term (0 switches it off)"),
    "exp_threshold": ParamSpec(110.0, "finite", "exponential threshold V_T, where the exponential term takes over"),
    "a": ParamSpec(1.0, "finite", "subthreshold adaptation strength (a conductance, like c / tau_mem)"),
    "b": ParamSpec(1.0, "finite", "spike-triggered adaptation increment (a current)"),
    "tau_adap": ParamSpec(100e-6, "positive", "adaptation time constant in seconds (hardware time)"),
}
ADEX_ONLY = tuple(k for k in _ADEX_PARAMS if k not in _LIF_PARAMS)

MODELS: Mapping[str, NeuronModel] = MappingProxyType({
    "input": NeuronModel("input", "input", MappingProxyType({}), ("spikes",), spiking=True, on_chip=False),
    "lif": NeuronModel("lif", "LIF", MappingProxyType(_LIF_PARAMS), ("spikes", "membrane", "current"),
                       spiking=True, on_chip=True),
    "li": NeuronModel("li", "LI", MappingProxyType(_LI_PARAMS), ("membrane", "current"),
                      spiking=False, on_chip=True),
    "adex": NeuronModel("adex", "AdEx", MappingProxyType(_ADEX_PARAMS),
                        ("spikes", "membrane", "current", "adaptation"), spiking=True, on_chip=True),
})
