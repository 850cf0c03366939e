"""Parameter values and tensors: normalisation, equality and their exact JSON form.

A neuron parameter is a plain number (same for every neuron), a per-neuron tensor, or a
`Mixed` pair whose model value feeds the torch mock and whose hardware value feeds the
chip (e.g. threshold 1.0 in the model, 150 CADC units on the chip).
"""

from __future__ import annotations

import base64
import math
from typing import Any, Union

import attrs
import numpy as np
import torch

from hxgraph.errors import ParameterError, SerializationError, ShapeError
from hxgraph.graph.reading import describe, expect_keys, fail, read_number, read_str

Scalar = float
Value = Union[float, torch.Tensor]


@attrs.frozen(eq=False)
class Mixed:
    """A parameter with a model value (mock) and a hardware value (chip), e.g. `Mixed(1.0, 150)`."""

    model: Value
    hardware: Value

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Mixed) and values_equal(self.model, other.model)
                and values_equal(self.hardware, other.hardware))

    __hash__ = None  # type: ignore[assignment]  # may hold tensors


Param = Union[float, torch.Tensor, Mixed]


def model_value(param: Param) -> Value:
    """The value the torch mock uses."""
    return param.model if isinstance(param, Mixed) else param


def hardware_value(param: Param) -> Value:
    """The value the chip uses."""
    return param.hardware if isinstance(param, Mixed) else param


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    """Convert lists, numpy arrays and tensors to a tensor without losing precision."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
    else:
        try:
            # Python floats are doubles: float64 keeps them exactly.
            tensor = torch.as_tensor(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"{what} must be a number, a per-neuron sequence of numbers, a tensor or "
                f"hxgraph.Mixed(model, hardware); got {value!r}") from exc
    if tensor.dtype == torch.bool or tensor.is_complex():
        raise ParameterError(f"{what} must hold real numbers; got a {tensor.dtype} tensor")
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.float64)
    return tensor.cpu().clone()


def normalize_value(value: Any, size: int, what: str, check: str = "finite") -> Value:
    """Return `value` as a float or a per-neuron tensor of shape (size,), validated by `check`.

    `check` is one of "finite", "positive", "non_negative".
    """
    if isinstance(value, bool):
        raise ParameterError(f"{what} must be a number; got the boolean {value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        try:
            result: Value = float(value)
        except OverflowError:  # a Python int beyond the float range
            raise ParameterError(f"{what} must be a finite number; got an integer too large for a float") from None
        values = [result]
    else:
        tensor = _as_tensor(value, what)
        if tensor.dim() == 0:
            result = float(tensor.item())
            values = [result]
        elif tuple(tensor.shape) == (size,):
            result = tensor
            values = tensor.tolist()
        else:
            raise ShapeError(
                f"{what} has shape {tuple(tensor.shape)}; a per-neuron value needs shape "
                f"({size},) (one entry per neuron) or a single number")
    _check_values(values, what, check)
    return result


def is_finite(number: Any) -> bool:
    """`math.isfinite`, but False (not OverflowError) for an int beyond the float range."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


def _check_values(values: list[float], what: str, check: str) -> None:
    for v in values:
        if not math.isfinite(v):
            raise ParameterError(f"{what} must be finite; got {v}")
        if check == "positive" and v <= 0:
            raise ParameterError(f"{what} must be > 0; got {v}")
        if check == "non_negative" and v < 0:
            raise ParameterError(f"{what} must be >= 0; got {v}")


def normalize_param(value: Any, size: int, what: str, check: str = "finite") -> Param:
    """Normalise a parameter given as a number, a per-neuron sequence or `Mixed`."""
    if isinstance(value, Mixed):
        return Mixed(normalize_value(value.model, size, f"{what} (model value)", check),
                     normalize_value(value.hardware, size, f"{what} (hardware value)", check))
    if isinstance(value, tuple) and len(value) == 2 and size != 2:
        raise ParameterError(
            f"{what} is a pair {value!r}; write hxgraph.Mixed(model, hardware) for a "
            f"model/hardware pair, or a list of {size} numbers for per-neuron values")
    return normalize_value(value, size, what, check)


