"""The numba-compiled greedy step of `hxgraph.chip.routing` (imported on first use; needs numba).

`greedy_units` gives units, in order, the block that `_Router._greedy` would give them, on the
same state arrays, until it reaches a unit it leaves to Python (`_Router._step`): one whose
targets have several circuits in a hemisphere, or one that no block fits (the step then says
why). It compares the same integer preferences in the same order as the array version it
replaces, so ties and results are the same.

Layout (all int64): per unit `unit_p0`, `unit_np` (its parts, in option order), `unit_one` (1 when
every option has one part), `unit_s0`, `unit_s1` (candidate blocks, compact index); per part `part_h`,
`part_opt`, `part_start`, `part_size` (its positions), `part_de`, `part_di` (simple routing's rows);
per position `pos_pair`, `pos_row` (`h * C + column` in the state), `pos_add` (2, n) synapses per sign.
State: `D` (2 * blocks, H * C + H) synapses per block, sign and column, the block's rows per sign and
hemisphere in the last H columns; `curmax`, `ded` (H, blocks, 2); `rowsum`, `nlab`, `M` (H, blocks);
`cap` (blocks,). Results: `out_g`, `out_opt` per unit; `pair_h`, `pair_col` per pair.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_jit = njit(cache=True, nogil=True, error_model="numpy")

_NO_KEY = np.iinfo(np.int64).max


@_jit
def greedy_units(u, n_units, unit_p0, unit_np, unit_one, unit_skip, unit_s0, unit_s1,
                 part_h, part_opt, part_start, part_size, part_de, part_di,
                 pos_pair, pos_row, pos_add,
                 D, curmax, ded, rowsum, nlab, M, cap,
                 simple, pack, W, F, FULL, big_cost, big_lab, L, C,
                 out_g, out_opt, pair_h, pair_col):
    """Units u, u+1, ... until one is left to Python; returns its index (n_units when all are done)."""
    no_key = _NO_KEY
    limit = -FULL
    H = rowsum.shape[0]
    HC = D.shape[1] - H
    nb = rowsum.shape[1]
    max_p = 1
    for i in range(unit_np.shape[0]):
        if unit_np[i] > max_p:
            max_p = unit_np[i]
    new = np.zeros((max_p, nb, 2), dtype=np.int64)
    cost = np.zeros((max_p, nb), dtype=np.int64)
    while u < n_units:
        if unit_skip[u]:
            return u
        p0, P, s0, s1 = unit_p0[u], unit_np[u], unit_s0[u], unit_s1[u]
        # Rows (per sign) and their sum of every part in every candidate block.
        for p in range(P):
            q = p0 + p
            h = part_h[q]
            a, e = part_start[q], part_start[q] + part_size[q]
            for j in range(s0, s1):
                if simple:
                    cost[p, j] = rowsum[h, j] + part_de[q] + part_di[q]
                else:
                    r0 = 2 * j
                    n0 = curmax[h, j, 0]
                    n1 = curmax[h, j, 1]
                    for x in range(a, e):
                        r = pos_row[x]
                        v0 = D[r0, r] + pos_add[0, x]
                        v1 = D[r0 + 1, r] + pos_add[1, x]
                        if v0 > n0:
                            n0 = v0
                        if v1 > n1:
                            n1 = v1
                    new[p, j, 0] = n0
                    new[p, j, 1] = n1
                    cost[p, j] = n0 + n1
        first = -1
        count = 0
        best_j = -1
        if unit_one[u]:  # one part per option: the first best (earlier option, then earlier block)
            best_key = no_key
            for p in range(P):
                h = part_h[p0 + p]
                for j in range(s0, s1):
                    c = cost[p, j]
                    if c <= cap[j]:
                        key = c * W - M[h, j]
                        if key < best_key:
                            best_key = key
                            first = p
                            best_j = j
            if best_key < limit:
                count = 1
            else:
                first = -1
        else:  # options spanning several hemispheres: their parts combined
            best_key = no_key
            p = 0
            while p < P:
                o = part_opt[p0 + p]
                pe = p
                while pe < P and part_opt[p0 + pe] == o:
                    pe += 1
                for j in range(s0, s1):
                    ok = True
                    increase = 0
                    after = 0
                    labels = 0
                    for pp in range(p, pe):
                        h = part_h[p0 + pp]
                        c = cost[pp, j]
                        if not (c <= cap[j] and nlab[h, j] < L):
                            ok = False
                        increase += c - rowsum[h, j]
                        if pp == p or c > after:
                            after = c
                        labels += nlab[h, j]
                    if ok:
                        if pack:
                            key = (increase * big_cost + after) * big_lab + labels
                        else:
                            key = (after * big_cost + increase) * big_lab + labels
                    else:
                        key = no_key
                    if key < best_key:
                        best_key = key
                        first = p
                        count = pe - p
                        best_j = j
                p = pe
            if not best_key < limit:
                first = -1
        if first < 0:
            return u
        g = best_j
        out_g[u] = g
        out_opt[u] = part_opt[p0 + first]
        for p in range(first, first + count):
            q = p0 + p
            h = part_h[q]
            for x in range(part_start[q], part_start[q] + part_size[q]):
                r = pos_row[x]
                D[2 * g, r] += pos_add[0, x]
                D[2 * g + 1, r] += pos_add[1, x]
                pair_h[pos_pair[x]] = h
                pair_col[pos_pair[x]] = r - h * C
            if simple:
                ded[h, g, 0] += part_de[q]
                ded[h, g, 1] += part_di[q]
                total = rowsum[h, g] + part_de[q] + part_di[q]
            else:
                curmax[h, g, 0] = new[p, g, 0]
                curmax[h, g, 1] = new[p, g, 1]
                D[2 * g, HC + h] = new[p, g, 0]
                D[2 * g + 1, HC + h] = new[p, g, 1]
                total = cost[p, g]
            rowsum[h, g] = total
            labels_now = nlab[h, g] + 1
            nlab[h, g] = labels_now
            M[h, g] = total * F - labels_now if labels_now < L else FULL
        u += 1
    return u


@_jit
def place_shared(n_e, n_i, exc, inh, ch, ccol, cblock, clab, exc_rows, slot_row, R, C, max_weight,
                 weight, label):
    """Shared routing's synapses, connection by connection (all excitatory synapses first, then the
    inhibitory ones): in each (block, sign, column) they are stacked onto the block's rows of that sign
    in order. Writes `weight` and `label` (flat, hemisphere * R * C + row * C + column) and returns the
    synapse table (hemisphere, row, column, connection, sign, copy); a row of -1 marks a synapse
    outside its block (an internal error)."""
    H = exc_rows.shape[0]
    NB = exc_rows.shape[1]
    slots = slot_row.shape[1]
    total = 0
    for i in range(n_e.shape[0]):
        total += n_e[i] + n_i[i]
    sh = np.empty(total, dtype=np.int64)
    srow = np.empty(total, dtype=np.int64)
    scol = np.empty(total, dtype=np.int64)
    conn = np.empty(total, dtype=np.int64)
    sign = np.empty(total, dtype=np.int64)
    copy = np.empty(total, dtype=np.int64)
    count = np.zeros(H * NB * 2 * C, dtype=np.int64)
    x = 0
    for s in range(2):
        n = n_e if s == 0 else n_i
        mag = exc if s == 0 else inh
        for i in range(n.shape[0]):
            if n[i] == 0:
                continue
            h, col, blk = ch[i], ccol[i], cblock[i]
            key = ((h * NB + blk) * 2 + s) * C + col
            base = exc_rows[h, blk] if s == 1 else 0
            for c in range(n[i]):
                r = count[key] + base
                count[key] += 1
                row = slot_row[blk, r] if r < slots else -1
                sh[x] = h
                srow[x] = row
                scol[x] = col
                conn[x] = i
                sign[x] = s
                copy[x] = c
                x += 1
                if row < 0:
                    continue
                w = mag[i] - max_weight * c
                if w < 0:
                    w = 0
                elif w > max_weight:
                    w = max_weight
                cell = (h * R + row) * C + col
                weight[cell] = w
                label[cell] = clab[i]
    return sh, srow, scol, conn, sign, copy
