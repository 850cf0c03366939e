"""Software → hardware weight transforms (defined with the graph, which stores them)."""

from hxgraph.graph.weights import LinearSaturating, linear_saturating

__all__ = ["LinearSaturating", "linear_saturating"]
