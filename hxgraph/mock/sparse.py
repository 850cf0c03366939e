"""Sparse projection ops whose memory and compute scale with the number of connections.

`sparse_linear(s, values, pattern)` computes `s @ W.T` for a weight W given only at the
connections (values in (target, source) order). The forward and the input gradient are
CSR sparse × dense products; the weight gradient is a sampled dense × dense product
(SDDMM) evaluated only at the connections, so nothing of size in×out is allocated.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

# CSR products are what we need and they work; torch's 'beta' notice would only be noise for users.
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

class SparsePattern:
    """The fixed structure of a sparse projection, prepared once for fast products.

    Holds CSR row pointers of W (out, in) and of W.T (in, out), and the permutation that
    reorders connection values from W's order into W.T's.
    """

    def __init__(self, indices: torch.Tensor, shape: tuple[int, int]):
        out_size, in_size = shape
        self.shape = shape
        self.targets = indices[0].contiguous()
        self.sources = indices[1].contiguous()
        self.crow = _row_pointers(self.targets, out_size)
        # Transposed pattern: sort by (source, target).
        self.to_transposed = torch.argsort(self.sources * out_size + self.targets, stable=True)
        self.crow_t = _row_pointers(self.sources[self.to_transposed], in_size)
        self.col_t = self.targets[self.to_transposed].contiguous()

    def to(self, device: Any) -> "SparsePattern":
        for name in ("targets", "sources", "crow", "to_transposed", "crow_t", "col_t"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def matrix(self, values: torch.Tensor) -> torch.Tensor:
        return torch.sparse_csr_tensor(self.crow, self.sources, values, self.shape, check_invariants=False)

    def matrix_t(self, values: torch.Tensor) -> torch.Tensor:
        return torch.sparse_csr_tensor(self.crow_t, self.col_t, values[self.to_transposed],
                                       self.shape[::-1], check_invariants=False)


def _row_pointers(rows: torch.Tensor, count: int) -> torch.Tensor:
    counts = torch.bincount(rows, minlength=count)
    return torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])


class _SparseLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, s: torch.Tensor, values: torch.Tensor, pattern: SparsePattern) -> torch.Tensor:
        flat = s.reshape(-1, s.shape[-1])
        out = (pattern.matrix(values.detach()) @ flat.T).T
        ctx.save_for_backward(flat, values)
        ctx.pattern = pattern
        ctx.s_shape = s.shape
        return out.reshape(*s.shape[:-1], pattern.shape[0])

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor):
        flat, values = ctx.saved_tensors
        pattern: SparsePattern = ctx.pattern
        grad_flat = grad_out.reshape(-1, pattern.shape[0])
        grad_s = grad_values = None
        if ctx.needs_input_grad[0]:
            grad_s = (pattern.matrix_t(values.detach()) @ grad_flat.T).T.reshape(ctx.s_shape)
        if ctx.needs_input_grad[1]:
            # dL/dW only at the connections: a sampled dense×dense product (SDDMM), never out×in.
            zeros = pattern.matrix(torch.zeros_like(values))
            grad_values = torch.sparse.sampled_addmm(zeros, grad_flat.T, flat, beta=0.0).values()
        return grad_s, grad_values, None


def sparse_linear(s: torch.Tensor, values: torch.Tensor, pattern: SparsePattern) -> torch.Tensor:
    """`s @ W.T` for (…, in) input `s` and a sparse W given by `values` on `pattern`; differentiable in both."""
    return _SparseLinear.apply(s, values, pattern)


def dense_from_values(values: torch.Tensor, pattern: SparsePattern) -> torch.Tensor:
    """The (out, in) matrix with `values` at the connections (differentiable; allocates out×in)."""
    dense = values.new_zeros(pattern.shape)
    return dense.index_put((pattern.targets, pattern.sources), values)
