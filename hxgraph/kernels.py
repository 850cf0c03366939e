"""Fused time loops on the CPU, compiled with numba: the hot loops of the mock and the emulator.

A time loop written with torch operations costs one operation call per step and per
operation; with thousands of small operations per run that overhead, not the arithmetic,
dominates (a 500-step LIF layer on two cores spent most of its time there). Each kernel here
runs a whole loop over time in one compiled call, on `torch.get_num_threads()` threads that
split the columns (batch entries × neurons) between them.

Exactness: every kernel performs the operations of the torch loop it replaces in the same
order and rounds where torch rounds: torch's CPU `addcmul` and `add(alpha=)` are fused
multiply-adds, so the kernels call `fma` exactly where the torch code calls those. Results
are equal to the bit (tests/test_kernels.py compares each kernel with its torch loop), so
the ideal chip still equals the mock spike for spike.

The kernels run for CPU tensors of float32 or float64 when numba can be imported and the
environment variable `HXGRAPH_KERNELS` is not `torch`; the callers keep their torch loops for
everything else (GPU tensors, other dtypes) and as the reference. numba is imported, and a
kernel compiled (or loaded from numba's cache), on first use only.

This module imports nothing of hxgraph's packages: the mock and the chip back ends both use it.
"""

from __future__ import annotations

import concurrent.futures
import functools
import math
import os
import sys
import threading
from typing import Any, Callable, Optional, Sequence

import attrs
import numpy as np
import torch

__all__ = ["available", "enabled", "uniform", "Workspace", "scan_", "reverse_scan_", "lif_forward",
           "lif_membrane_adjoint_", "lif_adjoint", "input_adjoint_", "synaptic_filter", "chip_membrane", "spike_rows",
           "event_rows", "FeedforwardNeurons", "feedforward_neurons", "FeedforwardPopulation",
           "feedforward_population", "chip_feedforward", "accumulate_spikes", "crossing_ticks", "cadc_membrane",
           "invalid_count", "grid_spikes", "interpolate_samples", "Recycler", "OUTPUTS"]

_DTYPES = (torch.float32, torch.float64)
# Below this many (steps × columns) values a second thread costs more than it saves.
_PARALLEL_MIN = 1 << 16
# Columns per block at most (see `hxgraph._numba_kernels`): a block's parameters and state stay in cache.
_BLOCK = 512


@functools.lru_cache(maxsize=None)
def _compiled() -> Any:
    """The compiled kernels (a module), or None where numba is missing or `HXGRAPH_KERNELS=torch`."""
    if os.environ.get("HXGRAPH_KERNELS", "").strip().lower() == "torch":
        return None
    try:
        from hxgraph import _numba_kernels
    except ImportError:  # no numba (or a broken install): the torch loops run instead
        return None
    return _numba_kernels


def available() -> bool:
    """Whether the compiled kernels run here (numba present, `HXGRAPH_KERNELS` not `torch`)."""
    return _compiled() is not None


def enabled(*tensors: torch.Tensor) -> bool:
    """Whether the compiled kernels can run on these tensors (CPU, contiguous, one float dtype, numba present)."""
    dtype = tensors[0].dtype
    if dtype not in _DTYPES:
        return False
    for t in tensors:  # (a plain loop and `is_cpu`: this runs dozens of times per emulated batch)
        if not t.is_cpu or t.dtype != dtype or not t.is_contiguous():
            return False
    return _compiled() is not None


# The process that started numba's threads (None: not yet) and whether they are thread-safe.
_numba_started: Optional[tuple[int, bool]] = None
_numba_lock = threading.Lock()


def _numba_threads() -> bool:
    """Whether the kernels' parallel drivers may run in this process: numba's threading layer is thread-safe
    (OpenMP or TBB; its fallback, the workqueue, aborts when two threads launch at once) and numba's threads
    were not started in a process this one was forked from (GNU OpenMP's threads do not survive a fork, and
    numba then ends the child). Started once, on first use, by a trivial driver."""
    global _numba_started
    started = _numba_started
    if started is None:
        with _numba_lock:
            if _numba_started is None:
                import numba
                try:
                    _compiled().probe_parts(np.array([[0, 1], [1, 2]], dtype=np.int64), np.empty(2, dtype=np.int64))
                    safe = numba.threading_layer() in ("omp", "tbb")
                except (ValueError, RuntimeError):  # no threading layer loads here (say, one asked for is missing)
                    safe = False
                _numba_started = (os.getpid(), safe)
            started = _numba_started
    return started[0] == os.getpid() and started[1]


