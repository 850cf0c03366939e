"""hxgraph.spiking.functional, transforms and datasets: hxtorch's names on hxgraph's implementations."""

import functools

import torch
from spiking_helpers import spikes

import hxgraph as hx
import hxgraph.spiking as hxsnn
from hxgraph.mock.functional import lif_integration
from hxgraph.spiking import functional as F


def test_integration_functions_match_the_mock_kernels_and_take_hw_data():
    x = spikes(size=3, rate=0.4)
    out = F.cuba_lif_integration(x, leak=0., reset=0., threshold=0.5, tau_mem=6e-6, tau_syn=6e-6)
    z, v, i = lif_integration(x, leak=0., reset=0., threshold=0.5, tau_mem=6e-6, tau_syn=6e-6, refractory_time=0.)
    assert isinstance(out, hxsnn.LIFObservables)
    torch.testing.assert_close(out.spikes, z)
    torch.testing.assert_close(out.membrane_cadc, v)
    torch.testing.assert_close(out.current, i)
    weight = torch.ones(3, 3, requires_grad=True)
    measured = torch.full_like(v, 0.25)
    li = F.cuba_li_integration(F.linear(x, weight), leak=0., hw_data=(measured,))
    torch.testing.assert_close(li.membrane_cadc, measured)  # measured forward …
    li.membrane_cadc.sum().backward()
    assert weight.grad.abs().sum() > 0  # … model gradient
    assert F.superspike(torch.tensor([0.1, -0.1])).tolist() == [1.0, 0.0]
    assert F.batch_dropout(torch.ones(2, 3), torch.tensor([True, False, True])).tolist() == [[1, 0, 1], [1, 0, 1]]


def test_transforms_and_datasets_have_hxtorch_names():
    from hxgraph.spiking.datasets.yinyang import YinYangDataset
    from hxgraph.spiking.transforms import decode, encode, weight_transforms
    assert weight_transforms.linear_saturating(torch.tensor([2.0, -100.]), scale=10.).tolist() == [20., -63.]
    spikes_ = encode.CoordinatesToSpikes(38, 2e-6, 26e-6, t_bias=2e-6)(torch.tensor([[0.0, 1.0]]))
    assert spikes_.shape == (38, 1, 3)
    assert decode.MaxOverTime()(torch.arange(6.).reshape(3, 2)).tolist() == [4., 5.]
    sample, label = YinYangDataset(size=10)[0]
    assert sample.dtype == torch.float32 and sample.shape == (4,) and isinstance(label, int)
    transform = hxsnn.Synapse(2, 2, hxsnn.Experiment(), transform=functools.partial(
        weight_transforms.linear_saturating, scale=64.)).hardware_transform()
    assert transform == hx.transforms.LinearSaturating(scale=64.)
