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
from numba import njit, prange
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
            clamp = refractory and t > 0  # clamped at reset in the step after a spike
            # Each select below stores a value computed in its loop (or loads both of its values first): a
            # select that may keep what the array holds compiles to a masked store, several times slower.
            if t == 0:  # v = leak and i = 0 before the first step
                for j in range(w):
                    pt[j] = fma(alpha_m[j], leak[j], gamma[j])
                for j in range(w):
                    ct[j] = xt[j]
            else:
                cp, vp = current[t - 1, base:e], membrane[t - 1, base:e]
                for j in range(w):
                    ct[j] = fma(a[j], cp[j], xt[j])
                if clamp:
                    for j in range(w):
                        p, held = fma(alpha_m[j], vp[j], fma(beta[j], cp[j], gamma[j])), reset[j]
                        pt[j] = held if zp[j] != zero else p
                else:
                    for j in range(w):
                        pt[j] = fma(alpha_m[j], vp[j], fma(beta[j], cp[j], gamma[j]))
            if mask_spikes and clamp:
                for j in range(w):
                    z = one if pt[j] > threshold[j] else zero
                    zt[j] = zero if zp[j] != zero else z
            else:
                for j in range(w):
                    zt[j] = one if pt[j] > threshold[j] else zero
            for j in range(w):
                held, p = reset[j], pt[j]
                vt[j] = held if zt[j] != zero else p
            if surrogate:  # 1 / (alpha·|p - threshold| + 1)², zero while clamped
                if clamp:
                    for j in range(w):
                        d = abs(pt[j] - threshold[j]) * alpha[j] + one
                        factor = one / (d * d)
                        pt[j] = zero if zp[j] != zero else factor
                else:
                    for j in range(w):
                        d = abs(pt[j] - threshold[j]) * alpha[j] + one
                        pt[j] = one / (d * d)


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
def lif_adjoint(grad_z, has_gz, uniform_gz, surrogate, grad_v, has_gv, grad_i, has_gi, spikes, alpha_m, beta, a,
                one_step, grad_x, lo, hi):
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
            if has_gz and uniform_gz:  # one value everywhere (the gradient of a sum): grad_z[0, 0]
                g, s = grad_z[0, 0], surrogate[t, base:e]
                for j in range(w):
                    lp[j] = g * s[j]
            elif has_gz:
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
                    start, left = refractory[j], max(counter[j] - ct[j], zero)
                    counter[j] = start if zt[j] != zero else left


@_jit
def accumulate_spikes(spikes, weight_t, out, lo, hi):
    """out[r] += Σ_s spikes[r, s] · weight_t[s] for rows lo..hi, skipping zero counts; products and
    sums in float64 (out is float64): exact for float32 weights and whole counts, in any order."""
    for r in range(lo, hi):
        row, target = spikes[r], out[r]
        for s in range(spikes.shape[1]):
            count = row[s]
            if count != 0:
                w = weight_t[s]
                for k in range(w.shape[0]):
                    target[k] += np.float64(count) * np.float64(w[k])


@njit(inline="always", cache=True)
def _arrived(first, last, source, count, weight, total, out, dirty):
    """out = Σ count[e] · weight[source[e]] over the entries e = first..last-1 (weight: float64 copies of
    float32 values; the float64 sums of their products with whole counts are exact, so in any order),
    rounded to out's dtype; returns whether out may be nonzero (`dirty`:
    whether it may be now; an out known to be zero is not cleared again)."""
    if first == last:
        if dirty:
            for j in range(out.shape[0]):
                out[j] = 0
        return False
    for j in range(total.shape[0]):
        total[j] = 0
    for e in range(first, last):
        c = np.float64(count[e])
        m = source[e]
        for j in range(total.shape[0]):
            total[j] += c * weight[m, j]
    for j in range(total.shape[0]):
        out[j] = total[j]
    return True


