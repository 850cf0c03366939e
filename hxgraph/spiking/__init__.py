"""hxtorch.spiking's module API on hxgraph: port a script by changing its import.

    import hxgraph.spiking as hxsnn        # was: import hxtorch.spiking as hxsnn

    exp = hxsnn.Experiment(mock=True, dt=1e-6)
    syn = hxsnn.Synapse(5, 10, exp)
    lif = hxsnn.LIF(10, exp, tau_mem=6e-6)
    h = lif(syn(hxsnn.LIFObservables(spikes=x)))   # records; h is still empty
    hxsnn.run(exp, 38)                             # fills every handle
    h.spikes, h.membrane_cadc                      # (T, B, 10)

Modules record into an hxgraph `Graph` (`exp.graph`); `run` executes it on the mock
(`mock=True`) or on the emulated chip in the loop (`mock=False`). docs/migration.md lists
what changes and what behaves differently.
"""

from hxgraph.spiking import datasets, functional, halco, morphology, transforms
from hxgraph.spiking.experiment import ExecutionInstance, Experiment
from hxgraph.spiking.handles import (AELIFObservables, Handle, LIFObservables, LIObservables, NeuronHandle, ReadoutNeuronHandle,
                                     SynapseHandle, TensorHandle)
from hxgraph.spiking.modules import (AELIF, LI, LIF, SILENT_THRESHOLD, BatchDropout, EventPropLIF, EventPropSynapse,
                                     HXModule, HXModuleWrapper, InputNeuron, Synapse)
from hxgraph.spiking.parameter import (HXBaseParameter, HXParameter, HXTransformedModelParameter,
                                       MixedHXModelParameter, ModelParameter)
from hxgraph.spiking.run import run
from hxgraph.spiking.sparse_synapse import SparseSynapse
from hxgraph.spiking.utils import ConversionConfig, from_nir, from_nir_data, to_nir, to_nir_data

__all__ = [
    "Experiment", "ExecutionInstance", "run", "InputNeuron", "LIF", "AELIF", "EventPropLIF", "LI", "Synapse",
    "EventPropSynapse", "SparseSynapse", "BatchDropout", "HXModuleWrapper",
    "HXModule", "Handle", "LIFObservables", "AELIFObservables", "LIObservables", "SynapseHandle", "NeuronHandle", "ReadoutNeuronHandle",
    "TensorHandle", "HXBaseParameter", "HXParameter", "MixedHXModelParameter", "HXTransformedModelParameter",
    "ModelParameter", "SILENT_THRESHOLD", "transforms", "datasets", "functional", "halco", "morphology",
    "ConversionConfig", "to_nir", "from_nir", "to_nir_data", "from_nir_data",
]
