"""Helpers that make `connections` for `Experiment.sparse` without an in×out allocation."""

from __future__ import annotations

from typing import Any

import torch

from hxgraph.errors import ParameterError
from hxgraph.graph.connectivity import Sparse
from hxgraph.graph.memory import check_allocation
from hxgraph.graph.population import MAX_COUNT, check_count


def pairs(sources: Any, targets: Any, in_size: int, out_size: int) -> torch.Tensor:
    """Connections (in, out) as a torch sparse tensor from parallel source/target index lists."""
    sparse = Sparse.from_pairs(sources, targets, check_count(in_size, "in_size"), check_count(out_size, "out_size"))
    return _as_connections(sparse)


def random(in_size: int, out_size: int, density: float, seed: int = 0) -> torch.Tensor:
    """`round(density·in·out)` distinct random pairs, as a torch sparse (in, out) tensor.

    Draws linear pair indices with replacement and keeps the distinct ones until enough are
    found, so memory stays proportional to the number of connections, not in×out.
    """
    in_size, out_size = check_count(in_size, "in_size"), check_count(out_size, "out_size")
    if isinstance(density, bool) or not isinstance(density, (int, float)) or not 0 < density <= 1:
        raise ParameterError(f"density must be a number in (0, 1]; got {density!r}")
    total = in_size * out_size
    if total > MAX_COUNT:
        raise ParameterError(f"connect.random: {in_size} × {out_size} possible pairs are more than a torch index "
                             f"can number ({MAX_COUNT}); use smaller populations")
    count = max(1, round(density * total))
    check_allocation(8.0 * count, f"connect.random: {count:,} connections", "lower the density")
    generator = torch.Generator().manual_seed(check_count(seed, "seed", minimum=0, maximum=2**63 - 1))
    if count > total // 2:  # dense enough that a permutation is cheaper than rejection
        chosen = torch.randperm(total, generator=generator)[:count]
    else:
        chosen = torch.empty(0, dtype=torch.int64)
        while chosen.numel() < count:
            draw = torch.randint(total, (int(1.1 * (count - chosen.numel())) + 16,), generator=generator)
            chosen = torch.unique(torch.cat([chosen, draw]))
        chosen = chosen[torch.randperm(chosen.numel(), generator=generator)[:count]]
    sources, targets = chosen // out_size, chosen % out_size
    return _as_connections(Sparse.from_pairs(sources, targets, in_size, out_size))


def _as_connections(sparse: Sparse) -> torch.Tensor:
    out_size, in_size = sparse.shape
    indices = torch.stack([sparse.sources, sparse.targets])
    return torch.sparse_coo_tensor(indices, torch.ones(sparse.count), (in_size, out_size),
                                   check_invariants=True).coalesce()
