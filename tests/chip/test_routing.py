"""Routing: hardware weights, sign rows, weight splitting, labels, drivers, routes and the ChipConfig."""

import attrs
import pytest
import torch

import hxgraph as hx
from hxgraph.chip import (CIRCUIT_PARAMS, ROW_EXCITATORY, ROW_INHIBITORY, ChipSpec, hardware_weights,
                          place_and_route, split_weight)
from hxgraph.graph import LinearSaturating
from checker import RoutingCheckError, check_mapping

WIDE = LinearSaturating(scale=1.0, min_weight=-400.0, max_weight=400.0)


@pytest.mark.parametrize("weight, parts", [(63, [63]), (64, [63, 1]), (140, [63, 63, 14]), (126, [63, 63]),
                                           (288, [63, 63, 63, 63, 36]), (0, [0]), (-140, [63, 63, 14]), (5, [5])])
def test_split_weight(weight, parts):
    assert split_weight(weight) == parts
    assert sum(parts) == abs(weight)


def test_288_takes_five_synapses():
    assert len(split_weight(288)) == 5


def one_connection(weight, receptor="signed", transform=WIDE):
    return (hx.Experiment("one").input("x", 1).lif("h", 1)
            .dense("x", "h", weight=[[weight]], receptor=receptor, transform=transform)).graph


def synapses_of(config, column=0, hemisphere=None):
    """(row mode, weight) of every used synapse in a column (weight > 0 or on an enabled row)."""
    out = []
    for h in range(2) if hemisphere is None else [hemisphere]:
        for row in range(config.spec.synapse_rows):
            mode = int(config.row_mode[h, row])
            if mode:
                w = int(config.synapse_weight[h, row, column])
                if w:
                    out.append((mode, w))
    return sorted(out)


def test_large_weight_is_split_over_excitatory_rows():
    g = one_connection(140.0, receptor="excitatory")
    mapping = place_and_route(g)
    assert synapses_of(mapping.config) == [(ROW_EXCITATORY, 14), (ROW_EXCITATORY, 63), (ROW_EXCITATORY, 63)]
    assert mapping.stats.projections["x_to_h"].synapses == 3
    check_mapping(g, mapping.config)


def test_signed_weights_go_to_the_row_of_their_sign():
    g = (hx.Experiment("s").input("x", 2).lif("h", 1)
         .dense("x", "h", weight=[[5.0, -7.0]], transform=WIDE)).graph
    mapping = place_and_route(g)
    config = mapping.config
    assert synapses_of(config) == [(ROW_EXCITATORY, 5), (ROW_INHIBITORY, 7)]
    # Every signed connection keeps a synapse of each sign (weight 0 on the other), so weight
    # updates, sign flips included, need no new routing.
    assert mapping.stats.projections["x_to_h"].synapses == 4
    check_mapping(g, config)


def test_rounding_is_half_to_even():
    g = (hx.Experiment("r").input("x", 5).lif("h", 1)
         .dense("x", "h", weight=[[0.5, 1.5, 2.5, -0.5, -2.5]], transform=WIDE)).graph
    assert hardware_weights(g.projection("x_to_h"), ChipSpec()).tolist() == [0, 2, 2, 0, -2]
    config = place_and_route(g).config
    assert synapses_of(config) == [(ROW_EXCITATORY, 2), (ROW_EXCITATORY, 2), (ROW_INHIBITORY, 2)]
    check_mapping(g, config)


def test_default_transform_saturates_at_63():
    g = (hx.Experiment("t").input("x", 2).lif("h", 1)
         .dense("x", "h", weight=[[100.0, -100.0]])).graph
    assert hardware_weights(g.projection("x_to_h"), ChipSpec()).tolist() == [63, -63]


def test_sparse_projection_yields_only_its_connections():
    mask = torch.zeros(6, 4, dtype=torch.bool)
    mask[0, 1] = mask[3, 1] = mask[5, 2] = True
    g = (hx.Experiment("sp").input("x", 6).lif("h", 4)
         .sparse("x", "h", mask, weight=[10.0, -20.0, 30.0], receptor="signed", transform=WIDE)).graph
    mapping = place_and_route(g)
    stats = mapping.stats.projections["x_to_h"]
    assert (stats.connections, stats.synapses) == (3, 6)
    weights = mapping.config.synapse_weight
    column_of = {i: c[0] % 256 for i, c in enumerate(mapping.config.neuron_circuits["h"].tolist())}
    used_columns = set(torch.nonzero(weights)[:, 2].tolist())
    assert used_columns == {column_of[1], column_of[2]}
    check_mapping(g, mapping.config)


def test_fixed_sign_projection_uses_rows_of_one_mode():
    g = (hx.Experiment("inh").input("x", 10).lif("h", 5)
         .dense("x", "h", receptor="inhibitory", init=hx.init.normal(0, 10))).graph
    config = place_and_route(g).config
    assert set(config.row_mode.unique().tolist()) == {0, ROW_INHIBITORY}
    assert int((config.row_mode != 0).sum()) == 10
    check_mapping(g, config)


