"""hxtorch.spiking's public names (its package __init__ and submodules as published) against hxgraph.spiking.

Each name exists with hxtorch's call signature (its positional parameters, in order, a
prefix of ours), or docs/migration.md lists it as deliberately absent with the reason.
"""

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

import hxgraph.spiking as hxsnn

DOC = Path(__file__).resolve().parents[2] / "docs" / "migration.md"

# name → hxtorch's parameters (None: a class or module whose presence is what counts).
HXTORCH = {
    "Experiment": ["mock", "dt", "hw_routing_func"],
    "ExecutionInstance": None,
    "run": ["experiment", "runtime"],
    "HXModule": None,
    "HXModuleWrapper": ["experiment"],
    "InputNeuron": ["size", "experiment", "execution_instance", "chip_coordinate"],
    "Synapse": ["in_features", "out_features", "experiment", "execution_instance", "chip_coordinate", "device",
                "dtype", "transform", "plasticity_rule"],
    "SparseSynapse": None,  # positional order documented as a deliberate difference (the seed contract's func)
    "LIF": ["size", "experiment", "leak", "reset", "threshold", "tau_mem", "tau_syn", "i_synin_gm",
            "membrane_capacitance", "refractory_time", "synapse_dac_bias", "holdoff_time", "method", "alpha",
            "execution_instance", "enable_spike_recording", "enable_cadc_recording",
            "enable_cadc_recording_placement_in_dram", "enable_madc_recording", "record_neuron_id",
            "placement_constraint", "trace_offset", "trace_scale", "cadc_time_shift", "shift_cadc_to_first",
            "interpolation_mode", "neuron_structure"],
    "LI": ["size", "experiment", "leak", "tau_mem", "tau_syn", "i_synin_gm", "membrane_capacitance",
           "synapse_dac_bias", "execution_instance", "enable_cadc_recording",
           "enable_cadc_recording_placement_in_dram", "enable_madc_recording", "record_neuron_id",
           "placement_constraint", "trace_offset", "trace_scale", "cadc_time_shift", "shift_cadc_to_first",
           "interpolation_mode", "neuron_structure"],
    "BatchDropout": ["size", "dropout", "experiment"],
    "AELIF": ["size", "experiment", "leak", "reset", "threshold", "tau_mem", "tau_syn", "i_synin_gm",
              "membrane_capacitance", "refractory_time", "synapse_dac_bias", "holdoff_time", "method", "alpha",
              "exponential_slope", "exponential_threshold", "subthreshold_adaptation_strength",
              "spike_triggered_adaptation_increment", "clock_scale_adaptation_pulse", "tau_adap", "leak_adaptation",
              "execution_instance", "chip_coordinate", "enable_spike_recording", "enable_cadc_recording",
              "enable_cadc_recording_placement_in_dram", "cadc_readout_source", "enable_madc_recording",
              "record_neuron_id", "madc_readout_source", "placement_constraint", "trace_offset", "trace_scale",
              "cadc_time_shift", "shift_cadc_to_first", "interpolation_mode", "neuron_structure", "leaky", "fire",
              "exponential", "subthreshold_adaptation", "spike_triggered_adaptation"],
    # hxtorch's EventPropLIF / EventPropSynapse subclass LIF / Synapse without a constructor of their own
    "EventPropLIF": "LIF", "EventPropSynapse": "Synapse", "NeuronExp": None, "ReadoutNeuronExp": None,
    "HXBaseExperimentModule": None,
    "Handle": None, "TensorHandle": None, "LIFObservables": None, "LIObservables": None, "SynapseHandle": None,
    "HXParameter": ["value"], "MixedHXModelParameter": ["model_value", "hardware_value"],
    "HXTransformedModelParameter": ["model_value", "transform_func"], "ModelParameter": ["model_value"],
    "to_nir": ["snn", "input_sample"], "from_nir": ["graph", "cfg"], "ConversionConfig": None,
    "to_nir_data": ["hxtorch_dict", "hxtorch_model"], "from_nir_data": ["nir_graph_data", "hxtorch_model"],
    "datasets": None, "functional": None, "transforms": None, "morphology": None,
    "functional.linear": ["input", "weight", "bias"],
    "functional.linear_sparse": ["input", "weight", "connections", "bias"],
    "functional.batch_dropout": ["input", "mask"],
    "functional.superspike_func": ["input", "alpha"],
    "functional.SuperSpike": None,
    "functional.cuba_aelif_integration": ["input"],
    "functional.EventPropLIFFunction.apply": ["input", "leak", "reset", "threshold", "tau_syn", "tau_mem", "hw_data",
                                              "dt"],
    "functional.EventPropSynapseFunction.apply": ["input", "weight", "_"], "functional.exp_cuba_lif_integration": None,
    "functional.exp_cuba_li_integration": None, "functional.CuBaStepCode": None,
    "functional.input_neuron": None, "functional.threshold": None,
    "functional.linear_exponential_clamp": ["inputs", "weight", "bias", "cap", "start_weight", "quantize"],
    "transforms.weight_transforms.linear_saturating": ["weight", "scale", "min_weight", "max_weight"],
    "transforms.decode.MaxOverTime": None, "transforms.decode.SumOverTime": None,
    "transforms.decode.MeanOverTime": None,
    "transforms.encode.CoordinatesToSpikes": ["seq_length", "t_early", "t_late", "dt", "t_bias"],
    "transforms.encode.PixelsToSpikeTimes": ["tau", "threshold", "t_max", "epsilon"],
    "transforms.encode.SpikeTimesToDense": ["bin_width", "size"],
    "transforms.encode.SpikeTimesToSparseTensor": ["bin_width", "size"],
    "datasets.yinyang.YinYangDataset": ["r_small", "r_big", "size", "seed", "transform"],
    "morphology.SingleCompartmentNeuron": ["size", "expand_horizontally"],
    "utils.dynamic_range.boundary.get_dynamic_range": ["neuron_structure", "calib_path", "params"],
    "utils.dynamic_range.threshold.get_trace_scaling": ["params", "calib_path", "neuron_structure"],
    "utils.dynamic_range.weight_scaling.get_weight_scaling": ["params", "weight_step", "calib_path",
                                                              "neuron_structure"],
    "utils.dynamic_range.boundary.Boundaries": ["params", "calib_path", "batch_size", "neuron_structure"],
    "utils.dynamic_range.threshold.Threshold": ["params", "calib_path", "batch_size", "neuron_structure"],
    "utils.dynamic_range.weight_scaling.WeightScaling": ["params", "calib_path", "batch_size", "trace_scale",
                                                         "neuron_structure"],
    "utils.dynamic_range.helper.ConstantCurrentNeuron": None,
    "utils.dynamic_range.helper.ConstantCurrentReadoutNeuron": None,
}


