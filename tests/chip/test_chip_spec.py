"""The chip description: CHIP.md §1 counts as data, variants with derived counts, validation."""

import attrs
import pytest

import hxgraph as hx
from hxgraph.chip import HICANN_X, ChipSpec, place_and_route
from checker import check_mapping


def test_defaults_are_the_counts_of_chip_md():
    spec = ChipSpec()
    assert spec == HICANN_X
    assert (spec.hemispheres, spec.columns, spec.circuits, spec.quadrants) == (2, 256, 512, 4)
    assert (spec.synapse_rows, spec.drivers_per_hemisphere, spec.rows_per_driver) == (256, 128, 2)
    assert (spec.buses_per_hemisphere, spec.buses, spec.drivers_per_bus, spec.rows_per_bus) == (4, 8, 32, 64)
    assert (spec.event_outputs, spec.columns_per_event_output) == (8, 32)
    assert (spec.crossbar_inputs, spec.crossbar_outputs) == (20, 12)
    assert (spec.max_weight, spec.labels, spec.row_select_bits) == (63, 64, 5)
    assert (spec.background_generators, spec.external_links, spec.recording_links) == (8, 4, 4)
    assert (spec.cadc_bits, spec.madc_bits, spec.cadc_max_samples) == (8, 10, 100)
    assert spec.clock_period == pytest.approx(8e-9)
    assert spec.speedup == 1000.0
    assert spec.quadrant_columns == 128


def test_bus_of_a_column_follows_the_event_outputs():
    spec = ChipSpec()
    assert [spec.bus_of_column(c) for c in (0, 31, 32, 64, 96, 127, 128, 160, 255)] == [0, 0, 1, 2, 3, 3, 0, 1, 3]


def test_variant_derives_counts():
    spec = HICANN_X.variant(columns=64, synapse_rows=64, columns_per_event_output=16, quadrant_columns=32)
    assert spec.circuits == 128
    assert spec.drivers_per_hemisphere == 32 and spec.drivers_per_bus == 8 and spec.rows_per_bus == 16
    assert spec.event_outputs == 4 and spec.crossbar_inputs == 4 + 4 + 8
    assert HICANN_X.columns == 256  # the original is untouched
    small = ChipSpec.small()
    assert (small.circuits, small.synapse_rows, small.drivers_per_bus) == (128, 32, 4)


@pytest.mark.parametrize("changes, fragment", [
    (dict(synapse_rows=255), "multiple of rows_per_driver"),
    (dict(synapse_rows=48), "power of two"),
    (dict(hemispheres=3), "1 or 2"),
    (dict(columns=100), "columns_per_event_output"),
    (dict(columns=0), "positive integer"),
    (dict(colums=64), "unknown field 'colums'"),
])
def test_invalid_variants_are_refused(changes, fragment):
    with pytest.raises(hx.ParameterError, match=fragment):
        HICANN_X.variant(**changes)


def test_spec_is_frozen():
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        HICANN_X.columns = 10


def test_config_shapes_follow_the_spec():
    spec = ChipSpec.small()
    g = hx.Experiment("s").input("x", 4).lif("h", 6).dense("x", "h").graph
    config = place_and_route(g, chip=spec).config
    assert tuple(config.synapse_weight.shape) == (2, 32, 64)
    assert tuple(config.row_mode.shape) == (2, 32)
    assert tuple(config.driver_mask.shape) == (2, 16)
    assert tuple(config.crossbar_enable.shape) == (spec.crossbar_inputs, spec.crossbar_outputs)
    assert config.circuit_population.numel() == 128


def test_a_larger_chip_maps_what_the_real_one_cannot():
    exp = hx.Experiment("big").input("x", 20).lif("h", 600).dense("x", "h", init=hx.init.normal(0, 20))
    with pytest.raises(hx.MappingError, match="neuron circuits"):
        place_and_route(exp.graph)
    big = HICANN_X.variant(name="twice", columns=512)
    mapping = place_and_route(exp.graph, chip=big)
    assert mapping.stats.circuits_available == 1024
    check_mapping(exp.graph, mapping.config)


def test_one_hemisphere_variant():
    spec = ChipSpec.small().variant(hemispheres=1)
    g = (hx.Experiment("one").input("x", 5).lif("h", 20).li("o", 3, circuits_per_neuron=2)
         .dense("x", "h", init=hx.init.normal(0, 10)).dense("h", "o", init=hx.init.normal(0, 10))).graph
    mapping = place_and_route(g, chip=spec)
    first, second = mapping.config.neuron_circuits["o"].tolist()[0]
    assert second == first + 1  # merged along the only row
    check_mapping(g, mapping.config)
    bottom = hx.Experiment("b").lif("h", 2, placement="bottom").graph
    with pytest.raises(hx.ParameterError, match="hemisphere 1 does not exist"):
        place_and_route(bottom, chip=spec)
