"""kernels.Recycler hands memory out again only once no tensor uses it, and the mock's outputs that come
from it stay intact while they are held (autograd's saved tensors included)."""

import torch

import hxgraph as hx
from hxgraph import kernels


def test_memory_in_use_is_never_handed_out_again():
    recycler = kernels.Recycler(limit=2**20)
    first = recycler.empty((10, 20), torch.float32).fill_(1.0)
    second = recycler.empty((10, 20), torch.float32).fill_(2.0)
    assert first.data_ptr() != second.data_ptr()
    assert bool((first == 1.0).all())
    # a view alone keeps the memory in use
    view = first[3:]
    ptr = first.data_ptr()
    del first
    third = recycler.empty((200,), torch.float32)
    assert third.data_ptr() not in (ptr, second.data_ptr())
    del view, third
    # nobody uses the first array now: the next request of its size gets it
    again = recycler.empty((4, 50), torch.float32)
    assert again.data_ptr() == ptr
    assert again.shape == (4, 50) and again.is_contiguous()


def test_numpy_views_keep_memory_in_use_and_sizes_and_dtypes_are_kept_apart():
    recycler = kernels.Recycler(limit=2**20)
    t = recycler.empty((64,), torch.float64)
    array = t.numpy()
    ptr = t.data_ptr()
    del t
    assert recycler.empty((64,), torch.float64).data_ptr() != ptr
    del array
    assert recycler.empty((128,), torch.float32).data_ptr() != ptr  # the same bytes, another dtype
    assert recycler.empty((32,), torch.float64).data_ptr() != ptr
    assert recycler.empty((64,), torch.float64).data_ptr() == ptr
    assert recycler.empty((3,), torch.int64).dtype == torch.int64  # other dtypes: torch's own tensors


def test_beyond_the_limit_nothing_is_kept():
    recycler = kernels.Recycler(limit=1000)
    kept = recycler.empty((200,), torch.float32)  # 800 bytes: kept
    ptr = kept.data_ptr()
    del kept
    big = recycler.empty((300,), torch.float32)  # 1,200 bytes: over the limit, not kept
    big_ptr = big.data_ptr()
    assert recycler.empty((200,), torch.float32).data_ptr() == ptr
    del big
    assert sum(a.nbytes for arrays in recycler._arrays.values() for a in arrays) <= 1000
    assert all(a.ctypes.data != big_ptr for arrays in recycler._arrays.values() for a in arrays)


def test_mock_outputs_held_across_calls_stay_and_gradients_follow_their_own_run():
    exp = (hx.Experiment("held", seed=0).input("x", 20).lif("h", 30, threshold=0.3).li("o", 4)
           .dense("x", "h", init=hx.init.normal(0.3, 0.2)).dense("h", "o"))
    model = hx.mock(exp.graph)
    torch.manual_seed(1)
    xa = (torch.rand(40, 8, 20) < 0.3).float()
    xb = (torch.rand(40, 8, 20) < 0.3).float()

    def loss(run):
        return run["o"].membrane.square().sum() + run["h"].spikes.sum()

    def reference(x):
        model.zero_grad()
        loss(model({"x": x})).backward()
        return [p.grad.clone() for p in model.parameters()]

    want_a, want_b = reference(xa), reference(xb)
    run_a = model({"x": xa})
    copies = {name: [None if t is None else t.clone() for t in obs] for name, obs in run_a.items()}
    run_b = model({"x": xb})  # while run_a and its graph are held
    for name, kept in copies.items():  # spikes, membrane and current of each population
        for now, before in zip(run_a[name], kept):
            assert (now is None) == (before is None), name
            assert now is None or torch.equal(now, before), name
    model.zero_grad()
    loss(run_a).backward()
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), want_a))
    model.zero_grad()
    loss(run_b).backward()
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), want_b))