def test_fan_in_error_suggests_two_circuits():
    g = hx.Experiment("d").input("x", 129).lif("h", 10).dense("x", "h").graph
    with pytest.raises(hx.MappingError) as info:
        place_and_route(g)
    err = info.value
    assert (err.resource, err.needed, err.available) == ("fan-in (synapse rows per neuron)", 258, 256)
    text = str(err)
    assert "'x_to_h'" in text and "'h'" in text and "129 sources" in text and "circuits_per_neuron=2" in text
    g2 = hx.Experiment("d").input("x", 129).lif("h", 10, circuits_per_neuron=2) \
        .dense("x", "h", init=hx.init.normal(0, 20)).graph
    mapping = place_and_route(g2)
    check_mapping(g2, mapping.config)


def test_fan_in_counts_split_weights():
    g = hx.Experiment("f").input("x", 100).lif("h", 2).dense("x", "h", receptor="excitatory",
                                                         weight=torch.full((2, 100), 130.0), transform=WIDE).graph
    with pytest.raises(hx.MappingError, match="take up to 3 synapses each") as info:
        place_and_route(g)
    assert (info.value.needed, info.value.available) == (300, 256)


def test_transform_errors_are_weight_errors():
    negative = one_connection(3.0, receptor="excitatory", transform=lambda w: -w)
    with pytest.raises(hx.WeightError, match="negative hardware weights"):
        place_and_route(negative)
    nan = one_connection(3.0, transform=lambda w: w * float("nan"))
    with pytest.raises(hx.WeightError, match="NaN"):
        place_and_route(nan)
    shape = one_connection(3.0, transform=lambda w: w.reshape(-1)[:0])
    with pytest.raises(hx.WeightError, match="shape"):
        place_and_route(shape)


def test_unknown_routing_and_bad_arguments():
    g = one_connection(3.0)
    with pytest.raises(hx.UnknownNameError, match="did you mean 'simple'"):
        place_and_route(g, routing="simpel")
    with pytest.raises(hx.ParameterError, match="ChipSpec"):
        place_and_route(g, chip="HICANN-X")
    with pytest.raises(hx.ParameterError, match="experiment.graph"):
        place_and_route(hx.Experiment("e"))


def test_simple_routing_gives_every_source_and_sign_its_own_rows():
    g = (hx.Experiment("s").input("x", 5).lif("h", 10).lif("k", 10)
         .dense("x", "h", init=hx.init.normal(0, 20)).dense("x", "k", init=hx.init.normal(0, 20))).graph
    simple = place_and_route(g, placement="first_fit", routing="simple")
    shared = place_and_route(g, placement="first_fit", routing="shared")
    assert simple.stats.rows_used == (20, 0)  # 2 projections × 5 sources × 2 signs
    assert shared.stats.rows_used == (10, 0)  # both projections of a source share its rows
    for mapping in (simple, shared):
        check_mapping(g, mapping.config)
    labels = simple.config.synapse_label[0]
    for row in torch.nonzero(simple.config.row_mode[0]).reshape(-1).tolist():
        used = simple.config.synapse_weight[0, row] > 0
        assert labels[row][used].unique().numel() <= 1  # one source per row


def test_rows_are_shared_between_sources_with_different_labels():
    # Inputs aim at 'h', hidden sources at 'o': the same rows serve both (case (b) in small).
    g = (hx.Experiment("share").input("x", 32).lif("h", 60, circuits_per_neuron=2)
         .li("o", 4, circuits_per_neuron=2).dense("x", "h", init=hx.init.normal(0, 20))
         .dense("h", "o", init=hx.init.normal(0, 20))).graph
    mapping = place_and_route(g)
    config = mapping.config
    check_mapping(g, config)
    row_labels = []
    for h in range(2):
        for row in torch.nonzero(config.row_mode[h]).reshape(-1).tolist():
            row_labels.append(config.synapse_label[h, row][config.synapse_weight[h, row] > 0].unique().numel())
    assert max(row_labels) > 1


def test_many_sources_per_bus_use_driver_masks():
    gen = torch.Generator().manual_seed(3)
    mask = torch.rand(512, 512, generator=gen) < 0.05
    g = hx.Experiment("rec").lif("r", 512).sparse("r", "r", mask, init=hx.init.normal(0, 1),
                                                   transform=LinearSaturating(scale=30.0)).graph
    mapping = place_and_route(g)
    assert min(mapping.stats.driver_groups) >= 2  # 128 sources per bus need more than 64 labels
    assert int(mapping.config.driver_mask.max()) > 0
    check_mapping(g, mapping.config)


