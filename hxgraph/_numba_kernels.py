"""The numba-compiled loops behind `hxgraph.kernels` (imported on first use; needs numba).

Arrays are (steps, columns), a column being one (batch entry, neuron). Per-neuron parameters
come as one block: the N values repeated for a few batch entries, `width` columns in all
(`hxgraph.kernels` picks it, small enough to stay in cache), and a kernel walks, step by step,
its columns lo..hi block by block. Disjoint column ranges can run on several threads (the
kernels release the GIL). Every step of a block is a few flat loops with one or two arrays
written each, over views indexed from 0: loops of that shape are what LLVM vectorises (one
fused loop over many arrays, or an index that starts at a variable offset, is not, and runs
several times slower).

`fma` is the fused multiply-add that torch's CPU `addcmul` and `add(alpha=)` use: calling it
where torch does keeps results equal to the bit. Constants come in as `const = [0, 1]` of the
arrays' dtype, because a float literal would make numba compute in float64 where torch
computes in float32.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import intrinsic


@intrinsic
def fma(typingctx, a, b, c):
    """a · b + c rounded once (LLVM's llvm.fma)."""
    def codegen(context, builder, signature, args):
        return builder.fma(*args)
    return a(a, b, c), codegen


_jit = njit(cache=True, nogil=True, error_model="numpy")


@_jit
def scan(rows, decay, lo, hi):
    """rows[t] = rows[t] + decay · rows[t - 1] for t = 1.."""
    w = decay.shape[0]
    for t in range(1, rows.shape[0]):
        for base in range(lo, hi, w):
            now, before = rows[t, base:base + w], rows[t - 1, base:base + w]
            for j in range(w):
                now[j] = fma(decay[j], before[j], now[j])


@_jit
def reverse_scan(rows, decay, stepwise, stop, lo, hi):
    """rows[t] += decay · rows[t + 1] from the end down to `stop`; decay a block (1, width) or, `stepwise`,
    (steps, columns)."""
    w = decay.shape[1] if not stepwise else max(hi - lo, 1)
    for t in range(rows.shape[0] - 2, stop - 1, -1):
        for base in range(lo, hi, w):
            e = min(base + w, hi)
            now, after = rows[t, base:e], rows[t + 1, base:e]
            d = decay[t, base:e] if stepwise else decay[0, :e - base]
            for j in range(e - base):
                now[j] = fma(d[j], after[j], now[j])


@_jit
def lif_forward(x, a, alpha_m, beta, gamma, leak, reset, threshold, alpha, refractory, mask_spikes, surrogate,
                current, potential, membrane, spikes, const, lo, hi):
    zero, one = const[0], const[1]
    w = a.shape[0]
    for t in range(x.shape[0]):
        for base in range(lo, hi, w):
            e = base + w
            xt, ct, pt = x[t, base:e], current[t, base:e], potential[t, base:e]
            vt, zt = membrane[t, base:e], spikes[t, base:e]
            zp = spikes[max(t - 1, 0), base:e]
            if t == 0:  # v = leak and i = 0 before the first step
                for j in range(w):
                    pt[j] = fma(alpha_m[j], leak[j], gamma[j])
                for j in range(w):
                    ct[j] = xt[j]
            else:
                cp, vp = current[t - 1, base:e], membrane[t - 1, base:e]
                for j in range(w):
                    ct[j] = fma(a[j], cp[j], xt[j])
                for j in range(w):
                    pt[j] = fma(alpha_m[j], vp[j], fma(beta[j], cp[j], gamma[j]))
                if refractory:  # clamped at reset in the step after a spike
                    for j in range(w):
                        pt[j] = reset[j] if zp[j] != zero else pt[j]
            for j in range(w):
                zt[j] = one if pt[j] > threshold[j] else zero
            if mask_spikes and refractory and t > 0:
                for j in range(w):
                    zt[j] = zero if zp[j] != zero else zt[j]
            for j in range(w):
                vt[j] = reset[j] if zt[j] != zero else pt[j]
            if surrogate:  # 1 / (alpha·|p - threshold| + 1)², zero while clamped
                for j in range(w):
                    d = abs(pt[j] - threshold[j]) * alpha[j] + one
                    pt[j] = one / (d * d)
                if refractory and t > 0:
                    for j in range(w):
                        pt[j] = zero if zp[j] != zero else pt[j]


@njit(inline="always", cache=True)
def _kept(z, z_before, alpha_m, shifted):
    """alpha_m·(1 - z [- z_before]): how much of the membrane adjoint carries over a step (none where the
    membrane was set), computed as torch's addcmul(value=-1) does."""
    d = fma(-z, alpha_m, alpha_m)
    if shifted:
        d = fma(-z_before, alpha_m, d)
    return d


@_jit
def lif_membrane_adjoint(rows, spikes, alpha_m, one_step, lo, hi):
    """rows[t] += alpha_m·(1 - z_t [- z_{t-1}]) · rows[t + 1] from the end: the adjoint of the membrane
    before reset, carried over steps where it was not set (the factor as torch's addcmul(value=-1) gives it)."""
    w = alpha_m.shape[0]
    for t in range(rows.shape[0] - 2, -1, -1):
        for base in range(lo, hi, w):
            e = base + w
            now, after, zt = rows[t, base:e], rows[t + 1, base:e], spikes[t, base:e]
            zp = spikes[max(t - 1, 0), base:e]
            shifted = one_step and t > 0
            for j in range(w):
                now[j] = fma(_kept(zt[j], zp[j], alpha_m[j], shifted), after[j], now[j])


@_jit
def lif_adjoint(grad_z, has_gz, surrogate, grad_v, has_gv, grad_i, has_gi, spikes, alpha_m, beta, a, one_step,
                grad_x, lo, hi):
    """The LIF's input gradient in one sweep back in time (`_LIFFunction.backward` without parameter gradients):
    the membrane adjoint lambda_p[t] = grad_z·surrogate (+ grad_v, cut where the membrane was set)
    + alpha_m·(1 - z_t [- z_{t-1}])·lambda_p[t + 1], and grad_x[t] = beta·lambda_p[t + 1] (+ grad_i[t])
    + a·grad_x[t + 1], with the roundings of the torch code (which runs the same steps pass by pass)."""
    steps = spikes.shape[0]
    w = alpha_m.shape[0]
    following_all = spikes[0, lo:hi].copy()  # lambda_p[t + 1]
    lp = alpha_m.copy()
    for t in range(steps - 1, -1, -1):
        for base in range(lo, hi, w):
            e = base + w
            following = following_all[base - lo:e - lo]
            zt, zp = spikes[t, base:e], spikes[max(t - 1, 0), base:e]
            if has_gz:
                gz, s = grad_z[t, base:e], surrogate[t, base:e]
                for j in range(w):
                    lp[j] = gz[j] * s[j]
            else:
                lp[:] = 0
            if has_gv:
                gv = grad_v[t, base:e]
                for j in range(w):
                    lp[j] = lp[j] + gv[j]
                for j in range(w):
                    lp[j] = fma(-zt[j], gv[j], lp[j])
                if one_step and t > 0:
                    for j in range(w):
                        lp[j] = fma(-zp[j], gv[j], lp[j])
            if t < steps - 1 and (has_gz or has_gv):
                shifted = one_step and t > 0
                for j in range(w):
                    lp[j] = fma(_kept(zt[j], zp[j], alpha_m[j], shifted), following[j], lp[j])
            gx = grad_x[t, base:e]
            if t == steps - 1:
                if has_gi:
                    gi = grad_i[t, base:e]
                    for j in range(w):
                        gx[j] = gi[j]
                else:
                    gx[:] = 0
            else:
                nx = grad_x[t + 1, base:e]
                for j in range(w):
                    gx[j] = following[j] * beta[j]
                if has_gi:
                    gi = grad_i[t, base:e]
                    for j in range(w):
                        gx[j] = gx[j] + gi[j]
                for j in range(w):
                    gx[j] = fma(a[j], nx[j], gx[j])
            following[:] = lp


@_jit
def input_adjoint(rows, grad_i, has_grad_i, beta, a, lo, hi):
    """rows (T + 1, columns) holds the membrane adjoint in rows 0..T-1; turn rows 1..T into the adjoint of
    the current: rows[t] = beta·rows[t] (+ grad_i[t - 1]) + a·rows[t + 1], with rows[T] = grad_i[T - 1] or 0."""
    steps = rows.shape[0] - 1
    w = beta.shape[0]
    for base in range(lo, hi, w):
        e = base + w
        last = rows[steps, base:e]
        if has_grad_i:
            gl = grad_i[steps - 1, base:e]
            for j in range(w):
                last[j] = gl[j]
        else:
            last[:] = 0
    for t in range(steps - 1, 0, -1):
        for base in range(lo, hi, w):
            e = base + w
            now, after = rows[t, base:e], rows[t + 1, base:e]
            for j in range(w):
                now[j] = now[j] * beta[j]
            if has_grad_i:
                g = grad_i[t - 1, base:e]
                for j in range(w):
                    now[j] = now[j] + g[j]
            for j in range(w):
                now[j] = fma(a[j], after[j], now[j])


@njit(inline="always", cache=True)
def _synapse_step(state, decay, arrived, has_arrived, gain, t, base):
    """state = state·decay (+ gain·arrived[t] from column `base`): one sign's synapses over one step."""
    for j in range(state.shape[0]):
        state[j] = state[j] * decay[j]
    if has_arrived:
        now = arrived[t, base:base + state.shape[0]]
        for j in range(state.shape[0]):
            state[j] = fma(now[j], gain, state[j])


@_jit
def synaptic_filter(excitatory, has_exc, inhibitory, has_inh, decay_exc, decay_inh, gain, net, lo, hi):
    """net[t] = exc - inh, then exc = exc·decay_exc + gain·arrived[t] (add with alpha: one fma); gain = [g]."""
    g = gain[0]
    w = decay_exc.shape[0]
    exc_all = net[0, lo:hi].copy()
    inh_all = net[0, lo:hi].copy()
    exc_all[:] = 0
    inh_all[:] = 0
    for t in range(net.shape[0]):
        for base in range(lo, hi, w):
            e = base + w
            exc, inh, nt = exc_all[base - lo:e - lo], inh_all[base - lo:e - lo], net[t, base:e]
            for j in range(w):
                nt[j] = exc[j] - inh[j]
            _synapse_step(exc, decay_exc, excitatory, has_exc, g, t, base)
            _synapse_step(inh, decay_inh, inhibitory, has_inh, g, t, base)


@_jit
def chip_membrane(net, rest, decay_mem, input_gain, leak, rails_at, rails, spiking, threshold, reset, refractory,
                  membrane, clamped_out, spikes_out, const, lo, hi):
    """The emulator's membrane, spike and refractory-counter loop (see `Emulator._integrate_feedforward`)."""
    zero, one = const[0], const[1]
    low, high = rails_at[0], rails_at[1]
    w = rest.shape[0]
    counter_all = net[0, lo:hi].copy()
    counter_all[:] = 0
    for t in range(net.shape[0]):
        for base in range(lo, hi, w):
            e = base + w
            counter = counter_all[base - lo:e - lo]
            vt, nt = membrane[t, base:e], net[t, base:e]
            vp = membrane[t - 1, base:e] if t > 0 else leak
            for j in range(w):
                vt[j] = fma(nt[j], input_gain[j], fma(vp[j], decay_mem[j], rest[j]))
            if rails:
                for j in range(w):
                    vt[j] = min(max(vt[j], low), high)
            if spiking:
                zt, ct = spikes_out[t, base:e], clamped_out[t, base:e]
                for j in range(w):
                    zt[j] = one if vt[j] - threshold[j] > zero else zero
                for j in range(w):
                    ct[j] = one if counter[j] > zero else zero
                for j in range(w):
                    vt[j] = reset[j] if (zt[j] != zero or ct[j] != zero) else vt[j]
                for j in range(w):
                    zt[j] = max(zt[j] - ct[j], zero)
                for j in range(w):
                    counter[j] = refractory[j] if zt[j] != zero else max(counter[j] - ct[j], zero)


@_jit
def accumulate_spikes(spikes, weight_t, out, lo, hi):
    """out[r] += Σ_s spikes[r, s] · weight_t[s] for rows lo..hi, skipping zero counts."""
    for r in range(lo, hi):
        row, target = spikes[r], out[r]
        for s in range(spikes.shape[1]):
            count = row[s]
            if count != 0:
                w = weight_t[s]
                for k in range(w.shape[0]):
                    target[k] += count * w[k]


@_jit
def nonzero(values):
    """(index, dimension) int64 indices of the nonzero entries of a 3-d array, in row-major order."""
    count = 0
    flat = values.reshape(-1)
    for j in range(flat.shape[0]):
        if flat[j] != 0:
            count += 1
    out = np.empty((count, 3), np.int64)
    k = 0
    for t in range(values.shape[0]):
        for b in range(values.shape[1]):
            row = values[t, b]
            for n in range(row.shape[0]):
                if row[n] != 0:
                    out[k, 0] = t
                    out[k, 1] = b
                    out[k, 2] = n
                    k += 1
    return out