def _pool(workers: int) -> concurrent.futures.ThreadPoolExecutor:
    # one pool per process: a forked child inherits the pool object but not its threads
    return _process_pool(workers, os.getpid())


@functools.lru_cache(maxsize=2)
def _process_pool(workers: int, pid: int) -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hxgraph-kernel")


class Workspace:
    """Scratch tensors reused from call to call, up to `limit` bytes kept between calls.

    A fresh multi-megabyte tensor costs a page fault per 4 KiB when it is first written, which on
    two cores takes longer than the loop that fills it; buffers that never leave a computation
    (the emulator's traces) are therefore taken from here and given back when it ends.
    `take` returns an uninitialised (or, `zero`, zeroed) tensor of the shape; thread-safe."""

    def __init__(self, limit: int):
        self.limit = limit
        self._free: dict[tuple, list[torch.Tensor]] = {}
        self._kept = 0
        self._lock = threading.Lock()

    def take(self, shape: Sequence[int], dtype: torch.dtype = torch.float32, zero: bool = False) -> torch.Tensor:
        key = (tuple(shape), dtype)
        with self._lock:
            free = self._free.get(key)
            tensor = free.pop() if free else None
            if tensor is not None:
                self._kept -= tensor.numel() * tensor.element_size()
        if tensor is None:
            return torch.zeros(key[0], dtype=dtype) if zero else torch.empty(key[0], dtype=dtype)
        return tensor.zero_() if zero else tensor

    def give(self, *tensors: Optional[torch.Tensor]) -> None:
        """Return tensors from `take` (the caller must not use them afterwards); beyond the limit they are dropped."""
        with self._lock:
            for tensor in tensors:
                if tensor is None:
                    continue
                size = tensor.numel() * tensor.element_size()
                if self._kept + size <= self.limit:
                    self._free.setdefault((tuple(tensor.shape), tensor.dtype), []).append(tensor)
                    self._kept += size

    def clear(self) -> None:
        with self._lock:
            self._free.clear()
            self._kept = 0


