"""hxtorch.spiking.functional's names on hxgraph's mock kernels.

`linear`, `linear_sparse`, `cuba_lif_integration`, `cuba_li_integration`, `superspike`
(and `SuperSpike`), `batch_dropout`. The integration functions take `hw_data` as hxtorch's
do: measured values replace the model's in the forward pass while gradients follow the
model (`model + (measured - model).detach()`).
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch

from hxgraph.errors import ParameterError, ShapeError
from hxgraph.mock.functional import Param, SuperSpike, li_integration, lif_integration, superspike
from hxgraph.spiking.handles import LIFObservables, LIObservables

__all__ = ["linear", "linear_sparse", "cuba_lif_integration", "cuba_li_integration", "superspike", "SuperSpike",
           "batch_dropout"]


def linear(input: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None  # noqa: A002
           ) -> torch.Tensor:
    """`input @ weight.T (+ bias)`: a synapse's output for (…, in) spikes and an (out, in) weight."""
    return torch.nn.functional.linear(input, weight, bias)


def linear_sparse(input: torch.Tensor, weight: torch.Tensor, connections: Optional[torch.Tensor] = None,  # noqa: A002
                  bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """`linear` with only the connected entries of `weight` taking part.

    `connections` is a boolean mask of the weight's shape (out, in) (None: all connected).
    Entries without a connection contribute nothing and get zero gradient. Unlike hxtorch's
    version, the weight itself is not modified.
    """
    if connections is not None:
        if tuple(connections.shape) != tuple(weight.shape):
            raise ShapeError(f"linear_sparse: connections must have the weight's shape (out, in) = "
                             f"{tuple(weight.shape)}; got {tuple(connections.shape)}")
        weight = weight * connections.to(device=weight.device, dtype=weight.dtype)
    return torch.nn.functional.linear(input, weight, bias)


def _unterjubel(model: torch.Tensor, measured: Optional[torch.Tensor]) -> torch.Tensor:
    """Measured values forward, the model's gradient backward."""
    if measured is None:
        return model
    if tuple(measured.shape) != tuple(model.shape):
        raise ShapeError(f"hw_data has shape {tuple(measured.shape)}; the model computes {tuple(model.shape)}")
    return model + (measured.to(model) - model).detach()


def _hw_fields(hw_data: Optional[Sequence[Optional[torch.Tensor]]], count: int) -> list:
    if hw_data is None:
        return [None] * count
    fields = list(hw_data)
    if len(fields) > count:
        raise ParameterError(f"hw_data holds {len(fields)} tensors; expected at most {count}")
    return fields + [None] * (count - len(fields))


def cuba_lif_integration(input: torch.Tensor, *, leak: Param = 80., reset: Param = 80.,  # noqa: A002
                         threshold: Param = 125., tau_syn: Param = 10e-6, tau_mem: Param = 10e-6,
                         membrane_capacitance: Param = 10e-6, refractory_time: Param = 0.,
                         method: str = "superspike", alpha: Param = 50.,
                         hw_data: Optional[Sequence[Optional[torch.Tensor]]] = None,
                         dt: float = 1e-6) -> LIFObservables:
    """Current-based LIF neurons on input (T, B, N): `LIFObservables(spikes, membrane_cadc, current)`.

    `hw_data` = (spikes, membrane) measured on the chip (either may be None). The
    refractory period defaults to 0 here (hxtorch's plain LIF function); the `LIF` module
    uses 1 µs.
    """
    if method != "superspike":
        raise ParameterError(f"cuba_lif_integration: method must be 'superspike'; got {method!r}")
    z, v, i = lif_integration(input, leak=leak, reset=reset, threshold=threshold, tau_mem=tau_mem, tau_syn=tau_syn,
                              capacitance=membrane_capacitance, refractory_time=refractory_time, alpha=alpha, dt=dt)
    hw_z, hw_v = _hw_fields(hw_data, 2)
    return LIFObservables(spikes=_unterjubel(z, hw_z), membrane_cadc=_unterjubel(v, hw_v), current=i)


def cuba_li_integration(input: torch.Tensor, *, leak: Param = 80., tau_syn: Param = 10e-6,  # noqa: A002
                        tau_mem: Param = 10e-6, membrane_capacitance: Param = 10e-6,
                        hw_data: Optional[Sequence[Optional[torch.Tensor]]] = None,
                        dt: float = 1e-6) -> LIObservables:
    """Current-based leaky integrators on input (T, B, N): `LIObservables(membrane_cadc, current)`.

    `hw_data` = (membrane,) measured on the chip.
    """
    v, i = li_integration(input, leak=leak, tau_mem=tau_mem, tau_syn=tau_syn, capacitance=membrane_capacitance,
                          dt=dt)
    (hw_v,) = _hw_fields(hw_data, 1)
    return LIObservables(membrane_cadc=_unterjubel(v, hw_v), current=i)


def batch_dropout(input: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # noqa: A002
    """Spikes (…, N) of the neurons `mask` (N,) keeps; the others are silenced (no rescaling)."""
    if mask.shape[-1] != input.shape[-1]:
        raise ShapeError(f"batch_dropout: mask has {mask.shape[-1]} entries for {input.shape[-1]} neurons")
    return input * mask.to(device=input.device, dtype=input.dtype)
