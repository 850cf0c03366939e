"""Refuse work that would need more memory than the machine has, before allocating it.

A 1 KB graph file may declare a population of 10^12 neurons: reading it is fine (it is plain
data), but a back end that allocates per-neuron state for it would ask torch or numpy for
terabytes and die with an allocation failure, or swap the machine to a halt. Every place that
allocates in proportion to population sizes, weights or run length asks `check_allocation`
first; the error states the memory the work would need and what would reduce it.
"""

from __future__ import annotations

import os
from typing import Optional

from hxgraph.errors import AllocationError

# Without a way to ask the operating system (e.g. on some platforms), assume a laptop's 16 GiB.
_FALLBACK_BYTES = 16 * 2**30


def physical_memory() -> int:
    """Bytes of physical memory of this machine (the fallback where the system does not say)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return _FALLBACK_BYTES


def memory_limit() -> int:
    """The most one allocation-heavy step may take: the physical memory (a larger request cannot
    complete without swapping the machine to a halt). `HXGRAPH_MEMORY_LIMIT` (bytes) overrides it."""
    override = os.environ.get("HXGRAPH_MEMORY_LIMIT")
    if override:
        try:
            return max(1, int(float(override)))
        except ValueError:
            pass  # an unreadable override is ignored rather than breaking every run
    return physical_memory()


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover - the loop always returns


def check_allocation(nbytes: float, what: str, remedy: Optional[str] = None) -> None:
    """Raise `AllocationError` if `what` would need more than `memory_limit()` bytes."""
    limit = memory_limit()
    if nbytes > limit:
        raise AllocationError(f"{what} would need {format_bytes(nbytes)} of memory; this machine has "
                              f"{format_bytes(limit)}" + (f" — {remedy}" if remedy else ""))
