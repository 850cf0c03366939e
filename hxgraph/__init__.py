"""hxgraph: spiking-network experiments for a BrainScaleS-2-like chip, without the chip."""

from hxgraph.errors import (
    HxGraphError, GraphError, UnknownNameError, DuplicateNameError, ShapeError,
    ParameterError, WeightError, SerializationError, InputError,
)

__version__ = "0.1.0"
