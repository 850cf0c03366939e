"""The threshold in CADC units above the baseline, measured as hxtorch measures it on a real chip.

LIF neurons filling the chip run once with their constant current sources off (the
baseline) and once sourcing current, so that they fire regularly; the highest CADC sample
above the baseline is the threshold. `get_trace_scaling` divides the model's threshold by
it: model units per CADC unit, what a module's `trace_scale` should be.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional

import torch

from hxgraph.spiking.experiment import Experiment
from hxgraph.spiking.handles import LIFObservables, TensorHandle
from hxgraph.spiking.modules import Synapse
from hxgraph.spiking.morphology import SingleCompartmentNeuron
from hxgraph.spiking.run import run as run_experiment
from hxgraph.spiking.utils.dynamic_range.helper import (ConstantCurrentNeuron, Measurement, chip_experiment,
                                                         module_kwargs)

__all__ = ["Threshold", "get_trace_scaling"]


class Threshold(Measurement):
    """Measures the thresholds of the (emulated) chip's neurons relative to their baseline.

    `params`: the `LIF` parameters (hxtorch's keywords); the other arguments as `helper.Measurement`'s.
    """

    def __init__(self, params: Optional[dict] = None, calib_path: Optional[str] = None, batch_size: int = 100,
                 neuron_structure: Any = SingleCompartmentNeuron(1), **experiment_options: Any):
        super().__init__(params, calib_path, batch_size, neuron_structure, **experiment_options)
        self.neuron: Optional[ConstantCurrentNeuron] = None
        self.traces = self.thresholds = self.thresholds_mean = None

    def build_model(self, inputs: torch.Tensor, exp: Experiment, enable_current: bool = True) -> TensorHandle:
        synapse = Synapse(1, self.output_size, exp)
        self.neuron = ConstantCurrentNeuron(
            self.output_size, exp, **module_kwargs(ConstantCurrentNeuron, self.params),
            shift_cadc_to_first=False, neuron_structure=self.neuron_structure)
        self.neuron.enable_current = enable_current
        return self.neuron(synapse(LIFObservables(spikes=inputs)))

    def run(self, dt: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """(mean threshold, threshold per neuron, traces minus baseline, circuits of the neurons)."""
        measured = []
        for enable_current in (False, True):
            exp = chip_experiment(self.calib_path, dt, self.experiment_options)
            inputs = torch.zeros(self.time_length, self.batch_size, 1)
            measured.append(self.build_model(inputs, exp, enable_current=enable_current))
            run_experiment(exp, self.time_length)
        self.hw_neurons = exp.mapping.config.neuron_circuits[self.neuron.name]
        baselines, traces = measured
        return self.post_process(traces, baselines)

    def post_process(self, traces: TensorHandle, baselines: TensorHandle
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        silent = (traces.spikes.sum(0) < 1).nonzero()
        if silent.shape[0] > 0:
            neurons = torch.unique(silent[:, 1]).tolist()
            warnings.warn(f"Threshold: no spikes in some batch entries of neuron(s) {neurons[:10]}"
                          f"{' ...' if len(neurons) > 10 else ''}; their threshold is underestimated",
                          RuntimeWarning, stacklevel=3)
        baseline = baselines.membrane_cadc.detach().mean(0).mean(0)
        self.traces = traces.membrane_cadc.detach() - baseline
        self.thresholds = self.traces.max(0)[0].mean(0)
        self.thresholds_mean = self.thresholds.mean()
        return self.thresholds_mean, self.thresholds, self.traces, self.hw_neurons


def get_trace_scaling(params: Optional[dict] = None, calib_path: Optional[str] = None,
                      neuron_structure: Any = SingleCompartmentNeuron(1), **experiment_options: Any) -> torch.Tensor:
    """Model threshold / measured threshold (CADC above baseline): the `trace_scale` that maps the chip's traces
    onto the model's."""
    runner = Threshold(params, calib_path, neuron_structure=neuron_structure, **experiment_options)
    threshold_hw, _, _, _ = runner.run()
    return runner.neuron.threshold.model_value / threshold_hw
