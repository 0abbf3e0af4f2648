"""Theorem (Fast2Sum, Dekker). In a binary format F with round-to-nearest, for
finite a, b in F with |a| >= |b| (more generally exponent(a) >= exponent(b)) and
no overflow,

    s = fl(a + b);  z = fl(s - a);  t = fl(b - z)

gives a + b = s + t exactly, and z = s - a exactly (Sterbenz).

Hypotheses: |a| >= |b|; round to nearest; no overflow. Dropping |a| >= |b| breaks
it: a = 2**-30, b = 1 in binary32 gives s = 1, z = 1, t = 0, so s + t != a + b.

Source: T. J. Dekker, "A floating-point technique for extending the available
precision", Numer. Math. 18 (1971), 224-242, Thm 4.3; Higham, "Accuracy and
Stability of Numerical Algorithms", 2nd ed., Alg. 4.3 (and Thm 4.3 there);
Muller et al., "Handbook of Floating-Point Arithmetic", 2nd ed., Alg. 4.3 and
Thm 4.3 (Fast2Sum).
"""
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fpsem

F32 = fpsem.domain("float32")
F64 = fpsem.domain("float64")


def fast_two_sum(D, a, b):
    s = D.add(a, b)
    z = D.sub(s, a)
    return s, z, D.sub(b, z)


def _run(D, a, b):
    a = np.asarray(a, dtype=D.dtype)
    b = np.asarray(b, dtype=D.dtype)
    big = np.where(np.abs(a) >= np.abs(b), a, b)
    small = np.where(np.abs(a) >= np.abs(b), b, a)
    with np.errstate(over="ignore", invalid="ignore"):
        s, z, t = fast_two_sum(D, big, small)
    for x, y, ss, zz, tt in zip(big.ravel(), small.ravel(), s.ravel(), z.ravel(), t.ravel()):
        if not (np.isfinite(ss) and np.isfinite(zz)):
            continue
        fx, fy = Fraction(float(x)), Fraction(float(y))
        assert fx + fy == Fraction(float(ss)) + Fraction(float(tt)), (x, y)
        assert Fraction(float(zz)) == Fraction(float(ss)) - fx


@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=2, max_size=64))
def test_fast2sum_binary32(xs):
    h = len(xs) // 2
    _run(F32, xs[:h], xs[h:2 * h])


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=2, max_size=64))
def test_fast2sum_binary64(xs):
    h = len(xs) // 2
    _run(F64, xs[:h], xs[h:2 * h])


@given(st.integers(1 << 23, (1 << 24) - 1), st.integers(-(1 << 24), 1 << 24),
       st.integers(-149, 100), st.integers(0, 40))
def test_fast2sum_binary32_structured(ma, mb, ea, gap):
    a = np.float32(np.ldexp(float(ma), ea - 23))
    b = np.float32(np.ldexp(float(mb), ea - 23 - gap))
    _run(F32, [a], [b])


def test_edges():
    f = np.float32
    for a, b in [(f(1), f(-1)), (f(1), f(2.0 ** -24)), (f(1), f(-2.0 ** -24)), (f(1), f(1)),
                 (f(2.0 ** -126), f(-2.0 ** -149)), (f(-3.0), f(2.0 ** -30)), (f(0.0), f(-0.0))]:
        _run(F32, [a], [b])


def test_counterexample_order_dropped():
    a, b = np.array([np.float32(2.0 ** -30)]), np.array([np.float32(1.0)])
    s, z, t = fast_two_sum(F32, a, b)  # |a| < |b|: the hypothesis is violated
    assert Fraction(float(s[0])) + Fraction(float(t[0])) != Fraction(2.0 ** -30) + 1
    assert (s[0], z[0], t[0]) == (1.0, 1.0, 0.0)