@_jit
def chip_feedforward(steps, row_start, source, count, w_exc, has_exc, w_inh, has_inh, decay_exc, decay_inh, gain,
                     saturate, sat, p, q, rest, decay_mem, input_gain, leak, rails_at, threshold, reset, refractory,
                     spiking, sample_step, sample_order, sampled_v0, sampled_net, sampled_clamped, sampled_spikes,
                     events, values, const, lo, hi):
    """A feed-forward population's whole run for batch entries lo..hi, one entry at a time through all steps
    (its state stays in cache), as `Emulator._integrate_feedforward` computes it, the same operations in the
    same order:
    - arrivals: the input spikes of entry b in step t are entries row_start[b·T + t] .. row_start[b·T + t + 1]
      of `source` (which input) and `count`, through w_exc/w_inh (M, N);
    - synapse filter, saturation (`hxgraph.chip.analog.saturate_`: sat = [1/s, s, limit], p and q its
      coefficients), membrane, rails, spikes and refractory counter. A population that does not spike has
      NaN thresholds: its comparisons are false, so the same loop serves it;
    - the state at each CADC sample's step (sample_step (B, S), visited in sample_order; none when S = 0);
    - the spike events (entry, step, neuron), in that order, into `events`, with the membrane before the step
      and the net current into `values` (none unless `spiking`).
    Returns (stop, found): the events of the entries lo..stop-1 fill the first `found` rows; stop < hi where
    the buffers would have overflowed during entry `stop` (call again from there with new buffers). (The
    buffers are never replaced in here: an array variable assigned in a loop makes numba count references on
    every use, many times slower.)"""
    zero, one = const[0], const[1]
    g = gain[0]
    low, high = rails_at[0], rails_at[1]
    inv, s, limit = sat[0], sat[1], sat[2]
    p0, p1, p2, p3, p4 = p[0], p[1], p[2], p[3], p[4]
    q0, q1, q2, q3, q4 = q[0], q[1], q[2], q[3], q[4]
    n = leak.shape[0]
    f = leak.dtype
    exc, inh, v, counter = np.empty(n, f), np.empty(n, f), np.empty(n, f), np.empty(n, f)
    before, net, z, c = np.empty(n, f), np.empty(n, f), np.empty(n, f), np.empty(n, f)
    arrived_exc, arrived_inh, total = np.zeros(n, leak.dtype), np.zeros(n, leak.dtype), np.empty(n, np.float64)
    found = 0
    dirty_exc = dirty_inh = False
    for b in range(lo, hi):
        mark = found
        for j in range(n):
            exc[j] = zero
            inh[j] = zero
            counter[j] = zero
            v[j] = leak[j]
        k = 0
        for t in range(steps):
            first, last = row_start[b * steps + t], row_start[b * steps + t + 1]
            if has_exc:
                dirty_exc = _arrived(first, last, source, count, w_exc, total, arrived_exc, dirty_exc)
            if has_inh:
                dirty_inh = _arrived(first, last, source, count, w_inh, total, arrived_inh, dirty_inh)
            sampled = k < sample_order.shape[1] and sample_step[b, sample_order[b, k]] == t
            if sampled:  # the clamp mask of this step, from the counter before it (the main loop needs not store it)
                for j in range(n):
                    c[j] = one if counter[j] > zero else zero
            # One loop over the neurons for the whole step (the state stays in registers). Exact as the torch
            # loops: an absent synapse sign adds gain·0, which leaves its state (>= +0) as it is; the rails
            # are ±inf where there are none; each select loads both values into a fresh result, as a select
            # that may keep the old value would compile to a masked store, many times slower.
            fired_here = 0
            for j in range(n):
                prev, e, i = v[j], exc[j], inh[j]
                current = e - i  # drives the membrane during (t-1, t]
                if saturate:
                    x = min(max(current * inv, -limit), limit)
                    u = x * x
                    num = u * p0 + p1
                    den = u * q0 + q1
                    num = num * u + p2
                    den = den * u + q2
                    num = num * u + p3
                    den = den * u + q3
                    num = num * u + p4
                    den = den * u + q4
                    current = min(max((x * num) / den, -one), one) * s
                vn = fma(current, input_gain[j], fma(prev, decay_mem[j], rest[j]))
                vn = min(max(vn, low), high)
                fired = one if vn - threshold[j] > zero else zero
                left = counter[j]
                held = one if left > zero else zero
                at_reset = reset[j]
                v[j] = at_reset if (fired != zero) | (held != zero) else vn
                fired = max(fired - held, zero)
                start, left = refractory[j], max(left - held, zero)
                counter[j] = start if fired != zero else left
                z[j] = fired
                before[j] = prev
                net[j] = current
                exc[j] = fma(arrived_exc[j], g, e * decay_exc[j])
                inh[j] = fma(arrived_inh[j], g, i * decay_inh[j])
            if spiking:  # (counted in a loop of its own: an integer count in the loop above halves its width)
                for j in range(n):
                    fired_here += z[j] != zero
            if fired_here:
                if found + n > events.shape[0]:
                    return b, mark
                for j in range(n):
                    if z[j] != zero:
                        events[found, 0] = b
                        events[found, 1] = t
                        events[found, 2] = j
                        values[found, 0] = before[j]
                        values[found, 1] = net[j]
                        found += 1
            while sampled and k < sample_order.shape[1] and sample_step[b, sample_order[b, k]] == t:
                o = sample_order[b, k]
                for j in range(n):
                    sampled_v0[b, o, j] = before[j]
                    sampled_net[b, o, j] = net[j]
                    sampled_clamped[b, o, j] = c[j]
                    sampled_spikes[b, o, j] = z[j]
                k += 1
    return hi, found


