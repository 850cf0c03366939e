"""Weight initializers for projections: `hx.init.normal(0.8, 0.25)` and friends.

Each returns a small value object that the graph stores (and writes to JSON), so a graph
says how its weights were drawn. Fixed-sign projections take the draw's magnitude.
"""

from __future__ import annotations

from typing import Any

from hxgraph.graph.weights import Constant, FromTensor, Initializer, KaimingUniform, Normal, Uniform


def kaiming_uniform() -> KaimingUniform:
    """U(-1/sqrt(in), 1/sqrt(in)), torch's Kaiming-uniform with a = sqrt(5): the default, as in hxtorch."""
    return KaimingUniform()


def normal(mean: float = 0.0, std: float = 1.0) -> Normal:
    """Normally distributed weights."""
    return Normal(mean, std)


def uniform(low: float = -1.0, high: float = 1.0) -> Uniform:
    """Uniformly distributed weights on [low, high)."""
    return Uniform(low, high)


def constant(value: float) -> Constant:
    """Every weight equal to `value`."""
    return Constant(value)


def from_tensor(tensor: Any) -> FromTensor:
    """Weights copied from `tensor`: (out, in), or for sparse projections (connections,) or (out, in)."""
    return FromTensor(tensor)


__all__ = ["Initializer", "kaiming_uniform", "normal", "uniform", "constant", "from_tensor"]
