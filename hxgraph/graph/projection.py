"""Projections: synapses from a source population onto a target population."""

from __future__ import annotations

from typing import Any, Callable, Optional

import attrs
import numpy as np
import torch

from hxgraph.errors import GraphError, ParameterError, ShapeError, WeightError, check_choice
from hxgraph.graph.connectivity import Connectivity, Dense, Sparse
from hxgraph.graph.memory import check_allocation
from hxgraph.graph.population import check_name
from hxgraph.graph.values import values_equal
from hxgraph.graph.weights import FromTensor, Initializer, KaimingUniform, LinearSaturating, as_transform

RECEPTORS = ("signed", "excitatory", "inhibitory")


def check_receptor(receptor: Any) -> str:
    return check_choice(receptor, RECEPTORS, "receptor", "valid receptors",
                        " (signed becomes an excitatory plus an inhibitory hardware projection)", ParameterError)


@attrs.frozen(eq=False)
class Projection:
    """Synapses `source` → `target` with their weights.

    `weight` is (out, in) for dense connectivity and one value per connection (in the
    connectivity's (target, source) order) for sparse. `receptor` "signed" lets weights of
    both signs through (an excitatory and an inhibitory hardware projection); "excitatory"
    and "inhibitory" fix the sign. `transform` maps software weights to hardware weights
    when the graph is lowered to the chip. `init` and `seed` record how the weights were made.
    """

    name: str
    source: str
    target: str
    connectivity: Connectivity
    weight: torch.Tensor
    receptor: str = "signed"
    init: Optional[Initializer] = None
    transform: Callable[[torch.Tensor], torch.Tensor] = attrs.field(factory=LinearSaturating)
    seed: Optional[int] = None

    def __attrs_post_init__(self) -> None:
        check_name(self.name, "projection")
        check_name(self.source, f"source population of projection {self.name!r}:")
        check_name(self.target, f"target population of projection {self.name!r}:")
        check_receptor(self.receptor)
        if not isinstance(self.connectivity, (Dense, Sparse)):
            raise GraphError(f"projection {self.name!r}: connectivity must be Dense or Sparse; got {self.connectivity!r}")
        if self.init is not None and not isinstance(self.init, Initializer):
            raise ParameterError(f"projection {self.name!r}: init must be an hxgraph.init initializer; got {self.init!r}")
        object.__setattr__(self, "transform", as_transform(self.transform, f"projection {self.name!r}"))
        check_weight(self.weight, self.connectivity, self.receptor, f"weight of projection {self.name!r}")

    @property
    def shape(self) -> tuple[int, int]:
        """(out, in) = (target size, source size)."""
        return self.connectivity.shape

    @property
    def is_sparse(self) -> bool:
        return isinstance(self.connectivity, Sparse)

    @property
    def connection_count(self) -> int:
        return self.connectivity.count

    def dense_weight(self) -> torch.Tensor:
        """The (out, in) weight matrix with zeros where there is no connection (allocates out×in)."""
        if isinstance(self.connectivity, Dense):
            return self.weight
        dense = torch.zeros(self.shape, dtype=self.weight.dtype, device=self.weight.device)
        dense[self.connectivity.targets, self.connectivity.sources] = self.weight
        return dense

    def project_sign_(self) -> int:
        """Project the weight onto the receptor's sign in place (see `project_sign_`); entries changed."""
        return project_sign_(self.weight, self.receptor)

    def check_storable(self, dtype: bool = True) -> None:
        """What a file can hold and `Graph.load` / `read_nir` accept: finite weights (of a dtype JSON can
        hold, unless `dtype=False`: NIR files keep other dtypes as float32 with the name in metadata)."""
        if not bool(torch.isfinite(self.weight.detach()).all()):
            bad = int((~torch.isfinite(self.weight.detach())).sum())
            raise WeightError(f"projection {self.name!r} has {bad} NaN or infinite weight(s) (training diverged?); "
                              "a file cannot hold them — fix or re-initialise the weights before saving")
        if dtype and self.weight.dtype not in STORABLE_DTYPES:
            raise WeightError(f"projection {self.name!r} holds {str(self.weight.dtype).replace('torch.', '')} "
                              f"weights, which the file format cannot hold; storable: float16, float32, float64 — "
                              f"convert them (e.g. weight.data = weight.data.float())")

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Projection) and self.name == other.name and self.source == other.source
                and self.target == other.target and self.connectivity == other.connectivity
                and values_equal(self.weight, other.weight) and self.receptor == other.receptor
                and self.init == other.init and self.transform == other.transform and self.seed == other.seed)

    __hash__ = None  # type: ignore[assignment]


STORABLE_DTYPES = (torch.float16, torch.float32, torch.float64)


