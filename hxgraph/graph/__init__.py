"""The graph IR: populations, projections, parameters and the Graph itself.

This package imports nothing else of hxgraph's (besides the error types); the back ends
read it, the builder writes it.
"""

from hxgraph.graph.connectivity import Dense, Sparse
from hxgraph.graph.graph import Graph
from hxgraph.graph.neurons import MODELS, NeuronModel, ParamSpec
from hxgraph.graph.population import Placement, Population
from hxgraph.graph.projection import RECEPTORS, Projection
from hxgraph.graph.values import Mixed, hardware_value, model_value
from hxgraph.graph.weights import (Constant, FromTensor, Initializer, KaimingUniform, LinearSaturating, Normal,
                                   Uniform, linear_saturating)

__all__ = ["Dense", "Sparse", "Graph", "MODELS", "NeuronModel", "ParamSpec", "Placement", "Population",
           "RECEPTORS", "Projection", "Mixed", "hardware_value", "model_value", "Constant", "FromTensor",
           "Initializer", "KaimingUniform", "LinearSaturating", "Normal", "Uniform", "linear_saturating"]
