"""`SparseSynapse`: synapses only where `connections` says, storing one weight per connection.

hxtorch keeps a dense (out, in) weight and a dense mask; here the trainable parameter is
`weight_values`, one value per connection (in the graph's (target, source) order), so
memory scales with the number of connections. `weight` gives the familiar dense (out, in)
view, built from the values on access (differentiable; zeros off the connections), and can
be assigned to. Edits of a handed-out view — `nn.init.normal_(syn.weight)`,
`syn.weight.data[...] = ...`, `syn.weight.data.clamp_(...)`, in-place ops under `no_grad` —
reach the connections before the values are next read (off-connection entries are ignored,
as hxtorch's mask ignores them). The graph projection holds `weight_values` itself, so what
an optimizer trains is what the mock and the chip run.
"""

from __future__ import annotations

import math
import weakref
from typing import Any, Callable, Optional, Union

import torch
from torch import nn

from hxgraph.errors import ParameterError, ShapeError
from hxgraph.graph import Projection, Sparse
from hxgraph.graph.weights import linear_saturating
from hxgraph.spiking.experiment import Experiment
from hxgraph.spiking.functional import linear_sparse
from hxgraph.spiking.handles import SynapseHandle
from hxgraph.spiking.modules import HXModule, _check_chip_coordinate, _Projection

__all__ = ["SparseSynapse"]

Func = Union[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], type]


