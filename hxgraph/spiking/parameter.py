"""Neuron parameters with a model value (the mock) and a hardware value (the chip).

hxtorch scripts give a neuron parameter as a plain number (same value for model and
chip) or as one of these objects; each becomes a graph parameter value (a number, a
per-neuron tensor, or `hxgraph.Mixed(model, hardware)`) when the module is recorded.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

import torch

from hxgraph.errors import ParameterError
from hxgraph.graph import Mixed

__all__ = ["HXBaseParameter", "HXParameter", "MixedHXModelParameter", "HXTransformedModelParameter",
           "ModelParameter", "ParameterType", "to_graph_value"]

Value = Union[float, int, torch.Tensor]


class HXBaseParameter:
    """A parameter given by its model value (settable) and its hardware value (per subclass)."""

    def __init__(self, model_value: Value):
        self._model_value = model_value

    @property
    def model_value(self) -> Value:
        return self._model_value

    @model_value.setter
    def model_value(self, value: Value) -> None:
        self._model_value = value

    @property
    def hardware_value(self) -> Optional[Value]:
        raise NotImplementedError  # each parameter kind says what the chip gets

    def is_trainable(self) -> bool:
        """hxtorch's query: False, as neuron parameters are not trained here (see `make_trainable`)."""
        return False

    def make_trainable(self, *args: Any, **kwargs: Any) -> "HXBaseParameter":
        """Refused: the graph stores neuron parameters as values, so no gradient could reach them.

        (hxtorch accepts the call but, for hardware parameters, silently trains nothing; we
        would rather say so.)
        """
        raise ParameterError(
            f"{type(self).__name__}.make_trainable(): trainable neuron parameters are not supported by "
            "hxgraph.spiking; neuron parameters are recorded into the graph as fixed values for the mock "
            "and the chip, so no gradient would reach them. Train synapse weights, or set the parameter "
            "to new values between runs (they reach the mock and the chip on the next run).")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_value={self.model_value!r}, hardware_value={self.hardware_value!r})"


class HXParameter(HXBaseParameter):
    """A hardware value; the model uses the same value."""

    def __init__(self, value: Value):
        super().__init__(value)

    @property
    def value(self) -> Value:
        return self._model_value

    @value.setter
    def value(self, value: Value) -> None:
        self._model_value = value

    @property
    def hardware_value(self) -> Value:
        return self._model_value

    @hardware_value.setter
    def hardware_value(self, value: Value) -> None:
        self._model_value = value  # one value for both sides


class MixedHXModelParameter(HXBaseParameter):
    """Different values for the model and the chip, e.g. threshold 1.0 in the model, 150 on the chip."""

    def __init__(self, model_value: Value, hardware_value: Value):
        super().__init__(model_value)
        self._hardware_value = hardware_value

    @property
    def hardware_value(self) -> Value:
        return self._hardware_value

    @hardware_value.setter
    def hardware_value(self, value: Value) -> None:
        self._hardware_value = value


class HXTransformedModelParameter(HXBaseParameter):
    """A model value whose hardware value is `transform_func(model_value)` (e.g. a calibration curve)."""

    def __init__(self, model_value: Value, transform_func: Callable[[Value], Value]):
        if not callable(transform_func):
            raise ParameterError(f"HXTransformedModelParameter: transform_func must be callable (model value → "
                                 f"hardware value); got {transform_func!r}")
        super().__init__(model_value)
        self.func = transform_func

    @property
    def hardware_value(self) -> Value:
        return self.func(self._model_value)

    @hardware_value.setter
    def hardware_value(self, value: Value) -> None:
        raise ParameterError("HXTransformedModelParameter: its hardware value is func(model_value); set model_value "
                             "or func instead")


class ModelParameter(HXBaseParameter):
    """A model value that the chip gets as well (hxtorch's `ModelParameter`: hardware value = model value)."""

    @property
    def hardware_value(self) -> Value:
        return self._model_value

    @hardware_value.setter
    def hardware_value(self, value: Value) -> None:
        self._model_value = value


ParameterType = Union[Value, HXBaseParameter]

# Parameters whose plain graph value the chip's calibration would convert (CADC units, capacitance code).
SAME_NUMBER_ON_CHIP = ("leak", "reset", "threshold", "capacitance")


def to_graph_value(value: Any, model: str, key: str, what: str) -> Any:
    """The graph form of a module parameter: `Mixed(model, hardware)`, or a number/tensor where both agree.

    `key` names the graph parameter (plain voltages and capacitances are written as `Mixed(v, v)`,
    so the chip's calibration does not convert them); `model` names the graph neuron model.
    """
    if isinstance(value, (HXParameter, ModelParameter)):
        value = value.model_value  # the same number on both sides
    elif isinstance(value, HXBaseParameter):
        return Mixed(value.model_value, value.hardware_value)
    if isinstance(value, Mixed):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, torch.Tensor, list, tuple)):
        raise ParameterError(
            f"{what} must be a number, a per-neuron tensor, or one of hxgraph.spiking's parameter types "
            f"(HXParameter, MixedHXModelParameter, HXTransformedModelParameter, ModelParameter); got {value!r}")
    # hxtorch sends a plain value to the chip as it is: the same number on both sides. In the graph
    # a plain voltage or capacitance would be converted through the chip's calibration, so the pair
    # is written out (time constants are seconds on both sides either way).
    return Mixed(value, value) if key in SAME_NUMBER_ON_CHIP else value