@_jit
def spike_rows(counts, row_start, source, count):
    """The nonzero entries of counts (T, B, M) ordered by entry b, then step t: row_start[b·T + t] is the
    first of (t, b)'s entries in source (the index m) and count (the value); row_start has B·T + 1 rows
    and source/count room for every nonzero. Returns the number of entries."""
    steps, batch = counts.shape[0], counts.shape[1]
    found = 0
    for b in range(batch):
        for t in range(steps):
            row_start[b * steps + t] = found
            for m in range(counts.shape[2]):
                value = counts[t, b, m]
                if value != 0:
                    source[found] = m
                    count[found] = value
                    found += 1
    row_start[batch * steps] = found
    return found


@_jit
def invalid_count(values):
    """The flat index of the first value that is no spike count (a whole number >= 0: negative, fractional,
    infinite or NaN), or -1."""
    flat = values.reshape(-1)
    bad = 0
    for j in range(flat.shape[0]):  # no branch: a loop LLVM vectorises
        x = flat[j]
        bad += (x >= 0) & (x == np.floor(x)) & (x < np.inf) == 0
    if bad == 0:
        return -1
    for j in range(flat.shape[0]):
        x = flat[j]
        if not (x >= 0 and x == np.floor(x) and x < np.inf):
            return j
    return -1


@njit(inline="always", cache=True)
def _exp(x, c, k, r, p, bits, scale):
    """p = e^x for float32 arrays x <= 0, as `hxgraph.chip.emulator.exp_` computes it (the same operations in the
    same order: x = k·ln2 + r, a degree-7 polynomial in r, times 2^k set through the exponent bits); c = [log2 e,
    ln2 high, ln2 low, -87, then the polynomial's coefficients from the highest power]; k, r: scratch; bits and
    scale: an int32 array and its float32 view. One flat loop per operation, which LLVM vectorises."""
    for j in range(x.shape[0]):
        k[j] = np.rint(max(x[j], c[3]) * c[0])
    for j in range(x.shape[0]):
        y = max(x[j], c[3]) - k[j] * c[1]
        r[j] = y - k[j] * c[2]
    for j in range(x.shape[0]):
        q = r[j] * c[4] + c[5]
        q = q * r[j] + c[6]
        q = q * r[j] + c[7]
        q = q * r[j] + c[8]
        q = q * r[j] + c[9]
        q = q * r[j] + c[10]
        p[j] = q * r[j] + c[11]
    for j in range(x.shape[0]):
        bits[j] = (np.int32(k[j]) + 127) << 23
    for j in range(x.shape[0]):
        p[j] = p[j] * scale[j]


@njit(inline="always", cache=True)
def _subthreshold(rest, offset, drive, tau, decay, other, close, safe, low, high):
    """`hxgraph.chip.emulator.subthreshold` (the same operations in the same order) within the rails: the membrane
    `tau` into a step that started `offset` above `rest` with the current's drive kappa·net; decay and other
    are e^(-tau/tau_mem) and e^(-tau/tau_syn) (both computed, then one chosen: a select, not a branch)."""
    near = tau * decay
    far = (other - decay) / safe
    integral = near if close else far
    return min(max(rest + offset * decay + drive * integral, low), high)