def project_sign_(weight: torch.Tensor, receptor: str) -> int:
    """The chip's sign constraint as a projection step: in place, an excitatory weight below 0
    becomes 0 and an inhibitory one above 0 becomes 0. Returns how many entries changed.

    Training with a fixed-sign projection is projected gradient descent: an optimizer step may
    take a weight across 0, and every use of the weight (the mock's forward pass, mapping onto
    the chip, saving, NIR export) first projects it back, so the stored weight, the mock, the
    chip and every file agree and a weight at 0 can grow again.
    """
    if receptor == "signed":
        return 0
    with torch.no_grad():
        wrong = weight < 0 if receptor == "excitatory" else weight > 0
        count = int(wrong.sum())
        if count:
            weight.masked_fill_(wrong, 0.0)
    return count


def check_weight(weight: Any, connectivity: Connectivity, receptor: str, what: str) -> None:
    """Weights must be a finite floating tensor of the connectivity's shape and of the receptor's sign."""
    if not isinstance(weight, torch.Tensor) or not weight.is_floating_point():
        raise WeightError(f"{what} must be a floating-point tensor; got {_describe(weight)}")
    expected = connectivity.shape if isinstance(connectivity, Dense) else (connectivity.count,)
    if tuple(weight.shape) != tuple(expected):
        raise ShapeError(f"{what} has shape {tuple(weight.shape)}; expected {tuple(expected)}"
                         + (" (out, in) = (target size, source size)" if isinstance(connectivity, Dense)
                            else " (one value per connection)"))
    if not bool(torch.isfinite(weight).all()):
        bad = int((~torch.isfinite(weight)).sum())
        raise WeightError(f"{what} has {bad} NaN or infinite entries; weights must be finite")
    if receptor == "excitatory" and bool((weight < 0).any()):
        raise WeightError(f"{what} has negative entries but the receptor is 'excitatory'; "
                          "use receptor='signed' for weights of both signs")
    if receptor == "inhibitory" and bool((weight > 0).any()):
        raise WeightError(f"{what} has positive entries but the receptor is 'inhibitory' (weights <= 0); "
                          "use receptor='signed' for weights of both signs")


def make_weight(connectivity: Connectivity, receptor: str, init: Optional[Initializer],
                weight: Any, seed: int, what: str) -> torch.Tensor:
    """The projection's initial weights: a copy of `weight` if given, else drawn by `init`.

    Drawn weights of a fixed-sign projection take the magnitude of the draw with the
    receptor's sign, so an initializer can be used with any receptor.
    """
    if weight is not None and init is not None:
        raise ParameterError(f"{what}: give either weight=... or init=..., not both")
    if weight is None and isinstance(init, FromTensor):
        weight = init.tensor
    if weight is not None:
        return _given_weight(weight, connectivity, what)
    init = KaimingUniform() if init is None else init
    if not isinstance(init, Initializer):
        raise ParameterError(f"{what}: init must be an hxgraph.init initializer (kaiming_uniform, normal, uniform, "
                             f"constant, from_tensor); got {init!r}")
    check_allocation(4.0 * connectivity.count, f"{what}: {connectivity.count:,} weights",
                     "use a sparse projection (hxgraph.connect) or smaller populations")
    generator = torch.Generator().manual_seed(seed)
    drawn = init(connectivity.count, connectivity.shape[1], generator).to(torch.float32)
    if receptor == "excitatory":
        drawn = drawn.abs()
    elif receptor == "inhibitory":
        drawn = -drawn.abs()
    return drawn.reshape(connectivity.shape) if isinstance(connectivity, Dense) else drawn


def _given_weight(weight: Any, connectivity: Connectivity, what: str) -> torch.Tensor:
    if isinstance(weight, torch.Tensor):
        tensor = weight.detach().cpu().clone()
    else:
        try:
            tensor = torch.as_tensor(np.asarray(weight))
        except (TypeError, ValueError) as exc:
            raise WeightError(f"{what} must be a tensor or array of numbers; got {_describe(weight)}") from exc
    if tensor.dtype == torch.bool or tensor.is_complex():
        raise WeightError(f"{what} must hold real numbers; got {tensor.dtype}")
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.float32)
    if isinstance(connectivity, Sparse) and tuple(tensor.shape) == connectivity.shape:
        # A full (out, in) matrix for a sparse projection: take the connected entries and refuse
        # non-zero values elsewhere rather than dropping them silently.
        off = tensor.clone()
        off[connectivity.targets, connectivity.sources] = 0
        stray = torch.nonzero(off)
        if stray.numel():
            t, s = stray[0].tolist()
            raise WeightError(f"{what} has {stray.shape[0]} non-zero entries where there is no connection "
                              f"(first: source {s} → target {t}); zero them or add those connections")
        tensor = tensor[connectivity.targets, connectivity.sources]
    return tensor


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"{type(value).__name__} {value!r}"[:100]
