"""Theorem (a specified order is a function of the inputs). For every specified
accumulation order O (sequential, pairwise, blocked(b), tree(w), fma_chain,
exact_then_round) and finite x, y in binary32^n (binary64^n), the `float32`
(`float64`) domain's numba kernels compute

    sum(x, acc=O) = Exec_O(x)   and   dot(x, y, acc=O) = Exec_O(fl(x_i y_i))

bit for bit, where Exec_O is the plain-Python executor of `order_schedule(O, n)`
(one IEEE correctly rounded binary32 addition per step; the products rounded first;
for fma_chain s = +0, s = fma(x_i, y_i, s) with one rounding each; for
exact_then_round the exact sum rounded once). Consequently a run is reproducible:
repeated calls, and the same row placed anywhere in a batch, give the same bits.

Hypotheses: a specified order (not `native`); the same rounding (rne) and FMA
policy. Dropping "same order" breaks bitwise agreement: [1, 2**-24, 2**-24] sums
to 1 sequentially and to 1 + 2**-23 pairwise.

Source: IEEE 754-2019 clause 4.3.1 and 5.4.1 (each addition correctly rounded, so
a fixed sequence of operations has a unique result), clause 11 (reproducible
results require the same operations in the same order); fpsem.order (the order
definitions); Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., 4.1.
"""
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem.formats import binary32, binary64, round_fraction
from fpsem.order import blocked, order_schedule, parse_order, tree

F32 = fpsem.domain("float32")
F64 = fpsem.domain("float64")
UINT = {np.float32: np.uint32, np.float64: np.uint64}
FMT = {np.float32: binary32, np.float64: binary64}

orders = st.one_of(st.sampled_from(["sequential", "pairwise", "fma_chain", "exact_then_round"]),
                   st.integers(1, 40).map(lambda k: str(blocked(k))),
                   st.integers(0, 6).map(lambda e: str(tree(1 << e))))


def _rn(q, dtype, negz=False):
    bits = round_fraction(q, FMT[dtype], "rne", negative_zero=negz).bits
    return np.array(bits, dtype=UINT[dtype]).view(dtype)[()]


def execute(order, terms, dtype):
    """The reference executor: the schedule run with numpy scalar additions."""
    order = parse_order(order)
    terms = [dtype(t) for t in terms]
    n = len(terms)
    if n == 0:
        return dtype(0)
    if order.kind == "exact_then_round":
        s = sum((Fraction(float(t)) for t in terms), Fraction(0))
        return _rn(s, dtype, negz=s == 0 and all(t == 0 and np.signbit(t) for t in terms))
    if order.kind == "fma_chain":
        order = parse_order("sequential")
    steps, root = order_schedule(order, n)
    nodes = dict(enumerate(terms))
    for dst, a, b in steps:
        nodes[dst] = dtype(nodes[a] + nodes[b])
    return nodes[root]


def execute_dot(order, x, y, dtype):
    order = parse_order(order)
    if order.kind == "exact_then_round":
        s = sum((Fraction(float(a)) * Fraction(float(b)) for a, b in zip(x, y)), Fraction(0))
        negz = s == 0 and all((a * b == 0) and (np.signbit(a) != np.signbit(b)) for a, b in zip(x, y))
        return _rn(s, dtype, negz=negz)
    if order.kind == "fma_chain":
        s = dtype(0)
        for a, b in zip(x, y):
            q = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(s))
            negz = q == 0 and (np.signbit(a) != np.signbit(b)) and bool(np.signbit(s))
            s = _rn(q, dtype, negz)
        return s
    return execute(order, [dtype(a * b) for a, b in zip(x, y)], dtype)


def _same(a, b, dtype):
    return np.asarray(a, dtype=dtype).view(UINT[dtype]) == np.asarray(b, dtype=dtype).view(UINT[dtype])


def small(dtype):
    return st.builds(lambda m, e: dtype(np.ldexp(float(m), e)), st.integers(-(1 << 24), 1 << 24),
                     st.integers(-60, 10))


@given(orders, st.lists(small(np.float32), min_size=1, max_size=70), st.integers(1, 4))
def test_sum_equals_schedule_binary32(order, xs, rows):
    x = np.array(xs, dtype=np.float32)
    batch = np.stack([np.roll(x, r) for r in range(rows)])  # the same row elsewhere in a batch
    batch[rows - 1] = x
    got = F32.sum(batch, acc=order)
    ref = execute(order, x, np.float32)
    assert _same(got[rows - 1], ref, np.float32), (order, got[rows - 1], ref)
    again = F32.sum(batch, acc=order)
    assert np.array_equal(got.view(np.uint32), again.view(np.uint32))


@given(orders, st.integers(1, 40).flatmap(lambda n: st.tuples(
    st.lists(small(np.float32), min_size=n, max_size=n), st.lists(small(np.float32), min_size=n, max_size=n))))
def test_dot_equals_schedule_binary32(order, xy):
    x, y = (np.array(v, dtype=np.float32) for v in xy)
    got = F32.dot(x, y, acc=order)
    assert _same(got, execute_dot(order, x, y, np.float32), np.float32), order
    # as one row of a matmul with other rows around it
    A = np.stack([x[::-1], x, -x])
    got2 = F32.dot(A, y, acc=order)
    assert _same(got2[1], got, np.float32)


@given(orders, st.lists(st.floats(-1e200, 1e200), min_size=1, max_size=40))
def test_sum_equals_schedule_binary64(order, xs):
    x = np.array(xs, dtype=np.float64)
    assert _same(F64.sum(x, acc=order), execute(order, x, np.float64), np.float64)


def test_edges():
    f = np.float32
    for order in ("sequential", "pairwise", "blocked(3)", "tree(4)", "exact_then_round"):
        for x in ([f(-0.0)], [f(-0.0), f(-0.0)], [f(1), f(-1)], [f(2.0 ** -149)] * 5,
                  [f(1), f(2.0 ** -24), f(2.0 ** -24)], [f(3e38), f(3e38), f(-3e38)]):
            with np.errstate(over="ignore"):
                got = F32.sum(np.array(x, dtype=f), acc=order)
                assert _same(got, execute(order, x, f), f), (order, x)


def test_counterexample_different_orders_differ():
    x = np.array([1.0, 2.0 ** -24, 2.0 ** -24], dtype=np.float32)
    a, b = F32.sum(x, acc="sequential"), F32.sum(x, acc="pairwise")
    assert a == 1.0 and b == np.float32(1 + 2.0 ** -23)
    assert not _same(a, b, np.float32)
