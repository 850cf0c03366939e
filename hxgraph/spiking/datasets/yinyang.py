"""hxtorch's `YinYangDataset`: the yin-yang data set of Kriener et al., drawn as hxtorch draws it.

Points lie in a circle of radius `r_big` centred at (r_big, r_big); each belongs to the
yin, the yang or one of the two dots of radius `r_small`. Classes are balanced by rejection
sampling with numpy's `RandomState(seed)` in hxtorch's order (a goal class, then points
until one of that class), so the same seed gives hxtorch's samples. Items are `(sample,
label)` with `sample` a numpy float64 array `(x, y, 1 - x, 1 - y)` in raw coordinates
(`transform`, if given, receives that array) and `label` an int: 0 yang, 1 yin, 2 dot.
Indexing past the end raises `IndexError`, so `for sample, label in dataset` stops.

hxgraph's own task uses `hxgraph.datasets.YinYangDataset` (torch tensors, batched access).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import numpy as np
import torch

from hxgraph.errors import ParameterError

__all__ = ["YinYangDataset"]


class YinYangDataset(torch.utils.data.Dataset):
    """`YinYangDataset(r_small=0.1, r_big=0.5, size=1000, seed=42, transform=None)`, as in hxtorch (see module)."""

    def __init__(self, r_small: float = 0.1, r_big: float = 0.5, size: int = 1000, seed: int = 42,
                 transform: Optional[Callable[[np.ndarray], Any]] = None) -> None:
        super().__init__()
        if not 2 * r_small < r_big:
            raise ParameterError(f"YinYangDataset: r_small must be smaller than r_big / 2 (the dots must fit); got "
                                 f"r_small={r_small!r}, r_big={r_big!r}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ParameterError(f"YinYangDataset: size must be an integer >= 0; got {size!r}")
        self.rng = np.random.RandomState(seed)
        self.r_small, self.r_big = r_small, r_big
        self.transform = transform
        self.class_names = ["yin", "yang", "dot"]
        self._values: list[np.ndarray] = []
        self._classes: list[int] = []
        for _ in range(size):
            goal = self.rng.randint(3)  # one goal class per sample keeps the classes balanced
            x, y, label = self.get_sample(goal=goal)
            self._values.append(np.array([x, y, 1.0 - x, 1.0 - y]))
            self._classes.append(label)

    def get_sample(self, goal: Optional[int] = None) -> tuple[float, float, int]:
        """Draw points until one inside the sign has class `goal` (any class for None): (x, y, class)."""
        while True:
            x, y = self.rng.rand(2) * 2.0 * self.r_big
            if math.hypot(x - self.r_big, y - self.r_big) > self.r_big:
                continue
            label = self.which_class(x, y)
            if goal is None or label == goal:
                return x, y, label

    def which_class(self, x: float, y: float) -> int:
        """The class of a point inside the sign: 2 in a dot, 1 in the yin, 0 in the yang."""
        right, left = self.dist_to_right_dot(x, y), self.dist_to_left_dot(x, y)
        if right < self.r_small or left < self.r_small:
            return 2
        in_yin = (right <= self.r_small or self.r_small < left <= 0.5 * self.r_big
                  or (y > self.r_big and right > 0.5 * self.r_big))
        return int(in_yin)

    def dist_to_right_dot(self, x: float, y: float) -> float:
        """Distance of (x, y) to the centre of the right dot, (1.5 r_big, r_big)."""
        return float(np.sqrt((x - 1.5 * self.r_big) ** 2 + (y - self.r_big) ** 2))

    def dist_to_left_dot(self, x: float, y: float) -> float:
        """Distance of (x, y) to the centre of the left dot, (0.5 r_big, r_big)."""
        return float(np.sqrt((x - 0.5 * self.r_big) ** 2 + (y - self.r_big) ** 2))

    def __getitem__(self, index: int) -> tuple[Any, int]:
        sample = self._values[index].copy()  # a list: IndexError past the end ends iteration
        return (self.transform(sample) if self.transform else sample), self._classes[index]

    def __len__(self) -> int:
        return len(self._classes)
