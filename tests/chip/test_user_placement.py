"""Circuit numbers a user gives are refused when fractional or not numbers, never truncated.

Before, `NeuronPlacement(spec, {"h": [10.7, ...]})` cast with `dtype=int64` and placed the
neuron on circuit 10, which the user did not name.
"""

import numpy as np
import pytest
import torch

import hxgraph as hx
from hxgraph.chip import HICANN_X, NeuronPlacement, place_and_route


def graph():
    return hx.Experiment("given").input("x", 3).lif("h", 4).dense("x", "h", init=hx.init.normal(0, 10)).graph


@pytest.mark.parametrize("circuits, message", [
    ([[10.7], [300], [11], [400]], "must be whole circuit numbers; got 10.7"),
    (torch.tensor([10.0, 300.5, 11.0, 400.0]), "got 300.5"),
    (np.array([10, 300, 11, float("nan")]), "got nan"),
    ([10, 300, 11, 1e300], "must be whole circuit numbers"),
    (["10", "300", "11", "400"], "must be circuit numbers (integers)"),
    ([10, None, 11, 400], "must be circuit numbers (integers)"),
    (torch.tensor([True, False, True, False]), "got a torch.bool tensor"),
    (torch.tensor([10 + 1j, 300, 11, 400]), "got a torch.complex64 tensor"),
    (torch.zeros(2, 2, 1, dtype=torch.int64), "must have shape (neurons,) or (neurons, circuits_per_neuron)"),
    ({"a": 1}, "must be circuit numbers (integers)"),
], ids=["fraction", "float tensor fraction", "nan", "beyond int64", "strings", "None", "booleans", "complex",
        "three dimensions", "a dict"])
def test_fractional_or_non_numeric_circuits_are_refused(circuits, message):
    with pytest.raises(hx.ParameterError) as info:
        NeuronPlacement(HICANN_X, {"h": circuits})
    assert "NeuronPlacement: the circuits of population 'h'" in str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize("circuits", [[10, 300, 11, 400], [10.0, 300.0, 11.0, 400.0], np.array([10, 300, 11, 400]),
                                      torch.tensor([[10], [300], [11], [400]], dtype=torch.int32)])
def test_whole_numbers_of_any_type_place_where_given(circuits):
    own = NeuronPlacement(HICANN_X, {"h": circuits})
    assert own.circuits["h"].dtype == torch.int64
    assert own.circuits["h"].reshape(-1).tolist() == [10, 300, 11, 400]
    assert place_and_route(graph(), placement=own).placement is own
