"""Populations (groups of neurons of one model) and their placement constraints."""

from __future__ import annotations

import operator
from types import MappingProxyType
from typing import Any, Mapping, Optional, Sequence

import attrs

from hxgraph.errors import GraphError, ParameterError, UnknownNameError, did_you_mean, known
from hxgraph.graph.neurons import MODELS, NeuronModel
from hxgraph.graph.values import Param, normalize_param, values_equal

_HEMISPHERES = {"top": 0, "bottom": 1}


def check_name(name: Any, what: str) -> str:
    """Names key parameters and dictionaries, so they must be plain, non-empty and dot-free."""
    if not isinstance(name, str) or not name or name != name.strip() or "." in name or not name.isprintable():
        raise GraphError(
            f"{what} name must be a non-empty string without dots or surrounding whitespace; got {name!r}")
    return name


#: The largest count a tensor dimension or index can hold (int64) with room for products of two.
MAX_COUNT = 2**62


def check_count(value: Any, what: str, minimum: int = 1, maximum: int = MAX_COUNT) -> int:
    """An integer (python, numpy or 0-d integer tensor) in minimum..maximum; floats are refused."""
    try:
        if isinstance(value, (bool, float)):
            raise TypeError
        count = operator.index(value)
    except TypeError:
        raise GraphError(f"{what} must be an integer >= {minimum}; got {value!r}") from None
    if count < minimum:
        raise GraphError(f"{what} must be an integer >= {minimum}; got {count}")
    if count > maximum:
        raise GraphError(f"{what} must be at most {maximum} (what a torch tensor can index); got {count}")
    return count


@attrs.frozen
class Placement:
    """Where a population's neurons may go on the chip.

    `circuits`: explicit neuron circuits (enumeration `row*256 + column`), neuron by neuron,
    `circuits_per_neuron` entries per neuron; or `hemisphere`: 0 (top row) or 1 (bottom row).
    """

    circuits: Optional[tuple[int, ...]] = None
    hemisphere: Optional[int] = None

    def __attrs_post_init__(self) -> None:
        if (self.circuits is None) == (self.hemisphere is None):
            raise GraphError("Placement needs exactly one of circuits=[...] or hemisphere=0/1 "
                             f"(got circuits={self.circuits!r}, hemisphere={self.hemisphere!r})")
        if self.hemisphere is not None and (isinstance(self.hemisphere, bool) or self.hemisphere not in (0, 1)):
            raise ParameterError(f"Placement hemisphere must be 0 (top) or 1 (bottom); got {self.hemisphere!r}")
        if self.circuits is not None:
            circuits = _circuit_numbers(self.circuits)
            if len(set(circuits)) != len(circuits):
                dup = sorted({c for c in circuits if circuits.count(c) > 1})
                raise ParameterError(f"Placement circuits must be distinct; repeated: {dup}")
            object.__setattr__(self, "circuits", circuits)

    def to_json(self) -> dict:
        return {"circuits": None if self.circuits is None else list(self.circuits), "hemisphere": self.hemisphere}


def _circuit_numbers(circuits: Any) -> tuple[int, ...]:
    """Circuit numbers as Python ints; fractions, booleans and non-numbers are refused, never truncated."""
    try:
        items = tuple(circuits)
    except TypeError:
        raise ParameterError("Placement circuits must be a sequence of circuit numbers; "
                             f"got {type(circuits).__name__}") from None
    numbers = []
    for item in items:
        try:
            if isinstance(item, (bool, float)):
                raise TypeError
            number = operator.index(item)  # int, numpy or 0-d tensor integers; never a float
        except TypeError:
            raise ParameterError(f"Placement circuits must be non-negative integers; got {item!r}") from None
        if number < 0:
            raise ParameterError(f"Placement circuits must be non-negative integers; got {number}")
        numbers.append(number)
    return tuple(numbers)


def as_placement(value: Any) -> Optional[Placement]:
    """Accept a `Placement`, "top"/"bottom", or a sequence of circuit indices."""
    if value is None or isinstance(value, Placement):
        return value
    if isinstance(value, str):
        if value not in _HEMISPHERES:
            raise GraphError(f"placement {value!r} is not a hemisphere; use 'top', 'bottom', "
                             "a list of circuit indices or hxgraph.Placement(...)")
        return Placement(hemisphere=_HEMISPHERES[value])
    if isinstance(value, Sequence) or hasattr(value, "tolist"):
        circuits = value.tolist() if hasattr(value, "tolist") else list(value)
        if isinstance(circuits, list):  # a 0-d array's tolist() is a plain number, not circuits
            return Placement(circuits=tuple(circuits))
    raise GraphError(f"placement must be 'top', 'bottom', a list of circuit indices or "
                     f"hxgraph.Placement(...); got {value!r}")


