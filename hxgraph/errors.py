"""The exceptions hxgraph raises: one base class, one subclass per kind of problem.

Every message names what was wrong (the call, the offending value) and what would be
valid, so a user can fix the input without reading our source.
"""

from __future__ import annotations

import difflib
from typing import Iterable, Sequence


class HxGraphError(Exception):
    """Base class of every error hxgraph raises on purpose."""


class GraphError(HxGraphError, ValueError):
    """A graph, population or projection description is invalid."""


class UnknownNameError(GraphError):
    """A population, projection, parameter or option name does not exist."""


class DuplicateNameError(GraphError):
    """A name is already taken by another population or projection."""


class ShapeError(GraphError):
    """A tensor (connections, weights, per-neuron parameter, input) has the wrong shape."""


class ParameterError(GraphError):
    """A neuron parameter or option has an invalid value."""


class WeightError(GraphError):
    """Weights are invalid: non-finite, wrong shape or dtype, or of the wrong sign."""


class SerializationError(HxGraphError, ValueError):
    """A file or text could not be read as an hxgraph graph (malformed, corrupt, newer format)."""


class ConversionError(SerializationError):
    """A network in another format (NIR) uses something hxgraph cannot express; names the node and what is supported."""


class MissingDependencyError(HxGraphError, ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""


class ConsistencyWarning(UserWarning):
    """The chip would not do what the mock does: a chip value or weight scale contradicts the model's units."""


class AllocationError(HxGraphError, MemoryError):
    """A computation would need more memory than this machine has; refused before allocating."""


class InputError(HxGraphError, ValueError):
    """Input given to run a network (spike trains, names, shapes) is invalid."""


def did_you_mean(name: object, candidates: Iterable[str]) -> str:
    """Return " (did you mean 'x'?)" for the closest candidate, or '' when none is close."""
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_choice(value: object, choices: Sequence[str], what: str, valid: str = "valid", note: str = "",
                 error: type[Exception] | None = None) -> str:
    """`value` if it is one of `choices`; else an error (default `UnknownNameError`) saying
    "unknown <what> <value> (did you mean ...?); <valid>: <choices><note>"."""
    if value not in choices:
        raise (error or UnknownNameError)(f"unknown {what} {value!r}{did_you_mean(value, choices)}; "
                                          f"{valid}: {known(choices)}{note}")
    return value


def known(candidates: Iterable[str]) -> str:
    """Format a list of valid names for an error message."""
    names = [repr(c) for c in candidates]
    return ", ".join(names) if names else "(none)"


class MappingError(HxGraphError):
    """A graph does not fit the chip: names the population or projection, the exhausted
    resource, how much was needed and available, and what to try.

    `resource`, `needed`, `available` repeat those facts for programs; `partial` may carry
    the mapping as far as it got (for drawing where it ran out).
    """

    def __init__(self, message: str, *, resource: str | None = None, needed: int | None = None,
                 available: int | None = None, partial: object = None):
        super().__init__(message)
        self.resource = resource
        self.needed = needed
        self.available = available
        self.partial = partial


class RoutingUndecidedError(MappingError):
    """Neither a routing nor a proof that none exists was found in the time allowed.

    Raised when the greedy router fails and the exact router (`hxgraph.chip.exact_routing`)
    runs out of time or is not installed. Unlike its parent, it does not say that the network
    does not fit: a longer `exact_time_limit` may still find a routing.
    """
