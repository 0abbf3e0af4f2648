"""Every accumulation order built from two kernels and the domain's own `add`.

A domain supplies a sequential kernel (`seq_sum` over rows, `seq_dot` over a
batched matmul) and, optionally, an fma-chain and an exact-then-round kernel;
pairwise, blocked(k) and tree(w) are then compositions of sequential pieces with
the domain's correctly rounded `add`, following the definitions in fpsem.order.
Because the composition is the definition, every domain that uses it agrees
with every other on the order of roundings by construction.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOp
from ..value import on_storage


@on_storage
def sum_rows(D, rows, order, seq_sum, exact_sum=None, prog_sum=None):
    """rows: (R, n) domain value -> (R,) sums under `order`. prog_sum(rows, order),
    if given (domains whose values are numpy arrays), is a fast kernel for
    pairwise/blocked/tree with the same bits except in NaN outputs, which are
    recomputed here by the composition."""
    n = D.shape(rows)[1]
    R = D.shape(rows)[0]
    if n == 0:
        return D.zeros((R,))
    kind = order.kind
    if prog_sum is not None and kind in ("pairwise", "blocked", "tree"):
        out = prog_sum(rows, order)
        bad = np.flatnonzero(np.isnan(out))
        if bad.size:
            out[bad] = sum_rows(D, rows[bad], order, seq_sum)
        return out
    if kind in ("sequential", "fma_chain"):
        return seq_sum(rows)
    if kind == "exact_then_round":
        if exact_sum is None:
            raise D._err(UnsupportedOp, "sum", "no exact_then_round kernel in this domain")
        return exact_sum(rows)
    col = lambda lo, hi: D.getitem(rows, (slice(None), slice(lo, hi)))
    if kind == "pairwise":
        def pw(lo, hi):
            if hi - lo == 1:
                return D.getitem(rows, (slice(None), lo))
            h = lo + (hi - lo) // 2
            return D.add(pw(lo, h), pw(h, hi))
        return pw(0, n)
    if kind == "blocked":
        k = order.k
        acc = None
        for lo in range(0, n, k):
            part = seq_sum(col(lo, min(n, lo + k)))
            acc = part if acc is None else D.add(acc, part)
        return acc
    if kind == "tree":
        w = order.k
        lanes = [seq_sum(D.getitem(rows, (slice(None), slice(j, None, w)))) if j < n else None
                 for j in range(w)]
        return _halve(D, lanes)
    raise D._err(UnsupportedOp, "sum", f"order {order} is not defined for this domain")


def _halve(D, lanes):
    w = len(lanes)
    h = w // 2
    while h >= 1:
        for j in range(h):
            a, b = lanes[j], lanes[j + h]
            lanes[j] = a if b is None else (b if a is None else D.add(a, b))
        h //= 2
    return lanes[0]


@on_storage
def dot3(D, a, b, order, seq_dot, fma_dot=None, exact_dot=None):
    """a: (B, m, k), b: (B, k, n) domain values -> (B, m, n) under `order`."""
    B, m, k = D.shape(a)
    n = D.shape(b)[2]
    if k == 0:
        return D.zeros((B, m, n))
    kind = order.kind
    if kind == "sequential":
        return seq_dot(a, b)
    if kind == "fma_chain":
        if fma_dot is None:
            raise D._err(UnsupportedOp, "dot", "no fma_chain kernel in this domain")
        return fma_dot(a, b)
    if kind == "exact_then_round":
        if exact_dot is None:
            raise D._err(UnsupportedOp, "dot", "no exact_then_round kernel in this domain")
        return exact_dot(a, b)
    ak = lambda sl: D.getitem(a, (slice(None), slice(None), sl))
    bk = lambda sl: D.getitem(b, (slice(None), sl, slice(None)))
    if kind == "pairwise":
        def pw(lo, hi):
            if hi - lo == 1:
                return seq_dot(ak(slice(lo, hi)), bk(slice(lo, hi)))
            h = lo + (hi - lo) // 2
            return D.add(pw(lo, h), pw(h, hi))
        return pw(0, k)
    if kind == "blocked":
        acc = None
        for lo in range(0, k, order.k):
            sl = slice(lo, min(k, lo + order.k))
            part = seq_dot(ak(sl), bk(sl))
            acc = part if acc is None else D.add(acc, part)
        return acc
    if kind == "tree":
        w = order.k
        lanes = [seq_dot(ak(slice(j, None, w)), bk(slice(j, None, w))) if j < k else None
                 for j in range(w)]
        return _halve(D, lanes)
    raise D._err(UnsupportedOp, "dot", f"order {order} is not defined for this domain")


# ------------------------------------------------------------------ compiled orders
# The same compositions as dot3, as postfix programs for the tiled kernel
# fpsem.domains._f32kernels.prog_dot: rows (op, k0, k1, ks) with
#   SEQ(k0, k1, ks)  push seq_dot over k = k0, k0 + ks, ... < k1
#   ADD              pop y, pop x, push D.add(x, y)
#   PW(k0, k1)       push the pairwise dot over [k0, k1), k1 - k0 <= PW_MAX
#   ADDPW(k0, k1)    PW(k0, k1) then ADD, fused
OP_SEQ, OP_ADD, OP_PW, OP_ADDPW = 0, 1, 2, 3
PW_MAX = 8
PROGRAM_ORDERS = ("sequential", "pairwise", "blocked", "tree")


def dot_program(order, k):
    """(prog, depth) for `order` over k >= 1 terms: the composition of dot3 as a
    postfix program (int64 array of rows (op, k0, k1, ks)) and its stack depth."""
    if k < 1:
        raise ValueError("dot_program: k must be >= 1")
    ops = []
    kind = order.kind
    if kind == "sequential":
        ops.append((OP_SEQ, 0, k, 1))
    elif kind == "blocked":
        for lo in range(0, k, order.k):
            ops.append((OP_SEQ, lo, min(k, lo + order.k), 1))
            if lo:
                ops.append((OP_ADD, 0, 0, 0))
    elif kind == "tree":
        w = order.k

        # after the halving step h, lanes[j] (j < h) is lanes'[j] + lanes'[j + h],
        # lanes' the lanes before the step; lane j has terms iff j < k, and a lane
        # without terms passes the other one through (_halve)
        def lane(j, h):
            if h == w:
                ops.append((OP_SEQ, j, k, w))
                return
            lane(j, 2 * h)
            if j + h < k:
                lane(j + h, 2 * h)
                ops.append((OP_ADD, 0, 0, 0))
        lane(0, 1)
    elif kind == "pairwise":
        def pw(lo, hi):
            if hi - lo <= PW_MAX:
                ops.append((OP_PW, lo, hi, 1))
                return
            h = lo + (hi - lo) // 2
            pw(lo, h)
            pw(h, hi)
            ops.append((OP_ADD, 0, 0, 0))
        pw(0, k)
        fused = []
        for op in ops:  # PW(x) ADD -> ADDPW(x): top = top + PW(x)
            if op[0] == OP_ADD and fused and fused[-1][0] == OP_PW and len(fused) >= 2:
                fused[-1] = (OP_ADDPW,) + fused[-1][1:]
            else:
                fused.append(op)
        ops = fused
    else:
        raise ValueError(f"dot_program: no program for order {order}")
    depth = top = 0
    for op in ops:
        top += 1 if op[0] in (OP_SEQ, OP_PW) else (-1 if op[0] == OP_ADD else 0)
        depth = max(depth, top)
    assert top == 1, (order, k)
    return np.array(ops, dtype=np.int64).reshape(-1, 4), depth


def fix_nans(out, a, b, ref):
    """Recompute the NaN outputs of a fast dot kernel with the reference
    composition `ref(a', b')` (NaN payloads then follow the reference exactly).
    One reference call over the batches, rows and columns that hold a NaN."""
    bad = np.isnan(out)
    if not bad.any():
        return out
    ts = np.flatnonzero(bad.any(axis=(1, 2)))
    rows = np.flatnonzero(bad.any(axis=(0, 2)))
    cols = np.flatnonzero(bad.any(axis=(0, 1)))
    sub = ref(np.ascontiguousarray(a[ts][:, rows, :]), np.ascontiguousarray(b[ts][:, :, cols]))
    idx = np.ix_(ts, rows, cols)
    out[idx] = np.where(bad[idx], sub, out[idx])
    return out
