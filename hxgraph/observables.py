"""What a run returns, per population: spikes, membrane and current, each (time, batch, neurons).

Both back ends (the torch mock and the chip emulator) return these same types, so a
training loop, a plot or a test does not care which one produced them.
"""

from __future__ import annotations

from typing import Iterator, Mapping, Optional

import attrs
import torch


@attrs.frozen(eq=False)
class Observables:
    """Recorded activity of one population; fields a population cannot produce are None."""

    spikes: Optional[torch.Tensor] = None
    membrane: Optional[torch.Tensor] = None
    current: Optional[torch.Tensor] = None
    adaptation: Optional[torch.Tensor] = None  # AdEx populations' adaptation current (not part of iteration)
    # With gradient="eventprop": the exact time (seconds from the run's start) of the spike in each step,
    # differentiable; the step's end where there is none. Not part of iteration.
    spike_times: Optional[torch.Tensor] = None

    def __iter__(self) -> Iterator[Optional[torch.Tensor]]:
        return iter((self.spikes, self.membrane, self.current))


class Run(Mapping[str, Observables]):
    """Observables of every population of a run, by population name, in graph order."""

    def __init__(self, observables: Mapping[str, Observables], dt: float):
        self._observables = dict(observables)
        self.dt = dt

    def __getitem__(self, name: str) -> Observables:
        if name not in self._observables:
            from hxgraph.errors import UnknownNameError, did_you_mean, known
            raise UnknownNameError(f"this run has no population {name!r}{did_you_mean(name, self._observables)}; "
                                   f"populations: {known(self._observables)}")
        return self._observables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._observables)

    def __contains__(self, name: object) -> bool:
        return name in self._observables

    def __len__(self) -> int:
        return len(self._observables)

    def __repr__(self) -> str:
        first = next(iter(self._observables.values()), None)
        shape = "" if first is None else next((f" {tuple(t.shape)}" for t in first if t is not None), "")
        return f"<hxgraph.Run{shape}: {', '.join(self._observables)}>"
