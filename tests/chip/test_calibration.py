"""The calibration: model values become chip values in one place, and contradictions are reported."""

import math
import warnings

import pytest
import torch

import hxgraph as hx
from hxgraph.chip import AnalogModel, Calibration, hardware_weights, place_and_route
from hxgraph.graph import LinearSaturating


def layer(**lif):
    return (hx.Experiment("cal").input("x", 4).lif("h", 3, **lif).li("o", 2, leak=0.0)
            .dense("x", "h", weight=torch.full((3, 4), 0.1)).dense("h", "o", weight=torch.full((2, 3), 0.1))).graph


def silently(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error", hx.ConsistencyWarning)
        return call()


def test_defaults_are_hxtorchs_hardware_ci_operating_point():
    # hxtorch's hardware CI: trace scale 0.0147, weight scale 70; leak 80 CADC.
    cal = Calibration()
    assert cal.trace_scale == 0.0147 and cal.leak == 80.0
    assert cal.weight_scale == pytest.approx(70.0, rel=1e-12)
    assert cal.synapse_gain == pytest.approx(1 / (70 * 0.0147))
    other = Calibration.from_scales(1 / 50, 64.0)
    assert other.weight_scale == pytest.approx(64.0) and other.synapse_gain == pytest.approx(50 / 64)
    assert AnalogModel().calibration == cal and AnalogModel().weight_scale == pytest.approx(70.0)


def test_plain_model_values_get_chip_values_through_the_calibration():
    graph = layer(leak=0.0, reset=-0.5, threshold=1.0, tau_mem=6e-6, capacitance=5e-6)
    mapping = silently(lambda: place_and_route(graph))
    circuits = mapping.config.neuron_circuits["h"][:, 0]
    p = {k: v[circuits] for k, v in mapping.config.circuit_params.items()}
    assert p["leak"].tolist() == [80.0] * 3
    assert p["threshold"].tolist() == pytest.approx([80.0 + 1 / 0.0147] * 3)   # 148.03
    assert p["reset"].tolist() == pytest.approx([80.0 - 0.5 / 0.0147] * 3)
    assert p["tau_mem"].tolist() == [6e-6] * 3                                 # seconds on both sides
    assert p["capacitance"].tolist() == pytest.approx([31.5] * 3)              # 63 · c / 10e-6
    # Anchored at the leak: a model leak of 80 with threshold 81 is the same neuron on the chip.
    shifted = place_and_route(layer(leak=80.0, reset=79.5, threshold=81.0, tau_mem=6e-6, capacitance=5e-6))
    q = shifted.config.circuit_params
    assert q["threshold"][circuits].tolist() == pytest.approx(p["threshold"].tolist())
    assert mapping.consistency == ()


def test_mixed_values_are_taken_as_given():
    mapping = place_and_route(layer(leak=hx.Mixed(0.0, 90.0), threshold=hx.Mixed(1.0, 120.0), reset=0.0))
    circuits = mapping.config.neuron_circuits["h"][:, 0]
    p = mapping.config.circuit_params
    assert p["leak"][circuits].tolist() == [90.0] * 3
    assert p["threshold"][circuits].tolist() == [120.0] * 3
    assert p["reset"][circuits].tolist() == [90.0] * 3  # plain: placed relative to the given chip leak


def test_default_transform_takes_the_calibrated_weight_scale():
    graph = hx.Experiment("w").input("x", 3).lif("h", 1).dense("x", "h", weight=[[1 / 70, 0.5, 2.0]]).graph
    proj = graph.projection("x_to_h")
    assert proj.transform == LinearSaturating() and proj.transform.scale is None
    assert hardware_weights(proj, hx.chip.HICANN_X).tolist() == [1, 35, 63]
    assert hardware_weights(proj, hx.chip.HICANN_X, Calibration.from_scales(1 / 50, 64.0)).tolist() == [1, 32, 63]
    with pytest.raises(hx.ParameterError, match="calibration"):
        proj.transform(proj.weight)
    assert hx.Graph.from_json(graph.to_json()).projection("x_to_h").transform.scale is None


def test_inconsistent_threshold_warns_once_naming_the_population_with_the_fix():
    # hxtorch's argparse defaults: threshold 150 over leak 80 read at trace scale 1/50.
    graph = layer(leak=hx.Mixed(0.0, 80.0), reset=hx.Mixed(0.0, 80.0), threshold=hx.Mixed(1.0, 150.0))
    with pytest.warns(hx.ConsistencyWarning) as caught:
        mapping = place_and_route(graph, trace_scale={"h": 1 / 50})
    messages = [str(w.message) for w in caught if str(w.message).startswith("h:")]
    assert len(messages) == 1  # one warning for the population, however many of its values disagree
    assert messages[0].startswith("h: chip threshold 150 with leak 80 is 1.4 model units")
    assert "trace scale 1/50" in messages[0] and "Mixed(1, 130.0)" in messages[0]
    # Read back at 1/50, the calibrated weight scale 70 is too strong as well (70 · 0.97 / 50 = 1.36).
    assert [f.subject for f in mapping.consistency] == ["h", "x_to_h"]
    assert "chip values inconsistent with the model (2)" in mapping.summary()
    assert "! h: chip threshold 150" in mapping.summary()


def test_consistent_chip_values_stay_silent():
    # The hxtorch hardware CI pair: 70 CADC × 0.0147 = 1.03 model units (within 5 %).
    graph = layer(leak=hx.Mixed(0.0, 80.0), reset=hx.Mixed(0.0, 80.0), threshold=hx.Mixed(1.0, 150.0))
    mapping = silently(lambda: place_and_route(graph))
    assert mapping.consistency == () and "chip values consistent with the model" in mapping.summary()
    exact = layer(leak=hx.Mixed(0.0, 80.0), threshold=hx.Mixed(1.0, 80 + 1 / 0.0147), reset=0.0)
    assert silently(lambda: place_and_route(exact)).consistency == ()
    fifty = layer(leak=hx.Mixed(0.0, 80.0), threshold=hx.Mixed(1.0, 130.0), reset=0.0)
    assert silently(lambda: place_and_route(fifty, calibration=Calibration.from_scales(1 / 50, 64.0))).consistency == ()


def test_weight_scale_that_contradicts_the_gain_warns_naming_the_projection():
    graph = (hx.Experiment("w").input("x", 2).lif("h", 2, leak=0.0, reset=0.0, threshold=1.0)
             .dense("x", "h", weight=torch.full((2, 2), 0.2), transform=LinearSaturating(scale=64.0))).graph
    with pytest.warns(hx.ConsistencyWarning, match=r"x_to_h: weight scale 64 .* 1\.24 model units at trace scale 1/50"):
        place_and_route(graph, trace_scale={"h": 1 / 50})
    # 64 against the default calibration: 64 / 70 = 0.914, off by more than 5 %.
    with pytest.warns(hx.ConsistencyWarning, match="use LinearSaturating\\(scale=70\\)"):
        place_and_route(graph)
    ok = (hx.Experiment("w").input("x", 2).lif("h", 2, leak=0.0, reset=0.0, threshold=1.0)
          .dense("x", "h", weight=torch.full((2, 2), 0.2), transform=LinearSaturating(scale=70.0))).graph
    assert silently(lambda: place_and_route(ok)).consistency == ()


def test_out_of_range_chip_values_and_mismatched_time_constants_are_reported():
    # hxtorch's default LIF values as model values: threshold − leak = 45 model units is 3061 CADC.
    with pytest.warns(hx.ConsistencyWarning, match="outside the CADC range 0..255"):
        place_and_route(layer())
    with pytest.warns(hx.ConsistencyWarning, match=r"chip tau_mem 1.2e-05 s differs from the mock's 6e-06 s by \+100 %"):
        place_and_route(layer(leak=0.0, reset=0.0, threshold=1.0, tau_mem=hx.Mixed(6e-6, 12e-6)))
    with pytest.warns(hx.ConsistencyWarning, match="capacitance code 31.5 is not the mock's capacitance 1e-05"):
        place_and_route(layer(leak=0.0, reset=0.0, threshold=1.0, capacitance=hx.Mixed(10e-6, 31.5)))


def test_weight_updates_do_not_warn_again():
    graph = layer(leak=hx.Mixed(0.0, 80.0), reset=hx.Mixed(0.0, 80.0), threshold=hx.Mixed(1.0, 200.0))
    with pytest.warns(hx.ConsistencyWarning):
        first = place_and_route(graph)
    graph.projection("x_to_h").weight.mul_(2)
    second = silently(lambda: place_and_route(graph, previous=first))
    assert second.reused == "placement and routing" and [f.subject for f in second.consistency] == ["h"]


def test_emulate_checks_in_the_units_it_reads_back():
    graph = layer(leak=hx.Mixed(0.0, 80.0), reset=hx.Mixed(0.0, 80.0), threshold=hx.Mixed(1.0, 150.0))
    silently(lambda: hx.emulate(graph))
    with pytest.warns(hx.ConsistencyWarning, match="h: chip threshold 150 with leak 80 is 1.4 model units"):
        hx.emulate(graph, trace_scale={"h": 1 / 50})


def test_bad_calibrations_and_measurements_are_refused():
    with pytest.raises(hx.ParameterError, match="trace_scale must be a finite number > 0"):
        Calibration(trace_scale=0.0)
    with pytest.raises(hx.ParameterError, match="calibration must be"):
        place_and_route(layer(leak=0.0, reset=0.0, threshold=1.0), calibration="fifty")
    with pytest.raises(hx.UnknownNameError, match="did you mean 'tau_mismatch'"):
        AnalogModel.from_measurements({"tau_mismatchh": 0.03})
    with pytest.raises(hx.UnknownNameError, match="did you mean 'h'"):
        place_and_route(layer(leak=0.0, reset=0.0, threshold=1.0), trace_scale={"hh": 0.02})
    measured = AnalogModel.from_measurements({"threshold_offset": 3, "tau_mismatch": 0.03},
                                             calibration=Calibration.from_scales(1 / 50, 64.0))
    assert measured.threshold_offset == 3.0 and measured.tau_mismatch == 0.03
    assert measured.leak_offset == AnalogModel().leak_offset and measured.weight_scale == pytest.approx(64.0)
    half = AnalogModel().scaled(0.5)
    assert half.tau_mismatch == pytest.approx(0.035) and half.saturation == pytest.approx(1600.0)
    assert AnalogModel().scaled(0).is_ideal and math.isinf(AnalogModel().scaled(0).saturation)


def test_notebook_display_and_command_line_show_the_inconsistency(tmp_path, capsys):
    from hxgraph.cli import main

    graph = layer(leak=hx.Mixed(0.0, 80.0), reset=hx.Mixed(0.0, 80.0), threshold=hx.Mixed(1.0, 200.0))
    with pytest.warns(hx.ConsistencyWarning):
        mapping = place_and_route(graph)
    assert "! h: chip threshold 200 with leak 80 is 1.76 model units" in mapping._repr_html_()
    graph.save(tmp_path / "g.json")
    with pytest.warns(hx.ConsistencyWarning):
        assert main(["place", str(tmp_path / "g.json")]) == 0
    out = capsys.readouterr().out
    assert "chip values inconsistent with the model (1):" in out
    assert "use threshold=Mixed(1, 148.0)" in out


def test_neurons_silenced_on_purpose_are_not_reported():
    # hxgraph.spiking's BatchDropout raises the chip threshold of dropped neurons far out of range.
    threshold = hx.Mixed(1.0, torch.tensor([80 + 1 / 0.0147, 1e9, 80 + 1 / 0.0147], dtype=torch.float64))
    graph = layer(leak=hx.Mixed(0.0, 80.0), reset=hx.Mixed(0.0, 80.0), threshold=threshold)
    assert silently(lambda: place_and_route(graph)).consistency == ()
    with pytest.warns(hx.ConsistencyWarning, match=r"h: chip leak 300 CADC is outside the CADC range 0..255"):
        place_and_route(layer(leak=hx.Mixed(0.0, 300.0), reset=0.0, threshold=1.0))


def test_analog_model_still_takes_a_trace_and_weight_scale_pair():
    legacy = AnalogModel.ideal(trace_scale=1 / 50, weight_scale=64.0)
    assert legacy.calibration == Calibration.from_scales(1 / 50, 64.0) and legacy.is_ideal
    assert AnalogModel(trace_scale=1 / 50).weight_scale == pytest.approx(70.0)  # the other number stays the default
    with pytest.raises(hx.ParameterError, match="not both"):
        AnalogModel(Calibration(), trace_scale=0.02)
    with pytest.raises(hx.UnknownNameError, match="did you mean 'readout_noise'"):
        AnalogModel(readout_nosie=1.0)
