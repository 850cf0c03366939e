"""Which source neurons connect to which target neurons: all of them (dense) or a list (sparse).

Shapes follow the weight matrix, (out, in) = (target size, source size). Sparse
connectivity stores only index pairs, never an out×in mask, so memory scales with the
number of connections.
"""

from __future__ import annotations

from typing import Any, Union

import attrs
import numpy as np
import torch

from hxgraph.errors import ShapeError, GraphError


@attrs.frozen
class Dense:
    """Every source neuron connects to every target neuron."""

    shape: tuple[int, int]  # (out, in)

    @property
    def kind(self) -> str:
        return "dense"

    @property
    def count(self) -> int:
        return self.shape[0] * self.shape[1]


@attrs.frozen(eq=False)
class Sparse:
    """Only the listed pairs connect.

    `indices` is an int64 tensor of shape (2, count): row 0 the target neuron, row 1 the
    source neuron, sorted by (target, source) without repeats — the coalesced COO layout of
    the (out, in) weight matrix. Weights of a sparse projection are one value per pair in
    this order.
    """

    shape: tuple[int, int]  # (out, in)
    indices: torch.Tensor

    def __attrs_post_init__(self) -> None:
        out_size, in_size = self.shape
        if out_size * in_size >= 2**63:
            # Pairs are ordered by their int64 linear index target * in + source.
            raise ShapeError(f"sparse shape (out, in) = {self.shape} is too large: out × in must stay below 2**63")
        idx = self.indices
        if not isinstance(idx, torch.Tensor) or idx.dtype != torch.int64 or idx.dim() != 2 or idx.shape[0] != 2:
            raise ShapeError("sparse indices must be an int64 tensor of shape (2, connections)")
        if idx.shape[1] == 0:
            raise GraphError("a sparse projection needs at least one connection; connections has no non-zero entry")
        if int(idx[0].min()) < 0 or int(idx[0].max()) >= out_size or int(idx[1].min()) < 0 or int(idx[1].max()) >= in_size:
            raise ShapeError(f"sparse indices out of range for shape (out, in) = {self.shape}")
        linear = idx[0] * in_size + idx[1]
        if idx.shape[1] > 1 and not bool((linear[1:] > linear[:-1]).all()):
            raise GraphError("sparse indices must be sorted by (target, source) without repeated pairs")

    @property
    def kind(self) -> str:
        return "sparse"

    @property
    def count(self) -> int:
        return int(self.indices.shape[1])

    @property
    def targets(self) -> torch.Tensor:
        return self.indices[0]

    @property
    def sources(self) -> torch.Tensor:
        return self.indices[1]

    def mask(self) -> torch.Tensor:
        """Dense (out, in) boolean mask; allocates out×in, so only for small projections."""
        mask = torch.zeros(self.shape, dtype=torch.bool)
        mask[self.indices[0], self.indices[1]] = True
        return mask

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Sparse) and self.shape == other.shape
                and torch.equal(self.indices, other.indices))

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def from_connections(cls, connections: Any, in_size: int, out_size: int) -> "Sparse":
        """Build from `connections` of shape (in, out), non-zero = connected (hxtorch's convention).

        Accepts a dense tensor, a torch sparse tensor (COO/CSR/CSC), a numpy array or nested lists.
        A torch sparse tensor is read without densifying it.
        """
        expected = (in_size, out_size)
        if isinstance(connections, torch.Tensor) and connections.layout != torch.strided:
            if tuple(connections.shape) != expected:
                raise ShapeError(_shape_message(tuple(connections.shape), expected))
            coo = connections.to_sparse_coo().coalesce() if connections.layout != torch.sparse_coo else connections.coalesce()
            values = coo.values()
            _check_finite(values)
            keep = values != 0
            src, tgt = coo.indices()[0][keep], coo.indices()[1][keep]
        else:
            dense = connections if isinstance(connections, torch.Tensor) else _to_tensor(connections)
            if tuple(dense.shape) != expected:
                raise ShapeError(_shape_message(tuple(dense.shape), expected))
            if dense.is_floating_point():
                _check_finite(dense)
            src, tgt = torch.nonzero(dense, as_tuple=True)
        src, tgt = src.to(torch.int64).cpu(), tgt.to(torch.int64).cpu()
        order = torch.argsort(tgt * in_size + src)
        return cls((out_size, in_size), torch.stack([tgt[order], src[order]]))

    @classmethod
    def from_pairs(cls, sources: Any, targets: Any, in_size: int, out_size: int) -> "Sparse":
        """Build from parallel lists of source and target neuron indices (duplicates refused)."""
        src = torch.as_tensor(sources, dtype=torch.int64).reshape(-1)
        tgt = torch.as_tensor(targets, dtype=torch.int64).reshape(-1)
        if src.shape != tgt.shape:
            raise ShapeError(f"sources and targets must have the same length; got {src.numel()} and {tgt.numel()}")
        if src.numel() and (int(src.min()) < 0 or int(src.max()) >= in_size):
            raise ShapeError(f"source indices must lie in [0, {in_size}); got range [{int(src.min())}, {int(src.max())}]")
        if tgt.numel() and (int(tgt.min()) < 0 or int(tgt.max()) >= out_size):
            raise ShapeError(f"target indices must lie in [0, {out_size}); got range [{int(tgt.min())}, {int(tgt.max())}]")
        linear = tgt * in_size + src
        order = torch.argsort(linear)
        if linear.numel() > 1 and not bool((linear[order][1:] > linear[order][:-1]).all()):
            raise GraphError("connection pairs contain a repeated (source, target) pair")
        return cls((out_size, in_size), torch.stack([tgt[order], src[order]]))


Connectivity = Union[Dense, Sparse]


def _to_tensor(value: Any) -> torch.Tensor:
    try:
        return torch.as_tensor(np.asarray(value))
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"connections must be a tensor, array or nested list of shape (in, out); got {type(value).__name__}") from exc


def _check_finite(values: torch.Tensor) -> None:
    if values.is_floating_point() and not bool(torch.isfinite(values).all()):
        raise GraphError("connections contain NaN or infinite entries; use 0 for 'no connection' and 1 for 'connection'")


def _shape_message(got: tuple, expected: tuple) -> str:
    hint = " (it looks transposed: connections are (in, out), the weight is (out, in))" if got == expected[::-1] else ""
    return (f"connections have shape {got}; expected (in, out) = {expected}, "
            f"i.e. (source size, target size){hint}")
