"""The yin-yang data set (Kriener et al. 2021), generated exactly as the published generator.

Points are drawn uniformly in the yin-yang sign of radius ``r_big`` (centred at
(r_big, r_big)) and labelled by region: the two dots of radius ``r_small`` (label 2) and
the two comma-shaped halves (labels 0 and 1). Classes are balanced by drawing a goal class
per sample and rejection-sampling until a point of that class is found, all from
``numpy.random.RandomState(seed)`` in the published order, so a seed reproduces the
published set (conventionally train 42, validation 41, test 40).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch.utils.data import Dataset

from hxgraph.errors import InputError, ParameterError

__all__ = ["YinYangDataset", "yinyang_class"]


def yinyang_class(x: float, y: float, r_small: float = 0.1, r_big: float = 0.5) -> int:
    """Label of the point (x, y) of the sign: 2 in a dot, 1 in the upper half, else 0.

    Label 1 is the upper half outside the right mid circle (radius r_big / 2 around the
    right dot) plus the left mid circle; label 0 is the rest. This is the published
    generator's labelling (its class names call 0 "yin" and 1 "yang"). The point is assumed
    to lie within the big circle; the generator's arithmetic is used so labels match
    exactly, including points on a boundary.
    """
    # distances to the centres of the two dots, which are also the mid circles' centres
    to_right = np.sqrt((x - 1.5 * r_big) ** 2 + (y - r_big) ** 2)
    to_left = np.sqrt((x - 0.5 * r_big) ** 2 + (y - r_big) ** 2)
    if to_right < r_small or to_left < r_small:
        return 2
    upper = (to_right <= r_small
             or r_small < to_left <= 0.5 * r_big
             or (y > r_big and to_right > 0.5 * r_big))
    return int(upper)


class YinYangDataset(Dataset):
    """The yin-yang classification data set; items are ``(sample, label)``.

    ``sample`` is a float32 tensor ``(x, y, 1 - x, 1 - y)`` with coordinates normalised
    to [0, 1] by dividing by ``2 * r_big`` (the mirrored pair keeps the summed input
    constant, which helps time-to-first-spike networks); ``label`` is an int in {0, 1, 2}.
    ``transform``, if given, is applied to the sample.
    """

    class_names = ("yin", "yang", "dot")

    def __init__(self, r_small: float = 0.1, r_big: float = 0.5, size: int = 1000,
                 seed: int = 42, transform: Optional[Callable[[torch.Tensor], Any]] = None
                 ) -> None:
        super().__init__()
        for name, value in (("r_small", r_small), ("r_big", r_big)):
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not math.isfinite(value)):
                raise ParameterError(f"{name} must be a finite number, got {value!r}.")
        if not 0 < r_big:
            raise ParameterError(f"r_big must be > 0, got {r_big!r}.")
        if not 0 < r_small < r_big / 2:
            raise ParameterError(
                f"r_small must lie in (0, r_big / 2) = (0, {r_big / 2:g}) so the dots fit "
                f"inside the mid circles, got {r_small!r}.")
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 0 < size <= 2**40:
            raise ParameterError(f"size must be a positive integer (at most 2**40 samples), got {size!r}.")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ParameterError(f"seed must be a non-negative integer, got {seed!r}.")
        if transform is not None and not callable(transform):
            raise ParameterError(f"transform must be callable or None, got {transform!r}.")
        self.r_small = float(r_small)
        self.r_big = float(r_big)
        self.seed = int(seed)
        self.transform = transform

        rng = np.random.RandomState(seed)
        points = np.empty((int(size), 2), dtype=np.float64)
        labels = np.empty(int(size), dtype=np.int64)
        for index in range(int(size)):
            goal = rng.randint(3)
            points[index], labels[index] = self._draw(rng, goal)
        scaled = points / (2 * self.r_big)
        samples = np.concatenate([scaled, 1.0 - scaled], axis=1)
        self.samples = torch.from_numpy(samples.astype(np.float32))
        self.labels = torch.from_numpy(labels)

    def _draw(self, rng: np.random.RandomState, goal: int) -> tuple[tuple[float, float], int]:
        """Rejection-sample a point in the big circle whose class is ``goal``."""
        r_big = self.r_big
        while True:
            x, y = rng.rand(2) * 2.0 * r_big
            if np.sqrt((x - r_big) ** 2 + (y - r_big) ** 2) > r_big:
                continue
            label = yinyang_class(x, y, self.r_small, r_big)
            if label == goal:
                return (x, y), label

    def __len__(self) -> int:
        return self.labels.shape[0]

    def __getitem__(self, index: int) -> tuple[Any, int]:
        if isinstance(index, torch.Tensor):
            index = int(index)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise InputError(f"YinYangDataset index must be an integer, got {index!r}.")
        if not -len(self) <= index < len(self):
            raise InputError(
                f"YinYangDataset index {index} is out of range for {len(self)} samples.")
        sample = self.samples[index].clone()
        if self.transform is not None:
            sample = self.transform(sample)
        return sample, int(self.labels[index])