@_jit
def crossing_ticks(step, neuron, v0, net, rest_of, tau_mem_of, tau_syn_of, kappa, close_of, safe_of, threshold_of,
                   rails, dt, clock, c, ticks, lo, hi):
    """The clock tick at which each spike's membrane crossed its threshold: the bisection of
    `Emulator._spike_events` over the ticks of its step, the membrane evaluated as its `membrane` closure does
    (float32, the same operations in the same order, `_exp` for torch's `exp_`), for the spikes lo..hi, all
    of them a bisection step at a time (a loop over the spikes, vectorised, per step). The parameters
    (`..._of`, kappa) are per neuron, looked up by `neuron` once."""
    low, high = rails[0], rails[1]
    m = hi - lo
    f32 = v0.dtype
    below, above, mid = np.empty(m, np.int64), np.empty(m, np.int64), np.empty(m, np.int64)
    start, offset, drive = np.empty(m), np.empty(m, f32), np.empty(m, f32)
    tau, x, decay, other, k, r = (np.empty(m, f32), np.empty(m, f32), np.empty(m, f32), np.empty(m, f32),
                                  np.empty(m, f32), np.empty(m, f32))
    rest, tau_mem, tau_syn, safe, threshold = (np.empty(m, f32), np.empty(m, f32), np.empty(m, f32),
                                               np.empty(m, f32), np.empty(m, f32))
    close = np.empty(m, np.bool_)
    bits = np.empty(m, np.int32)
    scale = bits.view(np.float32)
    for j in range(m):
        e, i = lo + j, neuron[lo + j]
        rest[j], tau_mem[j], tau_syn[j] = rest_of[i], tau_mem_of[i], tau_syn_of[i]
        close[j], safe[j], threshold[j] = close_of[i], safe_of[i], threshold_of[i]
        start[j] = (step[e] - 1) * dt
        below[j] = np.int64(np.floor(start[j] / clock + 1e-6))
        above[j] = np.int64(np.ceil((start[j] + dt) / clock - 1e-6))
        offset[j] = v0[e] - rest[j]
        drive[j] = kappa[i] * net[e]
    while True:
        open_ = 0
        for j in range(m):
            open_ += above[j] - below[j] > 1
        if open_ == 0:
            break
        # the closed ones evaluate at their end again and keep it (as the torch loop does)
        for j in range(m):
            mid[j] = (below[j] + above[j]) // 2 if above[j] - below[j] > 1 else above[j]
        for j in range(m):
            tau[j] = np.float32(max(mid[j] * clock - start[j], 0.0))
        for j in range(m):
            x[j] = -tau[j] / tau_mem[j]
        _exp(x, c, k, r, decay, bits, scale)
        for j in range(m):
            x[j] = -tau[j] / tau_syn[j]
        _exp(x, c, k, r, other, bits, scale)
        for j in range(m):
            v = _subthreshold(rest[j], offset[j], drive[j], tau[j], decay[j], other[j], close[j], safe[j], low, high)
            up = v > threshold[j] or above[j] - below[j] <= 1
            b, a = below[j], above[j]
            above[j] = mid[j] if up else a
            below[j] = b if up else mid[j]
    for j in range(m):
        ticks[lo + j] = above[j] if step[lo + j] > 0 else 0


@_jit
def event_rows(events, steps, row_start, source):
    """row_start (B·T + 1,) of events (E, 3) rows (entry, step, neuron) sorted by entry and step: row_start[b·T + t]
    is the first event of step t of entry b; source gets the neurons."""
    e = 0
    count = events.shape[0]
    for row in range(row_start.shape[0] - 1):
        row_start[row] = e
        while e < count and events[e, 0] * steps + events[e, 1] == row:
            source[e] = events[e, 2]
            e += 1
    row_start[row_start.shape[0] - 1] = e


