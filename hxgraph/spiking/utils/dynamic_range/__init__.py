"""hxtorch's `utils.dynamic_range`: measure a chip's membrane range, trace scale and weight scale.

The measurements run on the emulated chip exactly as hxtorch runs them on a real one: with
the neurons' constant current sources (`helper`), CADC traces and a weight sweep. On the
emulated chip the answers are known in advance (`hxgraph.chip.Calibration`, the analog
model's `membrane_range`), which is what the tests check the measurements against.

    from hxgraph.spiking.utils.dynamic_range.boundary import get_dynamic_range
    from hxgraph.spiking.utils.dynamic_range.threshold import get_trace_scaling
    from hxgraph.spiking.utils.dynamic_range.weight_scaling import get_weight_scaling
"""

from hxgraph.spiking.utils.dynamic_range.boundary import Boundaries, get_dynamic_range
from hxgraph.spiking.utils.dynamic_range.helper import (ConstantCurrentMixin, ConstantCurrentNeuron,
                                                         ConstantCurrentReadoutNeuron, ConstantCurrentType)
from hxgraph.spiking.utils.dynamic_range.threshold import Threshold, get_trace_scaling
from hxgraph.spiking.utils.dynamic_range.weight_scaling import WeightScaling, get_weight_scaling

__all__ = ["get_dynamic_range", "get_trace_scaling", "get_weight_scaling", "Boundaries", "Threshold",
           "WeightScaling", "ConstantCurrentMixin", "ConstantCurrentNeuron", "ConstantCurrentReadoutNeuron",
           "ConstantCurrentType"]
