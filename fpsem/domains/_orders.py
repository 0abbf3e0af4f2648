"""Every accumulation order built from two kernels and the domain's own `add`.

A domain supplies a sequential kernel (`seq_sum` over rows, `seq_dot` over a
batched matmul) and, optionally, an fma-chain and an exact-then-round kernel;
pairwise, blocked(k) and tree(w) are then compositions of sequential pieces with
the domain's correctly rounded `add`, following the definitions in fpsem.order.
Because the composition is the definition, every domain that uses it agrees
with every other on the order of roundings by construction.
"""
from __future__ import annotations

from ..errors import UnsupportedOp


def sum_rows(D, rows, order, seq_sum, exact_sum=None):
    """rows: (R, n) domain value -> (R,) sums under `order`."""
    n = D.shape(rows)[1]
    R = D.shape(rows)[0]
    if n == 0:
        return D.zeros((R,))
    kind = order.kind
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