def values_equal(a: Any, b: Any) -> bool:
    """Exact equality for numbers, tensors (same dtype, shape and bits) and `Mixed`."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
                and a.dtype == b.dtype and a.shape == b.shape
                and torch.equal(a.detach().cpu(), b.detach().cpu()))
    return type(a) is type(b) and a == b


# ----------------------------------------------------------------------------- JSON form

_DTYPES = {
    "float16": (torch.float16, "<f2"),
    "float32": (torch.float32, "<f4"),
    "float64": (torch.float64, "<f8"),
    "int32": (torch.int32, "<i4"),
    "int64": (torch.int64, "<i8"),
}
# Stored tensors are weights, indices and per-neuron values (at most 2-D); numpy stops at 64.
_MAX_DIMENSIONS = 8
_DTYPE_NAMES = {torch_dtype: name for name, (torch_dtype, _) in _DTYPES.items()}


def tensor_to_json(tensor: torch.Tensor) -> dict:
    """Encode a tensor bit-exactly: dtype, shape and little-endian bytes in base64."""
    name = _DTYPE_NAMES.get(tensor.dtype)
    if name is None:
        raise SerializationError(
            f"cannot store a tensor of dtype {tensor.dtype}; storable dtypes: "
            f"{', '.join(_DTYPES)}")
    array = tensor.detach().cpu().contiguous().numpy().astype(_DTYPES[name][1], copy=False)
    return {"tensor": {"dtype": name, "shape": list(tensor.shape),
                       "data": base64.b64encode(array.tobytes()).decode("ascii")}}


def tensor_from_json(obj: Any, where: str) -> torch.Tensor:
    """Decode `tensor_to_json` output, checking that dtype, shape and byte count agree."""
    if not isinstance(obj, dict) or set(obj) != {"tensor"} or not isinstance(obj["tensor"], dict):
        raise SerializationError(f"{where}: expected a tensor object {{'tensor': {{...}}}}; got {describe(obj)}")
    body = obj["tensor"]
    expect_keys(body, {"dtype", "shape", "data"}, f"{where}.tensor")
    dtype = read_str(body["dtype"], f"{where}.tensor.dtype")
    if dtype not in _DTYPES:
        raise SerializationError(f"{where}: unknown tensor dtype {dtype!r}; known: {', '.join(_DTYPES)}")
    shape = body["shape"]
    if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise SerializationError(f"{where}: tensor shape must be a list of non-negative integers; got {describe(shape)}")
    if len(shape) > _MAX_DIMENSIONS:
        raise SerializationError(f"{where}: tensor shape has {len(shape)} dimensions; at most {_MAX_DIMENSIONS} "
                                 "are supported (corrupt file?)")
    data = read_str(body["data"], f"{where}.tensor.data")
    torch_dtype, np_dtype = _DTYPES[dtype]
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError as exc:
        raise SerializationError(f"{where}: tensor data is not valid base64 (corrupt file?)") from exc
    count = math.prod(shape)
    if len(raw) != count * np.dtype(np_dtype).itemsize:
        raise SerializationError(
            f"{where}: tensor data has {len(raw)} bytes but shape {_describe_shape(shape)} of {dtype} "
            f"needs {describe(count * np.dtype(np_dtype).itemsize)} (truncated or corrupt file?)")
    array = np.frombuffer(raw, dtype=np_dtype).astype(np_dtype[1:], copy=True).reshape(shape)
    return torch.from_numpy(array).to(torch_dtype)


def _describe_shape(shape: list) -> str:
    return "[" + ", ".join(describe(s) for s in shape) + "]"


def value_to_json(value: Param) -> Any:
    """JSON form of a parameter value; floats stay numbers (Python's repr round-trips exactly)."""
    if isinstance(value, Mixed):
        return {"model": value_to_json(value.model), "hardware": value_to_json(value.hardware)}
    if isinstance(value, torch.Tensor):
        return tensor_to_json(value)
    return float(value)


def value_from_json(obj: Any, where: str) -> Param:
    """Inverse of `value_to_json` (validation of ranges is left to the population)."""
    if isinstance(obj, dict) and set(obj) == {"model", "hardware"}:
        return Mixed(_plain_value_from_json(obj["model"], f"{where}.model"),
                     _plain_value_from_json(obj["hardware"], f"{where}.hardware"))
    return _plain_value_from_json(obj, where, "a number, a tensor object or {'model': ..., 'hardware': ...}")


def _plain_value_from_json(obj: Any, where: str, expected: str = "a number or a tensor object") -> Value:
    """A number or a tensor: what a `Mixed` holds (never another `Mixed`)."""
    if isinstance(obj, dict) and "tensor" in obj:
        return tensor_from_json(obj, where)
    if isinstance(obj, bool) or not isinstance(obj, (int, float)):
        raise fail(where, expected, obj)
    return read_number(obj, where)
