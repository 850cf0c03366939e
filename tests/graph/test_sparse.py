"""Sparse projections follow the SparseSynapse seed contract and store only their connections."""

import subprocess
import sys
import textwrap

import pytest
import torch

import hxgraph as hx


def test_connections_in_out_nonzero_become_sorted_target_source_pairs():
    conn = torch.tensor([[0., 2., 0.], [1., 0., 0.5]])  # (in=2, out=3)
    proj = hx.Experiment().input("x", 2).lif("h", 3).sparse("x", "h", conn).graph.projection("x_to_h")
    assert proj.shape == (3, 2)
    assert proj.connectivity.indices.tolist() == [[0, 1, 2], [1, 0, 1]]  # (target, source) pairs
    assert proj.weight.shape == (3,)
    dense = proj.dense_weight()
    assert dense.shape == (3, 2)
    assert bool((dense[~proj.connectivity.mask()] == 0).all())


@pytest.mark.parametrize("layout", ["dense", "coo", "csr", "numpy", "list"])
def test_connection_formats_agree(layout):
    conn = torch.zeros(5, 4)
    conn[[0, 1, 4, 4], [3, 0, 1, 2]] = 1
    given = {"dense": conn, "coo": conn.to_sparse(), "csr": conn.to_sparse_csr(), "numpy": conn.numpy(),
             "list": conn.tolist()}[layout]
    proj = hx.Experiment().input("x", 5).lif("h", 4).sparse("x", "h", given).graph.projection("x_to_h")
    assert torch.equal(proj.connectivity.mask(), conn.T.bool())


def test_explicit_zeros_in_a_sparse_tensor_are_not_connections():
    conn = torch.sparse_coo_tensor(torch.tensor([[0, 1], [0, 1]]), torch.tensor([1.0, 0.0]), (2, 2),
                                   check_invariants=True)
    proj = hx.Experiment().input("x", 2).lif("h", 2).sparse("x", "h", conn).graph.projection("x_to_h")
    assert proj.connection_count == 1


def test_kaiming_bound_uses_the_full_fan_in():
    conn = torch.zeros(400, 50)
    conn[:, 0] = 1
    w = hx.Experiment().input("x", 400).lif("h", 50).sparse("x", "h", conn).graph.projection("x_to_h").weight
    assert w.shape == (400,) and float(w.abs().max()) <= 1 / 400 ** 0.5


def test_sparse_weight_given_as_values_or_masked_matrix():
    conn = torch.eye(3)
    by_values = hx.Experiment().input("x", 3).lif("h", 3).sparse("x", "h", conn, weight=torch.tensor([1., 2., 3.]))
    by_matrix = hx.Experiment().input("x", 3).lif("h", 3).sparse("x", "h", conn, weight=torch.diag(torch.tensor([1., 2., 3.])))
    assert torch.equal(by_values.graph.projection("x_to_h").weight, by_matrix.graph.projection("x_to_h").weight)


def test_random_connections_helper_has_the_requested_count_and_no_repeats():
    conn = hx.connect.random(300, 200, 0.01, seed=3)
    assert conn.shape == (300, 200) and conn.is_sparse
    assert conn._nnz() == 600
    again = hx.connect.random(300, 200, 0.01, seed=3)
    assert torch.equal(conn.indices(), again.indices())


def test_pairs_helper():
    conn = hx.connect.pairs([0, 2], [1, 1], 3, 2)
    assert conn.to_dense().tolist() == [[0, 1], [0, 0], [0, 1]]
    with pytest.raises(hx.GraphError, match="repeated"):
        hx.connect.pairs([0, 0], [1, 1], 3, 2)
    with pytest.raises(hx.ShapeError, match=r"\[0, 3\)"):
        hx.connect.pairs([5], [1], 3, 2)


def test_ten_thousand_squared_at_point_one_percent_never_allocates_in_times_out():
    # Run in a fresh process so its peak resident memory measures only this build.
    script = textwrap.dedent("""
        import resource, torch, hxgraph as hx
        torch.zeros(1)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        conn = hx.connect.random(10_000, 10_000, 0.001, seed=0)
        g = hx.Experiment().input("x", 10_000).lif("h", 10_000).sparse("x", "h", conn).graph
        assert hx.Graph.from_json(g.to_json()) == g
        p = g.projection("x_to_h")
        print(p.connection_count, p.weight.nbytes + p.connectivity.indices.nbytes,
              resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    count, stored, growth_kib = map(int, out)
    assert count == 100_000
    assert stored == 100_000 * (4 + 16)  # float32 weight + two int64 indices per connection
    # A boolean in×out mask alone would be 95 MiB, a float32 weight 381 MiB.
    assert growth_kib < 60 * 1024, f"peak memory grew by {growth_kib / 1024:.0f} MiB"