class SparseSynapse(_Projection):
    """Synapses for the non-zero entries of `connections` (shape (in, out), dense or torch sparse).

    `func(input, weight)` computes the output from (…, in) spikes and the dense (out, in)
    weight: a callable or a `torch.autograd.Function` subclass (default `linear_sparse`,
    which the mock runs as a sparse product without building the dense weight).
    `transform` maps software to hardware weights on the chip only (default
    `linear_saturating`; hardware weights are then rounded half to even, as for `Synapse`).
    `device` and `dtype` apply to the weights.
    """

    output_type = SynapseHandle
    _kind = "sparse_synapse"

    def __init__(self, connections: Any, experiment: Experiment, func: Func = linear_sparse,
                 execution_instance: Any = None, device: Union[str, torch.device, None] = None,
                 dtype: Optional[torch.dtype] = None,
                 transform: Callable[[torch.Tensor], torch.Tensor] = linear_saturating, *,
                 chip_coordinate: Any = None, name: Optional[str] = None) -> None:
        super().__init__(experiment, name)
        _check_chip_coordinate(self, chip_coordinate)
        shape = getattr(connections, "shape", None)
        if shape is None or len(shape) != 2:
            raise ShapeError(f"{self._who()}: connections must be a 2-d tensor of shape (in_features, out_features); "
                             f"got {type(connections).__name__} of shape {shape}")
        self.in_features, self.out_features = int(shape[0]), int(shape[1])
        # Only the index pairs are kept (memory ∝ connections), sorted by (target, source).
        self.connectivity = Sparse.from_connections(connections, self.in_features, self.out_features)
        if not callable(func):
            raise ParameterError(f"{self._who()}: func must be callable as func(input, weight) or a "
                                 f"torch.autograd.Function subclass; got {func!r}")
        self.func = func
        self.transform = transform
        self.hardware_transform()  # validate now
        self.weight_values = nn.Parameter(torch.empty(self.connectivity.count, device=device, dtype=dtype))
        # Dense views handed out by `weight`, with the connection values each showed: [view or weakref, values].
        self._views: list[list[Any]] = []
        self.reset_parameters()
        self.register_hw_entity()

    # ------------------------------------------------------------------ structure
    @property
    def connections(self) -> torch.Tensor:
        """The connections as a coalesced torch sparse (in, out) tensor of ones."""
        indices = torch.stack([self.connectivity.sources, self.connectivity.targets])
        return torch.sparse_coo_tensor(indices, torch.ones(self.connectivity.count),
                                       (self.in_features, self.out_features), check_invariants=True).coalesce()

    @property
    def connection_count(self) -> int:
        return self.connectivity.count

    @property
    def mask(self) -> torch.Tensor:
        """Dense boolean (out, in) mask of the connections, as hxtorch's attribute (allocates out×in)."""
        return self.connectivity.mask().to(self.weight_values.device)

    # ------------------------------------------------------------------ weights
    def reset_parameters(self) -> None:
        """Kaiming-uniform draw, U(-1/sqrt(in), 1/sqrt(in)), for the connections only (torch's global generator).

        Non-connections have no stored weight; in the dense view they are zero.
        """
        bound = 1.0 / math.sqrt(self.in_features)
        self.absorb_weight_edits()
        with torch.no_grad():
            self.weight_values.uniform_(-bound, bound)

    @property
    def weight(self) -> torch.Tensor:
        """The dense (out, in) weight: the connection values, zero elsewhere (a new tensor on every access).

        Gradients through it reach `weight_values` at the connections only. In-place edits of
        the returned tensor (also through `.data`) reach the connections before the values are
        next used; entries off the connections are ignored.
        """
        dense = self.dense_weight()
        # Held strongly until the next read (a temporary such as `nn.init.normal_(syn.weight)`
        # must survive its statement), weakly after that (a view the user keeps stays tracked).
        self._views.append([dense, self.weight_values.detach().clone()])
        return dense

    @weight.setter
    def weight(self, value: Any) -> None:
        """Set the weights from an (out, in) matrix or one value per connection.

        Entries of an (out, in) matrix off the connections are ignored, as hxtorch's mask does.
        """
        self.absorb_weight_edits()
        tensor = value.detach() if isinstance(value, torch.Tensor) else torch.as_tensor(value)
        targets, sources = self.connectivity.targets, self.connectivity.sources
        if tuple(tensor.shape) == (self.out_features, self.in_features):
            tensor = tensor[targets.to(tensor.device), sources.to(tensor.device)]
        elif tuple(tensor.shape) != (self.connectivity.count,):
            raise ShapeError(f"{self._who()}: weight must be (out, in) = ({self.out_features}, {self.in_features}) "
                             f"or one value per connection ({self.connectivity.count},); got {tuple(tensor.shape)}")
        with torch.no_grad():
            self.weight_values.copy_(tensor)

    @torch.no_grad()
    def absorb_weight_edits(self) -> None:
        """Write edits made to dense views from `weight` into `weight_values` (called before every read).

        A connection whose value in a view differs from what the view showed when it was
        handed out takes the view's value; views nobody holds any more are forgotten.
        """
        alive = []
        for entry in self._views:
            view = entry[0]() if isinstance(entry[0], weakref.ref) else entry[0]
            if view is None:
                continue
            data = view.data
            if tuple(data.shape) != (self.out_features, self.in_features):
                raise ShapeError(f"{self._who()}: a dense weight view was given data of shape {tuple(data.shape)}; "
                                 f"it must stay (out, in) = ({self.out_features}, {self.in_features})")
            values = data[self.connectivity.targets.to(data.device), self.connectivity.sources.to(data.device)]
            values = values.to(self.weight_values.device, self.weight_values.dtype)
            edited = values != entry[1]
            if bool(edited.any()):
                self.weight_values.data[edited] = values[edited]
            entry[0], entry[1] = weakref.ref(view), values
            alive.append(entry)
        self._views = alive

    def graph_weight(self) -> torch.Tensor:
        self.absorb_weight_edits()
        return self.weight_values

    def dense_weight(self) -> torch.Tensor:
        """The dense (out, in) weight for computing with; unlike `weight`, edits to it are not tracked
        (the forward pass builds one per call and must not leave a view to compare on every read)."""
        self.absorb_weight_edits()
        dense = self.weight_values.new_zeros((self.out_features, self.in_features))
        return dense.index_put((self.connectivity.targets.to(dense.device),
                                self.connectivity.sources.to(dense.device)), self.weight_values)

    def __getstate__(self) -> dict:
        # Copies and pickles carry the values, not the views handed out (deepcopy refuses non-leaf tensors).
        self.absorb_weight_edits()
        state = dict(self.__dict__)
        state["_views"] = []
        return state

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        self.absorb_weight_edits()
        super()._save_to_state_dict(destination, prefix, keep_vars)

    def apply_func(self, input: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:  # noqa: A002
        if self.func is linear_sparse:
            return linear_sparse(input, weight, self.mask)
        if isinstance(self.func, type) and issubclass(self.func, torch.autograd.Function):
            return self.func.apply(input, weight)
        return self.func(input, weight)

    @property
    def uses_default_func(self) -> bool:
        """The default `linear_sparse` runs in the mock as a sparse product (no dense weight)."""
        return self.func is linear_sparse

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any, **kwargs: Any) -> None:
        # Checkpoints of hxtorch's SparseSynapse hold a dense (out, in) "weight": take its connection values.
        dense = state_dict.pop(prefix + "weight", None)
        if dense is not None and prefix + "weight_values" not in state_dict:
            state_dict[prefix + "weight_values"] = dense[self.connectivity.targets, self.connectivity.sources]
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------ chip
    def add_to_network_graph(self, pre: Any, post: Any, builder: Any) -> tuple[Projection, Projection]:
        """Add this synapse to a fluent builder as its two hardware projections; returns (excitatory, inhibitory).

        `builder` is an `hxgraph.Experiment` (the fluent builder); `pre` and `post` name its
        source and target populations (names, or modules whose names they are). Both
        projections list exactly this module's connections: `<name>_exc` (receptor
        "excitatory") carries the positive weights, `<name>_inh` ("inhibitory") the negative
        ones, each zero where the other sign applies — a connection keeps a synapse of each
        sign, so a sign change is a weight update, not a new routing. The weights are a
        snapshot (copies) of the current values; `transform` goes along. (`run` itself
        records one signed projection, which the router splits the same way.)
        """
        from hxgraph.builder import Experiment as Builder
        if not isinstance(builder, Builder):
            raise ParameterError(f"{self._who()}.add_to_network_graph: builder must be an hxgraph.Experiment (the "
                                 f"fluent builder); got {type(builder).__name__}")
        pre_name = pre.name if isinstance(pre, HXModule) else pre
        post_name = post.name if isinstance(post, HXModule) else post
        values = self.graph_weight().detach().cpu()
        names = []
        for suffix, receptor, weight in (("exc", "excitatory", values.clamp(min=0)),
                                         ("inh", "inhibitory", values.clamp(max=0))):
            name = f"{self.name}_{suffix}"
            builder.sparse(pre_name, post_name, self.connections, name=name, receptor=receptor,
                           weight=weight, transform=self.transform)
            names.append(name)
        graph = builder.graph
        return graph.projection(names[0]), graph.projection(names[1])

    def extra_repr(self) -> str:
        func = getattr(self.func, "__name__", type(self.func).__name__)
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"connections={self.connectivity.count}, func={func}, name={self.name!r}")

