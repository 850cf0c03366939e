"""The weight scale between model and chip, measured as hxtorch measures it on a real chip.

A sweep of hardware weights onto leaky integrators filling the chip gives the PSP height
per hardware weight unit (CADC units); the same sweep of model weights in the mock gives
the PSP height per model weight unit. Their ratio, times the measured threshold over the
model's (`threshold.Threshold`), is the `transform` scale that makes a hardware weight act
like the model weight.
"""

from __future__ import annotations

from typing import Any, Optional

import torch

from hxgraph.spiking.experiment import Experiment
from hxgraph.spiking.handles import LIFObservables
from hxgraph.spiking.modules import LI, Synapse
from hxgraph.spiking.morphology import SingleCompartmentNeuron
from hxgraph.spiking.run import run as run_experiment
from hxgraph.spiking.utils.dynamic_range.helper import (Measurement, chip_experiment, module_kwargs,
                                                         slope_through_origin)
from hxgraph.spiking.utils.dynamic_range.threshold import Threshold

__all__ = ["WeightScaling", "get_weight_scaling"]


class WeightScaling(Measurement):
    """Measures hardware and model PSP heights per weight unit and their ratio.

    `params`: the neuron parameters (hxtorch's keywords; those an `LI` does not take are
    ignored); `trace_scale` is the LI modules'; the other arguments as `helper.Measurement`'s.
    """

    max_weight = 63
    min_weight = -63

    def __init__(self, params: Optional[dict] = None, calib_path: Optional[str] = None, batch_size: int = 100,
                 trace_scale: float = 1., neuron_structure: Any = SingleCompartmentNeuron(1),
                 **experiment_options: Any):
        super().__init__(params, calib_path, batch_size, neuron_structure, **experiment_options)
        self.trace_scale = trace_scale
        self.baselines: Any = 0.

    def execute(self, weight: float, mock: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One run with every weight set to `weight`; (mean PSP height, per neuron, traces minus baseline)."""
        inputs = torch.zeros(self.time_length, 1 if mock else self.batch_size, 1)
        inputs[10] = 1
        with torch.no_grad():
            self.synapse.weight.fill_(float(weight))
        traces = self.neuron(self.synapse(LIFObservables(spikes=inputs)))
        run_experiment(self.exp, self.time_length)
        return self.post_process(traces, weight)

    def post_process(self, traces: Any, weight: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        self.traces = traces.membrane_cadc.detach() - self.baselines
        extreme = self.traces.max(0)[0] if weight >= 0 else self.traces.min(0)[0]
        self.amp = extreme.mean(0)
        self.amp_mean = self.amp.mean()
        return self.amp_mean, self.amp, self.traces

    def _layers(self, exp: Experiment, **neuron: Any) -> None:
        self.exp = exp
        self.synapse = Synapse(1, self.output_size, exp)
        self.neuron = LI(self.output_size, exp, **module_kwargs(LI, self.params), trace_scale=self.trace_scale,
                         **neuron)

    def run(self, weight_step: int = 1) -> tuple[torch.Tensor, ...]:
        """(mean scale, scale per neuron, hardware slopes, model slopes, hardware PSPs, model PSPs).

        As in hxtorch, `weight_step` is the number of hardware weights swept from -63 to 63.
        """
        hw_weights = torch.linspace(self.min_weight, self.max_weight, weight_step).to(torch.int64)
        self._layers(chip_experiment(self.calib_path, 1e-6, self.experiment_options),
                     neuron_structure=self.neuron_structure, shift_cadc_to_first=True)
        self.baselines = 0.
        hw_amps = torch.stack([self.execute(int(w))[1] for w in hw_weights])
        self.hw_neurons = self.exp.mapping.config.neuron_circuits[self.neuron.name]
        hw_scales = slope_through_origin(hw_weights, hw_amps)

        self._layers(Experiment(mock=True, dt=1e-6), shift_cadc_to_first=False)
        sw_weights = torch.arange(-1, 1 + 0.1, 0.1)
        self.baselines = self.neuron.leak.model_value
        sw_amps = torch.stack([self.execute(float(w), mock=True)[1] for w in sw_weights])
        sw_scales = slope_through_origin(sw_weights, sw_amps)

        scales = sw_scales / hw_scales
        return scales.mean(), scales, hw_scales, sw_scales, hw_amps, sw_amps


def get_weight_scaling(params: Optional[dict] = None, weight_step: int = 1, calib_path: Optional[str] = None,
                       neuron_structure: Any = SingleCompartmentNeuron(1), **experiment_options: Any) -> torch.Tensor:
    """Hardware weight units per model weight unit: the `linear_saturating` scale for these parameters."""
    weight_scale = WeightScaling(params, calib_path, neuron_structure=neuron_structure,
                                 **experiment_options).run(weight_step=weight_step)[0]
    runner = Threshold(params, calib_path, neuron_structure=neuron_structure, **experiment_options)
    threshold_hw, _, _, _ = runner.run()
    return weight_scale * (threshold_hw / runner.neuron.threshold.model_value)
