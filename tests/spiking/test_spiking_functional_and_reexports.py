"""hxgraph.spiking.functional, transforms and datasets: hxtorch's names on hxgraph's implementations."""

import functools

import numpy as np
import pytest
import torch
from spiking_helpers import spikes

import hxgraph as hx
import hxgraph.spiking as hxsnn
from hxgraph.spiking import functional as F


def hxtorch_lif_reference(x, leak, reset, threshold, tau_mem, tau_syn, dt=1e-6, membrane_hw=None):
    """hxtorch's functional LIF written out: dv = dt/tau_mem (leak - v + i); i decays, adds x; v += dv; spike, reset."""
    v, i = torch.full(x.shape[1:], leak), torch.zeros(x.shape[1:])
    zs, vs, cs = [], [], []
    for t in range(x.shape[0]):
        dv = dt / tau_mem * (leak - v + i)
        i = i * (1 - dt / tau_syn) + x[t]
        v = v + dv if membrane_hw is None else membrane_hw[t]
        z = (v > threshold).float()
        if membrane_hw is None:
            v = torch.where(z > 0, torch.full_like(v, reset), v)
        zs.append(z), vs.append(v), cs.append(i)
    return torch.stack(zs), torch.stack(vs), torch.stack(cs)


def test_old_functional_api_returns_hxtorchs_tuples_with_its_input_gain():
    x = spikes(size=3, rate=0.4) * 0.8
    out = F.cuba_lif_integration(x, leak=0., reset=0., threshold=0.5, tau_mem=6e-6, tau_syn=8e-6)
    assert isinstance(out, tuple) and len(out) == 4 and out[3] is None  # (spikes, membrane, current, membrane_madc)
    z, v, i = hxtorch_lif_reference(x, 0., 0., 0.5, 6e-6, 8e-6)  # input gain dt / tau_mem, not dt / 10e-6
    assert torch.equal(out[0], z) and float(z.sum()) > 0
    torch.testing.assert_close(out[1], v)
    torch.testing.assert_close(out[2], i)
    # DESIGN.md's reference: one spike at step 10 through weight 1, tau 10 µs.
    pulse = torch.zeros(60, 1, 1)
    pulse[10] = 1.0
    _, membrane, _, _ = F.cuba_lif_integration(pulse, leak=0., reset=0., threshold=1., tau_mem=10e-6, tau_syn=10e-6)
    assert float(membrane[:11].abs().max()) == 0.0 and int(membrane[:, 0, 0].argmax()) == 19
    assert float(membrane[19, 0, 0]) == pytest.approx(0.3874, abs=1e-4)
    assert float(membrane[49, 0, 0]) == pytest.approx(0.0712, abs=1e-4)


def test_hw_data_is_injected_step_by_step_with_model_gradients():
    x = spikes(size=3, rate=0.4)
    weight = torch.ones(3, 3, requires_grad=True)
    measured = torch.linspace(-0.2, 0.9, 20)[:, None, None].expand(20, 3, 3).clone()
    madc = torch.zeros(100, 3)
    z, v, i, passed = F.cuba_lif_integration(F.linear(x, weight), leak=0., reset=0., threshold=0.5, tau_mem=6e-6,
                                             tau_syn=6e-6, hw_data=(None, measured[:15], madc))
    assert v.shape[0] == 15 and passed is madc  # integration stops where the measured trace ends
    torch.testing.assert_close(v, measured[:15])
    assert torch.equal(z, (measured[:15] > 0.5).float())  # spikes from the measured membrane, no model reset
    v.sum().backward()
    assert weight.grad.abs().sum() > 0
    membrane, current, _ = F.cuba_li_integration((F.linear(x, weight), F.linear(x, weight)), leak=0.,
                                                 tau_mem=6e-6, tau_syn=6e-6)
    reference = hxtorch_lif_reference(2 * F.linear(x, weight).detach(), 0., 0., 1e9, 6e-6, 6e-6)[1]
    torch.testing.assert_close(membrane.detach(), reference)  # a tuple of inputs is summed
    li_v, _, _ = F.cuba_li_integration(F.linear(x, weight), leak=0., hw_data=(measured[:, :, :3],))
    torch.testing.assert_close(li_v, measured)
    with pytest.raises(hx.ParameterError, match="hw_data holds 4 tensors"):
        F.cuba_lif_integration(x, hw_data=(None, None, None, None))
    refractory = F.cuba_refractory_lif_integration(x * 3, leak=0., reset=0., threshold=0.5, tau_mem=6e-6,
                                                   tau_syn=6e-6, refractory_time=2e-6)
    z_ref = refractory[0][:, 0, 0]
    assert all(not (z_ref[t] and (z_ref[t + 1] or z_ref[t + 2])) for t in range(len(z_ref) - 2))
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
    assert sample.dtype == np.float64 and sample.shape == (4,) and isinstance(label, int)
    transform = hxsnn.Synapse(2, 2, hxsnn.Experiment(), transform=functools.partial(
        weight_transforms.linear_saturating, scale=64.)).hardware_transform()
    assert transform == hx.transforms.LinearSaturating(scale=64.)