def _params_equal(a: Mapping[str, Param], b: Mapping[str, Param]) -> bool:
    return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)


@attrs.frozen(eq=False)
class Population:
    """A group of `size` neurons of one model with their parameters and what to record.

    Construction validates and normalises everything: missing parameters take the model's
    defaults, numbers become floats, sequences become per-neuron tensors.
    """

    name: str
    size: int
    model: str
    params: Mapping[str, Param] = attrs.field(factory=dict)
    record: Optional[frozenset] = None
    placement: Optional[Placement] = None
    circuits_per_neuron: int = 1

    def __attrs_post_init__(self) -> None:
        set_ = lambda field, value: object.__setattr__(self, field, value)  # noqa: E731 (frozen)
        check_name(self.name, "population")
        if not isinstance(self.model, str) or self.model not in MODELS:
            raise UnknownNameError(
                f"unknown neuron model {self.model!r} for population {self.name!r}"
                f"{did_you_mean(self.model, MODELS)}; known models: {known(MODELS)}")
        model = MODELS[self.model]
        set_("size", check_count(self.size, f"size of population {self.name!r}"))
        set_("params", MappingProxyType(self._normalized_params(model)))
        set_("record", self._normalized_record(model))
        set_("circuits_per_neuron", check_count(self.circuits_per_neuron,
                                                f"circuits_per_neuron of population {self.name!r}"))
        set_("placement", as_placement(self.placement))
        if not model.on_chip and (self.placement is not None or self.circuits_per_neuron != 1):
            raise GraphError(f"population {self.name!r} is an input (spike source sent from the host); "
                             "it has no neuron circuits, so placement and circuits_per_neuron do not apply")
        circuits = self.placement.circuits if self.placement is not None else None
        if circuits is not None and len(circuits) != self.size * self.circuits_per_neuron:
            raise GraphError(
                f"placement of population {self.name!r} lists {len(circuits)} circuits; "
                f"{self.size} neurons × {self.circuits_per_neuron} circuits per neuron need "
                f"{self.size * self.circuits_per_neuron}")

    def _normalized_params(self, model: NeuronModel) -> dict[str, Param]:
        if not isinstance(self.params, Mapping):
            raise ParameterError(f"params of population {self.name!r} must be a mapping of parameter names to "
                                 f"values; got {type(self.params).__name__}")
        given = dict(self.params)
        unknown = [k for k in given if k not in model.params]
        if unknown:
            bad = unknown[0]
            valid = ", ".join(model.params) if model.params else "(none: input populations have no parameters)"
            raise UnknownNameError(
                f"unknown {model.label} parameter {bad!r} for population {self.name!r}"
                f"{did_you_mean(bad, model.params)}; valid parameters: {valid}")
        return {
            key: normalize_param(given.get(key, spec.default), self.size,
                                 f"{model.label} parameter {key!r} of population {self.name!r}", spec.check)
            for key, spec in model.params.items()
        }

    def _normalized_record(self, model: NeuronModel) -> frozenset:
        if self.record is None:
            return frozenset(model.observables)
        if not isinstance(self.record, (str, Sequence, set, frozenset)):
            raise ParameterError(f"population {self.name!r}: record must be an observable's name or a list of them "
                                 f"({known(model.observables)}); got {self.record!r}")
        record = [self.record] if isinstance(self.record, str) else list(self.record)
        for item in record:
            if not isinstance(item, str) or item not in model.observables:
                raise UnknownNameError(
                    f"population {self.name!r} ({model.label}) cannot record {item!r}"
                    f"{did_you_mean(item, model.observables)}; it can record: {known(model.observables)}")
        return frozenset(record)

    @property
    def neuron_model(self) -> NeuronModel:
        return MODELS[self.model]

    @property
    def is_input(self) -> bool:
        return not MODELS[self.model].on_chip

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Population) and self.name == other.name and self.size == other.size
                and self.model == other.model and _params_equal(self.params, other.params)
                and self.record == other.record and self.placement == other.placement
                and self.circuits_per_neuron == other.circuits_per_neuron)

    __hash__ = None  # type: ignore[assignment]