class Recycler:
    """Output tensors whose memory is used again once no tensor refers to it any more, up to `limit` bytes
    kept (the mock's outputs and saved traces, `hx.emulate`'s grid traces: a caching allocator for them).

    torch's CPU allocator hands every multi-megabyte tensor fresh pages from the system (glibc gives
    them back when they are freed), and the first write of each 4 KiB page then costs a page fault: for
    the mock's four (T, B, N) outputs at T = 500, B = 16, N = 256 about twice the time of the loop that
    fills them. Here each output is a view of a numpy array the recycler keeps; the tensor's storage
    holds a reference to that array, so the array's reference count tells whether any tensor (a view, a
    tensor autograd saved) still uses it. Only an array nobody uses is handed out again."""

    def __init__(self, limit: int):
        self.limit = limit
        self._arrays: dict[tuple[int, Any], list[np.ndarray]] = {}
        self._kept = 0
        self._lock = threading.Lock()

    def empty(self, shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
        """An uninitialised contiguous CPU tensor of `shape` and `dtype` (float32 or float64; others: torch's)."""
        if dtype not in _DTYPES:
            return torch.empty(tuple(shape), dtype=dtype)
        count = math.prod(shape)
        np_dtype = np.float32 if dtype == torch.float32 else np.float64
        with self._lock:
            arrays = self._arrays.setdefault((count, np_dtype), [])
            for i in range(len(arrays)):
                if sys.getrefcount(arrays[i]) <= _UNUSED:  # held by the list alone: no tensor uses it
                    return torch.from_numpy(arrays[i]).view(tuple(shape))
            array = np.empty(count, np_dtype)
            if self._kept + array.nbytes <= self.limit:
                arrays.append(array)
                self._kept += array.nbytes
        return torch.from_numpy(array).view(tuple(shape))

    def empty_like(self, t: torch.Tensor) -> torch.Tensor:
        return self.empty(t.shape, t.dtype)

    def clear(self) -> None:
        """Forget every array (those in use stay valid: their tensors keep them)."""
        with self._lock:
            self._arrays.clear()
            self._kept = 0


def _unused_references() -> int:
    """sys.getrefcount of an array held by a list alone, read as `Recycler.empty` reads it."""
    arrays = [np.empty(1)]
    return sys.getrefcount(arrays[0])


_UNUSED = _unused_references()
# The mock's and hx.emulate's outputs (see `Recycler`): enough for the traces of a few large layers.
OUTPUTS = Recycler(limit=512 * 2**20)


def _bounds(columns: int, width: int, work: int) -> list[tuple[int, int]]:
    """The columns 0..columns in blocks of `width`, as one part per thread of torch's where `work` (values
    touched) is large enough to share, else as one part."""
    blocks = columns // width if width else 0
    threads = min(torch.get_num_threads(), blocks)
    if threads < 2 or work < _PARALLEL_MIN:
        return [(0, columns)]
    step = -(-blocks // threads) * width
    return [(lo, min(lo + step, columns)) for lo in range(0, columns, step)]


def _split(kernel: Callable, columns: int, width: int, work: int, *args: Any) -> list:
    """Run `kernel(*args, lo, hi)` over the columns 0..columns in blocks of `width`, split among torch's
    threads when `work` (values touched) is large enough. Returns the parts' results in the order of their
    columns.

    The parts run at once through the kernel's parallel driver (`<kernel>_parts` in
    `hxgraph._numba_kernels`) where numba's threads may run here (`_numba_threads`), else on a pool of
    threads of our own (the kernels release the GIL). With numba's OpenMP layer the driver runs on the
    OpenMP threads torch uses, which spin for a while after each torch operation: a thread of our own beside
    them competes with one of them for a core (the kernel after a matrix product took up to twice as long)."""
    bounds = _bounds(columns, width, work)
    if len(bounds) == 1:
        return [kernel(*args, 0, columns)]
    threads = len(bounds)
    driver = getattr(_compiled(), f"{getattr(kernel, '__name__', '')}_parts", None) if _numba_threads() else None
    if driver is not None:
        driver(np.array(bounds, dtype=np.int64), *args)
        return [None] * len(bounds)  # (the kernels with a driver return nothing)
    futures = [_pool(threads).submit(kernel, *args, lo, hi) for lo, hi in bounds[1:]]
    first = kernel(*args, *bounds[0])
    return [first] + [future.result() for future in futures]


@functools.lru_cache(maxsize=256)
def _width(columns: int, n: int) -> int:
    """Columns per block: the N neurons of the largest number of batch entries that divides the batch and
    keeps a block within _BLOCK columns (one entry at least)."""
    if n == 0 or columns == 0:
        return 0
    batch = columns // n
    return n * max(d for d in range(1, batch + 1) if batch % d == 0 and (d == 1 or d * n <= _BLOCK))


def _rows(t: torch.Tensor):
    """(steps, columns) numpy view of a contiguous (T, ...) tensor, without a copy."""
    if not t.is_contiguous():
        raise ValueError("hxgraph.kernels needs contiguous tensors")
    return t.detach().numpy().reshape(t.shape[0], math.prod(t.shape[1:]))  # (0 steps: no -1 to infer)


def _layout(t: torch.Tensor) -> tuple[Any, int, int]:
    """The (steps, columns) view of `t`, its neurons per batch entry (last dimension) and its block width."""
    r = _rows(t)
    n = t.shape[-1] if t.dim() > 1 else 1
    return r, n, _width(r.shape[1], n)


def _tiled(values: torch.Tensor, n: int, width: int, dtype: torch.dtype):
    """A per-neuron (N,) or scalar parameter repeated to one block of `width` columns (numpy: a few calls
    per kernel, each cheaper than torch's)."""
    v = values.detach()
    if v.dtype != dtype:
        v = v.to(dtype)
    v = v.numpy().reshape(-1)
    copies = max(1, width // max(n, 1)) * (n if v.size == 1 else 1)
    out = np.empty(copies * v.size, v.dtype)  # (np.tile does the same several times slower)
    out.reshape(copies, v.size)[:] = v
    return out


@functools.lru_cache(maxsize=None)
def _const(dtype: torch.dtype):
    """[0, 1] in the kernels' dtype (see `hxgraph._numba_kernels`; read only)."""
    return torch.tensor([0, 1], dtype=dtype).numpy()


def scan_(rows: torch.Tensor, decay: torch.Tensor) -> torch.Tensor:
    """In place: ``rows[t] = rows[t] + decay · rows[t - 1]`` for t = 1.. (torch: ``rows[t].addcmul_(decay, rows[t - 1])``).

    `rows` is (T, ..., N) contiguous, `decay` per neuron (N,)."""
    r, n, width = _layout(rows)
    _split(_compiled().scan, r.shape[1], width, r.size, r, _tiled(decay, n, width, rows.dtype))
    return rows


def reverse_scan_(buffer: torch.Tensor, decay: torch.Tensor, stop: int = 0) -> torch.Tensor:
    """In place: ``buffer[t] += decay · buffer[t + 1]`` from the end down to `stop`.

    `decay` per neuron (N,) or per step (the shape of `buffer`)."""
    r, n, width = _layout(buffer)
    stepwise = decay.dim() == buffer.dim()
    d = _rows(decay.contiguous()) if stepwise else _tiled(decay, n, width, buffer.dtype)[None, :]
    _split(_compiled().reverse_scan, r.shape[1], width, r.size, r, d, stepwise, stop)
    return buffer


def lif_forward(x: torch.Tensor, coefficients: Sequence[torch.Tensor], reset: torch.Tensor, threshold: torch.Tensor,
                alpha: torch.Tensor, refractory: bool, mask_spikes: bool, surrogate: bool, current: torch.Tensor,
                potential: torch.Tensor, membrane: torch.Tensor, spikes: torch.Tensor) -> None:
    """The mock's LIF integration in one pass (see `hxgraph.mock.functional._LIFFunction.forward`).

    `coefficients`: per neuron (a, alpha_m, beta, gamma, leak). Writes the synaptic `current`,
    the membrane before spike and reset (`potential`; with `surrogate`, the SuperSpike factor
    1 / (alpha·|p - threshold| + 1)² instead, zero where clamped), `membrane` and `spikes`.
    `refractory`: a spike clamps the neuron at `reset` for the one following step;
    `mask_spikes`: a clamped neuron cannot spike."""
    r, n, width = _layout(x)
    tiled = [_tiled(v, n, width, x.dtype) for v in (*coefficients, reset, threshold, alpha)]
    _split(_compiled().lif_forward, r.shape[1], width, 5 * r.size, r, *tiled, refractory, mask_spikes, surrogate,
           _rows(current), _rows(potential), _rows(membrane), _rows(spikes), _const(x.dtype))


def lif_membrane_adjoint_(lambda_p: torch.Tensor, spikes: torch.Tensor, alpha_m: torch.Tensor,
                          one_step: bool) -> torch.Tensor:
    """In place: ``lambda_p[t] += alpha_m·(1 - z_t - z_{t-1})·lambda_p[t + 1]`` from the end (the z_{t-1} term
    only with a one-step refractory period): the membrane adjoint, cut where the membrane was set."""
    r, n, width = _layout(lambda_p)
    _split(_compiled().lif_membrane_adjoint, r.shape[1], width, 3 * r.size, r, _rows(spikes),
           _tiled(alpha_m, n, width, lambda_p.dtype), one_step)
    return lambda_p


def uniform(t: torch.Tensor) -> bool:
    """Whether `t` is one value expanded to its shape (every stride 0, as the gradient of a sum arrives)."""
    return t.numel() > 0 and all(stride == 0 for stride in t.stride())


def lif_adjoint(grad_z: Optional[torch.Tensor], surrogate: Optional[torch.Tensor], grad_v: Optional[torch.Tensor],
                grad_i: Optional[torch.Tensor], spikes: torch.Tensor, alpha_m: torch.Tensor, beta: torch.Tensor,
                a: torch.Tensor, one_step: bool) -> torch.Tensor:
    """The gradient of a LIF integration with respect to its input, in one sweep back in time, for the case
    without parameter gradients and without refractory masks (see `hxgraph._numba_kernels.lif_adjoint`)."""
    grad_x = OUTPUTS.empty_like(spikes)
    r, n, width = _layout(spikes)

    def rows(t: Optional[torch.Tensor]):
        return _rows(t.contiguous()) if t is not None else r[:1]
    # the gradient of a sum is one value expanded to the shape: read as that value, not copied out
    single = grad_z is not None and uniform(grad_z)
    _split(_compiled().lif_adjoint, r.shape[1], width, 6 * r.size,
           _rows(grad_z.reshape(-1)[:1].reshape(1, 1).contiguous()) if single else rows(grad_z),
           grad_z is not None, single, rows(surrogate), rows(grad_v), grad_v is not None, rows(grad_i),
           grad_i is not None, r,
           *(_tiled(v, n, width, spikes.dtype) for v in (alpha_m, beta, a)), one_step, _rows(grad_x))
    return grad_x


def input_adjoint_(buffer: torch.Tensor, grad_i: Optional[torch.Tensor], beta: torch.Tensor,
                   a: torch.Tensor) -> torch.Tensor:
    """In place on `buffer` (T + 1, ...), rows 0..T-1 holding the membrane adjoint: rows 1..T become the
    adjoint of the synaptic current (see `hxgraph.mock.functional._input_adjoint_`)."""
    r, n, width = _layout(buffer)
    g = _rows(grad_i.contiguous()) if grad_i is not None else r[:1]
    _split(_compiled().input_adjoint, r.shape[1], width, 3 * r.size, r, g, grad_i is not None,
           _tiled(beta, n, width, buffer.dtype), _tiled(a, n, width, buffer.dtype))
    return buffer


def synaptic_filter(excitatory: Optional[torch.Tensor], inhibitory: Optional[torch.Tensor],
                    decay_exc: torch.Tensor, decay_inh: torch.Tensor, gain: float, net: torch.Tensor) -> None:
    """The emulator's synapse loop: ``net[t] = exc - inh`` before step t's arrivals, then
    ``exc = exc·decay_exc + gain·arrived[t]`` (likewise inh); an absent arrival tensor is zero."""
    r, n, width = _layout(net)
    empty = r[:1]
    _split(_compiled().synaptic_filter, r.shape[1], width, 3 * r.size,
           _rows(excitatory) if excitatory is not None else empty, excitatory is not None,
           _rows(inhibitory) if inhibitory is not None else empty, inhibitory is not None,
           _tiled(decay_exc, n, width, net.dtype), _tiled(decay_inh, n, width, net.dtype),
           torch.tensor([gain], dtype=net.dtype).numpy(), r)


def chip_membrane(net: torch.Tensor, rest: torch.Tensor, decay_mem: torch.Tensor, input_gain: torch.Tensor,
                  leak: torch.Tensor, low: float, high: float, spiking: bool, threshold: torch.Tensor,
                  reset: torch.Tensor, refractory: torch.Tensor, membrane: torch.Tensor, clamped: torch.Tensor,
                  spikes: torch.Tensor) -> None:
    """The emulator's membrane loop of a population whose inputs are known (see
    `hxgraph.chip.emulator.Emulator._integrate_feedforward`): writes membrane, clamp and spike masks.
    `rest` is the loop-invariant term (1 - decay_mem)·rest; the membrane stays within low..high."""
    r, n, width = _layout(net)
    tiled = [_tiled(v, n, width, net.dtype) for v in (rest, decay_mem, input_gain, leak)]
    rails = bool(low > -float("inf") or high < float("inf"))
    spike_tiled = [_tiled(v, n, width, net.dtype) for v in (threshold, reset, refractory)]
    _split(_compiled().chip_membrane, r.shape[1], width, 5 * r.size, r, *tiled,
           torch.tensor([low, high], dtype=net.dtype).numpy(), rails, spiking, *spike_tiled,
           _rows(membrane), _rows(clamped), _rows(spikes), _const(net.dtype))


def spike_rows(counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Spike counts (T, B, M) as rows for `chip_feedforward`: (row_start (B·T + 1,), source, count), the
    nonzero entries ordered by entry, then step (`row_start[b·T + t]` is the first of step t of entry b)."""
    counts = counts.detach().contiguous()
    nonzero = int(torch.count_nonzero(counts))
    steps, batch = counts.shape[0], counts.shape[1]
    row_start = torch.empty(batch * steps + 1, dtype=torch.int64)
    source, count = torch.empty(nonzero, dtype=torch.int64), torch.empty(nonzero, dtype=counts.dtype)
    _compiled().spike_rows(counts.numpy(), row_start.numpy(), source.numpy(), count.numpy())
    return row_start, source, count


def event_rows(events: torch.Tensor, steps: int, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Spike events (E, 3) rows (entry, step, neuron) ordered by entry and step as rows for
    `chip_feedforward` (see `spike_rows`), each event one spike."""
    row_start = torch.empty(batch * steps + 1, dtype=torch.int64)
    source = torch.empty(events.shape[0], dtype=torch.int64)
    _compiled().event_rows(events.contiguous().numpy(), steps, row_start.numpy(), source.numpy())
    return row_start, source, torch.ones(source.shape[0])


def invalid_count(values: torch.Tensor) -> int:
    """The flat index of the first value of a contiguous CPU tensor that is no spike count (negative,
    fractional, infinite or NaN), or -1: one pass where the torch checks take several."""
    return int(_compiled().invalid_count(values.detach().contiguous().numpy()))


@attrs.frozen(eq=False)
class FeedforwardNeurons:
    """What `chip_feedforward` needs of one population's neurons (see `feedforward_neurons`): prepared once
    while its neurons stay, as numpy arrays the kernel takes."""

    arrays: tuple
    neurons: int
    spiking: bool
    dtype: Any


@attrs.frozen(eq=False)
class FeedforwardPopulation:
    """A population's neurons and the weights of its sources, as `chip_feedforward` takes them (see
    `feedforward_population`): prepared once per configuration."""

    arrays: tuple
    neurons: int
    spiking: bool
    dtype: Any


def feedforward_neurons(decay_exc: torch.Tensor, decay_inh: torch.Tensor, gain: float,
                        saturation: Optional[tuple[float, Sequence[float], Sequence[float], float]],
                        rest: torch.Tensor, decay_mem: torch.Tensor, input_gain: torch.Tensor, leak: torch.Tensor,
                        low: float, high: float, spiking: bool, threshold: torch.Tensor, reset: torch.Tensor,
                        refractory: torch.Tensor) -> FeedforwardNeurons:
    """One feed-forward LIF/LI population's parameters for `chip_feedforward`: `saturation` is (s, numerator,
    denominator, limit) of `hxgraph.chip.analog.saturate_`, or None; `rest` the loop-invariant
    (1 - decay_mem)·rest. A population that does not spike gets NaN thresholds."""
    dtype = leak.dtype

    def array(values: Sequence[float]) -> np.ndarray:
        return torch.tensor(list(values), dtype=dtype).numpy()

    s, numerator, denominator, limit = saturation if saturation is not None else (1.0, [0.0] * 5, [1.0] * 5, 1.0)
    nan = torch.full_like(leak, float("nan"))
    per_neuron = (decay_exc, decay_inh, rest, decay_mem, input_gain, leak)
    spike_parameters = (threshold, reset, refractory) if spiking else (nan, nan, torch.zeros_like(leak))
    arrays = (*(v.detach().contiguous().numpy() for v in per_neuron[:2]), array([gain]), saturation is not None,
              array([1 / s, s, limit]), array(numerator), array(denominator),
              *(v.detach().contiguous().numpy() for v in per_neuron[2:]), array([low, high]),
              *(v.detach().contiguous().numpy() for v in spike_parameters), spiking)
    return FeedforwardNeurons(arrays, leak.numel(), spiking, dtype)


def feedforward_population(weight_exc: Optional[torch.Tensor], weight_inh: Optional[torch.Tensor],
                           neurons: FeedforwardNeurons) -> FeedforwardPopulation:
    """`neurons` (from `feedforward_neurons`) with the delivered weights `weight_exc`/`weight_inh` (N, M) of
    their M sources side by side (None: no synapse of that sign)."""
    n = neurons.neurons

    def weight(w: Optional[torch.Tensor]) -> np.ndarray:  # float64 (M, N): see `_numba_kernels._arrived`
        return np.zeros((1, n)) if w is None else w.detach().T.double().contiguous().numpy()

    arrays = (weight(weight_exc), weight_exc is not None, weight(weight_inh), weight_inh is not None, *neurons.arrays)
    return FeedforwardPopulation(arrays, n, neurons.spiking, neurons.dtype)


def chip_feedforward(population: FeedforwardPopulation, steps: int, batch: int, arrivals: Sequence[torch.Tensor],
                     sample_step: torch.Tensor, sampled: Optional[Sequence[torch.Tensor]]
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """A whole emulated run of one feed-forward LIF/LI population (see
    `hxgraph.chip.emulator.Emulator._integrate_feedforward`, whose torch loops this equals to the bit).

    `population` from `feedforward_population`; `arrivals` = (row_start, source, count): the input spikes
    from `spike_rows` or `event_rows`. Where `sampled` gives four (B, S, N) tensors, they receive the
    membrane before, the net current, the clamp and spike masks of the step `sample_step` (B, S) of each
    sample. Returns the spike events: int64 (E, 3) rows (entry, step, neuron) ordered by entry, step and
    neuron, and (E, 2) the membrane before the step and the net current of each."""
    n, dtype = population.neurons, population.dtype
    row_start, source, count = arrivals
    record = sampled is not None
    order = (torch.argsort(sample_step, dim=1, stable=True) if record else torch.zeros(batch, 0, dtype=torch.int64))
    dummy = np.zeros((1, 1, 1), dtype=torch.empty(0, dtype=dtype).numpy().dtype)
    sampled_arrays = [t.numpy() for t in sampled] if record else [dummy] * 4
    args = (steps, row_start.numpy(), source.contiguous().numpy(), count.contiguous().numpy(), *population.arrays,
            sample_step.contiguous().numpy(), order.numpy(), *sampled_arrays)
    const = _const(dtype)

    def room(lo: int, hi: int) -> int:
        """Event rows for entries lo..hi to start with: room for a spike in one of 32 steps of each neuron
        (yin-yang: about one in 130); the kernel stops where they are full, and the run goes on from there."""
        return max(64, (hi - lo) * steps * n // 32) if population.spiking else 0

    def run(lo: int, hi: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """The events of entries lo..hi, in parts: the kernel stops where its buffers are full."""
        parts, rows = [], room(lo, hi)
        while True:
            events, values = np.empty((rows, 3), np.int64), np.empty((rows, 2), const.dtype)
            stop, found = _compiled().chip_feedforward(*args, events, values, const, lo, hi)
            parts.append((events[:found], values[:found]))
            if stop == hi:
                return parts
            # room for the entry that did not fit (n events per step at most) and more like those before
            rows = max(steps * n, 2 * rows)
            lo = stop

    bounds = _bounds(batch, 1, steps * batch * n)
    if len(bounds) > 1 and _numba_threads():  # the parts at once in numba's threads (see `_split`)
        rows = max(room(lo, hi) for lo, hi in bounds)
        events = np.empty((len(bounds), rows, 3), np.int64)
        values = np.empty((len(bounds), rows, 2), const.dtype)
        result = np.empty((len(bounds), 2), np.int64)
        _compiled().chip_feedforward_parts(np.array(bounds, dtype=np.int64), *args, events, values, const, result)
        parts = []
        for p, ((_, hi), (stop, found)) in enumerate(zip(bounds, result.tolist())):
            parts.append((events[p, :found], values[p, :found]))
            if stop < hi:  # its buffers were full: on from there
                parts.extend(run(stop, hi))
    else:
        parts = [part for chunk in _split(run, batch, 1, steps * batch * n) for part in chunk]
    events = torch.from_numpy(np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0])
    values = torch.from_numpy(np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1])
    return events, values


def crossing_ticks(step: torch.Tensor, neuron: torch.Tensor, v0: torch.Tensor, net: torch.Tensor, rest: torch.Tensor,
                   tau_mem: torch.Tensor, tau_syn: torch.Tensor, kappa: torch.Tensor, close: torch.Tensor,
                   safe: torch.Tensor, threshold: torch.Tensor, low: float, high: float, dt: float, clock: float,
                   constants: Sequence[float]) -> torch.Tensor:
    """The clock tick of each spike (one per entry of step, neuron, v0 and net: (E,), int64 and float32) at
    which its membrane crossed the threshold: `hxgraph.chip.emulator.Emulator._spike_events`'s search compiled,
    its e^x (`constants`: `hxgraph.chip.emulator.EXP_CONSTANTS`) computed as `exp_` does; the same ticks.
    rest .. threshold are the neurons' parameters (N,), looked up by `neuron`."""
    ticks = torch.empty(step.shape[0], dtype=torch.int64)
    per_neuron = [t.detach().contiguous().numpy() for t in (rest, tau_mem, tau_syn, kappa, close, safe, threshold)]
    _split(_compiled().crossing_ticks, step.shape[0], 1, 64 * step.shape[0], step.contiguous().numpy(),
           neuron.contiguous().numpy(), v0.detach().contiguous().numpy(), net.detach().contiguous().numpy(),
           *per_neuron, np.array([low, high], np.float32), dt, clock, np.array(constants, np.float32), ticks.numpy())
    return ticks


def cadc_membrane(step: torch.Tensor, tau: torch.Tensor, v0: torch.Tensor, net: torch.Tensor, clamped: torch.Tensor,
                  spiked: torch.Tensor, rest: torch.Tensor, tau_mem: torch.Tensor, tau_syn: torch.Tensor,
                  kappa: torch.Tensor, close: torch.Tensor, safe: torch.Tensor, leak: torch.Tensor,
                  reset: torch.Tensor, threshold: torch.Tensor, spiking: bool, low: float, high: float,
                  constants: Sequence[float]) -> torch.Tensor:
    """The membrane (B, S, N) at samples `tau` seconds (B, S) into their grid steps `step` (B, S), from the state
    of each sample's step (v0, net, clamped, spiked: contiguous (B, S, N)) and per-neuron parameters:
    `hxgraph.chip.emulator.Emulator._membrane_between` compiled, the same bits."""
    out = torch.empty(v0.shape, dtype=v0.dtype)
    per_neuron = [t.detach().contiguous().numpy() for t in (rest, tau_mem, tau_syn, kappa, close, safe, leak, reset,
                                                             threshold)]
    _split(_compiled().cadc_membrane, step.shape[0], 1, 16 * v0.numel(), step.contiguous().numpy(),
           tau.contiguous().numpy(), *(t.numpy() for t in (v0, net, clamped, spiked)), *per_neuron, spiking,
           np.array([low, high], np.float32), np.array(constants, np.float32), out.numpy())
    return out


def grid_spikes(events: torch.Tensor, steps: int, batch: int, size: int, clock: float, dt: float) -> torch.Tensor:
    """Spike counts (T, B, N) float32 on the grid from events (E, 3) rows (entry, neuron, clock tick):
    `hxgraph.loop.grid_spikes` in one pass."""
    out = OUTPUTS.empty((steps, batch, size), torch.float32).zero_()  # (no page faults once a run's are freed)
    _compiled().grid_counts(events.contiguous().numpy(), steps, clock, dt, out.numpy())
    return out


def interpolate_samples(times: torch.Tensor, values: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """`hxgraph.loop.interpolate_samples` in one pass: float64 times (B, S) and grid (T,), float32 values
    (B, S, N) → (T, B, N) float32, the same bits."""
    out = OUTPUTS.empty((grid.shape[0], *values.shape[::2]), torch.float32)
    _compiled().interpolate(times.contiguous().numpy(), values.contiguous().numpy(), grid.contiguous().numpy(),
                            out.numpy())
    return out


def accumulate_spikes(spikes: torch.Tensor, weight_t: torch.Tensor, out: torch.Tensor) -> None:
    """``out += spikes @ weight_t`` for sparse spike counts (rows, sources): one weight row added per
    nonzero count, products and sums in float64 (`out` is float64): exact for whole counts and float32
    weights, as the float64 matrix product is; `weight_t` is (sources, targets)."""
    s = spikes.detach().reshape(-1, spikes.shape[-1])
    o = out.reshape(-1, out.shape[-1])
    if not (s.is_contiguous() and o.is_contiguous()):
        raise ValueError("hxgraph.kernels needs contiguous tensors")
    _split(_compiled().accumulate_spikes, s.shape[0], 1, s.numel(), s.numpy(), weight_t.detach().contiguous().numpy(),
           o.numpy())
