"""Handles: the objects modules return when called, filled with tensors by `run`.

Calling a module only records it; its handle stays empty (every field None) until
`hxgraph.spiking.run` executes the experiment and writes the results, each laid out
(time, batch, neurons). A module always returns the same handle object, so a handle
kept from an earlier step is refilled by the next run.

As in hxtorch, handles are dataclasses whose fields are sorted by name — so positional
construction fills them in that order (`LIFObservables(current, membrane_cadc,
membrane_madc, spikes)`) and `dataclasses.fields` lists them — equal when every field is
equal (tensors by `torch.equal`), with `holds(name)` and `clone(handle)`. `Handle(...)`
makes one: `Handle(spikes=x)` an instance, `Handle("a", "b")` an empty one of that type.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Callable, Iterator, Optional

import torch

__all__ = ["Handle", "TensorHandle", "LIFObservables", "LIObservables", "SynapseHandle", "NeuronHandle",
           "ReadoutNeuronHandle"]


class TensorHandle:
    """Base of all handles: named tensor fields (a dataclass's, sorted by name), None until a run fills them."""

    _owner: Any = None  # the module whose output this is (None for handles users create)

    def __init__(self, *args: Optional[torch.Tensor], **values: Optional[torch.Tensor]):
        from hxgraph.errors import ParameterError, UnknownNameError, did_you_mean, known
        names = self.field_names()
        if len(args) > len(names):
            raise ParameterError(f"{type(self).__name__} takes at most {len(names)} fields ({', '.join(names)}); "
                                 f"got {len(args)} positional values")
        for field, value in zip(names, args):
            if field in values:
                raise ParameterError(f"{type(self).__name__}: {field} given twice (by position and by name)")
            values[field] = value
        unknown = [k for k in values if k not in names]
        if unknown:
            raise UnknownNameError(f"{type(self).__name__} has no field {unknown[0]!r}"
                                   f"{did_you_mean(unknown[0], names)}; fields: {known(names)}")
        for field in names:
            setattr(self, field, values.get(field))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls)) if dataclasses.is_dataclass(cls) else ()

    def holds(self, name: str) -> bool:
        """Whether the handle has a field `name` that holds data (is not None)."""
        return name in self.field_names() and getattr(self, name) is not None

    def clone(self, handle: "TensorHandle") -> None:
        """Overwrite this handle's fields with `handle`'s (both of the same fields)."""
        from hxgraph.errors import ParameterError
        if self.field_names() != handle.field_names():
            raise ParameterError(f"clone needs a handle with the same fields {list(self.field_names())}; got "
                                 f"{list(handle.field_names())}")
        for name in self.field_names():
            setattr(self, name, getattr(handle, name))

    def clear(self) -> None:
        """Empty every field (done when the owning module is recorded for a new run)."""
        for field in self.field_names():
            setattr(self, field, None)

    def put(self, **values: Optional[torch.Tensor]) -> None:
        """Set fields by name (what `run` does)."""
        for key, value in values.items():
            setattr(self, key, value)

    def __eq__(self, other: object) -> bool:
        """Equal when both have the same fields and every field is equal (tensors by `torch.equal`)."""
        if not isinstance(other, TensorHandle) or self.field_names() != other.field_names():
            return False
        return all(_same(getattr(self, n), getattr(other, n)) for n in self.field_names())

    __hash__ = object.__hash__  # a handle is a place a run writes into: identity, not value

    def __deepcopy__(self, memo: dict) -> "TensorHandle":
        # A run's results are not autograd leaves, which torch refuses to deep-copy; a copied
        # model (e.g. the best one kept during training) gets detached copies of them.
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            if isinstance(value, torch.Tensor):
                value = value.detach().clone()
            elif key == "_compute":
                value = None  # a pending lazy product belongs to the original's run
            else:
                value = copy.deepcopy(value, memo)
            object.__setattr__(clone, key, value)
        if isinstance(clone, SynapseHandle) and getattr(self, "_compute", None) is not None:
            clone._graded_spikes = self.graded_spikes.detach().clone() if self.graded_spikes is not None else None
        return clone

    def __iter__(self) -> Iterator[Optional[torch.Tensor]]:
        return iter(getattr(self, f) for f in self.field_names())

    def __repr__(self) -> str:
        def describe(value: Any) -> str:
            return "None" if value is None else f"tensor{tuple(value.shape)}" if isinstance(value, torch.Tensor) \
                else type(value).__name__
        fields = ", ".join(f"{f}={describe(getattr(self, f))}" for f in self.field_names())
        return f"{type(self).__name__}({fields})"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and bool(torch.equal(a, b))
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return False
    return a == b


def _handle(cls: type) -> type:
    """A handle class: a dataclass of its annotated fields (default None), our constructor and equality."""
    return dataclasses.dataclass(init=False, eq=False, repr=False)(cls)


