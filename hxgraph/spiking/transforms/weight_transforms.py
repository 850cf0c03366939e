"""Software → hardware weight transforms: `linear_saturating(weight, scale=1., min_weight=-63., max_weight=63.)`.

`functools.partial(linear_saturating, scale=64)` (how hxtorch scripts set a scale) is stored
in the graph as `hxgraph.transforms.LinearSaturating(scale=64)`.
"""

from hxgraph.graph.weights import LinearSaturating, linear_saturating

__all__ = ["linear_saturating", "LinearSaturating"]