def absent() -> set[str]:
    """The names docs/migration.md's 'Deliberately absent' table lists (each row with its reason)."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Deliberately absent", 1)[1].split("\n## ", 1)[0]
    names = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            cell, reason = row.split("|")[1], row.split("|")[2]
            assert reason.strip(), row
            names |= set(re.findall(r"`([\w.]+)`", cell))
    return names


def resolve(name: str):
    target = hxsnn
    for part in name.split("."):
        target = getattr(target, part)
    return target


def positional(target) -> list[str]:
    function = target.__init__ if inspect.isclass(target) else target
    params = [p for p in inspect.signature(function).parameters.values()
              if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    return [p.name for p in params][1 if inspect.isclass(target) else 0:]


@pytest.mark.parametrize("name", sorted(HXTORCH))
def test_every_public_hxtorch_name_exists_with_its_signature_or_is_documented_as_absent(name):
    missing = absent()
    if name in missing:
        with pytest.raises(AttributeError):
            resolve(name)
        return
    target = resolve(name)
    expected = HXTORCH[name]
    if isinstance(expected, str):  # a subclass with its base's signature
        expected = HXTORCH[expected]
    if expected is None:
        return
    ours = positional(target)
    assert ours[:len(expected)] == expected, f"{name}: ours {ours}, hxtorch {expected}"


def test_the_absent_list_names_only_hxtorch_names():
    names = absent()
    known = set(HXTORCH) | {n.split(".", 1)[1] for n in HXTORCH if "." in n}
    known |= {n.rsplit(".", 1)[0] for n in known if n.endswith(".apply")}
    assert names <= known, names - known


def test_conversion_config_has_hxtorchs_fields():
    fields = [f.name for f in dataclasses.fields(hxsnn.ConversionConfig)]
    assert fields == ["dt", "calib_path", "weight_scale", "trace_scale", "trace_shift", "cadc_recording", "mock",
                      "input_loopback", "device"]
