"""Handles: the objects modules return when called, filled with tensors by `run`.

Calling a module only records it; its handle stays empty (every field None) until
`hxgraph.spiking.run` executes the experiment and writes the results, each laid out
(time, batch, neurons). A module always returns the same handle object, so a handle
kept from an earlier step is refilled by the next run.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Optional

import torch

__all__ = ["TensorHandle", "LIFObservables", "LIObservables", "SynapseHandle", "NeuronHandle",
           "ReadoutNeuronHandle"]


class TensorHandle:
    """Base of all handles: a fixed set of named tensor fields, None until a run fills them."""

    _fields: tuple[str, ...] = ()
    _owner: Any = None  # the module whose output this is (None for handles users create)

    def __init__(self, *args: Optional[torch.Tensor], **values: Optional[torch.Tensor]):
        from hxgraph.errors import ParameterError, UnknownNameError, did_you_mean, known
        if len(args) > len(self._fields):
            raise ParameterError(f"{type(self).__name__} takes at most {len(self._fields)} fields "
                                 f"({', '.join(self._fields)}); got {len(args)} positional values")
        for field, value in zip(self._fields, args):
            if field in values:
                raise ParameterError(f"{type(self).__name__}: {field} given twice (by position and by name)")
            values[field] = value
        unknown = [k for k in values if k not in self._fields]
        if unknown:
            raise UnknownNameError(f"{type(self).__name__} has no field {unknown[0]!r}"
                                   f"{did_you_mean(unknown[0], self._fields)}; fields: {known(self._fields)}")
        for field in self._fields:
            object.__setattr__(self, field, values.get(field))

    def clear(self) -> None:
        """Empty every field (done when the owning module is recorded for a new run)."""
        for field in self._fields:
            setattr(self, field, None)

    def put(self, **values: Optional[torch.Tensor]) -> None:
        """Set fields by name (what `run` does)."""
        for key, value in values.items():
            setattr(self, key, value)

    @property
    def observable_state(self) -> Optional[torch.Tensor]:
        """The field a downstream module consumes (spikes for spiking handles)."""
        return getattr(self, self._fields[0])

    def __iter__(self) -> Iterator[Optional[torch.Tensor]]:
        return iter(getattr(self, f) for f in self._fields)

    def __repr__(self) -> str:
        def describe(value: Any) -> str:
            return "None" if value is None else f"tensor{tuple(value.shape)}" if isinstance(value, torch.Tensor) \
                else type(value).__name__
        return f"{type(self).__name__}({', '.join(f'{f}={describe(getattr(self, f))}' for f in self._fields)})"


class LIFObservables(TensorHandle):
    """Output of spiking populations (LIF, InputNeuron, BatchDropout): spikes, CADC and MADC membrane, current.

    Also the handle users wrap input spikes in: `LIFObservables(spikes=x)` with x (T, B, N).
    """

    _fields = ("spikes", "membrane_cadc", "membrane_madc", "current")
    spikes: Optional[torch.Tensor]
    membrane_cadc: Optional[torch.Tensor]
    membrane_madc: Optional[torch.Tensor]
    current: Optional[torch.Tensor]


class LIObservables(TensorHandle):
    """Output of LI (readout) populations: CADC and MADC membrane, current."""

    _fields = ("membrane_cadc", "membrane_madc", "current")
    membrane_cadc: Optional[torch.Tensor]
    membrane_madc: Optional[torch.Tensor]
    current: Optional[torch.Tensor]


class SynapseHandle(TensorHandle):
    """Output of a synapse module: `graded_spikes`, the projection's output W·s (T, B, out).

    The run does not need this product separately (the neuron integrates it), so it is
    computed on first access after a run, differentiably, from the source spikes and weights.
    """

    _fields = ("graded_spikes",)

    def __init__(self, graded_spikes: Optional[torch.Tensor] = None):
        self._compute: Optional[Callable[[], torch.Tensor]] = None
        self._graded_spikes = graded_spikes

    @property
    def graded_spikes(self) -> Optional[torch.Tensor]:
        if self._graded_spikes is None and self._compute is not None:
            self._graded_spikes = self._compute()
            self._compute = None
        return self._graded_spikes

    @graded_spikes.setter
    def graded_spikes(self, value: Optional[torch.Tensor]) -> None:
        self._graded_spikes = value
        self._compute = None

    def put_lazy(self, compute: Callable[[], torch.Tensor]) -> None:
        """Fill `graded_spikes` with `compute()` when first read."""
        self._graded_spikes = None
        self._compute = compute


# hxtorch's older names for the same handles.
NeuronHandle = LIFObservables
ReadoutNeuronHandle = LIObservables
