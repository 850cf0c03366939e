"""Tests of the integration kernels: hxtorch reference values, surrogate, fast == reference."""

from __future__ import annotations

from typing import Any, Callable, Optional

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hxgraph.errors import InputError, ParameterError, ShapeError
from hxgraph.mock.functional import (
    LIFState,
    LIState,
    initial_state,
    li_integration,
    li_integration_reference,
    lif_integration,
    lif_integration_reference,
    li_step,
    lif_step,
    refractory_steps,
    superspike,
)

LIF_KERNELS = [lif_integration_reference, lif_integration]
LI_KERNELS = [li_integration_reference, li_integration]


# --------------------------------------------------------------------------------------
# Reference values (hxtorch's documented behaviour, DESIGN.md §5)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", LIF_KERNELS, ids=["reference", "fast"])
def test_single_input_spike_membrane_trace(kernel: Callable) -> None:
    x = torch.zeros(50, 1, 1)
    x[10] = 1.0
    _, v, i = kernel(x, leak=0.0, reset=0.0, threshold=1.0, tau_mem=10e-6, tau_syn=10e-6,
                     capacitance=10e-6, dt=1e-6)
    trace = v[:, 0, 0]
    assert torch.all(trace[:11] == 0)  # an input at step 10 first moves v at step 11
    assert trace[11] == pytest.approx(0.1, abs=1e-6)  # dt / c * i = 0.1 * 1
    assert int(trace.argmax()) == 19
    assert float(trace.max()) == pytest.approx(0.3874, abs=1e-4)
    assert float(trace[49]) == pytest.approx(0.0712, abs=1e-4)
    assert float(i[10, 0, 0]) == 1.0 and float(i[11, 0, 0]) == pytest.approx(0.9)


@pytest.mark.parametrize("kernel", LIF_KERNELS, ids=["reference", "fast"])
@pytest.mark.parametrize("refractory_time, expected", [(1e-6, [22]), (0.0, [22, 35])])
def test_default_lif_spike_times(kernel: Callable, refractory_time: float,
                                 expected: list[int]) -> None:
    x = torch.zeros(50, 1, 1)
    x[[10, 15, 20, 30]] = 50.0
    z, v, _ = kernel(x, refractory_time=refractory_time)  # defaults: 80/80/125, 10 us
    assert z[:, 0, 0].nonzero().flatten().tolist() == expected
    assert torch.all(v[:10] == 80.0)  # rests at leak until the first input arrives
    assert float(v[22, 0, 0]) == 80.0  # reset on the spike


def test_refractory_clamps_membrane_for_one_step() -> None:
    x = torch.zeros(50, 1, 1)
    x[[10, 15, 20, 30]] = 50.0
    for kernel in LIF_KERNELS:
        _, v, _ = kernel(x, refractory_time=1e-6)
        _, v_free, _ = kernel(x, refractory_time=0.0)
        assert float(v[23, 0, 0]) == 80.0  # clamped to reset one step after the spike
        assert float(v_free[23, 0, 0]) > 80.0  # integrates right away without it


def test_refractory_steps_follow_the_counter() -> None:
    assert int(refractory_steps(1e-6, 1e-6)) == 1
    assert int(refractory_steps(2.5e-6, 1e-6)) == 3  # ceil of a fractional period
    assert int(refractory_steps(0.0, 1e-6)) == 0
    assert int(refractory_steps(1.0, 1e-6, max_steps=7)) == 7
    per_neuron = refractory_steps(torch.tensor([0.0, 1e-6, 3e-6]), 1e-6)
    assert per_neuron.tolist() == [0, 1, 3]


# --------------------------------------------------------------------------------------
# Surrogate gradient
# --------------------------------------------------------------------------------------


