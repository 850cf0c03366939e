"""Exact routing: a routing, or a proof that none exists, when the greedy router fails.

The greedy router (`hxgraph.chip.routing`) is the fast path. When it fails on a placement,
`route_exactly` states the same routing problem as a mixed-integer linear program and hands
it to HiGHS (`highspy`, the optional extra ``hxgraph[exact]``), within a time limit.

**The model** (the routing space of `routing.py`, with a few of the greedy's shortcuts
removed):

- every source chooses a driver group per hemisphere it reaches. An on-chip source is bound
  to the event bus of its column and uses one group (one row select and label) in every
  hemisphere it reaches; an input chooses bus and group per hemisphere independently;
- the drivers of each bus are cut into `2**j` equal, aligned groups, the same cut in both
  hemispheres; the cut of every bus is a variable (levels 0 to the first one whose groups
  tell apart every source that could reach the bus: 64 per group);
- a group tells at most 64 sources apart (6-bit labels) per hemisphere;
- ``routing="shared"``: a group has `R_e` excitatory and `R_i` inhibitory rows,
  `R_e + R_i <= rows of the group`; a target neuron with `n` circuits in a hemisphere takes
  at most `n * R_e` excitatory and `n * R_i` inhibitory synapses from the group's sources
  (any synapse may go to any of its circuits: they sum into one neuron). This is exact: a
  column holds one synapse per row, and labels tell the sources of a row apart;
- ``routing="simple"``: every (projection, source, sign, weight-split copy) takes a row of
  its own in its group; the rows of a group's sources add up;
- a connection to a neuron with circuits in both hemispheres goes, with all its synapses, to
  one of them (a variable).

Variables: group choices `x` (binary), hemisphere choices `z` (binary), rows `R` (integer),
group membership `m = x AND reached` and `w = z AND m` (continuous, forced integral by the
linear AND), the cut levels. The search runs in up to two stages, each within the time left:

1. one group per bus, labels ignored. Infeasible means infeasible for every cut (merging a
   bus's groups into one never needs more rows), so the error is a proof; a second solve
   minimising the rows of the fullest group then gives the number needed and names the
   hemisphere, bus and sources where the best routing overflows. A feasible solution whose
   labels fit (at most 64 sources per bus and hemisphere) is the routing;
2. otherwise the full model with cuts and labels. Infeasible is a proof when every bus could
   be cut as finely as the chip allows; else (a finer cut, more labels, was not searched) it is
   undecided.

A solution becomes a normal `Routing` through `routing._Router._build`, so the `ChipConfig`
and the emulator see no difference. When the time limit runs out first, or `highspy` is not
installed, `RoutingUndecidedError` says that it is undecided, not that the network does not
fit.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Optional

import numpy as np

from hxgraph.errors import MappingError, RoutingUndecidedError

logger = logging.getLogger(__name__)


class _Milp:
    """A mixed-integer linear program collected as triplets, solved with HiGHS."""

    def __init__(self) -> None:
        self.lower: list[np.ndarray] = []
        self.upper: list[np.ndarray] = []
        self.integer: list[np.ndarray] = []
        self.cost: list[np.ndarray] = []
        self.nvar = 0
        self.row_lo: list[np.ndarray] = []
        self.row_hi: list[np.ndarray] = []
        self.tri: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.nrow = 0

    def var(self, n: int, lo: float = 0.0, hi: float = 1.0, integer: bool = True) -> np.ndarray:
        idx = np.arange(self.nvar, self.nvar + n, dtype=np.int64)
        self.nvar += n
        self.lower.append(np.full(n, lo, dtype=np.float64))
        self.upper.append(np.full(n, hi, dtype=np.float64))
        self.integer.append(np.full(n, integer, dtype=bool))
        self.cost.append(np.zeros(n, dtype=np.float64))
        return idx

    def rows(self, row: np.ndarray, col: np.ndarray, val: Any, lo: Any, hi: Any, n: Optional[int] = None) -> None:
        """Rows `lo <= sum(val * x[col]) <= hi`; `row` numbers them 0..n-1 within this call."""
        row = np.asarray(row, dtype=np.int64)
        n = int(row.max(initial=-1)) + 1 if n is None else n
        col = np.asarray(col, dtype=np.int64)
        self.tri.append((row + self.nrow, col, np.broadcast_to(np.asarray(val, dtype=np.float64), col.shape)))
        self.row_lo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (n,)))
        self.row_hi.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (n,)))
        self.nrow += n

    def solve(self, time_limit: float, objective: Optional[int] = None) -> tuple[str, Optional[np.ndarray], float]:
        """('optimal' | 'infeasible' | 'timeout', values or None, dual bound of the objective)."""
        import highspy

        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.nvar, self.nrow
        cost = np.concatenate(self.cost) if self.cost else np.zeros(0)
        if objective is not None:
            cost[objective] = 1.0
        lp.col_cost_ = cost
        lp.col_lower_ = np.concatenate(self.lower) if self.lower else np.zeros(0)
        lp.col_upper_ = np.concatenate(self.upper) if self.upper else np.zeros(0)
        lp.row_lower_ = np.maximum(np.concatenate(self.row_lo), -inf) if self.row_lo else np.zeros(0)
        lp.row_upper_ = np.minimum(np.concatenate(self.row_hi), inf) if self.row_hi else np.zeros(0)
        r = np.concatenate([t[0] for t in self.tri]) if self.tri else np.zeros(0, dtype=np.int64)
        c = np.concatenate([t[1] for t in self.tri]) if self.tri else np.zeros(0, dtype=np.int64)
        v = np.concatenate([t[2] for t in self.tri]) if self.tri else np.zeros(0)
        order = np.lexsort((r, c))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.searchsorted(c[order], np.arange(self.nvar + 1)).astype(np.int32)
        lp.a_matrix_.index_ = r[order].astype(np.int32)
        lp.a_matrix_.value_ = v[order]
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                           for i in (np.concatenate(self.integer) if self.integer else [])]
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)
        h.setOptionValue("time_limit", max(float(time_limit), 0.01))
        h.setOptionValue("mip_rel_gap", 0.0)
        h.passModel(lp)
        h.run()
        status = h.getModelStatus()
        info = h.getInfo()
        bound = float(info.mip_dual_bound) if objective is not None else math.nan
        if status == highspy.HighsModelStatus.kOptimal:
            return "optimal", np.asarray(h.getSolution().col_value), bound
        if status == highspy.HighsModelStatus.kInfeasible:
            return "infeasible", None, math.inf
        values = np.asarray(h.getSolution().col_value) if info.primal_solution_status == 2 else None
        return "timeout", values, bound


class _Exact:
    """The routing problem of one `_Router` as a MILP (see the module docstring)."""

    def __init__(self, router: Any):
        self.r = router
        spec = router.spec
        self.H, self.B, self.DPB, self.L = router.H, router.B, router.DPB, router.L
        self.rows_per_bus = spec.drivers_per_bus * spec.rows_per_driver
        self.simple = router.mode == "simple"
        r = router
        # Pairs: (source, target) with their synapses per sign; hemisphere fixed (h) or free (H).
        self.ps, self.pt = r.pair_src, r.pair_tgt
        self.pd = np.stack([r.pair_e, r.pair_i], 1)  # (pairs, 2)
        self.pcls = r.pair_class
        self.flex = np.flatnonzero(self.pcls == self.H)
        # Units: sources with the same connections (projection, target, synapses per sign) and, if on chip,
        # the same bus are interchangeable; the model counts how many of a unit go into each group.
        # A source with a connection to a neuron in both hemispheres is a unit of its own.
        dm = r.demand
        order = np.lexsort((dm.inh_synapses, dm.exc_synapses, dm.tgt, dm.proj, dm.src))
        starts = np.searchsorted(dm.src[order], np.arange(dm.source_count + 1))
        flexible = np.zeros(dm.source_count, dtype=bool)
        flexible[self.ps[self.flex]] = True
        table = np.stack([dm.proj, dm.tgt, dm.exc_synapses, dm.inh_synapses], 1)[order]
        units: dict[Any, list[int]] = {}
        for src in np.unique(self.ps).tolist():
            key = (src,) if flexible[src] else (bool(r.src_onchip[src]), int(r.src_bus[src]),
                                                table[starts[src]:starts[src + 1]].tobytes())
            units.setdefault(key, []).append(src)
        self.members = list(units.values())
        self.sources = np.array([u[0] for u in self.members], dtype=np.int64)  # representatives
        self.size = np.array([len(u) for u in self.members], dtype=np.int64)
        self.sidx = np.full(dm.source_count, -1, dtype=np.int64)  # unit of every source
        for u, srcs in enumerate(self.members):
            self.sidx[srcs] = u
        self.rep = np.zeros(dm.source_count, dtype=bool)
        self.rep[self.sources] = True
        n = self.sources.size
        self.onchip = r.src_onchip[self.sources]
        self.bus = r.src_bus[self.sources]
        # possible[s, h]: the source may reach hemisphere h; forced: it must.
        self.possible = np.zeros((n, self.H), dtype=bool)
        self.forced = np.zeros((n, self.H), dtype=bool)
        si = self.sidx[self.ps]
        for h in range(self.H):
            fixed = self.pcls == h
            self.forced[si[fixed], h] = True
            self.possible[si[fixed | (self.pcls == self.H)], h] = True

    # ----------------------------------------------------------------- model
    def levels(self) -> np.ndarray:
        """Finest cut level searched per bus: enough groups for every source that could reach it."""
        top = int(math.log2(self.DPB))
        lv = np.zeros(self.B, dtype=np.int64)
        reach = self.possible * self.size[:, None]
        inputs = reach[~self.onchip].sum(0)  # (H,)
        for k in range(self.B):
            on = reach[self.onchip & (self.bus == k)].sum(0)
            most = int((on + inputs).max(initial=0))
            lv[k] = min(top, max(0, math.ceil(math.log2(max(1, math.ceil(most / self.L))))))
        return lv

    def build(self, levels: np.ndarray, labels: bool, minimise: bool) -> dict[str, Any]:
        H, B = self.H, self.B
        mp = _Milp()
        # Nodes (driver groups): (bus, level, index) with their rows.
        node_bus, node_lev, node_idx = [], [], []
        for k in range(B):
            for j in range(int(levels[k]) + 1):
                for i in range(2 ** j):
                    node_bus.append(k), node_lev.append(j), node_idx.append(i)
        node_bus, node_lev, node_idx = (np.array(a, dtype=np.int64) for a in (node_bus, node_lev, node_idx))
        N = node_bus.size
        cap = self.rows_per_bus // (2 ** node_lev)
        # lev[k, j]: bus k cut at level j (a column of ones where only level 0 exists).
        lev_col = np.full((B, int(levels.max(initial=0)) + 1), -1, dtype=np.int64)
        for k in range(B):
            if levels[k] > 0:
                cols = mp.var(int(levels[k]) + 1)
                lev_col[k, :levels[k] + 1] = cols
                mp.rows(np.zeros(cols.size), cols, 1.0, 1.0, 1.0)
        node_levcol = lev_col[node_bus, node_lev]
        n = self.sources.size
        # x: group choice. m[s, h, node]: member of the group in hemisphere h.
        m = np.full((n, H, N), -1, dtype=np.int64)
        xcol = np.full((n, H, N), -1, dtype=np.int64)  # the choice itself (m may exceed it where it is free)
        reach = np.full((n, H), -1, dtype=np.int64)  # variable "reaches h" where not forced
        free = self.possible & ~self.forced
        reach[free] = mp.var(int(free.sum()))
        xs = []  # (x columns, node) for the level links
        for s in range(n):
            if self.onchip[s]:
                nodes = np.flatnonzero(node_bus == self.bus[s])
                x = mp.var(nodes.size, 0.0, float(self.size[s]))
                mp.rows(np.zeros(nodes.size), x, 1.0, float(self.size[s]), float(self.size[s]))
                xs.append((x, nodes, self.size[s]))
                for h in np.flatnonzero(self.possible[s]).tolist():
                    xcol[s, h, nodes] = x
                    if self.forced[s, h]:
                        m[s, h, nodes] = x
                    else:  # m >= x + reach - 1
                        mm = mp.var(nodes.size, integer=False)
                        m[s, h, nodes] = mm
                        k = np.arange(nodes.size)
                        mp.rows(np.concatenate([k, k, k]), np.concatenate([mm, x, np.full(nodes.size, reach[s, h])]),
                                np.concatenate([np.ones(nodes.size), -np.ones(2 * nodes.size)]), -1.0, np.inf)
            else:
                nodes = np.arange(N)
                for h in np.flatnonzero(self.possible[s]).tolist():
                    x = mp.var(N, 0.0, float(self.size[s]))
                    m[s, h] = xcol[s, h] = x
                    xs.append((x, nodes, self.size[s]))
                    if self.forced[s, h]:
                        mp.rows(np.zeros(N), x, 1.0, float(self.size[s]), float(self.size[s]))
                    else:
                        mp.rows(np.zeros(N + 1), np.append(x, reach[s, h]), np.append(np.ones(N), -1.0), 0.0, 0.0)
        # Levels: a group exists only at its bus's cut.
        for x, nodes, size in xs:
            lc = node_levcol[nodes]
            has = lc >= 0
            if has.any():
                k = np.arange(int(has.sum()))
                mp.rows(np.concatenate([k, k]), np.concatenate([x[has], lc[has]]),
                        np.concatenate([np.ones(k.size), -np.full(k.size, float(size))]), -np.inf, 0.0)
        # z: hemisphere of every connection to a neuron with circuits in both; reach >= z.
        F = self.flex.size
        z = mp.var(F * H).reshape(F, H) if F else np.zeros((0, H), dtype=np.int64)
        if F:
            mp.rows(np.repeat(np.arange(F), H), z.reshape(-1), 1.0, 1.0, 1.0)
            fs = self.sidx[self.ps[self.flex]]
            for h in range(H):
                need = free[fs, h]
                if need.any():
                    k = np.arange(int(need.sum()))
                    mp.rows(np.concatenate([k, k]), np.concatenate([reach[fs[need], h], z[need, h]]),
                            np.concatenate([np.ones(k.size), -np.ones(k.size)]), 0.0, np.inf)
        # Capacity per group and hemisphere (rows), as a variable T when minimising.
        T = mp.var(1, 0.0, float(self.rows_per_bus * 4), integer=True)[0] if minimise else -1
        load = self._rows_simple if self.simple else self._rows_shared
        load(mp, m, z, N, node_bus)
        rows_col = self.rows_col  # (H, N): columns whose sum is the group's rows
        for h in range(H):
            for g in range(N):
                cols, vals = rows_col[h][g]
                if minimise:
                    mp.rows(np.zeros(len(cols) + 1), np.append(cols, T), np.append(vals, -1.0), -np.inf, 0.0)
                elif node_levcol[g] >= 0:
                    mp.rows(np.zeros(len(cols) + 1), np.append(cols, node_levcol[g]), np.append(vals, -cap[g]),
                            -np.inf, 0.0)
                else:
                    mp.rows(np.zeros(len(cols)), cols, vals, -np.inf, float(cap[g]))
        if labels:
            for h in range(H):
                for g in range(N):
                    member = m[:, h, g] >= 0
                    # a unit's variable counts its sources in the group (up to its size), so the limit binds
                    # where the sources, not the units, could outnumber the labels
                    if int(self.size[member].sum()) > self.L:
                        mp.rows(np.zeros(int(member.sum())), m[member, h, g], 1.0, -np.inf, float(self.L))
        return dict(mp=mp, m=m, xcol=xcol, z=z, T=T, node_bus=node_bus, node_lev=node_lev, node_idx=node_idx, cap=cap,
                    lev_col=lev_col)

    def _rows_shared(self, mp: _Milp, m: np.ndarray, z: np.ndarray, N: int, node_bus: np.ndarray) -> None:
        """R[h, g, sign] >= the synapses of the group's sources into one circuit of any target, per sign."""
        H, r = self.H, self.r
        R = mp.var(H * N * 2, 0.0, float(self.rows_per_bus), integer=True).reshape(H, N, 2)
        self.rows_col = [[(R[h, g], np.ones(2)) for g in range(N)] for h in range(H)]
        T = r.demand.neuron_count
        si = self.sidx[self.ps]
        # w[f, h, g] = z AND m for connections to neurons in both hemispheres (w >= z + m - 1).
        F = self.flex.size
        w = np.full((F, H, N), -1, dtype=np.int64)
        for h in range(H):
            for g in range(N):
                mcol = m[si[self.flex], h, g]
                ok = np.flatnonzero(mcol >= 0)
                if ok.size == 0:
                    continue
                wc = mp.var(ok.size, integer=False)
                w[ok, h, g] = wc
                k = np.arange(ok.size)
                mp.rows(np.concatenate([k, k, k]), np.concatenate([wc, z[ok, h], mcol[ok]]),
                        np.concatenate([np.ones(ok.size), -np.ones(2 * ok.size)]), -1.0, np.inf)
        flex_pos = np.full(self.ps.size, -1, dtype=np.int64)
        flex_pos[self.flex] = np.arange(F)
        rows, cols, vals = [], [], []
        for h in range(H):
            mine = np.flatnonzero(((self.pcls == h) | (self.pcls == H)) & self.rep[self.ps])
            for g in range(N):
                fixed = self.pcls[mine] == h
                col = m[si[mine], h, g]
                if F:
                    col = np.where(fixed, col, w[flex_pos[mine].clip(0), h, g])
                ok = col >= 0
                p, col = mine[ok], col[ok]
                for sign in range(2):
                    d = self.pd[p, sign]
                    nz = d > 0
                    key = ((h * N + g) * T + self.pt[p[nz]]) * 2 + sign
                    rows.append(key), cols.append(col[nz]), vals.append(d[nz].astype(np.float64))
        if not rows:
            return
        key, col, val = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
        ukey, row = np.unique(key, return_inverse=True)
        # ... minus (circuits of the target in h) * R[h, g, sign] <= 0
        sign, rest = ukey % 2, ukey // 2
        tgt, hg = rest % T, rest // T
        h, g = hg // N, hg % N
        circuits = r.ncount[h, tgt]
        nr = ukey.size
        mp.rows(np.concatenate([row, np.arange(nr)]), np.concatenate([col, R[h, g, sign]]),
                np.concatenate([val, -circuits.astype(np.float64)]), -np.inf, 0.0, n=nr)

    def _rows_simple(self, mp: _Milp, m: np.ndarray, z: np.ndarray, N: int, node_bus: np.ndarray) -> None:
        """Rows of a source in a group: per projection and sign, its deepest weight split into that hemisphere."""
        H, r, dm = self.H, self.r, self.r.demand
        nproj = len(dm.projections)
        n = self.sources.size
        cpair = r.conn_pair
        ccls = np.where(self.rep[dm.src], self.pcls[cpair], -1)  # members' connections repeat their unit's
        csrc = self.sidx[dm.src]
        d = np.stack([dm.exc_synapses, dm.inh_synapses], 1)
        flex_pos = np.full(self.ps.size, -1, dtype=np.int64)
        flex_pos[self.flex] = np.arange(self.flex.size)
        has_flex = np.zeros(n, dtype=bool)
        has_flex[self.sidx[self.ps[self.flex]]] = True
        self.rows_col = [[([], []) for _ in range(N)] for _ in range(H)]
        for h in range(H):
            # Fixed part: max over the source's connections fixed into h, per projection and sign.
            const = np.zeros((n, nproj, 2), dtype=np.int64)
            fixed = ccls == h
            for sign in range(2):
                np.maximum.at(const[:, :, sign], (csrc[fixed], dm.proj[fixed]), d[fixed, sign])
            total = const.sum((1, 2))
            for s in range(n):
                if not self.possible[s, h]:
                    continue
                if not has_flex[s]:
                    for g in np.flatnonzero(m[s, h] >= 0).tolist():
                        self.rows_col[h][g][0].append(m[s, h, g])
                        self.rows_col[h][g][1].append(float(total[s]))
                    continue
                # rho[p, sign] >= const and >= d * z for the source's flexible connections into h.
                rho = mp.var(nproj * 2, 0.0, float(self.rows_per_bus), integer=False).reshape(nproj, 2)
                mp.rows(np.arange(nproj * 2), rho.reshape(-1), 1.0, const[s].reshape(-1).astype(np.float64), np.inf)
                mine = np.flatnonzero((csrc == s) & (ccls == H))
                zc = z[flex_pos[cpair[mine]], h]
                for sign in range(2):
                    sel = d[mine, sign] > 0
                    k = np.arange(int(sel.sum()))
                    mp.rows(np.concatenate([k, k]), np.concatenate([rho[dm.proj[mine[sel]], sign], zc[sel]]),
                            np.concatenate([np.ones(k.size), -d[mine[sel], sign].astype(np.float64)]), 0.0, np.inf)
                big = float(self.rows_per_bus * 2)
                for g in np.flatnonzero(m[s, h] >= 0).tolist():
                    # u >= sum(rho) - big * (1 - m)
                    u = mp.var(1, 0.0, big, integer=False)[0]
                    mp.rows(np.zeros(nproj * 2 + 2), np.concatenate([[u], rho.reshape(-1), [m[s, h, g]]]),
                            np.concatenate([[1.0], -np.ones(nproj * 2), [-big]]), -big, np.inf)
                    self.rows_col[h][g][0].append(u)
                    self.rows_col[h][g][1].append(1.0)
        self.rows_col = [[(np.asarray(c, dtype=np.int64), np.asarray(v, dtype=np.float64)) for c, v in per]
                         for per in self.rows_col]

    # ----------------------------------------------------------------- solution
    def solution(self, model: dict[str, Any], x: np.ndarray) -> dict[str, Any]:
        """Groups, labels, synapse places and the rows they take, from a MILP solution."""
        from hxgraph.chip.routing import synapse_table

        r, dm, H, B, DPB = self.r, self.r.demand, self.H, self.B, self.DPB
        z = model["z"]
        node_bus, node_idx = model["node_bus"], model["node_idx"]
        xcol = model["xcol"]
        count = np.where(xcol >= 0, np.rint(x[np.maximum(xcol, 0)]), 0).astype(np.int64)  # (units, H, N)
        blocks = np.ones(B, dtype=np.int64)
        for k in range(B):
            lc = model["lev_col"][k]
            if lc[0] >= 0:
                blocks[k] = 2 ** int(np.argmax(x[lc[lc >= 0]]))
        # Hemisphere of every pair (a unit's members have the hemispheres of its representative).
        pair_h = self.pcls.copy()
        if self.flex.size:
            pair_h[self.flex] = np.argmax(x[z], axis=1)
        used = np.zeros((self.sources.size, H), dtype=bool)
        used[self.sidx[self.ps], pair_h] = True
        # Group of every (source, hemisphere) with synapses there: a unit's members fill its groups in order.
        assign: dict[tuple[int, int], tuple[int, int]] = {}
        node_of = np.full((dm.source_count, H), -1, dtype=np.int64)
        for u, h in zip(*np.nonzero(used)):
            nodes = np.repeat(np.arange(count.shape[2]), count[u, h])
            if nodes.size < self.size[u]:  # the solution left a source without group: a model error
                raise RuntimeError("hxgraph internal routing error: the exact routing left a source unassigned")
            for src, g in zip(self.members[u], nodes.tolist()):
                node_of[src, h] = g
                assign[(src, int(h))] = (int(node_bus[g]), int(node_idx[g]))
        members: dict[tuple[int, int, int], list[int]] = {}
        coupled: dict[tuple[int, int], list[int]] = {}
        nlab = np.zeros((H, B, DPB), dtype=np.int64)
        for u in range(self.sources.size):
            hs = np.flatnonzero(used[u]).tolist()
            for src in self.members[u]:
                if self.onchip[u] and len(hs) == H:
                    coupled.setdefault(assign[(src, hs[0])], []).append(src)
                else:
                    for h in hs:
                        members.setdefault((h, *assign[(src, h)]), []).append(src)
                for h in hs:
                    nlab[(h, *assign[(src, h)])] += 1
        # Every synapse: hemisphere from its pair; shared routing spreads a target's synapses over its
        # circuits there (round robin), simple routing puts them on its first circuit.
        conn, sign, copy = synapse_table(dm)
        pair = r.conn_pair[conn]
        sh = pair_h[pair]
        tgt = r.pair_tgt[pair]
        g = node_of[dm.src[conn], sh]
        gk, gb = node_bus[g], node_idx[g]
        group = ((sh * B + gk) * DPB + gb) * 2 + sign
        rows = np.zeros((H, B, DPB, 2), dtype=np.int64)
        if self.simple:
            scol = r.ncols[sh, tgt, 0]
            nproj, copies = len(dm.projections), int(copy.max(initial=0)) + 1
            rk = np.unique(((group * nproj + dm.proj[conn]) * dm.source_count + dm.src[conn]) * copies + copy)
            np.add.at(rows.reshape(-1), rk // (nproj * dm.source_count * copies), 1)
        else:
            key = (group * dm.neuron_count + tgt)
            order = np.argsort(key, kind="stable")
            sk = key[order]
            rank = np.empty_like(order)
            rank[order] = np.arange(order.size) - np.searchsorted(sk, sk)
            scol = r.ncols[sh, tgt, rank % np.maximum(r.ncount[sh, tgt], 1)]
            uk, cnt = np.unique(group * r.C + scol, return_counts=True)
            np.maximum.at(rows.reshape(-1), uk // r.C, cnt)
        return dict(assign=assign, members=members, coupled=coupled, rows=rows, nlab=nlab, syn_h=sh, syn_col=scol,
                    blocks=blocks, node_of=node_of)

    def to_routing(self, model: dict[str, Any], x: np.ndarray) -> Any:
        """The `Routing` of a MILP solution (through the greedy router's `_build`), None if labels overflow."""
        st = self.solution(model, x)
        if (st["nlab"] > self.L).any():
            return None  # stage 1 ignores labels
        capb = (self.DPB // st["blocks"]) * self.r.spec.rows_per_driver
        if (st["rows"].sum(3) > capb[None, :, None]).any():
            raise RuntimeError("hxgraph internal routing error: the exact routing overfills a driver group")
        return self.r._build(st, st["blocks"])


def route_exactly(router: Any, greedy_error: MappingError, time_limit: float) -> Any:
    """A routing of `router`'s problem, or a `MappingError` proving that none exists (see the module docstring).

    `greedy_error` is the greedy router's failure; `time_limit` the seconds the search may take.
    Raises `RoutingUndecidedError` when time runs out or `highspy` is missing.
    """
    try:
        import highspy  # noqa: F401
    except ImportError:
        raise _undecided(greedy_error, "the exact router needs highspy, which is not installed (pip install "
                                       "'hxgraph[exact]')") from None
    if time_limit <= 0:
        raise _undecided(greedy_error, "the exact router is off (exact_time_limit=0)")
    start = time.perf_counter()
    left = lambda: time_limit - (time.perf_counter() - start)  # noqa: E731
    ex = _Exact(router)
    # Stage 1: one group per bus, labels ignored; infeasible is a proof for every cut.
    zero = np.zeros(ex.B, dtype=np.int64)
    model = ex.build(zero, labels=False, minimise=False)
    status, x, _ = model["mp"].solve(left())
    logger.debug("exact routing stage 1: %s after %.2f s", status, time.perf_counter() - start)
    if status == "timeout":
        raise _undecided(greedy_error, f"the exact router ran out of its {time_limit:g} s")
    if status == "infeasible":
        raise _proof(ex, greedy_error, left)
    routing = ex.to_routing(model, x)
    if routing is not None:
        return routing
    # Stage 2: cuts and labels.
    levels = ex.levels()
    model = ex.build(levels, labels=True, minimise=False)
    status, x, _ = model["mp"].solve(left())
    logger.debug("exact routing stage 2 (levels %s): %s", levels.tolist(), status)
    if status == "optimal":
        routing = ex.to_routing(model, x)
        if routing is None:
            raise RuntimeError("hxgraph internal routing error: the exact routing breaks the label limit")
        return routing
    if status == "timeout":
        raise _undecided(greedy_error, f"the exact router ran out of its {time_limit:g} s")
    if (levels < int(math.log2(ex.DPB))).any():
        raise _undecided(greedy_error, "the exact router searched driver groups of up to "
                         f"{[int(2 ** v) for v in levels]} per bus and found none that fits both rows and labels; "
                         "finer cuts were not searched")
    sources = int((ex.possible.sum(1) * ex.size).sum())
    raise MappingError(
        f"no routing exists (proved by the exact router): the sources cannot be told apart by labels within "
        f"the synapse rows — every cut of the event buses into driver groups ({ex.L} labels per group) leaves "
        f"some group with more rows than it has; {sources} source routes in all; try fewer sources, a "
        "fixed-sign receptor or splitting the network into several runs",
        resource="synapse labels and rows (exact)", needed=ex.L + 1, available=ex.L, partial=router.placement)


def _undecided(greedy_error: MappingError, why: str) -> RoutingUndecidedError:
    return RoutingUndecidedError(
        f"routing undecided: the greedy router found no routing ({greedy_error}); {why}, so whether this placement "
        f"can be routed is undecided — not proved impossible; try a longer exact_time_limit, another placement, "
        f"or fewer connections",
        resource=greedy_error.resource, needed=greedy_error.needed, available=greedy_error.available,
        partial=greedy_error.partial)


def _proof(ex: _Exact, greedy_error: MappingError, left: Any) -> MappingError:
    """The error for a proved infeasibility: the least rows the fullest group needs, and where."""
    r, spec = ex.r, ex.r.spec
    zero = np.zeros(ex.B, dtype=np.int64)
    model = ex.build(zero, labels=False, minimise=True)
    status, x, bound = model["mp"].solve(max(left(), 1.0), objective=model["T"])
    cap = ex.rows_per_bus
    needed = max(cap + 1, int(math.ceil(bound - 1e-6)) if math.isfinite(bound) else cap + 1)
    where = ""
    if x is not None:
        st = ex.solution(model, x)
        if status == "optimal":
            needed = max(cap + 1, int(st["rows"].sum(3).max()))
        full = []
        for h, k in zip(*np.nonzero(st["rows"][:, :, 0].sum(2) > cap)):
            mine = np.flatnonzero(st["node_of"][:, h] >= 0)
            mine = mine[model["node_bus"][st["node_of"][mine, h]] == k]
            names: dict[str, int] = {}
            for s in mine.tolist():
                pop = r.demand.source_name(s)[0]
                names[pop] = names.get(pop, 0) + 1
            crowd = ", ".join(f"{p!r} {c}" for p, c in names.items())
            full.append(f"event bus {int(k)} of the {spec.hemisphere_name(int(h))} hemisphere "
                        f"({int(st['rows'][h, k, 0].sum())} rows; sources {crowd})")
        if full:
            where = ("; in the best routing (fewest rows on the fullest bus) these buses overflow: "
                     + "; ".join(full))
    bound_text = "exactly" if status == "optimal" else "at least"
    on, total = int(ex.size[ex.onchip].sum()), int(ex.size.sum())
    pops = sorted({r.demand.source_name(int(s))[0] for s in ex.sources})
    return MappingError(
        f"no routing exists (proved by the exact router after the greedy one failed): every assignment of the "
        f"{total} sources ({', '.join(repr(p) for p in pops)}; {on} on-chip, bound to the event bus of "
        f"their column, {total - on} inputs) to event buses needs {bound_text} {needed} synapse rows on "
        f"some bus of one hemisphere, which has {cap} ({spec.drivers_per_bus} drivers × {spec.rows_per_driver} "
        f"rows; {ex.r.mode} routing; cutting a bus into driver groups only adds rows){where}; try "
        f"placement='balanced' or explicit circuits that spread the sources over more event buses, fewer "
        f"connections, a fixed-sign receptor (one row per connection instead of two), or splitting the network",
        resource="synapse rows per event bus (exact)", needed=needed, available=cap, partial=greedy_error.partial)