def test_an_input_reaching_both_hemispheres_has_a_route_per_hemisphere():
    g = (hx.Experiment("two").input("x", 3).lif("up", 4, placement="top").lif("down", 4, placement="bottom")
         .dense("x", "up", init=hx.init.normal(0, 20)).dense("x", "down", init=hx.init.normal(0, 20))).graph
    config = place_and_route(g).config
    routes = config.input_routes["x"]
    assert routes.shape == (6, 3)
    for neuron in range(3):
        mine = routes[routes[:, 0] == neuron]
        buses = {int(label) >> config.spec.crossbar_shift for label in mine[:, 2]}
        assert {b // 4 for b in buses} == {0, 1}
    check_mapping(g, config)


def test_neuron_without_targets_sends_nowhere_and_inputs_without_targets_have_no_route():
    mask = torch.zeros(3, 2, dtype=torch.bool)
    mask[0, 0] = True
    g = (hx.Experiment("idle").input("x", 3).lif("h", 2).lif("k", 2)
         .sparse("x", "h", mask, init=hx.init.normal(0, 20))).graph
    config = place_and_route(g).config
    assert config.input_routes["x"][:, 0].tolist() == [0]
    assert config.neuron_label["h"].tolist() == [0, 0] and config.neuron_label["k"].tolist() == [0, 0]
    check_mapping(g, config)


def test_config_fields():
    g = (hx.Experiment("cfg").input("x", 3).lif("h", 4, threshold=hx.Mixed(1.0, 150.0), leak=hx.Mixed(0.0, [70, 71, 72, 73]))
         .li("o", 2, circuits_per_neuron=2).dense("x", "h").dense("h", "o")).graph
    mapping = place_and_route(g)
    c = mapping.config
    assert c.synapse_weight.dtype == torch.uint8 and c.synapse_label.dtype == torch.uint8
    assert c.row_mode.dtype == torch.uint8 and c.driver_enable.dtype == torch.bool
    assert c.populations == ("h", "o")
    assert set(c.circuit_params) == set(CIRCUIT_PARAMS)
    h_circuits = c.neuron_circuits["h"][:, 0]
    assert c.circuit_params["threshold"][h_circuits].tolist() == [150.0] * 4
    assert c.circuit_params["leak"][h_circuits].tolist() == [70.0, 71.0, 72.0, 73.0]
    o_circuits = c.neuron_circuits["o"].reshape(-1)
    assert torch.isnan(c.circuit_params["threshold"][o_circuits]).all()  # an LI has no threshold
    assert c.circuit_params["capacitance"][o_circuits].tolist() == [63.0] * 4
    assert c.circuit_spiking[h_circuits].all() and not c.circuit_spiking[o_circuits].any()
    unused = c.circuit_population == -1
    assert int(unused.sum()) == 512 - 8 and torch.isnan(c.circuit_params["leak"][unused]).all()
    assert c.structure_hash == g.structure_hash()
    assert c.decode_label(int(c.neuron_label["h"][0]))[2] < 64
    saved = c.to_dict()
    assert saved["synapse_weight"] is c.synapse_weight and saved["spec"]["columns"] == 256


def test_checker_detects_corrupted_configurations():
    g = (hx.Experiment("bad").input("x", 4).lif("h", 6).li("o", 2)
         .dense("x", "h", init=hx.init.normal(0, 20)).dense("h", "o", init=hx.init.normal(0, 20))).graph
    config = place_and_route(g).config
    check_mapping(g, config)
    h, r, c = torch.nonzero(config.synapse_weight)[0].tolist()

    def broken(**fields):
        return attrs.evolve(config, **fields)

    weight = config.synapse_weight.clone()
    weight[h, r, c] = (int(weight[h, r, c]) % 63) + 1
    label = config.synapse_label.clone()
    label[h, r, c] = (int(label[h, r, c]) + 1) % 64
    mode = config.row_mode.clone()
    mode[h, r] = 3 - int(mode[h, r])
    mask = config.driver_mask.clone()
    mask[:] = 0
    mask[config.driver_enable] = 31
    xbar = config.crossbar_enable.clone()
    xbar[0, 1] = True  # neuron output 0 to bus 1: no such wire
    for fields in (dict(synapse_weight=weight), dict(synapse_label=label), dict(row_mode=mode),
                   dict(crossbar_enable=xbar), dict(driver_mask=mask)):
        with pytest.raises(RoutingCheckError):
            check_mapping(g, broken(**fields))
    enabled = config.driver_enable.clone()
    enabled[:] = False
    with pytest.raises(RoutingCheckError):
        check_mapping(g, broken(driver_enable=enabled))


def test_linear_saturating_without_gradient_matches_the_torch_transform():
    # LinearSaturating computes in numpy when no gradient is needed; the values must be torch's.
    from hxgraph.graph.weights import linear_saturating

    gen = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        weight = torch.randn(70, 90, generator=gen, dtype=dtype) * 5
        weight[0, :3] = torch.tensor([float("nan"), float("inf"), -0.0], dtype=dtype)
        for scale in (30.0, 1 / 3, 70.123456789):
            for w in (weight, weight.t(), weight[::3], weight[0, 5]):
                got, want = LinearSaturating(scale=scale)(w), linear_saturating(w, scale)
                assert got.dtype == want.dtype and got.shape == want.shape
                assert torch.equal(got.nan_to_num(), want.nan_to_num())
                assert torch.equal(torch.signbit(got), torch.signbit(want))
    w = torch.randn(5, generator=gen, requires_grad=True)
    LinearSaturating(scale=30.0)(w).sum().backward()  # with a gradient: torch's transform
    assert w.grad is not None