def test_superspike_forward_is_strict_heaviside() -> None:
    values = torch.tensor([-1.0, 0.0, 1e-6, 2.0])
    assert superspike(values, 50.0).tolist() == [0.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("point, alpha, expected", [
    (0.1, 50.0, 1 / 36), (-0.1, 50.0, 1 / 36), (0.0, 50.0, 1.0), (0.5, 2.0, 0.25)])
def test_superspike_gradient(point: float, alpha: float, expected: float) -> None:
    v = torch.tensor([point], dtype=torch.float64, requires_grad=True)
    superspike(v, alpha).sum().backward()
    assert float(v.grad) == pytest.approx(expected, rel=1e-12)


def test_lif_spike_gradient_uses_surrogate_at_membrane() -> None:
    # one step: p = v + dt/tau * (leak - v) = leak (input arrives only next step), so
    # d z_0 / d threshold = -1 / (alpha |leak - threshold| + 1)^2
    x = torch.zeros(1, 1, 1, dtype=torch.float64)
    for kernel in LIF_KERNELS:
        threshold = torch.tensor(1.1, dtype=torch.float64, requires_grad=True)
        z, _, _ = kernel(x, leak=1.0, reset=0.0, threshold=threshold, alpha=50.0)
        z.sum().backward()
        assert float(threshold.grad) == pytest.approx(-1 / 36, rel=1e-9)


# --------------------------------------------------------------------------------------
# Fast == reference
# --------------------------------------------------------------------------------------


def _random_lif_params(gen: torch.Generator, size: int, dtype: torch.dtype,
                       refractory: Any) -> dict[str, Any]:
    def rand(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(size, generator=gen, dtype=dtype)

    if refractory == "per-neuron":
        refractory = torch.randint(0, 4, (size,), generator=gen).to(dtype) * 1e-6
    return dict(leak=rand(0.0, 0.2), reset=rand(-0.1, 0.0), threshold=rand(1.0, 1.2),
                tau_mem=rand(8e-6, 12e-6), tau_syn=rand(5e-6, 9e-6),
                capacitance=rand(8e-6, 12e-6), refractory_time=refractory, alpha=50.0)


def _run(kernel: Callable, x: torch.Tensor, params: dict[str, Any],
         upstream: tuple[Optional[torch.Tensor], ...]) -> tuple[tuple, torch.Tensor, dict]:
    """Outputs, input gradient and parameter gradients for a weighted-sum loss."""
    x = x.clone().requires_grad_(True)
    params = {name: value.clone().requires_grad_(name != "refractory_time")
              if isinstance(value, torch.Tensor) else value for name, value in params.items()}
    outputs = kernel(x, **params)
    loss = sum((out * g).sum() for out, g in zip(outputs, upstream) if g is not None)
    loss.backward()
    grads = {name: value.grad for name, value in params.items()
             if isinstance(value, torch.Tensor) and value.grad is not None}
    return tuple(o.detach() for o in outputs), x.grad, grads


def _assert_close(actual: torch.Tensor, expected: torch.Tensor, rel: float) -> None:
    """Max-abs difference relative to the largest value of ``expected``."""
    scale = float(expected.abs().max()) or 1.0
    assert float((actual - expected).abs().max()) <= rel * scale


LOSSES = {
    "spikes": (True, False, False),
    "all": (True, True, True),
    "membrane": (False, True, False),
    "current": (False, False, True),
}


@pytest.mark.parametrize("dtype, rel_fwd, rel_grad", [
    (torch.float64, 1e-12, 1e-9), (torch.float32, 1e-6, 1e-4)], ids=["f64", "f32"])
@pytest.mark.parametrize("refractory", [0.0, 1e-6, 3e-6, "per-neuron"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("loss", list(LOSSES))
def test_fast_lif_matches_reference(dtype: torch.dtype, rel_fwd: float, rel_grad: float,
                                    refractory: Any, seed: int, loss: str) -> None:
    gen = torch.Generator().manual_seed(seed)
    steps, batch, size = 60, 3, 7
    x = 0.5 * torch.randn(steps, batch, size, generator=gen, dtype=dtype)
    params = _random_lif_params(gen, size, dtype, refractory)
    upstream = tuple(torch.randn(steps, batch, size, generator=gen, dtype=dtype) if use
                     else None for use in LOSSES[loss])
    ref_out, ref_dx, ref_dp = _run(lif_integration_reference, x, params, upstream)
    out, dx, dp = _run(lif_integration, x, params, upstream)
    assert ref_out[0].sum() > 0  # the test is only meaningful when neurons spike
    assert torch.equal(out[0], ref_out[0])  # identical spike trains
    for fast, ref in zip(out[1:], ref_out[1:]):
        _assert_close(fast, ref, rel_fwd)
    _assert_close(dx, ref_dx, rel_grad)
    assert dp.keys() == ref_dp.keys()
    for name in ref_dp:
        _assert_close(dp[name], ref_dp[name], rel_grad * 10)


@pytest.mark.parametrize("dtype, rel_fwd, rel_grad", [
    (torch.float64, 1e-12, 1e-10), (torch.float32, 1e-6, 1e-5)], ids=["f64", "f32"])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("per_neuron", [False, True])
def test_fast_li_matches_reference(dtype: torch.dtype, rel_fwd: float, rel_grad: float,
                                   seed: int, per_neuron: bool) -> None:
    gen = torch.Generator().manual_seed(seed)
    steps, batch, size = 50, 2, 5
    x = torch.randn(steps, batch, size, generator=gen, dtype=dtype)
    if per_neuron:
        params = _random_lif_params(gen, size, dtype, 0.0)
        params = {k: params[k] for k in ("leak", "tau_mem", "tau_syn", "capacitance")}
    else:
        params = dict(leak=0.3, tau_mem=6e-6, tau_syn=4e-6, capacitance=12e-6)
    upstream = tuple(torch.randn(steps, batch, size, generator=gen, dtype=dtype)
                     for _ in range(2))
    ref_out, ref_dx, ref_dp = _run(li_integration_reference, x, params, upstream)
    out, dx, dp = _run(li_integration, x, params, upstream)
    for fast, ref in zip(out, ref_out):
        _assert_close(fast, ref, rel_fwd)
    _assert_close(dx, ref_dx, rel_grad)
    for name in ref_dp:
        _assert_close(dp[name], ref_dp[name], rel_grad * 10)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), steps=st.integers(1, 30), batch=st.integers(1, 3),
       size=st.integers(1, 6), refractory=st.sampled_from([0.0, 1e-6, 2e-6, 4.5e-6]),
       scale=st.floats(0.1, 3.0))
def test_fast_lif_matches_reference_random(seed: int, steps: int, batch: int, size: int,
                                           refractory: float, scale: float) -> None:
    gen = torch.Generator().manual_seed(seed)
    dtype = torch.float64
    x = scale * torch.randn(steps, batch, size, generator=gen, dtype=dtype)
    params = _random_lif_params(gen, size, dtype, refractory)
    upstream = tuple(torch.randn(steps, batch, size, generator=gen, dtype=dtype)
                     for _ in range(3))
    ref_out, ref_dx, ref_dp = _run(lif_integration_reference, x, params, upstream)
    out, dx, dp = _run(lif_integration, x, params, upstream)
    assert torch.equal(out[0], ref_out[0])
    for fast, ref in zip(out[1:], ref_out[1:]):
        _assert_close(fast, ref, 1e-12)
    _assert_close(dx, ref_dx, 1e-9)
    for name in ref_dp:
        _assert_close(dp[name], ref_dp[name], 1e-8)


def test_fast_lif_reset_above_threshold_matches_reference() -> None:
    # a reset above threshold: the clamp must still suppress spikes while refractory
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(40, 2, 4, generator=gen, dtype=torch.float64)
    params = dict(leak=0.0, reset=torch.tensor([0.0, 1.5, 0.0, 2.0], dtype=torch.float64),
                  threshold=1.0, tau_mem=10e-6, tau_syn=10e-6, alpha=20.0)
    for refractory in (1e-6, 3e-6):
        upstream = tuple(torch.randn(40, 2, 4, generator=gen, dtype=torch.float64)
                         for _ in range(3))
        params["refractory_time"] = refractory
        ref_out, ref_dx, _ = _run(lif_integration_reference, x, params, upstream)
        out, dx, _ = _run(lif_integration, x, params, upstream)
        assert torch.equal(out[0], ref_out[0])
        _assert_close(out[1], ref_out[1], 1e-12)
        _assert_close(dx, ref_dx, 1e-9)


def test_refractory_longer_than_run() -> None:
    x = torch.full((20, 1, 2), 5.0, dtype=torch.float64)
    kwargs = dict(leak=0.0, reset=0.0, threshold=1.0, refractory_time=1.0)  # 1e6 steps
    z_ref, v_ref, _ = lif_integration_reference(x, **kwargs)
    z, v, _ = lif_integration(x, **kwargs)
    assert torch.equal(z, z_ref) and int(z.sum()) == 2  # one spike each, never again
    _assert_close(v, v_ref, 1e-12)


def test_li_gradcheck() -> None:
    """The hand-written LI adjoint against finite differences (independent of the reference)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(12, 2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    tau = torch.tensor([6e-6, 8e-6, 1e-5], dtype=torch.float64, requires_grad=True)
    leak = torch.tensor([0.5, -0.2, 1.0], dtype=torch.float64, requires_grad=True)

    def run(x: torch.Tensor, tau: torch.Tensor, leak: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return li_integration(x, leak=leak, tau_mem=tau, tau_syn=tau / 2)

    assert torch.autograd.gradcheck(run, (x, tau, leak), eps=1e-9, atol=1e-6, rtol=1e-5)


def test_backward_twice_with_retain_graph() -> None:
    x = torch.randn(30, 2, 3, requires_grad=True)
    z, _, _ = lif_integration(x, leak=0.0, reset=0.0, threshold=0.5)
    z.sum().backward(retain_graph=True)
    first = x.grad.clone()
    x.grad = None
    z.sum().backward()
    assert torch.equal(first, x.grad)


def test_no_grad_forward_and_edge_lengths() -> None:
    x = torch.randn(1, 2, 3)
    for kernel in LIF_KERNELS:
        z, v, i = kernel(x, leak=0.0, reset=0.0, threshold=0.5)
        assert z.shape == v.shape == i.shape == (1, 2, 3)
        assert torch.equal(i, x)
        z, v, i = kernel(torch.zeros(0, 2, 3))
        assert z.shape == (0, 2, 3)
    with torch.no_grad():
        fast = lif_integration(torch.ones(5, 1, 2) * 30)
    assert fast[0].requires_grad is False
    assert torch.equal(fast[0], lif_integration_reference(torch.ones(5, 1, 2) * 30)[0])
    for kernel in LI_KERNELS:
        v, i = kernel(torch.zeros(3, 1, 2), leak=80.0)
        assert torch.all(v == 80.0) and torch.all(i == 0.0)


# --------------------------------------------------------------------------------------
# Step API (used for recurrent groups)
# --------------------------------------------------------------------------------------


def test_stepping_equals_integration() -> None:
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(40, 2, 4, generator=gen, dtype=torch.float64)
    params = _random_lif_params(gen, 4, torch.float64, 2e-6)
    z_ref, v_ref, i_ref = lif_integration_reference(x, **params)
    state = initial_state("lif", 2, 4, params, x)
    assert isinstance(state, LIFState) and torch.equal(state.v, params["leak"].expand(2, 4))
    spikes, membrane = [], []
    for x_t in x:
        z, state = lif_step(x_t, state, **params)
        spikes.append(z)
        membrane.append(state.v)
    assert torch.equal(torch.stack(spikes), z_ref) and torch.equal(torch.stack(membrane), v_ref)
    assert torch.equal(state.i, i_ref[-1])

    li_params = {k: params[k] for k in ("leak", "tau_mem", "tau_syn", "capacitance")}
    v_ref, _ = li_integration_reference(x, **li_params)
    li_state = initial_state("li", 2, 4, li_params, x)
    assert isinstance(li_state, LIState)
    for x_t in x:
        li_state = li_step(x_t, li_state, **li_params)
    assert torch.equal(li_state.v, v_ref[-1])


def test_step_api_validation() -> None:
    state = initial_state("lif", 2, 3)
    assert state.v.dtype == torch.float32 and torch.all(state.v == 80.0)
    with pytest.raises(ParameterError, match="'lif', 'li' or 'adex'"):
        initial_state("aelif", 2, 3)
    with pytest.raises(ShapeError, match=r"\(2, 3\)"):
        lif_step(torch.zeros(2, 4), state)
    with pytest.raises(InputError, match="LIState"):
        li_step(torch.zeros(2, 3), state)


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", LIF_KERNELS + LI_KERNELS)
def test_invalid_input_is_rejected(kernel: Callable) -> None:
    with pytest.raises(InputError, match="torch.Tensor"):
        kernel([[1.0]])
    with pytest.raises(ShapeError, match=r"\(time, batch, neurons\)"):
        kernel(torch.zeros(5, 3))
    with pytest.raises(InputError, match="floating-point"):
        kernel(torch.zeros(5, 1, 3, dtype=torch.int64))
    with pytest.raises(ParameterError, match="tau_mem"):
        kernel(torch.zeros(5, 1, 3), tau_mem=0.0)
    with pytest.raises(ShapeError, match=r"leak .*\(3,\)"):
        kernel(torch.zeros(5, 1, 3), leak=torch.zeros(4))
    with pytest.raises(ParameterError, match="dt"):
        kernel(torch.zeros(5, 1, 3), dt=-1e-6)
    with pytest.raises(ParameterError, match="tau_syn"):
        kernel(torch.zeros(5, 1, 3), tau_syn=torch.tensor([1e-6, float("nan"), 1e-6]))


@pytest.mark.parametrize("kernel", LIF_KERNELS)
def test_invalid_lif_parameters_are_rejected(kernel: Callable) -> None:
    with pytest.raises(ParameterError, match="refractory_time"):
        kernel(torch.zeros(5, 1, 3), refractory_time=-1e-6)
    with pytest.raises(ParameterError, match="threshold"):
        kernel(torch.zeros(5, 1, 3), threshold=float("inf"))
    with pytest.raises(ParameterError, match="reset"):
        kernel(torch.zeros(5, 1, 3), reset="80")


# --------------------------------------------------------------------------------------
# CUDA
# --------------------------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu() -> None:
    gen = torch.Generator().manual_seed(0)
    x = 0.5 * torch.randn(60, 3, 7, generator=gen, dtype=torch.float64)
    params = _random_lif_params(gen, 7, torch.float64, "per-neuron")
    upstream = tuple(torch.randn(60, 3, 7, generator=gen, dtype=torch.float64)
                     for _ in range(3))
    cpu_out, cpu_dx, _ = _run(lif_integration, x, params, upstream)
    cuda_params = {k: v.cuda() if isinstance(v, torch.Tensor) else v for k, v in params.items()}
    cuda_out, cuda_dx, _ = _run(lif_integration, x.cuda(), cuda_params,
                                tuple(g.cuda() for g in upstream))
    assert cuda_out[0].is_cuda and cuda_dx.is_cuda
    assert torch.equal(cuda_out[0].cpu(), cpu_out[0])
    _assert_close(cuda_out[1].cpu(), cpu_out[1], 1e-12)
    _assert_close(cuda_dx.cpu(), cpu_dx, 1e-9)
    v, i = li_integration(x.cuda().float())
    assert v.is_cuda and v.dtype == torch.float32
