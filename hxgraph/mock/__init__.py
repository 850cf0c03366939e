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

# `hx.mock(graph)` lowers a graph while `hx.mock.functional` stays importable: the package
# module itself is made callable (module __class__ assignment is supported since 3.5).
import sys as _sys
import types as _types

from hxgraph.mock.hardware_aware import HardwareAware
from hxgraph.mock.network import MockNetwork, lower


class _CallableModule(_types.ModuleType):
    def __call__(self, graph, device=None, funcs=None, hardware_aware=None, gradient="surrogate",
                 **unknown) -> MockNetwork:
        """Lower `graph` to a `MockNetwork`; see `hxgraph.mock.network.lower`."""
        if unknown:
            from hxgraph.errors import ParameterError, did_you_mean
            name = sorted(unknown)[0]
            raise ParameterError(f"hx.mock: unknown option {name!r}"
                                 f"{did_you_mean(name, ('device', 'funcs', 'hardware_aware', 'gradient'))}; "
                                 "options: device, funcs, hardware_aware, gradient")
        return lower(graph, device=device, funcs=funcs, hardware_aware=hardware_aware, gradient=gradient)


_sys.modules[__name__].__class__ = _CallableModule
__all__ += ["MockNetwork", "lower", "HardwareAware"]
