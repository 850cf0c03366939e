"""Options of hx.emulate, hx.in_the_loop and Emulator are checked up front, by name (#13, item 5)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hxgraph as hx
import hxgraph.loop
from hxgraph.chip import AnalogModel, Emulator


def small_graph():
    return (hx.Experiment("options").input("x", 4).lif("h", 6, leak=0.0, reset=0.0, threshold=1.0)
            .li("o", 2, leak=0.0).dense("x", "h").dense("h", "o")).graph


def spikes(steps=5, batch=2):
    x = torch.zeros(steps, batch, 4)
    x[1, :, 0] = 1
    return {"x": x}


@pytest.fixture
def no_placement(monkeypatch):
    """Placing or routing at all fails the test: the options must be refused before."""
    def refuse(*args, **kwargs):
        raise AssertionError("placement and routing started before the options were checked")
    monkeypatch.setattr(hxgraph.loop, "place_and_route", refuse)


BAD_OPTIONS = [
    (dict(bogus=1), "'bogus'"),
    (dict(cadc_jiter=0.0), "did you mean 'cadc_jitter'"),
    (dict(sed=1), "did you mean 'seed'"),
    (dict(seed=1.7), "seed"),
    (dict(seed="a"), "seed"),
    (dict(seed=True), "seed"),
    (dict(seed=-1), "seed"),
    (dict(seed=2**64), "seed"),
    (dict(cadc_jitter=math.nan), "cadc_jitter"),
    (dict(cadc_jitter=math.inf), "cadc_jitter"),
    (dict(cadc_jitter=-1e-7), "cadc_jitter"),
    (dict(cadc_jitter="0.1"), "cadc_jitter"),
    (dict(cadc_interval=math.nan), "cadc_interval"),
    (dict(cadc_interval=math.inf), "cadc_interval"),
    (dict(cadc_interval=0.0), "cadc_interval"),
    (dict(cadc_interval="1e-6"), "cadc_interval"),
    (dict(long_recording="no"), "long_recording"),
    (dict(long_recording=1), "long_recording"),
    (dict(madc=5), "madc"),
    (dict(madc="h"), "madc"),
    (dict(madc=("h", 0)), "one pair goes in a list"),
    (dict(madc=[("h", 0.5)]), "madc"),
    (dict(madc=[("h", -1)]), "madc"),
    (dict(progress="yes"), "progress"),
    (dict(analog="ideal"), "analog"),
    (dict(chip="HICANN-X"), "chip"),
    (dict(trace_scale=0.5), "trace_scale"),
    (dict(trace_scale={"o": 0.0}), "trace_scale['o']"),
    (dict(trace_scale={"o": math.nan}), "trace_scale['o']"),
    (dict(trace_offset={"o": "70"}), "trace_offset['o']"),
    (dict(trace_offset={"o": torch.zeros(3)}), "trace_offset['o']"),
    (dict(trace_offset={"x": 1.0}), "input population"),
]


@pytest.mark.parametrize("options, fragment", BAD_OPTIONS)
@pytest.mark.parametrize("run", [hx.emulate, hx.in_the_loop], ids=["emulate", "in_the_loop"])
def test_a_bad_option_is_a_parameter_error_naming_it_before_placement(run, options, fragment, no_placement):
    with pytest.raises(hx.ParameterError) as error:
        run(small_graph(), **options)
    assert fragment in str(error.value)


@pytest.mark.parametrize("options, fragment", [
    (dict(trace_scale={"oo": 0.1}), "did you mean 'o'"), (dict(placement="fist_fit"), "placement strategy"),
    (dict(routing="shard"), "routing")])
def test_names_of_populations_strategies_and_routings_are_checked_before_placement(options, fragment, no_placement):
    with pytest.raises(hx.UnknownNameError, match=fragment):
        hx.emulate(small_graph(), **options)


def test_emulate_says_where_device_belongs(no_placement):
    with pytest.raises(hx.ParameterError, match=r"unknown option 'device' \(hx.emulate runs on the CPU"):
        hx.emulate(small_graph(), device="cpu")


@pytest.mark.parametrize("device", ["tpu", "garbage", 5, "cuda:99", "meta",
                                    "cuda" if not torch.cuda.is_available() else "cuda:98"])
def test_in_the_loop_refuses_an_unavailable_device_before_moving_any_weight(device, no_placement, monkeypatch):
    graph = small_graph()
    with pytest.raises(hx.ParameterError) as error:
        hx.in_the_loop(graph, device=device)
    assert f"hx.in_the_loop: device={device!r}" in str(error.value)
    assert all(p.weight.device.type == "cpu" for p in graph.projections.values())


def test_in_the_loop_checks_the_chip_options_before_building_the_mock(no_placement, monkeypatch):
    monkeypatch.setattr(hxgraph.loop, "MockNetwork", lambda *a, **k: pytest.fail("the mock was built"))
    with pytest.raises(hx.ParameterError, match="hx.in_the_loop: unknown option 'devcie' .did you mean 'device'"):
        hx.in_the_loop(small_graph(), devcie="cpu")
    with pytest.raises(hx.ParameterError, match="cadc_jitter"):
        hx.in_the_loop(small_graph(), cadc_jitter=math.nan)


@pytest.mark.parametrize("options, fragment", [
    (dict(bogus=1), "Emulator: unknown option 'bogus'"), (dict(seed=1.7), "seed"), (dict(seed="a"), "seed"),
    (dict(cadc_jitter=math.nan), "cadc_jitter"), (dict(cadc_interval=-1.0), "cadc_interval"),
    (dict(long_recording="no"), "long_recording"), (dict(madc=5), "madc"), (dict(progress=1), "progress"),
    (dict(dt=math.nan), "dt"), (dict(dt="1e-6"), "dt")])
def test_the_emulator_constructor_checks_its_options(options, fragment):
    config = hx.place_and_route(small_graph()).config
    with pytest.raises(hx.ParameterError) as error:
        Emulator(config, **options)
    assert fragment in str(error.value)


@pytest.mark.parametrize("steps", [2.5, "5", True])
def test_run_steps_must_be_an_integer(steps):
    emulator = Emulator(hx.place_and_route(small_graph()).config)
    with pytest.raises(hx.InputError, match="steps"):
        emulator.run(spikes(), steps=steps)


def test_an_empty_batch_or_no_input_population_is_an_input_error_not_a_torch_error():
    with pytest.raises(hx.InputError, match=r"the batch is empty: inputs of shape \(5, 0, 4\)"):
        hx.emulate(small_graph())({"x": torch.zeros(5, 0, 4)})
    no_inputs = hx.Experiment("alone").lif("h", 2, leak=0.0, reset=0.0, threshold=1.0).graph
    with pytest.raises(hx.InputError, match="no input population"):
        Emulator(hx.place_and_route(no_inputs).config).run({}, steps=5)


def test_valid_options_still_run_and_numpy_integers_are_integers():
    graph = small_graph()
    a = hx.emulate(graph, seed=np.int64(3), madc=[["h", np.int64(0)]], long_recording=True, progress=None,
                   cadc_interval=1, cadc_jitter=0, trace_scale={"o": torch.full((2,), 0.02)})(spikes())
    b = hx.emulate(graph, seed=3, madc=[("h", 0)], long_recording=True, progress=False, cadc_interval=1.0,
                   cadc_jitter=0.0, trace_scale={"o": 0.02})(spikes())
    assert torch.equal(a["o"].membrane, b["o"].membrane) and torch.equal(a["h"].spikes, b["h"].spikes)


def test_a_cadc_interval_too_short_to_count_is_refused_not_an_overflow():
    with pytest.raises(hx.InputError, match="CADC samples"):
        hx.emulate(small_graph(), cadc_interval=5e-324)(spikes())


def test_input_populations_refuse_neuron_parameters_by_name():
    with pytest.raises(hx.UnknownNameError, match="tau_mem") as error:
        hx.Experiment().input("x", 3, tau_mem=1e-5)
    assert "Experiment.input('x', 3)" in str(error.value)


# ------------------------------------------------------------------ property: every failure is ours

OPTION_NAMES = ["seed", "analog", "placement", "routing", "trace_offset", "trace_scale", "cadc_interval",
                "cadc_jitter", "long_recording", "madc", "progress", "chip", "device", "sed", "bogus"]
NAMES = st.sampled_from(["h", "o", "x", "zz", ""])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=6))
VALUES = st.one_of(
    SCALARS,
    st.lists(st.one_of(SCALARS, st.tuples(NAMES, st.integers(-3, 8)), st.tuples(NAMES, SCALARS)), max_size=3),
    st.dictionaries(NAMES, st.one_of(SCALARS, st.builds(lambda n, v: torch.full((n,), v, dtype=torch.float64), st.integers(0, 7),
                                                        st.floats(allow_nan=True, allow_infinity=True))), max_size=2),
    st.sampled_from([AnalogModel.ideal(), hx.chip.HICANN_X, "balanced", "simple", "cpu", "cuda"]))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(option=st.sampled_from(OPTION_NAMES), value=VALUES, loop=st.booleans())
def test_random_option_values_fail_only_with_hxgraph_errors(option, value, loop):
    """Any value of any option: the network runs, or an HxGraphError says why (nothing else escapes)."""
    run = hx.in_the_loop if loop else hx.emulate
    try:
        network = run(small_graph(), **{option: value})
        with torch.no_grad():
            out = network(spikes())
    except hx.HxGraphError:
        return
    assert torch.isfinite(out["o"].membrane).all()  # an accepted option never makes NaN membranes
