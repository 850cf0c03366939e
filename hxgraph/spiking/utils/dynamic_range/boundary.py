"""The membrane's upper and lower boundaries, measured as hxtorch measures them on a real chip.

Three runs of leaky integrators filling the chip, without input: one with the constant
current sources off (the baseline, the leak), one sourcing and one sinking current, which
drive every membrane against its rail. The values are the membrane as hxtorch's
`membrane_cadc` reports it (signed CADC values, code − 128).
"""

from __future__ import annotations

from typing import Any, Optional

import torch

from hxgraph.spiking.experiment import Experiment
from hxgraph.spiking.handles import LIFObservables, TensorHandle
from hxgraph.spiking.modules import Synapse
from hxgraph.spiking.morphology import SingleCompartmentNeuron
from hxgraph.spiking.run import run as run_experiment
from hxgraph.spiking.utils.dynamic_range.helper import (ConstantCurrentReadoutNeuron, ConstantCurrentType,
                                                         Measurement, chip_experiment, module_kwargs)

__all__ = ["Boundaries", "get_dynamic_range"]


class Boundaries(Measurement):
    """Measures the baseline and the upper and lower membrane boundaries of the (emulated) chip.

    `params`: neuron parameters of the `LI` neurons (hxtorch's keywords; those an LI does not
    take are ignored); the other arguments as `helper.Measurement`'s.
    """

    def __init__(self, params: Optional[dict] = None, calib_path: Optional[str] = None, batch_size: int = 100,
                 neuron_structure: Any = SingleCompartmentNeuron(1), **experiment_options: Any):
        super().__init__(params, calib_path, batch_size, neuron_structure, **experiment_options)
        self.input_size = 20
        self.neuron: Optional[ConstantCurrentReadoutNeuron] = None

    def build_model(self, inputs: torch.Tensor, exp: Experiment, current_type: Any = None,
                    enable_current: bool = True) -> TensorHandle:
        synapse = Synapse(self.input_size, self.output_size, exp)
        self.neuron = ConstantCurrentReadoutNeuron(
            self.output_size, exp, **module_kwargs(ConstantCurrentReadoutNeuron, self.params),
            neuron_structure=self.neuron_structure, shift_cadc_to_first=False)
        self.neuron.enable_current = enable_current
        self.neuron.current_type = ConstantCurrentType.source if current_type is None else current_type
        return self.neuron(synapse(LIFObservables(spikes=inputs)))

    def _measure(self, dt: float, **current: Any) -> tuple[TensorHandle, Experiment]:
        exp = chip_experiment(self.calib_path, dt, self.experiment_options)
        inputs = torch.zeros(self.time_length, self.batch_size, self.input_size)
        traces = self.build_model(inputs, exp, **current)
        run_experiment(exp, self.time_length)
        return traces, exp

    def run(self, dt: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(baseline, upper, lower): means over neurons and batch; the boundaries over the last 20 % of the run."""
        baselines, _ = self._measure(dt, enable_current=False)
        upperlines, _ = self._measure(dt, current_type=ConstantCurrentType.source)
        lowerlines, exp = self._measure(dt, current_type=ConstantCurrentType.sink)
        self.hw_neurons = exp.mapping.config.neuron_circuits[self.neuron.name]
        return self.post_process(baselines, upperlines, lowerlines)

    def post_process(self, baselines: TensorHandle, upperlines: TensorHandle, lowerlines: TensorHandle
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        settled = int(0.8 * self.time_length)
        return (baselines.membrane_cadc.detach().mean(),
                upperlines.membrane_cadc.detach()[settled:].mean(),
                lowerlines.membrane_cadc.detach()[settled:].mean())


def get_dynamic_range(neuron_structure: Any = SingleCompartmentNeuron(1), calib_path: Optional[str] = None,
                      params: Optional[dict] = None, **experiment_options: Any
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(baseline, upper, lower) membrane of the emulated chip in hxtorch's `membrane_cadc` units (code − 128)."""
    return Boundaries(params, calib_path, neuron_structure=neuron_structure, **experiment_options).run()