@_jit
def cadc_membrane(step, tau, v0, net, clamped, spiked, rest, tau_mem, tau_syn, kappa, close, safe, leak, reset,
                  threshold, spiking, rails, c, out, lo, hi):
    """The membrane at each sample (entries lo..hi): `Emulator._membrane_between` — the exact solution from the
    state before the sample's step (`subthreshold`, e^x as `_exp`), the rails, the leak before the first
    step, the reset while clamped or after a crossing in a step that ends with a spike; the same operations in
    the same order, so the same bits."""
    low, high = rails[0], rails[1]
    n = rest.shape[0]
    m = step.shape[1] * n  # an entry's samples × neurons: the e^x in one flat pass each (few neurons, many samples)
    f32 = rest.dtype
    x, decay, other, k, r = np.empty(m, f32), np.empty(m, f32), np.empty(m, f32), np.empty(m, f32), np.empty(m, f32)
    bits = np.empty(m, np.int32)
    scale = bits.view(np.float32)
    for b in range(lo, hi):
        for s in range(step.shape[1]):
            t = np.float32(tau[b, s])
            for j in range(n):
                x[s * n + j] = -t / tau_mem[j]
        _exp(x, c, k, r, decay, bits, scale)
        for s in range(step.shape[1]):
            t = np.float32(tau[b, s])
            for j in range(n):
                x[s * n + j] = -t / tau_syn[j]
        _exp(x, c, k, r, other, bits, scale)
        for s in range(step.shape[1]):
            t = np.float32(tau[b, s])
            first = step[b, s] == 0
            for j in range(n):
                e = s * n + j
                v = _subthreshold(rest[j], v0[b, s, j] - rest[j], kappa[j] * net[b, s, j], t, decay[e], other[e],
                                  close[j], safe[j], low, high)
                v = leak[j] if first else v
                if spiking:
                    v = reset[j] if clamped[b, s, j] > 0 else v
                    v = reset[j] if spiked[b, s, j] > 0 and v > threshold[j] else v
                out[b, s, j] = v


@_jit
def grid_counts(events, steps, clock, dt, out):
    """Spike events (E, 3) rows (entry, neuron, clock tick) added up per grid step into out (T, B, N), as
    `hxgraph.loop.grid_spikes` counts them: the step ceil(tick·clock/dt - 1e-6) in float64; later ones dropped."""
    for e in range(events.shape[0]):
        step = np.int64(np.ceil(np.float64(events[e, 2]) * clock / dt - 1e-6))
        if step < steps:
            out[step, events[e, 0], events[e, 1]] += 1


@_jit
def interpolate(times, values, grid, out):
    """`hxgraph.loop.interpolate_samples`: samples values (B, S, N) at times (B, S) linearly onto grid (T,) into
    out (T, B, N): the same lower-bound search as torch.searchsorted and the same operations and roundings."""
    samples = times.shape[1]
    one = np.float32(1)
    for b in range(times.shape[0]):
        for t in range(grid.shape[0]):
            q = grid[t]
            if samples > 1:
                start, end = 0, samples  # the first sample not before q (torch's lower bound, the same steps)
                while start < end:
                    mid = start + ((end - start) >> 1)
                    if not times[b, mid] >= q:
                        start = mid + 1
                    else:
                        end = mid
                right = min(max(start, 1), samples - 1)
            else:
                right = 0
            left = max(right - 1, 0)
            t0, t1 = times[b, left], times[b, right]
            span = max(t1 - t0, 1e-15)
            w = np.float32(min(max((q - t0) / span, 0.0), 1.0))
            for j in range(values.shape[2]):
                out[t, b, j] = values[b, left, j] * (one - w) + values[b, right, j] * w


# ---------------------------------------------------------------------------------------
# Parallel drivers: `<kernel>_parts(bounds, ...)` runs `<kernel>(..., lo, hi)` for every row (lo, hi) of
# `bounds` at once, in numba's threads. With numba's OpenMP layer those are the OpenMP threads torch runs on
# (one libgomp in the process), which after a torch operation spin, waiting for work: a thread of our own
# beside them competes with one for a core (`hxgraph.kernels._split`).
# ---------------------------------------------------------------------------------------

_parallel = njit(cache=True, nogil=True, parallel=True, error_model="numpy")


@_parallel
def probe_parts(bounds, out):
    """Starts numba's threading layer (`hxgraph.kernels` reads which one it chose)."""
    for p in prange(bounds.shape[0]):
        out[p] = bounds[p, 1] - bounds[p, 0]


@_parallel
def scan_parts(bounds, rows, decay):
    for p in prange(bounds.shape[0]):
        scan(rows, decay, bounds[p, 0], bounds[p, 1])


@_parallel
def reverse_scan_parts(bounds, rows, decay, stepwise, stop):
    for p in prange(bounds.shape[0]):
        reverse_scan(rows, decay, stepwise, stop, bounds[p, 0], bounds[p, 1])


@_parallel
def lif_forward_parts(bounds, x, a, alpha_m, beta, gamma, leak, reset, threshold, alpha, refractory, mask_spikes,
                      surrogate, current, potential, membrane, spikes, const):
    for p in prange(bounds.shape[0]):
        lif_forward(x, a, alpha_m, beta, gamma, leak, reset, threshold, alpha, refractory, mask_spikes,
                    surrogate, current, potential, membrane, spikes, const, bounds[p, 0], bounds[p, 1])


