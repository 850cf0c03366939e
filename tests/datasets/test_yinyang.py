"""The yin-yang data set: determinism, layout, balance and geometry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hxgraph.datasets import YinYangDataset, yinyang_class
from hxgraph.errors import InputError, ParameterError


@pytest.fixture(scope="module")
def train() -> YinYangDataset:
    return YinYangDataset(size=3000, seed=42)


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b = YinYangDataset(size=200, seed=7), YinYangDataset(size=200, seed=7)
    assert torch.equal(a.samples, b.samples) and torch.equal(a.labels, b.labels)
    c = YinYangDataset(size=200, seed=8)
    assert not torch.equal(a.samples, c.samples)


def test_first_samples_of_seed_42_are_pinned() -> None:
    # regression pin of the published generator's seed-42 stream (train set)
    data = YinYangDataset(size=3, seed=42)
    expected = torch.tensor([[0.6803075671195984, 0.4504992663860321],
                             [0.09767211228609085, 0.6842330098152161],
                             [0.7553614377975464, 0.4251558780670166]])
    assert torch.equal(data.samples[:, :2], expected)
    assert data.labels.tolist() == [2, 1, 2]


def test_a_smaller_set_is_a_prefix_of_a_larger_one() -> None:
    small, large = YinYangDataset(size=50), YinYangDataset(size=120)
    assert torch.equal(small.samples, large.samples[:50])


def test_items_shapes_and_types(train: YinYangDataset) -> None:
    assert len(train) == 3000
    sample, label = train[0]
    assert isinstance(sample, torch.Tensor) and sample.shape == (4,)
    assert sample.dtype == torch.float32
    assert isinstance(label, int) and label in (0, 1, 2)
    assert torch.allclose(sample[2:], 1 - sample[:2])
    assert torch.all((train.samples >= 0) & (train.samples <= 1))
    loader = torch.utils.data.DataLoader(train, batch_size=64)
    batch, labels = next(iter(loader))
    assert batch.shape == (64, 4) and labels.shape == (64,)


def test_classes_are_balanced(train: YinYangDataset) -> None:
    counts = np.bincount(train.labels.numpy(), minlength=3) / len(train)
    assert np.all(np.abs(counts - 1 / 3) < 0.03)


def test_samples_lie_in_the_big_circle(train: YinYangDataset) -> None:
    xy = train.samples[:, :2].double()
    assert torch.all(((xy - 0.5) ** 2).sum(1).sqrt() <= 0.5 + 1e-6)


def test_labels_match_the_geometry(train: YinYangDataset) -> None:
    xy = train.samples[:, :2].double()
    right = ((xy - torch.tensor([0.75, 0.5], dtype=torch.float64)) ** 2).sum(1).sqrt()
    left = ((xy - torch.tensor([0.25, 0.5], dtype=torch.float64)) ** 2).sum(1).sqrt()
    labels = train.labels
    margin = 1e-5  # float32 rounding of the stored coordinates
    # dots: within r_small of either dot centre
    assert torch.all(torch.minimum(left, right)[labels == 2] < 0.1 + margin)
    assert torch.all(torch.minimum(left, right)[labels != 2] > 0.1 - margin)
    # label 1 owns the left mid circle (around the left dot) and the top outside the right
    # mid circle; label 0 the right mid circle and the bottom outside the left one
    ring_left = (left > 0.1 + margin) & (left < 0.25 - margin)
    ring_right = (right > 0.1 + margin) & (right < 0.25 - margin)
    assert torch.all(labels[ring_left] == 1) and torch.all(labels[ring_right] == 0)
    top = (xy[:, 1] > 0.5 + margin) & (right > 0.25 + margin) & (left > 0.25 + margin)
    bottom = (xy[:, 1] < 0.5 - margin) & (right > 0.25 + margin) & (left > 0.25 + margin)
    assert torch.all(labels[top] == 1) and torch.all(labels[bottom] == 0)
    assert ring_left.any() and ring_right.any() and top.any() and bottom.any()


def test_yinyang_class_on_hand_picked_points() -> None:
    assert yinyang_class(0.75, 0.5) == 2  # right dot centre
    assert yinyang_class(0.25, 0.5) == 2  # left dot centre
    assert yinyang_class(0.5, 0.95) == 1  # top
    assert yinyang_class(0.5, 0.05) == 0  # bottom
    assert yinyang_class(0.25, 0.7) == 1  # left mid circle, outside the dot
    assert yinyang_class(0.75, 0.3) == 0  # right mid circle, outside the dot


def test_scaling_with_other_radii() -> None:
    data = YinYangDataset(r_small=0.3, r_big=1.0, size=300, seed=1)
    assert torch.all((data.samples >= 0) & (data.samples <= 1))
    assert set(data.labels.tolist()) == {0, 1, 2}


def test_transform_is_applied_to_the_sample() -> None:
    data = YinYangDataset(size=5, transform=lambda s: s * 2)
    sample, _ = data[1]
    assert torch.equal(sample, data.samples[1] * 2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(size=0), "size"), (dict(size=2.5), "size"), (dict(r_small=0.0), "r_small"),
    (dict(r_small=0.3), r"r_small .*0\.25"), (dict(r_big=-1.0), "r_big"),
    (dict(seed=-1), "seed"), (dict(transform=3), "transform")])
def test_invalid_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        YinYangDataset(**kwargs)


def test_index_out_of_range() -> None:
    data = YinYangDataset(size=4)
    with pytest.raises(InputError, match="out of range"):
        data[4]
    assert torch.equal(data[-1][0], data.samples[3])
