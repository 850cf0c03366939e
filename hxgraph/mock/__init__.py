"""The mock back end: differentiable torch emulation of the chip's neurons."""

from hxgraph.mock.functional import (
    LIFState,
    LIState,
    SuperSpike,
    initial_state,
    li_step,
    lif_step,
    li_integration,
    li_integration_reference,
    lif_integration,
    lif_integration_reference,
    refractory_steps,
    superspike,
)

__all__ = [
    "LIFState",
    "LIState",
    "SuperSpike",
    "initial_state",
    "li_step",
    "lif_step",
    "li_integration",
    "li_integration_reference",
    "lif_integration",
    "lif_integration_reference",
    "refractory_steps",
    "superspike",
]
