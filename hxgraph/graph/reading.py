"""Typed reading of values from files (parsed JSON, NIR metadata): every read checks the type.

A file can hold anything at any place: a list where a name belongs, a number too large
for a float, a structure nested thousands deep. Each reader takes the value and `where`
it is in the file (e.g. ``populations[2].model``) and returns it with the expected type,
or raises `SerializationError` saying where, what was expected and what was found.
`describe` names a found value without printing it whole (it may be huge or deeply
nested), so composing the message itself cannot fail.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from hxgraph.errors import SerializationError

_INT_DIGITS = 30  # integers longer than this are described by their size, not printed


def describe(value: Any) -> str:
    """A short description of a value found in a file, safe for any value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) < 10**_INT_DIGITS:
            return repr(value)
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57]) + "..."
    if isinstance(value, list):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        keys = [k for k in value if isinstance(k, str)][:4]
        more = ", ..." if len(value) > len(keys) else ""
        return f"an object with keys [{', '.join(map(repr, keys))}{more}]" if value else "an empty object"
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):
        return f"a {type(value).__name__} of shape {shape} and dtype {getattr(value, 'dtype', '?')}"
    return f"a {type(value).__name__}"


def fail(where: str, expected: str, value: Any) -> SerializationError:
    """The error for `value` at `where` that should have been `expected`."""
    return SerializationError(f"{where}: expected {expected}; got {describe(value)}")


def read_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise fail(where, "a string", value)
    return value


def read_int(value: Any, where: str, minimum: Optional[int] = None) -> int:
    """An integer (not a boolean, not a float such as 2.0: our writers write integers as such)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(where, "an integer" if minimum is None else f"an integer >= {minimum}", value)
    if minimum is not None and value < minimum:
        raise fail(where, f"an integer >= {minimum}", value)
    return value


def read_number(value: Any, where: str) -> float:
    """An int or float as a float; integers beyond the float range are refused, not rounded to inf."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(where, "a number", value)
    try:
        return float(value)
    except OverflowError:
        raise fail(where, "a number within the range of a 64-bit float", value) from None


def read_list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise fail(where, "a list", value)
    return value


def read_object(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise fail(where, "an object", value)
    return value


def read_str_list(value: Any, where: str) -> list[str]:
    return [read_str(item, f"{where}[{i}]") for i, item in enumerate(read_list(value, where))]


def read_int_list(value: Any, where: str, minimum: Optional[int] = None) -> list[int]:
    return [read_int(item, f"{where}[{i}]", minimum) for i, item in enumerate(read_list(value, where))]


def expect_keys(obj: dict, keys: set, where: str) -> None:
    """`obj` has exactly `keys`: a missing key or one we do not know is refused, never ignored."""
    missing, extra = keys - set(obj), set(obj) - keys
    if missing:
        raise SerializationError(f"{where}: missing {sorted(missing)}")
    if extra:
        raise SerializationError(f"{where}: unexpected {sorted(map(str, extra))} (expected exactly {sorted(keys)})")