def test_transforms_follow_hxtorchs_dtypes_and_ties():
    from hxgraph.spiking.transforms import decode, encode
    trace = torch.tensor([[1., 2.], [2., 2.], [2., 0.]], requires_grad=True)
    decode.MaxOverTime()(trace).sum().backward()  # torch.amax: ties share the gradient
    assert trace.grad.tolist() == [[0.0, 0.5], [0.5, 0.5], [0.5, 0.0]]
    spikes_ = encode.CoordinatesToSpikes(38, 2e-6, 26e-6, t_bias=2e-6)(torch.tensor([[0.5, 1.0]], dtype=torch.float64))
    assert spikes_.dtype == torch.float32 and spikes_.shape == (38, 1, 3) and spikes_[14, 0, 0] == 1
    times = torch.tensor([[0.5e-6, 3.2e-6, float("inf")]])
    dense = encode.SpikeTimesToDense(1e-6, 5)(times)
    assert dense.dtype == torch.int64 and dense[:, 0].tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 1, 0],
                                                                  [0, 0, 0]]
    sparse = encode.SpikeTimesToSparseTensor(1e-6, 5)(times)
    assert sparse.is_sparse and torch.equal(sparse.to_dense(), dense)


def test_yinyang_dataset_is_hxtorchs():
    from hxgraph.spiking.datasets.yinyang import YinYangDataset
    seen = []
    dataset = YinYangDataset(size=30, seed=3, transform=lambda s: seen.append(type(s)) or s * 2)
    items = list(dataset)  # __getitem__ raises IndexError at the end, so iteration stops
    assert len(items) == 30 and seen[0] is np.ndarray
    sample, label = YinYangDataset(size=30, seed=3)[4]
    np.testing.assert_allclose(items[4][0], 2 * sample)
    assert sample[2] == 1 - sample[0] and sample[3] == 1 - sample[1]
    with pytest.raises(IndexError):
        dataset[30]
    big = YinYangDataset(r_small=0.2, r_big=1.0, size=200, seed=0)
    coordinates = np.stack([big[k][0][:2] for k in range(len(big))])
    assert coordinates.max() > 1.0  # raw coordinates in [0, 2 r_big], not rescaled
    for x, y in coordinates[:20]:
        assert np.hypot(x - 1.0, y - 1.0) <= 1.0
    # The class rule: the dots, then yin/yang by the published equations.
    assert dataset.which_class(0.75, 0.5) == 2 and dataset.which_class(0.25, 0.5) == 2
    assert dataset.which_class(0.5, 0.9) == 1 and dataset.which_class(0.5, 0.1) == 0
    assert dataset.dist_to_right_dot(0.75, 0.5) == 0.0 and dataset.dist_to_left_dot(0.25, 0.5) == 0.0
    counts = np.bincount([label for _, label in YinYangDataset(size=600, seed=1)], minlength=3)
    assert counts.min() > 150  # balanced by rejection sampling
    x, y, c = dataset.get_sample(goal=2)
    assert c == 2 and dataset.which_class(x, y) == 2
    with pytest.raises(hx.ParameterError, match="r_small must be smaller than r_big / 2"):
        YinYangDataset(r_small=0.3, r_big=0.5)


def test_linear_exponential_clamp_rolls_off_smoothly_towards_the_cap():
    cap, start = 1.5, 61.
    knee = start / 63 * cap
    weight = torch.tensor([0.3, -1.0, knee, -knee, 1.6, -40.0, 3.0], requires_grad=True)
    eye = torch.eye(7)
    clamped = F.linear_exponential_clamp(eye, weight.reshape(1, 7), cap=cap, start_weight=start)[:, 0]
    # Below the knee: unchanged. At the knee: continuous. Far beyond: just under ±cap, never beyond.
    assert clamped[0] == 0.3 and clamped[1] == -1.0
    torch.testing.assert_close(clamped[2:4], torch.tensor([knee, -knee]))
    assert 1.45 < float(clamped[4]) < 1.5 and -1.5 <= float(clamped[5]) < -1.499 and float(clamped[6]) <= 1.5
    # The slope is continuous at the knee (1 on both sides).
    w = torch.tensor([knee - 1e-4, knee + 1e-4], requires_grad=True)
    F.linear_exponential_clamp(torch.eye(2), w.reshape(1, 2), cap=cap, start_weight=start).sum().backward()
    torch.testing.assert_close(w.grad, torch.ones(2), atol=5e-3, rtol=0)  # slope 1 on both sides of the knee
    q = torch.tensor([0.1, 0.5, 1.2], requires_grad=True)
    out = F.linear_exponential_clamp(torch.eye(3), q.reshape(1, 3), cap=cap, quantize=True)[:, 0]
    grid = out.detach() / (cap / 63)
    torch.testing.assert_close(grid, grid.round())
    out.sum().backward()
    assert q.grad.tolist() == [1.0, 1.0, 1.0]  # straight through the rounding (below the knee)
    with pytest.raises(hx.ParameterError, match="start_weight must lie in"):
        F.linear_exponential_clamp(torch.eye(2), torch.ones(1, 2), start_weight=63.)