@_parallel
def lif_membrane_adjoint_parts(bounds, rows, spikes, alpha_m, one_step):
    for p in prange(bounds.shape[0]):
        lif_membrane_adjoint(rows, spikes, alpha_m, one_step, bounds[p, 0], bounds[p, 1])


@_parallel
def lif_adjoint_parts(bounds, grad_z, has_gz, uniform_gz, surrogate, grad_v, has_gv, grad_i, has_gi, spikes,
                      alpha_m, beta, a, one_step, grad_x):
    for p in prange(bounds.shape[0]):
        lif_adjoint(grad_z, has_gz, uniform_gz, surrogate, grad_v, has_gv, grad_i, has_gi, spikes, alpha_m,
                    beta, a, one_step, grad_x, bounds[p, 0], bounds[p, 1])


@_parallel
def input_adjoint_parts(bounds, rows, grad_i, has_grad_i, beta, a):
    for p in prange(bounds.shape[0]):
        input_adjoint(rows, grad_i, has_grad_i, beta, a, bounds[p, 0], bounds[p, 1])


@_parallel
def synaptic_filter_parts(bounds, excitatory, has_exc, inhibitory, has_inh, decay_exc, decay_inh, gain, net):
    for p in prange(bounds.shape[0]):
        synaptic_filter(excitatory, has_exc, inhibitory, has_inh, decay_exc, decay_inh, gain, net, bounds[p, 0],
                        bounds[p, 1])


@_parallel
def chip_membrane_parts(bounds, net, rest, decay_mem, input_gain, leak, rails_at, rails, spiking, threshold, reset,
                        refractory, membrane, clamped_out, spikes_out, const):
    for p in prange(bounds.shape[0]):
        chip_membrane(net, rest, decay_mem, input_gain, leak, rails_at, rails, spiking, threshold, reset,
                      refractory, membrane, clamped_out, spikes_out, const, bounds[p, 0], bounds[p, 1])


@_parallel
def accumulate_spikes_parts(bounds, spikes, weight_t, out):
    for p in prange(bounds.shape[0]):
        accumulate_spikes(spikes, weight_t, out, bounds[p, 0], bounds[p, 1])


@_parallel
def crossing_ticks_parts(bounds, step, neuron, v0, net, rest_of, tau_mem_of, tau_syn_of, kappa, close_of, safe_of,
                         threshold_of, rails, dt, clock, c, ticks):
    for p in prange(bounds.shape[0]):
        crossing_ticks(step, neuron, v0, net, rest_of, tau_mem_of, tau_syn_of, kappa, close_of, safe_of,
                       threshold_of, rails, dt, clock, c, ticks, bounds[p, 0], bounds[p, 1])


@_parallel
def cadc_membrane_parts(bounds, step, tau, v0, net, clamped, spiked, rest, tau_mem, tau_syn, kappa, close, safe,
                        leak, reset, threshold, spiking, rails, c, out):
    for p in prange(bounds.shape[0]):
        cadc_membrane(step, tau, v0, net, clamped, spiked, rest, tau_mem, tau_syn, kappa, close, safe, leak,
                      reset, threshold, spiking, rails, c, out, bounds[p, 0], bounds[p, 1])


@_parallel
def chip_feedforward_parts(bounds, steps, row_start, source, count, w_exc, has_exc, w_inh, has_inh, decay_exc,
                           decay_inh, gain, saturate, sat, p, q, rest, decay_mem, input_gain, leak, rails_at,
                           threshold, reset, refractory, spiking, sample_step, sample_order, sampled_v0,
                           sampled_net, sampled_clamped, sampled_spikes, events, values, const, result):
    """`chip_feedforward` for each part k of `bounds` into its own buffers events[k] and values[k]; result[k]
    gets its (stop, found)."""
    for k in prange(bounds.shape[0]):
        stop, found = chip_feedforward(steps, row_start, source, count, w_exc, has_exc, w_inh, has_inh, decay_exc,
                                       decay_inh, gain, saturate, sat, p, q, rest, decay_mem, input_gain, leak,
                                       rails_at, threshold, reset, refractory, spiking, sample_step, sample_order,
                                       sampled_v0, sampled_net, sampled_clamped, sampled_spikes, events[k],
                                       values[k], const, bounds[k, 0], bounds[k, 1])
        result[k, 0] = stop
        result[k, 1] = found
