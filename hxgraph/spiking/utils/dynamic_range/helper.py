"""Neurons with their constant current source switched on (hxtorch's `dynamic_range.helper`).

On the chip every neuron circuit has a constant current source (a 10-bit DAC) that either
sources current onto the membrane or sinks it. hxtorch switches it on for the first circuit
of every neuron when measuring; so do these modules. The mock has no such source: in mock
mode they behave like plain `LIF` / `LI` (as in hxtorch).
"""

from __future__ import annotations

import enum
import inspect
from typing import Any, Optional

from hxgraph.chip.spec import HICANN_X
from hxgraph.errors import ParameterError, check_choice
from hxgraph.spiking.experiment import Experiment
from hxgraph.spiking.modules import LI, LIF
from hxgraph.spiking.morphology import SingleCompartmentNeuron

__all__ = ["ConstantCurrentType", "ConstantCurrentMixin", "ConstantCurrentNeuron", "ConstantCurrentReadoutNeuron",
           "Measurement"]


class ConstantCurrentType(enum.Enum):
    """Direction of the constant current (hxtorch: `lola.AtomicNeuron.ConstantCurrent.Type`)."""

    source = "source"
    sink = "sink"


class ConstantCurrentMixin:
    """Switches the constant current source of the module's neurons on.

    `enable_current` (default True), `current_type` (`ConstantCurrentType.source`, or
    "source"/"sink") and `i_offset` (the DAC code, hxtorch's 1000) are read at every run.
    """

    current_type: Any = ConstantCurrentType.source
    enable_current: bool = True
    i_offset: int = 1000

    def constant_current_code(self) -> int:
        if not self.enable_current:
            return 0
        kind = self.current_type
        if isinstance(kind, str):
            kind = ConstantCurrentType(check_choice(kind, [t.value for t in ConstantCurrentType],
                                                    f"current_type of {self._who()}"))
        if not isinstance(kind, ConstantCurrentType):
            raise ParameterError(f"{self._who()}: current_type must be ConstantCurrentType.source or .sink "
                                 f"(or 'source' / 'sink'); got {kind!r}")
        if isinstance(self.i_offset, bool) or not isinstance(self.i_offset, int) or self.i_offset < 0:
            raise ParameterError(f"{self._who()}: i_offset must be a DAC code >= 0; got {self.i_offset!r}")
        return self.i_offset if kind is ConstantCurrentType.source else -self.i_offset


class ConstantCurrentNeuron(ConstantCurrentMixin, LIF):
    """`LIF` neurons with the constant current source on (the threshold measurement)."""


class ConstantCurrentReadoutNeuron(ConstantCurrentMixin, LI):
    """`LI` neurons with the constant current source on (the boundary measurement)."""


# ---------------------------------------------------------------------------- shared by the measurements

class Measurement:
    """What hxtorch's measurement classes share: parameters, calibration path, batch, neurons filling the chip.

    `params`: the neuron parameters (hxtorch's keywords); `calib_path` must be None (the
    emulated chip's calibration is `hxgraph.chip.Calibration`); keyword-only
    `experiment_options` go to the chip's `Experiment` (e.g. `chip_seed=`, `analog=`).
    """

    def __init__(self, params: Optional[dict] = None, calib_path: Optional[str] = None, batch_size: int = 100,
                 neuron_structure: Any = SingleCompartmentNeuron(1), **experiment_options: Any):
        self.calib_path = calib_path
        self.batch_size = batch_size
        self.neuron_structure = neuron_structure
        self.params = dict(params or {})
        self.experiment_options = experiment_options
        self.time_length = 100
        self.output_size = neurons_on_chip(neuron_structure)
        self.hw_neurons: Optional[Any] = None


def neurons_on_chip(neuron_structure: Any) -> int:
    """How many neurons of `neuron_structure` (a `SingleCompartmentNeuron` or a circuit count) fill the chip."""
    circuits = neuron_structure.size if isinstance(neuron_structure, SingleCompartmentNeuron) else neuron_structure
    if isinstance(circuits, bool) or not isinstance(circuits, int) or circuits < 1:
        raise ParameterError(f"neuron_structure must be a morphology.SingleCompartmentNeuron or a number of "
                             f"circuits per neuron; got {neuron_structure!r}")
    return HICANN_X.circuits // circuits


def chip_experiment(calib_path: Optional[str], dt: float, options: dict) -> Experiment:
    """An experiment on the emulated chip; `options` are `Experiment`'s (e.g. `chip_seed`, `analog`)."""
    exp = Experiment(mock=False, dt=dt, **options)
    if calib_path is not None:
        exp.default_execution_instance.load_calib(calib_path)  # explains why a chip's calibration file cannot load
    return exp


def module_kwargs(module: type, params: Optional[dict]) -> dict:
    """The neuron parameters in `params` that `module` takes (an LI has no threshold or reset; hxtorch ignores them)."""
    params = dict(params or {})
    accepted = inspect.signature(module.__init__).parameters
    return {k: v for k, v in params.items() if k in accepted}


def slope_through_origin(x: Any, y: Any) -> Any:
    """Least-squares slope a of y ≈ a·x per column of y (x: (n,), y: (n, neurons))."""
    x = x.double()
    return (x[:, None] * y.double()).sum(0) / (x * x).sum()