@_handle
class LIFObservables(TensorHandle):
    """Output of spiking populations (LIF, InputNeuron, BatchDropout): current, CADC and MADC membrane, spikes.

    Also the handle users wrap input spikes in: `LIFObservables(spikes=x)` with x (T, B, N).
    """

    current: Optional[torch.Tensor] = None
    membrane_cadc: Optional[torch.Tensor] = None
    membrane_madc: Optional[torch.Tensor] = None
    spikes: Optional[torch.Tensor] = None


@_handle
class AELIFObservables(TensorHandle):
    """Output of AELIF populations: LIF's fields plus the adaptation current (`adaptation_cadc`; the
    mock's value — the emulated chip reads the membrane, not the adaptation, so there it is None)."""

    current: Optional[torch.Tensor] = None
    membrane_cadc: Optional[torch.Tensor] = None
    membrane_madc: Optional[torch.Tensor] = None
    spikes: Optional[torch.Tensor] = None
    adaptation_cadc: Optional[torch.Tensor] = None
    adaptation_madc: Optional[torch.Tensor] = None


@_handle
class LIObservables(TensorHandle):
    """Output of LI (readout) populations: current, CADC and MADC membrane."""

    current: Optional[torch.Tensor] = None
    membrane_cadc: Optional[torch.Tensor] = None
    membrane_madc: Optional[torch.Tensor] = None


@_handle
class SynapseHandle(TensorHandle):
    """Output of a synapse module: `graded_spikes`, the projection's output W·s (T, B, out).

    The run does not need this product separately (the neuron integrates it), so it is
    computed on first access after a run, differentiably, from the source spikes and weights.
    """

    graded_spikes: Optional[torch.Tensor] = None

    def put_lazy(self, compute: Callable[[], torch.Tensor]) -> None:
        """Fill `graded_spikes` with `compute()` when first read."""
        self._graded_spikes = None
        self._compute = compute


def _get_graded_spikes(self: SynapseHandle) -> Optional[torch.Tensor]:
    if getattr(self, "_graded_spikes", None) is None and getattr(self, "_compute", None) is not None:
        self._graded_spikes = self._compute()
        self._compute = None
    return getattr(self, "_graded_spikes", None)


def _set_graded_spikes(self: SynapseHandle, value: Optional[torch.Tensor]) -> None:
    self._graded_spikes = value
    self._compute = None


# After the dataclass is made, so its field keeps the default None.
SynapseHandle.graded_spikes = property(_get_graded_spikes, _set_graded_spikes,
                                       doc="The projection's output W·s (T, B, out).")


class NeuronHandle(LIFObservables):
    """hxtorch's older name for `LIFObservables`; positional values in its old order (spikes first)."""

    def __init__(self, spikes: Optional[torch.Tensor] = None, membrane_cadc: Optional[torch.Tensor] = None,
                 current: Optional[torch.Tensor] = None, membrane_madc: Optional[torch.Tensor] = None):
        super().__init__(spikes=spikes, membrane_cadc=membrane_cadc, current=current, membrane_madc=membrane_madc)


class ReadoutNeuronHandle(LIObservables):
    """hxtorch's older name for `LIObservables`; positional values in its old order (membrane first)."""

    def __init__(self, membrane_cadc: Optional[torch.Tensor] = None, current: Optional[torch.Tensor] = None,
                 membrane_madc: Optional[torch.Tensor] = None):
        super().__init__(membrane_cadc=membrane_cadc, current=current, membrane_madc=membrane_madc)


_KNOWN = {cls.field_names(): cls for cls in (LIFObservables, LIObservables, AELIFObservables, SynapseHandle)}
_MADE: dict[tuple[str, ...], type] = {}


def Handle(*names: str, **values: Any) -> TensorHandle:  # noqa: N802 (hxtorch's name)
    """A handle with the given fields: `Handle(spikes=x, current=i)` filled, `Handle("spikes", "current")` empty.

    Field sets of hxgraph's own handles give those classes (`Handle(spikes=..., membrane_cadc=...,
    current=..., membrane_madc=...)` is an `LIFObservables`); others get a class of their own,
    made once per field set.
    """
    from hxgraph.errors import ParameterError
    if names and values and set(names) != set(values):
        raise ParameterError(f"Handle: give field names or field values, not different ones; got names "
                             f"{sorted(names)} and values for {sorted(values)}")
    if not all(isinstance(n, str) and n.isidentifier() for n in list(names) + list(values)):
        raise ParameterError(f"Handle: field names must be identifiers; got {list(names) or list(values)}")
    fields = tuple(sorted(set(names) | set(values)))
    cls = _KNOWN.get(fields) or _MADE.get(fields)
    if cls is None:
        cls = dataclasses.make_dataclass("Handle_" + "_".join(fields),
                                         [(n, Optional[torch.Tensor], dataclasses.field(default=None)) for n in fields],
                                         bases=(TensorHandle,), init=False, eq=False, repr=False)
        _MADE[fields] = cls
    return cls(**values)
